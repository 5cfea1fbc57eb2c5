#include "rpc.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>

#include "events.h"
#include "own_addrs.h"
#include "rp_dp.h"
#include "rtpproxy.pb-c.h"
#include "sess.h"
#include "state.h"
#include "validate.h"

#define LIST_PAGE_DEFAULT 1000
#define LIST_PAGE_MAX 10000


/* ---- the session manager's errors as gRPC status codes (only here) ---- */

static grpc_status_code status_of(enum sess_err e)
{
	switch (e) {
	case SESS_OK: return GRPC_STATUS_OK;
	case SESS_INVALID: return GRPC_STATUS_INVALID_ARGUMENT;
	case SESS_EXISTS: return GRPC_STATUS_ALREADY_EXISTS;
	case SESS_NOT_FOUND: return GRPC_STATUS_NOT_FOUND;
	case SESS_EXHAUSTED: return GRPC_STATUS_RESOURCE_EXHAUSTED;
	case SESS_DENIED: return GRPC_STATUS_PERMISSION_DENIED;
	case SESS_UNAVAILABLE: return GRPC_STATUS_UNAVAILABLE;
	case SESS_INTERNAL: break;
	}
	return GRPC_STATUS_INTERNAL;
}

static grpc_status_code sess_failed(const struct sess_error *se, struct rpc_error *err)
{
	return rpc_fail(err, status_of(se->code), "%s", se->message);
}

/* ---- requests -> internal ---- */

enum ep_role { EP_LISTEN, EP_FORWARD, EP_DEST };

static grpc_status_code parse_endpoint(const Rtpproxy__Endpoint *e, const char *field,
		enum ep_role role, struct sess_ep *out, struct rpc_error *err)
{
	if (e == NULL)
		return rpc_fail(err, GRPC_STATUS_INVALID_ARGUMENT, "%s: is required", field);
	const char *a = e->address ? e->address : "";
	struct dp_addr in;
	int bad = dp_addr_parse(a, &in);
	if (bad == 0 && dp_addr_is_v6(&in))
		return rpc_fail(err, GRPC_STATUS_INVALID_ARGUMENT,
				"%s.address: \"%s\": IPv6 is not supported yet", field, a);
	if (bad != 0)
		return rpc_fail(err, GRPC_STATUS_INVALID_ARGUMENT,
				"%s.address: \"%s\" is not an IP address", field, a);
	if (e->port > 65535)
		return rpc_fail(err, GRPC_STATUS_INVALID_ARGUMENT,
				"%s.port: %u is not a port (1..65535)", field, e->port);
	if (dp_addr_is_any(&in) && role != EP_LISTEN)
		return rpc_fail(err, GRPC_STATUS_INVALID_ARGUMENT,
				"%s.address: the wildcard address is allowed on listen_endpoint only",
				field);
	if (e->port == 0 && role == EP_DEST)
		return rpc_fail(err, GRPC_STATUS_INVALID_ARGUMENT,
				"%s.port: 0 is not a destination port (1..65535)", field);
	out->addr = in;
	out->port = (uint16_t)e->port;
	return GRPC_STATUS_OK;
}

