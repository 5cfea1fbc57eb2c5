/*
 * The worker loop: rx, parse, classify in bulk, relay or hand over, tx. One per worker lcore;
 * no locks, no allocation, no syscalls unless idle_sleep_us asks for a nap when idle.
 */
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <rte_branch_prediction.h>
#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_log.h>
#include <rte_malloc.h>
#include <rte_prefetch.h>
#include <rte_ring.h>

#include "dp.h"
#include "handoff.h"
#include "latch.h"
#include "latch_rx.h"
#include "lookup.h"
#include "log.h"
#include "pkt.h"
#include "relay6.h"
#include "rtp.h"
#include "vlan.h"

static inline void drop(struct worker *w, struct rte_mbuf *m, enum dp_drop why)
{
	w->stats.drops[why]++;
	if (unlikely(w->debug))
		RTE_LOG(DEBUG, DP, "worker %u: dropped a %u-byte packet: %s\n", w->index,
				m->pkt_len, dp_drop_names[why]);
	rte_pktmbuf_free(m);
}

static inline void to_kernel(struct worker *w, uint16_t port, struct rte_mbuf *m)
{
	w->stats.exception[port]++;
	dp_meta_set(m, DP_META_NONE, port);     /* tap_refused takes it back */
	rte_eth_tx_buffer(w->dp->port[port].tap_id, w->index, w->tap_txb[port], m);
}

/* This worker's bucket for the port: may one more packet go to the kernel at `now`? */
static inline bool exception_admit(struct worker *w, uint16_t port, uint64_t now)
{
	const struct dp_port *p = &w->dp->port[port];
	struct worker_bucket *b = &w->exc[port];
	if (p->exc_cost == 0)
		return true;
	uint64_t elapsed = now - b->last;      /* (huge if now < last: a full bucket) */
	uint64_t credit = elapsed >= p->exc_burst ? p->exc_burst :
		RTE_MIN(b->credit + elapsed, p->exc_burst);
	b->last = now;
	if (credit < p->exc_cost) {
		b->credit = credit;
		return false;
	}
	b->credit = credit - p->exc_cost;
	return true;
}

/* To the kernel within the port's exception_rate_pps; over it, dropped (exception_limit), so
 * a flood neither reaches the kernel nor keeps the worker writing to the TAP. */
static inline void exception(struct worker *w, uint16_t port, struct rte_mbuf *m, uint64_t now)
{
	if (unlikely(!exception_admit(w, port, now))) {
		drop(w, m, DROP_EXCEPTION_LIMIT);
		return;
	}
	to_kernel(w, port, m);
}

static inline void to_port(struct worker *w, uint16_t port, struct rte_mbuf *m)
{
	if (unlikely(w->dp->port[port].vlan_tx) && !vlan_tx(w, port, m))
		return;
	rte_eth_tx_buffer(w->dp->port[port].eth_id, w->index, w->txb[port], m);
}

/* Drop a packet of flow f: the flow's loss and the appliance's, under one reason. */
static inline void flow_drop(struct worker *w, struct flow *f, struct rte_mbuf *m,
		enum dp_drop why)
{
	f->stats.dropped++;
	drop(w, m, why);
}

/* The payload's arrival time in its RTP clock (A.8 wants the receiver's clock in RTP units). */
static inline uint32_t rtp_arrival(const struct dp *dp, uint64_t tsc, uint8_t pt)
{
	return (uint32_t)(((unsigned __int128)tsc * dp->clk_mult[pt]) >> 32);
}

/* Two loads and compares instead of a call to memcmp. */
static inline bool same_mac(const uint8_t *a, const uint8_t *b)
{
	uint32_t a4, b4;
	uint16_t a2, b2;
	memcpy(&a4, a, 4);
	memcpy(&b4, b, 4);
	memcpy(&a2, a + 4, 2);
	memcpy(&b2, b + 4, 2);
	return a4 == b4 && a2 == b2;
}

