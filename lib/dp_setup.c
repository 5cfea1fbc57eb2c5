/*
 * Building and tearing down a data plane (rp_dp.h): mbuf pools, tables, rings, workers and
 * ports with their kernel interfaces, in that order; and launching / stopping the workers.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_launch.h>
#include <rte_lcore.h>
#include <rte_log.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>
#include <rte_rcu_qsbr.h>
#include <rte_ring.h>

#include "dp.h"
#include "kif.h"
#include "kif6.h"
#include "log.h"
#include "port.h"
#include "rtp.h"
#include "vlan.h"

#define KIF_TABLE_BASE 100      /* kernel routing table of port i: 100 + i */
#define NEIGH_CAPACITY 4096

static int fail(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -1;
}

static uint32_t mask_of(uint8_t len)
{
	return len ? htonl(~0u << (32 - len)) : 0;
}

static void port_from_conf(struct dp *dp, unsigned idx, const struct dp_port_conf *c)
{
	struct dp_port *p = &dp->port[idx];
	snprintf(p->name, sizeof(p->name), "%s", c->name);
	snprintf(p->tap_name, sizeof(p->tap_name), "%s", c->exception);
	snprintf(p->exc_device, sizeof(p->exc_device), "%s", c->exception_device);
	p->eth_id = p->tap_id = UINT16_MAX;
	p->dev_owner = (uint16_t)idx;           /* until vlan_plan groups the sections */
	for (unsigned i = 0; i < c->n_addrs; i++) {
		const struct dp_prefix *a = &c->addrs[i];
		if (dp_addr_is_v6(&a->addr)) {
			memcpy(p->addr6[p->n_addr6], a->addr.v6, 16);
			p->plen6[p->n_addr6++] = a->len;
			continue;
		}
		p->addr[p->n_addr] = a->addr.v4;
		p->mask[p->n_addr++] = mask_of(a->len);
	}
	p->gateway = dp_addr_is_v4(&c->gateway) ? c->gateway.v4 : 0;
	if (dp_addr_is_v6(&c->gateway6))
		memcpy(p->gateway6, c->gateway6.v6, 16);
	dp_set_exception_rate(dp, idx, c->exception_rate_pps);
	for (unsigned s = 0; s < c->n_udp_allow; s++)
		dp_port_allow_udp(p, c->udp_allow[s]);
}

/* The mbuf pool on a NUMA socket, created the first time a port there needs it. */
static struct rte_mempool *pool_on(struct dp *dp, unsigned mbufs, int socket, char *err,
		size_t errlen)
{
	char name[RTE_MEMPOOL_NAMESIZE];
	if (socket < 0 || socket >= RTE_MAX_NUMA_NODES)
		socket = 0;
	if (dp->pools[socket] == NULL) {
		snprintf(name, sizeof(name), "mbufs_s%d", socket);
		dp->pools[socket] = rte_pktmbuf_pool_create(name, mbufs, 256, 0,
				RTE_MBUF_DEFAULT_BUF_SIZE, socket);
		if (dp->pools[socket] == NULL)
			fail(err, errlen, "mbufs (%u): %s", mbufs, rte_strerror(rte_errno));
	}
	return dp->pools[socket];
}

/* IPv6 on the port's kernel interface: its link-local (the data plane's too, for NS to a
 * link-local gateway6) and addresses, and with a gateway6 the same table as IPv4's (kif6.h). */
static int setup_kernel6(const struct dp_port *p, unsigned idx, char *err, size_t errlen)
{
	static const uint8_t zero[16];
	bool gw6 = memcmp(p->gateway6, zero, 16) != 0;
	char e[256];
	if (p->n_addr6 == 0)
		return 0;
	if (kif_add_ipv6(p->tap_name, p->ll6, 64, e, sizeof(e)) != 0)
		return fail(err, errlen, "%s: %s", p->name, e);
	for (unsigned a = 0; a < p->n_addr6; a++)
		if (kif_add_ipv6(p->tap_name, p->addr6[a], p->plen6[a], e, sizeof(e)) != 0 ||
				(gw6 && kif_add_onlink6(p->tap_name, p->addr6[a], p->plen6[a],
							KIF_TABLE_BASE + idx, e, sizeof(e)) != 0))
			return fail(err, errlen, "%s: %s", p->name, e);
	if (gw6 && kif_add_gateway6(p->tap_name, p->gateway6, (const uint8_t (*)[16])p->addr6,
				p->n_addr6, KIF_TABLE_BASE + idx, e, sizeof(e)) != 0)
		return fail(err, errlen, "%s: %s", p->name, e);
	return 0;
}

