/*
 * test_worker_standby: a hot standby's data plane (dp_role.c, worker_rig.h). Passive: a
 * session's flows are installed, but what arrives is relayed to nobody, counted nowhere, and
 * nothing reaches or leaves the kernel interfaces; ARP requests for our addresses get no
 * answer; next hops are resolved with probes (sender 0.0.0.0) whose answers are learnt.
 * Taking over: dp_set_active, then gratuitous ARP for every address of every port (three
 * rounds), and the same session relays.
 */
#include "worker_rig.h"

static const uint8_t peer_mac[6] = { 2, 0, 0, 0, 2, 0xca };

/* The port a worker takes this iteration's rx burst from, as worker_main does: passive
 * workers go through worker_passive_burst. */
static void rx_as_loop(uint16_t port, struct rte_mbuf **pkts, uint16_t n)
{
	uint64_t now = rte_rdtsc();
	rte_rcu_qsbr_thread_online(dp->qsv, 0);
	if (!dp_is_active(dp))
		worker_passive_burst(w, port, pkts, n);
	else
		worker_handle_burst(w, port, pkts, n, now);
	worker_poll_ctl(w);
	worker_end_iteration(w, now);
	rte_rcu_qsbr_thread_offline(dp->qsv, 0);
}

static struct rte_mbuf *arp_frame(uint16_t port, uint16_t op, const uint8_t sha[6],
		const char *sip, const uint8_t dmac[6], const char *tip)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(pool);
	uint8_t *f = m ? (uint8_t *)rte_pktmbuf_append(m, 60) : NULL;
	if (f == NULL)
		exit(1);
	uint32_t s = ip(sip), t = ip(tip);
	m->port = dp->port[port].eth_id;
	memset(f, 0, 60);
	memcpy(f, dmac, 6);
	memcpy(f + 6, sha, 6);
	put16(f + 12, 0x0806);
	put16(f + 14, 1);
	put16(f + 16, 0x0800);
	f[18] = 6;
	f[19] = 4;
	put16(f + 20, op);
	memcpy(f + 22, sha, 6);
	memcpy(f + 28, &s, 4);
	memcpy(f + 38, &t, 4);
	return m;
}

static const uint8_t bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };

/* The gratuitous ARPs among n frames from port p: sender = target = one of addrs. */
static unsigned garps(uint16_t p, struct rte_mbuf **o, unsigned n, const char *const *addrs,
		unsigned n_addrs)
{
	unsigned seen = 0;
	for (unsigned i = 0; i < n; i++) {
		const uint8_t *f = rte_pktmbuf_mtod(o[i], const uint8_t *);
		CHECK(memcmp(f, bcast, 6) == 0);
		CHECK(memcmp(f + 6, port_mac[p], 6) == 0);
		CHECK_EQ_U(pkt_rd16(f + 12), 0x0806);
		CHECK_EQ_U(pkt_rd16(f + 20), 1);
		CHECK(memcmp(f + 22, port_mac[p], 6) == 0);
		CHECK(memcmp(f + 28, f + 38, 4) == 0);
		for (unsigned a = 0; a < n_addrs; a++) {
			uint32_t x = ip(addrs[a]);
			seen += memcmp(f + 28, &x, 4) == 0;
		}
	}
	rte_pktmbuf_free_bulk(o, n);
	return seen;
}

