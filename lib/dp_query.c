/*
 * What the control lcore asks of a running data plane (rp_dp.h): its periodic slow-path
 * work, the ports, appliance-wide counters.
 */
#include <string.h>
#include <time.h>
#include <rte_cycles.h>
#include <rte_ethdev.h>

#include "dp.h"
#include "slowpath.h"

uint64_t dp_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

void dp_poll(struct dp *dp)
{
	uint64_t now = dp_now_ms();
	slowpath_poll(dp, now);
	if (dp->announce_left)
		dp_announce_poll(dp, now);
}

unsigned dp_n_ports(const struct dp *dp)
{
	return dp->n_ports;
}

int dp_port_of_addr(const struct dp *dp, const struct dp_addr *addr)
{
	if (dp_addr_is_v6(addr))
		return dp_owner_of6(dp, addr->v6);
	return dp_addr_is_v4(addr) ? dp_owner_of(dp, addr->v4) : -1;
}

int dp_port_info(const struct dp *dp, unsigned idx, struct dp_port_info *out)
{
	if (idx >= dp->n_ports)
		return -1;
	const struct dp_port *p = &dp->port[idx];
	memset(out, 0, sizeof(*out));
	snprintf(out->name, sizeof(out->name), "%s", p->name);
	snprintf(out->exception, sizeof(out->exception), "%s", p->tap_name);
	out->eth_id = p->eth_id;
	memcpy(out->mac, p->mac.addr_bytes, 6);
	for (unsigned a = 0; a < p->n_addr; a++) {
		out->addr[a] = dp_addr_v4(p->addr[a]);
		out->prefix_len[a] = (uint8_t)__builtin_popcount(p->mask[a]);
	}
	for (unsigned a = 0; a < p->n_addr6 && p->n_addr + a < DP_MAX_ADDRS; a++) {
		struct dp_addr *x = &out->addr[p->n_addr + a];
		x->family = DP_AF_INET6;
		memcpy(x->v6, p->addr6[a], 16);
		out->prefix_len[p->n_addr + a] = p->plen6[a];
	}
	out->n_addrs = RTE_MIN(p->n_addr + p->n_addr6, (unsigned)DP_MAX_ADDRS);
	if (p->gateway != 0)
		out->gateway = dp_addr_v4(p->gateway);
	static const uint8_t zero[16];
	if (memcmp(p->gateway6, zero, 16) != 0) {
		out->gateway6.family = DP_AF_INET6;
		memcpy(out->gateway6.v6, p->gateway6, 16);
	}
	return 0;
}

void dp_stats_read(const struct dp *dp, struct dp_stats *out)
{
	struct worker_stats ws;
	memset(out, 0, sizeof(*out));
	dp_stats_sum(dp, &ws);
	memcpy(out->drops, ws.drops, sizeof(out->drops));
	out->n_ports = dp->n_ports;
	for (unsigned i = 0; i < dp->n_ports; i++) {
		struct dp_port_stats *p = &out->port[i];
		struct rte_eth_stats es = { 0 };
		rte_eth_stats_get(dp->port[i].eth_id, &es);
		p->eth_id = dp->port[i].eth_id;
		p->rx_packets = es.ipackets;
		p->tx_packets = es.opackets;
		p->rx_bytes = es.ibytes;
		p->tx_bytes = es.obytes;
		p->rx_missed = es.imissed;
		if (dp->port[i].dev_shared) {
			/* sections of one device (VLANs): what each received and sent, as the
			 * data plane counted it; what the device missed is its owner's */
			p->rx_packets = ws.sec_rx[i];
			p->rx_bytes = ws.sec_rx_bytes[i];
			p->tx_packets = ws.sec_tx[i];
			p->tx_bytes = ws.sec_tx_bytes[i];
			if (dp->port[i].dev_owner != i)
				p->rx_missed = 0;
		}
		p->tx_failed = ws.tx_failed[i];
		p->exception = ws.exception[i];
	}
	out->n_workers = dp->n_workers < DP_MAX_WORKERS ? dp->n_workers : DP_MAX_WORKERS;
	for (unsigned w = 0; w < out->n_workers; w++) {
		const struct worker *wk = &dp->workers[w];
		struct dp_worker_stats *x = &out->worker[w];
		x->index = wk->index;
		x->lcore = wk->lcore;
		x->relayed = wk->stats.relayed;
		x->iterations = wk->stats.iterations;
		x->busy_iterations = wk->stats.busy_iterations;
		x->busy_cycles = wk->stats.busy_cycles;
		x->handed_off = wk->stats.handed_off;
	}
	out->tsc_hz = rte_get_tsc_hz();
}
