/*
 * A small bounded queue of requests to the control loop, for threads that must not touch
 * what the control lcore owns (the session registry, events): the HTTP server's and the
 * telemetry socket's. The caller's thread posts a request it owns and waits (with a
 * deadline) until the control loop has served it; the control loop serves a bounded number
 * each pass. A request is the caller's memory: it is never touched once ctlq_call returns.
 */
#ifndef RTPPROXY_CTLQ_H
#define RTPPROXY_CTLQ_H

#include <stdbool.h>
#include <sys/queue.h>

enum ctlq_state { CTLQ_IDLE, CTLQ_POSTED, CTLQ_SERVING, CTLQ_DONE };

struct ctlq_req {
	int kind;                       /* the caller's and the server's business */
	void *arg;
	/* the queue's */
	enum ctlq_state state;
	bool cancelled;                 /* closed while being served */
	TAILQ_ENTRY(ctlq_req) link;
};

struct ctlq;

/* At most `cap` requests waiting. NULL when out of memory. */
struct ctlq *ctlq_create(unsigned cap);
/* After ctlq_close, and once no thread calls ctlq_call any more. */
void ctlq_free(struct ctlq *q);

/*
 * Post r and wait until it is served: 0 once served; -EBUSY when cap requests are waiting;
 * -ETIMEDOUT when timeout_ms passed before the control loop took it (it is withdrawn: a
 * request the control loop has started is always waited for, its work being bounded);
 * -ESHUTDOWN once the queue is closed.
 */
int ctlq_call(struct ctlq *q, struct ctlq_req *r, unsigned timeout_ms);

/*
 * The control loop's side: serve(ctx, r) for the waiting requests, at most `max` calls of
 * serve in this pass. serve returns true when r is done, false when it needs more passes (it
 * keeps its own cursor in r: a long job is cut into bounded steps). Returns the calls made.
 */
typedef bool (*ctlq_serve_fn)(void *ctx, struct ctlq_req *r);
unsigned ctlq_serve(struct ctlq *q, unsigned max, ctlq_serve_fn serve, void *ctx);

/* Whether a request waits or a job is half done: the control loop then polls without waiting. */
bool ctlq_pending(struct ctlq *q);

/* Requests posted and not yet taken (any thread). */
unsigned ctlq_waiting(struct ctlq *q);

/* Refuse new requests and fail the waiting ones (-ESHUTDOWN), the one being served in steps
 * too; the control loop's side (it serves no more). */
void ctlq_close(struct ctlq *q);

#endif
