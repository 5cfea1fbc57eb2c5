/*
 * A fake rtpproxy service on grpc_srv for the gRPC server/client tests: fixed, known answers
 * and streams whose behaviour the request's session_id selects. The server runs on the
 * calling thread (fake_serve); clients run on others and look at the atomic counters.
 */
#ifndef RTPPROXY_TEST_FAKE_RTPPROXY_H
#define RTPPROXY_TEST_FAKE_RTPPROXY_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "grpc_srv.h"

/* A tiny harness: a failed check prints where and exits 1. */
#define CHECK(cond) do { \
	if (!(cond)) { \
		fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
		exit(1); \
	} \
} while (0)

#define FAKE_CREATED_MS 1700000000123LL
/* grpc_srv_stream_set_limit of "flood:N" and "slow" streams */
#define FAKE_STREAM_LIMIT 1024

struct fake_stream;

struct fake {
	struct grpc_srv *srv;
	int port;
	atomic_bool stop;                /* a client asks the serving thread to stop */
	atomic_bool stopped;             /* ... and grpc_srv_stop has returned */
	atomic_int streams_open;
	atomic_int closed_total;         /* `closed` callbacks, any stream */
	atomic_int closed_hold;          /* ... of "hold" streams */
	atomic_int closed_open;          /* ... of "open" streams (ended by grpc_srv_stop) */
	atomic_int refused_sends;        /* grpc_srv_stream_send returned -1 */
	atomic_uint_fast64_t flood_behind;   /* the last flood fell behind (its queue filled) */
	atomic_uint_fast64_t slow_behind;    /* ... the last "slow" stream, once refused */
	atomic_uint slow_accepted;       /* messages the "slow" stream queued */
	atomic_int unary_calls;
	/* The last CreateSession / ListSessions request, packed (written by the server). */
	atomic_int last_len_create, last_len_list;
	uint8_t last_create[4096], last_list[4096];
	struct fake_stream *streams;     /* open streams, server thread only */
};

/* Start on "127.0.0.1:0"; false (and a message on stderr) on failure. */
bool fake_start(struct fake *f);
/* Serve until f->stop, then stop the server. */
void fake_serve(struct fake *f);

#endif
