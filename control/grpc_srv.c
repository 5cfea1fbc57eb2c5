/*
 * The gRPC server on grpc C core: one completion queue, polled by the control lcore.
 *
 * Every completion carries a tag that starts with a `struct tag` naming what completed; the
 * object around it is found with container_of. Calls are tracked on one list so that stop can
 * finish streams and check that nothing is left.
 */
#include "grpc_srv.h"
#include "pb_grpc.h"
#include "tls_creds.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <grpc/byte_buffer.h>
#include <grpc/byte_buffer_reader.h>
#include <grpc/grpc.h>
#include <grpc/grpc_security.h>
#include <grpc/slice.h>
#include <grpc/support/alloc.h>
#include <grpc/support/time.h>

#define POLL_BURST 256              /* completions served per grpc_srv_poll at most */
#define STOP_DRAIN_MS 1000          /* stop: how long streams get to flush their queues */
#define STOP_GRACE_MS 1000          /* stop: how long calls get before they are cancelled */

#define container_of(ptr, type, member) \
	((type *)(void *)((char *)(ptr) - offsetof(type, member)))

enum tag_kind {
	TAG_NEW_CALL,       /* a registered method got a call */
	TAG_NEW_UNKNOWN,    /* a call for a method nobody registered */
	TAG_CALL_DONE,      /* the single batch of a unary (or rejected) call completed */
	TAG_STREAM_SEND,    /* a stream's send batch (metadata, message or status) completed */
	TAG_STREAM_CLOSE,   /* a stream's RECV_CLOSE_ON_SERVER completed: the call is over */
	TAG_SHUTDOWN,       /* grpc_server_shutdown_and_notify completed */
};

struct tag {
	enum tag_kind kind;
};

/* One outstanding grpc_server_request_registered_call per method. */
struct srv_method {
	struct tag tag;
	struct grpc_srv *srv;
	unsigned idx;
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
	const ProtobufCServiceDescriptor *svc;
	const struct grpc_srv_method *methods;
	void *ctx;
	struct grpc_srv_hooks hooks;        /* security: admission and the audit (zero: none) */
	struct srv_method *slots;   /* one per svc->methods[i] */
	struct srv_unknown unknown;
	struct unary_call *unary_calls;
	struct grpc_srv_stream *streams;
	struct tag shutdown_tag;
	bool stopping;
	bool shutdown_done;
	unsigned n_behind;          /* streams that fell behind and have not sent their status */
	gpr_timespec next_behind_check;
};

grpc_status_code rpc_fail(struct rpc_error *err, grpc_status_code code, const char *fmt, ...)
{
	va_list ap;

	err->code = code;
	va_start(ap, fmt);
	vsnprintf(err->message, sizeof(err->message), fmt, ap);
	va_end(ap);
	return code;
}

static gpr_timespec deadline_in(int ms)
{
	if (ms <= 0)
		return gpr_inf_past(GPR_CLOCK_MONOTONIC);
	return gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC),
			gpr_time_from_millis(ms, GPR_TIMESPAN));
}

/* ---- asking grpc for calls ---- */

static void arm_method(struct grpc_srv *srv, struct srv_method *m)
{
	if (m->handle == NULL || m->armed || srv->stopping)
		return;
	m->call = NULL;
	m->payload = NULL;
	grpc_metadata_array_init(&m->md);
	if (grpc_server_request_registered_call(srv->server, m->handle, &m->call, &m->deadline,
			&m->md, &m->payload, srv->cq, srv->cq, &m->tag) == GRPC_CALL_OK)
		m->armed = true;
	else
		grpc_metadata_array_destroy(&m->md);
}

static void arm_unknown(struct grpc_srv *srv)
{
	struct srv_unknown *u = &srv->unknown;

	if (u->armed || srv->stopping)
		return;
	u->call = NULL;
	grpc_call_details_init(&u->details);
	grpc_metadata_array_init(&u->md);
	if (grpc_server_request_call(srv->server, &u->call, &u->details, &u->md, srv->cq,
			srv->cq, &u->tag) == GRPC_CALL_OK) {
		u->armed = true;
	} else {
		grpc_call_details_destroy(&u->details);
		grpc_metadata_array_destroy(&u->md);
	}
}

