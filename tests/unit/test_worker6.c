/*
 * test_worker6: the worker's IPv6 packet path in one process, without privileges
 * (worker_rig.h, with IPv6 addresses on both ports): 6 -> 6, 4 -> 6 and 6 -> 4 in both
 * directions with bidirectional, RTCP on +1, an IPv6 client's latch (a client that moves,
 * strict_source), the IPv6 wildcard beside IPv4's, too_big, hop limit exceeded, validate_rtp,
 * a byte rate limit on IPv6 packets, and what goes to the kernel or is dropped before any
 * flow. Packets in, packets out: the output's bytes (checksums recomputed from scratch), the
 * port it left by, and the flow's and the appliance's counters.
 */
#include "worker_rig6.h"

/* The one packet a ring holds (the caller checks and frees it); NULL, a failed check, if not. */
static struct rte_mbuf *take1(struct rte_ring *r)
{
	struct rte_mbuf *o[4];
	unsigned n = out(r, o, 4);
	CHECK_EQ_U(n, 1);
	for (unsigned i = 1; i < n; i++)
		rte_pktmbuf_free(o[i]);
	return n ? o[0] : NULL;
}

/* ---- the cases ---- */

/* 6 -> 6: addresses, ports, hop limit - 1, traffic class and flow label kept, checksum. */
static void test_6to6(void)
{
	uint8_t pl[PLEN + 1];
	rtp_payload(pl, PLEN, 0x6161, 1);
	struct dp_sess_spec sp = spec6(LISTEN6, 12000, FWD6, 32000, DEST6, 22000);
	struct dp_sess *s = install(&sp);
	struct dp_stats before = totals();

	rx1(P0, udp6_frame(client_mac, port_mac[0], CLIENT6, LISTEN6, 41000, 12000, 64, 0xb8, pl,
				PLEN));
	struct rte_mbuf *o = take1(tx_ring[P1]);
	if (o != NULL) {
		check_frame6(o, &(struct want6){ dest_mac, port_mac[1], FWD6, DEST6, 32000, 22000,
				63, 0xb8, 0x12345, pl, PLEN });
		rte_pktmbuf_free(o);
	}
	/* an odd payload length */
	rtp_payload(pl, PLEN + 1, 0x6161, 2);
	rx1(P0, udp6_frame(client_mac, port_mac[0], CLIENT6, LISTEN6, 41000, 12000, 9, 0, pl,
				PLEN + 1));
	o = take1(tx_ring[P1]);
	if (o != NULL) {
		check_frame6(o, &(struct want6){ dest_mac, port_mac[1], FWD6, DEST6, 32000, 22000,
				8, 0, 0x12345, pl, PLEN + 1 });
		rte_pktmbuf_free(o);
	}
	check_quiet();
	struct dp_flow_read f = fwd_stats(s);
	CHECK_EQ_U(f.pkts_rx, 2);
	CHECK_EQ_U(f.pkts_tx, 2);
	CHECK_EQ_U(f.bytes_rx, 2 * PLEN + 1);
	CHECK_EQ_U(f.bytes_tx, 2 * PLEN + 1);
	CHECK(f.has_rtp && f.lost == 0);
	CHECK_EQ_U(totals().worker[0].relayed - before.worker[0].relayed, 2);
	check_drops(&before, DROP_MAX, 0);

	/* the latch holds the IPv6 client */
	struct dp_sess_read r;
	dp_sess_read(dp, s, &r);
	struct dp_addr c = addr_of(CLIENT6);
	CHECK(r.latch.latched && dp_addr_eq(&r.latch.addr, &c) && r.latch.port == 41000);

	/* hop limit 1: not relayed */
	before = totals();
	rx1(P0, udp6_frame(client_mac, port_mac[0], CLIENT6, LISTEN6, 41000, 12000, 1, 0, pl,
				PLEN));
	check_quiet();
	check_drops(&before, DROP_TTL_EXCEEDED, 1);
	CHECK_EQ_U(fwd_stats(s).dropped, 1);
	uninstall(s);
}

