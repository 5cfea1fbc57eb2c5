#include "telemetry.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <rte_telemetry.h>

#include "ctl_jobs.h"
#include "ctlq.h"
#include "pb_tel.h"
#include "rtpproxy.pb-c.h"
#include "sess.h"

/* The queue, while the control loop serves it: callbacks hold the read lock while they use it. */
static pthread_rwlock_t lock = PTHREAD_RWLOCK_INITIALIZER;
static struct ctlq *queue;
static unsigned timeout;
static int registered;

/* Run a handler on the control loop; its response (or, for GetSessionStatus, the SessionInfo
 * in it) as a dict in d. */
static int rpc_reply(enum ctl_rpc_method method, const ProtobufCMessage *req,
		struct rte_tel_data *d)
{
	struct ctl_rpc_job job = { .method = method, .req = req };
	struct ctlq_req r = { .kind = CTL_JOB_RPC, .arg = &job };
	const ProtobufCMessage *m = NULL;
	int rc = -EAGAIN;

	pthread_rwlock_rdlock(&lock);
	if (queue != NULL)
		rc = ctlq_call(queue, &r, timeout);
	pthread_rwlock_unlock(&lock);
	if (rc == 0 && job.code == GRPC_STATUS_OK && job.resp != NULL) {
		m = job.resp;
		if (method == CTL_RPC_GET_SESSION) {
			const Rtpproxy__GetSessionStatusResponse *g = (const void *)job.resp;
			m = g->session != NULL ? &g->session->base : NULL;
		}
	}
	rc = m != NULL ? pb_tel_message(d, m) : -EINVAL;
	arena_reset(&job.arena);
	return rc;
}

static int cmd_stats(const char *cmd, const char *params, struct rte_tel_data *d)
{
	Rtpproxy__GetProxyStatsRequest req;
	(void)cmd;
	(void)params;
	rtpproxy__get_proxy_stats_request__init(&req);
	return rpc_reply(CTL_RPC_PROXY_STATS, &req.base, d);
}

static int cmd_session(const char *cmd, const char *params, struct rte_tel_data *d)
{
	Rtpproxy__GetSessionStatusRequest req;
	(void)cmd;
	if (params == NULL || params[0] == '\0')
		return -EINVAL;
	rtpproxy__get_session_status_request__init(&req);
	req.session_id = (char *)params;
	return rpc_reply(CTL_RPC_GET_SESSION, &req.base, d);
}

static int cmd_sessions(const char *cmd, const char *params, struct rte_tel_data *d)
{
	struct ctl_ids_job job = { .max = TELEMETRY_MAX_IDS };
	struct ctlq_req r = { .kind = CTL_JOB_IDS, .arg = &job };
	int rc = -EAGAIN;
	(void)cmd;
	(void)params;

	job.ids = calloc(TELEMETRY_MAX_IDS, sizeof(*job.ids));
	if (job.ids == NULL)
		return -ENOMEM;
	pthread_rwlock_rdlock(&lock);
	if (queue != NULL)
		rc = ctlq_call(queue, &r, timeout);
	pthread_rwlock_unlock(&lock);
	if (rc == 0) {
		rte_tel_data_start_array(d, RTE_TEL_STRING_VAL);
		for (unsigned i = 0; i < job.n && rc == 0; i++)
			rc = rte_tel_data_add_array_string(d, job.ids[i]);
	}
	free(job.ids);
	return rc;
}

int telemetry_start(struct ctlq *q, unsigned timeout_ms)
{
	pthread_rwlock_wrlock(&lock);
	queue = q;
	timeout = timeout_ms;
	pthread_rwlock_unlock(&lock);
	if (registered)
		return 0;
	if (rte_telemetry_register_cmd("/rtpproxy/stats", cmd_stats,
				"What GetProxyStats returns. No parameters") != 0 ||
			rte_telemetry_register_cmd("/rtpproxy/sessions", cmd_sessions,
				"The session ids (at most 150). No parameters") != 0 ||
			rte_telemetry_register_cmd("/rtpproxy/session", cmd_session,
				"A session's SessionInfo. Parameter: the session id") != 0)
		return -1;
	registered = 1;
	return 0;
}

void telemetry_stop(void)
{
	pthread_rwlock_wrlock(&lock);
	queue = NULL;
	pthread_rwlock_unlock(&lock);
}
