/*
 * Local UDP/TCP port bookkeeping: one pool per appliance address, plus the wildcard.
 * A port on the wildcard conflicts with the same port on any address and the reverse.
 */
#ifndef RTPPROXY_PORTALLOC_H
#define RTPPROXY_PORTALLOC_H

#include <stdbool.h>
#include <stdint.h>

#define PORTALLOC_MAX_ADDRS 64

struct portalloc_pool {
	uint32_t addr;              /* network byte order; 0 = the wildcard */
	uint64_t used[65536 / 64];
};

struct portalloc {
	struct portalloc_pool pool[PORTALLOC_MAX_ADDRS + 1];
	unsigned n_pools;           /* pool[0] is the wildcard */
	uint16_t min, max;          /* the dynamic range */
	uint32_t cursor;            /* where the next dynamic search starts */
};

void portalloc_init(struct portalloc *pa, uint16_t min, uint16_t max);
/* Register an appliance address. -1 when full. */
int portalloc_add_addr(struct portalloc *pa, uint32_t addr);

/* Are port .. port+count-1 free on addr (0 = wildcard)? */
bool portalloc_free(const struct portalloc *pa, uint32_t addr, uint16_t port, unsigned count);
/* Mark / unmark them taken; the caller checked portalloc_free. */
void portalloc_take(struct portalloc *pa, uint32_t addr, uint16_t port, unsigned count);
void portalloc_release(struct portalloc *pa, uint32_t addr, uint16_t port, unsigned count);

/* Pick an even port (with the odd one above when count == 2) from the dynamic range, free on
 * addr, and take it. 0 and *port, or -1 when the range is exhausted. */
int portalloc_alloc(struct portalloc *pa, uint32_t addr, unsigned count, uint16_t *port);

#endif
