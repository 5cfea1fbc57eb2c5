/*
 * A small gRPC client on grpc C core. Each client and each stream has its own "next"
 * completion queue; a tag records its own completion so one can wait for a given batch
 * while others complete around it.
 */
#include "rpc_client.h"
#include "pb_grpc.h"
#include "tls_creds.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <grpc/byte_buffer.h>
#include <grpc/byte_buffer_reader.h>
#include <grpc/grpc.h>
#include <grpc/grpc_security.h>
#include <grpc/slice.h>
#include <grpc/support/alloc.h>
#include <grpc/support/time.h>

struct rpc_client {
	grpc_channel *channel;
	grpc_completion_queue *cq;
	grpc_metadata md[1];        /* sent with every call: the bearer token */
	size_t n_md;
};

/* A batch in flight: the completion queue marks it done. */
struct batch {
	bool pending;
	bool done;
	int ok;
};

struct rpc_stream {
	grpc_completion_queue *cq;
	grpc_call *call;
	grpc_metadata_array md_initial, md_trailing;
	grpc_byte_buffer *recv_buf;
	grpc_status_code code;
	grpc_slice details;
	struct batch start, recv, status;
	bool ended;
};

static const char *const status_names[] = {
	[GRPC_STATUS_OK] = "OK",
	[GRPC_STATUS_CANCELLED] = "CANCELLED",
	[GRPC_STATUS_UNKNOWN] = "UNKNOWN",
	[GRPC_STATUS_INVALID_ARGUMENT] = "INVALID_ARGUMENT",
	[GRPC_STATUS_DEADLINE_EXCEEDED] = "DEADLINE_EXCEEDED",
	[GRPC_STATUS_NOT_FOUND] = "NOT_FOUND",
	[GRPC_STATUS_ALREADY_EXISTS] = "ALREADY_EXISTS",
	[GRPC_STATUS_PERMISSION_DENIED] = "PERMISSION_DENIED",
	[GRPC_STATUS_RESOURCE_EXHAUSTED] = "RESOURCE_EXHAUSTED",
	[GRPC_STATUS_FAILED_PRECONDITION] = "FAILED_PRECONDITION",
	[GRPC_STATUS_ABORTED] = "ABORTED",
	[GRPC_STATUS_OUT_OF_RANGE] = "OUT_OF_RANGE",
	[GRPC_STATUS_UNIMPLEMENTED] = "UNIMPLEMENTED",
	[GRPC_STATUS_INTERNAL] = "INTERNAL",
	[GRPC_STATUS_UNAVAILABLE] = "UNAVAILABLE",
	[GRPC_STATUS_DATA_LOSS] = "DATA_LOSS",
	[GRPC_STATUS_UNAUTHENTICATED] = "UNAUTHENTICATED",
};

const char *rpc_status_name(grpc_status_code code)
{
	if ((unsigned)code < sizeof(status_names) / sizeof(status_names[0]) &&
			status_names[code] != NULL)
		return status_names[code];
	return "UNKNOWN_CODE";
}

static void set_status(struct rpc_status *st, grpc_status_code code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void set_status(struct rpc_status *st, grpc_status_code code, const char *fmt, ...)
{
	va_list ap;

	st->code = code;
	va_start(ap, fmt);
	vsnprintf(st->message, sizeof(st->message), fmt, ap);
	va_end(ap);
}

static void status_from_slice(struct rpc_status *st, grpc_status_code code, grpc_slice details)
{
	size_t n = GRPC_SLICE_LENGTH(details);

	if (n >= sizeof(st->message))
		n = sizeof(st->message) - 1;
	st->code = code;
	memcpy(st->message, GRPC_SLICE_START_PTR(details), n);
	st->message[n] = '\0';
}

static gpr_timespec deadline_after(int ms)
{
	if (ms < 0)
		return gpr_inf_future(GPR_CLOCK_MONOTONIC);
	return gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC), gpr_time_from_millis(ms, GPR_TIMESPAN));
}