/* 6 -> 6 both ways with RTCP: the reverse flows accept only the destination and answer the
 * latched client, RTCP at the RTP latch's port + 1 until RTCP latches. */
static void test_6to6_bidir(void)
{
	uint8_t pl[PLEN];
	rtp_payload(pl, PLEN, 0x6262, 1);
	struct dp_sess_spec sp = spec6(LISTEN6, 12002, FWD6, 32002, DEST6, 22002);
	sp.bidirectional = true;
	sp.rtcp = true;
	struct dp_sess *s = install(&sp);
	struct dp_stats before = totals();

	/* nobody latched yet */
	rx1(P1, udp6_frame(dest_mac, port_mac[1], DEST6, FWD6, 22002, 32002, 64, 0, pl, PLEN));
	check_quiet();
	check_drops(&before, DROP_NO_FLOW, 1);
	before = totals();

	rx1(P0, udp6_frame(client_mac, port_mac[0], CLIENT6, LISTEN6, 41002, 12002, 64, 0, pl,
				PLEN));
	rte_pktmbuf_free(take1(tx_ring[P1]));
	rx1(P1, udp6_frame(dest_mac, port_mac[1], DEST6, FWD6, 22002, 32002, 64, 0x28, pl, PLEN));
	struct rte_mbuf *o = take1(tx_ring[P0]);
	if (o != NULL) {
		check_frame6(o, &(struct want6){ client_mac, port_mac[0], LISTEN6, CLIENT6, 12002,
				41002, 63, 0x28, 0x12345, pl, PLEN });
		rte_pktmbuf_free(o);
	}
	/* reverse RTCP: the RTP latch's port + 1 */
	rx1(P1, udp6_frame(dest_mac, port_mac[1], DEST6, FWD6, 22003, 32003, 64, 0, pl, PLEN));
	o = take1(tx_ring[P0]);
	if (o != NULL) {
		check_frame6(o, &(struct want6){ client_mac, port_mac[0], LISTEN6, CLIENT6, 12003,
				41003, 63, 0, 0x12345, pl, PLEN });
		rte_pktmbuf_free(o);
	}
	/* the client's RTCP (same SSRC) latches its own port; reverse RTCP follows */
	rx1(P0, udp6_frame(client_mac, port_mac[0], CLIENT6, LISTEN6, 41011, 12003, 64, 0, pl,
				PLEN));
	o = take1(tx_ring[P1]);
	if (o != NULL) {
		check_frame6(o, &(struct want6){ dest_mac, port_mac[1], FWD6, DEST6, 32003, 22003,
				63, 0, 0x12345, pl, PLEN });
		rte_pktmbuf_free(o);
	}
	rx1(P1, udp6_frame(dest_mac, port_mac[1], DEST6, FWD6, 22003, 32003, 64, 0, pl, PLEN));
	o = take1(tx_ring[P0]);
	if (o != NULL) {
		check_frame6(o, &(struct want6){ client_mac, port_mac[0], LISTEN6, CLIENT6, 12003,
				41011, 63, 0, 0x12345, pl, PLEN });
		rte_pktmbuf_free(o);
	}
	/* only the destination may send back: another address, another port */
	rx1(P1, udp6_frame(dest_mac, port_mac[1], "2001:db8:2::101", FWD6, 22002, 32002, 64, 0,
				pl, PLEN));
	rx1(P1, udp6_frame(dest_mac, port_mac[1], DEST6, FWD6, 22004, 32002, 64, 0, pl, PLEN));
	check_quiet();
	check_drops(&before, DROP_NOT_FROM_DESTINATION, 2);
	struct dp_flow_read rs = rev_stats(s);
	CHECK_EQ_U(rs.pkts_rx, 4);
	CHECK_EQ_U(rs.pkts_tx, 1);
	CHECK_EQ_U(rs.dropped, 3);
	struct dp_flow_read rc = flow_counters(s, DP_FLOW_REV_RTCP);
	CHECK_EQ_U(rc.pkts_rx, 2);
	CHECK_EQ_U(rc.pkts_tx, 2);
	struct dp_flow_read fc = flow_counters(s, DP_FLOW_RTCP);
	CHECK_EQ_U(fc.pkts_tx, 1);
	uninstall(s);
}

