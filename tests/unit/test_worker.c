/*
 * test_worker: the worker's packet path in one process, without privileges. Two net_ring
 * ports (and two more as their kernel interfaces) whose rings the test fills and drains,
 * flows filled as control/sess.c fills them, the control lcore's slow path run by hand on a
 * made-up clock. Packets in, packets out: the output's bytes (MACs, addresses, ports, TTL,
 * checksums recomputed from scratch), the port it left by, and the flow's and the appliance's
 * counters (every drop under exactly one reason, received = sent + dropped on every flow).
 * At the end every mbuf is back in the pool.
 */
#define ALLOW_EXPERIMENTAL_API          /* rte_rcu_qsbr_dq_reclaim, to reuse a flow id */

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_eth_ring.h>
#include <rte_ethdev.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>
#include <rte_meter.h>
#include <rte_rcu_qsbr.h>
#include <rte_ring.h>

#include "check.h"
#include "dp.h"
#include "flow.h"
#include "neigh.h"
#include "pkt.h"
#include "rtp.h"
#include "slowpath.h"

#define N_MBUFS 1023
#define RING_SZ 64                  /* a port's tx ring holds 63 */
#define P0 0                        /* the client side: 198.18.1.0/24 */
#define P1 1                        /* the destination side: 198.18.2.0/24 */

static struct rte_mempool *pool;
static struct dp *dp;
static struct worker *w;
static struct rte_ring *tx_ring[DP_MAX_PORTS], *tap_ring[DP_MAX_PORTS];
static const uint8_t port_mac[2][6] = { { 2, 0, 0, 0, 0, 1 }, { 2, 0, 0, 0, 0, 2 } };
static const uint8_t client_mac[6] = { 2, 0, 0, 0, 1, 1 };
static const uint8_t dest_mac[6] = { 2, 0, 0, 0, 2, 0x64 };
static const uint8_t late_mac[6] = { 2, 0, 0, 0, 2, 0xc9 };     /* answers ARP in a test */
static uint32_t dest_neigh;         /* 198.18.2.100, static */

static uint32_t ip(const char *s) { return inet_addr(s); }

/* ---- frames ---- */

static uint32_t sum16(const uint8_t *p, unsigned len, uint32_t s)
{
	for (unsigned i = 0; i + 1 < len; i += 2)
		s += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (len & 1)
		s += (uint32_t)p[len - 1] << 8;
	return s;
}

static uint16_t fold(uint32_t s)
{
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)s;
}

static void put16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }

/* An RTP payload of `len` bytes (>= 12) with this SSRC and sequence number. */
static void rtp_payload(uint8_t *p, unsigned len, uint32_t ssrc, uint16_t seq)
{
	memset(p, 0xd5, len);
	p[0] = 0x80;
	p[1] = 0;
	put16(p + 2, seq);
	memset(p + 4, 0, 4);
	uint32_t s = htonl(ssrc);
	memcpy(p + 8, &s, 4);
}

/* An Ethernet/IPv4/UDP frame with both checksums right; addresses in network order, ports in
 * host order. */
