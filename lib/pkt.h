/*
 * Packet parsing and rewriting for the fast path: Ethernet / IPv4 / UDP (IPv6: pkt6.h,
 * included at the end). Pure functions over bytes, so the unit tests need no EAL.
 */
#ifndef RTPPROXY_PKT_H
#define RTPPROXY_PKT_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <arpa/inet.h>

#define PKT_ETHER_HLEN 14
#define PKT_ETHERTYPE_IPV4 0x0800
#define PKT_ETHERTYPE_ARP 0x0806
#define PKT_ETHERTYPE_IPV6 0x86dd
#define PKT_ETHERTYPE_VLAN 0x8100
#define PKT_IPPROTO_UDP 17
#define PKT_IPPROTO_TCP 6

enum pkt_class {
	PKT_UDP4,       /* well-formed, unfragmented IPv4/UDP: a flow candidate */
	PKT_ARP,        /* ARP: the neighbour table learns from it, the kernel answers it */
	PKT_OTHER,      /* anything else the kernel should see (ICMP, TCP, IPv6 extension
	                 * headers, ICMPv6 other than ND, VLAN...) */
	PKT_FRAGMENT,   /* IPv4 fragment, or IPv6 with a fragment header: never relayed */
	PKT_MALFORMED,  /* bad Ethernet/IPv4/IPv6/UDP header: dropped and counted */
	PKT_UDP6,       /* well-formed IPv6/UDP, UDP directly after the fixed header */
	PKT_ND,         /* ICMPv6 neighbour discovery (types 133-137): the neighbour table's */
};

/* Where the headers are, for a PKT_UDP4 or PKT_UDP6 packet. */
struct pkt_info {
	uint16_t l3_off;        /* IPv4 / IPv6 header offset */
	uint16_t l4_off;        /* UDP header offset */
	uint16_t ip_len;        /* IPv4 total length; IPv6: 40 + payload length */
	uint16_t udp_payload;   /* UDP payload bytes */
};

/* What the NIC has verified of a frame (pkt_classify_ck): not summed again. */
#define PKT_CK_IP_GOOD 1u       /* the IPv4 header checksum */
#define PKT_CK_L4_GOOD 2u       /* the UDP checksum (IPv6, where it is the only one), or
                                 * the caller verifies it itself (pkt_udp6_csum_ok) */

/* RFC 1071 checksum of buf, folded, not inverted; start with `sum` = 0. Byte by byte: the
 * reference the tests hold the fast path's word-wise sums against. */
uint32_t pkt_csum_partial(const void *buf, uint32_t len, uint32_t sum);
uint16_t pkt_csum_fold(uint32_t sum);

static inline uint16_t pkt_rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static inline uint32_t pkt_ld32(const uint8_t *p)
{
	uint32_t v;
	memcpy(&v, p, 4);
	return v;
}

/*
 * The fast path sums 32-bit words in memory order into 64 bits and folds once: the ones'
 * complement sum does not depend on byte order or word size (RFC 1071 2.(B), 2.(C)), so a
 * result stored back the way it was loaded is right.
 */
static inline uint16_t pkt_csum_fold64(uint64_t s)
{
	s = (s & 0xffffffff) + (s >> 32);
	s = (s & 0xffff) + (s >> 16);
	s = (s & 0xffff) + (s >> 16);
	return (uint16_t)((s & 0xffff) + (s >> 16));
}

static inline enum pkt_class pkt_classify6(const uint8_t *frame, uint32_t len,
		uint32_t l3_off, struct pkt_info *info, unsigned ck_good);

/* Classify a frame of `len` bytes; fills *info for PKT_UDP4 and PKT_UDP6. ck_good
 * (PKT_CK_*): what the NIC has verified (RTE_MBUF_F_RX_*_CKSUM_GOOD), so it is not summed
 * again. The IPv4 UDP checksum is never verified here (a NIC that finds it bad makes the
 * frame malformed in the worker); the IPv6 one is, unless the NIC has. */
static inline enum pkt_class pkt_classify_ck(const uint8_t *frame, uint32_t len,
		struct pkt_info *info, unsigned ck_good)
{
	if (len < PKT_ETHER_HLEN)
		return PKT_MALFORMED;
	uint16_t etype = pkt_rd16(frame + 12);
	if (etype == PKT_ETHERTYPE_ARP)
		return PKT_ARP;
	if (etype != PKT_ETHERTYPE_IPV4) {
		if (etype == PKT_ETHERTYPE_IPV6)
			return pkt_classify6(frame, len, PKT_ETHER_HLEN, info, ck_good);
		return PKT_OTHER;
	}