/* IPv4 client, IPv6 destination: 4 -> 6 forward (ToS -> traffic class, TTL - 1 -> hop limit,
 * the UDP checksum moved or, when IPv4 sent none, computed), 6 -> 4 back. */
static void test_4to6(void)
{
	uint8_t pl[PLEN + 1];
	rtp_payload(pl, PLEN + 1, 0x4646, 1);
	struct dp_sess_spec sp = spec6("198.18.1.10", 12004, FWD6, 32004, DEST6, 22004);
	sp.bidirectional = true;
	struct dp_sess *s = install(&sp);
	struct dp_stats before = totals();

	rx1(P0, udp4_tos("198.18.1.100", "198.18.1.10", 41004, 12004, 64, 0xb8, pl, PLEN));
	struct rte_mbuf *o = take1(tx_ring[P1]);
	if (o != NULL) {
		check_frame6(o, &(struct want6){ dest_mac, port_mac[1], FWD6, DEST6, 32004, 22004,
				63, 0xb8, 0, pl, PLEN });
		rte_pktmbuf_free(o);
	}
	/* no UDP checksum in IPv4 (and an odd length): computed whole */
	struct rte_mbuf *m = udp4_tos("198.18.1.100", "198.18.1.10", 41004, 12004, 7, 0, pl,
			PLEN + 1);
	memset(rte_pktmbuf_mtod_offset(m, uint8_t *, 14 + 20 + 6), 0, 2);
	rx1(P0, m);
	o = take1(tx_ring[P1]);
	if (o != NULL) {
		check_frame6(o, &(struct want6){ dest_mac, port_mac[1], FWD6, DEST6, 32004, 22004,
				6, 0, 0, pl, PLEN + 1 });
		rte_pktmbuf_free(o);
	}
	/* back: 6 -> 4 to the latched IPv4 client */
	rx1(P1, udp6_frame(dest_mac, port_mac[1], DEST6, FWD6, 22004, 32004, 64, 0x28, pl, PLEN));
	o = take1(tx_ring[P0]);
	if (o != NULL) {
		check_frame(o, &(struct want){ client_mac, port_mac[0], "198.18.1.10", "198.18.1.100",
				12004, 41004, 63, pl, PLEN });
		check_v4_from6(o, 0x28);
		rte_pktmbuf_free(o);
	}
	check_quiet();
	struct dp_flow_read f = fwd_stats(s), r = rev_stats(s);
	CHECK_EQ_U(f.pkts_tx, 2);
	CHECK_EQ_U(f.bytes_tx, 2 * PLEN + 1);
	CHECK_EQ_U(r.pkts_tx, 1);
	CHECK_EQ_U(r.bytes_tx, PLEN);
	check_drops(&before, DROP_MAX, 0);

	/* a wrong IPv4 UDP checksum would be a wrong IPv6 one: malformed, on the flow too */
	m = udp4_tos("198.18.1.100", "198.18.1.10", 41004, 12004, 64, 0, pl, PLEN);
	rte_pktmbuf_mtod_offset(m, uint8_t *, 14 + 20 + 8)[3] ^= 0x10;
	rx1(P0, m);
	check_quiet();
	check_drops(&before, DROP_MALFORMED, 1);
	CHECK_EQ_U(fwd_stats(s).dropped, 1);
	before = totals();

	/* TTL 1 and hop limit 1 stop both ways */
	rx1(P0, udp4_tos("198.18.1.100", "198.18.1.10", 41004, 12004, 1, 0, pl, PLEN));
	rx1(P1, udp6_frame(dest_mac, port_mac[1], DEST6, FWD6, 22004, 32004, 1, 0, pl, PLEN));
	check_quiet();
	check_drops(&before, DROP_TTL_EXCEEDED, 2);
	uninstall(s);
}

