/*
 * The gRPC server's bidirectional calls answered one for one (grpc_srv_method.bidi): read a
 * request, run the handler, send its reply, read the next; the client's half-close ends the
 * call with OK, a handler's error with its status. One receive and one send batch at most in
 * flight, besides RECV_CLOSE_ON_SERVER, which tells when the call is over. The core
 * (grpc_srv.c) hands admitted calls over.
 */
#include "grpc_srv_int.h"
#include "pb_grpc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <grpc/byte_buffer.h>
#include <grpc/slice.h>

struct bidi_call {
	struct tag recv_tag, send_tag, close_tag;
	struct grpc_srv *srv;
	const struct srv_method *m;
	struct bidi_call *next, *prev;
	grpc_call *call;
	grpc_metadata_array md;
	grpc_byte_buffer *request;  /* RECV_MESSAGE's: NULL at the client's half-close */
	grpc_byte_buffer *reply;    /* packed, going out: the next request waits for it */
	unsigned batches;           /* outstanding batches: free only at 0 */
	bool recv_busy, send_busy, md_sent, reply_inflight;
	bool half_closed, finishing, status_sent, broken, close_done;
	int cancelled;
	grpc_status_code code;
	grpc_slice details;
};

struct bidi_call *srv_bidi_of_tag(struct tag *t)
{
	switch (t->kind) {
	case TAG_BIDI_RECV:
		return container_of(t, struct bidi_call, recv_tag);
	case TAG_BIDI_SEND:
		return container_of(t, struct bidi_call, send_tag);
	default:
		return container_of(t, struct bidi_call, close_tag);
	}
}

static void bidi_free(struct bidi_call *b)
{
	struct grpc_srv *srv = b->srv;

	if (b->prev != NULL)
		b->prev->next = b->next;
	else
		srv->bidis = b->next;
	if (b->next != NULL)
		b->next->prev = b->prev;
	if (b->request != NULL)
		grpc_byte_buffer_destroy(b->request);
	if (b->reply != NULL)
		grpc_byte_buffer_destroy(b->reply);
	grpc_slice_unref(b->details);
	grpc_metadata_array_destroy(&b->md);
	grpc_call_unref(b->call);
	free(b);
}

static void bidi_maybe_free(struct bidi_call *b)
{
	if (b->batches == 0 && b->close_done)
		bidi_free(b);
}

static bool start(struct bidi_call *b, const grpc_op *ops, size_t n, struct tag *tag)
{
	if (grpc_call_start_batch(b->call, ops, n, tag, NULL) != GRPC_CALL_OK) {
		/* Cannot happen with one batch of a kind at a time; give up on the call. */
		b->broken = true;
		grpc_call_cancel(b->call, NULL);
		return false;
	}
	b->batches++;
	return true;
}

/* Start what can go: the metadata and a reply, or the status; then the next read. */
static void pump(struct bidi_call *b)
{
	grpc_op ops[2];
	size_t n = 0;

	if (b->broken || b->status_sent || b->close_done)
		return;
	memset(ops, 0, sizeof(ops));
	if (!b->send_busy) {
		if (!b->md_sent)
			ops[n++].op = GRPC_OP_SEND_INITIAL_METADATA;
		if (b->reply != NULL) {
			ops[n].op = GRPC_OP_SEND_MESSAGE;
			ops[n++].data.send_message.send_message = b->reply;
		} else if (b->finishing) {
			ops[n].op = GRPC_OP_SEND_STATUS_FROM_SERVER;
			ops[n].data.send_status_from_server.status = b->code;
			ops[n++].data.send_status_from_server.status_details = &b->details;
		}
		if (n > 0 && start(b, ops, n, &b->send_tag)) {
			b->send_busy = true;
			b->md_sent = true;
			b->reply_inflight = ops[n - 1].op == GRPC_OP_SEND_MESSAGE;
			b->status_sent = ops[n - 1].op == GRPC_OP_SEND_STATUS_FROM_SERVER;
		}
	}
	if (!b->recv_busy && !b->half_closed && !b->finishing && b->reply == NULL &&
			!b->broken) {
		memset(ops, 0, sizeof(ops));
		ops[0].op = GRPC_OP_RECV_MESSAGE;
		ops[0].data.recv_message.recv_message = &b->request;
		if (start(b, ops, 1, &b->recv_tag))
			b->recv_busy = true;
	}
}

