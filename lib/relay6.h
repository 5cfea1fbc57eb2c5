/*
 * The worker's share of IPv6 (API.md 1.5): what it does differently for a flow with
 * FLOW_F_IN6 or FLOW_F_OUT6 - the reverse flow's source check and the client's latch on IPv6
 * addresses, and the rewrite within IPv6 or across families (the mbuf grows or shrinks by the
 * header difference at its front; the payload is not copied). IPv4 flows never come here:
 * worker.c tests the flow's flags first.
 */
#ifndef RTPPROXY_RELAY6_H
#define RTPPROXY_RELAY6_H

#include <stdbool.h>
#include <stdint.h>
#include <rte_mbuf.h>

#include "dp.h"
#include "pkt.h"

/* A reverse flow with FLOW_F_IN6: does the packet come from the destination? */
bool relay6_from_peer(const struct dp *dp, const struct flow *f, const uint8_t *frame,
		const struct pkt_info *info);

/* A forward flow with FLOW_F_IN6: latch its client as latch.c's rules allow; whether the
 * packet now comes from the latched client (strict_source). */
bool relay6_latch_source(struct worker *w, struct flow *f, const uint8_t *frame,
		const struct pkt_info *info, uint16_t rx_port);

/*
 * Rewrite an admitted packet of a flow with FLOW_F_V6 for where it goes (6 -> 6, 4 -> 6 or
 * 6 -> 4) and say where that is: *tx_port, and *resolved false when the next hop's MAC is not
 * known yet (the frame then waits for it as an IPv4 one does). DROP_MAX when done, else why
 * the packet cannot go (no_flow: no client latched yet; too_big: over the egress MTU once
 * its header grew; malformed: an IPv4 UDP checksum that is wrong, which IPv6 would carry);
 * the caller drops it.
 */
enum dp_drop relay6_rewrite(struct worker *w, struct rte_mbuf *m, const struct pkt_info *info,
		struct flow *f, uint16_t *tx_port, bool *resolved);

#endif
