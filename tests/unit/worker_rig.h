/*
 * The worker rig of tests/unit/test_worker*.c (header-only, as check.h: its checks count in
 * the including test): two net_ring ports (and two more as their kernel interfaces) whose
 * rings the test fills and drains, a data plane with one worker driven in the test's own
 * thread, flows filled as control/sess.c fills them, the control lcore's slow path run by
 * hand. Frames are built and checked byte by byte, checksums recomputed from scratch.
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
static uint32_t dest_neigh;         /* 198.18.2.100, static */

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

static inline uint16_t ring_port(const char *name, struct rte_ring **tx)
{
	char rn[32];
	const unsigned f = RING_F_SP_ENQ | RING_F_SC_DEQ;
	snprintf(rn, sizeof(rn), "%s_rx", name);
	struct rte_ring *rx = rte_ring_create(rn, RING_SZ, SOCKET_ID_ANY, f);
	snprintf(rn, sizeof(rn), "%s_tx", name);
	*tx = rte_ring_create(rn, RING_SZ, SOCKET_ID_ANY, f);
	int id = rx && *tx ? rte_eth_from_rings(name, &rx, 1, tx, 1, rte_socket_id()) : -1;
	uint16_t e = (uint16_t)id;
	struct rte_eth_conf conf;
	memset(&conf, 0, sizeof(conf));
	if (id < 0 || rte_eth_dev_configure(e, 1, 1, &conf) != 0 ||
			rte_eth_rx_queue_setup(e, 0, RING_SZ, SOCKET_ID_ANY, NULL, pool) != 0 ||
			rte_eth_tx_queue_setup(e, 0, RING_SZ, SOCKET_ID_ANY, NULL) != 0 ||
			rte_eth_dev_start(e) != 0) {
		fprintf(stderr, "cannot make ring port %s\n", name);
		exit(1);
	}
	return (uint16_t)id;
}

/* The data plane as app/main.c assembles it: one worker, two ports. */
static inline void setup(void)
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
			dp->pending_ring == NULL || w->from_ctl == NULL ||
			worker_init_buffers(w) != 0) {
		fprintf(stderr, "data plane: out of memory\n");
		exit(1);
	}
	dest_neigh = neigh_add_static(dp->neigh, P1, ip("198.18.2.100"), dest_mac);
	rte_rcu_qsbr_thread_register(dp->qsv, 0);
}

/* One iteration of the worker's loop on these packets from dp port `port`: online for it only,
 * so that the control side (this same thread) can wait out grace periods in between. */
static inline void rx(uint16_t port, struct rte_mbuf **pkts, uint16_t n)
{
	uint64_t now = rte_rdtsc();
	rte_rcu_qsbr_thread_online(dp->qsv, 0);
	if (n > 0)
		worker_handle_burst(w, port, pkts, n, now);
	worker_poll_ctl(w);
	worker_end_iteration(w, now);
	rte_rcu_qsbr_thread_offline(dp->qsv, 0);
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
	for (unsigned p = 0; p < 2; p++) {
		CHECK_EQ_U(rte_ring_count(tx_ring[p]), 0);
		CHECK_EQ_U(rte_ring_count(tap_ring[p]), 0);
	}
}

/* A forward flow listen -> (forward, destination) as make_flow fills one; host-order ports. */
static inline struct flow *fwd_flow(const char *listen, uint16_t lport, const char *fwd,
		uint16_t fport, const char *dst, uint16_t dport, uint32_t neigh, uint16_t flags)
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

static inline void publish(struct flow *f)
{
	CHECK_EQ_U(flow_add(dp->flows, f), 0);
}

/* The session goes: its flow out of the table, its next hop released. */
static inline void unpublish(struct flow *f, uint32_t nh)
{
	CHECK_EQ_U(flow_del(dp->flows, f), 0);
	flow_table_sync(dp->flows);
	neigh_put(dp->neigh, nh);
}

/* The appliance's counters, control's included. */
static inline struct worker_stats totals(void)
{
	struct worker_stats s;
	dp_stats_sum(dp, &s);
	return s;
}

/* Since `before`: `n` drops under `why` and none under any other reason. */
static inline void check_drops(const struct worker_stats *before, enum dp_drop why, uint64_t n)
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
static inline struct flow_stats fstats(const struct flow *f)
{
	struct flow_stats s;
	flow_stats_read(f, &s);
	CHECK_EQ_U(s.pkts_rx, s.pkts_tx + s.dropped);
	return s;
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
static inline void rig_start(char *argv0, const char *name)
{
	char prefix[64];
	snprintf(prefix, sizeof(prefix), "--file-prefix=%s%d", name, (int)getpid());
	char *eal[] = { argv0, "-l", "0", "--no-huge", "-m", "256", "--no-pci", "--no-shconf",
		prefix, "--log-level=error", NULL };
	if (rte_eal_init((int)RTE_DIM(eal) - 1, eal) < 0) {
		fprintf(stderr, "EAL init failed\n");
		exit(1);
	}
	setup();
}

/* Nothing left in any ring, every mbuf back in the pool: nothing leaked on any path. */
static inline int rig_finish(const char *name)
{
	check_quiet();
	CHECK_EQ_U(rte_ring_count(dp->pending_ring), 0);
	CHECK_EQ_U(rte_ring_count(dp->arp_ring), 0);
	CHECK_EQ_U(rte_ring_count(w->from_ctl), 0);
	CHECK_EQ_U(rte_mempool_avail_count(pool), N_MBUFS);
	return check_summary(name);
}

#endif