/* ---- unary calls: one batch that sends everything and waits for the close ---- */

static void unary_free(struct unary_call *uc)
{
	struct grpc_srv *srv = uc->srv;

	if (uc->prev != NULL)
		uc->prev->next = uc->next;
	else
		srv->unary_calls = uc->next;
	if (uc->next != NULL)
		uc->next->prev = uc->prev;
	if (uc->resp != NULL)
		grpc_byte_buffer_destroy(uc->resp);
	grpc_slice_unref(uc->details);
	grpc_metadata_array_destroy(&uc->md);
	grpc_call_unref(uc->call);
	free(uc);
}

/*
 * Answer a call with resp (OK) or with an error status, in one batch. Takes ownership of
 * call, md and resp whatever happens.
 */
static void unary_reply(struct grpc_srv *srv, grpc_call *call, grpc_metadata_array *md,
		grpc_byte_buffer *resp, grpc_status_code code, const char *message)
{
	struct unary_call *uc = calloc(1, sizeof(*uc));
	grpc_op ops[4];
	size_t n = 0;

	if (uc == NULL) {
		grpc_call_cancel_with_status(call, GRPC_STATUS_RESOURCE_EXHAUSTED, "out of memory",
				NULL);
		grpc_call_unref(call);
		grpc_metadata_array_destroy(md);
		if (resp != NULL)
			grpc_byte_buffer_destroy(resp);
		return;
	}
	uc->tag.kind = TAG_CALL_DONE;
	uc->srv = srv;
	uc->call = call;
	uc->md = *md;
	uc->resp = resp;
	uc->details = grpc_slice_from_copied_string(message != NULL ? message : "");
	uc->next = srv->unary_calls;
	if (uc->next != NULL)
		uc->next->prev = uc;
	srv->unary_calls = uc;

	/* grpc core wants initial metadata on every call, even one that only fails. */
	memset(ops, 0, sizeof(ops));
	ops[n++].op = GRPC_OP_SEND_INITIAL_METADATA;
	if (resp != NULL) {
		ops[n].op = GRPC_OP_SEND_MESSAGE;
		ops[n++].data.send_message.send_message = resp;
	}
	ops[n].op = GRPC_OP_SEND_STATUS_FROM_SERVER;
	ops[n].data.send_status_from_server.status = code;
	ops[n++].data.send_status_from_server.status_details =
			message != NULL ? &uc->details : NULL;
	ops[n].op = GRPC_OP_RECV_CLOSE_ON_SERVER;
	ops[n++].data.recv_close_on_server.cancelled = &uc->cancelled;
	if (grpc_call_start_batch(call, ops, n, &uc->tag, NULL) != GRPC_CALL_OK) {
		grpc_call_cancel(call, NULL);
		unary_free(uc);
	}
}

/* ---- security hooks ---- */

static grpc_status_code hook_admit(struct grpc_srv *srv, struct grpc_srv_call *gc,
		struct rpc_error *err)
{
	if (srv->hooks.admit == NULL)
		return GRPC_STATUS_OK;
	return srv->hooks.admit(srv->hooks.ctx, gc, err);
}

static void hook_done(struct grpc_srv *srv, const struct grpc_srv_call *gc,
		const ProtobufCMessage *req, const ProtobufCMessage *resp, grpc_status_code code)
{
	if (srv->hooks.done != NULL)
		srv->hooks.done(srv->hooks.ctx, gc, req, resp, code);
}

/* Refuse a call before any handler ran: answer it and tell the done hook. */
static void refuse(struct grpc_srv *srv, const struct grpc_srv_call *gc, grpc_call *call,
		grpc_metadata_array *md, grpc_status_code code, const char *message)
{
	hook_done(srv, gc, NULL, NULL, code);
	unary_reply(srv, call, md, NULL, code, message);
}