/* IPv6 client, IPv4 destination: 6 -> 4 forward, 4 -> 6 back. */
static void test_6to4(void)
{
	uint8_t pl[PLEN];
	rtp_payload(pl, PLEN, 0x6464, 1);
	struct dp_sess_spec sp = spec6(LISTEN6, 12006, "198.18.2.10", 32006, "198.18.2.100",
			22006);
	sp.bidirectional = true;
	struct dp_sess *s = install(&sp);
	struct dp_stats before = totals();

	rx1(P0, udp6_frame(client_mac, port_mac[0], CLIENT6, LISTEN6, 41006, 12006, 64, 0xb8, pl,
				PLEN));
	struct rte_mbuf *o = take1(tx_ring[P1]);
	if (o != NULL) {
		check_frame(o, &(struct want){ dest_mac, port_mac[1], "198.18.2.10", "198.18.2.100",
				32006, 22006, 63, pl, PLEN });
		check_v4_from6(o, 0xb8);
		rte_pktmbuf_free(o);
	}
	struct rte_mbuf *m = udp_frame(dest_mac, port_mac[1], ip("198.18.2.100"),
			ip("198.18.2.10"), 22006, 32006, 64, pl, PLEN);
	rx1(P1, m);
	o = take1(tx_ring[P0]);
	if (o != NULL) {
		check_frame6(o, &(struct want6){ client_mac, port_mac[0], LISTEN6, CLIENT6, 12006,
				41006, 63, 0, 0, pl, PLEN });
		rte_pktmbuf_free(o);
	}
	check_quiet();
	CHECK_EQ_U(fwd_stats(s).pkts_tx, 1);
	CHECK_EQ_U(rev_stats(s).pkts_tx, 1);
	check_drops(&before, DROP_MAX, 0);
	uninstall(s);
}

/* An IPv6 client moves (NAT rebinding, same SSRC): the latch follows it and replies go to its
 * new address; with strict_source a stranger's packets are dropped. */
static void test_latch6(void)
{
	uint8_t pl[PLEN], other[PLEN];
	rtp_payload(pl, PLEN, 0x5555, 1);
	rtp_payload(other, PLEN, 0x6666, 1);
	struct dp_sess_spec sp = spec6(LISTEN6, 12008, FWD6, 32008, DEST6, 22008);
	sp.bidirectional = true;
	sp.strict_source = true;
	struct dp_sess *s = install(&sp);
	struct dp_stats before = totals();
	struct dp_sess_read r;

	rx1(P0, udp6_frame(client_mac, port_mac[0], CLIENT6, LISTEN6, 41008, 12008, 64, 0, pl,
				PLEN));
	rte_pktmbuf_free(take1(tx_ring[P1]));
	dp_sess_read(dp, s, &r);
	uint32_t gen = r.latch.gen;
	/* a stranger with another SSRC */
	rx1(P0, udp6_frame(client_mac, port_mac[0], "2001:db8:1::200", LISTEN6, 41008, 12008, 64,
				0, other, PLEN));
	check_quiet();
	check_drops(&before, DROP_NOT_FROM_CLIENT, 1);
	dp_sess_read(dp, s, &r);
	CHECK_EQ_U(r.latch.gen, gen);
	/* the client from a new address and port */
	rx1(P0, udp6_frame(client_mac, port_mac[0], "2001:db8:1::101", LISTEN6, 42008, 12008, 64,
				0, pl, PLEN));
	rte_pktmbuf_free(take1(tx_ring[P1]));
	dp_sess_read(dp, s, &r);
	struct dp_addr moved = addr_of("2001:db8:1::101");
	CHECK(r.latch.latched && dp_addr_eq(&r.latch.addr, &moved) && r.latch.port == 42008);
	CHECK(r.latch.gen != gen);
	rx1(P1, udp6_frame(dest_mac, port_mac[1], DEST6, FWD6, 22008, 32008, 64, 0, pl, PLEN));
	struct rte_mbuf *o = take1(tx_ring[P0]);
	if (o != NULL) {
		check_frame6(o, &(struct want6){ client_mac, port_mac[0], LISTEN6, "2001:db8:1::101",
				12008, 42008, 63, 0, 0x12345, pl, PLEN });
		rte_pktmbuf_free(o);
	}
	check_quiet();
	struct dp_flow_read f = fwd_stats(s);
	CHECK_EQ_U(f.pkts_rx, 3);
	CHECK_EQ_U(f.dropped, 1);
	uninstall(s);
}

