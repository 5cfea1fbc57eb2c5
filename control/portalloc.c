#include "portalloc.h"

#include <string.h>

void portalloc_init(struct portalloc *pa, uint16_t min, uint16_t max)
{
	memset(pa, 0, sizeof(*pa));
	pa->pool[0].addr.family = DP_AF_INET;   /* the wildcards: all zero */
	pa->pool[1].addr.family = DP_AF_INET6;
	pa->n_pools = 2;
	pa->min = min;
	pa->max = max;
	pa->cursor = min;
}

int portalloc_add_addr(struct portalloc *pa, const struct dp_addr *addr)
{
	if (pa->n_pools == PORTALLOC_MAX_ADDRS + 2)
		return -1;
	pa->pool[pa->n_pools++].addr = *addr;
	return 0;
}

static struct portalloc_pool *pool_of(const struct portalloc *pa, const struct dp_addr *addr)
{
	for (unsigned i = 0; i < pa->n_pools; i++)
		if (dp_addr_eq(&pa->pool[i].addr, addr))
			return (struct portalloc_pool *)&pa->pool[i];
	return NULL;
}

static inline bool bit(const struct portalloc_pool *p, uint32_t port)
{
	return p->used[port / 64] >> (port % 64) & 1;
}

bool portalloc_free(const struct portalloc *pa, const struct dp_addr *addr, uint16_t port,
		unsigned count)
{
	const struct portalloc_pool *own = pool_of(pa, addr);
	if (own == NULL || (uint32_t)port + count - 1 > 65535 || port == 0)
		return false;
	const struct portalloc_pool *any = &pa->pool[dp_addr_is_v4(addr) ? 0 : 1];
	bool wild = dp_addr_is_any(addr);
	for (uint32_t p = port; p < (uint32_t)port + count; p++) {
		if (wild) {
			for (unsigned i = 0; i < pa->n_pools; i++)
				if (pa->pool[i].addr.family == addr->family && bit(&pa->pool[i], p))
					return false;
		} else if (bit(own, p) || bit(any, p)) {
			return false;
		}
	}
	return true;
}

void portalloc_take(struct portalloc *pa, const struct dp_addr *addr, uint16_t port,
		unsigned count)
{
	struct portalloc_pool *own = pool_of(pa, addr);
	for (uint32_t p = port; p < (uint32_t)port + count; p++)
		own->used[p / 64] |= 1ULL << (p % 64);
}

void portalloc_release(struct portalloc *pa, const struct dp_addr *addr, uint16_t port,
		unsigned count)
{
	struct portalloc_pool *own = pool_of(pa, addr);
	if (own == NULL)
		return;
	for (uint32_t p = port; p < (uint32_t)port + count; p++)
		own->used[p / 64] &= ~(1ULL << (p % 64));
}

int portalloc_alloc(struct portalloc *pa, const struct dp_addr *addr, unsigned count,
		uint16_t *port)
{
	uint32_t lo = (pa->min + 1u) & ~1u, hi = pa->max;
	if (lo + count - 1 > hi)
		return -1;
	uint32_t span = (hi - lo) / 2 + 1;        /* even candidates */
	uint32_t start = pa->cursor < lo || pa->cursor > hi ? lo : pa->cursor & ~1u;

	for (uint32_t i = 0, p = start; i < span; i++) {
		if (p + count - 1 <= hi && portalloc_free(pa, addr, (uint16_t)p, count)) {
			portalloc_take(pa, addr, (uint16_t)p, count);
			*port = (uint16_t)p;
			pa->cursor = p + 2;
			return 0;
		}
		p += 2;
		if (p > hi)
			p = lo;
	}
	return -1;
}