/* The port's kernel interface: up, with the port's addresses and, with a gateway, a routing
 * table of its own (kif.h). */
static int setup_kernel(const struct dp_port *p, unsigned idx, const struct dp_port_conf *c,
		char *err, size_t errlen)
{
	char e[256];
	if (kif_up(p->tap_name, e, sizeof(e)) != 0)
		return fail(err, errlen, "%s: %s", p->name, e);
	for (unsigned a = 0; a < c->n_addrs; a++)
		if (dp_addr_is_v4(&c->addrs[a].addr) && kif_add_ipv4(p->tap_name,
					c->addrs[a].addr.v4, c->addrs[a].len, e, sizeof(e)) != 0)
			return fail(err, errlen, "%s: %s", p->name, e);
	for (unsigned a = 0; p->gateway != 0 && a < c->n_addrs; a++)
		if (dp_addr_is_v4(&c->addrs[a].addr) &&
				kif_add_onlink(p->tap_name, c->addrs[a].addr.v4, c->addrs[a].len,
					KIF_TABLE_BASE + idx, e, sizeof(e)) != 0)
			return fail(err, errlen, "%s: %s", p->name, e);
	if (p->gateway != 0 && kif_add_gateway(p->tap_name, p->gateway, p->addr, p->n_addr,
				KIF_TABLE_BASE + idx, e, sizeof(e)) != 0)
		return fail(err, errlen, "%s: %s", p->name, e);
	return setup_kernel6(p, idx, err, errlen);
}

/* Neighbour solicitations for the port's IPv6 addresses go to their solicited-node groups,
 * unsolicited advertisements to all nodes: let those multicast frames in (the device's
 * multicast filter, else all multicast; a promiscuous device takes them anyway). The filter
 * is the device's: it lists the groups of every section (VLAN) that shares it. */
static void port_join_nd(const struct dp *dp, const struct dp_port *p)
{
	struct rte_ether_addr mc[DP_MAX_PORTS * (DP_MAX_ADDRS + 1) + 1] = {
		{ { 0x33, 0x33, 0, 0, 0, 1 } } };
	uint32_t n = 1;
	if (p->n_addr6 == 0 || rte_eth_promiscuous_get(p->eth_id) == 1)
		return;
	for (unsigned s = 0; s < dp->n_ports; s++) {
		const struct dp_port *q = &dp->port[s];
		if (q->dev_owner != p->dev_owner || q->n_addr6 == 0)
			continue;
		for (unsigned a = 0; a <= q->n_addr6; a++) {
			/* the link-local last: the sections share the device's MAC, so one */
			const uint8_t *x = a < q->n_addr6 ? q->addr6[a] : p->ll6;
			struct rte_ether_addr g = { { 0x33, 0x33, 0xff, x[13], x[14], x[15] } };
			bool dup = false;
			for (uint32_t k = 0; k < n; k++)
				dup |= rte_is_same_ether_addr(&mc[k], &g);
			if (!dup)
				mc[n++] = g;
		}
	}
	if (rte_eth_dev_set_mc_addr_list(p->eth_id, mc, n) == 0 ||
			rte_eth_allmulticast_enable(p->eth_id) == 0)
		return;
	RTE_LOG(INFO, DP, "%s: the device takes no multicast list and no all-multicast mode: "
			"neighbour solicitations reach it only if it delivers multicast anyway "
			"(raw-socket devices do)\n", p->name);
}