/*
 * Symmetric RTP: remember where the client sends from, and the way back to it, as the flow's
 * latch mode allows. Whether the packet comes from the latched client (strict_source).
 */
static inline bool latch_source(struct worker *w, struct flow *f, const uint8_t *frame,
		const struct pkt_info *info, uint16_t rx_port)
{
	const uint8_t *ip = frame + info->l3_off;
	const uint8_t *udp = frame + info->l4_off;
	const struct flow_latch *l = &f->latch;
	uint32_t src, local;
	uint16_t sport;

	memcpy(&src, ip + 12, 4);
	memcpy(&local, ip + 16, 4);
	memcpy(&sport, udp, 2);
	/* SSRC mode wants the latched source's SSRC: until it has it, every packet looks */
	if (likely(src == l->ip && sport == l->port && local == l->local_ip &&
				rx_port == l->rx_port && same_mac(frame + 6, l->mac) &&
				(l->has_ssrc || (f->flags & (FLOW_F_LATCH_FIRST | FLOW_F_LATCH_ANY)))))
		return true;
	return latch_rx_changed(w, f, frame, info, rx_port);
}

/* Per-flow policy before relaying: who may send, what may pass, how fast. false = dropped.
 * in6: the flow's packets are IPv6 (FLOW_F_IN6), a constant where it is called, so that the
 * IPv4 copy is what it was before IPv6. */
static __rte_always_inline bool flow_admit(struct worker *w, struct rte_mbuf *m,
		const uint8_t *frame, const struct pkt_info *info, struct flow *f, uint16_t rx_port,
		uint64_t now, const bool in6)
{
	const uint8_t *ip = frame + info->l3_off;
	const uint8_t *udp = frame + info->l4_off;
	const uint8_t *payload = udp + 8;
	uint16_t flags = f->flags;

	if (flags & FLOW_F_REVERSE) {
		uint32_t src;
		uint16_t sport;
		memcpy(&src, ip + 12, 4);
		memcpy(&sport, udp, 2);
		if (in6 ? !relay6_from_peer(w->dp, f, frame, info) :
				src != f->peer_ip || sport != f->peer_port) {
			flow_drop(w, f, m, DROP_NOT_FROM_DESTINATION);
			return false;
		}
	}
	if (flags & FLOW_F_VALIDATE) {
		bool ok = flags & FLOW_F_RTCP ? rtcp_valid(payload, info->udp_payload) :
			rtp_valid(payload, info->udp_payload);
		if (!ok) {
			flow_drop(w, f, m, DROP_INVALID_RTP);
			return false;
		}
	}
	/* before RTP stats and rate limits: a stranger's packets touch neither under strict */
	if (!(flags & FLOW_F_REVERSE) && !(in6 ? relay6_latch_source(w, f, frame, info, rx_port) :
				latch_source(w, f, frame, info, rx_port)) &&
			(flags & FLOW_F_STRICT)) {
		flow_drop(w, f, m, DROP_NOT_FROM_CLIENT);
		return false;
	}
	/* loss and jitter describe what reached the proxy, before any rate limit */
	/* (RTCP multiplexed on the RTP port, RFC 5761: second byte 192..223, is not RTP) */
	if ((flags & FLOW_F_RTP_STATS) && info->udp_payload >= RTP_HDR_LEN &&
			(payload[0] >> 6) == 2 && (payload[1] < 192 || payload[1] > 223)) {
		uint8_t pt = rtp_pt(payload);
		uint32_t seq = f->rtp_seq;
		f->last_pt = pt;
		/* a sequence count lets the control lcore read the multi-word state whole */
		__atomic_store_n(&f->rtp_seq, seq + 1, __ATOMIC_RELAXED);
		__atomic_thread_fence(__ATOMIC_RELEASE);
		rtp_track(&f->rtp, rtp_seq(payload), rtp_ts(payload), rtp_arrival(w->dp, now, pt));
		__atomic_store_n(&f->rtp_seq, seq + 2, __ATOMIC_RELEASE);
	}
	if (unlikely(flags & (FLOW_F_METER_PPS | FLOW_F_METER_BPS))) {
		struct flow_meter *fm = flow_meter_of(w->dp->flows, f);
		if ((flags & FLOW_F_METER_PPS) && rte_meter_srtcm_color_blind_check(&fm->pps,
					&fm->prof_pps, now, 1) != RTE_COLOR_GREEN) {
			flow_drop(w, f, m, DROP_RATE_LIMIT);
			return false;
		}
		if ((flags & FLOW_F_METER_BPS) && rte_meter_srtcm_color_blind_check(&fm->bps,
					&fm->prof_bps, now, info->ip_len) != RTE_COLOR_GREEN) {
			flow_drop(w, f, m, DROP_RATE_LIMIT);
			return false;
		}
	}
	/* TTL, or IPv6's hop limit */
	if (unlikely(ip[in6 ? 7 : 8] <= 1)) {
		flow_drop(w, f, m, DROP_TTL_EXCEEDED);
		return false;
	}
	return true;
}

