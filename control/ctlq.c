#include "ctlq.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

struct ctlq {
	pthread_mutex_t lock;
	pthread_cond_t served;          /* broadcast: some request changed state */
	TAILQ_HEAD(, ctlq_req) waiting;
	unsigned n_waiting, cap;
	struct ctlq_req *current;       /* being served over several passes */
	bool closed;
};

struct ctlq *ctlq_create(unsigned cap)
{
	struct ctlq *q = calloc(1, sizeof(*q));
	pthread_condattr_t ca;

	if (q == NULL)
		return NULL;
	pthread_mutex_init(&q->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&q->served, &ca);
	pthread_condattr_destroy(&ca);
	TAILQ_INIT(&q->waiting);
	q->cap = cap;
	return q;
}

void ctlq_free(struct ctlq *q)
{
	if (q == NULL)
		return;
	pthread_cond_destroy(&q->served);
	pthread_mutex_destroy(&q->lock);
	free(q);
}

static void deadline_in(struct timespec *ts, unsigned ms)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
	ts->tv_sec += ms / 1000;
	ts->tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}

int ctlq_call(struct ctlq *q, struct ctlq_req *r, unsigned timeout_ms)
{
	struct timespec dl;
	int rc = 0;

	deadline_in(&dl, timeout_ms);
	pthread_mutex_lock(&q->lock);
	if (q->closed) {
		pthread_mutex_unlock(&q->lock);
		return -ESHUTDOWN;
	}
	if (q->n_waiting >= q->cap) {
		pthread_mutex_unlock(&q->lock);
		return -EBUSY;
	}
	r->state = CTLQ_POSTED;
	r->cancelled = false;
	TAILQ_INSERT_TAIL(&q->waiting, r, link);
	q->n_waiting++;
	while (r->state != CTLQ_DONE) {
		if (r->state == CTLQ_POSTED && q->closed) {
			rc = -ESHUTDOWN;
			break;
		}
		if (r->state == CTLQ_POSTED) {
			if (pthread_cond_timedwait(&q->served, &q->lock, &dl) == ETIMEDOUT &&
					r->state == CTLQ_POSTED) {
				rc = -ETIMEDOUT;
				break;
			}
		} else {
			pthread_cond_wait(&q->served, &q->lock);  /* started: bounded work */
		}
	}
	if (rc != 0) {          /* never taken: withdraw it */
		TAILQ_REMOVE(&q->waiting, r, link);
		q->n_waiting--;
	}
	if (rc == 0 && r->cancelled)
		rc = -ESHUTDOWN;
	r->state = CTLQ_IDLE;
	pthread_mutex_unlock(&q->lock);
	return rc;
}

unsigned ctlq_serve(struct ctlq *q, unsigned max, ctlq_serve_fn serve, void *ctx)
{
	unsigned calls = 0;

	while (calls < max) {
		struct ctlq_req *r;

		pthread_mutex_lock(&q->lock);
		r = q->current;
		if (r == NULL) {
			r = TAILQ_FIRST(&q->waiting);
			if (r != NULL) {
				TAILQ_REMOVE(&q->waiting, r, link);
				q->n_waiting--;
				r->state = CTLQ_SERVING;
				q->current = r;
			}
		}
		pthread_mutex_unlock(&q->lock);
		if (r == NULL)
			break;
		bool done = serve(ctx, r);      /* outside the lock: the caller only waits */
		calls++;
		if (!done)
			break;          /* the rest of this job waits for the next pass */
		pthread_mutex_lock(&q->lock);
		r->state = CTLQ_DONE;
		q->current = NULL;
		pthread_cond_broadcast(&q->served);
		pthread_mutex_unlock(&q->lock);
	}
	return calls;
}

void ctlq_close(struct ctlq *q)
{
	if (q == NULL)
		return;
	pthread_mutex_lock(&q->lock);
	q->closed = true;
	if (q->current != NULL) {
		q->current->cancelled = true;
		q->current->state = CTLQ_DONE;
		q->current = NULL;
	}
	pthread_cond_broadcast(&q->served);
	pthread_mutex_unlock(&q->lock);
}

unsigned ctlq_waiting(struct ctlq *q)
{
	pthread_mutex_lock(&q->lock);
	unsigned n = q->n_waiting;
	pthread_mutex_unlock(&q->lock);
	return n;
}

bool ctlq_pending(struct ctlq *q)
{
	if (q == NULL)
		return false;
	pthread_mutex_lock(&q->lock);
	bool busy = q->current != NULL || q->n_waiting > 0;
	pthread_mutex_unlock(&q->lock);
	return busy;
}
