/*
 * test_worker_held6: IPv6 next hops resolved with neighbour discovery, packet in / packet
 * out (worker_rig.h with IPv6 addresses on both ports, no root): the NS a session's install
 * sends, packets held meanwhile (counted as sent), the NA that comes back through the worker
 * releasing them with its MAC (and going on to the kernel); a next hop that never answers
 * (no_neighbor, moved from sent to dropped); an off-link destination through a link-local
 * gateway6; no gateway6: no route; a neighbour's NS for our address reaching the kernel only;
 * a hot standby's NDP (probes from ::, nothing to its kernel) and its take-over's NAs.
 */
#include "worker_rig.h"
#include "ndp.h"

#define CLIENT6 "2001:db8:1::100"
#define LISTEN6 "2001:db8:1::10"
#define FWD6 "2001:db8:2::10"
#define GW6 "fe80::1"

static const uint8_t late_mac[6] = { 2, 0, 0, 0, 2, 0xc9 };    /* answers NDP */
static const uint8_t gw_mac[6] = { 2, 0, 0, 0, 2, 0xfe };

static void a6(const char *s, uint8_t out[16])
{
	if (inet_pton(AF_INET6, s, out) != 1) {
		fprintf(stderr, "bad IPv6 literal %s\n", s);
		exit(1);
	}
}

static struct dp_addr addr_of(const char *s)
{
	struct dp_addr a;
	if (dp_addr_parse(s, &a) != 0) {
		fprintf(stderr, "bad address %s\n", s);
		exit(1);
	}
	return a;
}

/* Port 0: 2001:db8:1::10/64; port 1: 2001:db8:2::10/64 with gateway6 fe80::1 (no static
 * IPv6 neighbour: everything is resolved with NDP). */
static void conf6(struct dp_conf *c)
{
	struct dp_port_conf *p0 = &c->port[P0], *p1 = &c->port[P1];
	p0->addrs[p0->n_addrs++] = (struct dp_prefix){ addr_of(LISTEN6), 64 };
	p1->addrs[p1->n_addrs++] = (struct dp_prefix){ addr_of(FWD6), 64 };
	p1->gateway6 = addr_of(GW6);
}

/* The ICMPv6 / UDP checksum's sum over the IPv6 pseudo-header and `len` bytes at l4. */
static uint16_t sum6(const uint8_t *ip6, const uint8_t *l4, unsigned len, uint8_t proto)
{
	return fold(sum16(l4, len, sum16(ip6 + 8, 32, 0) + len + proto));
}

/* An Ethernet/IPv6/UDP frame from the client to the listen address, checksum right. */
static struct rte_mbuf *udp6_in(uint16_t sport, uint16_t dport, const uint8_t *pl, uint16_t plen)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(pool);
	uint16_t len = (uint16_t)(14 + 40 + 8 + plen);
	uint8_t *f = m ? (uint8_t *)rte_pktmbuf_append(m, len) : NULL;
	if (f == NULL) {
		fprintf(stderr, "out of mbufs\n");
		exit(1);
	}
	memset(f, 0, len);
	memcpy(f, port_mac[0], 6);
	memcpy(f + 6, client_mac, 6);
	put16(f + 12, 0x86dd);
	uint8_t *ip6 = f + 14, *udp = ip6 + 40;
	ip6[0] = 0x60;
	put16(ip6 + 4, (uint16_t)(8 + plen));
	ip6[6] = 17;
	ip6[7] = 64;
	a6(CLIENT6, ip6 + 8);
	a6(LISTEN6, ip6 + 24);
	put16(udp, sport);
	put16(udp + 2, dport);
	put16(udp + 4, (uint16_t)(8 + plen));
	memcpy(udp + 8, pl, plen);
	uint16_t ck = (uint16_t)~sum6(ip6, udp, 8u + plen, 17);
	put16(udp + 6, ck ? ck : 0xffff);
	return m;
}