static int setup_ports(struct dp *dp, const struct dp_conf *conf, char *err, size_t errlen)
{
	char e[256];
	/* every device first: sections that share one (VLANs) are known before it starts */
	for (unsigned i = 0; i < conf->n_ports; i++) {
		const struct dp_port_conf *c = &conf->port[i];
		port_from_conf(dp, i, c);
		dp->n_ports = i + 1;
		if (port_probe(c->device, &dp->port[i].eth_id, e, sizeof(e)) != 0)
			return fail(err, errlen, "%s: %s", c->name, e);
	}
	if (vlan_plan(dp, conf, err, errlen) != 0)
		return -1;
	for (unsigned i = 0; i < conf->n_ports; i++) {
		const struct dp_port_conf *c = &conf->port[i];
		struct dp_port *p = &dp->port[i];
		struct rte_mempool *pool = pool_on(dp, conf->mbufs,
				rte_eth_dev_socket_id(p->eth_id), err, errlen);
		if (pool == NULL)
			return -1;
		if (dp->pool == NULL)
			dp->pool = pool;    /* the control lcore's ARP requests */
		if (port_start(dp, i, pool, e, sizeof(e)) != 0)
			return fail(err, errlen, "%s: %s", c->name, e);
		if (p->n_addr6 > 0) {
			kif6_link_local(p->mac.addr_bytes, p->ll6);
			p->has_ll6 = true;
			port_join_nd(dp, p);
		}
		if (p->exc_device[0] == '\0' && setup_kernel(p, i, c, err, errlen) != 0)
			return -1;
		for (unsigned n = 0; n < c->n_neighbors; n++)
			if ((dp_addr_is_v6(&c->neighbors[n].addr) ?
						neigh_add_static6(dp->neigh, (uint16_t)i,
							c->neighbors[n].addr.v6, c->neighbors[n].mac) :
						neigh_add_static(dp->neigh, (uint16_t)i,
							c->neighbors[n].addr.v4, c->neighbors[n].mac))
					== NEIGH_NONE)
				return fail(err, errlen, "%s: neighbors: the neighbour table is full",
						c->name);
		RTE_LOG(INFO, DP, "%s: %s, VLAN %u, %u queue(s), kernel interface %s\n", c->name,
				c->device, p->vlan, p->nb_queues,
				p->exc_device[0] ? p->exc_device : p->tap_name);
	}
	return 0;
}

static int setup_workers(struct dp *dp, const struct dp_conf *conf, char *err, size_t errlen)
{
	unsigned lcore = rte_lcore_id(), w;

	if (!conf->workers_inline && rte_lcore_count() < conf->workers + 1)
		return fail(err, errlen, "[dataplane] workers: needs %u lcores (1 control + %u), "
				"EAL gave %u", conf->workers + 1, conf->workers, rte_lcore_count());
	dp->workers = rte_zmalloc("workers", sizeof(struct worker) * conf->workers,
			RTE_CACHE_LINE_SIZE);
	if (dp->workers == NULL)
		return fail(err, errlen, "workers: out of memory");
	dp->n_workers = conf->workers;
	for (w = 0; w < conf->workers; w++) {
		struct worker *wk = &dp->workers[w];
		char name[RTE_RING_NAMESIZE];
		if (!conf->workers_inline)
			lcore = rte_get_next_lcore(lcore, 1, 0);
		wk->dp = dp;
		wk->index = w;
		wk->lcore = lcore;
		wk->polls_taps = w == 0;
		snprintf(name, sizeof(name), "from_ctl%u", w);
		wk->from_ctl = rte_ring_create(name, DP_CTL_RING, (int)rte_lcore_to_socket_id(lcore),
				RING_F_SP_ENQ | RING_F_SC_DEQ);
		if (wk->from_ctl == NULL)
			return fail(err, errlen, "workers: cannot create a ring: %s",
					rte_strerror(rte_errno));
	}
	return 0;
}