/* Serve cq until want is done; false on timeout. */
static bool wait_batch(grpc_completion_queue *cq, struct batch *want, gpr_timespec deadline)
{
	while (!want->done) {
		grpc_event ev = grpc_completion_queue_next(cq, deadline, NULL);
		if (ev.type != GRPC_OP_COMPLETE)
			return false;
		struct batch *b = ev.tag;
		b->pending = false;
		b->done = true;
		b->ok = ev.success;
	}
	return true;
}

static void drain_and_destroy_cq(grpc_completion_queue *cq)
{
	grpc_completion_queue_shutdown(cq);
	while (grpc_completion_queue_next(cq, gpr_inf_future(GPR_CLOCK_MONOTONIC), NULL).type
			!= GRPC_QUEUE_SHUTDOWN)
		;
	grpc_completion_queue_destroy(cq);
}

static grpc_byte_buffer *bytes_to_buffer(const void *data, size_t len)
{
	grpc_slice slice = grpc_slice_from_copied_buffer(data, len);
	grpc_byte_buffer *bb = grpc_raw_byte_buffer_create(&slice, 1);

	grpc_slice_unref(slice);
	return bb;
}

static grpc_call *new_call(grpc_channel *ch, grpc_completion_queue *cq, const char *method,
		int deadline_ms)
{
	gpr_timespec deadline = deadline_ms <= 0 ? gpr_inf_future(GPR_CLOCK_REALTIME)
			: deadline_after(deadline_ms);
	grpc_slice path = grpc_slice_from_copied_string(method);
	grpc_call *call = grpc_channel_create_call(ch, NULL, GRPC_PROPAGATE_DEFAULTS, cq, path,
			NULL, deadline, NULL);

	grpc_slice_unref(path);
	return call;
}

struct rpc_client *rpc_client_connect(const char *target, char *err, size_t errlen)
{
	return rpc_client_connect_opts(target, NULL, err, errlen);
}

int rpc_client_read_token(const char *file, char *tok, size_t toklen, char *err, size_t errlen)
{
	FILE *f = fopen(file, "re");
	char line[1024];
	int rc = -1;

	if (f == NULL) {
		snprintf(err, errlen, "--token-file: cannot read %s: %s", file, strerror(errno));
		return -1;
	}
	while (rc != 0 && fgets(line, sizeof(line), f) != NULL) {
		char *p = line + strspn(line, " \t"), *save = NULL;
		if (*p == '#')
			continue;
		char *w = strtok_r(p, " \t\r\n", &save);
		if (w == NULL)
			continue;
		if (strlen(w) >= toklen)
			break;
		snprintf(tok, toklen, "%s", w);
		rc = 0;
	}
	if (rc != 0)
		snprintf(err, errlen, "--token-file: %s: no token in it", file);
	memset(line, 0, sizeof(line));
	fclose(f);
	return rc;
}

static bool opt_set(const char *s)
{
	return s != NULL && s[0] != '\0';
}