/* A relayed frame: to `dmac` from port 1, IPv6 FWD6 -> dst, hop limit 63, the payload, the
 * UDP checksum right (summed here). */
static void check_out6(const struct rte_mbuf *m, const uint8_t dmac[6], const char *dst,
		uint16_t sport, uint16_t dport, const uint8_t *pl, uint16_t plen)
{
	const uint8_t *f = rte_pktmbuf_mtod(m, const uint8_t *);
	const uint8_t *ip6 = f + 14, *udp = ip6 + 40;
	uint8_t s[16], d[16];
	a6(FWD6, s);
	a6(dst, d);
	CHECK_EQ_U(m->data_len, 14u + 40 + 8 + plen);
	CHECK(memcmp(f, dmac, 6) == 0);
	CHECK(memcmp(f + 6, port_mac[1], 6) == 0);
	CHECK_EQ_U(pkt_rd16(f + 12), 0x86dd);
	CHECK_EQ_U(ip6[0] >> 4, 6);
	CHECK_EQ_U(pkt_rd16(ip6 + 4), 8u + plen);
	CHECK_EQ_U(ip6[6], 17);
	CHECK_EQ_U(ip6[7], 63);
	CHECK(memcmp(ip6 + 8, s, 16) == 0);
	CHECK(memcmp(ip6 + 24, d, 16) == 0);
	CHECK_EQ_U(pkt_rd16(udp), sport);
	CHECK_EQ_U(pkt_rd16(udp + 2), dport);
	CHECK(memcmp(udp + 8, pl, plen) == 0);
	CHECK_EQ_U(sum6(ip6, udp, 8u + plen, 17), 0xffff);
}

/* The NSs for `target` that left by port 1, each checked whole (from `src` and our MAC to
 * target's solicited-node group, hop limit 255, our MAC in the option, its checksum summed
 * here); anything else there is a failure. */
static unsigned ns_out(const char *target, const char *src)
{
	struct rte_mbuf *o[8];
	unsigned n = out(tx_ring[P1], o, 8), ok = 0;
	uint8_t t[16], sip[16], group[16], gmac[6];
	a6(target, t);
	a6(src, sip);
	ndp_solicited_node(t, group, gmac);
	for (unsigned i = 0; i < n; i++) {
		const uint8_t *f = rte_pktmbuf_mtod(o[i], const uint8_t *);
		const uint8_t *ip6 = f + 14, *nd = ip6 + 40;
		bool good = o[i]->data_len == 86 && memcmp(f, gmac, 6) == 0 &&
			memcmp(f + 6, port_mac[1], 6) == 0 && pkt_rd16(f + 12) == 0x86dd &&
			ip6[6] == 58 && ip6[7] == 255 && pkt_rd16(ip6 + 4) == 32 &&
			memcmp(ip6 + 8, sip, 16) == 0 && memcmp(ip6 + 24, group, 16) == 0 &&
			nd[0] == 135 && nd[1] == 0 && memcmp(nd + 8, t, 16) == 0 &&
			nd[24] == 1 && nd[25] == 1 && memcmp(nd + 26, port_mac[1], 6) == 0 &&
			sum6(ip6, nd, 32, 58) == 0xffff;
		CHECK(good);
		ok += good;
	}
	rte_pktmbuf_free_bulk(o, n);
	return ok;
}

/* An NA from `target` at `mac` to `to` (solicited, override) as the wire brings it to port 1,
 * or (ns = true) an NS from it for `to`. */
