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

/* Held for ARP, then given up: dropped on the flow (no_neighbor), no longer sent. */
static void test_pending_given_up(void)
{
	uint8_t pl[PLEN];
	struct rte_mbuf *in[3];
	uint32_t nh = neigh_get(dp->neigh, P1, ip("198.18.2.200"));
	struct flow *f = fwd_flow("198.18.1.10", 10012, "198.18.2.10", 30012, "198.18.2.200",
			20012, nh, FLOW_F_RTP_STATS);
	publish(f);
	struct worker_stats before = totals();
	for (unsigned i = 0; i < 3; i++) {
		rtp_payload(pl, PLEN, 0x7777, (uint16_t)i);
		in[i] = udp_frame(client_mac, port_mac[0], ip("198.18.1.100"), ip("198.18.1.10"),
				40012, 10012, 64, pl, PLEN);
	}
	rx(P0, in, 3);
	check_quiet();
	CHECK_EQ_U(rte_ring_count(dp->pending_ring), 3);
	CHECK_EQ_U(fstats(f).pkts_tx, 3);   /* while held: counted as sent */

	uint64_t t = 100000;                /* the slow path's clock, ms */
	slowpath_poll(dp, t);               /* held; the first request */
	ctl_turn();
	CHECK_EQ_U(arp_requests_out("198.18.2.200"), 1);
	for (unsigned probe = 2; probe <= NEIGH_MAX_PROBES; probe++) {
		slowpath_poll(dp, t += NEIGH_RETRY_MS);
		ctl_turn();
		CHECK_EQ_U(arp_requests_out("198.18.2.200"), 1);
		CHECK_EQ_U(fstats(f).dropped, 0);
	}
	slowpath_poll(dp, t += NEIGH_RETRY_MS);     /* no answer: given up */
	CHECK_EQ_U(dp->neigh->ent[nh].state, NEIGH_FAILED);
	struct flow_stats s = fstats(f);
	CHECK_EQ_U(s.pkts_rx, 3);
	CHECK_EQ_U(s.pkts_tx, 0);
	CHECK_EQ_U(s.bytes_tx, 0);
	CHECK_EQ_U(s.dropped, 3);
	check_drops(&before, DROP_NO_NEIGHBOR, 3);

	/* one more while it is failed: dropped at once, on the flow too */
	rtp_payload(pl, PLEN, 0x7777, 3);
	rx1(P0, udp_frame(client_mac, port_mac[0], ip("198.18.1.100"), ip("198.18.1.10"), 40012,
				10012, 64, pl, PLEN));
	slowpath_poll(dp, t += 1);
	ctl_turn();
	drain(tx_ring[P1]);     /* (a failed next hop is asked again now and then) */
	s = fstats(f);
	CHECK_EQ_U(s.pkts_rx, 4);
	CHECK_EQ_U(s.dropped, 4);
	check_drops(&before, DROP_NO_NEIGHBOR, 4);
	check_quiet();
	unpublish(f, nh);
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
	uint32_t nh = neigh_get(dp->neigh, P1, ip("198.18.2.201"));
	struct flow *f = fwd_flow("198.18.1.10", 10014, "198.18.2.10", 30014, "198.18.2.201",
			20014, nh, FLOW_F_RTP_STATS);
	publish(f);
	struct worker_stats before = totals();
	for (unsigned i = 0; i < 2; i++) {
		rtp_payload(pl[i], PLEN, 0x8888, (uint16_t)i);
		in[i] = udp_frame(client_mac, port_mac[0], ip("198.18.1.100"), ip("198.18.1.10"),
				40014, 10014, 64, pl[i], PLEN);
	}
	rx(P0, in, 2);
	uint64_t t = 200000;
	slowpath_poll(dp, t);
	ctl_turn();
	CHECK_EQ_U(arp_requests_out("198.18.2.201"), 1);

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
	struct flow_stats s = fstats(f);
	CHECK_EQ_U(s.pkts_rx, 2);
	CHECK_EQ_U(s.pkts_tx, 1);
	CHECK_EQ_U(s.bytes_tx, PLEN);
	CHECK_EQ_U(s.dropped, 1);
	check_drops(&before, DROP_TX_FULL, 1);
	CHECK_EQ_U(totals().tx_failed[P1] - before.tx_failed[P1], 1);
	check_quiet();
	unpublish(f, nh);
}

