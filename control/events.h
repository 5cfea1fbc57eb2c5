/*
 * StreamSessionEvents: one subscriber per call, and the fan-out of session lifecycle events
 * (from the session manager's observer hooks) and periodic StatsUpdates to them.
 * Control lcore only, like the session manager and the gRPC server.
 *
 * Guarantees (API.md 1.1): per session and stream, `created` (live: state CREATED; snapshot:
 * the current SessionInfo) comes first, then the transitions in order, `closed` last, and
 * nothing after it. A stream for every session gets its snapshot in creation order, paced
 * by its queue; a session's live events reach it only once its snapshot has been sent. A
 * stream of one session ends with OK right after its `closed`. No event is ever dropped from
 * a stream that goes on: one whose client falls a full queue behind is ended instead.
 */
#ifndef RTPPROXY_EVENTS_H
#define RTPPROXY_EVENTS_H

#include <stdint.h>

#include "grpc_srv.h"

struct events;
struct rpc_ctx;
struct sess_observer;
struct session;

/* stats_interval_ms below this (but not 0) is raised to it. */
#define EVENTS_MIN_INTERVAL_MS 100
/*
 * Snapshot and StatsUpdate messages built per ms of wall time, all streams together, and at
 * most per events_tick: what keeps 100k sessions x several streams from stalling the control
 * lcore. A stats round that cannot finish within its interval stretches it.
 */
#define EVENTS_PER_MS 50
#define EVENTS_TICK_MAX 256

/* Open streams by default ([grpc] max_streams); a stream's queue is GRPC_SRV_STREAM_QUEUE. */
#define EVENTS_MAX_STREAMS 64

/* The subscribers of the sessions in ctx->sessions; also sets ctx->events. NULL: no memory. */
struct events *events_create(struct rpc_ctx *ctx);
/*
 * At most max_streams open streams (the next is refused with RESOURCE_EXHAUSTED), each
 * holding at most stream_queue messages for its client (a stream that would hold more is
 * ended with RESOURCE_EXHAUSTED, see grpc_srv_stream_send).
 */
void events_set_limits(struct events *ev, unsigned max_streams, unsigned stream_queue);
/* The hooks to give sess_set_observer. */
void events_observer(struct events *ev, struct sess_observer *o);
/* Snapshots and StatsUpdates that are due; call often (at least every 10 ms). */
void events_tick(struct events *ev, int64_t now_ms);
/* After grpc_srv_stop (every stream has ended); detaches the observer. */
void events_free(struct events *ev);

/* The StreamSessionEvents method for grpc_srv (ctx: the struct rpc_ctx). */
grpc_status_code events_subscribe(void *ctx, const ProtobufCMessage *req,
		struct grpc_srv_stream *stream, struct rpc_error *err);
void events_unsubscribe(void *ctx, struct grpc_srv_stream *stream);

/*
 * A session that came without `created` (a standby's mirror, API.md 1.6): streams opened from
 * now on get it in their snapshot. Call in serial order, after its newest registered one.
 */
void events_adopt(struct events *ev, const struct session *s);
/* Every open every-session stream gets a snapshot of the sessions from serial `from` on (a
 * take-over: they saw none of them), paced as any snapshot. */
void events_resnapshot(struct events *ev, uint64_t from);

/* The most messages any stream has waiting (to pace a mass close, e.g. at shutdown). */
unsigned events_backlog(const struct events *ev);

struct events_counters {
	uint64_t streams_open;
	uint64_t streams_total;         /* accepted since start */
	uint64_t sent;                  /* events queued to streams */
	uint64_t fell_behind;           /* streams ended because their queue was full */
};
void events_counters(const struct events *ev, struct events_counters *c);

#endif