static struct rte_mbuf *nd_frame(bool ns, const char *target, const uint8_t mac[6], const char *to)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(pool);
	uint8_t *f = m ? (uint8_t *)rte_pktmbuf_append(m, 86) : NULL;
	if (f == NULL) {
		fprintf(stderr, "out of mbufs\n");
		exit(1);
	}
	memset(f, 0, 86);
	memcpy(f, port_mac[1], 6);
	memcpy(f + 6, mac, 6);
	put16(f + 12, 0x86dd);
	uint8_t *ip6 = f + 14, *nd = ip6 + 40;
	ip6[0] = 0x60;
	put16(ip6 + 4, 32);
	ip6[6] = 58;
	ip6[7] = 255;
	a6(target, ip6 + 8);
	a6(to, ip6 + 24);
	nd[0] = ns ? 135 : 136;
	nd[4] = ns ? 0 : NDP_NA_SOLICITED | NDP_NA_OVERRIDE;
	a6(ns ? to : target, nd + 8);
	nd[24] = ns ? 1 : 2;
	nd[25] = 1;
	memcpy(nd + 26, mac, 6);
	put16(nd + 2, (uint16_t)~sum6(ip6, nd, 32, 58));
	m->port = dp->port[P1].eth_id;  /* as the NIC's rx sets it: control learns per port */
	return m;
}

static struct dp_sess_spec spec6(uint16_t lport, uint16_t fport, const char *dst, uint16_t dport)
{
	return (struct dp_sess_spec){ .listen_addr = addr_of(LISTEN6), .listen_port = lport,
		.forward_addr = addr_of(FWD6), .forward_port = fport, .dest_addr = addr_of(dst),
		.dest_port = dport };
}

/* Held for NDP, then the next hop answers: released with its MAC, the NA on to the kernel;
 * later packets go straight out. */
static void test_resolved(void)
{
	uint8_t pl[4][PLEN];
	struct rte_mbuf *in[3], *o[8];
	struct dp_sess_spec sp = spec6(12000, 32000, "2001:db8:2::200", 22000);
	struct dp_sess *s = install(&sp);
	uint64_t t = dp_now_ms();
	ctl_turn();
	CHECK_EQ_U(ns_out("2001:db8:2::200", FWD6), 1);        /* at install */
	struct dp_stats before = totals();
	for (unsigned i = 0; i < 4; i++)
		rtp_payload(pl[i], PLEN, 0x6666, (uint16_t)i);
	for (unsigned i = 0; i < 3; i++)
		in[i] = udp6_in(42000, 12000, pl[i], PLEN);
	rx(P0, in, 3);
	check_quiet();
	CHECK_EQ_U(rte_ring_count(dp->pending_ring), 3);
	CHECK_EQ_U(fwd_stats(s).pkts_tx, 3);        /* while held: counted as sent */
	slowpath_poll(dp, t);
	CHECK_EQ_U(dp->neigh->ent[s->neigh].n_pending, 3);
	ctl_turn();
	check_quiet();                              /* no second NS for what is asked already */

	/* a neighbour's NS for our address: the kernel's to answer; it resolves nothing */
	rx1(P1, nd_frame(true, "2001:db8:2::200", late_mac, FWD6));
	slowpath_poll(dp, t);
	ctl_turn();
	CHECK_EQ_U(out(tap_ring[P1], o, 8), 1);
	rte_pktmbuf_free(o[0]);
	CHECK_EQ_U(dp->neigh->ent[s->neigh].state, NEIGH_INCOMPLETE);
	check_quiet();

	/* the answer, through the worker like any frame */
	rx1(P1, nd_frame(false, "2001:db8:2::200", late_mac, FWD6));
	CHECK_EQ_U(rte_ring_count(dp->arp_ring), 1);
	slowpath_poll(dp, t + 1);
	CHECK_EQ_U(dp->neigh->ent[s->neigh].state, NEIGH_REACHABLE);
	ctl_turn();
	unsigned n = out(tap_ring[P1], o, 8);
	CHECK_EQ_U(n, 1);                           /* the NA, for the kernel's own table */
	if (n == 1)
		CHECK_EQ_U(rte_pktmbuf_mtod(o[0], const uint8_t *)[54], 136);
	rte_pktmbuf_free_bulk(o, n);
	n = out(tx_ring[P1], o, 8);
	CHECK_EQ_U(n, 3);
	for (unsigned i = 0; i < n && i < 3; i++)
		check_out6(o[i], late_mac, "2001:db8:2::200", 32000, 22000, pl[i], PLEN);
	rte_pktmbuf_free_bulk(o, n);

	/* resolved: the next one goes at once, control untouched */
	rx1(P0, udp6_in(42000, 12000, pl[3], PLEN));
	CHECK_EQ_U(rte_ring_count(dp->pending_ring), 0);
	n = out(tx_ring[P1], o, 8);
	CHECK_EQ_U(n, 1);
	if (n == 1)
		check_out6(o[0], late_mac, "2001:db8:2::200", 32000, 22000, pl[3], PLEN);
	rte_pktmbuf_free_bulk(o, n);
	struct dp_flow_read st = fwd_stats(s);
	CHECK_EQ_U(st.pkts_rx, 4);
	CHECK_EQ_U(st.pkts_tx, 4);
	CHECK_EQ_U(st.bytes_tx, 4 * PLEN);
	CHECK_EQ_U(st.dropped, 0);
	struct dp_stats after = totals();
	uint64_t drops = 0;
	for (int i = 0; i < DROP_MAX; i++)
		drops += after.drops[i] - before.drops[i];
	CHECK_EQ_U(drops, 0);
	check_quiet();
	uninstall(s);
}