static void serve_unary(struct grpc_srv *srv, unsigned idx, grpc_call *call,
		grpc_metadata_array *md, const ProtobufCMessage *req, const struct grpc_srv_call *gc)
{
	const ProtobufCMethodDescriptor *pm = &srv->svc->methods[idx];
	struct rpc_error err = { .code = GRPC_STATUS_OK, .message = "" };
	struct arena arena = { .head = NULL };
	ProtobufCMessage *resp = NULL;

	grpc_status_code code = srv->methods[idx].unary(srv->ctx, req, &resp, &arena, &err);
	if (code == GRPC_STATUS_OK && (resp == NULL || resp->descriptor != pm->output)) {
		code = rpc_fail(&err, GRPC_STATUS_INTERNAL, "%s: handler returned no %s",
				pm->name, pm->output->name);
	}
	hook_done(srv, gc, req, code == GRPC_STATUS_OK ? resp : NULL, code);
	if (code == GRPC_STATUS_OK)
		unary_reply(srv, call, md, pb_grpc_pack(resp), GRPC_STATUS_OK, NULL);
	else
		unary_reply(srv, call, md, NULL, code, err.message);
	arena_reset(&arena);
}

/* ---- server streaming ---- */

static void queue_clear(struct grpc_srv_stream *s)
{
	for (; s->count > 0; s->count--) {
		grpc_byte_buffer_destroy(s->queue[s->head]);
		s->head = (s->head + 1) % s->cap;
	}
}

/* Room for one more message: grow the ring (doubling, up to the limit); false when full. */
static bool queue_room(struct grpc_srv_stream *s)
{
	if (s->count < s->cap)
		return true;
	if (s->cap >= s->limit)
		return false;
	unsigned cap = s->cap ? s->cap * 2 : 16;
	if (cap > s->limit)
		cap = s->limit;
	grpc_byte_buffer **q = malloc(sizeof(*q) * cap);
	if (q == NULL)
		return false;
	for (unsigned i = 0; i < s->count; i++)
		q[i] = s->queue[(s->head + i) % s->cap];
	free(s->queue);
	s->queue = q;
	s->cap = cap;
	s->head = 0;
	return true;
}

static void stream_free(struct grpc_srv_stream *s)
{
	struct grpc_srv *srv = s->srv;

	if (s->prev != NULL)
		s->prev->next = s->next;
	else
		srv->streams = s->next;
	if (s->next != NULL)
		s->next->prev = s->prev;
	queue_clear(s);
	if (s->fell_behind && !s->status_sent)
		srv->n_behind--;
	free(s->queue);
	grpc_slice_unref(s->details);
	grpc_metadata_array_destroy(&s->md);
	grpc_call_unref(s->call);
	free(s);
}

static void stream_maybe_free(struct grpc_srv_stream *s)
{
	if (s->batches == 0 && s->close_done)
		stream_free(s);
}

/* Start the next send batch if none is in flight: metadata, then messages, then status. */
static void stream_pump(struct grpc_srv_stream *s)
{
	grpc_op ops[3];
	size_t n = 0;

	if (!s->started || s->send_busy || s->broken || s->status_sent || s->close_done)
		return;
	memset(ops, 0, sizeof(ops));
	if (!s->md_sent)
		ops[n++].op = GRPC_OP_SEND_INITIAL_METADATA;
	if (s->count > 0) {
		ops[n].op = GRPC_OP_SEND_MESSAGE;
		ops[n++].data.send_message.send_message = s->queue[s->head];
	} else if (s->finishing) {
		ops[n].op = GRPC_OP_SEND_STATUS_FROM_SERVER;
		ops[n].data.send_status_from_server.status = s->code;
		ops[n++].data.send_status_from_server.status_details = &s->details;
	}
	if (n == 0)
		return;
	if (grpc_call_start_batch(s->call, ops, n, &s->send_tag, NULL) != GRPC_CALL_OK) {
		/* Cannot happen with one batch at a time; give up on the call cleanly. */
		s->broken = true;
		grpc_call_cancel(s->call, NULL);
		return;
	}
	s->md_sent = true;
	s->send_busy = true;
	s->batches++;
	s->inflight_msg = ops[n - 1].op == GRPC_OP_SEND_MESSAGE;
	if (ops[n - 1].op == GRPC_OP_SEND_STATUS_FROM_SERVER) {
		s->status_sent = true;
		if (s->fell_behind)
			s->srv->n_behind--;
	}
}

