/* Next-hop choice for IPv6 destinations (nexthop.h). */
#include "nexthop.h"

#include <stdio.h>
#include <string.h>
#include <arpa/inet.h>

#include "dp.h"

bool nexthop_in_prefix6(const uint8_t a[16], const uint8_t net[16], unsigned len)
{
	if (len > 128)
		return false;
	unsigned bytes = len / 8, bits = len % 8;
	if (memcmp(a, net, bytes) != 0)
		return false;
	if (bits == 0)
		return true;
	uint8_t mask = (uint8_t)(0xff00 >> bits);
	return ((a[bytes] ^ net[bytes]) & mask) == 0;
}

static bool is_zero6(const uint8_t a[16])
{
	static const uint8_t zero[16];
	return memcmp(a, zero, 16) == 0;
}

int nexthop6(const struct dp_port *p, const uint8_t dest[16], uint8_t nh[16])
{
	bool onlink = nexthop_link_local6(dest);
	for (unsigned i = 0; !onlink && i < p->n_addr6; i++)
		onlink = nexthop_in_prefix6(dest, p->addr6[i], p->plen6[i]);
	if (onlink) {
		memcpy(nh, dest, 16);
		return 0;
	}
	if (is_zero6(p->gateway6))
		return -1;
	memcpy(nh, p->gateway6, 16);
	return 0;
}

int dp_next_hop6(struct dp *dp, unsigned port, const uint8_t dest[16], uint32_t *neigh,
		char *msg, size_t msglen)
{
	const struct dp_port *p = &dp->port[port];
	uint8_t nh[16];
	char a[INET6_ADDRSTRLEN];

	if (nexthop6(p, dest, nh) != 0) {
		inet_ntop(AF_INET6, dest, a, sizeof(a));
		snprintf(msg, msglen, "destination_endpoint.address: %s is not on an IPv6 subnet "
				"of %s (which owns the forward address) and %s has no gateway6", a,
				p->name, p->name);
		return DP_SESS_NO_ROUTE;
	}
	*neigh = neigh_get6(dp->neigh, (uint16_t)port, nh);
	if (*neigh == NEIGH_NONE) {
		snprintf(msg, msglen, "destination_endpoint: the neighbour table is full");
		return DP_SESS_FULL;
	}
	return 0;
}
