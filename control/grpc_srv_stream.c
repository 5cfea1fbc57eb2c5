/*
 * The gRPC server's server-streaming calls (see grpc_srv.h): each stream's queue of packed
 * messages, one send batch at a time (metadata, messages, then the status), the client that
 * falls behind, and the end of the call. The core (grpc_srv.c) hands admitted calls over.
 */
#include "grpc_srv_int.h"
#include "pb_grpc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <grpc/byte_buffer.h>
#include <grpc/slice.h>
#include <grpc/support/alloc.h>

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

void srv_stream_on_send(struct grpc_srv_stream *s, bool ok)
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

void srv_stream_on_close(struct grpc_srv_stream *s)
{
	s->close_done = true;
	s->batches--;
	if (s->accepted && !s->closed_called) {
		s->closed_called = true;
		if (s->method->closed != NULL)
			s->method->closed(s->ctx, s);
	}
	stream_maybe_free(s);
}

void srv_serve_stream(struct grpc_srv *srv, const struct srv_method *m, grpc_call *call,
		grpc_metadata_array *md, const ProtobufCMessage *req)
{
	struct grpc_srv_stream *s = calloc(1, sizeof(*s));
	struct rpc_error err = { .code = GRPC_STATUS_OK, .message = "" };
	grpc_op op;

	if (s == NULL) {
		srv_unary_reply(srv, call, md, NULL, GRPC_STATUS_RESOURCE_EXHAUSTED,
				"out of memory");
		return;
	}
	s->send_tag.kind = TAG_STREAM_SEND;
	s->close_tag.kind = TAG_STREAM_CLOSE;
	s->srv = srv;
	s->method = &m->service->methods[m->idx];
	s->ctx = m->service->ctx;
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

	grpc_status_code code = s->method->stream(s->ctx, req, s, &err);
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
void srv_cancel_stalled(struct grpc_srv *srv)
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