/* An IPv4 client towards an IPv6 next hop that never answers: NEIGH_MAX_PROBES NSs, then the
 * held packets move from sent to dropped (no_neighbor) and the session reads next_hop_failed. */
static void test_given_up(void)
{
	uint8_t pl[PLEN];
	struct rte_mbuf *in[2];
	struct dp_sess_spec sp = spec6(12002, 32002, "2001:db8:2::201", 22002);
	sp.listen_addr = dp_addr_v4(inet_addr("198.18.1.10"));
	struct dp_sess *s = install(&sp);
	uint64_t t = dp_now_ms();
	ctl_turn();
	CHECK_EQ_U(ns_out("2001:db8:2::201", FWD6), 1);
	struct dp_stats before = totals();
	for (unsigned i = 0; i < 2; i++) {
		rtp_payload(pl, PLEN, 0x7777, (uint16_t)i);
		in[i] = udp_frame(client_mac, port_mac[0], ip("198.18.1.100"), ip("198.18.1.10"),
				42002, 12002, 64, pl, PLEN);
	}
	rx(P0, in, 2);
	slowpath_poll(dp, t);
	CHECK_EQ_U(fwd_stats(s).pkts_tx, 2);
	for (unsigned probe = 2; probe <= NEIGH_MAX_PROBES; probe++) {
		slowpath_poll(dp, t += NEIGH_RETRY_MS);
		ctl_turn();
		CHECK_EQ_U(ns_out("2001:db8:2::201", FWD6), 1);
	}
	slowpath_poll(dp, t += NEIGH_RETRY_MS);
	CHECK_EQ_U(dp->neigh->ent[s->neigh].state, NEIGH_FAILED);
	struct dp_flow_read st = fwd_stats(s);
	CHECK_EQ_U(st.pkts_rx, 2);
	CHECK_EQ_U(st.pkts_tx, 0);
	CHECK_EQ_U(st.bytes_tx, 0);
	CHECK_EQ_U(st.dropped, 2);
	check_drops(&before, DROP_NO_NEIGHBOR, 2);
	struct dp_sess_status ss;
	dp_sess_status(dp, s, &ss);
	CHECK(ss.next_hop_failed);
	struct dp_addr nh = addr_of("2001:db8:2::201");
	CHECK(dp_addr_eq(&ss.next_hop, &nh));
	ctl_turn();
	check_quiet();
	uninstall(s);
}

/* Off-link: the packets go to the destination through gateway6, which NDP resolves from the
 * port's link-local (the TAP's: the modified EUI-64 of the port's MAC). */
