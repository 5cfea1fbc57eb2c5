/*
 * IPv6 in the fast path (API.md 1.5): classifying Ethernet/IPv6/UDP, rewriting it in place
 * (6 -> 6), and translating it across families (4 -> 6, 6 -> 4: a new IP header in front of
 * the UDP header, which stays where it is, the payload untouched). Pure functions over bytes,
 * like the IPv4 half; included by pkt.h only (it needs its definitions).
 *
 * Checksums: sums of 32-bit words in memory order folded once (pkt.h); a changed address
 * moves the UDP checksum by RFC 1624 eqn. 3, across families too (the pseudo-headers' length
 * and protocol words sum the same in both), so only an IPv4 datagram without a checksum has
 * its payload summed. The UDP checksum is mandatory in IPv6: zero is malformed on input and
 * never written.
 */
#ifndef RTPPROXY_PKT6_H
#define RTPPROXY_PKT6_H

#define PKT_IP6_HLEN 40
#define PKT_IPPROTO_FRAGMENT 44
#define PKT_IPPROTO_ICMPV6 58
#define PKT_ND_FIRST 133        /* RS, RA, NS, NA, redirect: neighbour discovery */
#define PKT_ND_LAST 137

/* The ones' complement sum of len bytes in memory order (fold with pkt_csum_fold64), below
 * 2^35 so that more may be added: 64-bit words with the end-around carry (add, adc), then
 * words of four, the tail zero-padded in place, so that an odd length keeps its bytes'
 * parity. */
static inline uint64_t pkt_sum_words(const uint8_t *p, uint32_t len)
{
	uint64_t s = 0, t = 0;
	uint32_t i = 0;
	for (; i + 16 <= len; i += 16) {
		uint64_t a, b;
		memcpy(&a, p + i, 8);
		memcpy(&b, p + i + 8, 8);
		s += a;
		s += s < a;
		s += b;
		s += s < b;
	}
	for (; i + 4 <= len; i += 4)
		t += pkt_ld32(p + i);
	if (i < len) {
		uint8_t r[4] = { 0, 0, 0, 0 };
		memcpy(r, p + i, len - i);
		t += pkt_ld32(r);
	}
	return (s & 0xffffffff) + (s >> 32) + t;
}

/* Sum of an IPv6 address's four words, and of their complements (what leaves the sum). */
static inline uint64_t pkt_sum_addr6(const uint8_t *a)
{
	return (uint64_t)pkt_ld32(a) + pkt_ld32(a + 4) + pkt_ld32(a + 8) + pkt_ld32(a + 12);
}

static inline uint64_t pkt_sum_addr6_out(const uint8_t *a)
{
	return (uint64_t)(uint32_t)~pkt_ld32(a) + (uint32_t)~pkt_ld32(a + 4) +
		(uint32_t)~pkt_ld32(a + 8) + (uint32_t)~pkt_ld32(a + 12);
}

/* The pseudo-header's length and next-header words (RFC 8200 8.1), memory order. */
static inline uint64_t pkt_sum_pseudo_tail(uint16_t ulen)
{
	return (uint64_t)htonl(ulen) + htonl(PKT_IPPROTO_UDP);
}

/* Does the UDP checksum of a PKT_UDP6 frame verify (pseudo-header included)? */
static inline bool pkt_udp6_csum_ok(const uint8_t *frame, const struct pkt_info *info)
{
	const uint8_t *ip = frame + info->l3_off, *udp = frame + info->l4_off;
	uint16_t ulen = (uint16_t)(info->udp_payload + 8);
	return pkt_csum_fold64(pkt_sum_addr6(ip + 8) + pkt_sum_addr6(ip + 24) +
			pkt_sum_pseudo_tail(ulen) + pkt_sum_words(udp, ulen)) == 0xffff;
}

/* Does the (non-zero) UDP checksum of a PKT_UDP4 frame verify? The IPv4 path never asks
 * (an incremental update keeps a wrong one wrong); a translation to IPv6, where it is the
 * only one, does. */