static void stream_on_send(struct grpc_srv_stream *s, bool ok)
{
	s->send_busy = false;
	s->batches--;
	if (s->inflight_msg) {
		s->inflight_msg = false;
		grpc_byte_buffer_destroy(s->queue[s->head]);
		s->head = (s->head + 1) % s->cap;
		s->count--;
	}
	if (!ok)
		s->broken = true;       /* the call is gone: its close event follows */
	stream_pump(s);
	stream_maybe_free(s);
}

static void stream_on_close(struct grpc_srv_stream *s)
{
	s->close_done = true;
	s->batches--;
	if (s->accepted && !s->closed_called) {
		s->closed_called = true;
		if (s->method->closed != NULL)
			s->method->closed(s->srv->ctx, s);
	}
	stream_maybe_free(s);
}

static void serve_stream(struct grpc_srv *srv, unsigned idx, grpc_call *call,
		grpc_metadata_array *md, const ProtobufCMessage *req)
{
	struct grpc_srv_stream *s = calloc(1, sizeof(*s));
	struct rpc_error err = { .code = GRPC_STATUS_OK, .message = "" };
	grpc_op op;

	if (s == NULL) {
		unary_reply(srv, call, md, NULL, GRPC_STATUS_RESOURCE_EXHAUSTED, "out of memory");
		return;
	}
	s->send_tag.kind = TAG_STREAM_SEND;
	s->close_tag.kind = TAG_STREAM_CLOSE;
	s->srv = srv;
	s->method = &srv->methods[idx];
	s->call = call;
	s->md = *md;
	s->details = grpc_empty_slice();
	s->limit = GRPC_SRV_STREAM_QUEUE;
	s->next = srv->streams;
	if (s->next != NULL)
		s->next->prev = s;
	srv->streams = s;

	/* Listen for the end of the call first, so a client that goes away is noticed. */
	memset(&op, 0, sizeof(op));
	op.op = GRPC_OP_RECV_CLOSE_ON_SERVER;
	op.data.recv_close_on_server.cancelled = &s->cancelled;
	if (grpc_call_start_batch(call, &op, 1, &s->close_tag, NULL) != GRPC_CALL_OK) {
		s->close_done = true;
		grpc_call_cancel(call, NULL);
		stream_free(s);
		return;
	}
	s->batches++;

	grpc_status_code code = s->method->stream(srv->ctx, req, s, &err);
	if (code != GRPC_STATUS_OK) {
		/* Refused: nothing queued goes out, and `closed` is not called. */
		queue_clear(s);
		if (s->fell_behind) {
			s->fell_behind = false;
			srv->n_behind--;
		}
		s->finishing = true;
		s->code = code;
		grpc_slice_unref(s->details);
		s->details = grpc_slice_from_copied_string(err.message);
	}
	s->accepted = code == GRPC_STATUS_OK;
	s->started = true;
	stream_pump(s);
}

int grpc_srv_stream_send(struct grpc_srv_stream *s, const ProtobufCMessage *msg)
{
	if (s->finishing || s->broken || s->close_done)
		return -1;
	if (!queue_room(s)) {
		/* never a silent gap: the client learns it fell behind, and re-subscribes */
		char why[160];
		snprintf(why, sizeof(why), "stream fell behind: %u messages were waiting for the "
				"client (the limit, [grpc] stream_queue); subscribe again", s->count);
		s->fell_behind = true;
		s->srv->n_behind++;
		s->behind_deadline = deadline_in(GRPC_SRV_BEHIND_GRACE_MS);
		grpc_srv_stream_finish(s, GRPC_STATUS_RESOURCE_EXHAUSTED, why);
		return -1;
	}
	grpc_byte_buffer *bb = pb_grpc_pack(msg);
	s->queue[(s->head + s->count) % s->cap] = bb;
	s->count++;
	stream_pump(s);
	return 0;
}

