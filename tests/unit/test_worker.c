/*
 * test_worker: the worker's packet path in one process, without privileges (worker_rig.h):
 * forward, reverse with the latch (and a client that moves), a wildcard listen, TTL, a rate
 * limit, validate_rtp, a port and a kernel interface that refuse packets. Packets in, packets
 * out: the output's bytes, the port it left by, and the flow's and the appliance's counters
 * (every drop under exactly one reason, received = sent + dropped on every flow).
 */
#include "worker_rig.h"

/* ---- the cases ---- */

static struct dp_sess *t_fwd;       /* 198.18.1.10:10000 -> 198.18.2.100:20000 */

static void test_forward(void)
{
	uint8_t pl[PLEN];
	struct rte_mbuf *o[4];
	rtp_payload(pl, PLEN, 0x1111, 1);
	struct dp_sess_spec sp = spec("198.18.1.10", 10000, 30000, "198.18.2.100", 20000);
	t_fwd = install(&sp);
	struct dp_stats before = totals();

	rx1(P0, udp_frame(client_mac, port_mac[0], ip("198.18.1.100"), ip("198.18.1.10"), 40000,
				10000, 64, pl, PLEN));
	CHECK_EQ_U(out(tx_ring[P1], o, 4), 1);
	check_frame(o[0], &(struct want){ dest_mac, port_mac[1], "198.18.2.10", "198.18.2.100",
			30000, 20000, 63, pl, PLEN });
	rte_pktmbuf_free(o[0]);
	check_quiet();
	struct dp_flow_read s = fwd_stats(t_fwd);
	CHECK_EQ_U(s.pkts_rx, 1);
	CHECK_EQ_U(s.pkts_tx, 1);
	CHECK_EQ_U(s.bytes_rx, PLEN);
	CHECK_EQ_U(s.bytes_tx, PLEN);
	CHECK_EQ_U(totals().worker[0].relayed - before.worker[0].relayed, 1);
	CHECK(s.has_rtp && s.lost == 0);
	check_drops(&before, DROP_MAX, 0);
}

static void test_reverse_latch(void)
{
	uint8_t pl[PLEN];
	struct rte_mbuf *o[4];
	rtp_payload(pl, PLEN, 0x2222, 1);
	struct dp_sess_spec sp = spec("198.18.1.10", 10002, 30002, "198.18.2.100", 20002);
	sp.bidirectional = true;
	struct dp_sess *f = install(&sp), *r = f;
	struct dp_stats before = totals();

	/* nobody latched yet: nobody to send it to */
	rx1(P1, udp_frame(dest_mac, port_mac[1], ip("198.18.2.100"), ip("198.18.2.10"), 20002,
				30002, 64, pl, PLEN));
	check_quiet();
	CHECK_EQ_U(rev_stats(r).dropped, 1);
	check_drops(&before, DROP_NO_FLOW, 1);
	before = totals();

	/* the client speaks (latched: address, port, MAC, the address it used), and is answered */
	rx1(P0, udp_frame(client_mac, port_mac[0], ip("198.18.1.100"), ip("198.18.1.10"), 40002,
				10002, 64, pl, PLEN));
	CHECK_EQ_U(out(tx_ring[P1], o, 4), 1);
	rte_pktmbuf_free(o[0]);
	rx1(P1, udp_frame(dest_mac, port_mac[1], ip("198.18.2.100"), ip("198.18.2.10"), 20002,
				30002, 64, pl, PLEN));
	CHECK_EQ_U(out(tx_ring[P0], o, 4), 1);
	check_frame(o[0], &(struct want){ client_mac, port_mac[0], "198.18.1.10", "198.18.1.100",
			10002, 40002, 63, pl, PLEN });
	rte_pktmbuf_free(o[0]);

	/* only the destination may send back */
	rx1(P1, udp_frame(dest_mac, port_mac[1], ip("198.18.2.101"), ip("198.18.2.10"), 20002,
				30002, 64, pl, PLEN));
	rx1(P1, udp_frame(dest_mac, port_mac[1], ip("198.18.2.100"), ip("198.18.2.10"), 20003,
				30002, 64, pl, PLEN));
	check_quiet();
	check_drops(&before, DROP_NOT_FROM_DESTINATION, 2);
	struct dp_flow_read rs = rev_stats(r);
	CHECK_EQ_U(rs.pkts_rx, 4);
	CHECK_EQ_U(rs.pkts_tx, 1);
	CHECK_EQ_U(rs.dropped, 3);

	/* the client moves (NAT rebinding, same SSRC) and the other way follows it */
	static const uint8_t moved_mac[6] = { 2, 0, 0, 0, 1, 2 };
	rtp_payload(pl, PLEN, 0x2222, 2);
	rx1(P0, udp_frame(moved_mac, port_mac[0], ip("198.18.1.101"), ip("198.18.1.10"), 40003,
				10002, 64, pl, PLEN));
	CHECK_EQ_U(out(tx_ring[P1], o, 4), 1);
	rte_pktmbuf_free(o[0]);
	rx1(P1, udp_frame(dest_mac, port_mac[1], ip("198.18.2.100"), ip("198.18.2.10"), 20002,
				30002, 64, pl, PLEN));
	CHECK_EQ_U(out(tx_ring[P0], o, 4), 1);
	check_frame(o[0], &(struct want){ moved_mac, port_mac[0], "198.18.1.10", "198.18.1.101",
			10002, 40003, 63, pl, PLEN });
	rte_pktmbuf_free(o[0]);
	CHECK_EQ_U(fwd_stats(f).pkts_tx, 2);
	CHECK_EQ_U(rev_stats(r).pkts_tx, 2);
	check_quiet();
	uninstall(f);
}

