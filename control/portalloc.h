/*
 * Local UDP/TCP port bookkeeping: one pool per appliance address, plus one wildcard per
 * family (0.0.0.0 and ::). A port on a wildcard conflicts with the same port on any address
 * of its family and the reverse; the two families never conflict (API.md 1.5).
 */
#ifndef RTPPROXY_PORTALLOC_H
#define RTPPROXY_PORTALLOC_H

#include <stdbool.h>
#include <stdint.h>

#include "rp_addr.h"

#define PORTALLOC_MAX_ADDRS 256        /* DP_MAX_PORTS x DP_MAX_ADDRS: IPv4 and IPv6 together */

struct portalloc_pool {
	struct dp_addr addr;        /* a wildcard: 0.0.0.0 or :: */
	uint64_t used[65536 / 64];
};

struct portalloc {
	struct portalloc_pool pool[PORTALLOC_MAX_ADDRS + 2];
	unsigned n_pools;           /* pool[0] is 0.0.0.0, pool[1] :: */
	uint16_t min, max;          /* the dynamic range */
	uint32_t cursor;            /* where the next dynamic search starts */
};

void portalloc_init(struct portalloc *pa, uint16_t min, uint16_t max);
/* Register an appliance address. -1 when full. */
int portalloc_add_addr(struct portalloc *pa, const struct dp_addr *addr);

/* Are port .. port+count-1 free on addr (a wildcard or a registered address)? */
bool portalloc_free(const struct portalloc *pa, const struct dp_addr *addr, uint16_t port,
		unsigned count);
/* Mark / unmark them taken; the caller checked portalloc_free. */
void portalloc_take(struct portalloc *pa, const struct dp_addr *addr, uint16_t port,
		unsigned count);
void portalloc_release(struct portalloc *pa, const struct dp_addr *addr, uint16_t port,
		unsigned count);

/* Pick an even port (with the odd one above when count == 2) from the dynamic range, free on
 * addr, and take it. 0 and *port, or -1 when the range is exhausted. */
int portalloc_alloc(struct portalloc *pa, const struct dp_addr *addr, unsigned count,
		uint16_t *port);

#endif