/* 4 -> 6 grows a packet by 20 bytes: one that then exceeds the egress MTU (1500) is too_big. */
static void test_too_big(void)
{
	static uint8_t pl[1500];
	rtp_payload(pl, sizeof(pl), 0x7777, 1);
	struct dp_sess_spec sp = spec6("198.18.1.10", 12010, FWD6, 32010, DEST6, 22010);
	struct dp_sess *s = install(&sp);
	struct dp_stats before = totals();

	/* exactly 1500 bytes of IPv6: sent */
	rx1(P0, udp4_tos("198.18.1.100", "198.18.1.10", 41010, 12010, 64, 0, pl, 1452));
	struct rte_mbuf *o = take1(tx_ring[P1]);
	if (o != NULL) {
		check_frame6(o, &(struct want6){ dest_mac, port_mac[1], FWD6, DEST6, 32010, 22010,
				63, 0, 0, pl, 1452 });
		rte_pktmbuf_free(o);
	}
	/* one more */
	rx1(P0, udp4_tos("198.18.1.100", "198.18.1.10", 41010, 12010, 64, 0, pl, 1453));
	check_quiet();
	check_drops(&before, DROP_TOO_BIG, 1);
	struct dp_flow_read f = fwd_stats(s);
	CHECK_EQ_U(f.pkts_rx, 2);
	CHECK_EQ_U(f.pkts_tx, 1);
	CHECK_EQ_U(f.dropped, 1);
	uninstall(s);
}

/* `::` and 0.0.0.0 listen on the same port without conflict, each for its own family. */
static void test_wildcards(void)
{
	uint8_t pl[PLEN];
	rtp_payload(pl, PLEN, 0x8888, 1);
	struct dp_sess_spec s6 = spec6("::", 12012, FWD6, 32012, DEST6, 22012);
	struct dp_sess_spec s4 = spec6("0.0.0.0", 12012, "198.18.2.10", 32014, "198.18.2.100",
			22014);
	struct dp_sess *a = install(&s6), *b = install(&s4);
	struct dp_stats before = totals();

	rx1(P0, udp6_frame(client_mac, port_mac[0], CLIENT6, "2001:db8:1::11", 41012, 12012, 64,
				0, pl, PLEN));
	struct rte_mbuf *o = take1(tx_ring[P1]);
	if (o != NULL) {
		check_frame6(o, &(struct want6){ dest_mac, port_mac[1], FWD6, DEST6, 32012, 22012,
				63, 0, 0x12345, pl, PLEN });
		rte_pktmbuf_free(o);
	}
	rx1(P0, udp_frame(client_mac, port_mac[0], ip("198.18.1.100"), ip("198.18.1.11"), 41012,
				12012, 64, pl, PLEN));
	o = take1(tx_ring[P1]);
	if (o != NULL) {
		check_frame(o, &(struct want){ dest_mac, port_mac[1], "198.18.2.10", "198.18.2.100",
				32014, 22014, 63, pl, PLEN });
		rte_pktmbuf_free(o);
	}
	/* not an address of ours: not the wildcard's, the kernel's to judge */
	rx1(P0, udp6_frame(client_mac, port_mac[0], CLIENT6, "2001:db8:1::99", 41012, 12012, 64,
				0, pl, PLEN));
	CHECK_EQ_U(out(tap_ring[P0], &o, 1), 1);
	rte_pktmbuf_free(o);
	check_quiet();
	CHECK_EQ_U(fwd_stats(a).pkts_tx, 1);
	CHECK_EQ_U(fwd_stats(b).pkts_tx, 1);
	check_drops(&before, DROP_MAX, 0);
	uninstall(a);
	uninstall(b);
}