static inline bool pkt_udp4_csum_ok(const uint8_t *frame, const struct pkt_info *info)
{
	const uint8_t *ip = frame + info->l3_off, *udp = frame + info->l4_off;
	uint16_t ulen = (uint16_t)(info->udp_payload + 8);
	return pkt_csum_fold64((uint64_t)pkt_ld32(ip + 12) + pkt_ld32(ip + 16) +
			pkt_sum_pseudo_tail(ulen) + pkt_sum_words(udp, ulen)) == 0xffff;
}

/*
 * The IPv6 packet at frame + l3_off in a frame of len bytes (pkt_classify_ck calls it for
 * ethertype 0x86dd): PKT_UDP6 when UDP follows the fixed header directly and lengths and
 * checksum hold; a fragment header first is PKT_FRAGMENT, ICMPv6 neighbour discovery PKT_ND,
 * any other next header (extension headers, ICMPv6 echo and errors, TCP) PKT_OTHER.
 * ck_good & PKT_CK_L4_GOOD: the NIC has verified the UDP checksum, or the caller will
 * (pkt_udp6_csum_ok; the worker does, so that IPv4 frames pay nothing for it).
 */
static inline enum pkt_class pkt_classify6(const uint8_t *frame, uint32_t len,
		uint32_t l3_off, struct pkt_info *info, unsigned ck_good)
{
	const uint8_t *ip = frame + l3_off;
	uint32_t l3_room = len - l3_off;
	if (l3_room < PKT_IP6_HLEN || (ip[0] >> 4) != 6)
		return PKT_MALFORMED;
	uint32_t plen = pkt_rd16(ip + 4);
	if (plen > l3_room - PKT_IP6_HLEN)
		return PKT_MALFORMED;
	uint8_t nh = ip[6];
	if (nh == PKT_IPPROTO_FRAGMENT)
		return PKT_FRAGMENT;
	if (nh == PKT_IPPROTO_ICMPV6)
		return plen >= 4 && ip[PKT_IP6_HLEN] >= PKT_ND_FIRST &&
			ip[PKT_IP6_HLEN] <= PKT_ND_LAST ? PKT_ND : PKT_OTHER;
	if (nh != PKT_IPPROTO_UDP)
		return PKT_OTHER;

	const uint8_t *udp = ip + PKT_IP6_HLEN;
	if (plen < 8)
		return PKT_MALFORMED;
	uint16_t ulen = pkt_rd16(udp + 4);
	if (ulen < 8 || ulen > plen || (udp[6] | udp[7]) == 0)
		return PKT_MALFORMED;
	info->l3_off = (uint16_t)l3_off;
	info->l4_off = (uint16_t)(l3_off + PKT_IP6_HLEN);
	info->ip_len = (uint16_t)(PKT_IP6_HLEN + plen);
	info->udp_payload = (uint16_t)(ulen - 8);
	if (!(ck_good & PKT_CK_L4_GOOD) && !pkt_udp6_csum_ok(frame, info))
		return PKT_MALFORMED;
	return PKT_UDP6;
}

/* The UDP payload bytes of a well-formed Ethernet/IPv4 or IPv6/UDP frame (a relayed one,
 * or one classified PKT_UDP4/PKT_UDP6), with an 802.1Q tag or not (one inserted in software
 * on its way out): what its flow counts. */
static inline uint16_t pkt_udp_payload_of(const uint8_t *frame)
{
	uint32_t l3 = PKT_ETHER_HLEN;
	if (pkt_rd16(frame + 12) == PKT_ETHERTYPE_VLAN)
		l3 += 4;
	const uint8_t *ip = frame + l3;
	const uint8_t *udp = pkt_rd16(frame + l3 - 2) == PKT_ETHERTYPE_IPV6 ?
		ip + PKT_IP6_HLEN : ip + (ip[0] & 0x0f) * 4;
	return (uint16_t)(pkt_rd16(udp + 4) - 8);
}

/* What a flow writes into a relayed packet that leaves as IPv6. Addresses and ports in
 * network byte order. */
struct pkt_rewrite6 {
	uint8_t src_ip[16], dst_ip[16];
	uint16_t src_port, dst_port;
	uint8_t src_mac[6], dst_mac[6];
};

/* The new checksum from the old and the sum s of what changed (RFC 1624 eqn. 3); UDP's zero
 * is "none", so a zero result is sent as 0xffff (the same number in ones' complement). */