static struct rte_mbuf *udp_frame(const uint8_t smac[6], const uint8_t dmac[6], uint32_t sip,
		uint32_t dip, uint16_t sport, uint16_t dport, uint8_t ttl, const uint8_t *pl,
		uint16_t plen)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(pool);
	uint16_t len = (uint16_t)(14 + 20 + 8 + plen);
	uint8_t *f = m ? (uint8_t *)rte_pktmbuf_append(m, len) : NULL;
	if (f == NULL) {
		fprintf(stderr, "out of mbufs\n");
		exit(1);
	}
	memset(f, 0, len);
	memcpy(f, dmac, 6);
	memcpy(f + 6, smac, 6);
	put16(f + 12, PKT_ETHERTYPE_IPV4);
	uint8_t *iph = f + 14, *udp = iph + 20;
	iph[0] = 0x45;
	put16(iph + 2, (uint16_t)(20 + 8 + plen));
	put16(iph + 6, 0x4000);
	iph[8] = ttl;
	iph[9] = PKT_IPPROTO_UDP;
	memcpy(iph + 12, &sip, 4);
	memcpy(iph + 16, &dip, 4);
	put16(iph + 10, (uint16_t)~fold(sum16(iph, 20, 0)));
	put16(udp, sport);
	put16(udp + 2, dport);
	put16(udp + 4, (uint16_t)(8 + plen));
	memcpy(udp + 8, pl, plen);
	uint16_t ck = (uint16_t)~fold(sum16(udp, 8u + plen, sum16(iph + 12, 8, 0) +
				PKT_IPPROTO_UDP + 8u + plen));
	put16(udp + 6, ck ? ck : 0xffff);
	return m;
}

/* What a relayed frame must be, checked byte by byte, checksums recomputed from scratch. */
struct want {
	const uint8_t *dmac, *smac;
	const char *sip, *dip;
	uint16_t sport, dport;
	uint8_t ttl;
	const uint8_t *pl;
	uint16_t plen;
};

static void check_frame(const struct rte_mbuf *m, const struct want *x)
{
	const uint8_t *f = rte_pktmbuf_mtod(m, const uint8_t *);
	const uint8_t *iph = f + 14, *udp = iph + 20;
	uint32_t sip = ip(x->sip), dip = ip(x->dip);
	CHECK_EQ_U(m->pkt_len, 14u + 20 + 8 + x->plen);
	CHECK(memcmp(f, x->dmac, 6) == 0);
	CHECK(memcmp(f + 6, x->smac, 6) == 0);
	CHECK(memcmp(iph + 12, &sip, 4) == 0);
	CHECK(memcmp(iph + 16, &dip, 4) == 0);
	CHECK_EQ_U(pkt_rd16(udp), x->sport);
	CHECK_EQ_U(pkt_rd16(udp + 2), x->dport);
	CHECK_EQ_U(iph[8], x->ttl);
	CHECK_EQ_U(iph[9], PKT_IPPROTO_UDP);
	CHECK_EQ_U(fold(sum16(iph, 20, 0)), 0xffff);          /* IP header checksum */
	unsigned ulen = pkt_rd16(udp + 4);
	CHECK_EQ_U(ulen, 8u + x->plen);
	CHECK_EQ_U(fold(sum16(udp, ulen, sum16(iph + 12, 8, 0) + PKT_IPPROTO_UDP + ulen)),
			0xffff);                                /* UDP checksum, pseudo header */
	CHECK(memcmp(udp + 8, x->pl, x->plen) == 0);
}

/* ---- the data plane ---- */

static uint16_t ring_port(const char *name, struct rte_ring **tx)
{
	char rn[32];
	snprintf(rn, sizeof(rn), "%s_rx", name);
	struct rte_ring *rx = rte_ring_create(rn, RING_SZ, SOCKET_ID_ANY, RING_F_SP_ENQ | RING_F_SC_DEQ);
	snprintf(rn, sizeof(rn), "%s_tx", name);
	*tx = rte_ring_create(rn, RING_SZ, SOCKET_ID_ANY, RING_F_SP_ENQ | RING_F_SC_DEQ);
	int id = rx && *tx ? rte_eth_from_rings(name, &rx, 1, tx, 1, (unsigned)rte_socket_id()) : -1;
	struct rte_eth_conf conf;
	memset(&conf, 0, sizeof(conf));
	if (id < 0 || rte_eth_dev_configure((uint16_t)id, 1, 1, &conf) != 0 ||
			rte_eth_rx_queue_setup((uint16_t)id, 0, RING_SZ, SOCKET_ID_ANY, NULL, pool) != 0 ||
			rte_eth_tx_queue_setup((uint16_t)id, 0, RING_SZ, SOCKET_ID_ANY, NULL) != 0 ||
			rte_eth_dev_start((uint16_t)id) != 0) {
		fprintf(stderr, "cannot make ring port %s\n", name);
		exit(1);
	}
	return (uint16_t)id;
}

