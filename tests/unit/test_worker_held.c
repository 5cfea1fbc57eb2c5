/*
 * test_worker_held: packets whose next hop has not answered ARP (worker_rig.h): held by the
 * control lcore and counted as sent meanwhile; given up (no_neighbor, moved from sent to
 * dropped on the flow); released when the answer comes (and, refused by the port, handed back
 * to control, which moves it to dropped: worker 0 may not own the flow); and held for a flow
 * that was removed, or whose entry a new flow reuses, which is then left alone.
 */
#define ALLOW_EXPERIMENTAL_API          /* rte_rcu_qsbr_dq_reclaim, to reuse a flow id */

#include "worker_rig.h"

static const uint8_t late_mac[6] = { 2, 0, 0, 0, 2, 0xc9 };     /* answers ARP */

/* The ARP requests for `target` that left by port 1 (and nothing else). */
static unsigned arp_requests_out(const char *target)
{
	struct rte_mbuf *o[8];
	unsigned n = out(tx_ring[P1], o, 8), reqs = 0;
	uint32_t t = ip(target);
	for (unsigned i = 0; i < n; i++) {
		const uint8_t *f = rte_pktmbuf_mtod(o[i], const uint8_t *);
		reqs += pkt_rd16(f + 12) == 0x0806 && pkt_rd16(f + 20) == 1 &&
			memcmp(f + 6, port_mac[1], 6) == 0 && memcmp(f + 38, &t, 4) == 0;
	}
	CHECK_EQ_U(reqs, n);
	rte_pktmbuf_free_bulk(o, n);
	return reqs;
}

/* A session towards `dst` (no static neighbour: resolved by ARP), and the request its
 * install sent; *t: the slow path's clock then. */
static struct dp_sess *held_session(uint16_t port, const char *dst, uint64_t *t)
{
	struct dp_sess_spec sp = spec("198.18.1.10", port, (uint16_t)(port + 20000), dst,
			(uint16_t)(port + 10000));
	struct dp_sess *s = install(&sp);
	*t = dp_now_ms();
	ctl_turn();
	CHECK_EQ_U(arp_requests_out(dst), 1);
	return s;
}

/* Held for ARP, then given up: dropped on the flow (no_neighbor), no longer sent. */
static void test_pending_given_up(void)
{
	uint8_t pl[PLEN];
	struct rte_mbuf *in[3];
	uint64_t t;
	struct dp_sess *f = held_session(10012, "198.18.2.200", &t);
	struct dp_stats before = totals();
	for (unsigned i = 0; i < 3; i++) {
		rtp_payload(pl, PLEN, 0x7777, (uint16_t)i);
		in[i] = udp_frame(client_mac, port_mac[0], ip("198.18.1.100"), ip("198.18.1.10"),
				40012, 10012, 64, pl, PLEN);
	}
	rx(P0, in, 3);
	check_quiet();
	CHECK_EQ_U(rte_ring_count(dp->pending_ring), 3);
	CHECK_EQ_U(fwd_stats(f).pkts_tx, 3);        /* while held: counted as sent */

	slowpath_poll(dp, t);                       /* held */
	for (unsigned probe = 2; probe <= NEIGH_MAX_PROBES; probe++) {
		slowpath_poll(dp, t += NEIGH_RETRY_MS);
		ctl_turn();
		CHECK_EQ_U(arp_requests_out("198.18.2.200"), 1);
		CHECK_EQ_U(fwd_stats(f).dropped, 0);
	}
	slowpath_poll(dp, t += NEIGH_RETRY_MS);     /* no answer: given up */
	CHECK_EQ_U(dp->neigh->ent[f->neigh].state, NEIGH_FAILED);
	struct dp_flow_read s = fwd_stats(f);
	CHECK_EQ_U(s.pkts_rx, 3);
	CHECK_EQ_U(s.pkts_tx, 0);
	CHECK_EQ_U(s.bytes_tx, 0);
	CHECK_EQ_U(s.dropped, 3);
	check_drops(&before, DROP_NO_NEIGHBOR, 3);
	struct dp_sess_status st;
	dp_sess_status(dp, f, &st);
	CHECK(st.next_hop_failed);

	/* one more while it is failed: dropped at once, on the flow too */
	rtp_payload(pl, PLEN, 0x7777, 3);
	rx1(P0, udp_frame(client_mac, port_mac[0], ip("198.18.1.100"), ip("198.18.1.10"), 40012,
				10012, 64, pl, PLEN));
	slowpath_poll(dp, t += 1);
	ctl_turn();
	drain(tx_ring[P1]);     /* (a failed next hop is asked again now and then) */
	s = fwd_stats(f);
	CHECK_EQ_U(s.pkts_rx, 4);
	CHECK_EQ_U(s.dropped, 4);
	check_drops(&before, DROP_NO_NEIGHBOR, 4);
	check_quiet();
	uninstall(f);
}