static inline uint16_t pkt_udp_ck_update(uint16_t ck, uint64_t s)
{
	uint16_t c = (uint16_t)~pkt_csum_fold64((uint16_t)~ck + s);
	return c == 0 ? 0xffff : c;
}

/*
 * Rewrite a PKT_UDP6 frame in place: MACs, addresses, ports, hop limit - 1, the UDP checksum
 * updated incrementally. The caller has checked hop limit > 1.
 */
static inline void pkt_rewrite_udp6(uint8_t *frame, const struct pkt_info *info,
		const struct pkt_rewrite6 *rw)
{
	uint8_t *ip = frame + info->l3_off;
	uint8_t *udp = frame + info->l4_off;
	uint32_t old_ports = pkt_ld32(udp), new_ports;
	uint16_t ck;

	uint64_t s = pkt_sum_addr6_out(ip + 8) + pkt_sum_addr6_out(ip + 24) +
		pkt_sum_addr6(rw->src_ip) + pkt_sum_addr6(rw->dst_ip);
	memcpy(frame, rw->dst_mac, 6);
	memcpy(frame + 6, rw->src_mac, 6);
	ip[7]--;
	memcpy(ip + 8, rw->src_ip, 16);
	memcpy(ip + 24, rw->dst_ip, 16);
	memcpy(udp, &rw->src_port, 2);
	memcpy(udp + 2, &rw->dst_port, 2);
	new_ports = pkt_ld32(udp);
	memcpy(&ck, udp + 6, 2);
	ck = pkt_udp_ck_update(ck, s + (uint32_t)~old_ports + new_ports);
	memcpy(udp + 6, &ck, 2);
}

/* Frame bytes in front of the UDP header after a translation. */
#define PKT_XLATE6_HDRS (PKT_ETHER_HLEN + PKT_IP6_HLEN)
#define PKT_XLATE4_HDRS (PKT_ETHER_HLEN + 20)

/*
 * 4 -> 6: a PKT_UDP4 frame becomes Ethernet/IPv6/UDP: the UDP header and payload stay where
 * they are, the new headers are written in the PKT_XLATE6_HDRS bytes before the UDP header
 * (the caller makes them part of the buffer: 20 more in front of the frame for an IPv4 header
 * without options). Traffic class = ToS, flow label 0, hop limit = TTL - 1 (the caller has
 * checked TTL > 1), payload length = the UDP length. The UDP checksum moves incrementally, or
 * is computed over the whole datagram when IPv4 sent none. Returns the new frame's start; it
 * is PKT_XLATE6_HDRS + the UDP length long (IPv4 padding is not carried over).
 */
static inline uint8_t *pkt_xlate_4to6(uint8_t *frame, const struct pkt_info *info,
		const struct pkt_rewrite6 *rw)
{
	const uint8_t *ip4 = frame + info->l3_off;
	uint8_t *udp = frame + info->l4_off;
	uint8_t *nf = udp - PKT_XLATE6_HDRS, *ip6 = nf + PKT_ETHER_HLEN;
	uint8_t tos = ip4[1], ttl = ip4[8];
	uint32_t old_src = pkt_ld32(ip4 + 12), old_dst = pkt_ld32(ip4 + 16);
	uint32_t old_ports = pkt_ld32(udp), new_ports;
	uint16_t ulen = pkt_rd16(udp + 4), ck;

	/* everything read from the old headers: the new ones overlap them */
	memcpy(nf, rw->dst_mac, 6);
	memcpy(nf + 6, rw->src_mac, 6);
	nf[12] = PKT_ETHERTYPE_IPV6 >> 8;
	nf[13] = PKT_ETHERTYPE_IPV6 & 0xff;
	ip6[0] = (uint8_t)(0x60 | tos >> 4);
	ip6[1] = (uint8_t)(tos << 4);
	ip6[2] = ip6[3] = 0;
	ip6[4] = (uint8_t)(ulen >> 8);
	ip6[5] = (uint8_t)ulen;
	ip6[6] = PKT_IPPROTO_UDP;
	ip6[7] = (uint8_t)(ttl - 1);
	memcpy(ip6 + 8, rw->src_ip, 16);
	memcpy(ip6 + 24, rw->dst_ip, 16);
	memcpy(udp, &rw->src_port, 2);
	memcpy(udp + 2, &rw->dst_port, 2);
	new_ports = pkt_ld32(udp);
	memcpy(&ck, udp + 6, 2);
	if (ck != 0) {
		ck = pkt_udp_ck_update(ck, (uint64_t)(uint32_t)~old_src + (uint32_t)~old_dst +
				pkt_sum_addr6(rw->src_ip) + pkt_sum_addr6(rw->dst_ip) +
				(uint32_t)~old_ports + new_ports);
	} else {
		/* none in IPv4, mandatory in IPv6: the whole datagram (its checksum field 0) */
		ck = (uint16_t)~pkt_csum_fold64(pkt_sum_addr6(rw->src_ip) +
				pkt_sum_addr6(rw->dst_ip) + pkt_sum_pseudo_tail(ulen) +
				pkt_sum_words(udp, ulen));
		if (ck == 0)
			ck = 0xffff;
	}
	memcpy(udp + 6, &ck, 2);
	return nf;
}