static grpc_status_code parse_create(const Rtpproxy__CreateSessionRequest *r,
		struct sess_params *p, struct sess_label *labels, struct rpc_error *err)
{
	memset(p, 0, sizeof(*p));
	p->id = r->session_id ? r->session_id : "";
	if (strlen(p->id) > SESS_ID_MAX)
		return rpc_fail(err, GRPC_STATUS_INVALID_ARGUMENT,
				"session_id: longer than %d characters", SESS_ID_MAX);
	if (parse_endpoint(r->listen_endpoint, "listen_endpoint", EP_LISTEN, &p->listen, err) ||
			parse_endpoint(r->forward_endpoint, "forward_endpoint", EP_FORWARD,
				&p->forward, err) ||
			parse_endpoint(r->destination_endpoint, "destination_endpoint", EP_DEST,
				&p->dest, err))
		return err->code;
	if (r->transport != RTPPROXY__TRANSPORT__TRANSPORT_UDP &&
			r->transport != RTPPROXY__TRANSPORT__TRANSPORT_TCP)
		return rpc_fail(err, GRPC_STATUS_INVALID_ARGUMENT, "transport: unknown value %d",
				r->transport);
	p->transport = r->transport == RTPPROXY__TRANSPORT__TRANSPORT_TCP ? SESS_TCP : SESS_UDP;
	if (p->transport == SESS_TCP && r->enable_rtcp)
		return rpc_fail(err, GRPC_STATUS_INVALID_ARGUMENT,
				"enable_rtcp: RTCP is for UDP sessions, not TCP");
	if (r->enable_rtcp && (p->listen.port == 65535 || p->forward.port == 65535 ||
				p->dest.port == 65535))
		return rpc_fail(err, GRPC_STATUS_INVALID_ARGUMENT,
				"enable_rtcp: RTCP needs port+1, so no endpoint port may be 65535");
	if (p->transport == SESS_TCP && (r->rate_limit_pps || r->rate_limit_bps))
		return rpc_fail(err, GRPC_STATUS_INVALID_ARGUMENT,
				"rate_limit_pps: rate limits are for UDP sessions, not TCP");
	if (p->transport == SESS_TCP && r->validate_rtp)
		return rpc_fail(err, GRPC_STATUS_INVALID_ARGUMENT,
				"validate_rtp: RTP validation is for UDP sessions, not TCP");
	p->rtcp = r->enable_rtcp;
	p->bidir = r->bidirectional;
	p->validate_rtp = r->validate_rtp;
	p->rate_pps = r->rate_limit_pps;
	p->rate_bps = r->rate_limit_bps;
	p->idle_timeout_secs = r->idle_timeout_secs;
	if (r->latch_mode != RTPPROXY__LATCH_MODE__LATCH_MODE_SSRC &&
			r->latch_mode != RTPPROXY__LATCH_MODE__LATCH_MODE_FIRST &&
			r->latch_mode != RTPPROXY__LATCH_MODE__LATCH_MODE_ANY)
		return rpc_fail(err, GRPC_STATUS_INVALID_ARGUMENT, "latch_mode: unknown value %d",
				r->latch_mode);
	if (p->transport == SESS_TCP && (r->strict_source ||
				r->latch_mode != RTPPROXY__LATCH_MODE__LATCH_MODE_SSRC))
		return rpc_fail(err, GRPC_STATUS_INVALID_ARGUMENT, "%s: source latching is for "
				"UDP sessions, not TCP", r->strict_source ? "strict_source" :
				"latch_mode");
	p->latch_mode = (enum sess_latch)r->latch_mode;
	p->strict_source = r->strict_source;
	for (size_t i = 0; i < r->n_labels; i++) {
		labels[i].key = r->labels[i]->key ? r->labels[i]->key : "";
		labels[i].value = r->labels[i]->value ? r->labels[i]->value : "";
	}
	p->labels = labels;
	p->n_labels = (unsigned)r->n_labels;
	return GRPC_STATUS_OK;
}

grpc_status_code rpc_parse_create(const Rtpproxy__CreateSessionRequest *r,
		struct sess_params *p, struct sess_label *labels, struct rpc_error *err)
{
	return parse_create(r, p, labels, err);
}

/* ---- internal -> responses (everything lives in the call's arena) ---- */

static Rtpproxy__Endpoint *endpoint_msg(struct arena *a, const struct sess_ep *e)
{
	Rtpproxy__Endpoint *m = arena_alloc(a, sizeof(*m));
	char buf[DP_ADDR_STRLEN];
	rtpproxy__endpoint__init(m);
	dp_addr_format(&e->addr, buf, sizeof(buf));
	m->address = arena_strdup(a, buf);
	m->port = e->port;
	return m;
}

Rtpproxy__SessionStats *rpc_session_stats(struct arena *a, const struct sess_stats *s)
{
	Rtpproxy__SessionStats *m = arena_alloc(a, sizeof(*m));
	rtpproxy__session_stats__init(m);
	m->packets_received = s->pkts_rx;
	m->packets_sent = s->pkts_tx;
	m->bytes_received = s->bytes_rx;
	m->bytes_sent = s->bytes_tx;
	m->packets_lost = s->lost;
	m->loss_rate = s->loss_rate;
	m->packets_dropped = s->dropped;
	m->avg_latency_ms = s->avg_latency_ms;
	m->max_latency_ms = s->max_latency_ms;
	m->jitter_ms = s->jitter_ms;
	m->last_activity_unix_ms = s->last_activity_ms;
	return m;
}