/* An ARP reply from `mac` for `sender` to port 1's address, as the wire brings it. */
static struct rte_mbuf *arp_reply(const uint8_t mac[6], const char *sender)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(pool);
	uint8_t *f = m ? (uint8_t *)rte_pktmbuf_append(m, 60) : NULL;
	if (f == NULL) {
		fprintf(stderr, "out of mbufs\n");
		exit(1);
	}
	uint32_t sip = ip(sender), tip = ip("198.18.2.10");
	m->port = dp->port[P1].eth_id;  /* as the NIC's rx sets it: control learns per port */
	memset(f, 0, 60);
	memcpy(f, port_mac[1], 6);
	memcpy(f + 6, mac, 6);
	put16(f + 12, 0x0806);
	put16(f + 14, 1);
	put16(f + 16, 0x0800);
	f[18] = 6;
	f[19] = 4;
	put16(f + 20, 2);
	memcpy(f + 22, mac, 6);
	memcpy(f + 28, &sip, 4);
	memcpy(f + 32, port_mac[1], 6);
	memcpy(f + 38, &tip, 4);
	return m;
}

/* Held, then the next hop answers: sent once it leaves; one the port refuses then moves from
 * sent to dropped on its flow (control accounts it: worker 0 may not own the flow). */
static void test_pending_released(void)
{
	uint8_t pl[2][PLEN];
	struct rte_mbuf *in[2], *o[4];
	uint64_t t;
	struct dp_sess *f = held_session(10014, "198.18.2.201", &t);
	struct dp_stats before = totals();
	for (unsigned i = 0; i < 2; i++) {
		rtp_payload(pl[i], PLEN, 0x8888, (uint16_t)i);
		in[i] = udp_frame(client_mac, port_mac[0], ip("198.18.1.100"), ip("198.18.1.10"),
				40014, 10014, 64, pl[i], PLEN);
	}
	rx(P0, in, 2);
	slowpath_poll(dp, t);
	CHECK_EQ_U(fwd_stats(f).pkts_tx, 2);        /* while held: counted as sent */

	/* the answer: control releases both to worker 0 (and passes the ARP to the kernel);
	 * the port has room for one */
	rx1(P1, arp_reply(late_mac, "198.18.2.201"));
	unsigned junk = fill_ring(tx_ring[P1], 1);
	slowpath_poll(dp, t + 1);
	ctl_turn();
	CHECK_EQ_U(out(tap_ring[P1], o, 4), 1);     /* the reply, for the kernel's table */
	rte_pktmbuf_free(o[0]);
	struct rte_mbuf *all[RING_SZ];
	unsigned n = out(tx_ring[P1], all, RING_SZ);
	CHECK_EQ_U(n, junk + 1);
	if (n == junk + 1)
		check_frame(all[junk], &(struct want){ late_mac, port_mac[1], "198.18.2.10",
				"198.18.2.201", 30014, 20014, 63, pl[0], PLEN });
	rte_pktmbuf_free_bulk(all, n);
	CHECK_EQ_U(rte_ring_count(dp->pending_ring), 1);   /* the refused one, back to control */
	slowpath_poll(dp, t + 2);
	struct dp_flow_read s = fwd_stats(f);
	CHECK_EQ_U(s.pkts_rx, 2);
	CHECK_EQ_U(s.pkts_tx, 1);
	CHECK_EQ_U(s.bytes_tx, PLEN);
	CHECK_EQ_U(s.dropped, 1);
	check_drops(&before, DROP_TX_FULL, 1);
	CHECK_EQ_U(totals().port[P1].tx_failed - before.port[P1].tx_failed, 1);
	check_quiet();
	uninstall(f);
}

