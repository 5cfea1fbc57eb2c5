/*
 * The worker rig of tests/unit/test_worker*.c (header-only, as check.h: its checks count in
 * the including test): two net_ring ports (and two more standing in for their kernel
 * interfaces) whose rings the test fills and drains, a data plane built by dp_create with one
 * worker that the test's own thread drives (workers_inline), sessions installed and read
 * through dp_sess_install / dp_sess_read, the control lcore's slow path run by hand. Frames
 * are built and checked byte by byte, checksums recomputed from scratch.
 */
#ifndef RTPPROXY_TEST_WORKER_RIG_H
#define RTPPROXY_TEST_WORKER_RIG_H

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
#include <rte_rcu_qsbr.h>
#include <rte_ring.h>

#include "check.h"
#include "dp_sess.h"
#include "rp_dp.h"
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

static struct rte_mempool *pool;        /* the data plane's (the control lcore's) */
static struct dp *dp;
static struct worker *w;                /* its one worker, driven by the test's thread */
#define RIG_MAX_WORKERS 2
/* each port's and kernel interface's tx ring per queue (= per worker); [p] is queue 0's */
static struct rte_ring *tx_ring_q[DP_MAX_PORTS][RIG_MAX_WORKERS];
static struct rte_ring *tap_ring_q[DP_MAX_PORTS][RIG_MAX_WORKERS];
static struct rte_ring *tx_ring[DP_MAX_PORTS], *tap_ring[DP_MAX_PORTS];
/* net_ring ports have no MAC address (all zero): which port a frame left by is told by the
 * ring it is in; the source MAC is still checked against the port's */
static uint8_t port_mac[2][6];
static const uint8_t client_mac[6] = { 2, 0, 0, 0, 1, 1 };
static const uint8_t dest_mac[6] = { 2, 0, 0, 0, 2, 0x64 };       /* 198.18.2.100, static */

static inline uint32_t ip(const char *s) { return inet_addr(s); }

/* ---- frames ---- */

static inline uint32_t sum16(const uint8_t *p, unsigned len, uint32_t s)
{
	for (unsigned i = 0; i + 1 < len; i += 2)
		s += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (len & 1)
		s += (uint32_t)p[len - 1] << 8;
	return s;
}

static inline uint16_t fold(uint32_t s)
{
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)s;
}

static inline void put16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }

/* An RTP payload of `len` bytes (>= 12) with this SSRC and sequence number. */
static inline void rtp_payload(uint8_t *p, unsigned len, uint32_t ssrc, uint16_t seq)
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
static inline struct rte_mbuf *udp_frame(const uint8_t smac[6], const uint8_t dmac[6],
		uint32_t sip, uint32_t dip, uint16_t sport, uint16_t dport, uint8_t ttl,
		const uint8_t *pl, uint16_t plen)
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

static inline void check_frame(const struct rte_mbuf *m, const struct want *x)
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

/* A net_ring port with nq rx and nq tx queues, each a ring of its own (ethdev
 * "net_ring_<name>"); its tx rings in tx[]. dp_create finds it by name, configures and
 * starts it. */
static inline void ring_port(const char *name, unsigned nq, struct rte_ring **tx)
{
	struct rte_ring *rx[RIG_MAX_WORKERS];
	const unsigned f = RING_F_SP_ENQ | RING_F_SC_DEQ;
	for (unsigned q = 0; q < nq; q++) {
		char rn[32];
		snprintf(rn, sizeof(rn), "%s_rx%u", name, q);
		rx[q] = rte_ring_create(rn, RING_SZ, SOCKET_ID_ANY, f);
		snprintf(rn, sizeof(rn), "%s_tx%u", name, q);
		tx[q] = rte_ring_create(rn, RING_SZ, SOCKET_ID_ANY, f);
		if (rx[q] == NULL || tx[q] == NULL) {
			fprintf(stderr, "cannot make the rings of %s\n", name);
			exit(1);
		}
	}
	if (rte_eth_from_rings(name, rx, nq, tx, nq, rte_socket_id()) < 0) {
		fprintf(stderr, "cannot make ring port %s\n", name);
		exit(1);
	}
}

/* A test's additions to the rig's configuration (IPv6 addresses, neighbours...), applied just
 * before dp_create; NULL: none. */
static void (*rig_conf_extra)(struct dp_conf *c);