Rtpproxy__SessionInfo *rpc_session_info(struct rpc_ctx *ctx, struct arena *a,
		const struct session *s)
{
	Rtpproxy__SessionInfo *m = arena_alloc(a, sizeof(*m));
	struct sess_stats rtp, rev, rtcp;
	struct sess_ep latched;

	rtpproxy__session_info__init(m);
	sess_read_stats(ctx->sessions, s, &rtp, &rev, &rtcp);
	m->session_id = arena_strdup(a, s->id);
	m->state = (Rtpproxy__SessionState)s->state;
	m->transport = s->transport == SESS_TCP ? RTPPROXY__TRANSPORT__TRANSPORT_TCP :
		RTPPROXY__TRANSPORT__TRANSPORT_UDP;
	m->listen_endpoint = endpoint_msg(a, &s->listen);
	m->forward_endpoint = endpoint_msg(a, &s->forward);
	m->destination_endpoint = endpoint_msg(a, &s->dest);
	m->enable_rtcp = s->rtcp;
	m->bidirectional = s->bidir;
	m->idle_timeout_secs = s->idle_timeout_secs;
	m->latch_mode = (Rtpproxy__LatchMode)s->latch_mode;
	m->strict_source = s->strict_source;
	m->created_unix_ms = s->created_ms;
	m->stats = rpc_session_stats(a, &rtp);
	m->reverse_stats = rpc_session_stats(a, &rev);
	if (sess_latched(ctx->sessions, s, &latched))
		m->latched_source = endpoint_msg(a, &latched);
	m->rtcp_stats = rpc_session_stats(a, &rtcp);
	m->error_message = arena_strdup(a, sess_error(s));
	m->n_labels = s->n_labels;
	m->labels = arena_alloc(a, sizeof(*m->labels) * (s->n_labels + 1));
	for (unsigned i = 0; i < s->n_labels; i++) {
		Rtpproxy__SessionInfo__LabelsEntry *e = arena_alloc(a, sizeof(*e));
		rtpproxy__session_info__labels_entry__init(e);
		e->key = arena_strdup(a, s->labels[i].key);
		e->value = arena_strdup(a, s->labels[i].value);
		m->labels[i] = e;
	}
	return m;
}

/* ---- handlers ---- */

/* A standby's sessions are the active's: changes go there (API.md 1.6). */
static grpc_status_code refuse_on_standby(struct rpc_ctx *ctx, struct rpc_error *err)
{
	if (ctx->standing_by != NULL && ctx->standing_by(ctx->standing_by_arg))
		return rpc_fail(err, GRPC_STATUS_UNAVAILABLE, "standby: this appliance does not "
				"hold the lease; the active one changes sessions");
	return GRPC_STATUS_OK;
}

static grpc_status_code create_session(void *c, const ProtobufCMessage *req,
		ProtobufCMessage **resp, struct arena *a, struct rpc_error *err)
{
	struct rpc_ctx *ctx = c;
	const Rtpproxy__CreateSessionRequest *r = (const void *)req;
	struct sess_params p;
	struct sess_label *labels = arena_alloc(a, sizeof(*labels) * (r->n_labels + 1));

	if (refuse_on_standby(ctx, err) != GRPC_STATUS_OK ||
			parse_create(r, &p, labels, err) != GRPC_STATUS_OK)
		return err->code;
	/* the limits and forbidden destinations of API.md 1.3, whatever the config allows */
	if (validate_create(r, own_addrs(ctx->dp, sess_now_ms()), err) != GRPC_STATUS_OK)
		return err->code;
	struct sess_error se;
	struct session *s = sess_create(ctx->sessions, &p, &se);
	if (s == NULL)
		return sess_failed(&se, err);
	Rtpproxy__CreateSessionResponse *out = arena_alloc(a, sizeof(*out));
	rtpproxy__create_session_response__init(out);
	out->session = rpc_session_info(ctx, a, s);
	*resp = &out->base;
	return GRPC_STATUS_OK;
}

static grpc_status_code destroy_session(void *c, const ProtobufCMessage *req,
		ProtobufCMessage **resp, struct arena *a, struct rpc_error *err)
{
	struct rpc_ctx *ctx = c;
	const Rtpproxy__DestroySessionRequest *r = (const void *)req;
	struct session final;
	struct sess_error se;

	if (refuse_on_standby(ctx, err) != GRPC_STATUS_OK)
		return err->code;
	if (sess_destroy(ctx->sessions, r->session_id, &final, &se) != SESS_OK)
		return sess_failed(&se, err);
	Rtpproxy__DestroySessionResponse *out = arena_alloc(a, sizeof(*out));
	rtpproxy__destroy_session_response__init(out);
	out->session = rpc_session_info(ctx, a, &final);
	sess_final_free(&final);
	*resp = &out->base;
	return GRPC_STATUS_OK;
}