/* Where a reverse packet goes: the client its forward flow latched (latch.h). */
static inline bool reverse_target(const struct dp *dp, const struct flow *f, struct flow_latch *t)
{
	return latch_reverse_target(dp->flows, f, t);
}

/* A rewritten packet of flow f leaves by tx_port, or waits for its next hop's MAC. */
static __rte_always_inline void relay_out(struct worker *w, struct rte_mbuf *m,
		const struct pkt_info *info, struct flow *f, uint16_t tx_port, bool resolved,
		uint64_t now)
{
	struct dp *dp = w->dp;
	struct flow_stats *st = &f->stats;

	st->pkts_tx++;
	st->bytes_tx += info->udp_payload;
	st->last_tsc = now;
	w->stats.relayed++;
	if (likely(resolved)) {
		dp_meta_set(m, f->id, tx_port);
		to_port(w, tx_port, m);
		if (w->n_lat < RTE_DIM(w->lat))
			w->lat[w->n_lat++] = (struct worker_lat){ .flow = f, .rx_tsc = now };
		return;
	}
	/* The control lcore holds it until the next hop answers ARP, and fills in the MAC; it
	 * stays counted as sent unless control gives it up (then flow->ctl_dropped). */
	dp_meta_set(m, f->id, __atomic_load_n(&f->gen, __ATOMIC_RELAXED));
	if (rte_ring_mp_enqueue(dp->pending_ring, m) != 0) {
		st->pkts_tx--;
		st->bytes_tx -= info->udp_payload;
		w->stats.relayed--;
		flow_drop(w, f, m, DROP_NO_NEIGHBOR);
	}
}

/* A packet of a flow with IPv6 on either side (relay6.c rewrites it): out of line, so that
 * the IPv4 relay below stays what it was. */
static __rte_noinline void relay_v6(struct worker *w, struct rte_mbuf *m,
		const struct pkt_info *info, struct flow *f, uint16_t rx_port, uint64_t now)
{
	const uint8_t *frame = rte_pktmbuf_mtod(m, const uint8_t *);
	uint16_t tx_port;
	bool resolved;

	f->stats.pkts_rx++;
	f->stats.bytes_rx += info->udp_payload;
	if (!((f->flags & FLOW_F_IN6) ? flow_admit(w, m, frame, info, f, rx_port, now, true) :
				flow_admit(w, m, frame, info, f, rx_port, now, false)))
		return;
	enum dp_drop why = relay6_rewrite(w, m, info, f, &tx_port, &resolved);
	if (why != DROP_MAX) {
		flow_drop(w, f, m, why);
		return;
	}
	relay_out(w, m, info, f, tx_port, resolved, now);
}

/* always inlined: handle_burst has two copies now (worker_main's, worker_handle_burst), and
 * with two call sites GCC would keep relay out of line, a call per packet */
