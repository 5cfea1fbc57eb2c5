/*
 * The data plane's settings and sums, for the control lcore: drop reason names, which port owns
 * an address, RTP clock rates, the exception path's buckets and UDP services, the workers'
 * counters summed. Nothing here runs per packet.
 */
#include <string.h>
#include <rte_common.h>
#include <rte_cycles.h>

#include "dp.h"
#include "neigh.h"
#include "rtp.h"

const char *const dp_drop_names[DROP_MAX] = {
	[DROP_MALFORMED] = "malformed",
	[DROP_FRAGMENT] = "fragment",
	[DROP_NO_FLOW] = "no_flow",
	[DROP_RATE_LIMIT] = "rate_limit",
	[DROP_INVALID_RTP] = "invalid_rtp",
	[DROP_NOT_FROM_DESTINATION] = "not_from_destination",
	[DROP_NO_NEIGHBOR] = "no_neighbor",
	[DROP_TTL_EXCEEDED] = "ttl_exceeded",
	[DROP_TX_FULL] = "tx_full",
	[DROP_FILTERED] = "filtered",
	[DROP_EXCEPTION_LIMIT] = "exception_limit",
	[DROP_NOT_FROM_CLIENT] = "not_from_client",
	[DROP_HANDOFF_FULL] = "handoff_full",
	[DROP_UNKNOWN_VLAN] = "unknown_vlan",
	[DROP_TOO_BIG] = "too_big",
};

int dp_owner_of(const struct dp *dp, uint32_t a)
{
	for (unsigned p = 0; p < dp->n_ports; p++)
		if (dp_port_owns(&dp->port[p], a))
			return (int)p;
	return -1;
}

int dp_owner_of6(const struct dp *dp, const uint8_t *a)
{
	for (unsigned p = 0; p < dp->n_ports; p++)
		if (dp_port_owns6(&dp->port[p], a))
			return (int)p;
	return -1;
}

void dp_set_clock_rate(struct dp *dp, unsigned pt, uint32_t hz)
{
	dp->clk_rate[pt & 0x7f] = hz;
	dp->clk_mult[pt & 0x7f] = (uint64_t)(((unsigned __int128)hz << 32) / rte_get_tsc_hz());
}

void dp_clock_defaults(struct dp *dp)
{
	for (unsigned pt = 0; pt < 128; pt++)
		dp_set_clock_rate(dp, pt, RTP_CLOCK_DEFAULT);
}

void dp_stats_sum(const struct dp *dp, struct worker_stats *out)
{
	memset(out, 0, sizeof(*out));
	for (unsigned w = 0; w < dp->n_workers; w++) {
		const struct worker_stats *s = &dp->workers[w].stats;
		for (int d = 0; d < DROP_MAX; d++)
			out->drops[d] += s->drops[d];
		for (int p = 0; p < DP_MAX_PORTS; p++) {
			out->exception[p] += s->exception[p];
			out->tx_failed[p] += s->tx_failed[p];
			out->sec_rx[p] += s->sec_rx[p];
			out->sec_rx_bytes[p] += s->sec_rx_bytes[p];
			out->sec_tx[p] += s->sec_tx[p];
			out->sec_tx_bytes[p] += s->sec_tx_bytes[p];
		}
		out->relayed += s->relayed;
		out->iterations += s->iterations;
		out->busy_iterations += s->busy_iterations;
		out->busy_cycles += s->busy_cycles;
		out->handed_off += s->handed_off;
	}
	for (int d = 0; d < DROP_MAX; d++)
		out->drops[d] += dp->ctl_drops[d];
	if (dp->neigh != NULL)
		out->drops[DROP_NO_NEIGHBOR] += dp->neigh->dropped;
}

#define EXC_BURST_DIV 10        /* a bucket holds 100 ms of its rate */

void dp_set_exception_rate(struct dp *dp, unsigned port, uint32_t pps)
{
	struct dp_port *p = &dp->port[port];
	unsigned nw = dp->n_workers ? dp->n_workers : 1;
	p->exc_cost = p->exc_burst = 0;
	if (pps != 0) {
		uint64_t burst = RTE_MAX((uint64_t)pps / nw / EXC_BURST_DIV, (uint64_t)DP_BURST);
		p->exc_cost = RTE_MAX(rte_get_tsc_hz() * nw / pps, (uint64_t)1);
		p->exc_burst = burst * p->exc_cost;
	}
	for (unsigned w = 0; w < dp->n_workers; w++)
		dp->workers[w].exc[port] = (struct worker_bucket){
			.credit = p->exc_burst, .last = rte_rdtsc() };
}

void dp_port_allow_udp(struct dp_port *p, uint16_t port)
{
	p->udp_allow[port >> 6] |= 1ULL << (port & 63);
}