static void test_wildcard(void)
{
	uint8_t pl[PLEN];
	struct rte_mbuf *o[4];
	rtp_payload(pl, PLEN, 0x3333, 1);
	struct dp_sess_spec sp = spec(NULL, 10004, 30004, "198.18.2.100", 20004);
	struct dp_sess *f = install(&sp);
	struct dp_stats before = totals();

	/* any address of ours on that port */
	rx1(P0, udp_frame(client_mac, port_mac[0], ip("198.18.1.100"), ip("198.18.1.11"), 40004,
				10004, 64, pl, PLEN));
	CHECK_EQ_U(out(tx_ring[P1], o, 4), 1);
	check_frame(o[0], &(struct want){ dest_mac, port_mac[1], "198.18.2.10", "198.18.2.100",
			30004, 20004, 63, pl, PLEN });
	rte_pktmbuf_free(o[0]);
	CHECK_EQ_U(f->flow[DP_FLOW_RTP]->latch.local_ip, ip("198.18.1.11"));  /* the way back */
	/* not an address of ours: the kernel's, untouched */
	rx1(P0, udp_frame(client_mac, port_mac[0], ip("198.18.1.100"), ip("198.18.1.50"), 40004,
				10004, 64, pl, PLEN));
	CHECK_EQ_U(out(tx_ring[P1], o, 4), 0);
	CHECK_EQ_U(out(tap_ring[P0], o, 4), 1);
	CHECK_EQ_U(pkt_rd16(rte_pktmbuf_mtod(o[0], uint8_t *) + 36), 10004);
	rte_pktmbuf_free(o[0]);
	CHECK_EQ_U(totals().port[P0].exception - before.port[P0].exception, 1);
	CHECK_EQ_U(fwd_stats(f).pkts_rx, 1);
	check_drops(&before, DROP_MAX, 0);
	check_quiet();
	uninstall(f);
}

static void test_ttl(void)
{
	uint8_t pl[PLEN];
	struct rte_mbuf *o[4];
	rtp_payload(pl, PLEN, 0x4444, 1);
	struct dp_sess_spec sp = spec("198.18.1.10", 10006, 30006, "198.18.2.100", 20006);
	struct dp_sess *f = install(&sp);
	struct dp_stats before = totals();
	rx1(P0, udp_frame(client_mac, port_mac[0], ip("198.18.1.100"), ip("198.18.1.10"), 40006,
				10006, 1, pl, PLEN));
	rx1(P0, udp_frame(client_mac, port_mac[0], ip("198.18.1.100"), ip("198.18.1.10"), 40006,
				10006, 0, pl, PLEN));
	check_quiet();
	check_drops(&before, DROP_TTL_EXCEEDED, 2);
	rx1(P0, udp_frame(client_mac, port_mac[0], ip("198.18.1.100"), ip("198.18.1.10"), 40006,
				10006, 2, pl, PLEN));
	CHECK_EQ_U(out(tx_ring[P1], o, 4), 1);
	check_frame(o[0], &(struct want){ dest_mac, port_mac[1], "198.18.2.10", "198.18.2.100",
			30006, 20006, 1, pl, PLEN });
	rte_pktmbuf_free(o[0]);
	struct dp_flow_read s = fwd_stats(f);
	CHECK_EQ_U(s.pkts_rx, 3);
	CHECK_EQ_U(s.dropped, 2);
	uninstall(f);
}

