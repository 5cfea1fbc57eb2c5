/*
 * The generator's one loop: build and transmit a paced burst, then drain every rx port, on one
 * lcore (a separate sink would starve the generator on a 2-core machine, TESTING.md).
 */
#include <string.h>

#include <rte_byteorder.h>
#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_memcpy.h>
#include <rte_prefetch.h>

#include "arp.h"
#include "frame.h"
#include "gen.h"
#include "ndp.h"

#define POLL_NAP_US 200         /* gen_poll_until's nap when nothing came */

/* What stage 1 of the receive path found in a packet. */
enum rx_kind { RX_OURS, RX_ARP, RX_NDP, RX_OTHER, RX_STALE, RX_BAD, RX_WRONG_VLAN };

struct rx_meta {
	const uint8_t *rtp;
	uint32_t l3;                    /* ARP / NDP: where the Ethernet header ends */
	uint32_t stream;
	uint32_t seq;
	uint64_t tsc;
	int vid;
};

static inline uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static inline uint32_t rd32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return rte_be_to_cpu_32(v);
}

/* ---- transmit ---- */

/*
 * Build n packets for the next streams in round-robin order and offer them to the NIC. What
 * it refuses (always a tail of the burst) is freed and the round-robin position moved back
 * over it, so those packets are built again, with the same sequence numbers, next time:
 * a refusal never shows up as a sequence gap at the receiver.
 */
static void send_burst(struct gen_lcore *lc, unsigned n, uint64_t tsc)
{
	struct rte_mbuf *pkts[GEN_BURST];
	uint32_t cursor = lc->cursor;
	uint64_t round = lc->round;
	uint16_t sent;

	if (unlikely(rte_pktmbuf_alloc_bulk(lc->pool, pkts, n) != 0)) {
		lc->tx_nombuf++;
		return;
	}
	for (unsigned k = 0; k < n; k++) {
		if (cursor + GEN_PREFETCH < lc->n_streams)
			rte_prefetch0(&lc->streams[cursor + GEN_PREFETCH]);
		frame_build(lc, &lc->streams[cursor], cursor, round, pkts[k], tsc);
		if (++cursor == lc->n_streams) {
			cursor = 0;
			round++;
		}
	}
	sent = rte_eth_tx_burst(lc->tx_port, 0, pkts, (uint16_t)n);
	if (unlikely(sent < n)) {
		rte_pktmbuf_free_bulk(pkts + sent, n - sent);
		lc->cur.tx_refused += n - sent;
		for (unsigned k = sent; k < n; k++) {
			if (cursor == 0) {
				cursor = lc->n_streams;
				round--;
			}
			cursor--;
		}
	}
	lc->cursor = cursor;
	lc->round = round;
	lc->generated += sent;
	lc->cur.tx_pkts += sent;
	lc->cur.tx_bytes += (uint64_t)sent * lc->frame_len;
}

/* ---- receive ---- */

/* Stage 1: where is the marker, and is it ours? Reads the packet, not the stream state. */
static inline enum rx_kind rx_parse(const struct gen_lcore *lc, const struct rte_mbuf *m,
		struct rx_meta *meta)
{
	const uint8_t *p = rte_pktmbuf_mtod(m, const uint8_t *);
	uint32_t len = m->data_len;
	uint16_t etype;
	uint32_t off = frame_l2(p, len, m, &etype, &meta->vid);
	const uint8_t *ip = p + off;

	meta->l3 = off;
	if (unlikely(off == 0))
		return RX_OTHER;
	if (etype == RTE_ETHER_TYPE_ARP)
		return RX_ARP;
	if (etype == RTE_ETHER_TYPE_IPV4) {
		uint32_t ihl = (uint32_t)(ip[0] & 0x0f) * 4;
		if (len < off + 20 + 8 + 12 || (ip[0] & 0xf0) != 0x40 || ihl < 20 ||
				ip[9] != IPPROTO_UDP || (rd16(ip + 6) & 0x3fff))
			return RX_OTHER;
		off += ihl + 8;                         /* the RTP header */
	} else if (etype == RTE_ETHER_TYPE_IPV6) {
		/* no extension header: rtpgen's streams and the DUT's rewrites have none */
		if (len < off + 40 || (ip[0] & 0xf0) != 0x60)
			return RX_OTHER;
		if (ip[6] == IPPROTO_ICMPV6)
			return ndp_is_nd(ip, len - off) ? RX_NDP : RX_OTHER;
		if (ip[6] != IPPROTO_UDP || len < off + 40 + 8 + 12)
			return RX_OTHER;
		off += 40 + 8;
	} else {
		return RX_OTHER;
	}
	if (len < off + 12)
		return RX_OTHER;

