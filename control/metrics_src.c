#include "metrics_src.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "events.h"
#include "rp_dp.h"
#include "rpc.h"
#include "state.h"
#include "tcp_relay.h"

#define SERVICE_PREFIX "/rtpproxy.RtpProxy/"
#define HEALTH_PREFIX "/grpc.health.v1.Health/"

struct metrics_src {
	struct rpc_ctx *rpc;
	struct tcp_relay *tcp;
	struct sess_observer next;      /* the observer we stand in front of */
	uint64_t closed[METRICS_CLOSE_REASONS];
	uint64_t lost_closed;           /* packets_lost of sessions once they closed */
	struct metrics_grpc grpc;
	struct grpc_srv_hooks hooks, inner;
	const struct grpc_srv_call *admitted;   /* the call admit saw last, and when */
	uint64_t admitted_ns;
};

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

struct metrics_src *metrics_src_create(struct rpc_ctx *rpc, struct tcp_relay *tcp)
{
	struct metrics_src *m = calloc(1, sizeof(*m));
	if (m == NULL)
		return NULL;
	m->rpc = rpc;
	m->tcp = tcp;
	return m;
}

void metrics_src_free(struct metrics_src *m)
{
	free(m);
}

/* ---- the session observer ---- */

static void on_created(void *ctx, const struct session *s)
{
	struct metrics_src *m = ctx;
	if (m->next.created)
		m->next.created(m->next.ctx, s);
}

static void on_state(void *ctx, const struct session *s, enum sess_state o, enum sess_state n)
{
	struct metrics_src *m = ctx;
	if (m->next.state_changed)
		m->next.state_changed(m->next.ctx, s, o, n);
}

static void on_error(void *ctx, const struct session *s, const char *msg)
{
	struct metrics_src *m = ctx;
	if (m->next.error)
		m->next.error(m->next.ctx, s, msg);
}

static void on_closed(void *ctx, const struct session *s, const char *reason)
{
	struct metrics_src *m = ctx;
	unsigned r = 0;
	struct sess_stats rtp, rev, rtcp;

	while (r < METRICS_CLOSE_REASONS - 1 && strcmp(reason, metrics_close_reasons[r]) != 0)
		r++;
	m->closed[r]++;
	sess_read_stats(m->rpc->sessions, s, &rtp, &rev, &rtcp);
	m->lost_closed += rtp.lost + rev.lost;
	if (m->next.closed)
		m->next.closed(m->next.ctx, s, reason);
}

void metrics_src_observe(struct metrics_src *m, struct sess_observer *o)
{
	m->next = *o;
	*o = (struct sess_observer){ .ctx = m, .created = on_created, .state_changed = on_state,
		.error = on_error, .closed = on_closed };
}

/* ---- the gRPC server's hooks ---- */

static unsigned method_index(const char *path)
{
	size_t n = strlen(SERVICE_PREFIX);
	if (strncmp(path, SERVICE_PREFIX, n) == 0)
		for (unsigned i = 0; i < 6; i++)
			if (strcmp(path + n, metrics_grpc_methods[i]) == 0)
				return i;
	if (strncmp(path, HEALTH_PREFIX, strlen(HEALTH_PREFIX)) == 0)
		return 6;
	return METRICS_GRPC_METHODS - 1;
}

static grpc_status_code hook_admit(void *ctx, struct grpc_srv_call *c, struct rpc_error *err)
{
	struct metrics_src *m = ctx;
	/* unary calls are served one at a time: admit, handler, done */
	m->admitted = c;
	m->admitted_ns = now_ns();
	if (m->inner.admit == NULL)
		return GRPC_STATUS_OK;
	return m->inner.admit(m->inner.ctx, c, err);
}

static void hook_done(void *ctx, const struct grpc_srv_call *c, const ProtobufCMessage *req,
		const ProtobufCMessage *resp, grpc_status_code code)
{
	struct metrics_src *m = ctx;
	unsigned i = method_index(c->method);

	if ((unsigned)code < METRICS_GRPC_CODES)
		m->grpc.requests[i][code]++;
	if (c == m->admitted) {
		double secs = (double)(now_ns() - m->admitted_ns) / 1e9;
		struct metrics_hist *h = &m->grpc.duration[i];
		unsigned b = metrics_bucket(metrics_duration_bounds, METRICS_DURATION_BUCKETS,
				secs);
		if (b < METRICS_DURATION_BUCKETS)
			h->bucket[b]++;
		h->count++;
		h->sum += secs;
		m->admitted = NULL;
	}
	if (m->inner.done != NULL)
		m->inner.done(m->inner.ctx, c, req, resp, code);
}

