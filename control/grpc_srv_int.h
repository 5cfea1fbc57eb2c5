/*
 * Inside the gRPC server, shared by its two halves: grpc_srv.c (the completion queue, asking
 * grpc for calls, unary calls, start and stop) and grpc_srv_stream.c (server-streaming calls
 * and their send queues). Nothing outside grpc_srv includes this.
 *
 * Every completion carries a tag that starts with a `struct tag` naming what completed; the
 * object around it is found with container_of.
 */
#ifndef RTPPROXY_GRPC_SRV_INT_H
#define RTPPROXY_GRPC_SRV_INT_H

#include "grpc_srv.h"

#include <stdbool.h>
#include <stddef.h>

#include <grpc/grpc.h>
#include <grpc/support/time.h>

#define container_of(ptr, type, member) \
	((type *)(void *)((char *)(ptr) - offsetof(type, member)))

enum tag_kind {
	TAG_NEW_CALL,       /* a registered method got a call */
	TAG_NEW_UNKNOWN,    /* a call for a method nobody registered */
	TAG_CALL_DONE,      /* the single batch of a unary (or rejected) call completed */
	TAG_STREAM_SEND,    /* a stream's send batch (metadata, message or status) completed */
	TAG_STREAM_CLOSE,   /* a stream's RECV_CLOSE_ON_SERVER completed: the call is over */
	TAG_SHUTDOWN,       /* grpc_server_shutdown_and_notify completed */
	TAG_BIDI_RECV,      /* a bidi call's RECV_MESSAGE completed */
	TAG_BIDI_SEND,      /* a bidi call's send batch (metadata, reply or status) completed */
	TAG_BIDI_CLOSE,     /* a bidi call's RECV_CLOSE_ON_SERVER completed: the call is over */
};

struct tag {
	enum tag_kind kind;
};

/* One outstanding grpc_server_request_registered_call per method (of every service). */
struct srv_method {
	struct tag tag;
	struct grpc_srv *srv;
	const struct grpc_srv_service *service;     /* whose method it is */
	unsigned idx;               /* in service->svc->methods */
	char path[256];             /* "/rtpproxy.RtpProxy/CreateSession" */
	void *handle;               /* from grpc_server_register_method; NULL = not served */
	bool armed;
	grpc_call *call;
	gpr_timespec deadline;
	grpc_metadata_array md;
	grpc_byte_buffer *payload;
};

/* The one outstanding grpc_server_request_call, for methods nobody registered. */
struct srv_unknown {
	struct tag tag;
	bool armed;
	grpc_call *call;
	grpc_call_details details;
	grpc_metadata_array md;
};

/* A call answered with one batch: unary replies and rejections. */
struct unary_call {
	struct tag tag;
	struct grpc_srv *srv;
	struct unary_call *next, *prev;
	grpc_call *call;
	grpc_metadata_array md;
	grpc_byte_buffer *resp;
	grpc_slice details;
	int cancelled;
};

struct grpc_srv_stream {
	struct tag send_tag;
	struct tag close_tag;
	struct grpc_srv *srv;
	const struct grpc_srv_method *method;
	void *ctx;                  /* its service's */
	struct grpc_srv_stream *next, *prev;
	grpc_call *call;
	grpc_metadata_array md;
	void *user;

	/* Packed messages, a ring of cap (grown up to limit); the head is in flight while
	 * send_busy. */
	grpc_byte_buffer **queue;
	unsigned head, count, cap, limit;
	bool fell_behind;           /* the queue was full: finishing with RESOURCE_EXHAUSTED */
	gpr_timespec behind_deadline;   /* ... and cancelled if still sending then */

	unsigned batches;           /* outstanding batches: free only at 0 */
	bool started;               /* the handler has returned: sending may begin */
	bool accepted;              /* ... with OK, so `closed` is owed */
	bool md_sent, send_busy, inflight_msg, broken;
	bool finishing, status_sent;
	bool close_done;            /* RECV_CLOSE_ON_SERVER completed */
	bool closed_called;
	int cancelled;
	grpc_status_code code;
	grpc_slice details;
};

struct grpc_srv {
	grpc_server *server;
	grpc_completion_queue *cq;
	struct grpc_srv_service *services;
	unsigned n_services;
	struct grpc_srv_hooks hooks;        /* security: admission and the audit (zero: none) */
	struct srv_method *slots;   /* one per method of every service, in order */
	unsigned n_slots;
	struct srv_unknown unknown;
	struct unary_call *unary_calls;
	struct grpc_srv_stream *streams;
	struct bidi_call *bidis;
	struct tag shutdown_tag;
	bool stopping;
	bool shutdown_done;
	unsigned n_behind;          /* streams that fell behind and have not sent their status */
	gpr_timespec next_behind_check;
};

static inline gpr_timespec deadline_in(int ms)
{
	if (ms <= 0)
		return gpr_inf_past(GPR_CLOCK_MONOTONIC);
	return gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC),
			gpr_time_from_millis(ms, GPR_TIMESPAN));
}

/* ---- grpc_srv.c, for the streams ---- */

/*
 * Answer a call with resp (OK) or with an error status, in one batch. Takes ownership of
 * call, md and resp whatever happens.
 */
void srv_unary_reply(struct grpc_srv *srv, grpc_call *call, grpc_metadata_array *md,
		grpc_byte_buffer *resp, grpc_status_code code, const char *message);

/* ---- grpc_srv_stream.c, for the core ---- */

/* A server-streaming call admitted with its parsed request: run its handler, start sending. */
void srv_serve_stream(struct grpc_srv *srv, const struct srv_method *m, grpc_call *call,
		grpc_metadata_array *md, const ProtobufCMessage *req);
/* A stream's send batch completed (ok: it went out). */
void srv_stream_on_send(struct grpc_srv_stream *s, bool ok);
/* A stream's RECV_CLOSE_ON_SERVER completed: the call is over. */
void srv_stream_on_close(struct grpc_srv_stream *s);
/* Cancel the streams that fell behind and could not send their status in time. */
void srv_cancel_stalled(struct grpc_srv *srv);

/* ---- grpc_srv_bidi.c, for the core ---- */

struct bidi_call;
/* An admitted bidi call (takes call and md): read a request, answer it, until half-close. */
void srv_serve_bidi(struct grpc_srv *srv, const struct srv_method *m, grpc_call *call,
		grpc_metadata_array *md);
void srv_bidi_on_recv(struct bidi_call *b, bool ok);
void srv_bidi_on_send(struct bidi_call *b, bool ok);
void srv_bidi_on_close(struct bidi_call *b);
/* Stopping: every bidi call ends with OK after the reply it is sending. */
void srv_bidi_finish_all(struct grpc_srv *srv);
/* The struct bidi_call that holds this tag (by kind). */
struct bidi_call *srv_bidi_of_tag(struct tag *t);

#endif