	const uint8_t *rtp = p + off;
	if ((rtp[0] & 0xc0) != 0x80)
		return RX_OTHER;
	off += 12 + 4 * (uint32_t)(rtp[0] & 0x0f);      /* CSRC list */
	if (rtp[0] & 0x10) {                            /* header extension */
		if (len < off + 4)
			return RX_OTHER;
		off += 4 + 4 * (uint32_t)rd16(p + off + 2);
	}
	if (len < off + GEN_MARK_LEN)
		return RX_OTHER;

	const uint8_t *mk = p + off;
	uint32_t tag = rd32(mk + 4);
	if (rd32(mk) != GEN_MAGIC || (tag & ~GEN_TAG_MEASURED) != lc->run_tag)
		return RX_OTHER;
	if (tag != lc->tag)
		return RX_STALE;
	if (unlikely(!frame_vlan_ok(meta->vid, lc->rx_vlan)))
		return RX_WRONG_VLAN;
	meta->rtp = rtp;
	meta->stream = rd32(mk + 8);
	meta->seq = rd32(mk + 12);
	memcpy(&meta->tsc, mk + 16, 8);
	if (unlikely(meta->stream >= lc->n_streams))
		return RX_BAD;
	return RX_OURS;
}

/* Stage 2: account one of our packets on its stream. */
static inline void rx_account(struct gen_lcore *lc, const struct rx_meta *meta, uint32_t len,
		uint64_t now)
{
	struct gen_stream *st = &lc->streams[meta->stream];

	/* the RTP header must agree with the marker: the DUT may rewrite headers, not RTP */
	if (unlikely(rd16(meta->rtp + 2) != (uint16_t)(st->seq_off + meta->seq) ||
			rd32(meta->rtp + 8) != st->ssrc)) {
		lc->rx_bad++;
		return;
	}
	switch (seqwin_add(&st->rx, meta->seq)) {
	case SEQ_NEW:
		break;
	case SEQ_LATE:
		lc->cur.reordered++;
		break;
	case SEQ_LATE_FAR:
		lc->cur.reordered++;
		lc->cur.late++;
		break;
	case SEQ_DUP:
		lc->cur.duplicated++;
		break;
	}
	lc->cur.rx_pkts++;
	lc->cur.rx_bytes += len;
	hist_add(&lc->lat, now > meta->tsc ? now - meta->tsc : 0);
}

/* One rx burst from port slot `pi`: parse all, prefetch their streams, then account them. */
static unsigned rx_poll(struct gen_lcore *lc, unsigned pi)
{
	struct rte_mbuf *pkts[GEN_BURST], *done[GEN_BURST];
	struct rx_meta meta[GEN_BURST];
	uint8_t kind[GEN_BURST];
	uint16_t port = lc->rx_ports[pi];
	unsigned nb, n_done = 0;
	uint64_t now;

	nb = rte_eth_rx_burst(port, 0, pkts, GEN_BURST);
	if (nb == 0)
		return 0;
	/* one TSC read per burst: the packets' arrival time, for their latency */
	now = rte_rdtsc();
	for (unsigned i = 0; i < nb && i < GEN_PREFETCH; i++)
		rte_prefetch0(rte_pktmbuf_mtod(pkts[i], void *));
	for (unsigned i = 0; i < nb; i++) {
		if (i + GEN_PREFETCH < nb)
			rte_prefetch0(rte_pktmbuf_mtod(pkts[i + GEN_PREFETCH], void *));
		kind[i] = (uint8_t)rx_parse(lc, pkts[i], &meta[i]);
		if (kind[i] == RX_OURS)
			rte_prefetch0(&lc->streams[meta[i].stream]);
	}
	for (unsigned i = 0; i < nb; i++) {
		switch (kind[i]) {
		case RX_OURS:
			rx_account(lc, &meta[i], pkts[i]->pkt_len, now);
			break;
		case RX_ARP:
			lc->rx_arp++;
			/* a reply goes out in the same mbuf */
			if (arp_answer(lc, pi, pkts[i], meta[i].l3))
				continue;
			break;
		case RX_NDP:
			lc->rx_arp++;
			ndp_answer(lc, pi, pkts[i], meta[i].l3, meta[i].vid);
			break;
		case RX_WRONG_VLAN:
			lc->rx_wrong_vlan++;
			break;
		case RX_STALE:
			lc->rx_stale++;
			break;
		case RX_BAD:
			lc->rx_bad++;
			break;
		default:
			lc->rx_other++;
			break;
		}
		done[n_done++] = pkts[i];
	}
	rte_pktmbuf_free_bulk(done, n_done);
	return nb;
}