void grpc_srv_stream_finish(struct grpc_srv_stream *s, grpc_status_code code,
		const char *message)
{
	if (s->finishing)
		return;
	s->finishing = true;
	s->code = code;
	grpc_slice_unref(s->details);
	s->details = grpc_slice_from_copied_string(message != NULL ? message : "");
	stream_pump(s);
}

void grpc_srv_stream_set_user(struct grpc_srv_stream *s, void *user)
{
	s->user = user;
}

void *grpc_srv_stream_user(struct grpc_srv_stream *s)
{
	return s->user;
}

void grpc_srv_stream_set_limit(struct grpc_srv_stream *s, unsigned limit)
{
	s->limit = limit > 0 ? limit : 1;
}

unsigned grpc_srv_stream_limit(const struct grpc_srv_stream *s)
{
	return s->limit;
}

bool grpc_srv_stream_fell_behind(const struct grpc_srv_stream *s)
{
	return s->fell_behind;
}

/*
 * Streams that fell behind and still could not send their status within the grace period
 * (a client that reads nothing: flow control holds the queue): cancel them with the status,
 * which grpc sends outside flow control. What they held is dropped with the call.
 */
static void cancel_stalled(struct grpc_srv *srv)
{
	gpr_timespec now = gpr_now(GPR_CLOCK_MONOTONIC);

	if (srv->n_behind == 0 || gpr_time_cmp(now, srv->next_behind_check) < 0)
		return;
	srv->next_behind_check = gpr_time_add(now, gpr_time_from_millis(100, GPR_TIMESPAN));
	for (struct grpc_srv_stream *s = srv->streams; s != NULL; s = s->next) {
		if (!s->fell_behind || s->status_sent || s->broken || s->close_done ||
				gpr_time_cmp(now, s->behind_deadline) < 0)
			continue;
		s->broken = true;       /* nothing more to send: the close event follows */
		s->status_sent = true;
		srv->n_behind--;
		char *why = grpc_slice_to_c_string(s->details);
		grpc_call_cancel_with_status(s->call, GRPC_STATUS_RESOURCE_EXHAUSTED, why, NULL);
		gpr_free(why);
	}
}

unsigned grpc_srv_stream_queued(const struct grpc_srv_stream *s)
{
	return s->count;
}

/* ---- dispatch ---- */

static void on_new_call(struct grpc_srv *srv, struct srv_method *m, bool ok)
{
	const ProtobufCMethodDescriptor *pm = &srv->svc->methods[m->idx];
	grpc_call *call = m->call;
	grpc_metadata_array md = m->md;
	grpc_byte_buffer *payload = m->payload;
	char path[512];
	struct grpc_srv_call gc = { .call = call, .method = path, .md = &md };
	struct rpc_error err = { .code = GRPC_STATUS_OK, .message = "" };

	m->armed = false;
	if (!ok) {
		/* The server is shutting down: the request was cancelled. */
		grpc_metadata_array_destroy(&md);
		return;
	}
	arm_method(srv, m);
	snprintf(path, sizeof(path), "/%s/%s", srv->svc->name, pm->name);

	if (srv->stopping) {
		refuse(srv, &gc, call, &md, GRPC_STATUS_UNAVAILABLE, "server is shutting down");
	} else if (hook_admit(srv, &gc, &err) != GRPC_STATUS_OK) {
		refuse(srv, &gc, call, &md, err.code, err.message);
	} else {
		ProtobufCMessage *req = pb_grpc_unpack(pm->input, payload);
		if (req == NULL) {
			char msg[256];
			snprintf(msg, sizeof(msg), "request does not parse as %s%s",
					pm->input->name, payload == NULL ? ": no message" : "");
			refuse(srv, &gc, call, &md, GRPC_STATUS_INVALID_ARGUMENT, msg);
		} else {
			if (srv->methods[m->idx].unary != NULL)
				serve_unary(srv, m->idx, call, &md, req, &gc);
			else
				serve_stream(srv, m->idx, call, &md, req);
			protobuf_c_message_free_unpacked(req, NULL);
		}
	}
	if (payload != NULL)
		grpc_byte_buffer_destroy(payload);
}