/*
 * 6 -> 4: a PKT_UDP6 frame becomes Ethernet/IPv4/UDP, the IPv4 header (no options) written in
 * the PKT_XLATE4_HDRS bytes before the UDP header: 20 bytes after the old frame's start, which
 * the caller drops from the buffer. ToS = traffic class, TTL = hop limit - 1 (the caller has
 * checked hop limit > 1), identification 0 with DF set (an atomic datagram, RFC 6864), the
 * header checksum computed, the UDP checksum moved incrementally. Returns the new frame's
 * start; it is PKT_XLATE4_HDRS + the UDP length long.
 */
static inline uint8_t *pkt_xlate_6to4(uint8_t *frame, const struct pkt_info *info,
		const struct pkt_rewrite *rw)
{
	const uint8_t *ip6 = frame + info->l3_off;
	uint8_t *udp = frame + info->l4_off;
	/* (an offset from the frame's start, which it is: GCC 12's UBSan build warned of a write
	 * into nothing when this was written udp - PKT_XLATE4_HDRS) */
	uint8_t *nf = frame + (uint16_t)(info->l4_off - PKT_XLATE4_HDRS);
	uint8_t *ip4 = nf + PKT_ETHER_HLEN;
	uint8_t tclass = (uint8_t)(pkt_rd16(ip6) >> 4), hlim = ip6[7];
	uint64_t s = pkt_sum_addr6_out(ip6 + 8) + pkt_sum_addr6_out(ip6 + 24) +
		rw->src_ip + rw->dst_ip;
	uint32_t old_ports = pkt_ld32(udp), new_ports;
	uint16_t ulen = pkt_rd16(udp + 4), tot = (uint16_t)(20 + ulen), ck;

	memcpy(nf, rw->dst_mac, 6);
	memcpy(nf + 6, rw->src_mac, 6);
	nf[12] = PKT_ETHERTYPE_IPV4 >> 8;
	nf[13] = PKT_ETHERTYPE_IPV4 & 0xff;
	ip4[0] = 0x45;
	ip4[1] = tclass;
	ip4[2] = (uint8_t)(tot >> 8);
	ip4[3] = (uint8_t)tot;
	ip4[4] = ip4[5] = 0;
	ip4[6] = 0x40;          /* DF */
	ip4[7] = 0;
	ip4[8] = (uint8_t)(hlim - 1);
	ip4[9] = PKT_IPPROTO_UDP;
	ip4[10] = ip4[11] = 0;
	memcpy(ip4 + 12, &rw->src_ip, 4);
	memcpy(ip4 + 16, &rw->dst_ip, 4);
	ck = (uint16_t)~pkt_csum_fold64((uint64_t)pkt_ld32(ip4) + pkt_ld32(ip4 + 4) +
			pkt_ld32(ip4 + 8) + pkt_ld32(ip4 + 12) + pkt_ld32(ip4 + 16));
	memcpy(ip4 + 10, &ck, 2);

	memcpy(udp, &rw->src_port, 2);
	memcpy(udp + 2, &rw->dst_port, 2);
	new_ports = pkt_ld32(udp);
	memcpy(&ck, udp + 6, 2);
	ck = pkt_udp_ck_update(ck, s + (uint32_t)~old_ports + new_ports);
	memcpy(udp + 6, &ck, 2);
	return nf;
}

#endif
