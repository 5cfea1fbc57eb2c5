/*
 * test_worker_handoff: one writer per flow with two workers (worker_rig.h), on ports without
 * destination-only RSS (net_ring), so a flow's packets may reach either worker: the worker
 * that does not own a flow hands its packets to the owner's ring, the owner relays them (out
 * of its own tx queue) and alone writes the flow's counters and latch. Forward and reverse,
 * from either worker, and a client that moves: output bytes, the queue it left by, the flows'
 * counters, each worker's relayed and handed_off. IPv6 and 4 -> 6 flows the same way.
 */
#include "worker_rig6.h"

#define FROM_CLIENT(sport, lport, pl) udp_frame(client_mac, port_mac[0], ip("198.18.1.100"), \
		ip("198.18.1.10"), sport, lport, 64, pl, PLEN)

static uint64_t relayed(const struct dp_stats *s, unsigned wi) { return s->worker[wi].relayed; }
static uint64_t handed(const struct dp_stats *s, unsigned wi) { return s->worker[wi].handed_off; }

static void test_handoff(void)
{
	uint8_t pl[PLEN];
	struct rte_mbuf *o[4];
	/* owners: listen port / 2 mod 2: 10000 -> worker 0; 10002 and 30002 -> worker 1 */
	struct dp_sess_spec sa = spec("198.18.1.10", 10000, 30000, "198.18.2.100", 20000);
	struct dp_sess_spec sb = spec("198.18.1.10", 10002, 30002, "198.18.2.100", 20002);
	sb.bidirectional = true;
	struct dp_sess *a = install(&sa), *b = install(&sb);
	CHECK_EQ_U(a->flow[DP_FLOW_RTP]->owner, 0);
	CHECK_EQ_U(b->flow[DP_FLOW_RTP]->owner, 1);
	CHECK_EQ_U(b->flow[DP_FLOW_REV_RTP]->owner, 1);
	struct dp_stats before = totals();

	/* b's client reaches worker 0: handed over, nothing written, nothing sent yet */
	rtp_payload(pl, PLEN, 0xB0B, 1);
	rx_on(0, P0, (struct rte_mbuf *[]){ FROM_CLIENT(40002, 10002, pl) }, 1);
	check_quiet();
	struct dp_stats now = totals();
	CHECK_EQ_U(handed(&now, 0) - handed(&before, 0), 1);
	CHECK_EQ_U(fwd_stats(b).pkts_rx, 0);
	CHECK_EQ_U(rte_ring_count(dp->workers[1].handoff), 1);
	/* worker 1 takes it at the top of its loop and relays it out of its own queue */
	rx_on(1, P0, NULL, 0);
	CHECK_EQ_U(out(tx_ring_q[P1][1], o, 4), 1);
	check_frame(o[0], &(struct want){ dest_mac, port_mac[1], "198.18.2.10", "198.18.2.100",
			30002, 20002, 63, pl, PLEN });
	rte_pktmbuf_free(o[0]);
	check_quiet();
	struct dp_flow_read s = fwd_stats(b);
	CHECK_EQ_U(s.pkts_rx, 1);
	CHECK_EQ_U(s.pkts_tx, 1);
	now = totals();
	CHECK_EQ_U(relayed(&now, 1) - relayed(&before, 1), 1);
	CHECK_EQ_U(relayed(&now, 0) - relayed(&before, 0), 0);

	/* a's packets: relayed at once by worker 0, handed over by worker 1 */
	rtp_payload(pl, PLEN, 0xA0A, 1);
	rx_on(0, P0, (struct rte_mbuf *[]){ FROM_CLIENT(40000, 10000, pl) }, 1);
	CHECK_EQ_U(out(tx_ring_q[P1][0], o, 4), 1);
	rte_pktmbuf_free(o[0]);
	rtp_payload(pl, PLEN, 0xA0A, 2);
	rx_on(1, P0, (struct rte_mbuf *[]){ FROM_CLIENT(40000, 10000, pl) }, 1);
	check_quiet();
	rx_on(0, P0, NULL, 0);
	CHECK_EQ_U(out(tx_ring_q[P1][0], o, 4), 1);
	check_frame(o[0], &(struct want){ dest_mac, port_mac[1], "198.18.2.10", "198.18.2.100",
			30000, 20000, 63, pl, PLEN });
	rte_pktmbuf_free(o[0]);
	check_quiet();
	s = fwd_stats(a);
	CHECK_EQ_U(s.pkts_rx, 2);
	CHECK_EQ_U(s.pkts_tx, 2);

	/* b's answer reaches worker 0 too: handed over, sent by worker 1 to the latched client */
	rtp_payload(pl, PLEN, 0xDE5, 1);
	rx_on(0, P1, (struct rte_mbuf *[]){ udp_frame(dest_mac, port_mac[1], ip("198.18.2.100"),
				ip("198.18.2.10"), 20002, 30002, 64, pl, PLEN) }, 1);
	check_quiet();
	rx_on(1, P1, NULL, 0);
	CHECK_EQ_U(out(tx_ring_q[P0][1], o, 4), 1);
	check_frame(o[0], &(struct want){ client_mac, port_mac[0], "198.18.1.10", "198.18.1.100",
			10002, 40002, 63, pl, PLEN });
	rte_pktmbuf_free(o[0]);

	/* b's client moves (NAT rebinding, same SSRC) and its packet lands on worker 0: the
	 * owner moves the latch, and the answers follow */
	rtp_payload(pl, PLEN, 0xB0B, 2);
	rx_on(0, P0, (struct rte_mbuf *[]){ FROM_CLIENT(40012, 10002, pl) }, 1);
	rx_on(1, P0, NULL, 0);
	CHECK_EQ_U(out(tx_ring_q[P1][1], o, 4), 1);
	rte_pktmbuf_free(o[0]);
	struct dp_sess_status st;
	dp_sess_status(dp, b, &st);
	CHECK(st.latch.latched && st.latch.port == 40012);
	rtp_payload(pl, PLEN, 0xDE5, 2);
	rx_on(1, P1, (struct rte_mbuf *[]){ udp_frame(dest_mac, port_mac[1], ip("198.18.2.100"),
				ip("198.18.2.10"), 20002, 30002, 64, pl, PLEN) }, 1);
	CHECK_EQ_U(out(tx_ring_q[P0][1], o, 4), 1);
	check_frame(o[0], &(struct want){ client_mac, port_mac[0], "198.18.1.10", "198.18.1.100",
			10002, 40012, 63, pl, PLEN });
	rte_pktmbuf_free(o[0]);
	check_quiet();

	s = fwd_stats(b);
	CHECK_EQ_U(s.pkts_rx, 2);
	CHECK_EQ_U(s.pkts_tx, 2);
	s = rev_stats(b);
	CHECK_EQ_U(s.pkts_rx, 2);
	CHECK_EQ_U(s.pkts_tx, 2);
	now = totals();
	CHECK_EQ_U(handed(&now, 0) - handed(&before, 0), 3);
	CHECK_EQ_U(handed(&now, 1) - handed(&before, 1), 1);
	CHECK_EQ_U(relayed(&now, 0) - relayed(&before, 0), 2);
	CHECK_EQ_U(relayed(&now, 1) - relayed(&before, 1), 4);
	check_drops(&before, DROP_MAX, 0);
	uninstall(a);
	uninstall(b);
}