/* The data plane as app/main.c assembles it: one worker, two ports. */
static void setup(void)
{
	int socket = (int)rte_socket_id();
	pool = rte_pktmbuf_pool_create("tw_pool", N_MBUFS, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE, socket);
	dp = rte_zmalloc("dp", sizeof(*dp), RTE_CACHE_LINE_SIZE);
	w = rte_zmalloc("worker", sizeof(*w), RTE_CACHE_LINE_SIZE);
	if (pool == NULL || dp == NULL || w == NULL) {
		fprintf(stderr, "out of memory\n");
		exit(1);
	}
	memset(dp->port_of_eth, -1, sizeof(dp->port_of_eth));
	dp_clock_defaults(dp);
	const char *addr[2][2] = { { "198.18.1.10", "198.18.1.11" }, { "198.18.2.10", NULL } };
	for (unsigned p = 0; p < 2; p++) {
		struct dp_port *dpp = &dp->port[p];
		char name[16];
		snprintf(dpp->name, sizeof(dpp->name), "port%u", p);
		snprintf(name, sizeof(name), "tw_eth%u", p);
		dpp->eth_id = ring_port(name, &tx_ring[p]);
		snprintf(name, sizeof(name), "tw_tap%u", p);
		dpp->tap_id = ring_port(name, &tap_ring[p]);
		dpp->nb_queues = 1;
		memcpy(dpp->mac.addr_bytes, port_mac[p], 6);
		for (unsigned a = 0; a < 2 && addr[p][a] != NULL; a++) {
			dpp->addr[a] = ip(addr[p][a]);
			dpp->mask[a] = htonl(0xffffff00u);
			dpp->n_addr = a + 1;
		}
		dp->port_of_eth[dpp->eth_id] = (int16_t)p;
	}
	dp->n_ports = 2;
	dp->pools[socket < 0 ? 0 : socket] = pool;
	dp->pool = pool;
	dp->qsv = rte_zmalloc("qsbr", rte_rcu_qsbr_get_memsize(1), RTE_CACHE_LINE_SIZE);
	if (dp->qsv == NULL || rte_rcu_qsbr_init(dp->qsv, 1) != 0)
		exit(1);
	dp->flows = flow_table_create("tw_flows", 64, socket, dp->qsv);
	dp->neigh = neigh_table_create(64, socket);
	dp->arp_ring = rte_ring_create("tw_arp", DP_CTL_RING, socket, RING_F_SC_DEQ);
	dp->pending_ring = rte_ring_create("tw_pend", DP_CTL_RING, socket, RING_F_SC_DEQ);
	w->dp = dp;
	w->index = 0;
	w->lcore = rte_lcore_id();
	w->polls_taps = true;
	w->from_ctl = rte_ring_create("tw_ctl", DP_CTL_RING, socket, RING_F_SP_ENQ | RING_F_SC_DEQ);
	dp->workers = w;
	dp->n_workers = 1;
	if (dp->flows == NULL || dp->neigh == NULL || dp->arp_ring == NULL ||
			dp->pending_ring == NULL || w->from_ctl == NULL || worker_init_buffers(w) != 0) {
		fprintf(stderr, "data plane: out of memory\n");
		exit(1);
	}
	dest_neigh = neigh_add_static(dp->neigh, P1, ip("198.18.2.100"), dest_mac);
	rte_rcu_qsbr_thread_register(dp->qsv, 0);
}

/* One iteration of the worker's loop on these packets from dp port `port`: online for it only,
 * so that the control side (this same thread) can wait out grace periods in between. */