/* Each worker polls its own queue of every port: queue w belongs to worker w. */
static int assign_queues(struct dp *dp, char *err, size_t errlen)
{
	for (unsigned w = 0; w < dp->n_workers; w++) {
		struct worker *wk = &dp->workers[w];
		for (unsigned p = 0; p < dp->n_ports; p++) {
			if (dp->port[p].dev_owner != p)
				continue;       /* its device's owner polls for it (vlan.h) */
			if (wk->n_rxq == DP_MAX_RXQ)
				return fail(err, errlen, "workers: too many rx queues per worker");
			wk->rxq[wk->n_rxq].port = (uint16_t)p;
			wk->rxq[wk->n_rxq++].queue = (uint16_t)w;
		}
		if (worker_init_buffers(wk) != 0)
			return fail(err, errlen, "workers: out of memory");
	}
	return 0;
}

/* A port's addresses, gateways and neighbours: each of its family (IPv4 or IPv6). */
static int check_port_addrs(const struct dp_port_conf *p, char *err, size_t errlen)
{
	bool has6 = false;
	for (unsigned a = 0; a < p->n_addrs; a++) {
		const struct dp_prefix *x = &p->addrs[a];
		if (!(dp_addr_is_v4(&x->addr) && x->len <= 32) &&
				!(dp_addr_is_v6(&x->addr) && x->len <= 128))
			return fail(err, errlen, "%s: address: not an IPv4 or IPv6 prefix", p->name);
		has6 |= dp_addr_is_v6(&x->addr);
	}
	if (!dp_addr_is_none(&p->gateway) && !dp_addr_is_v4(&p->gateway))
		return fail(err, errlen, "%s: gateway: not an IPv4 address", p->name);
	if (!dp_addr_is_none(&p->gateway6) && (!dp_addr_is_v6(&p->gateway6) ||
				dp_addr_is_any(&p->gateway6) || p->gateway6.v6[0] == 0xff))
		return fail(err, errlen, "%s: gateway6: not a unicast IPv6 address", p->name);
	if (!dp_addr_is_none(&p->gateway6) && !has6)
		return fail(err, errlen, "%s: gateway6: the port has no IPv6 address to reach it "
				"from", p->name);
	for (unsigned n = 0; n < p->n_neighbors && n < DP_MAX_NEIGHBORS; n++)
		if (!dp_addr_is_v4(&p->neighbors[n].addr) && !dp_addr_is_v6(&p->neighbors[n].addr))
			return fail(err, errlen, "%s: neighbors: not an IP address", p->name);
	return 0;
}

static int check_conf(const struct dp_conf *c, char *err, size_t errlen)
{
	if (c->n_ports == 0 || c->n_ports > DP_MAX_PORTS)
		return fail(err, errlen, "ports: %u, expected 1..%u", c->n_ports, DP_MAX_PORTS);
	if (c->workers == 0 || c->workers > DP_MAX_WORKERS)
		return fail(err, errlen, "[dataplane] workers: %u, expected 1..%u", c->workers,
				DP_MAX_WORKERS);
	for (unsigned i = 0; i < c->n_ports; i++) {
		const struct dp_port_conf *p = &c->port[i];
		if (p->n_addrs == 0 || p->n_addrs > DP_MAX_ADDRS)
			return fail(err, errlen, "%s: address: %u addresses, expected 1..%u",
					p->name, p->n_addrs, DP_MAX_ADDRS);
		if (p->n_neighbors > DP_MAX_NEIGHBORS || p->n_udp_allow > DP_MAX_UDP_ALLOW)
			return fail(err, errlen, "%s: too many neighbors or kernel_allow entries",
					p->name);
		if (p->vlan > 4094)
			return fail(err, errlen, "%s: vlan: %u, expected 0..4094", p->name, p->vlan);
		if (p->exception[0] == '\0' && p->exception_device[0] == '\0')
			return fail(err, errlen, "%s: exception: no kernel interface name", p->name);
		if (check_port_addrs(p, err, errlen) != 0)
			return -1;
	}
	return 0;
}