static __rte_always_inline void relay(struct worker *w, struct rte_mbuf *m,
		const struct pkt_info *info, struct flow *f, uint16_t rx_port, uint64_t now)
{
	struct dp *dp = w->dp;
	struct flow_stats *st = &f->stats;
	uint8_t *frame = rte_pktmbuf_mtod(m, uint8_t *);
	struct pkt_rewrite rw;
	uint16_t tx_port;
	bool resolved;

	if (unlikely(f->flags & FLOW_F_V6)) {
		relay_v6(w, m, info, f, rx_port, now);
		return;
	}
	st->pkts_rx++;
	st->bytes_rx += info->udp_payload;
	if (!flow_admit(w, m, frame, info, f, rx_port, now, false))
		return;

	if (f->flags & FLOW_F_REVERSE) {
		struct flow_latch t;
		if (!reverse_target(dp, f, &t)) {
			/* no client has spoken yet: there is nobody to send it to */
			flow_drop(w, f, m, DROP_NO_FLOW);
			return;
		}
		tx_port = t.rx_port;
		rw.src_ip = t.local_ip;
		rw.src_port = f->src_port;
		rw.dst_ip = t.ip;
		rw.dst_port = t.port;
		memcpy(rw.dst_mac, t.mac, 6);
		resolved = true;
	} else {
		tx_port = f->tx_port;
		rw.src_ip = f->src_ip;
		rw.src_port = f->src_port;
		rw.dst_ip = f->dst_ip;
		rw.dst_port = f->dst_port;
		resolved = neigh_mac_get(dp->neigh, f->neigh, rw.dst_mac);
	}
	memcpy(rw.src_mac, dp->port[tx_port].mac.addr_bytes, 6);
	pkt_rewrite_udp4(frame, info, &rw);
	if (unlikely(w->debug))
		RTE_LOG(DEBUG, DP, "worker %u: flow %u relayed %u payload bytes to %u.%u.%u.%u:%u "
				"via %s\n", w->index, f->id, info->udp_payload,
				((uint8_t *)&rw.dst_ip)[0], ((uint8_t *)&rw.dst_ip)[1],
				((uint8_t *)&rw.dst_ip)[2], ((uint8_t *)&rw.dst_ip)[3],
				ntohs(rw.dst_port), dp->port[tx_port].name);
	relay_out(w, m, info, f, tx_port, resolved, now);
}

/* A UDP packet no flow claims: ours is the kernel's only for a kernel_allow service of the
 * port, else nobody listens; anyone else's (broadcasts...) is the kernel's to judge. */
static inline void no_flow(struct worker *w, uint16_t port, struct rte_mbuf *m,
		const struct pkt_info *info, bool v6, uint64_t now)
{
	const uint8_t *ip = rte_pktmbuf_mtod_offset(m, const uint8_t *, info->l3_off);
	const uint8_t *udp = rte_pktmbuf_mtod_offset(m, const uint8_t *, info->l4_off);
	uint32_t dst;
	memcpy(&dst, ip + 16, 4);
	if ((unlikely(v6) ? dp_owner_of6(w->dp, ip + 24) : dp_owner_of(w->dp, dst)) >= 0 &&
			!dp_port_udp_allowed(&w->dp->port[port], pkt_rd16(udp + 2)))
		drop(w, m, DROP_NO_FLOW);
	else
		exception(w, port, m, now);
}

/* How far ahead of its use the worker starts loading: a packet's first line before it is
 * classified, a flow's hot lines before it is relayed. A few packets, not the whole burst:
 * a burst's worth of misses at once would queue behind the core's outstanding-miss limit and
 * evict each other before use. */
#define PF_PKT_AHEAD 4
#define PF_FLOW_AHEAD 4