static void test_gateway6(void)
{
	uint8_t pl[PLEN], ll[16] = { 0xfe, 0x80 };
	char ll_text[48];
	struct rte_mbuf *o[4];
	const uint8_t *mac = port_mac[1];
	uint8_t eui[8] = { (uint8_t)(mac[0] ^ 2), mac[1], mac[2], 0xff, 0xfe, mac[3], mac[4], mac[5] };
	memcpy(ll + 8, eui, 8);
	inet_ntop(AF_INET6, ll, ll_text, sizeof(ll_text));

	struct dp_sess_spec sp = spec6(12004, 32004, "2001:db8:99::5", 22004);
	struct dp_sess *s = install(&sp);
	uint64_t t = dp_now_ms();
	ctl_turn();
	CHECK_EQ_U(ns_out(GW6, ll_text), 1);
	rtp_payload(pl, PLEN, 0x8888, 0);
	rx1(P0, udp6_in(42004, 12004, pl, PLEN));
	slowpath_poll(dp, t);
	rx1(P1, nd_frame(false, GW6, gw_mac, ll_text));
	slowpath_poll(dp, t + 1);
	ctl_turn();
	drain(tap_ring[P1]);
	unsigned n = out(tx_ring[P1], o, 4);
	CHECK_EQ_U(n, 1);
	if (n == 1)
		check_out6(o[0], gw_mac, "2001:db8:99::5", 32004, 22004, pl, PLEN);
	rte_pktmbuf_free_bulk(o, n);
	struct dp_sess_status ss;
	dp_sess_status(dp, s, &ss);
	struct dp_addr gw = addr_of(GW6);
	CHECK(!ss.next_hop_failed && dp_addr_eq(&ss.next_hop, &gw));
	check_quiet();
	uninstall(s);
}

/* Port 0 has no gateway6: an off-link IPv6 destination from its address has no route. */
static void test_no_gateway6(void)
{
	struct dp_sess *s = NULL;
	char msg[256];
	struct dp_sess_spec sp = spec6(12006, 32006, "2001:db8:98::1", 22006);
	sp.forward_addr = addr_of(LISTEN6);
	CHECK_EQ_U(dp_sess_install(dp, &sp, &s, msg, sizeof(msg)), DP_SESS_NO_ROUTE);
	CHECK(strcmp(msg, "destination_endpoint.address: 2001:db8:98::1 is not on an IPv6 subnet "
				"of port0 (which owns the forward address) and port0 has no "
				"gateway6") == 0);
	CHECK(s == NULL);
	ctl_turn();
	check_quiet();
}

/* The loop's way with an rx burst: a passive (standby) worker's, or the active one's. */
static void rx_as_loop(uint16_t port, struct rte_mbuf *m)
{
	uint64_t now = rte_rdtsc();
	rte_rcu_qsbr_thread_online(dp->qsv, 0);
	if (!dp_is_active(dp))
		worker_passive_burst(w, port, &m, 1);
	else
		worker_handle_burst(w, port, &m, 1, now);
	worker_poll_ctl(w);
	worker_end_iteration(w, now);
	rte_rcu_qsbr_thread_offline(dp->qsv, 0);
}

/* A hot standby: it resolves its next hops with NSs from :: (no MAC of its own in them, so no
 * neighbour learns it), learns from the answer to all nodes, passes nothing to its kernel; at
 * take-over every IPv6 address of every port is announced (unsolicited NA, override). */