/* ---- the loop ---- */

static inline uint64_t min_u64(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

void gen_poll_until(struct gen_lcore *lc, volatile bool *done)
{
	while (!__atomic_load_n(done, __ATOMIC_ACQUIRE) && !gen_force_quit) {
		unsigned got = 0;

		for (unsigned pi = 0; pi < lc->n_rx_ports; pi++)
			got += rx_poll(lc, pi);
		/* the gRPC client threads may share this core: leave it to them when idle */
		if (got == 0)
			rte_delay_us_sleep(POLL_NAP_US);
	}
}

void gen_run_phase(struct gen_lcore *lc, struct gen_phase *ph)
{
	const uint64_t hz = rte_get_tsc_hz();
	const double pkts_per_tsc = (double)ph->rate / (double)hz;
	/* draining never takes longer than this, however long the packets keep trickling in */
	const uint64_t drain_cap = 10 * ph->drain_tsc + hz;
	uint64_t t0, now;
	bool sending = true;

	/* before the first packet, so that a DUT waiting on ARP for the sink learns it now */
	lc->arp_announced += arp_announce(lc);
	t0 = now = rte_rdtsc();
	ph->t_start = t0;
	ph->t_end_send = t0;
	lc->last_rx_tsc = t0;
	while (!gen_force_quit) {
		bool busy = false;
		uint64_t prev = now;

		now = rte_rdtsc();
		if (unlikely(now - prev > lc->max_gap_tsc))
			lc->max_gap_tsc = now - prev;
		if (sending) {
			uint64_t sent = lc->cur.tx_pkts;
			if ((ph->count != 0 && sent >= ph->count) || now - t0 >= ph->tsc_limit) {
				sending = false;
				ph->t_end_send = now;
			} else {
				uint64_t want = GEN_BURST;
				if (ph->rate != 0) {
					uint64_t due = (uint64_t)((double)(now - t0) *
							pkts_per_tsc);
					want = due > sent ? min_u64(want, due - sent) : 0;
				}
				if (ph->count != 0)
					want = min_u64(want, ph->count - sent);
				if (want != 0) {
					send_burst(lc, (unsigned)want, now);
					busy = true;
				}
			}
		}
		for (unsigned pi = 0; pi < lc->n_rx_ports; pi++) {
			for (unsigned b = 0; b < GEN_RX_BURSTS; b++) {
				unsigned got = rx_poll(lc, pi);
				if (got != 0) {
					busy = true;
					/* the pass's time, not the burst's: never after now */
					lc->last_rx_tsc = now;
				}
				if (got < GEN_BURST)
					break;
			}
		}
		if (!sending) {
			uint64_t quiet_since = RTE_MAX(lc->last_rx_tsc, ph->t_end_send);
			/* everything back, or nothing more for drain_tsc, or the hard cap */
			if (lc->cur.rx_pkts >= lc->cur.tx_pkts ||
					now - quiet_since >= ph->drain_tsc ||
					now - ph->t_end_send >= drain_cap)
				break;
		}
		if (!busy && lc->idle_sleep_us != 0)
			rte_delay_us_sleep(lc->idle_sleep_us);
	}
	if (sending)
		ph->t_end_send = now;
	ph->t_end = now;
}
