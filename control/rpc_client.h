/*
 * A small gRPC client on grpc C core for protobuf-c messages: unary calls and server streams.
 * A client and each stream are used by one thread at a time.
 */
#ifndef RTPPROXY_RPC_CLIENT_H
#define RTPPROXY_RPC_CLIENT_H

#include <stddef.h>
#include <grpc/status.h>
#include <protobuf-c/protobuf-c.h>

struct rpc_client;
struct rpc_stream;

/* How a call ended: the code, and the message from the server (or from grpc). */
struct rpc_status {
	grpc_status_code code;
	char message[512];
};

/* "OK", "NOT_FOUND", ...; "UNKNOWN_CODE" for what grpc does not define. */
const char *rpc_status_name(grpc_status_code code);

/* A channel to target ("127.0.0.1:50051", "[::1]:50051"). Connects lazily, on the first call. */
struct rpc_client *rpc_client_connect(const char *target, char *err, size_t errlen);
/* How to reach a secured server (all optional: zero is plaintext without a token). */
struct rpc_client_opts {
	const char *tls_ca;               /* PEM file: TLS to a server whose certificate it signed */
	const char *tls_cert, *tls_key;   /* PEM files: the client's certificate (mutual TLS) */
	const char *token;                /* sent as "authorization: Bearer TOKEN" on every call */
};

/* The same with options; opts NULL is rpc_client_connect. */
struct rpc_client *rpc_client_connect_opts(const char *target, const struct rpc_client_opts *opts,
		char *err, size_t errlen);

/*
 * The token in FILE: the first word of its first line that is neither blank nor a '#'
 * comment (so a line of the server's tokens file works too). 0, or -1 with err.
 */
int rpc_client_read_token(const char *file, char *tok, size_t toklen, char *err, size_t errlen);

/* Every stream of the client must have been freed. */
void rpc_client_close(struct rpc_client *c);

/*
 * One unary call of `method` ("/rtpproxy.RtpProxy/CreateSession"). Returns st->code. On OK,
 * *resp is the unpacked response (free with protobuf_c_message_free_unpacked(*resp, NULL));
 * otherwise *resp is NULL. deadline_ms <= 0 means no deadline.
 */
grpc_status_code rpc_call_unary(struct rpc_client *c, const char *method,
		const ProtobufCMessage *req, const ProtobufCMessageDescriptor *resp_desc,
		ProtobufCMessage **resp, struct rpc_status *st, int deadline_ms);

/* The same with raw bytes both ways (tests send garbage with it). *resp is malloc'ed. */
grpc_status_code rpc_call_raw(struct rpc_client *c, const char *method, const void *req,
		size_t req_len, void **resp, size_t *resp_len, struct rpc_status *st,
		int deadline_ms);

/*
 * Unary calls in flight together on one client (a benchmark keeps several going from one
 * thread): rpc_call_start starts one, rpc_call_next waits for whichever finishes first and
 * returns the `user` it was started with, its status in st and, on OK, its response in *resp
 * (free with protobuf_c_message_free_unpacked). A client used this way makes no other calls
 * meanwhile. rpc_call_start returns NULL (st set) if the call could not be started; it is
 * then not in flight. Calling rpc_call_next with none in flight waits forever.
 */
struct rpc_call;
struct rpc_call *rpc_call_start(struct rpc_client *c, const char *method,
		const ProtobufCMessage *req, const ProtobufCMessageDescriptor *resp_desc,
		void *user, struct rpc_status *st, int deadline_ms);
void *rpc_call_next(struct rpc_client *c, ProtobufCMessage **resp, struct rpc_status *st);

/* Start a server-streaming call. NULL (and st filled) only if it could not be started. */
struct rpc_stream *rpc_stream_start(struct rpc_client *c, const char *method,
		const ProtobufCMessage *req, struct rpc_status *st, int deadline_ms);

enum rpc_read {
	RPC_READ_ERROR = -1,    /* a message did not parse: st says so; free the stream */
	RPC_READ_END = 0,       /* the stream is over: st has its status */
	RPC_READ_MESSAGE = 1,   /* *msg is set (free with protobuf_c_message_free_unpacked) */
	RPC_READ_TIMEOUT = 2,   /* nothing within timeout_ms: call again to keep waiting */
};

/* Read the next message; timeout_ms < 0 waits as long as it takes. */
enum rpc_read rpc_stream_read(struct rpc_stream *s, const ProtobufCMessageDescriptor *desc,
		ProtobufCMessage **msg, struct rpc_status *st, int timeout_ms);

/* Cancel the call (the server sees the client go away); reads then end with CANCELLED. */
void rpc_stream_cancel(struct rpc_stream *s);
/* Free the stream, cancelling it first if it has not ended. */
void rpc_stream_free(struct rpc_stream *s);

#endif