static void rx(uint16_t port, struct rte_mbuf **pkts, uint16_t n)
{
	uint64_t now = rte_rdtsc();
	rte_rcu_qsbr_thread_online(dp->qsv, 0);
	if (n > 0)
		worker_handle_burst(w, port, pkts, n, now);
	worker_poll_ctl(w);
	worker_end_iteration(w, now);
	rte_rcu_qsbr_thread_offline(dp->qsv, 0);
}

static void rx1(uint16_t port, struct rte_mbuf *m) { rx(port, &m, 1); }

/* The worker's turn with nothing received: what control queued for it goes out. */
static void ctl_turn(void) { rx(0, NULL, 0); }

/* Take what left by a ring (a port's tx ring or its kernel interface's). */
static unsigned out(struct rte_ring *r, struct rte_mbuf **pkts, unsigned max)
{
	return rte_ring_dequeue_burst(r, (void **)pkts, max, NULL);
}

/* Nothing left anywhere: every port's and kernel interface's tx ring is empty. */
static void check_quiet(void)
{
	for (unsigned p = 0; p < 2; p++) {
		CHECK_EQ_U(rte_ring_count(tx_ring[p]), 0);
		CHECK_EQ_U(rte_ring_count(tap_ring[p]), 0);
	}
}

/* A forward flow listen -> (forward, destination) as make_flow fills one; host-order ports. */
static struct flow *fwd_flow(const char *listen, uint16_t lport, const char *fwd, uint16_t fport,
		const char *dst, uint16_t dport, uint32_t neigh, uint16_t flags)
{
	struct flow *f = flow_alloc(dp->flows);
	f->tx_port = P1;
	f->neigh = neigh;
	f->key = flow_key_make(listen ? ip(listen) : 0, htons(lport), PKT_IPPROTO_UDP);
	f->src_ip = ip(fwd);
	f->src_port = htons(fport);
	f->dst_ip = ip(dst);
	f->dst_port = htons(dport);
	f->latch_rtp = UINT32_MAX;
	f->flags = flags;
	return f;
}

static void publish(struct flow *f)
{
	CHECK_EQ_U(flow_add(dp->flows, f), 0);
}

/* The session goes: its flow out of the table, its next hop released. */
static void unpublish(struct flow *f, uint32_t nh)
{
	CHECK_EQ_U(flow_del(dp->flows, f), 0);
	flow_table_sync(dp->flows);
	neigh_put(dp->neigh, nh);
}

/* The appliance's counters, control's included. */
static struct worker_stats totals(void)
{
	struct worker_stats s;
	dp_stats_sum(dp, &s);
	return s;
}

/* Since `before`: `n` drops under `why` and none under any other reason. */
static void check_drops(const struct worker_stats *before, enum dp_drop why, uint64_t n)
{
	struct worker_stats now = totals();
	for (int d = 0; d < DROP_MAX; d++) {
		uint64_t delta = now.drops[d] - before->drops[d];
		if (delta != (d == (int)why ? n : 0))
			fprintf(stderr, "  drops[%s] moved by %llu\n", dp_drop_names[d],
					(unsigned long long)delta);
		CHECK_EQ_U(delta, d == (int)why ? n : 0);
	}
}

/* A flow's counters as GetSessionStatus reports them; received = sent + dropped always. */
static struct flow_stats fstats(const struct flow *f)
{
	struct flow_stats s;
	flow_stats_read(f, &s);
	CHECK_EQ_U(s.pkts_rx, s.pkts_tx + s.dropped);
	return s;
}

#define PLEN 172                    /* 12 + 160: one 20 ms PCMU packet */

/* ---- the cases ---- */

static struct flow *t_fwd;          /* 198.18.1.10:10000 -> 198.18.2.100:20000 */