static void test_standby(void)
{
	struct rte_mbuf *o[16];
	uint8_t t[16], group[16], gmac[6], zero[16] = { 0 };
	dp_set_active(dp, false);
	struct dp_sess_spec sp = spec6(12008, 32008, "2001:db8:2::210", 22008);
	struct dp_sess *s = install(&sp);
	uint64_t now = dp_now_ms();
	ctl_turn();
	a6("2001:db8:2::210", t);
	ndp_solicited_node(t, group, gmac);
	unsigned n = out(tx_ring[P1], o, 16);
	CHECK_EQ_U(n, 1);
	if (n == 1) {
		const uint8_t *f = rte_pktmbuf_mtod(o[0], const uint8_t *);
		const uint8_t *ip6 = f + 14, *nd = ip6 + 40;
		CHECK_EQ_U(o[0]->data_len, 78);                 /* no source address option */
		CHECK(memcmp(f, gmac, 6) == 0);
		CHECK(memcmp(ip6 + 8, zero, 16) == 0);
		CHECK(memcmp(ip6 + 24, group, 16) == 0);
		CHECK_EQ_U(nd[0], 135);
		CHECK(memcmp(nd + 8, t, 16) == 0);
		CHECK_EQ_U(sum6(ip6, nd, 24, 58), 0xffff);
	}
	rte_pktmbuf_free_bulk(o, n);
	/* a neighbour's NS for our address: no answer from a standby, its kernel hears nothing */
	rx_as_loop(P1, nd_frame(true, "2001:db8:2::210", late_mac, FWD6));
	slowpath_poll(dp, now);
	ctl_turn();
	check_quiet();
	/* the answer to a probe from :: goes to all nodes, not solicited: learnt all the same */
	struct rte_mbuf *na = nd_frame(false, "2001:db8:2::210", late_mac, "ff02::1");
	uint8_t *f = rte_pktmbuf_mtod(na, uint8_t *);
	const uint8_t all_mac[6] = { 0x33, 0x33, 0, 0, 0, 1 };
	memcpy(f, all_mac, 6);
	f[54 + 4] = NDP_NA_OVERRIDE;
	f[54 + 2] = f[54 + 3] = 0;
	put16(f + 54 + 2, (uint16_t)~sum6(f + 14, f + 54, 32, 58));
	rx_as_loop(P1, na);
	slowpath_poll(dp, now + 1);
	ctl_turn();
	CHECK_EQ_U(dp->neigh->ent[s->neigh].state, NEIGH_REACHABLE);
	uint8_t mac[6];
	CHECK(neigh_mac_get(dp->neigh, s->neigh, mac) && memcmp(mac, late_mac, 6) == 0);
	check_quiet();

	/* take-over: gratuitous ARP for the IPv4 addresses, an unsolicited NA for each IPv6 one */
	dp_set_active(dp, true);
	CHECK_EQ_U(dp_announce(dp), 3 + 2);
	ctl_turn();
	const char *mine[2] = { LISTEN6, FWD6 };
	for (uint16_t p = 0; p < 2; p++) {
		unsigned nas = 0;
		n = out(tx_ring[p], o, 16);
		for (unsigned i = 0; i < n; i++) {
			struct ndp_msg m;
			const uint8_t *g = rte_pktmbuf_mtod(o[i], const uint8_t *);
			if (pkt_rd16(g + 12) != 0x86dd)
				continue;               /* the gratuitous ARPs (test_worker_standby's) */
			uint8_t a[16];
			a6(mine[p], a);
			bool ok = ndp_parse(g, o[i]->data_len, &m) == 0 && m.type == NDP_TYPE_NA &&
				m.flags == NDP_NA_OVERRIDE && memcmp(m.target, a, 16) == 0 &&
				memcmp(m.src, a, 16) == 0 && memcmp(g, all_mac, 6) == 0 &&
				memcmp(g + 6, port_mac[p], 6) == 0 && m.has_lladdr &&
				memcmp(m.lladdr, port_mac[p], 6) == 0;
			CHECK(ok);
			nas++;
		}
		CHECK_EQ_U(nas, 1);
		rte_pktmbuf_free_bulk(o, n);
	}
	check_quiet();
	uninstall(s);
}

int main(int argc, char **argv)
{
	(void)argc;
	rig_conf_extra = conf6;
	rig_start(argv[0], "twheld6", 1);
	test_resolved();
	test_given_up();
	test_gateway6();
	test_no_gateway6();
	test_standby();
	return rig_finish("test_worker_held6");
}
