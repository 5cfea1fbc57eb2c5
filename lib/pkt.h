/*
 * Packet parsing and rewriting for the fast path: Ethernet / IPv4 / UDP.
 * Pure functions over bytes, so the unit tests need no EAL.
 */
#ifndef RTPPROXY_PKT_H
#define RTPPROXY_PKT_H

#include <stdbool.h>
#include <stdint.h>

#define PKT_ETHER_HLEN 14
#define PKT_ETHERTYPE_IPV4 0x0800
#define PKT_ETHERTYPE_ARP 0x0806
#define PKT_IPPROTO_UDP 17
#define PKT_IPPROTO_TCP 6

enum pkt_class {
	PKT_UDP4,       /* well-formed, unfragmented IPv4/UDP: a flow candidate */
	PKT_ARP,        /* ARP: the neighbour table learns from it, the kernel answers it */
	PKT_OTHER,      /* anything else the kernel should see (ICMP, TCP, IPv6, VLAN...) */
	PKT_FRAGMENT,   /* IPv4 fragment: never relayed */
	PKT_MALFORMED,  /* bad Ethernet/IPv4/UDP header: dropped and counted */
};

/* Where the headers are, for a PKT_UDP4 packet. */
struct pkt_info {
	uint16_t l3_off;        /* IPv4 header offset */
	uint16_t l4_off;        /* UDP header offset */
	uint16_t ip_len;        /* IPv4 total length */
	uint16_t udp_payload;   /* UDP payload bytes */
};

/* Classify a frame of `len` bytes; fills *info for PKT_UDP4. */
enum pkt_class pkt_classify(const uint8_t *frame, uint32_t len, struct pkt_info *info);

/* RFC 1071 checksum of buf, folded, not inverted; start with `sum` = 0. */
uint32_t pkt_csum_partial(const void *buf, uint32_t len, uint32_t sum);
uint16_t pkt_csum_fold(uint32_t sum);

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
void pkt_rewrite_udp4(uint8_t *frame, const struct pkt_info *info, const struct pkt_rewrite *rw);

#endif
