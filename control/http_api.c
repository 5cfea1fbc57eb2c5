/*
 * The web view's JSON (API.md 1.4), served by the HTTP threads: each asks the control loop
 * to run the RtpProxy handler (GetProxyStats, ListSessions, GetSessionStatus) and prints its
 * response with pb_json (proto field names, enums by name, 64-bit integers as numbers).
 *   GET /api/stats                      -> GetProxyStatsResponse
 *   GET /api/sessions?state=active&state=error&transport=udp&label=k=v&page_size=N&page_token=T
 *                                       -> ListSessionsResponse (page_size 0..1000, 0 = 1000)
 *   GET /api/session?id=ID              -> {"session": SessionInfo}, or 404 {"error": "..."}
 * Bad parameters: 400 {"error": "..."} naming the parameter.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <microhttpd.h>

#include "arena.h"
#include "ctl_jobs.h"
#include "ctlq.h"
#include "http_srv.h"
#include "log.h"
#include "pb_json.h"
#include "rtpproxy.pb-c.h"

#define API_MAX_STATES 16
#define API_MAX_LABELS 32
#define API_PAGE_SIZE_MAX 1000    /* a page is built in one control-loop pass: keep it short */

static unsigned status_of(grpc_status_code code)
{
	switch (code) {
	case GRPC_STATUS_OK: return 200;
	case GRPC_STATUS_INVALID_ARGUMENT: return 400;
	case GRPC_STATUS_NOT_FOUND: return 404;
	case GRPC_STATUS_RESOURCE_EXHAUSTED: return 503;
	default: return 500;
	}
}

/* Run a handler on the control loop and reply with its response as JSON. */
static void run_rpc(struct ctlq *q, unsigned timeout_ms, enum ctl_rpc_method method,
		const ProtobufCMessage *req, struct http_reply *out)
{
	struct ctl_rpc_job job = { .method = method, .req = req, .code = GRPC_STATUS_OK };
	struct ctlq_req r = { .kind = CTL_JOB_RPC, .arg = &job };
	char *buf = NULL;
	size_t len = 0;
	int rc = ctlq_call(q, &r, timeout_ms);

	if (rc != 0) {
		http_reply_ctlq_failed(out, rc);
	} else if (job.code != GRPC_STATUS_OK || job.resp == NULL) {
		http_reply_error(out, status_of(job.code), job.err.message);
	} else {
		FILE *f = open_memstream(&buf, &len);
		if (f != NULL) {
			pb_json_print(f, job.resp);
			fputc('\n', f);
		}
		if (f == NULL || fclose(f) != 0) {
			free(buf);
			http_reply_error(out, 500, "out of memory");
		} else {
			*out = (struct http_reply){ .status = 200, .type = "application/json",
				.body = buf, .len = len };
		}
	}
	arena_reset(&job.arena);
}

/* The query of /api/sessions, gathered by MHD's iterator. */
struct list_query {
	Rtpproxy__ListSessionsRequest req;
	Rtpproxy__SessionState states[API_MAX_STATES];
	Rtpproxy__Transport transports[API_MAX_STATES];
	Rtpproxy__ListSessionsRequest__LabelSelectorEntry label_v[API_MAX_LABELS];
	Rtpproxy__ListSessionsRequest__LabelSelectorEntry *labels[API_MAX_LABELS];
	char label_buf[API_MAX_LABELS][320];
	char page_token[32];
	char error[160];
};

static const char *const state_names[] = { "created", "connecting", "active", "error", "closed" };

static int query_fail(struct list_query *lq, const char *fmt, const char *key, const char *v)
{
	if (lq->error[0] == '\0')
		snprintf(lq->error, sizeof(lq->error), fmt, key, v);
	return MHD_NO;
}

static enum MHD_Result on_arg(void *cls, enum MHD_ValueKind kind, const char *key,
		const char *value)
{
	struct list_query *lq = cls;
	Rtpproxy__ListSessionsRequest *r = &lq->req;
	(void)kind;

	if (value == NULL)
		value = "";
	if (strcmp(key, "state") == 0) {
		if (r->n_states == API_MAX_STATES)
			return query_fail(lq, "%s: at most 16 (got \"%s\" too)", key, value);
		for (unsigned i = 0; i < 5; i++)
			if (strcmp(value, state_names[i]) == 0) {
				lq->states[r->n_states++] = (Rtpproxy__SessionState)i;
				return MHD_YES;
			}
		return query_fail(lq, "%s: expected created, connecting, active, error or closed, "
				"got \"%s\"", key, value);
	}
	if (strcmp(key, "transport") == 0) {
		if (r->n_transports == API_MAX_STATES)
			return query_fail(lq, "%s: at most 16 (got \"%s\" too)", key, value);
		if (strcmp(value, "udp") != 0 && strcmp(value, "tcp") != 0)
			return query_fail(lq, "%s: expected udp or tcp, got \"%s\"", key, value);
		lq->transports[r->n_transports++] = strcmp(value, "tcp") == 0 ?
			RTPPROXY__TRANSPORT__TRANSPORT_TCP : RTPPROXY__TRANSPORT__TRANSPORT_UDP;
		return MHD_YES;
	}
	if (strcmp(key, "label") == 0) {
		size_t n = r->n_label_selector;
		char *eq = strchr(value, '=');
		if (n == API_MAX_LABELS)
			return query_fail(lq, "%s: at most 32 (got \"%s\" too)", key, value);
		if (eq == NULL || eq == value || strlen(value) >= sizeof(lq->label_buf[n]))
			return query_fail(lq, "%s: expected KEY=VALUE, got \"%s\"", key, value);
		strcpy(lq->label_buf[n], value);
		lq->label_buf[n][eq - value] = '\0';
		rtpproxy__list_sessions_request__label_selector_entry__init(&lq->label_v[n]);
		lq->label_v[n].key = lq->label_buf[n];
		lq->label_v[n].value = lq->label_buf[n] + (eq - value) + 1;
		lq->labels[n] = &lq->label_v[n];
		r->n_label_selector = n + 1;
		return MHD_YES;
	}
	if (strcmp(key, "page_size") == 0) {
		char *end;
		unsigned long v = strtoul(value, &end, 10);
		if (value[0] < '0' || value[0] > '9' || *end != '\0' || v > API_PAGE_SIZE_MAX)
			return query_fail(lq, "%s: expected 0..1000, got \"%s\"", key, value);
		r->page_size = (uint32_t)v;
		return MHD_YES;
	}
	if (strcmp(key, "page_token") == 0) {
		if (strlen(value) >= sizeof(lq->page_token))
			return query_fail(lq, "%s: \"%s\" is not a token this server gave out",
					key, value);
		strcpy(lq->page_token, value);
		r->page_token = lq->page_token;
		return MHD_YES;
	}
	if (strcmp(key, "token") == 0)
		return MHD_YES;         /* the access token, checked before */
	return query_fail(lq, "%s: unknown parameter (expected state, transport, label, "
			"page_size or page_token)%s", key, "");
}