static void finish(struct bidi_call *b, grpc_status_code code, const char *message)
{
	if (b->finishing)
		return;
	b->finishing = true;
	b->code = code;
	grpc_slice_unref(b->details);
	b->details = grpc_slice_from_copied_string(message != NULL ? message : "");
}

/* One request: the handler's reply packed for sending, or the call finished with its error. */
static void answer(struct bidi_call *b, grpc_byte_buffer *bb)
{
	const struct grpc_srv_service *sv = b->m->service;
	const ProtobufCMethodDescriptor *pm = &sv->svc->methods[b->m->idx];
	struct rpc_error err = { .code = GRPC_STATUS_OK, .message = "" };
	struct arena arena = { .head = NULL };
	ProtobufCMessage *resp = NULL;

	ProtobufCMessage *req = pb_grpc_unpack(pm->input, bb);
	if (req == NULL) {
		char msg[256];
		snprintf(msg, sizeof(msg), "request does not parse as %s", pm->input->name);
		finish(b, GRPC_STATUS_INVALID_ARGUMENT, msg);
		return;
	}
	grpc_status_code code = sv->methods[b->m->idx].bidi(sv->ctx, req, &resp, &arena, &err);
	if (code == GRPC_STATUS_OK && (resp == NULL || resp->descriptor != pm->output))
		code = rpc_fail(&err, GRPC_STATUS_INTERNAL, "%s: handler returned no %s",
				pm->name, pm->output->name);
	if (code == GRPC_STATUS_OK)
		b->reply = pb_grpc_pack(resp);
	else
		finish(b, code, err.message);
	arena_reset(&arena);
	protobuf_c_message_free_unpacked(req, NULL);
}

void srv_bidi_on_recv(struct bidi_call *b, bool ok)
{
	grpc_byte_buffer *bb = b->request;

	b->request = NULL;
	b->recv_busy = false;
	b->batches--;
	if (!ok)
		b->broken = true;       /* the call is gone: its close event follows */
	else if (bb == NULL)
		b->half_closed = true;  /* the client is done asking */
	else if (!b->finishing)
		answer(b, bb);
	if (b->half_closed)
		finish(b, GRPC_STATUS_OK, NULL);
	if (bb != NULL)
		grpc_byte_buffer_destroy(bb);
	pump(b);
	bidi_maybe_free(b);
}

void srv_bidi_on_send(struct bidi_call *b, bool ok)
{
	b->send_busy = false;
	b->batches--;
	if (b->reply_inflight) {
		b->reply_inflight = false;
		grpc_byte_buffer_destroy(b->reply);
		b->reply = NULL;
	}
	if (!ok)
		b->broken = true;
	pump(b);
	bidi_maybe_free(b);
}

void srv_bidi_on_close(struct bidi_call *b)
{
	b->close_done = true;
	b->batches--;
	bidi_maybe_free(b);
}

void srv_bidi_finish_all(struct grpc_srv *srv)
{
	for (struct bidi_call *b = srv->bidis; b != NULL; b = b->next) {
		finish(b, GRPC_STATUS_OK, NULL);
		pump(b);
	}
}

void srv_serve_bidi(struct grpc_srv *srv, const struct srv_method *m, grpc_call *call,
		grpc_metadata_array *md)
{
	struct bidi_call *b = calloc(1, sizeof(*b));
	grpc_op op;

	if (b == NULL) {
		srv_unary_reply(srv, call, md, NULL, GRPC_STATUS_RESOURCE_EXHAUSTED,
				"out of memory");
		return;
	}
	b->recv_tag.kind = TAG_BIDI_RECV;
	b->send_tag.kind = TAG_BIDI_SEND;
	b->close_tag.kind = TAG_BIDI_CLOSE;
	b->srv = srv;
	b->m = m;
	b->call = call;
	b->md = *md;
	b->details = grpc_empty_slice();
	b->next = srv->bidis;
	if (b->next != NULL)
		b->next->prev = b;
	srv->bidis = b;

	/* Listen for the end of the call first, so a client that goes away is noticed. */
	memset(&op, 0, sizeof(op));
	op.op = GRPC_OP_RECV_CLOSE_ON_SERVER;
	op.data.recv_close_on_server.cancelled = &b->cancelled;
	if (!start(b, &op, 1, &b->close_tag)) {
		b->close_done = true;
		bidi_free(b);
		return;
	}
	pump(b);
}
