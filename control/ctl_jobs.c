#include "ctl_jobs.h"

#include <string.h>
#include <time.h>
#include <rte_cycles.h>

#include "metrics_src.h"
#include "rpc.h"
#include "sess.h"

_Static_assert(sizeof(((struct ctl_ids_job *)0)->ids[0]) == SESS_ID_MAX + 1, "id size");

static bool serve_ids(struct ctl_jobs *j, struct ctl_ids_job *job)
{
	struct session *s = sess_first(j->rpc->sessions, 0);
	for (job->n = 0; s != NULL && job->n < job->max; s = sess_next(s))
		memcpy(job->ids[job->n++], s->id, sizeof(job->ids[0]));
	return true;
}

static bool serve_rpc(struct ctl_jobs *j, struct ctl_rpc_job *job)
{
	grpc_srv_unary_fn fn = rpc_methods[job->method].unary;

	job->resp = NULL;
	job->err.code = GRPC_STATUS_OK;
	job->err.message[0] = '\0';
	job->code = fn(j->rpc, job->req, &job->resp, &job->arena, &job->err);
	return true;
}

/* The first pass reads the counters, every pass walks up to sessions_per_step sessions. */
static bool serve_metrics(struct ctl_jobs *j, struct ctl_metrics_job *job)
{
	struct timespec c0, c1;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c0);
	uint64_t t0 = rte_rdtsc();
	if (!job->walking) {
		metrics_src_begin(j->metrics, &job->snap);
		memset(&job->cursor, 0, sizeof(job->cursor));
		job->walking = true;
	}
	bool done = metrics_src_step(j->metrics, &job->snap, &job->cursor, j->sessions_per_step);
	uint64_t spent = rte_rdtsc() - t0;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c1);
	job->cpu_ns += (uint64_t)((c1.tv_sec - c0.tv_sec) * 1000000000L + c1.tv_nsec - c0.tv_nsec);
	job->cycles += spent;
	if (spent > job->max_pass_cycles)
		job->max_pass_cycles = spent;
	job->tsc_hz = rte_get_tsc_hz();
	job->passes++;
	return done;
}

bool ctl_jobs_serve(void *ctx, struct ctlq_req *r)
{
	struct ctl_jobs *j = ctx;

	switch (r->kind) {
	case CTL_JOB_RPC:
		return serve_rpc(j, r->arg);
	case CTL_JOB_METRICS:
		return serve_metrics(j, r->arg);
	case CTL_JOB_IDS:
		return serve_ids(j, r->arg);
	}
	return true;
}
