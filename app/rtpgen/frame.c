#include "frame.h"

#include <rte_ip.h>

size_t frame_eth(uint8_t *p, const struct rte_ether_addr *dst, const struct rte_ether_addr *src,
		int vlan, uint16_t etype)
{
	size_t off = 12;

	memcpy(p, dst, RTE_ETHER_ADDR_LEN);
	memcpy(p + 6, src, RTE_ETHER_ADDR_LEN);
	if (vlan != GEN_VLAN_NONE) {
		p[off++] = RTE_ETHER_TYPE_VLAN >> 8;
		p[off++] = RTE_ETHER_TYPE_VLAN & 0xff;
		p[off++] = (uint8_t)((vlan >> 8) & 0x0f);      /* PCP 0, DEI 0 */
		p[off++] = (uint8_t)(vlan & 0xff);
	}
	p[off++] = (uint8_t)(etype >> 8);
	p[off++] = (uint8_t)(etype & 0xff);
	return off;
}

/* The IPv6 common frame's UDP checksum sum: pseudo-header (RFC 8200 8.1) and UDP datagram,
 * with every per-stream and per-packet field zero (the marker's bytes skipped). */
static uint32_t v6_base_sum(const struct gen_lcore *lc)
{
	const uint8_t *p = lc->tmpl;
	uint16_t udp_len = (uint16_t)(lc->frame_len - lc->udp_off);
	uint32_t len_be = rte_cpu_to_be_32(udp_len), nh_be = rte_cpu_to_be_32(IPPROTO_UDP);
	uint32_t sum = 0;

	sum = gen_sum(p + lc->l3_off + 8, 32, sum);             /* source, destination */
	sum = gen_sum(&len_be, 4, sum);
	sum = gen_sum(&nh_be, 4, sum);
	sum = gen_sum(p + lc->udp_off, lc->pl_off - lc->udp_off, sum);
	sum = gen_sum(p + lc->pl_off + GEN_MARK_LEN,
			lc->frame_len - lc->pl_off - GEN_MARK_LEN, sum);
	return sum;
}

void frame_template(struct gen_lcore *lc, const struct gen_opts *o,
		const struct gen_addr *dst_prefix)
{
	uint8_t *p = lc->tmpl;
	uint16_t udp_len = (uint16_t)(8 + 12 + o->payload);
	uint8_t *ip;

	memset(p, 0, sizeof(lc->tmpl));
	lc->af = dst_prefix->af;
	lc->l3_off = (uint16_t)frame_eth(p, &o->dst_mac, &o->src_mac, lc->tx_vlan,
			lc->af == 4 ? RTE_ETHER_TYPE_IPV4 : RTE_ETHER_TYPE_IPV6);
	ip = p + lc->l3_off;
	if (lc->af == 4) {
		struct rte_ipv4_hdr *h = (struct rte_ipv4_hdr *)ip;
		h->version_ihl = RTE_IPV4_VHL_DEF;
		h->total_length = rte_cpu_to_be_16((uint16_t)(20 + udp_len));
		/* DF with a constant ID (RFC 6864: fine for atomic datagrams) keeps the header
		 * checksum per stream constant */
		h->fragment_offset = rte_cpu_to_be_16(RTE_IPV4_HDR_DF_FLAG);
		h->time_to_live = 64;
		h->next_proto_id = IPPROTO_UDP;
		h->src_addr = rte_cpu_to_be_32(o->src_addr.v4);
		lc->udp_off = (uint16_t)(lc->l3_off + 20);
	} else {
		ip[0] = 0x60;                   /* version 6, traffic class 0, flow label 0 */
		ip[4] = (uint8_t)(udp_len >> 8);
		ip[5] = (uint8_t)udp_len;
		ip[6] = IPPROTO_UDP;
		ip[7] = 64;                     /* hop limit */
		memcpy(ip + 8, o->src_addr.v6, 16);
		memcpy(ip + 24, dst_prefix->v6, 12);    /* the low 32 bits are the stream's */
		lc->udp_off = (uint16_t)(lc->l3_off + 40);
	}
	/* UDP checksum 0 over IPv4 ("none": allowed, and the cheapest); IPv6's per packet */
	p[lc->udp_off + 4] = (uint8_t)(udp_len >> 8);
	p[lc->udp_off + 5] = (uint8_t)udp_len;
	lc->rtp_off = (uint16_t)(lc->udp_off + 8);
	lc->pl_off = (uint16_t)(lc->rtp_off + 12);
	p[lc->rtp_off] = 0x80;          /* version 2, no padding, extension or CSRC */
	p[lc->rtp_off + 1] = o->pt;
	/* silence in the payload's codec: G.711 A-law (PT 8) 0xd5, otherwise mu-law's 0xff */
	memset(p + lc->pl_off, o->pt == 8 ? 0xd5 : 0xff, o->payload);
	lc->frame_len = (uint16_t)(lc->pl_off + o->payload);
	lc->ts_step = o->payload;
	lc->csum_base = lc->af == 6 ? v6_base_sum(lc) : 0;
}

void frame_stream(const struct gen_lcore *lc, struct gen_stream *st, uint32_t dst_low32,
		uint16_t src_port, uint16_t dst_port)
{
	uint32_t ssrc = rte_cpu_to_be_32(st->ssrc);

	st->dst_ip = rte_cpu_to_be_32(dst_low32);
	st->src_port = rte_cpu_to_be_16(src_port);
	st->dst_port = rte_cpu_to_be_16(dst_port);
	if (lc->af == 4) {
		/* the IPv4 header with this destination: the full RFC 1071 sum, once */
		uint8_t hdr[20];
		memcpy(hdr, lc->tmpl + lc->l3_off, 20);
		memcpy(hdr + 16, &st->dst_ip, 4);
		st->ip_csum = (uint16_t)~gen_fold(gen_sum(hdr, 20, 0));
	} else {
		/* the stream's constant part of the UDP checksum: the destination's low 32
		 * bits (pseudo-header), the ports and the SSRC (datagram) */
		uint32_t sum = lc->csum_base;
		sum = gen_sum(&st->dst_ip, 4, sum);
		sum = gen_sum(&st->src_port, 2, sum);
		sum = gen_sum(&st->dst_port, 2, sum);
		sum = gen_sum(&ssrc, 4, sum);
		st->ip_csum = gen_fold(sum);
	}
}