/* The data plane through dp_create, as app/main.c builds its own: port0 198.18.1.10/24 and
 * 198.18.1.11/24, port1 198.18.2.10/24 with a static neighbour 198.18.2.100, n_workers
 * workers that the test drives (workers_inline). */
static inline void setup(unsigned n_workers)
{
	static struct dp_conf c;
	const char *addr[2][2] = { { "198.18.1.10", "198.18.1.11" }, { "198.18.2.10", NULL } };
	char err[256];

	c.n_ports = 2;
	for (unsigned p = 0; p < 2; p++) {
		struct dp_port_conf *pc = &c.port[p];
		snprintf(pc->name, sizeof(pc->name), "port%u", p);
		char name[16];
		snprintf(name, sizeof(name), "tw_eth%u", p);
		ring_port(name, n_workers, tx_ring_q[p]);
		tx_ring[p] = tx_ring_q[p][0];
		snprintf(pc->device, sizeof(pc->device), "net_ring_%s", name);
		snprintf(pc->exception, sizeof(pc->exception), "rtp%u", p);
		snprintf(name, sizeof(name), "tw_tap%u", p);
		ring_port(name, n_workers, tap_ring_q[p]);
		tap_ring[p] = tap_ring_q[p][0];
		snprintf(pc->exception_device, sizeof(pc->exception_device), "net_ring_%s", name);
		for (unsigned a = 0; a < 2 && addr[p][a] != NULL; a++) {
			pc->addrs[a] = (struct dp_prefix){ dp_addr_v4(inet_addr(addr[p][a])), 24 };
			pc->n_addrs = a + 1;
		}
	}
	c.port[P1].neighbors[0].addr = dp_addr_v4(inet_addr("198.18.2.100"));
	memcpy(c.port[P1].neighbors[0].mac, dest_mac, 6);
	c.port[P1].n_neighbors = 1;
	c.workers = n_workers;
	c.workers_inline = true;
	c.mbufs = N_MBUFS;
	c.max_flows = 64;
	c.max_neighbors = 64;
	if (rig_conf_extra != NULL)
		rig_conf_extra(&c);
	dp = dp_create(&c, err, sizeof(err));
	if (dp == NULL) {
		fprintf(stderr, "dp_create: %s\n", err);
		exit(1);
	}
	for (unsigned p = 0; p < 2; p++) {
		struct dp_port_info pi;
		if (dp_port_info(dp, p, &pi) != 0)
			exit(1);
		memcpy(port_mac[p], pi.mac, 6);
	}
	pool = dp->pool;
	w = &dp->workers[0];
	for (unsigned i = 0; i < n_workers; i++)        /* offline but for rx_on() */
		rte_rcu_qsbr_thread_register(dp->qsv, i);
}

/* One iteration of worker wi's loop on these packets from dp port `port`: online for it only,
 * so that the control side (this same thread) can wait out grace periods in between. */
static inline void rx_on(unsigned wi, uint16_t port, struct rte_mbuf **pkts, uint16_t n)
{
	struct worker *wk = &dp->workers[wi];
	uint64_t now = rte_rdtsc();
	rte_rcu_qsbr_thread_online(dp->qsv, wi);
	worker_poll_handoff(wk, now);   /* what other workers handed over, first */
	if (n > 0)
		worker_handle_burst(wk, port, pkts, n, now);
	worker_poll_ctl(wk);
	worker_end_iteration(wk, now);
	rte_rcu_qsbr_thread_offline(dp->qsv, wi);
}

static inline void rx(uint16_t port, struct rte_mbuf **pkts, uint16_t n)
{
	rx_on(0, port, pkts, n);
}

static inline void rx1(uint16_t port, struct rte_mbuf *m) { rx(port, &m, 1); }

/* The worker's turn with nothing received: what control queued for it goes out. */
static inline void ctl_turn(void) { rx(0, NULL, 0); }

/* Take what left by a ring (a port's tx ring or its kernel interface's). */
static inline unsigned out(struct rte_ring *r, struct rte_mbuf **pkts, unsigned max)
{
	return rte_ring_dequeue_burst(r, (void **)pkts, max, NULL);
}

/* Nothing left anywhere: every port's and kernel interface's tx ring is empty. */
static inline void check_quiet(void)
{
	for (unsigned p = 0; p < 2; p++)
		for (unsigned q = 0; q < dp->n_workers; q++) {
			CHECK_EQ_U(rte_ring_count(tx_ring_q[p][q]), 0);
			CHECK_EQ_U(rte_ring_count(tap_ring_q[p][q]), 0);
		}
}

