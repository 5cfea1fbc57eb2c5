/*
 * The gRPC server on grpc C core: one completion queue, polled by the control lcore.
 * Methods are taken from protobuf-c service descriptors (one or several services on one
 * port), so one dispatcher serves them all.
 * Nothing here knows what a session is: handlers do.
 */
#ifndef RTPPROXY_GRPC_SRV_H
#define RTPPROXY_GRPC_SRV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <grpc/grpc.h>
#include <grpc/status.h>
#include <protobuf-c/protobuf-c.h>

#include "arena.h"

struct grpc_srv;
struct grpc_srv_stream;

/* Messages a stream holds for a client that reads slower than they come (incl. one in flight),
 * unless grpc_srv_stream_set_limit says otherwise. The queue grows to it as needed. */
#define GRPC_SRV_STREAM_QUEUE 4096
/* A stream that fell behind gets this long to send what it holds, then it is cancelled. */
#define GRPC_SRV_BEHIND_GRACE_MS 2000

/* What a handler says went wrong: a gRPC status and a message naming the field. */
struct rpc_error {
	grpc_status_code code;
	char message[512];
};

/* Set err and return its code: return rpc_fail(err, GRPC_STATUS_NOT_FOUND, "session_id: ..."). */
grpc_status_code rpc_fail(struct rpc_error *err, grpc_status_code code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/*
 * A unary method. req is the unpacked request. On success set *resp to a message built in
 * `arena` (freed by the server after sending) and return GRPC_STATUS_OK; otherwise fill err
 * and return its code.
 */
typedef grpc_status_code (*grpc_srv_unary_fn)(void *ctx, const ProtobufCMessage *req,
		ProtobufCMessage **resp, struct arena *arena, struct rpc_error *err);

/*
 * A server-streaming method. Called once per call with its stream handle. Return OK to keep
 * the stream open (messages follow through grpc_srv_stream_send), or an error code (with err)
 * to finish the call at once with that status.
 */
typedef grpc_status_code (*grpc_srv_stream_fn)(void *ctx, const ProtobufCMessage *req,
		struct grpc_srv_stream *stream, struct rpc_error *err);

/* Called once when a stream ends for any reason (client gone, finished, server stopping);
 * the stream handle is invalid after it returns. Not called for a stream whose handler
 * returned an error. Sends from inside it are refused (-1). */
typedef void (*grpc_srv_stream_closed_fn)(void *ctx, struct grpc_srv_stream *stream);

struct grpc_srv_method {
	grpc_srv_unary_fn unary;      /* exactly one of unary / stream / bidi */
	grpc_srv_stream_fn stream;
	grpc_srv_stream_closed_fn closed;
	/*
	 * A bidirectional stream answered one for one: called for each request the client sends,
	 * with the contract of a unary method; its response goes out before the next request is
	 * read. An error ends the call with that status; the client's half-close (or the server
	 * stopping) ends it with OK.
	 */
	grpc_srv_unary_fn bidi;
};

/* One service a server serves: methods[i] handles svc->methods[i], called with ctx. */
struct grpc_srv_service {
	const ProtobufCServiceDescriptor *svc;
	const struct grpc_srv_method *methods;
	void *ctx;
};

/*
 * What the server knows of a call before its handler runs, for the security hooks. The
 * server does not interpret peer/principal: the hooks fill and read them.
 */
struct grpc_srv_call {
	grpc_call *call;                  /* for grpc_call_get_peer, grpc_call_auth_context */
	const char *method;               /* the full path: "/rtpproxy.RtpProxy/CreateSession" */
	const grpc_metadata_array *md;    /* the client's initial metadata */
	char peer[64];
	char principal[64];
};

/*
 * Hooks around every call (grpc_srv_opts.hooks): admit decides before anything else whether a
 * call is served (OK) or refused (a code, with err; the handler does not run); done is told
 * how a call was answered: once per unary call (req/resp NULL when there were none), and for
 * any call refused before its handler ran (by admit, an unparsable request, or shutdown).
 */
struct grpc_srv_hooks {
	grpc_status_code (*admit)(void *ctx, struct grpc_srv_call *c, struct rpc_error *err);
	void (*done)(void *ctx, const struct grpc_srv_call *c, const ProtobufCMessage *req,
			const ProtobufCMessage *resp, grpc_status_code code);
	void *ctx;
};

/* How a server is set up beyond its address; zero is plaintext, grpc's limits, no hooks. */
struct grpc_srv_opts {
	const char *tls_cert, *tls_key;   /* PEM files: TLS only; NULL or "" = plaintext */
	const char *tls_client_ca;        /* PEM file: clients need a certificate it signed */
	int max_message_bytes;            /* largest request accepted; 0 = grpc's default */
	const struct grpc_srv_hooks *hooks;
};

/*
 * Create and start a server on `listen` ("[::]:50051", "127.0.0.1:0" ...) serving `svc`;
 * methods[i] handles svc->methods[i] (NULL entries answer UNIMPLEMENTED).
 * *bound_port gets the port actually bound. NULL and a message in err on failure.
 */
struct grpc_srv *grpc_srv_start(const char *listen, const ProtobufCServiceDescriptor *svc,
		const struct grpc_srv_method *methods, void *ctx, int *bound_port,
		char *err, size_t errlen);

/* The same with options (TLS, limits, hooks); opts NULL is grpc_srv_start. */
struct grpc_srv *grpc_srv_start_opts(const char *listen, const ProtobufCServiceDescriptor *svc,
		const struct grpc_srv_method *methods, void *ctx, const struct grpc_srv_opts *opts,
		int *bound_port, char *err, size_t errlen);

/* Several services on one server (the hooks see every call of every one of them). */
struct grpc_srv *grpc_srv_start_services(const char *listen,
		const struct grpc_srv_service *services, unsigned n_services,
		const struct grpc_srv_opts *opts, int *bound_port, char *err, size_t errlen);

/* Serve whatever is ready, waiting at most timeout_ms for the first completion. */
void grpc_srv_poll(struct grpc_srv *srv, int timeout_ms);

/*
 * Queue one message on a stream (packed at once, so the caller keeps ownership of msg).
 * Never blocks and never drops silently: if the stream's queue is full (a client that reads
 * slower than messages come), the message is refused (-1) and the stream is finished with
 * RESOURCE_EXHAUSTED ("stream fell behind ...") after what it holds; if that does not go out
 * within GRPC_SRV_BEHIND_GRACE_MS, the call is cancelled with that status. Also -1 after
 * finish or once the client is gone.
 */
int grpc_srv_stream_send(struct grpc_srv_stream *stream, const ProtobufCMessage *msg);
/* At most `limit` messages queued on this stream (>= 1); before the first send. */
void grpc_srv_stream_set_limit(struct grpc_srv_stream *stream, unsigned limit);
unsigned grpc_srv_stream_limit(const struct grpc_srv_stream *stream);
/* Whether the stream was ended because its queue was full. */
bool grpc_srv_stream_fell_behind(const struct grpc_srv_stream *stream);
/* Finish a stream after what is queued has been sent. */
void grpc_srv_stream_finish(struct grpc_srv_stream *stream, grpc_status_code code,
		const char *message);
/* Per-stream cookie for the handler's use. */
void grpc_srv_stream_set_user(struct grpc_srv_stream *stream, void *user);
void *grpc_srv_stream_user(struct grpc_srv_stream *stream);
/* Messages queued and not yet sent (incl. the one in flight): 0..its limit. */
unsigned grpc_srv_stream_queued(const struct grpc_srv_stream *stream);

/* Finish every stream with OK (after what is queued), stop accepting, free everything. */
void grpc_srv_stop(struct grpc_srv *srv);

#endif