/* Before any flow: ICMPv6 echo, extension headers and fragments go to the kernel (fragments
 * counted), UDP to an owned address nobody listens on is no_flow, a zero or wrong checksum is
 * malformed; validate_rtp holds for IPv6 too. */
static void test_exceptions6(void)
{
	uint8_t pl[PLEN];
	struct rte_mbuf *o;
	rtp_payload(pl, PLEN, 0x9999, 1);
	struct dp_stats before = totals();

	struct rte_mbuf *m = udp6_frame(client_mac, port_mac[0], CLIENT6, LISTEN6, 41014, 12014,
			64, 0, pl, PLEN);
	uint8_t *ip6 = rte_pktmbuf_mtod_offset(m, uint8_t *, 14);
	ip6[6] = 58;            /* ICMPv6 echo request */
	ip6[40] = 128;
	rx1(P0, m);
	m = udp6_frame(client_mac, port_mac[0], CLIENT6, LISTEN6, 41014, 12014, 64, 0, pl, PLEN);
	rte_pktmbuf_mtod_offset(m, uint8_t *, 14)[6] = 0;       /* hop-by-hop options */
	rx1(P0, m);
	CHECK_EQ_U(out(tap_ring[P0], &o, 1), 1);
	rte_pktmbuf_free(o);
	CHECK_EQ_U(out(tap_ring[P0], &o, 1), 1);
	rte_pktmbuf_free(o);
	check_drops(&before, DROP_MAX, 0);
	CHECK_EQ_U(totals().port[P0].exception - before.port[P0].exception, 2);

	m = udp6_frame(client_mac, port_mac[0], CLIENT6, LISTEN6, 41014, 12014, 64, 0, pl, PLEN);
	rte_pktmbuf_mtod_offset(m, uint8_t *, 14)[6] = 44;      /* a fragment header */
	rx1(P0, m);
	CHECK_EQ_U(out(tap_ring[P0], &o, 1), 1);
	rte_pktmbuf_free(o);
	check_drops(&before, DROP_FRAGMENT, 1);

	before = totals();
	rx1(P0, udp6_frame(client_mac, port_mac[0], CLIENT6, LISTEN6, 41014, 12014, 64, 0, pl,
				PLEN));
	check_quiet();
	check_drops(&before, DROP_NO_FLOW, 1);

	before = totals();
	m = udp6_frame(client_mac, port_mac[0], CLIENT6, LISTEN6, 41014, 12014, 64, 0, pl, PLEN);
	memset(rte_pktmbuf_mtod_offset(m, uint8_t *, 14 + 40 + 6), 0, 2);
	rx1(P0, m);
	m = udp6_frame(client_mac, port_mac[0], CLIENT6, LISTEN6, 41014, 12014, 64, 0, pl, PLEN);
	rte_pktmbuf_mtod_offset(m, uint8_t *, 14 + 40 + 8)[5] ^= 1;
	rx1(P0, m);
	check_quiet();
	check_drops(&before, DROP_MALFORMED, 2);

	/* validate_rtp: a payload that is not RTP */
	struct dp_sess_spec sp = spec6(LISTEN6, 12016, FWD6, 32016, DEST6, 22016);
	sp.validate_rtp = true;
	struct dp_sess *s = install(&sp);
	before = totals();
	uint8_t junk[PLEN];
	memset(junk, 0x11, sizeof(junk));
	rx1(P0, udp6_frame(client_mac, port_mac[0], CLIENT6, LISTEN6, 41016, 12016, 64, 0, junk,
				PLEN));
	rx1(P0, udp6_frame(client_mac, port_mac[0], CLIENT6, LISTEN6, 41016, 12016, 64, 0, pl,
				PLEN));
	rte_pktmbuf_free(take1(tx_ring[P1]));
	check_quiet();
	check_drops(&before, DROP_INVALID_RTP, 1);
	struct dp_flow_read f = fwd_stats(s);
	CHECK_EQ_U(f.pkts_rx, 2);
	CHECK_EQ_U(f.pkts_tx, 1);
	uninstall(s);
}