/* Inlined into worker_main's loop; worker_handle_burst is the same code for the benchmark. */
static __rte_always_inline void handle_burst(struct worker *w, uint16_t port,
		struct rte_mbuf **pkts, uint16_t n, uint64_t now, bool handed)
{
	struct dp *dp = w->dp;
	/* whose flows this worker may write: with one worker, all; packets handed over by
	 * another worker are ours; on a port with destination-only RSS every flow's packets
	 * reach one worker, except a wildcard listen's (many destinations) */
	bool check_owner = !handed && dp->n_workers > 1;
	bool rss_dst = dp->port[port].rss_dst;
	struct rte_mbuf *ho_pkts[DP_BURST];
	struct flow *ho_flows[DP_BURST];
	uint16_t n_ho = 0;
	struct pkt_info info[DP_BURST];
	struct flow *flows[DP_BURST];
	uint32_t dsts[DP_BURST];
	uint16_t dports[DP_BURST];
	uint16_t udp_idx[DP_BURST];
	uint16_t n_udp = 0;
	uint16_t udp6_idx[DP_BURST];    /* IPv6 ones: relayed after the IPv4 ones */
	uint16_t n_udp6 = 0;

	for (uint16_t i = 0; i < n && i < PF_PKT_AHEAD; i++)
		rte_prefetch0(rte_pktmbuf_mtod(pkts[i], void *));

	for (uint16_t i = 0; i < n; i++) {
		struct rte_mbuf *m = pkts[i];
		const uint8_t *frame = rte_pktmbuf_mtod(m, const uint8_t *);
		if (i + PF_PKT_AHEAD < n)
			rte_prefetch0(rte_pktmbuf_mtod(pkts[i + PF_PKT_AHEAD], void *));
		enum rx_ck ck = rx_checksums(m);
		/* (an IPv6 UDP checksum is verified below, in its case: IPv4 pays nothing) */
		enum pkt_class c = m->nb_segs != 1 ? PKT_OTHER :
			unlikely(ck == RX_CK_BAD) ? PKT_MALFORMED :
			pkt_classify_ck(frame, m->data_len, &info[i],
					(ck == RX_CK_IP_GOOD) | PKT_CK_L4_GOOD);

		switch (c) {
		case PKT_UDP4: {
			const uint8_t *ip = frame + info[i].l3_off;
			const uint8_t *udp = frame + info[i].l4_off;
			memcpy(&dsts[n_udp], ip + 16, 4);
			memcpy(&dports[n_udp], udp + 2, 2);
			udp_idx[n_udp++] = i;
			break;
		}
		case PKT_UDP6:
			/* the checksum is IPv6's only one: the NIC's verdict, else summed */
			if (!rx_l4_good(m) && !pkt_udp6_csum_ok(frame, &info[i]))
				drop(w, m, DROP_MALFORMED);
			else
				udp6_idx[n_udp6++] = i;
			break;
		case PKT_ND:
			/* neighbour discovery, IPv6's ARP (slowpath_nd.c): the same way */
		case PKT_ARP:
			/* control learns from it, then passes it on to the kernel */
			dp_meta_set(m, DP_META_NONE, port);     /* the section it came in on */
			if (rte_ring_mp_enqueue(dp->arp_ring, m) != 0)
				to_kernel(w, port, m);
			break;
		case PKT_FRAGMENT:
			/* never relayed: counted, and the kernel may reassemble it; the filter then
			 * judges the whole datagram as any other (a fragment the limit refuses
			 * counts as exception_limit only) */
			if (exception_admit(w, port, now)) {
				w->stats.drops[DROP_FRAGMENT]++;
				to_kernel(w, port, m);
			} else {
				drop(w, m, DROP_EXCEPTION_LIMIT);
			}
			break;
		case PKT_MALFORMED:
			drop(w, m, DROP_MALFORMED);
			break;
		case PKT_OTHER:
			if (unlikely(pkt_rd16(frame + 12) == RTE_ETHER_TYPE_VLAN))
				vlan_other(w, port, m, now);    /* a tag nobody took off */
			else
				exception(w, port, m, now);
			break;
		}
	}

