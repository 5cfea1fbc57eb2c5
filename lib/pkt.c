#include "pkt.h"

#include <string.h>
#include <arpa/inet.h>

static inline uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

uint32_t pkt_csum_partial(const void *buf, uint32_t len, uint32_t sum)
{
	const uint8_t *p = buf;
	for (; len >= 2; p += 2, len -= 2)
		sum += rd16(p);
	if (len)
		sum += (uint32_t)p[0] << 8;
	return sum;
}

uint16_t pkt_csum_fold(uint32_t sum)
{
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)sum;
}

enum pkt_class pkt_classify(const uint8_t *frame, uint32_t len, struct pkt_info *info)
{
	if (len < PKT_ETHER_HLEN)
		return PKT_MALFORMED;
	uint16_t etype = rd16(frame + 12);
	if (etype == PKT_ETHERTYPE_ARP)
		return PKT_ARP;
	if (etype != PKT_ETHERTYPE_IPV4)
		return PKT_OTHER;

	const uint8_t *ip = frame + PKT_ETHER_HLEN;
	uint32_t l3_room = len - PKT_ETHER_HLEN;
	if (l3_room < 20 || (ip[0] >> 4) != 4)
		return PKT_MALFORMED;
	uint32_t ihl = (uint32_t)(ip[0] & 0x0f) * 4;
	uint16_t tot = rd16(ip + 2);
	if (ihl < 20 || ihl > tot || tot > l3_room || ihl > l3_room)
		return PKT_MALFORMED;
	if (pkt_csum_fold(pkt_csum_partial(ip, ihl, 0)) != 0xffff)
		return PKT_MALFORMED;
	if (ip[9] != PKT_IPPROTO_UDP)
		return PKT_OTHER;
	/* MF set or a non-zero offset: a fragment, which only the kernel may reassemble */
	if (rd16(ip + 6) & 0x3fff)
		return PKT_FRAGMENT;

	const uint8_t *udp = ip + ihl;
	uint32_t l4_room = tot - ihl;
	if (l4_room < 8)
		return PKT_MALFORMED;
	uint16_t ulen = rd16(udp + 4);
	if (ulen < 8 || ulen > l4_room)
		return PKT_MALFORMED;

	info->l3_off = PKT_ETHER_HLEN;
	info->l4_off = (uint16_t)(PKT_ETHER_HLEN + ihl);
	info->ip_len = tot;
	info->udp_payload = (uint16_t)(ulen - 8);
	return PKT_UDP4;
}

void pkt_rewrite_udp4(uint8_t *frame, const struct pkt_info *info, const struct pkt_rewrite *rw)
{
	uint8_t *ip = frame + info->l3_off;
	uint8_t *udp = frame + info->l4_off;
	uint32_t old_src, old_dst;
	uint16_t old_sport, old_dport, ipck, udpck, old_ttlw, new_ttlw;

	memcpy(frame, rw->dst_mac, 6);
	memcpy(frame + 6, rw->src_mac, 6);

	memcpy(&old_src, ip + 12, 4);
	memcpy(&old_dst, ip + 16, 4);
	memcpy(&ipck, ip + 10, 2);
	/* TTL shares its 16-bit word with the protocol byte */
	memcpy(&old_ttlw, ip + 8, 2);
	ip[8]--;
	memcpy(&new_ttlw, ip + 8, 2);

	/* Checksums are updated in network byte order words, which RFC 1624 allows as is. */
	ipck = pkt_csum_replace4(ipck, old_src, rw->src_ip);
	ipck = pkt_csum_replace4(ipck, old_dst, rw->dst_ip);
	ipck = pkt_csum_replace2(ipck, old_ttlw, new_ttlw);
	memcpy(ip + 10, &ipck, 2);
	memcpy(ip + 12, &rw->src_ip, 4);
	memcpy(ip + 16, &rw->dst_ip, 4);

	memcpy(&old_sport, udp, 2);
	memcpy(&old_dport, udp + 2, 2);
	memcpy(&udpck, udp + 6, 2);
	memcpy(udp, &rw->src_port, 2);
	memcpy(udp + 2, &rw->dst_port, 2);
	if (udpck != 0) {
		udpck = pkt_csum_replace4(udpck, old_src, rw->src_ip);
		udpck = pkt_csum_replace4(udpck, old_dst, rw->dst_ip);
		udpck = pkt_csum_replace2(udpck, old_sport, rw->src_port);
		udpck = pkt_csum_replace2(udpck, old_dport, rw->dst_port);
		if (udpck == 0)
			udpck = 0xffff;   /* zero means "no checksum" in UDP */
		memcpy(udp + 6, &udpck, 2);
	}
}