static void on_new_unknown(struct grpc_srv *srv, bool ok)
{
	struct srv_unknown *u = &srv->unknown;
	grpc_call *call = u->call;
	grpc_metadata_array md = u->md;
	char msg[320];

	u->armed = false;
	if (ok) {
		grpc_slice m = u->details.method;
		char path[256];
		struct grpc_srv_call gc = { .call = call, .method = path, .md = &md };
		struct rpc_error err = { .code = GRPC_STATUS_OK, .message = "" };
		snprintf(path, sizeof(path), "%.*s", (int)GRPC_SLICE_LENGTH(m),
				(const char *)GRPC_SLICE_START_PTR(m));
		snprintf(msg, sizeof(msg), "unknown method %s", path);
		/* admitted first, so a stranger learns nothing of what exists */
		if (hook_admit(srv, &gc, &err) != GRPC_STATUS_OK)
			refuse(srv, &gc, call, &md, err.code, err.message);
		else
			refuse(srv, &gc, call, &md, GRPC_STATUS_UNIMPLEMENTED, msg);
	} else {
		grpc_metadata_array_destroy(&md);
	}
	grpc_call_details_destroy(&u->details);
	if (ok)
		arm_unknown(srv);
}

static void dispatch(struct grpc_srv *srv, const grpc_event *ev)
{
	struct tag *t = ev->tag;
	bool ok = ev->success != 0;

	switch (t->kind) {
	case TAG_NEW_CALL:
		on_new_call(srv, container_of(t, struct srv_method, tag), ok);
		break;
	case TAG_NEW_UNKNOWN:
		on_new_unknown(srv, ok);
		break;
	case TAG_CALL_DONE:
		unary_free(container_of(t, struct unary_call, tag));
		break;
	case TAG_STREAM_SEND:
		stream_on_send(container_of(t, struct grpc_srv_stream, send_tag), ok);
		break;
	case TAG_STREAM_CLOSE:
		stream_on_close(container_of(t, struct grpc_srv_stream, close_tag));
		break;
	case TAG_SHUTDOWN:
		srv->shutdown_done = true;
		break;
	}
}

/* Wait up to timeout_ms for one completion, then serve what else is ready; 0 if none came. */
static int serve(struct grpc_srv *srv, int timeout_ms)
{
	int served = 0;

	for (; served < POLL_BURST; served++) {
		gpr_timespec dl = served == 0 ? deadline_in(timeout_ms)
				: gpr_inf_past(GPR_CLOCK_MONOTONIC);
		grpc_event ev = grpc_completion_queue_next(srv->cq, dl, NULL);
		if (ev.type != GRPC_OP_COMPLETE)
			break;
		dispatch(srv, &ev);
	}
	return served;
}

void grpc_srv_poll(struct grpc_srv *srv, int timeout_ms)
{
	serve(srv, timeout_ms);
	cancel_stalled(srv);
}

/* ---- start / stop ---- */

/* "1.2.3.4:5" / "[::1]:5" as a socket address; false for anything else grpc may accept. */
static bool parse_listen(const char *listen, struct sockaddr_storage *ss, socklen_t *len)
{
	const char *colon = strrchr(listen, ':');
	char host[INET6_ADDRSTRLEN + 2], *end;

	memset(ss, 0, sizeof(*ss));
	if (colon == NULL || (size_t)(colon - listen) >= sizeof(host))
		return false;
	memcpy(host, listen, (size_t)(colon - listen));
	host[colon - listen] = '\0';
	char *h = host;
	size_t hl = strlen(h);
	if (hl >= 2 && h[0] == '[' && h[hl - 1] == ']') {
		h[hl - 1] = '\0';
		h++;
	}
	unsigned long port = strtoul(colon + 1, &end, 10);
	if (colon[1] == '\0' || *end != '\0' || port > 65535)
		return false;
	struct sockaddr_in *sin = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
	if (inet_pton(AF_INET, h, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)port);
		*len = sizeof(*sin);
		return true;
	}
	if (inet_pton(AF_INET6, h, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)port);
		*len = sizeof(*sin6);
		return true;
	}
	return false;
}