struct rpc_client *rpc_client_connect_opts(const char *target, const struct rpc_client_opts *opts,
		char *err, size_t errlen)
{
	struct rpc_client *c = calloc(1, sizeof(*c));

	if (c == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	/* A big ListSessions page must not hit grpc's default 4 MiB receive limit. */
	grpc_arg arg = {
		.type = GRPC_ARG_INTEGER,
		.key = GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH,
		.value.integer = -1,
	};
	grpc_channel_args args = { .num_args = 1, .args = &arg };

	grpc_init();
	grpc_channel_credentials *creds;
	if (opts != NULL && opt_set(opts->tls_ca)) {
		creds = tls_channel_credentials(opts->tls_ca, opts->tls_cert, opts->tls_key, err,
				errlen);
		if (creds == NULL) {
			rpc_client_close(c);
			return NULL;
		}
	} else if (opts != NULL && (opt_set(opts->tls_cert) || opt_set(opts->tls_key))) {
		snprintf(err, errlen, "--tls-cert/--tls-key need --tls-ca");
		rpc_client_close(c);
		return NULL;
	} else {
		creds = grpc_insecure_credentials_create();
	}
	if (opts != NULL && opt_set(opts->token)) {
		/* plain metadata, not call credentials: those grpc sends over TLS only */
		size_t tl = strlen(opts->token);
		char *v = malloc(tl + 8);
		if (v != NULL) {
			memcpy(v, "Bearer ", 7);
			memcpy(v + 7, opts->token, tl + 1);
			c->md[0].key = grpc_slice_from_static_string("authorization");
			c->md[0].value = grpc_slice_from_copied_string(v);
			c->n_md = 1;
			memset(v, 0, tl + 8);
			free(v);
		}
	}
	c->channel = grpc_channel_create(target, creds, &args);
	grpc_channel_credentials_release(creds);
	c->cq = grpc_completion_queue_create_for_next(NULL);
	if (c->channel == NULL || c->cq == NULL) {
		snprintf(err, errlen, "cannot create a channel to %s", target);
		rpc_client_close(c);
		return NULL;
	}
	return c;
}

void rpc_client_close(struct rpc_client *c)
{
	if (c == NULL)
		return;
	if (c->channel != NULL)
		grpc_channel_destroy(c->channel);
	if (c->cq != NULL)
		drain_and_destroy_cq(c->cq);
	for (size_t i = 0; i < c->n_md; i++) {
		grpc_slice_unref(c->md[i].key);
		grpc_slice_unref(c->md[i].value);
	}
	free(c);
	grpc_shutdown();
}

/* A unary call in flight: one batch carries all of it and completes when the status is in. */
struct rpc_call {
	struct batch b;             /* first: the cq's tag, for wait_batch too */
	grpc_call *call;
	grpc_metadata_array md_initial, md_trailing;
	grpc_byte_buffer *resp;
	grpc_status_code code;
	grpc_slice details;
	const ProtobufCMessageDescriptor *resp_desc;   /* rpc_call_start's calls only */
	const char *method;
	void *user;
};

/*
 * Start the call's batch on c's cq. false (st set): no call was made, only u is to free.
 * true with u->b.pending false (st set): the batch did not start; call_end frees the call.
 */
static bool call_begin(struct rpc_client *c, struct rpc_call *u, const char *method,
		grpc_byte_buffer *req, struct rpc_status *st, int deadline_ms)
{
	grpc_op ops[6];

	u->b = (struct batch){ .pending = true };
	u->resp = NULL;
	u->code = GRPC_STATUS_UNKNOWN;
	u->details = grpc_empty_slice();
	u->method = method;
	u->call = new_call(c->channel, c->cq, method, deadline_ms);
	if (u->call == NULL) {
		set_status(st, GRPC_STATUS_INTERNAL, "cannot create a call to %s", method);
		return false;
	}
	grpc_metadata_array_init(&u->md_initial);
	grpc_metadata_array_init(&u->md_trailing);
	memset(ops, 0, sizeof(ops));
	ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
	ops[0].data.send_initial_metadata.count = c->n_md;
	ops[0].data.send_initial_metadata.metadata = c->md;
	ops[1].op = GRPC_OP_SEND_MESSAGE;
	ops[1].data.send_message.send_message = req;
	ops[2].op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
	ops[3].op = GRPC_OP_RECV_INITIAL_METADATA;
	ops[3].data.recv_initial_metadata.recv_initial_metadata = &u->md_initial;
	ops[4].op = GRPC_OP_RECV_MESSAGE;
	ops[4].data.recv_message.recv_message = &u->resp;
	ops[5].op = GRPC_OP_RECV_STATUS_ON_CLIENT;
	ops[5].data.recv_status_on_client.trailing_metadata = &u->md_trailing;
	ops[5].data.recv_status_on_client.status = &u->code;
	ops[5].data.recv_status_on_client.status_details = &u->details;
	if (grpc_call_start_batch(u->call, ops, 6, &u->b, NULL) != GRPC_CALL_OK) {
		set_status(st, GRPC_STATUS_INTERNAL, "cannot start a call to %s", method);
		u->b.pending = false;
	}
	return true;
}

/* The batch is done (or never started): status into st, response into *resp (OK only). */
static void call_end(struct rpc_call *u, grpc_byte_buffer **resp, struct rpc_status *st)
{
	*resp = NULL;
	if (u->b.done)
		status_from_slice(st, u->code, u->details);
	if (st->code == GRPC_STATUS_OK)
		*resp = u->resp;
	else if (u->resp != NULL)
		grpc_byte_buffer_destroy(u->resp);
	grpc_slice_unref(u->details);
	grpc_metadata_array_destroy(&u->md_initial);
	grpc_metadata_array_destroy(&u->md_trailing);
	grpc_call_unref(u->call);
}

static grpc_status_code call_buffers(struct rpc_client *c, const char *method,
		grpc_byte_buffer *req, grpc_byte_buffer **resp, struct rpc_status *st,
		int deadline_ms)
{
	struct rpc_call u;

	*resp = NULL;
	if (!call_begin(c, &u, method, req, st, deadline_ms))
		return st->code;
	if (u.b.pending)
		wait_batch(c->cq, &u.b, gpr_inf_future(GPR_CLOCK_MONOTONIC));
	call_end(&u, resp, st);
	return st->code;
}

grpc_status_code rpc_call_raw(struct rpc_client *c, const char *method, const void *req,
		size_t req_len, void **resp, size_t *resp_len, struct rpc_status *st,
		int deadline_ms)
{
	grpc_byte_buffer *out = bytes_to_buffer(req, req_len), *in = NULL;

	*resp = NULL;
	*resp_len = 0;
	call_buffers(c, method, out, &in, st, deadline_ms);
	grpc_byte_buffer_destroy(out);
	if (in == NULL)
		return st->code;
	grpc_slice s = pb_grpc_slice(in);
	grpc_byte_buffer_destroy(in);
	*resp_len = GRPC_SLICE_LENGTH(s);
	*resp = malloc(*resp_len ? *resp_len : 1);
	if (*resp != NULL)
		memcpy(*resp, GRPC_SLICE_START_PTR(s), *resp_len);
	else
		set_status(st, GRPC_STATUS_RESOURCE_EXHAUSTED, "out of memory");
	grpc_slice_unref(s);
	return st->code;
}

static ProtobufCMessage *unpack_buffer(const ProtobufCMessageDescriptor *desc,
		grpc_byte_buffer *bb)
{
	grpc_slice s = pb_grpc_slice(bb);
	ProtobufCMessage *msg = protobuf_c_message_unpack(desc, NULL, GRPC_SLICE_LENGTH(s),
			GRPC_SLICE_START_PTR(s));

	grpc_slice_unref(s);
	return msg;
}

grpc_status_code rpc_call_unary(struct rpc_client *c, const char *method,
		const ProtobufCMessage *req, const ProtobufCMessageDescriptor *resp_desc,
		ProtobufCMessage **resp, struct rpc_status *st, int deadline_ms)
{
	grpc_byte_buffer *out = pb_grpc_pack(req), *in = NULL;

	*resp = NULL;
	call_buffers(c, method, out, &in, st, deadline_ms);
	grpc_byte_buffer_destroy(out);
	if (st->code != GRPC_STATUS_OK)
		return st->code;
	if (in == NULL)
		set_status(st, GRPC_STATUS_INTERNAL, "%s: OK without a response message", method);
	else if ((*resp = unpack_buffer(resp_desc, in)) == NULL)
		set_status(st, GRPC_STATUS_INTERNAL, "%s: response does not parse as %s", method,
				resp_desc->name);
	if (in != NULL)
		grpc_byte_buffer_destroy(in);
	return st->code;
}

/* ---- unary calls in flight together ---- */

struct rpc_call *rpc_call_start(struct rpc_client *c, const char *method,
		const ProtobufCMessage *req, const ProtobufCMessageDescriptor *resp_desc,
		void *user, struct rpc_status *st, int deadline_ms)
{
	struct rpc_call *u = malloc(sizeof(*u));
	grpc_byte_buffer *out = pb_grpc_pack(req);

	if (u == NULL) {
		set_status(st, GRPC_STATUS_RESOURCE_EXHAUSTED, "out of memory");
	} else if (!call_begin(c, u, method, out, st, deadline_ms)) {
		free(u);
		u = NULL;
	} else if (!u->b.pending) {
		grpc_byte_buffer *unused;
		call_end(u, &unused, st);
		free(u);
		u = NULL;
	}
	grpc_byte_buffer_destroy(out);  /* the batch took its own reference to the slices */
	if (u != NULL) {
		u->resp_desc = resp_desc;
		u->user = user;
	}
	return u;
}

void *rpc_call_next(struct rpc_client *c, ProtobufCMessage **resp, struct rpc_status *st)
{
	grpc_event ev = grpc_completion_queue_next(c->cq, gpr_inf_future(GPR_CLOCK_MONOTONIC),
			NULL);
	struct rpc_call *u = ev.tag;
	grpc_byte_buffer *in;

	*resp = NULL;
	if (ev.type != GRPC_OP_COMPLETE)
		return NULL;
	u->b.pending = false;
	u->b.done = true;
	call_end(u, &in, st);
	if (in != NULL) {
		if ((*resp = unpack_buffer(u->resp_desc, in)) == NULL)
			set_status(st, GRPC_STATUS_INTERNAL, "%s: response does not parse as %s",
					u->method, u->resp_desc->name);
		grpc_byte_buffer_destroy(in);
	} else if (st->code == GRPC_STATUS_OK) {
		set_status(st, GRPC_STATUS_INTERNAL, "%s: OK without a response message",
				u->method);
	}
	void *user = u->user;
	free(u);
	return user;
}

/* ---- server streams ---- */

struct rpc_stream *rpc_stream_start(struct rpc_client *c, const char *method,
		const ProtobufCMessage *req, struct rpc_status *st, int deadline_ms)
{
	struct rpc_stream *s = calloc(1, sizeof(*s));
	grpc_op ops[4];

	if (s == NULL) {
		set_status(st, GRPC_STATUS_RESOURCE_EXHAUSTED, "out of memory");
		return NULL;
	}
	s->cq = grpc_completion_queue_create_for_next(NULL);
	s->call = new_call(c->channel, s->cq, method, deadline_ms);
	if (s->call == NULL) {
		set_status(st, GRPC_STATUS_INTERNAL, "cannot create a call to %s", method);
		drain_and_destroy_cq(s->cq);
		free(s);
		return NULL;
	}
	grpc_metadata_array_init(&s->md_initial);
	grpc_metadata_array_init(&s->md_trailing);
	s->details = grpc_empty_slice();
	s->code = GRPC_STATUS_UNKNOWN;

	grpc_byte_buffer *out = pb_grpc_pack(req);
	memset(ops, 0, sizeof(ops));
	ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
	ops[0].data.send_initial_metadata.count = c->n_md;
	ops[0].data.send_initial_metadata.metadata = c->md;
	ops[1].op = GRPC_OP_SEND_MESSAGE;
	ops[1].data.send_message.send_message = out;
	ops[2].op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
	ops[3].op = GRPC_OP_RECV_INITIAL_METADATA;
	ops[3].data.recv_initial_metadata.recv_initial_metadata = &s->md_initial;
	grpc_call_error e1 = grpc_call_start_batch(s->call, ops, 4, &s->start, NULL);
	grpc_byte_buffer_destroy(out);  /* the batch took its own reference to the slices */

	/* Ask for the status now, so it is there when the messages end. */
	memset(ops, 0, sizeof(ops));
	ops[0].op = GRPC_OP_RECV_STATUS_ON_CLIENT;
	ops[0].data.recv_status_on_client.trailing_metadata = &s->md_trailing;
	ops[0].data.recv_status_on_client.status = &s->code;
	ops[0].data.recv_status_on_client.status_details = &s->details;
	grpc_call_error e2 = grpc_call_start_batch(s->call, ops, 1, &s->status, NULL);

	s->start.pending = e1 == GRPC_CALL_OK;
	s->status.pending = e2 == GRPC_CALL_OK;
	if (e1 != GRPC_CALL_OK || e2 != GRPC_CALL_OK) {
		set_status(st, GRPC_STATUS_INTERNAL, "cannot start a call to %s", method);
		rpc_stream_free(s);
		return NULL;
	}
	set_status(st, GRPC_STATUS_OK, "%s", "");
	return s;
}

static enum rpc_read stream_end(struct rpc_stream *s, struct rpc_status *st)
{
	wait_batch(s->cq, &s->status, gpr_inf_future(GPR_CLOCK_MONOTONIC));
	s->ended = true;
	status_from_slice(st, s->code, s->details);
	return RPC_READ_END;
}

enum rpc_read rpc_stream_read(struct rpc_stream *s, const ProtobufCMessageDescriptor *desc,
		ProtobufCMessage **msg, struct rpc_status *st, int timeout_ms)
{
	*msg = NULL;
	if (s->ended)
		return stream_end(s, st);
	if (!s->recv.pending) {
		grpc_op op;

		memset(&op, 0, sizeof(op));
		op.op = GRPC_OP_RECV_MESSAGE;
		op.data.recv_message.recv_message = &s->recv_buf;
		s->recv_buf = NULL;
		s->recv.done = false;
		if (grpc_call_start_batch(s->call, &op, 1, &s->recv, NULL) != GRPC_CALL_OK)
			return stream_end(s, st);
		s->recv.pending = true;
	}
	if (!wait_batch(s->cq, &s->recv, deadline_after(timeout_ms)))
		return RPC_READ_TIMEOUT;
	s->recv.done = false;
	if (s->recv_buf == NULL)
		return stream_end(s, st);

	*msg = unpack_buffer(desc, s->recv_buf);
	grpc_byte_buffer_destroy(s->recv_buf);
	s->recv_buf = NULL;
	if (*msg == NULL) {
		set_status(st, GRPC_STATUS_INTERNAL, "stream message does not parse as %s",
				desc->name);
		return RPC_READ_ERROR;
	}
	return RPC_READ_MESSAGE;
}

void rpc_stream_cancel(struct rpc_stream *s)
{
	grpc_call_cancel(s->call, NULL);
}

void rpc_stream_free(struct rpc_stream *s)
{
	if (s == NULL)
		return;
	if (s->status.pending)
		grpc_call_cancel(s->call, NULL);
	/* Every batch must complete before the call may go. */
	gpr_timespec forever = gpr_inf_future(GPR_CLOCK_MONOTONIC);
	if (s->start.pending)
		wait_batch(s->cq, &s->start, forever);
	if (s->recv.pending)
		wait_batch(s->cq, &s->recv, forever);
	if (s->status.pending)
		wait_batch(s->cq, &s->status, forever);
	if (s->recv_buf != NULL)
		grpc_byte_buffer_destroy(s->recv_buf);
	grpc_call_unref(s->call);
	grpc_metadata_array_destroy(&s->md_initial);
	grpc_metadata_array_destroy(&s->md_trailing);
	grpc_slice_unref(s->details);
	drain_and_destroy_cq(s->cq);
	free(s);
}