const struct grpc_srv_hooks *metrics_src_hooks(struct metrics_src *m,
		const struct grpc_srv_hooks *inner)
{
	if (inner != NULL)
		m->inner = *inner;
	m->hooks = (struct grpc_srv_hooks){ .admit = hook_admit, .done = hook_done, .ctx = m };
	return &m->hooks;
}

/* ---- the snapshot ---- */

void metrics_add_session(struct metrics_snap *s, const struct session *x,
		const struct sess_stats *rtp)
{
	s->sessions[x->state % METRICS_STATES][x->transport == SESS_TCP]++;
	if (x->state == SESS_CLOSED || x->transport != SESS_UDP)
		return;
	double j = rtp->jitter_ms / 1000.0;
	unsigned b = metrics_bucket(metrics_jitter_bounds, METRICS_JITTER_BUCKETS, j);
	if (b < METRICS_JITTER_BUCKETS)
		s->jitter.bucket[b]++;
	s->jitter.count++;
	s->jitter.sum += j;
}

void metrics_src_begin(struct metrics_src *m, struct metrics_snap *s)
{
	struct sess_counters sc;
	struct events_counters ec;

	memset(s, 0, sizeof(*s));
	sess_counters(m->rpc->sessions, &sc);
	s->created_total = sc.created_total;
	memcpy(s->closed_total, m->closed, sizeof(s->closed_total));
	s->rtp_lost_total = m->lost_closed;
	s->grpc = m->grpc;
	if (m->rpc->events != NULL) {
		events_counters(m->rpc->events, &ec);
		s->event_streams = ec.streams_open;
	}
	if (m->tcp != NULL) {
		struct tcp_relay_counters tc;
		tcp_relay_counters(m->tcp, &tc);
		s->tcp_connections = tc.connections_open;
	}
	s->version = RTPPROXY_VERSION;
	if (m->rpc->state != NULL) {
		struct state_stats ss;
		state_stats(m->rpc->state, sess_now_ms(), &ss);
		s->state = (struct metrics_state){ .present = true, .up = ss.up,
			.queue_depth = ss.queue_depth, .lease_epoch = ss.lease_epoch,
			.standby = strcmp(ss.role, "standby") == 0,
			.last_checkpoint_age_s = ss.last_checkpoint_age_ms < 0 ? -1.0 :
				(double)ss.last_checkpoint_age_ms / 1000.0 };
	}
	dp_stats_read(m->rpc->dp, &s->dp);
	if (m->rpc->kernel_filtered != NULL)
		s->dp.drops[DROP_FILTERED] += m->rpc->kernel_filtered(m->rpc->kernel_filtered_arg);
	for (unsigned i = 0; i < s->dp.n_ports; i++) {
		struct dp_port_info pi;
		if (dp_port_info(m->rpc->dp, i, &pi) == 0)
			memcpy(s->port_names[i], pi.name, sizeof(s->port_names[i]));
	}
}

bool metrics_src_step(struct metrics_src *m, struct metrics_snap *s, struct metrics_cursor *c,
		unsigned max)
{
	struct session *x = NULL;
	struct sess_stats rtp, rev, rtcp;

	if (c->serial != 0)
		x = sess_find(m->rpc->sessions, c->id);
	if (x == NULL || x->serial != c->serial)
		x = sess_first(m->rpc->sessions, c->serial);

	for (unsigned n = 0; x != NULL && n < max; n++, x = sess_next(x)) {
		sess_read_stats(m->rpc->sessions, x, &rtp, &rev, &rtcp);
		metrics_add_session(s, x, &rtp);
		if (x->state != SESS_CLOSED)
			s->rtp_lost_total += rtp.lost + rev.lost;
	}
	if (x == NULL)
		return true;
	c->serial = x->serial;
	memcpy(c->id, x->id, sizeof(c->id));
	return false;
}
