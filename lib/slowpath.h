/*
 * The control lcore's share of the data plane: ARP and NDP (slowpath_nd.c) learning and
 * resolution, packets held until their next hop resolves, neighbour expiry. Polled from the
 * control loop.
 */
#ifndef RTPPROXY_SLOWPATH_H
#define RTPPROXY_SLOWPATH_H

#include <stdint.h>

struct dp;

/* Drain the workers' rings and run the neighbour timers. now_ms: a monotonic clock. */
void slowpath_poll(struct dp *dp, uint64_t now_ms);

/* Start resolving a next hop now (a flow was just installed towards it). */
void slowpath_resolve(struct dp *dp, uint32_t neigh_idx, uint64_t now_ms);

#endif
