/*
 * One writer per flow (docs/ARCHITECTURE.md): each flow has an owning worker (flow->owner); a
 * worker that receives a packet of a flow it does not own passes it to the owner through the
 * owner's multi-producer ring, which the owner drains at the top of its loop. Ports with
 * destination-only RSS need it only for wildcard listens; with one worker there is no ring.
 */
#ifndef RTPPROXY_HANDOFF_H
#define RTPPROXY_HANDOFF_H

#include <stdint.h>

#include "dp.h"

/* The worker's ring (more than one worker) and the flow table's owner count. 0 or -ENOMEM. */
int handoff_init(struct worker *w);
/* Free the ring and the packets still in it. */
void handoff_fini(struct worker *w);

/* Pass n packets that arrived on dp port rx_port, of flows[i] (not this worker's), to their
 * owners; counts handed_off, or drops under handoff_full. */
void hand_off(struct worker *w, uint16_t rx_port, struct rte_mbuf **pkts, struct flow **flows,
		uint16_t n);

#endif