static void test_forward(void)
{
	uint8_t pl[PLEN];
	struct rte_mbuf *o[4];
	rtp_payload(pl, PLEN, 0x1111, 1);
	t_fwd = fwd_flow("198.18.1.10", 10000, "198.18.2.10", 30000, "198.18.2.100", 20000,
			dest_neigh, FLOW_F_RTP_STATS);
	publish(t_fwd);
	struct worker_stats before = totals();

	rx1(P0, udp_frame(client_mac, port_mac[0], ip("198.18.1.100"), ip("198.18.1.10"), 40000,
				10000, 64, pl, PLEN));
	CHECK_EQ_U(out(tx_ring[P1], o, 4), 1);
	check_frame(o[0], &(struct want){ dest_mac, port_mac[1], "198.18.2.10", "198.18.2.100",
			30000, 20000, 63, pl, PLEN });
	rte_pktmbuf_free(o[0]);
	check_quiet();
	struct flow_stats s = fstats(t_fwd);
	CHECK_EQ_U(s.pkts_rx, 1);
	CHECK_EQ_U(s.pkts_tx, 1);
	CHECK_EQ_U(s.bytes_rx, PLEN);
	CHECK_EQ_U(s.bytes_tx, PLEN);
	CHECK_EQ_U(totals().relayed - before.relayed, 1);
	CHECK_EQ_U(t_fwd->rtp.received, 1);
	check_drops(&before, DROP_MAX, 0);
}

static void test_reverse_latch(void)
{
	uint8_t pl[PLEN];
	struct rte_mbuf *o[4];
	rtp_payload(pl, PLEN, 0x2222, 1);
	struct flow *f = fwd_flow("198.18.1.10", 10002, "198.18.2.10", 30002, "198.18.2.100",
			20002, dest_neigh, FLOW_F_RTP_STATS);
	struct flow *r = flow_alloc(dp->flows);
	r->tx_port = P0;
	r->neigh = dest_neigh;
	r->key = flow_key_make(ip("198.18.2.10"), htons(30002), PKT_IPPROTO_UDP);
	r->src_port = htons(10002);
	r->latch_flow = f->id;
	r->latch_fallback = UINT32_MAX;
	r->peer_ip = ip("198.18.2.100");
	r->peer_port = htons(20002);
	r->flags = FLOW_F_RTP_STATS | FLOW_F_REVERSE;
	publish(f);
	publish(r);
	struct worker_stats before = totals();

	/* nobody latched yet: nobody to send it to */
	rx1(P1, udp_frame(dest_mac, port_mac[1], ip("198.18.2.100"), ip("198.18.2.10"), 20002,
				30002, 64, pl, PLEN));
	check_quiet();
	CHECK_EQ_U(fstats(r).dropped, 1);
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
	struct flow_stats rs = fstats(r);
	CHECK_EQ_U(rs.pkts_rx, 4);
	CHECK_EQ_U(rs.pkts_tx, 1);
	CHECK_EQ_U(rs.dropped, 3);

	/* the client moves (NAT rebinding, same SSRC) and the other way follows it, through the
	 * other address of the port */
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
	CHECK_EQ_U(fstats(f).pkts_tx, 2);
	CHECK_EQ_U(fstats(r).pkts_tx, 2);
	check_quiet();
}

