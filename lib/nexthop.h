/*
 * Which neighbour a session's packets go to: the destination itself when it is on one of
 * the forward port's subnets (on-link), else the port's gateway (IPv4) or gateway6 (IPv6).
 * Control lcore only.
 */
#ifndef RTPPROXY_NEXTHOP_H
#define RTPPROXY_NEXTHOP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct dp;
struct dp_port;

/* Is IPv6 address a within net/len (len 0..128)? */
bool nexthop_in_prefix6(const uint8_t a[16], const uint8_t net[16], unsigned len);

/* Is a link-local (fe80::/10)? Always on-link: a gateway6 may be one. */
static inline bool nexthop_link_local6(const uint8_t a[16])
{
	return a[0] == 0xfe && (a[1] & 0xc0) == 0x80;
}

/* The next hop towards IPv6 dest from port p into nh: 0, or -1 (off-link, no gateway6). */
int nexthop6(const struct dp_port *p, const uint8_t dest[16], uint8_t nh[16]);

/*
 * The neighbour entry of the next hop towards IPv6 dest from dp port `port`, with a
 * reference taken (neigh_put gives it back): 0 and *neigh, or DP_SESS_NO_ROUTE /
 * DP_SESS_FULL and msg naming destination_endpoint.address.
 */
int dp_next_hop6(struct dp *dp, unsigned port, const uint8_t dest[16], uint32_t *neigh,
		char *msg, size_t msglen);

#endif
