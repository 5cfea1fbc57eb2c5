/*
 * rtpgen answers ARP requests for its own addresses (--src, --sink-addr, --arp-addr) on the
 * port they arrive on, and announces them, so a DUT that resolves its next hops finds the sink
 * without help. Both use the port's own MAC. --no-arp turns both off.
 */
#ifndef RTPGEN_ARP_H
#define RTPGEN_ARP_H

#include <stdbool.h>

#include <rte_mbuf.h>

#include "gen.h"

/* If m is an ARP request for one of our addresses, turn it into the reply and send it back
 * out of rx port slot pi: true when the mbuf was consumed (sent). */
bool arp_answer(struct gen_lcore *lc, unsigned pi, struct rte_mbuf *m);

/*
 * Announce our addresses (gratuitous ARP requests, RFC 5227 style) before a phase: --src on
 * the tx port, --sink-addr on the rx port, every --arp-addr on each, so a DUT that waits
 * for an answer to its own request learns them now. The number of frames sent.
 */
unsigned arp_announce(struct gen_lcore *lc);

#endif
