/*
 * rtpgen answers ARP requests (IPv4) and neighbour solicitations (IPv6, ndp.h) for its own
 * addresses (--src, --sink-addr, --arp-addr) on the port they arrive on, with the tag they
 * came with, and announces them, so a DUT that resolves its next hops finds the sink without
 * help. Both use the port's own MAC. --no-arp turns both off.
 */
#ifndef RTPGEN_ARP_H
#define RTPGEN_ARP_H

#include <stdbool.h>

#include <rte_mbuf.h>

#include "gen.h"

/* If m is an ARP request for one of our addresses (its ARP header at l3), turn it into the
 * reply and send it back out of rx port slot pi: true when the mbuf was consumed (sent). */
bool arp_answer(struct gen_lcore *lc, unsigned pi, struct rte_mbuf *m, uint32_t l3);

/* If m is a neighbour solicitation for one of our IPv6 addresses (its IPv6 header at l3,
 * tagged vid), send the advertisement out of rx port slot pi (m stays the caller's). */
void ndp_answer(struct gen_lcore *lc, unsigned pi, const struct rte_mbuf *m, uint32_t l3,
		int vid);

/*
 * Announce our addresses before a phase (gratuitous ARP requests, RFC 5227 style, or
 * unsolicited neighbour advertisements to all nodes): --src on the tx port tagged --tx-vlan,
 * --sink-addr on the rx port tagged --rx-vlan, every --arp-addr on both, so a DUT that waits
 * for an answer to its own request learns them now. The number of frames sent.
 */
unsigned arp_announce(struct gen_lcore *lc);

#endif