/* A held packet whose session went (flow and next hop) is dropped, not held for nobody. */
static void test_pending_session_gone(void)
{
	uint8_t pl[PLEN];
	uint32_t nh = neigh_get(dp->neigh, P1, ip("198.18.2.203"));
	struct flow *f = fwd_flow("198.18.1.10", 10020, "198.18.2.10", 30020, "198.18.2.203",
			20020, nh, FLOW_F_RTP_STATS);
	publish(f);
	struct worker_stats before = totals();
	rtp_payload(pl, PLEN, 0xaaaa, 1);
	rx1(P0, udp_frame(client_mac, port_mac[0], ip("198.18.1.100"), ip("198.18.1.10"), 40020,
				10020, 64, pl, PLEN));
	CHECK_EQ_U(rte_ring_count(dp->pending_ring), 1);
	unpublish(f, nh);
	CHECK_EQ_U(dp->neigh->ent[nh].state, NEIGH_FREE);
	slowpath_poll(dp, 400000);
	check_drops(&before, DROP_NO_NEIGHBOR, 1);
	CHECK_EQ_U(dp->neigh->ent[nh].n_pending, 0);
	ctl_turn();
	check_quiet();          /* nobody asked for a next hop nobody uses */
}

/* A held packet whose flow was removed, and its id reused, touches the new flow not at all. */
static void test_pending_flow_gone(void)
{
	uint8_t pl[PLEN];
	uint32_t nh = neigh_get(dp->neigh, P1, ip("198.18.2.202"));
	struct flow *f = fwd_flow("198.18.1.10", 10016, "198.18.2.10", 30016, "198.18.2.202",
			20016, nh, FLOW_F_RTP_STATS);
	publish(f);
	uint32_t id = f->id, gen = f->gen;
	struct worker_stats before = totals();
	rtp_payload(pl, PLEN, 0x9999, 1);
	rx1(P0, udp_frame(client_mac, port_mac[0], ip("198.18.1.100"), ip("198.18.1.10"), 40016,
				10016, 64, pl, PLEN));
	CHECK_EQ_U(rte_ring_count(dp->pending_ring), 1);

	/* the session goes; its entry's grace period ends; a new session gets the same entry */
	CHECK_EQ_U(flow_del(dp->flows, f), 0);
	flow_table_sync(dp->flows);
	rte_rcu_qsbr_dq_reclaim(dp->flows->dq, UINT32_MAX, NULL, NULL, NULL);
	struct flow *g = fwd_flow("198.18.1.10", 10018, "198.18.2.10", 30018, "198.18.2.202",
			20018, nh, FLOW_F_RTP_STATS);
	CHECK_EQ_U(g->id, id);
	CHECK(g->gen != gen);
	publish(g);
	slowpath_poll(dp, 300000);
	struct flow_stats s = fstats(g);
	CHECK_EQ_U(s.pkts_rx, 0);
	CHECK_EQ_U(s.pkts_tx, 0);
	CHECK_EQ_U(s.dropped, 0);
	check_drops(&before, DROP_NO_NEIGHBOR, 1);
	ctl_turn();
	drain(tx_ring[P1]);     /* (no request: the packet was dropped before it was held) */
	CHECK_EQ_U(dp->neigh->ent[nh].n_pending, 0);
	check_quiet();
	unpublish(g, nh);
	neigh_put(dp->neigh, nh);       /* the first session's reference */
}

int main(int argc, char **argv)
{
	(void)argc;
	rig_start(argv[0], "twheld");
	test_pending_given_up();
	test_pending_released();
	test_pending_flow_gone();
	test_pending_session_gone();
	return rig_finish("test_worker_held");
}
