/*
 * The state store's queue: FIFO order, a push into a full queue is refused and marks it
 * overflowed (what makes the control loop resync the store), entries are freed exactly once,
 * and a producer and a consumer thread pass 200 000 entries through 64 slots in order.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "state_queue.h"

static struct state_entry *entry(unsigned i)
{
	char id[16];
	snprintf(id, sizeof(id), "s%u", i);
	return state_entry_new(STATE_SET, id, &i, sizeof(i));
}

static unsigned value(const struct state_entry *e)
{
	unsigned v;
	memcpy(&v, e->data, sizeof(v));
	return v;
}

static void test_overflow(void)
{
	CHECK(state_queue_create(0) == NULL);
	CHECK(state_queue_create(6) == NULL);   /* not a power of two */
	struct state_queue *q = state_queue_create(8);
	CHECK(q != NULL);
	CHECK_EQ_U(state_queue_room(q), 8);
	for (unsigned i = 0; i < 8; i++)
		CHECK(state_queue_push(q, entry(i)));
	CHECK(!q->overflowed);
	CHECK_EQ_U(state_queue_depth(q), 8);
	CHECK_EQ_U(state_queue_room(q), 0);
	CHECK(!state_queue_push(q, entry(8)));  /* refused (and freed: ASan/valgrind) */
	CHECK(q->overflowed);
	CHECK_EQ_U(q->refused, 1);
	CHECK(!state_queue_push(q, NULL));      /* out of memory counts as lost too */
	CHECK_EQ_U(q->refused, 2);
	CHECK_EQ_U(value(state_queue_at(q, 3)), 3);
	CHECK(state_queue_at(q, 8) == NULL);
	for (unsigned i = 0; i < 3; i++) {
		struct state_entry *e = state_queue_pop(q);
		CHECK(e != NULL && value(e) == i && strcmp(e->id, i == 0 ? "s0" : i == 1 ? "s1" :
					"s2") == 0);
		free(e);
	}
	CHECK_EQ_U(state_queue_room(q), 3);
	q->overflowed = false;
	CHECK(state_queue_push(q, entry(100)));
	CHECK(!q->overflowed);
	CHECK_EQ_U(value(state_queue_at(q, 5)), 100);
	state_queue_free(q);                    /* frees the 6 left */

	struct state_entry *e = state_entry_new(STATE_DEL, "x", NULL, 0);
	CHECK(e != NULL && e->len == 0 && e->op == STATE_DEL && strcmp(e->id, "x") == 0);
	free(e);
}

#define N_THREADED 200000

static void *producer(void *arg)
{
	struct state_queue *q = arg;
	for (unsigned i = 0; i < N_THREADED; ) {
		if (state_queue_room(q) == 0) {
			sched_yield();
			continue;
		}
		if (state_queue_push(q, entry(i)))
			i++;
	}
	return NULL;
}

static void test_threads(void)
{
	struct state_queue *q = state_queue_create(64);
	pthread_t t;
	unsigned next = 0, wrong = 0;
	pthread_create(&t, NULL, producer, q);
	while (next < N_THREADED) {
		struct state_entry *e = state_queue_pop(q);
		if (e == NULL) {
			sched_yield();
			continue;
		}
		if (value(e) != next)
			wrong++;
		next++;
		free(e);
	}
	pthread_join(t, NULL);
	CHECK_EQ_U(wrong, 0);
	CHECK(!q->overflowed);
	CHECK_EQ_U(state_queue_depth(q), 0);
	state_queue_free(q);
}

int main(void)
{
	test_overflow();
	test_threads();
	return check_summary("state_queue");
}