static grpc_status_code get_session(void *c, const ProtobufCMessage *req,
		ProtobufCMessage **resp, struct arena *a, struct rpc_error *err)
{
	struct rpc_ctx *ctx = c;
	const Rtpproxy__GetSessionStatusRequest *r = (const void *)req;
	sess_tcp_poll(ctx->sessions);   /* what the TCP relay knows is part of the answer */
	struct session *s = sess_find(ctx->sessions, r->session_id);

	if (s == NULL)
		return rpc_fail(err, GRPC_STATUS_NOT_FOUND, "session_id: no session \"%s\"",
				r->session_id);
	Rtpproxy__GetSessionStatusResponse *out = arena_alloc(a, sizeof(*out));
	rtpproxy__get_session_status_response__init(out);
	out->session = rpc_session_info(ctx, a, s);
	*resp = &out->base;
	return GRPC_STATUS_OK;
}

static bool list_match(const Rtpproxy__ListSessionsRequest *r, const struct session *s)
{
	bool ok = r->n_states == 0;
	for (size_t i = 0; i < r->n_states && !ok; i++)
		ok = (int)r->states[i] == (int)s->state;
	if (!ok)
		return false;
	ok = r->n_transports == 0;
	for (size_t i = 0; i < r->n_transports && !ok; i++)
		ok = (int)r->transports[i] == (int)s->transport;
	if (!ok)
		return false;
	for (size_t i = 0; i < r->n_label_selector; i++) {
		const char *k = r->label_selector[i]->key, *v = r->label_selector[i]->value;
		bool found = false;
		for (unsigned j = 0; j < s->n_labels && !found; j++)
			found = strcmp(s->labels[j].key, k) == 0 && strcmp(s->labels[j].value, v) == 0;
		if (!found)
			return false;
	}
	return true;
}

static grpc_status_code list_sessions(void *c, const ProtobufCMessage *req,
		ProtobufCMessage **resp, struct arena *a, struct rpc_error *err)
{
	struct rpc_ctx *ctx = c;
	const Rtpproxy__ListSessionsRequest *r = (const void *)req;
	uint64_t from = 0;

	if (validate_list(r, err) != GRPC_STATUS_OK)
		return err->code;
	sess_tcp_poll(ctx->sessions);
	unsigned page = r->page_size ? r->page_size : LIST_PAGE_DEFAULT;

	if (page > LIST_PAGE_MAX)
		page = LIST_PAGE_MAX;
	/* the token is "SERIAL/ID" of the page's first session: found by id (a hash lookup)
	 * while it lives, else by walking to its serial (it was closed meanwhile) */
	struct session *start = NULL;
	if (r->page_token != NULL && r->page_token[0] != '\0') {
		char *end;
		from = strtoull(r->page_token, &end, 10);
		if (*end != '/' || from == 0)
			return rpc_fail(err, GRPC_STATUS_INVALID_ARGUMENT,
					"page_token: \"%s\" is not a token this server gave out",
					r->page_token);
		start = sess_find(ctx->sessions, end + 1);
		if (start != NULL && start->serial != from)
			start = NULL;
	}
	Rtpproxy__ListSessionsResponse *out = arena_alloc(a, sizeof(*out));
	rtpproxy__list_sessions_response__init(out);
	out->sessions = arena_alloc(a, sizeof(*out->sessions) * page);
	out->next_page_token = "";
	if (start == NULL)
		start = sess_first(ctx->sessions, from);
	for (struct session *s = start; s != NULL; s = sess_next(s)) {
		if (!list_match(r, s))
			continue;
		if (out->n_sessions == page) {
			out->next_page_token = arena_printf(a, "%" PRIu64 "/%s", s->serial, s->id);
			break;
		}
		out->sessions[out->n_sessions++] = rpc_session_info(ctx, a, s);
	}
	*resp = &out->base;
	return GRPC_STATUS_OK;
}

