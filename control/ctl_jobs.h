/*
 * What the HTTP and telemetry threads ask of the control loop through the ctlq: run one of
 * the RtpProxy service's unary handlers (its response is built in the job's arena, which
 * the asking thread reads and frees afterwards), or collect the metrics snapshot.
 */
#ifndef RTPPROXY_CTL_JOBS_H
#define RTPPROXY_CTL_JOBS_H

#include <stdbool.h>
#include <stdint.h>

#include "arena.h"
#include "ctlq.h"
#include "grpc_srv.h"
#include "metrics.h"
#include "metrics_src.h"

struct rpc_ctx;
struct metrics_src;

enum ctl_job_kind {
	CTL_JOB_RPC = 1,        /* arg: struct ctl_rpc_job */
	CTL_JOB_METRICS,        /* arg: struct ctl_metrics_job */
	CTL_JOB_IDS,            /* arg: struct ctl_ids_job */
};

/* Index into rpc_methods / the service descriptor's methods. */
enum ctl_rpc_method {
	CTL_RPC_GET_SESSION = 2,
	CTL_RPC_LIST_SESSIONS = 3,
	CTL_RPC_PROXY_STATS = 5,
};

struct ctl_rpc_job {
	enum ctl_rpc_method method;
	const ProtobufCMessage *req;
	ProtobufCMessage *resp;         /* in arena, when code is OK */
	struct arena arena;
	struct rpc_error err;
	grpc_status_code code;
};

struct ctl_metrics_job {
	struct metrics_snap snap;
	struct metrics_cursor cursor;   /* where the session walk goes on */
	bool walking;
	uint64_t cycles;                /* TSC cycles the control loop spent on it */
	uint64_t max_pass_cycles;       /* ...in its longest pass */
	uint64_t tsc_hz;
	uint64_t cpu_ns;                /* the control thread's CPU time on it (no preemption) */
	unsigned passes;
};

/* The first `max` session ids, in creation order. */
struct ctl_ids_job {
	char (*ids)[65];                /* max of them, the caller's */
	unsigned max, n;
};

struct ctl_jobs {
	struct rpc_ctx *rpc;
	struct metrics_src *metrics;
	unsigned sessions_per_step;     /* sessions one metrics step reads */
};

/* The control loop's serve function for ctlq_serve (ctx: struct ctl_jobs). */
bool ctl_jobs_serve(void *ctx, struct ctlq_req *r);

#endif
