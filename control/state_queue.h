/*
 * The state store's queue: changes from the control loop (one producer) to the writer thread
 * (one consumer), bounded, lock-free, never blocking either side. A push that finds it full
 * is refused and remembered (overflowed): what was lost is made up by a full resync.
 */
#ifndef RTPPROXY_STATE_QUEUE_H
#define RTPPROXY_STATE_QUEUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sess.h"

enum state_op {
	STATE_SET,              /* the session's definition (data: StoredSession) */
	STATE_DEL,              /* it left the appliance */
	STATE_CTR,              /* its counters (data: StoredCounters) */
	STATE_RESYNC_BEGIN,     /* a full resync starts: what follows is everything that runs */
	STATE_RESYNC_END,       /* ...and ends: delete the keys none of it named */
	STATE_CKPT_END,         /* a checkpoint's counters are all queued (ms: its time) */
};

struct state_entry {
	enum state_op op;
	int64_t ms;
	char id[SESS_ID_MAX + 1];
	size_t len;
	uint8_t data[];
};

/* An entry with a copy of data (len bytes; NULL = none). NULL when out of memory. */
struct state_entry *state_entry_new(enum state_op op, const char *id, const void *data,
		size_t len);

struct state_queue {
	uint32_t mask;
	uint32_t head;                  /* producer's: next slot to fill */
	uint32_t tail;                  /* consumer's: next slot to take */
	bool overflowed;                /* producer's: a push was refused since the last clear */
	uint64_t refused;               /* producer's: pushes refused (entries lost) */
	struct state_entry **slot;
};

/* A queue of size slots (a power of two >= 2). NULL when out of memory or not a power of 2. */
struct state_queue *state_queue_create(uint32_t size);
/* Frees the entries still in it too. Neither side may use it any more. */
void state_queue_free(struct state_queue *q);

/* Producer: hand e over (true), or drop it, free it and mark the queue overflowed (false).
 * e == NULL (out of memory) counts as refused. */
bool state_queue_push(struct state_queue *q, struct state_entry *e);
/* Producer: how many pushes would succeed now. */
uint32_t state_queue_room(const struct state_queue *q);
/* Consumer: the oldest entry (now the consumer's to free), or NULL when empty. */
struct state_entry *state_queue_pop(struct state_queue *q);
/* Consumer: the oldest entry without taking it (NULL when empty). */
struct state_entry *state_queue_peek(const struct state_queue *q);
/* Consumer: the i-th oldest entry without taking it (NULL when fewer are waiting). */
struct state_entry *state_queue_at(const struct state_queue *q, uint32_t i);
/* Either side: entries waiting. */
uint32_t state_queue_depth(const struct state_queue *q);

#endif
