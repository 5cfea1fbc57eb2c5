/*
 * Where the metrics come from, on the control lcore: counters kept as things happen (closes
 * by reason and the RTP loss of closed sessions, through the session observer; gRPC calls,
 * through the server's hooks) and a walk over the sessions in bounded steps.
 */
#ifndef RTPPROXY_METRICS_SRC_H
#define RTPPROXY_METRICS_SRC_H

#include <stdbool.h>
#include <stdint.h>

#include "grpc_srv.h"
#include "metrics.h"
#include "sess.h"

struct rpc_ctx;
struct tcp_relay;

struct metrics_src;

struct metrics_src *metrics_src_create(struct rpc_ctx *rpc, struct tcp_relay *tcp);
void metrics_src_free(struct metrics_src *m);

/* Put the metrics' observer in front of *o (which it calls on): *o is replaced. */
void metrics_src_observe(struct metrics_src *m, struct sess_observer *o);
/* Hooks that count every call and time the unary ones, then call inner's (may be NULL). */
const struct grpc_srv_hooks *metrics_src_hooks(struct metrics_src *m,
		const struct grpc_srv_hooks *inner);

/*
 * Where a walk over the sessions goes on: the next session's serial and id. Found again by id
 * (a hash lookup; sess_first from a serial walks the list from its head); only when that
 * session went meanwhile, by serial.
 */
struct metrics_cursor {
	uint64_t serial;                /* 0: from the first */
	char id[SESS_ID_MAX + 1];
};

/* A snapshot in steps: begin, then step until it returns true (at most max sessions each). */
void metrics_src_begin(struct metrics_src *m, struct metrics_snap *s);
bool metrics_src_step(struct metrics_src *m, struct metrics_snap *s, struct metrics_cursor *c,
		unsigned max);

/* Sessions' figures for one session (exposed for tests). */
void metrics_add_session(struct metrics_snap *s, const struct session *x,
		const struct sess_stats *rtp);

#endif
