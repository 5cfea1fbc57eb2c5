/*
 * The control lcore's neighbour discovery (IPv6's ARP): solicitations for next hops being
 * resolved, learning from the NAs (and NSs) the workers pass up, and unsolicited NAs of our
 * own addresses. slowpath.c sends what these build and releases what they resolve.
 */
#ifndef RTPPROXY_SLOWPATH_ND_H
#define RTPPROXY_SLOWPATH_ND_H

#include <stdint.h>

struct dp;
struct neigh_entry;
struct rte_mbuf;

/* A neighbour solicitation for entry e (an IPv6 next hop) to its solicited-node group, from
 * the port's address on e's prefix (its link-local for a link-local next hop; a standby's from
 * ::, without its MAC). NULL when out of mbufs or when the port has no IPv6 address to ask
 * from. */
struct rte_mbuf *nd_solicit(struct dp *dp, const struct neigh_entry *e);

/* Learn from an NS or NA frame that arrived on dp port `port` (neigh_learn6's rules; only
 * what is addressed to us). The entry that became usable (its held packets can go), or
 * NEIGH_NONE. The frame stays the caller's (it goes on to the kernel). */
uint32_t nd_learn(struct dp *dp, uint16_t port, const struct rte_mbuf *m, uint64_t now_ms);

/* An unsolicited NA (override) of every IPv6 address of every port, through worker 0 (a
 * standby taking over, RFC 4861 7.2.6). The number queued. */
unsigned dp_announce_na(struct dp *dp);

#endif