	/* the flows' lines load PF_FLOW_AHEAD packets ahead of the relay that uses them (the
	 * relay reads or writes each of a flow's hot lines) */
	for (uint16_t j = 0; j < n_udp && j < PF_FLOW_AHEAD; j++) {
		flows[j] = dp_flow_of(dp, dsts[j], dports[j]);
		if (flows[j] != NULL)
			prefetch_flow(flows[j]);
	}
	for (uint16_t j = 0; j < n_udp; j++) {
		uint16_t a = (uint16_t)(j + PF_FLOW_AHEAD);
		if (a < n_udp) {
			flows[a] = dp_flow_of(dp, dsts[a], dports[a]);
			if (flows[a] != NULL)
				prefetch_flow(flows[a]);
		}
		uint16_t i = udp_idx[j];
		struct flow *f = flows[j];
		if (f == NULL) {
			no_flow(w, port, pkts[i], &info[i], false, now);
		} else if (unlikely(check_owner && f->owner != w->index &&
					(!rss_dst || (f->flags & FLOW_F_WILDCARD)))) {
			ho_pkts[n_ho] = pkts[i];
			ho_flows[n_ho++] = f;
		} else {
			relay(w, pkts[i], &info[i], f, port, now);
		}
	}
	/* IPv6 after IPv4, in their order (a flow is of one family: its packets keep theirs);
	 * every flow looked up and its lines (and IPv6 half) loading before the first relay */
	for (uint16_t j = 0; j < n_udp6; j++) {
		uint16_t i = udp6_idx[j];
		const uint8_t *frame = rte_pktmbuf_mtod(pkts[i], const uint8_t *);
		uint16_t dport;
		memcpy(&dport, frame + info[i].l4_off + 2, 2);
		flows[j] = dp_flow_of6(dp, frame + info[i].l3_off + 24, dport);
		if (flows[j] != NULL)
			prefetch_flow6(dp->flows, flows[j]);
	}
	for (uint16_t j = 0; j < n_udp6; j++) {
		uint16_t i = udp6_idx[j];
		struct flow *f = flows[j];
		if (f == NULL) {
			no_flow(w, port, pkts[i], &info[i], true, now);
		} else if (unlikely(check_owner && f->owner != w->index &&
					(!rss_dst || (f->flags & FLOW_F_WILDCARD)))) {
			ho_pkts[n_ho] = pkts[i];
			ho_flows[n_ho++] = f;
		} else {
			relay_v6(w, pkts[i], &info[i], f, port, now);
		}
	}
	if (n_ho)
		hand_off(w, port, ho_pkts, ho_flows, n_ho);
}

/* What other workers handed over, a burst per iteration at most: runs of packets from one
 * dp port go through the burst code as if received there (the flow is looked up again: the
 * sender's id may have been deleted and reused since). */
static __rte_noinline unsigned poll_handoff(struct worker *w, uint64_t now)
{
	struct rte_mbuf *pkts[DP_BURST];
	unsigned n = rte_ring_sc_dequeue_burst(w->handoff, (void **)pkts, DP_BURST, NULL);

	for (unsigned s = 0, e; s < n; s = e) {
		uint16_t port = (uint16_t)dp_meta_aux(pkts[s]);
		for (e = s + 1; e < n && dp_meta_aux(pkts[e]) == port; e++)
			;
		handle_burst(w, port, pkts + s, (uint16_t)(e - s), now, true);
	}
	return n;
}

#define TAP_BURSTS 4