static void list_sessions(struct ctlq *q, unsigned timeout_ms, struct MHD_Connection *conn,
		struct http_reply *out)
{
	struct list_query *lq = calloc(1, sizeof(*lq));

	if (lq == NULL) {
		http_reply_error(out, 500, "out of memory");
		return;
	}
	rtpproxy__list_sessions_request__init(&lq->req);
	lq->req.states = lq->states;
	lq->req.transports = lq->transports;
	lq->req.label_selector = lq->labels;
	lq->req.page_token = "";
	MHD_get_connection_values(conn, MHD_GET_ARGUMENT_KIND, on_arg, lq);
	if (lq->error[0] != '\0')
		http_reply_error(out, 400, lq->error);
	else
		run_rpc(q, timeout_ms, CTL_RPC_LIST_SESSIONS, &lq->req.base, out);
	free(lq);
}

static void get_session(struct ctlq *q, unsigned timeout_ms, struct MHD_Connection *conn,
		struct http_reply *out)
{
	const char *id = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "id");
	Rtpproxy__GetSessionStatusRequest req;

	if (id == NULL || id[0] == '\0') {
		http_reply_error(out, 400, "id: a session id is required (/api/session?id=ID)");
		return;
	}
	rtpproxy__get_session_status_request__init(&req);
	req.session_id = (char *)id;
	run_rpc(q, timeout_ms, CTL_RPC_GET_SESSION, &req.base, out);
}

int http_api_serve(struct ctlq *q, unsigned timeout_ms, const char *path,
		struct MHD_Connection *conn, struct http_reply *out)
{
	if (strcmp(path, "/api/stats") == 0) {
		Rtpproxy__GetProxyStatsRequest req;
		rtpproxy__get_proxy_stats_request__init(&req);
		run_rpc(q, timeout_ms, CTL_RPC_PROXY_STATS, &req.base, out);
	} else if (strcmp(path, "/api/sessions") == 0) {
		list_sessions(q, timeout_ms, conn, out);
	} else if (strcmp(path, "/api/session") == 0) {
		get_session(q, timeout_ms, conn, out);
	} else {
		return -1;
	}
	return 0;
}

/* GET /metrics: the snapshot from the control loop, rendered here (off the control lcore). */
void http_metrics_serve(struct ctlq *q, unsigned timeout_ms, struct http_reply *out)
{
	struct ctl_metrics_job *job = calloc(1, sizeof(*job));
	struct ctlq_req r = { .kind = CTL_JOB_METRICS, .arg = job };
	char *buf = NULL;
	size_t len = 0;
	int rc;

	if (job == NULL) {
		http_reply_error(out, 500, "out of memory");
		return;
	}
	rc = ctlq_call(q, &r, timeout_ms);
	if (rc != 0) {
		http_reply_ctlq_failed(out, rc);
		free(job);
		return;
	}
	FILE *f = open_memstream(&buf, &len);
	if (f != NULL)
		metrics_render(f, &job->snap);
	if (f == NULL || fclose(f) != 0) {
		free(buf);
		http_reply_error(out, 500, "out of memory");
	} else {
		*out = (struct http_reply){ .status = 200, .type = "text/plain; version=0.0.4",
			.body = buf, .len = len };
	}
	/* what a scrape cost the control lcore (docs/PERFORMANCE.md measures it with this) */
	RTE_LOG(DEBUG, APP, "metrics: %u pass(es), %" PRIu64 " cycles (%.3f ms) on the control "
			"lcore, longest pass %.3f ms, thread CPU time %.3f ms\n", job->passes,
			job->cycles, job->tsc_hz ? job->cycles * 1e3 / job->tsc_hz : 0.0,
			job->tsc_hz ? job->max_pass_cycles * 1e3 / job->tsc_hz : 0.0,
			job->cpu_ns / 1e6);
	free(job);
}