static void test_wildcard(void)
{
	uint8_t pl[PLEN];
	struct rte_mbuf *o[4];
	rtp_payload(pl, PLEN, 0x3333, 1);
	struct flow *f = fwd_flow(NULL, 10004, "198.18.2.10", 30004, "198.18.2.100", 20004,
			dest_neigh, FLOW_F_RTP_STATS);
	publish(f);
	struct worker_stats before = totals();

	/* any address of ours on that port */
	rx1(P0, udp_frame(client_mac, port_mac[0], ip("198.18.1.100"), ip("198.18.1.11"), 40004,
				10004, 64, pl, PLEN));
	CHECK_EQ_U(out(tx_ring[P1], o, 4), 1);
	check_frame(o[0], &(struct want){ dest_mac, port_mac[1], "198.18.2.10", "198.18.2.100",
			30004, 20004, 63, pl, PLEN });
	rte_pktmbuf_free(o[0]);
	CHECK_EQ_U(f->latch.local_ip, ip("198.18.1.11"));
	/* not an address of ours: the kernel's, untouched */
	rx1(P0, udp_frame(client_mac, port_mac[0], ip("198.18.1.100"), ip("198.18.1.50"), 40004,
				10004, 64, pl, PLEN));
	CHECK_EQ_U(out(tx_ring[P1], o, 4), 0);
	CHECK_EQ_U(out(tap_ring[P0], o, 4), 1);
	CHECK_EQ_U(pkt_rd16(rte_pktmbuf_mtod(o[0], uint8_t *) + 36), 10004);
	rte_pktmbuf_free(o[0]);
	CHECK_EQ_U(totals().exception[P0] - before.exception[P0], 1);
	CHECK_EQ_U(fstats(f).pkts_rx, 1);
	check_drops(&before, DROP_MAX, 0);
	check_quiet();
}

static void test_ttl(void)
{
	uint8_t pl[PLEN];
	struct rte_mbuf *o[4];
	rtp_payload(pl, PLEN, 0x4444, 1);
	struct flow *f = fwd_flow("198.18.1.10", 10006, "198.18.2.10", 30006, "198.18.2.100",
			20006, dest_neigh, FLOW_F_RTP_STATS);
	publish(f);
	struct worker_stats before = totals();
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
	struct flow_stats s = fstats(f);
	CHECK_EQ_U(s.pkts_rx, 3);
	CHECK_EQ_U(s.dropped, 2);
}

static void test_rate_limit(void)
{
	uint8_t pl[PLEN];
	struct rte_mbuf *in[8], *o[16];
	struct flow *f = fwd_flow("198.18.1.10", 10008, "198.18.2.10", 30008, "198.18.2.100",
			20008, dest_neigh, FLOW_F_RTP_STATS | FLOW_F_METER_PPS);
	/* rate_pps 50 as sess.c configures it: a burst of 100 ms, 5 packets */
	struct flow_meter *fm = flow_meter_attach(dp->flows, f);
	struct rte_meter_srtcm_params p = { .cir = 50, .cbs = 5, .ebs = 0 };
	CHECK(fm != NULL && rte_meter_srtcm_profile_config(&fm->prof_pps, &p) == 0 &&
			rte_meter_srtcm_config(&fm->pps, &fm->prof_pps) == 0);
	publish(f);
	struct worker_stats before = totals();
	for (unsigned i = 0; i < 8; i++) {
		rtp_payload(pl, PLEN, 0x5555, (uint16_t)i);
		in[i] = udp_frame(client_mac, port_mac[0], ip("198.18.1.100"), ip("198.18.1.10"),
				40008, 10008, 64, pl, PLEN);
	}
	rx(P0, in, 8);          /* one burst: one arrival time, no refill in between */
	CHECK_EQ_U(out(tx_ring[P1], o, 16), 5);
	rte_pktmbuf_free_bulk(o, 5);
	check_drops(&before, DROP_RATE_LIMIT, 3);
	struct flow_stats s = fstats(f);
	CHECK_EQ_U(s.pkts_tx, 5);
	CHECK_EQ_U(s.dropped, 3);
	check_quiet();
}

static void test_validate(void)
{
	uint8_t pl[PLEN];
	struct rte_mbuf *o[4];
	struct flow *f = fwd_flow("198.18.1.10", 10010, "198.18.2.10", 30010, "198.18.2.100",
			20010, dest_neigh, FLOW_F_RTP_STATS | FLOW_F_VALIDATE);
	publish(f);
	struct worker_stats before = totals();
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
	struct flow_stats s = fstats(f);
	CHECK_EQ_U(s.pkts_rx, 2);
	CHECK_EQ_U(s.dropped, 1);
	CHECK_EQ_U(s.bytes_tx, PLEN);
}

