/*
 * The frames rtpgen sends: Ethernet [/ 802.1Q] / IPv4 or IPv6 / UDP / RTP / payload, built as
 * a copy of one common frame plus a few per-stream and per-packet stores; and the receive
 * side's look at a frame's link layer. The Internet checksum helpers (RFC 1071) are here too.
 * Pure (DPDK headers only, no EAL): tests/unit/test_rtpgen_frame.c uses it as it is.
 *
 * IPv6 needs the UDP checksum (RFC 8200), over the payload, which carries the marker: the
 * common frame's sum (every per-stream and per-packet field zero) plus the stream's constant
 * fields is kept per stream (gen_stream.ip_csum), and a packet adds its own RTP sequence
 * number, timestamp and marker: fifteen 16-bit additions, not a pass over the payload.
 */
#ifndef RTPGEN_FRAME_H
#define RTPGEN_FRAME_H

#include <stddef.h>
#include <stdint.h>
#include <netinet/in.h>
#include <string.h>

#include <rte_byteorder.h>
#include <rte_mbuf.h>
#include <rte_memcpy.h>

#include "addr.h"
#include "gen.h"
#include "pattern.h"

/* The ones' complement sum of buf's 16-bit words as they lie in memory (any byte order:
 * a checksum summed and stored the same way comes out right), added to sum, not folded. */
static inline uint32_t gen_sum(const void *buf, size_t len, uint32_t sum)
{
	const uint8_t *p = buf;
	uint16_t w;

	for (; len >= 2; len -= 2, p += 2) {
		memcpy(&w, p, 2);
		sum += w;
	}
	if (len) {
		w = 0;
		memcpy(&w, p, 1);       /* the odd byte, padded with a zero byte after it */
		sum += w;
	}
	return sum;
}

static inline uint16_t gen_fold(uint32_t sum)
{
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)sum;
}

/*
 * The common frame into lc->tmpl and its layout (lc->af, the offsets, frame_len, ts_step):
 * family and upper 96 bits of the destination from dst_prefix, source o->src_addr, the tag
 * lc->tx_vlan (set by the caller; GEN_VLAN_NONE: untagged). IPv6: lc->csum_base too.
 */
void frame_template(struct gen_lcore *lc, const struct gen_opts *o,
		const struct gen_addr *dst_prefix);

/* A stream's template fields: destination (low 32 bits for IPv6), ports (host order), and
 * its checksum (IPv4 header, or IPv6 partial UDP sum); st->ssrc must be set. */
void frame_stream(const struct gen_lcore *lc, struct gen_stream *st, uint32_t dst_low32,
		uint16_t src_port, uint16_t dst_port);

/* Packet n of stream idx (extended sequence from the pattern) into m, stamped with tsc. */
static inline void frame_build(const struct gen_lcore *lc, const struct gen_stream *st,
		uint32_t idx, uint64_t n, struct rte_mbuf *m, uint64_t tsc)
{
	uint8_t *p = rte_pktmbuf_mtod(m, uint8_t *);
	uint32_t seq = (uint32_t)pat_seq(lc->pattern, lc->pattern_k, n);
	struct gen_mark mark = {
		.magic = rte_cpu_to_be_32(GEN_MAGIC),
		.tag = rte_cpu_to_be_32(lc->tag),
		.stream = rte_cpu_to_be_32(idx),
		.seq = rte_cpu_to_be_32(seq),
		.tsc = tsc,
	};
	uint16_t rseq = rte_cpu_to_be_16((uint16_t)(st->seq_off + seq));
	/* the timestamp advances by the payload's duration; it starts at a per-stream value */
	uint32_t rts = rte_cpu_to_be_32(~st->ssrc + seq * lc->ts_step);
	uint32_t ssrc = rte_cpu_to_be_32(st->ssrc);
	uint16_t rtp = lc->rtp_off;

	rte_memcpy(p, lc->tmpl, lc->frame_len);
	if (lc->af == 4) {
		memcpy(p + lc->l3_off + 10, &st->ip_csum, 2);
		memcpy(p + lc->l3_off + 16, &st->dst_ip, 4);
	} else {
		uint32_t sum = (uint32_t)st->ip_csum + rseq + (rts & 0xffff) + (rts >> 16);
		uint16_t csum = (uint16_t)~gen_fold(gen_sum(&mark, sizeof(mark), sum));

		if (csum == 0)
			csum = 0xffff;  /* 0 means "no checksum", forbidden over IPv6 */
		memcpy(p + lc->l3_off + 36, &st->dst_ip, 4);
		memcpy(p + lc->udp_off + 6, &csum, 2);
	}
	memcpy(p + lc->udp_off, &st->src_port, 2);
	memcpy(p + lc->udp_off + 2, &st->dst_port, 2);
	memcpy(p + rtp + 2, &rseq, 2);
	memcpy(p + rtp + 4, &rts, 4);
	memcpy(p + rtp + 8, &ssrc, 4);
	memcpy(p + lc->pl_off, &mark, sizeof(mark));
	m->data_len = lc->frame_len;
	m->pkt_len = lc->frame_len;
}

/*
 * A received frame's link layer: its EtherType after at most one 802.1Q tag, the offset of
 * what follows, and the VLAN id (from the tag, or from the NIC when it stripped it;
 * GEN_VLAN_NONE when untagged). 0 if the frame is too short.
 */
static inline uint32_t frame_l2(const uint8_t *p, uint32_t len, const struct rte_mbuf *m,
		uint16_t *etype, int *vid)
{
	uint32_t off = RTE_ETHER_HDR_LEN;

	if (unlikely(len < RTE_ETHER_HDR_LEN))
		return 0;
	*etype = (uint16_t)(p[12] << 8 | p[13]);
	*vid = GEN_VLAN_NONE;
	if (m != NULL && (m->ol_flags & RTE_MBUF_F_RX_VLAN_STRIPPED))
		*vid = m->vlan_tci & 0xfff;
	if (*etype == RTE_ETHER_TYPE_VLAN) {
		if (len < RTE_ETHER_HDR_LEN + 4)
			return 0;
		*vid = (p[14] << 8 | p[15]) & 0xfff;
		*etype = (uint16_t)(p[16] << 8 | p[17]);
		off += 4;
	}
	return off;
}

/* Does a frame tagged vid belong to a port that wants `want` (GEN_VLAN_NONE: untagged, where a
 * priority tag, VID 0, counts as untagged)? */
static inline bool frame_vlan_ok(int vid, int want)
{
	if (want == GEN_VLAN_NONE)
		return vid == GEN_VLAN_NONE || vid == 0;
	return vid == want;
}

/* Write the Ethernet header [and tag] at p: dst, src, the tag (GEN_VLAN_NONE: none) and
 * etype; the header's length. */
size_t frame_eth(uint8_t *p, const struct rte_ether_addr *dst, const struct rte_ether_addr *src,
		int vlan, uint16_t etype);

#endif