/* What the kernel sends on a port's TAP leaves through the port. */
static unsigned poll_taps(struct worker *w)
{
	struct dp *dp = w->dp;
	struct rte_mbuf *pkts[DP_BURST];
	unsigned total = 0;

	for (unsigned p = 0; p < dp->n_ports; p++) {
		for (uint16_t q = 0; q < dp->port[p].nb_queues; q++) {
			/* a few bursts at once: the kernel sends in bursts (TCP) and its queue is
			 * finite */
			for (int b = 0; b < TAP_BURSTS; b++) {
				uint16_t n = rte_eth_rx_burst(dp->port[p].tap_id, q, pkts, DP_BURST);
				for (uint16_t i = 0; i < n; i++) {
					dp_meta_set(pkts[i], DP_META_NONE, p);
					to_port(w, (uint16_t)p, pkts[i]);
				}
				total += n;
				if (n < DP_BURST)
					break;
			}
		}
	}
	return total;
}

/*
 * Kernel traffic is light next to the relayed kind: while the ports keep the worker busy, the
 * TAPs are polled every TAP_POLL_EVERY iterations (and every time while they have something),
 * when it is idle every time. A TAP poll is not free: net_tap does a readv(2) on every poll
 * until the kernel's first packet arms its SIGIO trigger, which with IPv6 off can be never.
 */
#define TAP_POLL_EVERY 8

static inline bool taps_due(const struct worker *w, unsigned rx_work)
{
	return rx_work == 0 || w->taps_busy || (w->stats.iterations & (TAP_POLL_EVERY - 1)) == 0;
}

/* Packets the control lcore wants sent: ARP requests, packets whose neighbour resolved. */
static unsigned poll_ctl(struct worker *w)
{
	struct rte_mbuf *pkts[DP_BURST];
	unsigned n = rte_ring_sc_dequeue_burst(w->from_ctl, (void **)pkts, DP_BURST, NULL);

	for (unsigned i = 0; i < n; i++) {
		struct rte_mbuf *m = pkts[i];
		uint16_t port = m->port;
		if (dp_meta_flow(m) != DP_META_NONE) {
			to_port(w, port, m);    /* a held packet released: meta for tx_refused */
		} else if (dp_meta_aux(m) == DP_TO_KERNEL) {
			/* not an exception packet: tap_refused leaves the count alone */
			dp_meta_set(m, DP_META_NONE, DP_META_NONE);
			rte_eth_tx_buffer(w->dp->port[port].tap_id, w->index, w->tap_txb[port], m);
		} else {
			dp_meta_set(m, DP_META_NONE, port);
			to_port(w, port, m);
		}
	}
	return n;
}

/* Time through the proxy of what this iteration relayed, in TSC: from the iteration's start
 * (just before its rx bursts) to t, after its tx bursts. */
static void account_latency(struct worker *w, uint64_t t)
{
	for (unsigned i = 0; i < w->n_lat; i++) {
		struct flow_stats *st = &w->lat[i].flow->stats;
		uint64_t d = t - w->lat[i].rx_tsc;
		st->lat_sum += d;
		st->lat_n++;
		if (d > st->lat_max)
			st->lat_max = d;
	}
	w->n_lat = 0;
}

static void flush_all(struct worker *w)
{
	struct dp *dp = w->dp;
	for (unsigned p = 0; p < dp->n_ports; p++) {
		rte_eth_tx_buffer_flush(dp->port[p].eth_id, w->index, w->txb[p]);
		rte_eth_tx_buffer_flush(dp->port[p].tap_id, w->index, w->tap_txb[p]);
	}
}

/*
 * What the loop does after its rx bursts, every iteration that found work (t0: when it
 * started): send, then one TSC read for the latency of what was sent and the busy time.
 */
static __rte_always_inline void end_iteration(struct worker *w, uint64_t t0)
{
	flush_all(w);
	uint64_t t = rte_rdtsc();
	account_latency(w, t);
	w->stats.busy_cycles += t - t0;
}

/* The loop's per-burst and per-iteration work, callable alone (tests/bench/bench_worker.c). */
void worker_handle_burst(struct worker *w, uint16_t port, struct rte_mbuf **pkts, uint16_t n,
		uint64_t now)
{
	handle_burst(w, port, pkts, n, now, false);
}

