/* A single-producer single-consumer ring of state_entry pointers (see state_queue.h). */
#include "state_queue.h"

#include <stdlib.h>
#include <string.h>

struct state_entry *state_entry_new(enum state_op op, const char *id, const void *data,
		size_t len)
{
	struct state_entry *e = malloc(sizeof(*e) + len);
	if (e == NULL)
		return NULL;
	e->op = op;
	e->ms = 0;
	memset(e->id, 0, sizeof(e->id));
	if (id != NULL)
		memcpy(e->id, id, strnlen(id, SESS_ID_MAX));
	e->len = data != NULL ? len : 0;
	if (e->len > 0)
		memcpy(e->data, data, len);
	return e;
}

struct state_queue *state_queue_create(uint32_t size)
{
	if (size < 2 || (size & (size - 1)) != 0)
		return NULL;
	struct state_queue *q = calloc(1, sizeof(*q));
	if (q == NULL)
		return NULL;
	q->slot = calloc(size, sizeof(*q->slot));
	if (q->slot == NULL) {
		free(q);
		return NULL;
	}
	q->mask = size - 1;
	return q;
}

void state_queue_free(struct state_queue *q)
{
	struct state_entry *e;
	if (q == NULL)
		return;
	while ((e = state_queue_pop(q)) != NULL)
		free(e);
	free(q->slot);
	free(q);
}

uint32_t state_queue_depth(const struct state_queue *q)
{
	uint32_t head = __atomic_load_n(&q->head, __ATOMIC_ACQUIRE);
	uint32_t tail = __atomic_load_n(&q->tail, __ATOMIC_ACQUIRE);
	return head - tail;
}

uint32_t state_queue_room(const struct state_queue *q)
{
	return q->mask + 1 - state_queue_depth(q);
}

bool state_queue_push(struct state_queue *q, struct state_entry *e)
{
	uint32_t tail = __atomic_load_n(&q->tail, __ATOMIC_ACQUIRE);
	if (e == NULL || q->head - tail > q->mask) {
		free(e);
		q->overflowed = true;
		q->refused++;
		return false;
	}
	q->slot[q->head & q->mask] = e;
	__atomic_store_n(&q->head, q->head + 1, __ATOMIC_RELEASE);
	return true;
}

struct state_entry *state_queue_at(const struct state_queue *q, uint32_t i)
{
	uint32_t head = __atomic_load_n(&q->head, __ATOMIC_ACQUIRE);
	if (head - q->tail <= i)
		return NULL;
	return q->slot[(q->tail + i) & q->mask];
}

struct state_entry *state_queue_peek(const struct state_queue *q)
{
	return state_queue_at(q, 0);
}

struct state_entry *state_queue_pop(struct state_queue *q)
{
	struct state_entry *e = state_queue_peek(q);
	if (e != NULL)
		__atomic_store_n(&q->tail, q->tail + 1, __ATOMIC_RELEASE);
	return e;
}