/* Where the session store stands (1.6); NULL (absent) with backend = none. */
static Rtpproxy__StateBackendStats *state_stats_msg(struct rpc_ctx *ctx, struct arena *a)
{
	struct state_stats ss;
	if (ctx->state == NULL)
		return NULL;
	state_stats(ctx->state, sess_now_ms(), &ss);
	Rtpproxy__StateBackendStats *m = arena_alloc(a, sizeof(*m));
	rtpproxy__state_backend_stats__init(m);
	m->backend = "redis";
	m->up = ss.up;
	m->queue_depth = ss.queue_depth;
	m->last_checkpoint_age_ms = ss.last_checkpoint_age_ms;
	m->role = arena_strdup(a, ss.role);
	m->lease_epoch = ss.lease_epoch;
	m->instance = arena_strdup(a, ss.instance);
	m->store_instance = arena_strdup(a, ss.store_instance);
	m->writes_total = ss.writes_total;
	m->resyncs_total = ss.resyncs_total;
	m->restored_sessions = ss.restored_sessions;
	return m;
}

static grpc_status_code proxy_stats(void *c, const ProtobufCMessage *req,
		ProtobufCMessage **resp, struct arena *a, struct rpc_error *err)
{
	struct rpc_ctx *ctx = c;
	struct dp_stats ds;
	struct sess_counters sc;
	(void)req;
	(void)err;

	dp_stats_read(ctx->dp, &ds);
	if (ctx->kernel_filtered != NULL)
		ds.drops[DROP_FILTERED] += ctx->kernel_filtered(ctx->kernel_filtered_arg);
	sess_counters(ctx->sessions, &sc);
	Rtpproxy__GetProxyStatsResponse *out = arena_alloc(a, sizeof(*out));
	rtpproxy__get_proxy_stats_response__init(out);
	out->sessions_active = sc.active;
	out->sessions_created_total = sc.created_total;
	out->sessions_closed_total = sc.closed_total;
	out->uptime_ms = (uint64_t)(sess_now_ms() - ctx->started_ms);
	out->version = RTPPROXY_VERSION;

	out->n_ports = ds.n_ports;
	out->ports = arena_alloc(a, sizeof(*out->ports) * ds.n_ports);
	for (unsigned i = 0; i < ds.n_ports; i++) {
		const struct dp_port_stats *s = &ds.port[i];
		struct dp_port_info pi;
		Rtpproxy__PortStats *p = arena_alloc(a, sizeof(*p));
		rtpproxy__port_stats__init(p);
		dp_port_info(ctx->dp, i, &pi);
		p->port_id = s->eth_id;
		p->name = arena_strdup(a, pi.name);
		p->rx_packets = s->rx_packets;
		p->tx_packets = s->tx_packets;
		p->rx_bytes = s->rx_bytes;
		p->tx_bytes = s->tx_bytes;
		p->rx_missed = s->rx_missed;
		p->tx_failed = s->tx_failed;
		p->exception_packets = s->exception;
		out->ports[i] = p;
	}
	out->n_workers = ds.n_workers;
	out->workers = arena_alloc(a, sizeof(*out->workers) * (ds.n_workers + 1));
	for (unsigned w = 0; w < ds.n_workers; w++) {
		const struct dp_worker_stats *wk = &ds.worker[w];
		Rtpproxy__WorkerStats *x = arena_alloc(a, sizeof(*x));
		rtpproxy__worker_stats__init(x);
		x->index = wk->index;
		x->lcore = wk->lcore;
		x->relayed = wk->relayed;
		x->iterations = wk->iterations;
		x->busy_iterations = wk->busy_iterations;
		x->busy_cycles = wk->busy_cycles;
		x->handed_off = wk->handed_off;
		x->tsc_hz = ds.tsc_hz;
		out->workers[w] = x;
	}
	out->n_drops = DROP_MAX;
	out->drops = arena_alloc(a, sizeof(*out->drops) * DROP_MAX);
	for (int d = 0; d < DROP_MAX; d++) {
		Rtpproxy__GetProxyStatsResponse__DropsEntry *e = arena_alloc(a, sizeof(*e));
		rtpproxy__get_proxy_stats_response__drops_entry__init(e);
		e->key = (char *)dp_drop_names[d];
		e->value = ds.drops[d];
		out->drops[d] = e;
	}
	out->state = state_stats_msg(ctx, a);
	*resp = &out->base;
	return GRPC_STATUS_OK;
}

const struct grpc_srv_method rpc_methods[] = {
	{ .unary = create_session },    /* CreateSession */
	{ .unary = destroy_session },   /* DestroySession */
	{ .unary = get_session },       /* GetSessionStatus */
	{ .unary = list_sessions },     /* ListSessions */
	{ .stream = events_subscribe, .closed = events_unsubscribe },   /* StreamSessionEvents */
	{ .unary = proxy_stats },       /* GetProxyStats */
};