/* grpc says only that it failed: bind the address ourselves to learn why (errno, 0 if it can). */
static int probe_bind(const char *listen)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int one = 1, e = 0;

	if (!parse_listen(listen, &ss, &len))
		return EINVAL;
	int fd = socket(ss.ss_family, SOCK_STREAM, 0);
	if (fd < 0)
		return errno;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss, len) != 0)
		e = errno;
	close(fd);
	return e;
}

static void explain_bind_failure(const char *listen, char *err, size_t errlen)
{
	int e = probe_bind(listen);

	if (e == EINVAL)
		snprintf(err, errlen, "grpc: cannot listen on %s: not a local IP address and port",
				listen);
	else if (e != 0)
		snprintf(err, errlen, "grpc: cannot listen on %s: %s", listen, strerror(e));
	else
		snprintf(err, errlen, "grpc: cannot listen on %s", listen);
}

static bool register_methods(struct grpc_srv *srv)
{
	const ProtobufCServiceDescriptor *svc = srv->svc;

	for (unsigned i = 0; i < svc->n_methods; i++) {
		struct srv_method *m = &srv->slots[i];
		char path[512];

		m->tag.kind = TAG_NEW_CALL;
		m->srv = srv;
		m->idx = i;
		if (srv->methods[i].unary == NULL && srv->methods[i].stream == NULL)
			continue;   /* left to the unknown-method path: UNIMPLEMENTED */
		snprintf(path, sizeof(path), "/%s/%s", svc->name, svc->methods[i].name);
		m->handle = grpc_server_register_method(srv->server, path, NULL,
				GRPC_SRM_PAYLOAD_READ_INITIAL_BYTE_BUFFER, 0);
		if (m->handle == NULL)
			return false;
	}
	return true;
}

/* Serve completions until done(srv) or for ms at most (< 0: as long as it takes). */
static void serve_until(struct grpc_srv *srv, bool (*done)(struct grpc_srv *), int ms)
{
	gpr_timespec end = ms < 0 ? gpr_inf_future(GPR_CLOCK_MONOTONIC) : deadline_in(ms);

	while (!done(srv)) {
		gpr_timespec now = gpr_now(GPR_CLOCK_MONOTONIC);
		if (gpr_time_cmp(now, end) >= 0)
			break;
		gpr_timespec left = gpr_time_sub(end, now);
		int64_t left_ms = gpr_time_to_millis(left);
		serve(srv, left_ms > 100 ? 100 : left_ms < 1 ? 1 : (int)left_ms);
	}
}

static bool no_streams(struct grpc_srv *srv)
{
	return srv->streams == NULL;
}

static bool is_shut_down(struct grpc_srv *srv)
{
	return srv->shutdown_done;
}

static void srv_free(struct grpc_srv *srv)
{
	free(srv->slots);
	free(srv);
}

struct grpc_srv *grpc_srv_start(const char *listen, const ProtobufCServiceDescriptor *svc,
		const struct grpc_srv_method *methods, void *ctx, int *bound_port,
		char *err, size_t errlen)
{
	return grpc_srv_start_opts(listen, svc, methods, ctx, NULL, bound_port, err, errlen);
}

/* TLS when a certificate is configured, else plaintext; NULL (err set) if the files fail. */
static grpc_server_credentials *server_credentials(const struct grpc_srv_opts *opts,
		char *err, size_t errlen)
{
	if (opts == NULL || opts->tls_cert == NULL || opts->tls_cert[0] == '\0')
		return grpc_insecure_server_credentials_create();
	return tls_server_credentials(opts->tls_cert, opts->tls_key, opts->tls_client_ca,
			err, errlen);
}