struct dp *dp_create(const struct dp_conf *conf, char *err, size_t errlen)
{
	int socket = (int)rte_socket_id();
	if (check_conf(conf, err, errlen) != 0)
		return NULL;
	struct dp *dp = rte_zmalloc_socket("dp", sizeof(*dp), RTE_CACHE_LINE_SIZE, socket);
	if (dp == NULL) {
		fail(err, errlen, "dataplane: out of memory");
		return NULL;
	}
	memset(dp->port_of_eth, -1, sizeof(dp->port_of_eth));
	dp->idle_sleep_us = conf->idle_sleep_us;
	dp->workers_inline = conf->workers_inline;
	dp->passive = conf->passive;
	for (unsigned pt = 0; pt < 128; pt++)
		dp_set_clock_rate(dp, pt, conf->clock_rate[pt] ? conf->clock_rate[pt] :
				RTP_CLOCK_DEFAULT);

	size_t qs = rte_rcu_qsbr_get_memsize(conf->workers);
	dp->qsv = rte_zmalloc_socket("qsbr", qs, RTE_CACHE_LINE_SIZE, socket);
	if (dp->qsv == NULL || rte_rcu_qsbr_init(dp->qsv, conf->workers) != 0) {
		fail(err, errlen, "rcu: cannot create the QSBR variable");
		goto fail;
	}
	dp->flows = flow_table_create("flows", conf->max_flows, socket, dp->qsv);
	if (dp->flows == NULL) {
		fail(err, errlen, "flow table (%u flows): %s", conf->max_flows,
				rte_strerror(rte_errno));
		goto fail;
	}
	dp->neigh = neigh_table_create(conf->max_neighbors ? conf->max_neighbors :
			NEIGH_CAPACITY, socket);
	dp->arp_ring = rte_ring_create("arp", DP_CTL_RING, socket, RING_F_SC_DEQ);
	dp->pending_ring = rte_ring_create("pending", DP_CTL_RING, socket, RING_F_SC_DEQ);
	if (dp->neigh == NULL || dp->arp_ring == NULL || dp->pending_ring == NULL) {
		fail(err, errlen, "dataplane: out of memory");
		goto fail;
	}
	if (setup_workers(dp, conf, err, errlen) != 0 || setup_ports(dp, conf, err, errlen) != 0 ||
			assign_queues(dp, err, errlen) != 0)
		goto fail;
	return dp;
fail:
	dp_destroy(dp);
	return NULL;
}

int dp_start(struct dp *dp, char *err, size_t errlen)
{
	if (dp->workers_inline)
		return fail(err, errlen, "workers: driven by the caller (workers_inline)");
	dp->stop = false;
	for (unsigned w = 0; w < dp->n_workers; w++) {
		int ret = rte_eal_remote_launch(worker_main, &dp->workers[w], dp->workers[w].lcore);
		if (ret != 0) {
			dp_stop(dp);
			return fail(err, errlen, "worker %u: cannot launch on lcore %u: %s", w,
					dp->workers[w].lcore, strerror(-ret));
		}
		dp->running = true;
	}
	return 0;
}

void dp_stop(struct dp *dp)
{
	if (!dp->running)
		return;
	dp->stop = true;
	for (unsigned w = 0; w < dp->n_workers; w++)
		rte_eal_wait_lcore(dp->workers[w].lcore);
	dp->running = false;
}

static void drain_free(struct rte_ring *r)
{
	struct rte_mbuf *m = NULL;
	while (r != NULL && rte_ring_dequeue(r, (void **)&m) == 0)
		rte_pktmbuf_free(m);
	rte_ring_free(r);
}

void dp_destroy(struct dp *dp)
{
	if (dp == NULL)
		return;
	dp_stop(dp);
	port_close_all(dp);
	for (unsigned w = 0; w < dp->n_workers; w++) {
		struct worker *wk = &dp->workers[w];
		drain_free(wk->from_ctl);
		worker_free_buffers(wk);
	}
	drain_free(dp->arp_ring);
	drain_free(dp->pending_ring);
	rte_free(dp->workers);
	neigh_table_free(dp->neigh);
	flow_table_free(dp->flows);
	rte_free(dp->qsv);
	for (int s = 0; s < RTE_MAX_NUMA_NODES; s++)
		rte_mempool_free(dp->pools[s]);
	rte_free(dp);
}