	const uint8_t *ip = frame + PKT_ETHER_HLEN;
	uint32_t l3_room = len - PKT_ETHER_HLEN;
	if (l3_room < 20 || (ip[0] >> 4) != 4)
		return PKT_MALFORMED;
	uint32_t ihl = (uint32_t)(ip[0] & 0x0f) * 4;
	uint16_t tot = pkt_rd16(ip + 2);
	if (ihl < 20 || ihl > tot || tot > l3_room || ihl > l3_room)
		return PKT_MALFORMED;
	if (!(ck_good & PKT_CK_IP_GOOD)) {
		/* five words without options (nearly always), a loop only for the options */
		uint64_t sum = (uint64_t)pkt_ld32(ip) + pkt_ld32(ip + 4) + pkt_ld32(ip + 8) +
			pkt_ld32(ip + 12) + pkt_ld32(ip + 16);
		for (uint32_t i = 20; i < ihl; i += 4)
			sum += pkt_ld32(ip + i);
		if (pkt_csum_fold64(sum) != 0xffff)
			return PKT_MALFORMED;
	}
	if (ip[9] != PKT_IPPROTO_UDP)
		return PKT_OTHER;
	/* MF set or a non-zero offset: a fragment, which only the kernel may reassemble */
	if (pkt_rd16(ip + 6) & 0x3fff)
		return PKT_FRAGMENT;

	const uint8_t *udp = ip + ihl;
	uint32_t l4_room = tot - ihl;
	if (l4_room < 8)
		return PKT_MALFORMED;
	uint16_t ulen = pkt_rd16(udp + 4);
	if (ulen < 8 || ulen > l4_room)
		return PKT_MALFORMED;

	info->l3_off = PKT_ETHER_HLEN;
	info->l4_off = (uint16_t)(PKT_ETHER_HLEN + ihl);
	info->ip_len = tot;
	info->udp_payload = (uint16_t)(ulen - 8);
	return PKT_UDP4;
}

static inline enum pkt_class pkt_classify(const uint8_t *frame, uint32_t len,
		struct pkt_info *info)
{
	return pkt_classify_ck(frame, len, info, 0);
}

/* RFC 1624 incremental update of a checksum field when a 16/32-bit word changes. */
static inline uint16_t pkt_csum_replace2(uint16_t csum, uint16_t old, uint16_t new)
{
	uint32_t s = (uint16_t)~csum + (uint16_t)~old + (uint32_t)new;
	s = (s & 0xffff) + (s >> 16);
	s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

static inline uint16_t pkt_csum_replace4(uint16_t csum, uint32_t old, uint32_t new)
{
	csum = pkt_csum_replace2(csum, (uint16_t)(old >> 16), (uint16_t)(new >> 16));
	return pkt_csum_replace2(csum, (uint16_t)old, (uint16_t)new);
}

/* What a flow writes into a relayed packet. Addresses and ports in network byte order. */
struct pkt_rewrite {
	uint32_t src_ip, dst_ip;
	uint16_t src_port, dst_port;
	uint8_t src_mac[6], dst_mac[6];
};

/*
 * Rewrite a PKT_UDP4 frame in place: MACs, addresses, ports, TTL-1, with the IPv4 and UDP
 * checksums updated incrementally (a zero UDP checksum, "none", stays zero).
 * The caller has checked TTL > 1.
 */
static inline void pkt_rewrite_udp4(uint8_t *frame, const struct pkt_info *info,
		const struct pkt_rewrite *rw)
{
	uint8_t *ip = frame + info->l3_off;
	uint8_t *udp = frame + info->l4_off;
	uint32_t old_src = pkt_ld32(ip + 12), old_dst = pkt_ld32(ip + 16);
	uint32_t old_ports = pkt_ld32(udp), new_ports;
	uint16_t ipck, udpck, old_ttlw, new_ttlw;

	memcpy(frame, rw->dst_mac, 6);
	memcpy(frame + 6, rw->src_mac, 6);

	memcpy(&ipck, ip + 10, 2);
	/* TTL shares its 16-bit word with the protocol byte; computed and stored as the word
	 * (a byte store then a word load of the same bytes stalls store forwarding). TTL > 1:
	 * no borrow into the protocol byte. */
	memcpy(&old_ttlw, ip + 8, 2);
	new_ttlw = (uint16_t)(old_ttlw - htons(0x0100));
	memcpy(ip + 8, &new_ttlw, 2);
	memcpy(ip + 12, &rw->src_ip, 4);
	memcpy(ip + 16, &rw->dst_ip, 4);
	memcpy(udp, &rw->src_port, 2);
	memcpy(udp + 2, &rw->dst_port, 2);
	new_ports = pkt_ld32(udp);

	/* RFC 1624 eqn. 3, all changed words at once: HC' = ~(~HC + ~m + m') */
	uint64_t addrs = (uint64_t)(uint32_t)~old_src + rw->src_ip +
		(uint32_t)~old_dst + rw->dst_ip;
	ipck = (uint16_t)~pkt_csum_fold64((uint16_t)~ipck + addrs +
			(uint16_t)~old_ttlw + new_ttlw);
	memcpy(ip + 10, &ipck, 2);

	memcpy(&udpck, udp + 6, 2);
	if (udpck != 0) {
		udpck = (uint16_t)~pkt_csum_fold64((uint16_t)~udpck + addrs +
				(uint32_t)~old_ports + new_ports);
		if (udpck == 0)
			udpck = 0xffff;   /* zero means "no checksum" in UDP */
		memcpy(udp + 6, &udpck, 2);
	}
}

#include "pkt6.h"

#endif
