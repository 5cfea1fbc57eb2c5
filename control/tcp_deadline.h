/*
 * Deadlines of many objects (the TCP relay's idle connections): a binary min-heap of nodes
 * embedded in their owners, so the nearest deadline is O(1) and adding, moving or removing one
 * is O(log n). The relay postpones lazily: activity only records the time, and a node that
 * comes due is checked against it and pushed back (dl_heap_move) instead of being moved on
 * every byte.
 *
 * Single-threaded (the relay thread's own). The array grows by doubling; a failed growth is
 * -ENOMEM from dl_heap_add and leaves the heap as it was.
 */
#ifndef RTPPROXY_TCP_DEADLINE_H
#define RTPPROXY_TCP_DEADLINE_H

#include <stddef.h>
#include <stdint.h>

#define DL_NONE UINT32_MAX              /* dl_node.idx of a node not in a heap */

struct dl_node {
	int64_t at;                     /* the deadline (the owner's clock, e.g. monotonic ms) */
	uint32_t idx;                   /* position in the heap, DL_NONE when out of it */
};

struct dl_heap {
	struct dl_node **v;
	uint32_t n, cap;
};

/* A node starts out of any heap: dl_node_init or idx = DL_NONE. */
static inline void dl_node_init(struct dl_node *x)
{
	x->idx = DL_NONE;
}

/* The node due first, NULL when empty. */
static inline struct dl_node *dl_heap_top(const struct dl_heap *h)
{
	return h->n > 0 ? h->v[0] : NULL;
}

/* Add x (not in the heap) due at `at`. 0, or -ENOMEM. */
int dl_heap_add(struct dl_heap *h, struct dl_node *x, int64_t at);

/* Give x (in the heap) a new deadline. */
void dl_heap_move(struct dl_heap *h, struct dl_node *x, int64_t at);

/* Take x out (a no-op when it is not in the heap). */
void dl_heap_remove(struct dl_heap *h, struct dl_node *x);

/* Free the array; the nodes belong to their owners. */
void dl_heap_free(struct dl_heap *h);

#endif
