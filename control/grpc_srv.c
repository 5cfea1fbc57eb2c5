/*
 * The gRPC server's core on grpc C core: one completion queue, polled by the control lcore;
 * asking grpc for calls, admitting them, unary calls, start and stop. Server-streaming calls
 * are grpc_srv_stream.c; what both share is grpc_srv_int.h.
 *
 * Calls are tracked on one list so that stop can finish streams and check that nothing is left.
 */
#include "grpc_srv_int.h"
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

grpc_status_code rpc_fail(struct rpc_error *err, grpc_status_code code, const char *fmt, ...)
{
	va_list ap;

	err->code = code;
	va_start(ap, fmt);
	vsnprintf(err->message, sizeof(err->message), fmt, ap);
	va_end(ap);
	return code;
}

/* ---- asking grpc for calls ---- */

static bool is_bidi(const struct srv_method *m)
{
	return m->service->methods[m->idx].bidi != NULL;
}

static void arm_method(struct grpc_srv *srv, struct srv_method *m)
{
	if (m->handle == NULL || m->armed || srv->stopping)
		return;
	m->call = NULL;
	m->payload = NULL;
	grpc_metadata_array_init(&m->md);
	/* a bidi call reads its requests itself: grpc hands over no first message */
	if (grpc_server_request_registered_call(srv->server, m->handle, &m->call, &m->deadline,
			&m->md, is_bidi(m) ? NULL : &m->payload, srv->cq, srv->cq,
			&m->tag) == GRPC_CALL_OK)
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

/* Takes ownership of call, md and resp whatever happens (grpc_srv_int.h). */
void srv_unary_reply(struct grpc_srv *srv, grpc_call *call, grpc_metadata_array *md,
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
	srv_unary_reply(srv, call, md, NULL, code, message);
}

static void serve_unary(struct grpc_srv *srv, const struct srv_method *m, grpc_call *call,
		grpc_metadata_array *md, const ProtobufCMessage *req, const struct grpc_srv_call *gc)
{
	const ProtobufCMethodDescriptor *pm = &m->service->svc->methods[m->idx];
	struct rpc_error err = { .code = GRPC_STATUS_OK, .message = "" };
	struct arena arena = { .head = NULL };
	ProtobufCMessage *resp = NULL;

	grpc_status_code code = m->service->methods[m->idx].unary(m->service->ctx, req, &resp,
			&arena, &err);
	if (code == GRPC_STATUS_OK && (resp == NULL || resp->descriptor != pm->output)) {
		code = rpc_fail(&err, GRPC_STATUS_INTERNAL, "%s: handler returned no %s",
				pm->name, pm->output->name);
	}
	hook_done(srv, gc, req, code == GRPC_STATUS_OK ? resp : NULL, code);
	if (code == GRPC_STATUS_OK)
		srv_unary_reply(srv, call, md, pb_grpc_pack(resp), GRPC_STATUS_OK, NULL);
	else
		srv_unary_reply(srv, call, md, NULL, code, err.message);
	arena_reset(&arena);
}

/* ---- dispatch ---- */

static void on_new_call(struct grpc_srv *srv, struct srv_method *m, bool ok)
{
	const ProtobufCMethodDescriptor *pm = &m->service->svc->methods[m->idx];
	grpc_call *call = m->call;
	grpc_metadata_array md = m->md;
	grpc_byte_buffer *payload = m->payload;
	struct grpc_srv_call gc = { .call = call, .method = m->path, .md = &md };
	struct rpc_error err = { .code = GRPC_STATUS_OK, .message = "" };

	m->armed = false;
	if (!ok) {
		/* The server is shutting down: the request was cancelled. */
		grpc_metadata_array_destroy(&md);
		return;
	}
	arm_method(srv, m);

	if (srv->stopping) {
		refuse(srv, &gc, call, &md, GRPC_STATUS_UNAVAILABLE, "server is shutting down");
	} else if (hook_admit(srv, &gc, &err) != GRPC_STATUS_OK) {
		refuse(srv, &gc, call, &md, err.code, err.message);
	} else if (is_bidi(m)) {
		srv_serve_bidi(srv, m, call, &md);
	} else {
		ProtobufCMessage *req = pb_grpc_unpack(pm->input, payload);
		if (req == NULL) {
			char msg[256];
			snprintf(msg, sizeof(msg), "request does not parse as %s%s",
					pm->input->name, payload == NULL ? ": no message" : "");
			refuse(srv, &gc, call, &md, GRPC_STATUS_INVALID_ARGUMENT, msg);
		} else {
			if (m->service->methods[m->idx].unary != NULL)
				serve_unary(srv, m, call, &md, req, &gc);
			else
				srv_serve_stream(srv, m, call, &md, req);
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
		srv_stream_on_send(container_of(t, struct grpc_srv_stream, send_tag), ok);
		break;
	case TAG_STREAM_CLOSE:
		srv_stream_on_close(container_of(t, struct grpc_srv_stream, close_tag));
		break;
	case TAG_SHUTDOWN:
		srv->shutdown_done = true;
		break;
	case TAG_BIDI_RECV:
		srv_bidi_on_recv(srv_bidi_of_tag(t), ok);
		break;
	case TAG_BIDI_SEND:
		srv_bidi_on_send(srv_bidi_of_tag(t), ok);
		break;
	case TAG_BIDI_CLOSE:
		srv_bidi_on_close(srv_bidi_of_tag(t));
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
	srv_cancel_stalled(srv);
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

static bool register_methods(struct grpc_srv *srv, char *err, size_t errlen)
{
	unsigned n = 0;

	for (unsigned s = 0; s < srv->n_services; s++) {
		const struct grpc_srv_service *sv = &srv->services[s];
		for (unsigned i = 0; i < sv->svc->n_methods; i++) {
			struct srv_method *m = &srv->slots[n++];
			const struct grpc_srv_method *h = &sv->methods[i];

			m->tag.kind = TAG_NEW_CALL;
			m->srv = srv;
			m->service = sv;
			m->idx = i;
			snprintf(m->path, sizeof(m->path), "/%s/%s", sv->svc->name,
					sv->svc->methods[i].name);
			if (h->unary == NULL && h->stream == NULL && h->bidi == NULL)
				continue;   /* left to the unknown-method path: UNIMPLEMENTED */
			m->handle = grpc_server_register_method(srv->server, m->path, NULL,
					h->bidi != NULL ? GRPC_SRM_PAYLOAD_NONE
					: GRPC_SRM_PAYLOAD_READ_INITIAL_BYTE_BUFFER, 0);
			if (m->handle == NULL) {
				snprintf(err, errlen, "grpc: cannot register %s", m->path);
				return false;
			}
		}
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
	return srv->streams == NULL && srv->bidis == NULL;
}

static bool is_shut_down(struct grpc_srv *srv)
{
	return srv->shutdown_done;
}

static void srv_free(struct grpc_srv *srv)
{
	free(srv->slots);
	free(srv->services);
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
	struct grpc_srv_service one = { .svc = svc, .methods = methods, .ctx = ctx };

	return grpc_srv_start_services(listen, &one, 1, opts, bound_port, err, errlen);
}

struct grpc_srv *grpc_srv_start_services(const char *listen,
		const struct grpc_srv_service *services, unsigned n_services,
		const struct grpc_srv_opts *opts, int *bound_port, char *err, size_t errlen)
{
	struct grpc_srv *srv = calloc(1, sizeof(*srv));
	unsigned n_slots = 0;

	for (unsigned s = 0; s < n_services; s++)
		n_slots += services[s].svc->n_methods;
	if (srv != NULL) {
		srv->slots = calloc(n_slots ? n_slots : 1, sizeof(*srv->slots));
		srv->services = calloc(n_services ? n_services : 1, sizeof(*srv->services));
	}
	if (srv == NULL || srv->slots == NULL || srv->services == NULL) {
		snprintf(err, errlen, "grpc: out of memory");
		if (srv != NULL)
			srv_free(srv);
		return NULL;
	}
	memcpy(srv->services, services, sizeof(*services) * n_services);
	srv->n_services = n_services;
	srv->n_slots = n_slots;
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
	if (!register_methods(srv, err, errlen))
		goto fail;
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
	for (unsigned i = 0; i < srv->n_slots; i++)
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
	srv_bidi_finish_all(srv);
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
	if (srv->streams != NULL || srv->bidis != NULL || srv->unary_calls != NULL)
		fprintf(stderr, "grpc_srv: calls left at stop\n");
	srv_free(srv);
	grpc_shutdown();
}