int main(int argc, char **argv)
{
	(void)argc;
	rig_start(argv[0], "tws", 1);
	uint8_t pl[PLEN];
	struct rte_mbuf *o[16];

	CHECK(dp_is_active(dp));
	dp_set_active(dp, false);
	CHECK(!dp_is_active(dp));
	CHECK_EQ_U(dp_announce(dp), 0);         /* a standby attracts nothing */
	ctl_turn();
	check_quiet();

	/* ready: installed while passive, with its next hop (static) known */
	struct dp_sess_spec sp = spec("198.18.1.10", 20000, 30000, "198.18.2.100", 40000);
	sp.bidirectional = true;
	struct dp_sess *s = install(&sp);
	struct dp_stats before = totals();
	rtp_payload(pl, PLEN, 0x1234, 1);
	struct rte_mbuf *m = udp_frame(client_mac, port_mac[0], ip("198.18.1.100"),
			ip("198.18.1.10"), 40000, 20000, 64, pl, PLEN);
	rx_as_loop(P0, &m, 1);
	check_quiet();
	CHECK_EQ_U(fwd_stats(s).pkts_rx, 0);
	struct dp_sess_read r;
	dp_sess_read(dp, s, &r);
	CHECK(!r.latch.latched);
	check_drops(&before, DROP_MAX, 0);
	CHECK_EQ_U(totals().worker[0].relayed, 0);

	/* an ARP request for our address: learnt from, not answered, not to the kernel */
	m = arp_frame(P0, 1, client_mac, "198.18.1.100", bcast, "198.18.1.10");
	rx_as_loop(P0, &m, 1);
	slowpath_poll(dp, dp_now_ms());
	ctl_turn();
	check_quiet();

	/* the kernel's own frames stay in: drained, not sent */
	struct rte_ring *tap_rx = rte_ring_lookup("tw_tap0_rx0");
	CHECK(tap_rx != NULL);
	m = arp_frame(P0, 1, port_mac[0], "198.18.1.10", bcast, "198.18.1.100");
	CHECK(rte_ring_enqueue(tap_rx, m) == 0);
	CHECK_EQ_U(worker_passive_taps(w), 1);
	ctl_turn();
	check_quiet();

	/* a next hop to resolve: probed from 0.0.0.0; the answer (target 0.0.0.0) is learnt */
	struct dp_sess_spec sp2 = spec("198.18.1.10", 20002, 30002, "198.18.2.202", 40002);
	struct dp_sess *s2 = install(&sp2);
	ctl_turn();
	unsigned n = out(tx_ring[P1], o, 16);
	CHECK_EQ_U(n, 1);
	if (n == 1) {
		const uint8_t *f = rte_pktmbuf_mtod(o[0], const uint8_t *);
		uint32_t zero = 0, t = ip("198.18.2.202");
		CHECK_EQ_U(pkt_rd16(f + 20), 1);
		CHECK(memcmp(f + 28, &zero, 4) == 0);
		CHECK(memcmp(f + 38, &t, 4) == 0);
		rte_pktmbuf_free_bulk(o, n);
	}
	m = arp_frame(P1, 2, peer_mac, "198.18.2.202", port_mac[1], "0.0.0.0");
	rx_as_loop(P1, &m, 1);
	slowpath_poll(dp, dp_now_ms());
	ctl_turn();
	check_quiet();
	struct dp_sess_status st;
	dp_sess_status(dp, s2, &st);
	CHECK(!st.next_hop_failed);
	uint8_t mac[6];
	CHECK(neigh_mac_get(dp->neigh, s2->neigh, mac) && memcmp(mac, peer_mac, 6) == 0);

	/* take-over: every address of every port announced, three rounds, then relaying */
	dp_set_active(dp, true);
	CHECK(dp_is_active(dp));
	const char *a0[] = { "198.18.1.10", "198.18.1.11" }, *a1[] = { "198.18.2.10" };
	CHECK_EQ_U(dp_announce(dp), 3);
	ctl_turn();
	CHECK_EQ_U(garps(P0, o, out(tx_ring[P0], o, 16), a0, 2), 2);
	CHECK_EQ_U(garps(P1, o, out(tx_ring[P1], o, 16), a1, 1), 1);
	for (unsigned round = 2; round <= 3; round++) {
		dp_announce_poll(dp, dp->announce_next_ms);
		ctl_turn();
		CHECK_EQ_U(garps(P0, o, out(tx_ring[P0], o, 16), a0, 2), 2);
		CHECK_EQ_U(garps(P1, o, out(tx_ring[P1], o, 16), a1, 1), 1);
	}
	CHECK_EQ_U(dp->announce_left, 0);
	check_quiet();

	m = udp_frame(client_mac, port_mac[0], ip("198.18.1.100"), ip("198.18.1.10"), 40000,
			20000, 64, pl, PLEN);
	rx_as_loop(P0, &m, 1);
	n = out(tx_ring[P1], o, 16);
	CHECK_EQ_U(n, 1);
	if (n == 1) {
		check_frame(o[0], &(struct want){ .dmac = dest_mac, .smac = port_mac[1],
				.sip = "198.18.2.10", .dip = "198.18.2.100", .sport = 30000,
				.dport = 40000, .ttl = 63, .pl = pl, .plen = PLEN });
		rte_pktmbuf_free_bulk(o, n);
	}
	CHECK_EQ_U(fwd_stats(s).pkts_tx, 1);

	/* and back to passive (a returning peer with a newer epoch): relays nothing again */
	dp_set_active(dp, false);
	m = udp_frame(client_mac, port_mac[0], ip("198.18.1.100"), ip("198.18.1.10"), 40000,
			20000, 64, pl, PLEN);
	rx_as_loop(P0, &m, 1);
	check_quiet();
	CHECK_EQ_U(fwd_stats(s).pkts_rx, 1);

	uninstall(s);
	uninstall(s2);
	return rig_finish("worker_standby");
}
