/* The deadline heap (see tcp_deadline.h). */
#include "tcp_deadline.h"

#include <errno.h>
#include <stdlib.h>

static void put(struct dl_heap *h, uint32_t i, struct dl_node *x)
{
	h->v[i] = x;
	x->idx = i;
}

static void sift_up(struct dl_heap *h, uint32_t i)
{
	struct dl_node *x = h->v[i];

	while (i > 0) {
		uint32_t parent = (i - 1) / 2;

		if (h->v[parent]->at <= x->at)
			break;
		put(h, i, h->v[parent]);
		i = parent;
	}
	put(h, i, x);
}

static void sift_down(struct dl_heap *h, uint32_t i)
{
	struct dl_node *x = h->v[i];

	for (;;) {
		uint32_t child = 2 * i + 1;

		if (child >= h->n)
			break;
		if (child + 1 < h->n && h->v[child + 1]->at < h->v[child]->at)
			child++;
		if (x->at <= h->v[child]->at)
			break;
		put(h, i, h->v[child]);
		i = child;
	}
	put(h, i, x);
}

int dl_heap_add(struct dl_heap *h, struct dl_node *x, int64_t at)
{
	if (h->n == h->cap) {
		uint32_t cap = h->cap ? h->cap * 2 : 64;
		struct dl_node **v;

		if (cap <= h->cap)
			return -ENOMEM;
		v = realloc(h->v, (size_t)cap * sizeof(*v));
		if (v == NULL)
			return -ENOMEM;
		h->v = v;
		h->cap = cap;
	}
	x->at = at;
	put(h, h->n++, x);
	sift_up(h, x->idx);
	return 0;
}

void dl_heap_move(struct dl_heap *h, struct dl_node *x, int64_t at)
{
	int64_t old = x->at;

	x->at = at;
	if (at < old)
		sift_up(h, x->idx);
	else
		sift_down(h, x->idx);
}

void dl_heap_remove(struct dl_heap *h, struct dl_node *x)
{
	uint32_t i = x->idx;
	struct dl_node *last;

	if (i == DL_NONE)
		return;
	x->idx = DL_NONE;
	last = h->v[--h->n];
	if (i == h->n)
		return;         /* it was the last one */
	/* the last node takes its place and goes whichever way its deadline says */
	put(h, i, last);
	if (i > 0 && h->v[(i - 1) / 2]->at > last->at)
		sift_up(h, i);
	else
		sift_down(h, i);
}

void dl_heap_free(struct dl_heap *h)
{
	free(h->v);
	h->v = NULL;
	h->n = h->cap = 0;
}