void worker_rx_burst(struct worker *w, uint16_t port, struct rte_mbuf **pkts, uint16_t n,
		uint64_t now)
{
	if (w->dp->port[port].vlan_demux)
		vlan_rx(w, port, pkts, n, now);
	else
		handle_burst(w, port, pkts, n, now, false);
}

unsigned worker_poll_handoff(struct worker *w, uint64_t now)
{
	return w->handoff != NULL ? poll_handoff(w, now) : 0;
}

unsigned worker_poll_ctl(struct worker *w)
{
	return poll_ctl(w);
}

void worker_end_iteration(struct worker *w, uint64_t t0)
{
	end_iteration(w, t0);
	rte_rcu_qsbr_quiescent(w->dp->qsv, w->index);
}

/*
 * Not inlined: rte_log is __rte_cold, and an unconditional call to it ahead of the loop made
 * GCC treat everything after it as cold, so the whole loop went to .text.unlikely compiled for
 * size (helpers such as rte_eth_tx_buffer and flow_latch_read left out of line).
 */
static __rte_noinline void log_start(const struct worker *w)
{
	RTE_LOG(INFO, DP, "worker %u on lcore %u: %u rx queues%s\n", w->index, w->lcore,
			w->n_rxq, w->polls_taps ? " + kernel interfaces" : "");
}

int worker_main(void *arg)
{
	struct worker *w = arg;
	struct dp *dp = w->dp;
	struct rte_mbuf *pkts[DP_BURST];

	rte_rcu_qsbr_thread_register(dp->qsv, w->index);
	rte_rcu_qsbr_thread_online(dp->qsv, w->index);
	log_start(w);

	while (!dp->stop) {
		/* one TSC read for the iteration: the bursts' arrival time, the busy time's start */
		uint64_t t0 = rte_rdtsc();
		unsigned work = 0;
		bool passive = dp_passive(dp);         /* a hot standby relays nothing */

		if (w->handoff != NULL)
			work += poll_handoff(w, t0);
		for (unsigned q = 0; q < w->n_rxq; q++) {
			uint16_t port = w->rxq[q].port;
			uint16_t n = rte_eth_rx_burst(dp->port[port].eth_id, w->rxq[q].queue,
					pkts, DP_BURST);
			if (n == 0)
				;
			else if (unlikely(passive))
				worker_passive_burst(w, port, pkts, n);   /* VLAN sections: there */
			else if (unlikely(dp->port[port].vlan_demux))
				vlan_rx(w, port, pkts, n, t0);
			else
				handle_burst(w, port, pkts, n, t0, false);
			work += n;
		}
		if (w->polls_taps && taps_due(w, work)) {
			unsigned n = unlikely(passive) ? worker_passive_taps(w) : poll_taps(w);
			w->taps_busy = n > 0;
			work += n;
		}
		work += poll_ctl(w);
		if (work) {
			end_iteration(w, t0);   /* nothing is buffered when nothing came */
			w->stats.busy_iterations++;
		}
		rte_rcu_qsbr_quiescent(dp->qsv, w->index);

		/* per-packet DEBUG logging costs one predictable branch until it is enabled */
		if ((w->stats.iterations & 4095) == 0)
			w->debug = rte_log_can_log(RTE_LOGTYPE_DP, RTE_LOG_DEBUG);
		w->stats.iterations++;
		if (!work && dp->idle_sleep_us) {
			/* lab/CI convenience: a nap when idle, offline so control never waits on us */
			rte_rcu_qsbr_thread_offline(dp->qsv, w->index);
			usleep(dp->idle_sleep_us);
			rte_rcu_qsbr_thread_online(dp->qsv, w->index);
		}
	}

	flush_all(w);
	rte_rcu_qsbr_thread_offline(dp->qsv, w->index);
	rte_rcu_qsbr_thread_unregister(dp->qsv, w->index);
	return 0;
}