struct grpc_srv *grpc_srv_start_opts(const char *listen, const ProtobufCServiceDescriptor *svc,
		const struct grpc_srv_method *methods, void *ctx, const struct grpc_srv_opts *opts,
		int *bound_port, char *err, size_t errlen)
{
	struct grpc_srv *srv = calloc(1, sizeof(*srv));

	if (srv != NULL)
		srv->slots = calloc(svc->n_methods ? svc->n_methods : 1, sizeof(*srv->slots));
	if (srv == NULL || srv->slots == NULL) {
		snprintf(err, errlen, "grpc: out of memory");
		if (srv != NULL)
			srv_free(srv);
		return NULL;
	}
	srv->svc = svc;
	srv->methods = methods;
	srv->ctx = ctx;
	if (opts != NULL && opts->hooks != NULL)
		srv->hooks = *opts->hooks;
	srv->unknown.tag.kind = TAG_NEW_UNKNOWN;
	srv->shutdown_tag.kind = TAG_SHUTDOWN;

	grpc_init();
	/* grpc sets SO_REUSEPORT by default: a second server would share our port silently. */
	grpc_arg arg[2] = { {
		.type = GRPC_ARG_INTEGER,
		.key = GRPC_ARG_ALLOW_REUSEPORT,
		.value.integer = 0,
	} };
	grpc_channel_args args = { .num_args = 1, .args = arg };
	if (opts != NULL && opts->max_message_bytes > 0) {
		/* grpc refuses a larger request itself, with RESOURCE_EXHAUSTED */
		arg[1] = (grpc_arg){ .type = GRPC_ARG_INTEGER,
			.key = GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH,
			.value.integer = opts->max_message_bytes };
		args.num_args = 2;
	}
	srv->server = grpc_server_create(&args, NULL);
	srv->cq = grpc_completion_queue_create_for_next(NULL);
	grpc_server_register_completion_queue(srv->server, srv->cq, NULL);
	if (!register_methods(srv)) {
		snprintf(err, errlen, "grpc: cannot register the methods of %s", svc->name);
		goto fail;
	}
	grpc_server_credentials *creds = server_credentials(opts, err, errlen);
	if (creds == NULL)
		goto fail;
	int port = grpc_server_add_http2_port(srv->server, listen, creds);
	grpc_server_credentials_release(creds);
	if (port == 0) {
		explain_bind_failure(listen, err, errlen);
		goto fail;
	}
	grpc_server_start(srv->server);
	for (unsigned i = 0; i < svc->n_methods; i++)
		arm_method(srv, &srv->slots[i]);
	arm_unknown(srv);
	if (bound_port != NULL)
		*bound_port = port;
	return srv;

fail:
	/* Never started: destroy needs no shutdown, and the cq has seen nothing. */
	grpc_server_destroy(srv->server);
	grpc_completion_queue_shutdown(srv->cq);
	while (grpc_completion_queue_next(srv->cq, gpr_inf_future(GPR_CLOCK_MONOTONIC),
			NULL).type != GRPC_QUEUE_SHUTDOWN)
		;
	grpc_completion_queue_destroy(srv->cq);
	srv_free(srv);
	grpc_shutdown();
	return NULL;
}

void grpc_srv_stop(struct grpc_srv *srv)
{
	if (srv == NULL)
		return;
	/* Streams end with OK after what they have queued; new calls are refused. */
	srv->stopping = true;
	for (struct grpc_srv_stream *s = srv->streams; s != NULL; s = s->next)
		grpc_srv_stream_finish(s, GRPC_STATUS_OK, NULL);
	serve_until(srv, no_streams, STOP_DRAIN_MS);

	grpc_server_shutdown_and_notify(srv->server, srv->cq, &srv->shutdown_tag);
	serve_until(srv, is_shut_down, STOP_GRACE_MS);
	if (!srv->shutdown_done) {
		grpc_server_cancel_all_calls(srv->server);
		serve_until(srv, is_shut_down, -1);
	}
	grpc_server_destroy(srv->server);

	grpc_completion_queue_shutdown(srv->cq);
	for (;;) {
		grpc_event ev = grpc_completion_queue_next(srv->cq,
				gpr_inf_future(GPR_CLOCK_MONOTONIC), NULL);
		if (ev.type == GRPC_QUEUE_SHUTDOWN)
			break;
		if (ev.type == GRPC_OP_COMPLETE)
			dispatch(srv, &ev);
	}
	grpc_completion_queue_destroy(srv->cq);

	/* Every call ends before the shutdown tag; anything left here is a bug worth hearing of. */
	if (srv->streams != NULL || srv->unary_calls != NULL)
		fprintf(stderr, "grpc_srv: calls left at stop\n");
	srv_free(srv);
	grpc_shutdown();
}
