/*
 * Symmetric RTP latching (API.md 1.1 "Latching"): a forward flow remembers where its client
 * sends from, in the flow's single-writer latch record, and a packet from anywhere else moves
 * it only as the session's latch_mode allows. The worker compares each packet with the latch
 * (no call); the rules below run only when the source differs.
 */
#ifndef RTPPROXY_LATCH_H
#define RTPPROXY_LATCH_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <arpa/inet.h>

#include "flow.h"

/*
 * The SSRC a UDP payload carries, in network byte order: RTP's (version 2, >= 12 bytes, bytes
 * 8..11), or for RTCP (packet type 192..223, on its own port or multiplexed, RFC 5761) the
 * sender's (bytes 4..7). False when it carries none.
 */
static inline bool latch_pkt_ssrc(const uint8_t *p, uint32_t len, uint32_t *ssrc)
{
	if (len < 8 || (p[0] >> 6) != 2)
		return false;
	if (p[1] >= 192 && p[1] <= 223) {
		memcpy(ssrc, p + 4, 4);
		return true;
	}
	if (len < 12)
		return false;
	memcpy(ssrc, p + 8, 4);
	return true;
}

/* Does src (a packet's source, as a latch would hold it) match the latch l in every field
 * that says where and how to send back (address, port, L2 source, port, local address)? */
static inline bool latch_same(const struct flow_latch *l, const struct flow_latch *src)
{
	return l->ip == src->ip && l->port == src->port && l->local_ip == src->local_ip &&
		l->rx_port == src->rx_port && memcmp(l->mac, src->mac, 6) == 0;
}

/* The same for an IPv6 latch. */
static inline bool latch6_same(const struct flow_latch6 *l, const struct flow_latch6 *src)
{
	return memcmp(l->ip, src->ip, 16) == 0 && l->port == src->port &&
		memcmp(l->local_ip, src->local_ip, 16) == 0 && l->rx_port == src->rx_port &&
		memcmp(l->mac, src->mac, 6) == 0;
}

/*
 * A packet from src, whose payload carries ssrc when has_ssrc, reached a forward flow with
 * latch l and flags (FLOW_F_LATCH_*), and src is not exactly what l holds (or l has no SSRC
 * yet). Latch, move or complete l as the mode allows:
 *  - nothing latched yet: the packet latches (an RTCP flow: see rtp below);
 *  - ANY: every new source takes the latch;
 *  - FIRST: the first source keeps it, way back included;
 *  - SSRC (neither flag): only a packet carrying the latched SSRC takes it (NAT rebinding);
 *    the SSRC is the one of the packet that latched, or the latched source's first that
 *    carried one.
 * rtp: for an RTCP flow, a copy of its RTP flow's latch, which RTCP follows: with SSRC the
 * RTCP latch is taken only by the SSRC the RTP latch holds (when it holds one), with FIRST
 * only from the RTP client's address; NULL for an RTP flow.
 * Returns whether the packet now comes from the latched source (address and port): what
 * strict_source relays. Single writer: the worker of the flow.
 */
bool latch_update(struct flow_latch *l, uint16_t flags, const struct flow_latch *rtp,
		const struct flow_latch *src, bool has_ssrc, uint32_t ssrc);
/* The same rules for an IPv6 client (an IPv6 listen address). */
bool latch_update6(struct flow_latch6 *l, uint16_t flags, const struct flow_latch6 *rtp,
		const struct flow_latch6 *src, bool has_ssrc, uint32_t ssrc);

/* Where a reverse flow's packet goes when its client is IPv4: the client its forward flow
 * latched (RTCP: its own, or the RTP one with port + 1 until RTCP has been seen). False when
 * no client was seen yet. */
static inline bool latch_reverse_target(const struct flow_table *ft, const struct flow *f,
		struct flow_latch *t)
{
	if (flow_latch_read(&flow_at(ft, f->latch_flow)->latch, t))
		return true;
	if (f->latch_fallback == UINT32_MAX ||
			!flow_latch_read(&flow_at(ft, f->latch_fallback)->latch, t))
		return false;
	t->port = htons((uint16_t)(ntohs(t->port) + f->latch_port_add));
	return true;
}

/* The same when the client is IPv6 (the forward flows have FLOW_F_IN6). */
static inline bool latch_reverse_target6(const struct flow_table *ft, const struct flow *f,
		struct flow_latch6 *t)
{
	if (flow_latch6_read(&flow6_of(ft, flow_at(ft, f->latch_flow))->latch, t))
		return true;
	if (f->latch_fallback == UINT32_MAX ||
			!flow_latch6_read(&flow6_of(ft, flow_at(ft, f->latch_fallback))->latch, t))
		return false;
	t->port = htons((uint16_t)(ntohs(t->port) + f->latch_port_add));
	return true;
}

#endif