static void test_rate_limit(void)
{
	uint8_t pl[PLEN];
	struct rte_mbuf *in[8], *o[16];
	struct dp_sess_spec sp = spec("198.18.1.10", 10008, 30008, "198.18.2.100", 20008);
	sp.rate_pps = 50;       /* a burst of 100 ms: 5 packets */
	struct dp_sess *f = install(&sp);
	struct dp_stats before = totals();
	for (unsigned i = 0; i < 8; i++) {
		rtp_payload(pl, PLEN, 0x5555, (uint16_t)i);
		in[i] = udp_frame(client_mac, port_mac[0], ip("198.18.1.100"), ip("198.18.1.10"),
				40008, 10008, 64, pl, PLEN);
	}
	rx(P0, in, 8);          /* one burst: one arrival time, no refill in between */
	CHECK_EQ_U(out(tx_ring[P1], o, 16), 5);
	rte_pktmbuf_free_bulk(o, 5);
	check_drops(&before, DROP_RATE_LIMIT, 3);
	struct dp_flow_read s = fwd_stats(f);
	CHECK_EQ_U(s.pkts_tx, 5);
	CHECK_EQ_U(s.dropped, 3);
	check_quiet();
	uninstall(f);
}

static void test_validate(void)
{
	uint8_t pl[PLEN];
	struct rte_mbuf *o[4];
	struct dp_sess_spec sp = spec("198.18.1.10", 10010, 30010, "198.18.2.100", 20010);
	sp.validate_rtp = true;
	struct dp_sess *f = install(&sp);
	struct dp_stats before = totals();
	const uint8_t junk[] = "not RTP at all";
	rx1(P0, udp_frame(client_mac, port_mac[0], ip("198.18.1.100"), ip("198.18.1.10"), 40010,
				10010, 64, junk, sizeof(junk)));
	check_quiet();
	check_drops(&before, DROP_INVALID_RTP, 1);
	rtp_payload(pl, PLEN, 0x6666, 1);
	rx1(P0, udp_frame(client_mac, port_mac[0], ip("198.18.1.100"), ip("198.18.1.10"), 40010,
				10010, 64, pl, PLEN));
	CHECK_EQ_U(out(tx_ring[P1], o, 4), 1);
	check_frame(o[0], &(struct want){ dest_mac, port_mac[1], "198.18.2.10", "198.18.2.100",
			30010, 20010, 63, pl, PLEN });
	rte_pktmbuf_free(o[0]);
	struct dp_flow_read s = fwd_stats(f);
	CHECK_EQ_U(s.pkts_rx, 2);
	CHECK_EQ_U(s.dropped, 1);
	CHECK_EQ_U(s.bytes_tx, PLEN);
	uninstall(f);
}


static void test_tx_refused(void)
{
	uint8_t pl[PLEN];
	struct rte_mbuf *in[2];
	struct dp_flow_read s0 = fwd_stats(t_fwd);
	struct dp_stats before = totals();
	fill_ring(tx_ring[P1], 0);
	for (unsigned i = 0; i < 2; i++) {
		rtp_payload(pl, PLEN, 0x1111, (uint16_t)(2 + i));
		in[i] = udp_frame(client_mac, port_mac[0], ip("198.18.1.100"), ip("198.18.1.10"),
				40000, 10000, 64, pl, PLEN);
	}
	rx(P0, in, 2);
	drain(tx_ring[P1]);
	struct dp_flow_read s = fwd_stats(t_fwd);
	CHECK_EQ_U(s.pkts_rx - s0.pkts_rx, 2);
	CHECK_EQ_U(s.pkts_tx - s0.pkts_tx, 0);
	CHECK_EQ_U(s.bytes_tx - s0.bytes_tx, 0);
	CHECK_EQ_U(s.dropped - s0.dropped, 2);
	struct dp_stats now = totals();
	CHECK_EQ_U(now.port[P1].tx_failed - before.port[P1].tx_failed, 2);
	check_drops(&before, DROP_TX_FULL, 2);
	check_quiet();
}

/* The kernel interface refuses an exception packet: a tx_full drop, no longer an exception. */
static void test_tap_refused(void)
{
	uint8_t pl[PLEN];
	rtp_payload(pl, PLEN, 0x3333, 2);
	struct dp_stats before = totals();
	fill_ring(tap_ring[P0], 0);
	rx1(P0, udp_frame(client_mac, port_mac[0], ip("198.18.1.100"), ip("198.18.1.50"), 40004,
				10004, 64, pl, PLEN));
	drain(tap_ring[P0]);
	CHECK_EQ_U(totals().port[P0].exception - before.port[P0].exception, 0);
	check_drops(&before, DROP_TX_FULL, 1);
	check_quiet();
}

int main(int argc, char **argv)
{
	(void)argc;
	rig_start(argv[0], "tworker", 1);
	test_forward();
	test_reverse_latch();
	test_wildcard();
	test_ttl();
	test_rate_limit();
	test_validate();
	test_tx_refused();
	test_tap_refused();
	uninstall(t_fwd);
	return rig_finish("test_worker");
}