/* A held packet whose session went (flows and next hop) is dropped, not held for nobody. */
static void test_pending_session_gone(void)
{
	uint8_t pl[PLEN];
	uint64_t t;
	struct dp_sess *f = held_session(10020, "198.18.2.203", &t);
	uint32_t nh = f->neigh;
	struct dp_stats before = totals();
	rtp_payload(pl, PLEN, 0xaaaa, 1);
	rx1(P0, udp_frame(client_mac, port_mac[0], ip("198.18.1.100"), ip("198.18.1.10"), 40020,
				10020, 64, pl, PLEN));
	CHECK_EQ_U(rte_ring_count(dp->pending_ring), 1);
	uninstall(f);
	CHECK_EQ_U(dp->neigh->ent[nh].state, NEIGH_FREE);
	slowpath_poll(dp, t);
	check_drops(&before, DROP_NO_NEIGHBOR, 1);
	CHECK_EQ_U(dp->neigh->ent[nh].n_pending, 0);
	ctl_turn();
	check_quiet();          /* nobody asked for a next hop nobody uses */
}

/* A held packet whose flow was removed, and its entry reused by a new session's flow, touches
 * the new flow not at all. */
static void test_pending_flow_gone(void)
{
	uint8_t pl[PLEN];
	uint64_t t;
	struct dp_sess *f = held_session(10016, "198.18.2.202", &t);
	uint32_t id = f->flow[DP_FLOW_RTP]->id, gen = f->flow[DP_FLOW_RTP]->gen;
	struct dp_stats before = totals();
	rtp_payload(pl, PLEN, 0x9999, 1);
	rx1(P0, udp_frame(client_mac, port_mac[0], ip("198.18.1.100"), ip("198.18.1.10"), 40016,
				10016, 64, pl, PLEN));
	CHECK_EQ_U(rte_ring_count(dp->pending_ring), 1);

	/* the session goes; its entry's grace period ends; a new session gets the same entry */
	uninstall(f);
	rte_rcu_qsbr_dq_reclaim(dp->flows->dq, UINT32_MAX, NULL, NULL, NULL);
	struct dp_sess *g = held_session(10018, "198.18.2.202", &t);
	CHECK_EQ_U(g->flow[DP_FLOW_RTP]->id, id);
	CHECK(g->flow[DP_FLOW_RTP]->gen != gen);
	slowpath_poll(dp, t);
	struct dp_flow_read s = fwd_stats(g);
	CHECK_EQ_U(s.pkts_rx, 0);
	CHECK_EQ_U(s.pkts_tx, 0);
	CHECK_EQ_U(s.dropped, 0);
	check_drops(&before, DROP_NO_NEIGHBOR, 1);
	CHECK_EQ_U(dp->neigh->ent[g->neigh].n_pending, 0);
	ctl_turn();
	check_quiet();
	uninstall(g);
}

int main(int argc, char **argv)
{
	(void)argc;
	rig_start(argv[0], "twheld", 1);
	test_pending_given_up();
	test_pending_released();
	test_pending_flow_gone();
	test_pending_session_gone();
	return rig_finish("test_worker_held");
}