/* rate_bps counts IPv6 packets' bytes (40-byte header + UDP): a burst of 100 ms of 176 kbit/s
 * is 2200 bytes, ten 220-byte packets (eleven, were they counted as IPv4's). */
static void test_rate_limit6(void)
{
	uint8_t pl[PLEN];
	struct rte_mbuf *in[12], *o[16];
	struct dp_sess_spec sp = spec6(LISTEN6, 12022, FWD6, 32022, DEST6, 22022);
	sp.rate_bps = 176000;
	struct dp_sess *s = install(&sp);
	struct dp_stats before = totals();
	for (unsigned i = 0; i < 12; i++) {
		rtp_payload(pl, PLEN, 0x7070, (uint16_t)i);
		in[i] = udp6_frame(client_mac, port_mac[0], CLIENT6, LISTEN6, 41022, 12022, 64, 0,
				pl, PLEN);
	}
	rx(P0, in, 12);         /* one burst: one arrival time, no refill in between */
	CHECK_EQ_U(out(tx_ring[P1], o, 16), 10);
	rte_pktmbuf_free_bulk(o, 10);
	check_drops(&before, DROP_RATE_LIMIT, 2);
	struct dp_flow_read f = fwd_stats(s);
	CHECK_EQ_U(f.pkts_tx, 10);
	CHECK_EQ_U(f.dropped, 2);
	check_quiet();
	uninstall(s);
}

/* What dp_sess_install refuses across families and for addresses that are not ours. */
static void test_install_errors(void)
{
	struct dp_sess *s = NULL;
	char msg[256];
	struct dp_sess_spec sp = spec6(LISTEN6, 12018, "198.18.2.10", 32018, DEST6, 22018);
	CHECK_EQ_U(dp_sess_install(dp, &sp, &s, msg, sizeof(msg)), DP_SESS_NO_ROUTE);
	CHECK(strstr(msg, "destination_endpoint.address") != NULL);
	sp = spec6("2001:db8:1::77", 12018, FWD6, 32018, DEST6, 22018);
	CHECK_EQ_U(dp_sess_install(dp, &sp, &s, msg, sizeof(msg)), DP_SESS_NOT_OURS);
	CHECK(strstr(msg, "listen_endpoint.address: 2001:db8:1::77") != NULL);
	sp = spec6(LISTEN6, 12018, "2001:db8:2::77", 32018, DEST6, 22018);
	CHECK_EQ_U(dp_sess_install(dp, &sp, &s, msg, sizeof(msg)), DP_SESS_NOT_OURS);
	CHECK(strstr(msg, "forward_endpoint.address: 2001:db8:2::77") != NULL);
	/* the forward endpoint receives for one session at a time */
	sp = spec6(LISTEN6, 12018, FWD6, 32018, DEST6, 22018);
	sp.bidirectional = true;
	struct dp_sess *a = install(&sp);
	sp.listen_port = 12020;
	CHECK_EQ_U(dp_sess_install(dp, &sp, &s, msg, sizeof(msg)), DP_SESS_IN_USE);
	CHECK(strstr(msg, "[2001:db8:2::10]:32018") != NULL);
	uninstall(a);
}

int main(int argc, char **argv)
{
	(void)argc;
	rig_conf_extra = rig6_conf;
	rig_start(argv[0], "tworker6", 1);
	test_6to6();
	test_6to6_bidir();
	test_4to6();
	test_6to4();
	test_latch6();
	test_too_big();
	test_wildcards();
	test_exceptions6();
	test_rate_limit6();
	test_install_errors();
	return rig_finish("test_worker6");
}