/* IPv6 packets reaching the worker that does not own their flow: handed over the same way,
 * relayed (6 -> 6 and 4 -> 6 forward, 6 -> 6 back) by the owner alone. */
static void test_handoff6(void)
{
	uint8_t pl[PLEN];
	struct rte_mbuf *o[4];
	/* owners: 12002 and 32002 -> worker 1 (12006 too) */
	struct dp_sess_spec s6 = spec6(LISTEN6, 12002, FWD6, 32002, DEST6, 22002);
	s6.bidirectional = true;
	struct dp_sess_spec s46 = spec6("198.18.1.10", 12006, FWD6, 32006, DEST6, 22006);
	struct dp_sess *a = install(&s6), *b = install(&s46);
	CHECK_EQ_U(a->flow[DP_FLOW_RTP]->owner, 1);
	CHECK_EQ_U(a->flow[DP_FLOW_REV_RTP]->owner, 1);
	CHECK_EQ_U(b->flow[DP_FLOW_RTP]->owner, 1);
	struct dp_stats before = totals();

	rtp_payload(pl, PLEN, 0x606, 1);
	rx_on(0, P0, (struct rte_mbuf *[]){ udp6_frame(client_mac, port_mac[0], CLIENT6, LISTEN6,
				41002, 12002, 64, 0, pl, PLEN),
			udp_frame(client_mac, port_mac[0], ip("198.18.1.100"), ip("198.18.1.10"),
				41006, 12006, 64, pl, PLEN) }, 2);
	check_quiet();
	CHECK_EQ_U(fwd_stats(a).pkts_rx, 0);
	CHECK_EQ_U(rte_ring_count(dp->workers[1].handoff), 2);
	rx_on(1, P0, NULL, 0);
	/* IPv4 first, then IPv6, as one burst's relay goes */
	CHECK_EQ_U(out(tx_ring_q[P1][1], o, 4), 2);
	check_frame6(o[0], &(struct want6){ dest_mac, port_mac[1], FWD6, DEST6, 32006, 22006,
			63, 0, 0, pl, PLEN });
	check_frame6(o[1], &(struct want6){ dest_mac, port_mac[1], FWD6, DEST6, 32002, 22002,
			63, 0, 0x12345, pl, PLEN });
	rte_pktmbuf_free(o[0]);
	rte_pktmbuf_free(o[1]);
	check_quiet();

	/* the answer reaches worker 0, goes out of worker 1's queue to the latched client */
	rx_on(0, P1, (struct rte_mbuf *[]){ udp6_frame(dest_mac, port_mac[1], DEST6, FWD6, 22002,
				32002, 64, 0, pl, PLEN) }, 1);
	check_quiet();
	rx_on(1, P1, NULL, 0);
	CHECK_EQ_U(out(tx_ring_q[P0][1], o, 4), 1);
	check_frame6(o[0], &(struct want6){ client_mac, port_mac[0], LISTEN6, CLIENT6, 12002,
			41002, 63, 0, 0x12345, pl, PLEN });
	rte_pktmbuf_free(o[0]);
	check_quiet();

	struct dp_stats now = totals();
	CHECK_EQ_U(handed(&now, 0) - handed(&before, 0), 3);
	CHECK_EQ_U(relayed(&now, 1) - relayed(&before, 1), 3);
	CHECK_EQ_U(relayed(&now, 0) - relayed(&before, 0), 0);
	CHECK_EQ_U(fwd_stats(a).pkts_tx, 1);
	CHECK_EQ_U(rev_stats(a).pkts_tx, 1);
	CHECK_EQ_U(fwd_stats(b).pkts_tx, 1);
	check_drops(&before, DROP_MAX, 0);
	uninstall(a);
	uninstall(b);
}

int main(int argc, char **argv)
{
	(void)argc;
	rig_conf_extra = rig6_conf;     /* IPv6 addresses besides the IPv4 ones */
	rig_start(argv[0], "twhand", 2);
	test_handoff();
	test_handoff6();
	return rig_finish("test_worker_handoff");
}