/* A session listen -> forward -> destination (ports in host order), forward RTP only;
 * the caller adds to it before install(). */
static inline struct dp_sess_spec spec(const char *listen, uint16_t lport, uint16_t fport,
		const char *dst, uint16_t dport)
{
	return (struct dp_sess_spec){ .listen_addr = dp_addr_v4(listen ? inet_addr(listen) : 0),
		.listen_port = lport, .forward_addr = dp_addr_v4(inet_addr("198.18.2.10")),
		.forward_port = fport, .dest_addr = dp_addr_v4(inet_addr(dst)), .dest_port = dport };
}

static inline struct dp_sess *install(const struct dp_sess_spec *sp)
{
	struct dp_sess *s = NULL;
	char msg[256];
	int ret = dp_sess_install(dp, sp, &s, msg, sizeof(msg));
	if (ret != 0)
		fprintf(stderr, "dp_sess_install: %s\n", msg);
	CHECK_EQ_U(ret, 0);
	return s;
}

/* The session goes: its flows out of the table, its next hop released. */
static inline void uninstall(struct dp_sess *s)
{
	dp_sess_remove(dp, s, NULL);
}

/* A flow's counters as GetSessionStatus reports them; received = sent + dropped always. */
static inline struct dp_flow_read flow_counters(const struct dp_sess *s, enum dp_flow_role role)
{
	struct dp_sess_read r;
	dp_sess_read(dp, s, &r);
	CHECK(r.flow[role].present);
	CHECK_EQ_U(r.flow[role].pkts_rx, r.flow[role].pkts_tx + r.flow[role].dropped);
	return r.flow[role];
}

static inline struct dp_flow_read fwd_stats(const struct dp_sess *s)
{
	return flow_counters(s, DP_FLOW_RTP);
}

static inline struct dp_flow_read rev_stats(const struct dp_sess *s)
{
	return flow_counters(s, DP_FLOW_REV_RTP);
}

/* The appliance's counters (GetProxyStats'). */
static inline struct dp_stats totals(void)
{
	static struct dp_stats st;      /* big: DP_MAX_WORKERS workers */
	dp_stats_read(dp, &st);
	return st;
}

/* Since `before`: `n` drops under `why` and none under any other reason. */
static inline void check_drops(const struct dp_stats *before, enum dp_drop why, uint64_t n)
{
	struct dp_stats now = totals();
	for (int d = 0; d < DROP_MAX; d++) {
		uint64_t delta = now.drops[d] - before->drops[d];
		if (delta != (d == (int)why ? n : 0))
			fprintf(stderr, "  drops[%s] moved by %llu\n", dp_drop_names[d],
					(unsigned long long)delta);
		CHECK_EQ_U(delta, d == (int)why ? n : 0);
	}
}

#define PLEN 172                    /* 12 + 160: one 20 ms PCMU packet */

/* Fill a ring with junk mbufs until only `room` places are left; how many went in. */
static inline unsigned fill_ring(struct rte_ring *r, unsigned room)
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

static inline void drain(struct rte_ring *r)
{
	struct rte_mbuf *m = NULL;
	while (rte_ring_dequeue(r, (void **)&m) == 0)
		rte_pktmbuf_free(m);
}

/* EAL without privileges or hugepages, then the data plane. */
static inline void rig_start(char *argv0, const char *name, unsigned n_workers)
{
	char prefix[64];
	snprintf(prefix, sizeof(prefix), "--file-prefix=%s%d", name, (int)getpid());
	char *eal[] = { argv0, "-l", "0", "--no-huge", "-m", "256", "--no-pci", "--no-shconf",
		prefix, "--log-level=error", NULL };
	if (rte_eal_init((int)RTE_DIM(eal) - 1, eal) < 0) {
		fprintf(stderr, "EAL init failed\n");
		exit(1);
	}
	setup(n_workers);
}

/* Nothing left in any ring, every mbuf back in the pool: nothing leaked on any path. */
static inline int rig_finish(const char *name)
{
	check_quiet();
	CHECK_EQ_U(rte_ring_count(dp->pending_ring), 0);
	CHECK_EQ_U(rte_ring_count(dp->arp_ring), 0);
	for (unsigned i = 0; i < dp->n_workers; i++)
		CHECK_EQ_U(rte_ring_count(dp->workers[i].from_ctl), 0);
	CHECK_EQ_U(rte_mempool_avail_count(pool), N_MBUFS);
	return check_summary(name);
}

#endif
