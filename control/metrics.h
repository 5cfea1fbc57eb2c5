/*
 * The Prometheus exposition of API.md 1.4: a snapshot of every figure (collected on the
 * control loop, metrics_src.c) and its rendering in the text format 0.0.4 (metrics.c, pure:
 * any thread, unit-tested from known inputs).
 */
#ifndef RTPPROXY_METRICS_H
#define RTPPROXY_METRICS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "rp_dp.h"

#define METRICS_STATES 5                /* as enum sess_state */
#define METRICS_TRANSPORTS 2
#define METRICS_CLOSE_REASONS 5         /* destroyed, idle_timeout, error, shutdown, other */
#define METRICS_JITTER_BUCKETS 9
#define METRICS_GRPC_METHODS 8          /* the six of RtpProxy, health, other */
#define METRICS_GRPC_CODES 17
#define METRICS_DURATION_BUCKETS 10

extern const char *const metrics_close_reasons[METRICS_CLOSE_REASONS];
extern const char *const metrics_grpc_methods[METRICS_GRPC_METHODS];
extern const double metrics_jitter_bounds[METRICS_JITTER_BUCKETS];     /* seconds */
extern const double metrics_duration_bounds[METRICS_DURATION_BUCKETS]; /* seconds */

struct metrics_hist {
	uint64_t bucket[METRICS_DURATION_BUCKETS];      /* not cumulative; the larger bound set */
	uint64_t count;
	double sum;
};

/* The gRPC server's calls, counted by the done hook (control lcore). */
struct metrics_grpc {
	uint64_t requests[METRICS_GRPC_METHODS][METRICS_GRPC_CODES];
	struct metrics_hist duration[METRICS_GRPC_METHODS];
};

/* The state backend (API.md 1.6); rendered only when present ([state] backend = redis). */
struct metrics_state {
	bool present, up;
	uint64_t queue_depth;
	double last_checkpoint_age_s;   /* -1 = none yet */
	uint64_t lease_epoch;
	bool standby;
};

struct metrics_snap {
	uint64_t sessions[METRICS_STATES][METRICS_TRANSPORTS];
	uint64_t created_total;
	uint64_t closed_total[METRICS_CLOSE_REASONS];
	uint64_t rtp_lost_total;
	struct metrics_hist jitter;     /* UDP sessions not closed, by metrics_jitter_bounds */
	struct dp_stats dp;             /* ports, drops, workers */
	char port_names[DP_MAX_PORTS][DP_NAME_LEN];
	struct metrics_grpc grpc;
	uint64_t event_streams;
	uint64_t tcp_connections;
	const char *version;
	struct metrics_state state;
};

/* The whole exposition into f. */
void metrics_render(FILE *f, const struct metrics_snap *m);

/* The bucket index of v among n bounds (n when above every bound). */
unsigned metrics_bucket(const double *bounds, unsigned n, double v);

#endif
