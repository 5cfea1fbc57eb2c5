/*
 * Unit test of control/ctlq.c, the queue from the HTTP/telemetry threads to the control loop:
 * a request is served and waited for; the queue is bounded (-EBUSY); a request nobody takes
 * is withdrawn at its deadline (-ETIMEDOUT) and never served afterwards; one that was started
 * is waited for past the deadline; a pass serves at most `max`; a long job runs in steps over
 * passes; closing fails waiting and started requests (-ESHUTDOWN).
 */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <time.h>

#include "check.h"
#include "ctlq.h"

struct job {
	int steps_left;         /* passes it still needs after this one */
	int served;             /* times serve ran on it */
};

static bool serve(void *ctx, struct ctlq_req *r)
{
	struct job *j = r->arg;
	(*(int *)ctx)++;
	j->served++;
	return j->steps_left-- <= 0;
}

struct caller {
	struct ctlq *q;
	struct ctlq_req r;
	struct job j;
	unsigned timeout_ms;
	int rc;
	pthread_t t;
};

static void *call_thread(void *arg)
{
	struct caller *c = arg;
	c->rc = ctlq_call(c->q, &c->r, c->timeout_ms);
	return NULL;
}

static void start(struct caller *c, struct ctlq *q, int steps, unsigned timeout_ms)
{
	*c = (struct caller){ .q = q, .timeout_ms = timeout_ms, .rc = 1 };
	c->j.steps_left = steps;
	c->r.kind = 1;
	c->r.arg = &c->j;
	pthread_create(&c->t, NULL, call_thread, c);
}

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Poll (bounded) until n requests wait. */
static bool wait_posted(struct ctlq *q, unsigned n)
{
	int64_t deadline = now_ms() + 5000;
	while (ctlq_waiting(q) != n && now_ms() < deadline) {
		struct timespec ts = { 0, 1000000 };
		nanosleep(&ts, NULL);
	}
	return ctlq_waiting(q) == n;
}

static void test_served_bounded_per_pass(void)
{
	struct ctlq *q = ctlq_create(3);
	struct caller c[3];
	struct ctlq_req extra = { .kind = 1 };
	int calls = 0;

	for (int i = 0; i < 3; i++)
		start(&c[i], q, 0, 10000);
	CHECK(wait_posted(q, 3));
	CHECK_EQ_U(ctlq_call(q, &extra, 10000), -EBUSY);       /* full: refused at once */
	CHECK_EQ_U(ctlq_serve(q, 2, serve, &calls), 2);         /* at most max per pass */
	CHECK_EQ_U(ctlq_waiting(q), 1);
	CHECK_EQ_U(ctlq_serve(q, 2, serve, &calls), 1);
	CHECK_EQ_U(ctlq_serve(q, 2, serve, &calls), 0);         /* nothing left */
	for (int i = 0; i < 3; i++) {
		pthread_join(c[i].t, NULL);
		CHECK_EQ_U(c[i].rc, 0);
		CHECK_EQ_U(c[i].j.served, 1);
	}
	CHECK_EQ_U(calls, 3);
	ctlq_close(q);
	ctlq_free(q);
}

static void test_deadline(void)
{
	struct ctlq *q = ctlq_create(4);
	struct caller c;
	int calls = 0;
	int64_t t0 = now_ms();

	start(&c, q, 0, 50);
	pthread_join(c.t, NULL);
	int64_t took = now_ms() - t0;
	CHECK_EQ_U(c.rc, -ETIMEDOUT);
	CHECK(took >= 50 && took < 2000);
	CHECK_EQ_U(ctlq_waiting(q), 0);                         /* withdrawn */
	CHECK_EQ_U(ctlq_serve(q, 8, serve, &calls), 0);         /* never served afterwards */
	CHECK_EQ_U(c.j.served, 0);
	ctlq_close(q);
	ctlq_free(q);
}

/* A job of three steps: one per pass; its caller waits past its deadline once started. */
static void test_steps(void)
{
	struct ctlq *q = ctlq_create(4);
	struct caller c, d;
	int calls = 0;

	start(&c, q, 2, 20);
	CHECK(wait_posted(q, 1));
	CHECK(ctlq_pending(q));
	CHECK_EQ_U(ctlq_serve(q, 8, serve, &calls), 1);         /* step 1, then the pass ends */
	CHECK(ctlq_pending(q));                                 /* half done */
	start(&d, q, 0, 10000);
	CHECK(wait_posted(q, 1));
	struct timespec ts = { 0, 60 * 1000000 };               /* past c's deadline */
	nanosleep(&ts, NULL);
	CHECK_EQ_U(c.rc, 1);                                    /* still waiting: started */
	CHECK_EQ_U(ctlq_serve(q, 8, serve, &calls), 1);         /* step 2 */
	CHECK_EQ_U(d.j.served, 0);                              /* the next waits its turn */
	CHECK_EQ_U(ctlq_serve(q, 8, serve, &calls), 2);         /* step 3, then d */
	pthread_join(c.t, NULL);
	pthread_join(d.t, NULL);
	CHECK_EQ_U(c.rc, 0);
	CHECK_EQ_U(c.j.served, 3);
	CHECK_EQ_U(d.rc, 0);
	CHECK(!ctlq_pending(q));
	ctlq_close(q);
	ctlq_free(q);
}

static void test_close(void)
{
	struct ctlq *q = ctlq_create(4);
	struct caller started, waiting;
	struct ctlq_req late = { .kind = 1 };
	int calls = 0;

	start(&started, q, 100, 10000);
	CHECK(wait_posted(q, 1));
	CHECK_EQ_U(ctlq_serve(q, 1, serve, &calls), 1);         /* started, needs more passes */
	start(&waiting, q, 0, 10000);
	CHECK(wait_posted(q, 1));
	ctlq_close(q);
	pthread_join(started.t, NULL);
	pthread_join(waiting.t, NULL);
	CHECK_EQ_U(started.rc, -ESHUTDOWN);
	CHECK_EQ_U(waiting.rc, -ESHUTDOWN);
	CHECK_EQ_U(waiting.j.served, 0);
	CHECK_EQ_U(ctlq_call(q, &late, 10000), -ESHUTDOWN);
	CHECK_EQ_U(ctlq_waiting(q), 0);
	ctlq_free(q);
}

int main(void)
{
	test_served_bounded_per_pass();
	test_deadline();
	test_steps();
	test_close();
	return check_summary("test_ctlq");
}