/* Fill a ring with junk mbufs until only `room` places are left; how many went in. */
static unsigned fill_ring(struct rte_ring *r, unsigned room)
{
	unsigned n = 0;
	while (rte_ring_free_count(r) > room) {
		struct rte_mbuf *m = rte_pktmbuf_alloc(pool);
		if (m == NULL || rte_ring_enqueue(r, m) != 0)
			break;
		n++;
	}
	return n;
}

static void drain(struct rte_ring *r)
{
	struct rte_mbuf *m = NULL;
	while (rte_ring_dequeue(r, (void **)&m) == 0)
		rte_pktmbuf_free(m);
}

static void test_tx_refused(void)
{
	uint8_t pl[PLEN];
	struct rte_mbuf *in[2];
	struct flow_stats s0 = fstats(t_fwd);
	struct worker_stats before = totals();
	fill_ring(tx_ring[P1], 0);
	for (unsigned i = 0; i < 2; i++) {
		rtp_payload(pl, PLEN, 0x1111, (uint16_t)(2 + i));
		in[i] = udp_frame(client_mac, port_mac[0], ip("198.18.1.100"), ip("198.18.1.10"),
				40000, 10000, 64, pl, PLEN);
	}
	rx(P0, in, 2);
	drain(tx_ring[P1]);
	struct flow_stats s = fstats(t_fwd);
	CHECK_EQ_U(s.pkts_rx - s0.pkts_rx, 2);
	CHECK_EQ_U(s.pkts_tx - s0.pkts_tx, 0);
	CHECK_EQ_U(s.bytes_tx - s0.bytes_tx, 0);
	CHECK_EQ_U(s.dropped - s0.dropped, 2);
	struct worker_stats now = totals();
	CHECK_EQ_U(now.tx_failed[P1] - before.tx_failed[P1], 2);
	check_drops(&before, DROP_TX_FULL, 2);
	check_quiet();
}

/* The kernel interface refuses an exception packet: a tx_full drop, no longer an exception. */
static void test_tap_refused(void)
{
	uint8_t pl[PLEN];
	rtp_payload(pl, PLEN, 0x3333, 2);
	struct worker_stats before = totals();
	fill_ring(tap_ring[P0], 0);
	rx1(P0, udp_frame(client_mac, port_mac[0], ip("198.18.1.100"), ip("198.18.1.50"), 40004,
				10004, 64, pl, PLEN));
	drain(tap_ring[P0]);
	CHECK_EQ_U(totals().exception[P0] - before.exception[P0], 0);
	check_drops(&before, DROP_TX_FULL, 1);
	check_quiet();
}

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
	char prefix[64];
	snprintf(prefix, sizeof(prefix), "--file-prefix=tworker%d", (int)getpid());
	char *eal[] = { argv[0], "-l", "0", "--no-huge", "-m", "256", "--no-pci", "--no-shconf",
		prefix, "--log-level=error", NULL };
	(void)argc;
	if (rte_eal_init((int)RTE_DIM(eal) - 1, eal) < 0) {
		fprintf(stderr, "EAL init failed\n");
		return 1;
	}
	setup();
	test_forward();
	test_reverse_latch();
	test_wildcard();
	test_ttl();
	test_rate_limit();
	test_validate();
	test_tx_refused();
	test_tap_refused();
	test_pending_given_up();
	test_pending_released();
	test_pending_flow_gone();
	test_pending_session_gone();

	/* every mbuf came back: nothing leaked on any path */
	CHECK_EQ_U(rte_ring_count(dp->pending_ring), 0);
	CHECK_EQ_U(rte_ring_count(dp->arp_ring), 0);
	CHECK_EQ_U(rte_ring_count(w->from_ctl), 0);
	CHECK_EQ_U(rte_mempool_avail_count(pool), N_MBUFS);
	return check_summary("test_worker");
}
