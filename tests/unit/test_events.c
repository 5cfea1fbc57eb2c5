/*
 * StreamSessionEvents inside one process: a data plane of net_null ports (as in test_rpc), the
 * real session manager, events and grpc_srv on 127.0.0.1:0 served by the main thread, and
 * rpc_client streams on a second thread. Exact event sequences for a lifecycle (incl. ERROR),
 * snapshots (also a paced one of 3000 sessions), the per-session filter, NOT_FOUND,
 * StatsUpdate cadence, two streams at once, a client that goes away, a client that does not
 * read, and shutdown. Every event read is also checked against the per-session order of
 * API.md 1.1 (created first, transitions from the state last seen, error just before ->ERROR,
 * closed last and nothing after it).
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>
#include <rte_ring.h>

#include "check.h"
#include "dp.h"         /* to look inside: fake traffic on a flow, a next hop that fails */
#include "dp_sess.h"
#include "events.h"
#include "rpc.h"
#include "rpc_client.h"
#include "rtpproxy.pb-c.h"
#include "sess.h"
#include "test_dp.h"

#define M(name) "/rtpproxy.RtpProxy/" name
#define DEADLINE_MS 5000
#define QUIET_MS 300            /* "nothing more comes": no event within this */
#define MANY 3000
#define MAX_STREAMS 6           /* [grpc] max_streams here */

#define WAIT_UNTIL(cond, ms) __extension__ ({ \
	for (int w_ = 0; !(cond) && w_ < (ms); w_++) \
		usleep(1000); \
	(cond); \
})

#define ST_CREATED ((int)RTPPROXY__SESSION_STATE__SESSION_STATE_CREATED)
#define ST_CONNECTING ((int)RTPPROXY__SESSION_STATE__SESSION_STATE_CONNECTING)
#define ST_ACTIVE ((int)RTPPROXY__SESSION_STATE__SESSION_STATE_ACTIVE)
#define ST_ERROR ((int)RTPPROXY__SESSION_STATE__SESSION_STATE_ERROR)
#define ST_CLOSED ((int)RTPPROXY__SESSION_STATE__SESSION_STATE_CLOSED)
#define EV_CREATED ((int)RTPPROXY__SESSION_EVENT__EVENT_CREATED)
#define EV_CHANGED ((int)RTPPROXY__SESSION_EVENT__EVENT_STATE_CHANGED)
#define EV_STATS ((int)RTPPROXY__SESSION_EVENT__EVENT_STATS_UPDATE)
#define EV_ERROR ((int)RTPPROXY__SESSION_EVENT__EVENT_ERROR)
#define EV_CLOSED ((int)RTPPROXY__SESSION_EVENT__EVENT_CLOSED)

/* ---- the server side (main thread) ---- */

static struct dp *dp;
static struct rpc_ctx ctx;
static struct events *ev;
static struct grpc_srv *srv;
static int srv_port;

/* What the server publishes for the client after every loop. */
static atomic_uint_fast64_t pub_open, pub_total, pub_sent, pub_behind, pub_tick_max_us;
static atomic_bool srv_stopped;

/* Commands from the client thread, run by the server between polls. */
enum cmd { CMD_NONE, CMD_TRAFFIC, CMD_FAIL_NEIGH, CMD_MANY, CMD_DESTROY, CMD_DESTROY_MANY,
	CMD_SHUTDOWN };
static atomic_int box_cmd;
static char box_id[SESS_ID_MAX + 1];
static unsigned box_n;

/* Pretend the worker relayed n packets of 172 bytes on the session's forward flow. */
static void fake_traffic(struct session *s, unsigned n)
{
	struct flow *f = s->flows != NULL ? s->flows->flow[DP_FLOW_RTP] : NULL;
	if (f == NULL)
		return;
	f->stats.pkts_rx += n;
	f->stats.pkts_tx += n;
	f->stats.bytes_rx += 172ull * n;
	f->stats.bytes_tx += 172ull * n;
	f->stats.last_tsc = rte_rdtsc();
}

static void make_many(unsigned n)
{
	struct sess_params p;
	struct sess_error err;
	char id[32];

	for (unsigned i = 0; i < n; i++) {
		memset(&p, 0, sizeof(p));
		snprintf(id, sizeof(id), "many-%u", i);
		p.id = id;
		p.listen = (struct sess_ep){ dp_addr_v4(inet_addr("198.18.1.1")), (uint16_t)(10000 + i) };
		p.forward = (struct sess_ep){ dp_addr_v4(inet_addr("198.18.2.1")), (uint16_t)(10000 + i) };
		p.dest = (struct sess_ep){ dp_addr_v4(inet_addr("198.18.2.2")), 40000 };
		if (sess_create(ctx.sessions, &p, &err) == NULL) {
			fprintf(stderr, "make_many: %s\n", err.message);
			CHECK(0);
			return;
		}
	}
}

static void destroy(const char *id)
{
	struct session final;
	struct sess_error err;
	CHECK(sess_destroy(ctx.sessions, id, &final, &err) == SESS_OK);
	sess_final_free(&final);
}

static void shutdown_all(void)
{
	/* the order of app/main.c */
	sess_close_all(ctx.sessions, "shutdown");
	grpc_srv_stop(srv);
	srv = NULL;
}

/* Run the pending command, if any. */
static void run_command(void)
{
	int c = atomic_load(&box_cmd);
	struct session *s;
	char id[32];

	if (c == CMD_NONE)
		return;
	switch (c) {
	case CMD_TRAFFIC:
		s = sess_find(ctx.sessions, box_id);
		CHECK(s != NULL);
		if (s != NULL)
			fake_traffic(s, box_n);
		break;
	case CMD_FAIL_NEIGH:
		/* the next hop gave up: sess_tick fails the session (error, then ->ERROR) */
		s = sess_find(ctx.sessions, box_id);
		CHECK(s != NULL);
		if (s != NULL && s->flows != NULL)
			dp->neigh->ent[s->flows->neigh].state = NEIGH_FAILED;
		break;
	case CMD_MANY:
		make_many(box_n);
		break;
	case CMD_DESTROY:
		destroy(box_id);
		break;
	case CMD_DESTROY_MANY:
		for (unsigned i = 0; i < box_n; i++) {
			snprintf(id, sizeof(id), "many-%u", i);
			if (sess_find(ctx.sessions, id) != NULL)
				destroy(id);
		}
		break;
	case CMD_SHUTDOWN:
		shutdown_all();
		break;
	}
	/* two ticks see every session (sess_tick works in slices from where it stopped) */
	sess_tick(ctx.sessions, sess_now_ms());
	sess_tick(ctx.sessions, sess_now_ms());
	atomic_store(&box_cmd, CMD_NONE);
}

static void publish(void)
{
	struct events_counters c;
	events_counters(ev, &c);
	atomic_store(&pub_open, c.streams_open);
	atomic_store(&pub_total, c.streams_total);
	atomic_store(&pub_sent, c.sent);
	atomic_store(&pub_behind, c.fell_behind);
}

static void serve(void)
{
	uint64_t hz = rte_get_tsc_hz();

	while (srv != NULL) {
		grpc_srv_poll(srv, 2);
		int64_t now = sess_now_ms();
		sess_tick(ctx.sessions, now);
		uint64_t t0 = rte_rdtsc();
		events_tick(ev, now);
		uint64_t us = (rte_rdtsc() - t0) * 1000000 / hz;
		if (us > atomic_load(&pub_tick_max_us))
			atomic_store(&pub_tick_max_us, us);
		run_command();
		publish();
	}
	publish();
	atomic_store(&srv_stopped, true);
}

/* ---- the client side ---- */

static struct rpc_client *C;

static void command(enum cmd c, const char *id, unsigned n)
{
	snprintf(box_id, sizeof(box_id), "%s", id != NULL ? id : "");
	box_n = n;
	atomic_store(&box_cmd, c);
	if (c != CMD_SHUTDOWN)
		CHECK(WAIT_UNTIL(atomic_load(&box_cmd) == CMD_NONE, 30000));
}

/* What a stream has shown of each session, to check the order rules on every event. */
struct seen {
	char id[SESS_ID_MAX + 1];
	int state;
	bool error_pending, closed;
};

struct tstream {
	const char *name;
	struct rpc_stream *rs;
	struct seen *seen;
	unsigned n_seen;
	bool ended;
	struct rpc_status st;
};

static void describe(const Rtpproxy__SessionEvent *e, char *buf, size_t len)
{
	switch ((int)e->event_case) {
	case EV_CREATED:
		snprintf(buf, len, "%s created(state %d)", e->session_id,
				e->created->session->state);
		break;
	case EV_CHANGED:
		snprintf(buf, len, "%s state_changed(%d -> %d)", e->session_id,
				e->state_changed->old_state, e->state_changed->new_state);
		break;
	case EV_STATS:
		snprintf(buf, len, "%s stats_update(rx %llu)", e->session_id,
				(unsigned long long)e->stats_update->stats->packets_received);
		break;
	case EV_ERROR:
		snprintf(buf, len, "%s error(%s)", e->session_id, e->error->message);
		break;
	case EV_CLOSED:
		snprintf(buf, len, "%s closed(%s)", e->session_id, e->closed->reason);
		break;
	default:
		snprintf(buf, len, "%s event %d", e->session_id, e->event_case);
	}
}

static struct seen *seen_find(struct tstream *t, const char *id)
{
	for (unsigned i = t->n_seen; i-- > 0;)
		if (strcmp(t->seen[i].id, id) == 0)
			return &t->seen[i];
	return NULL;
}

static bool order_ok(struct tstream *t, const Rtpproxy__SessionEvent *e)
{
	struct seen *s = seen_find(t, e->session_id);

	if (e->event_case == EV_CREATED) {
		const Rtpproxy__SessionInfo *si = e->created->session;
		if ((s != NULL && !s->closed) || si == NULL || si->state == ST_CLOSED ||
				strcmp(si->session_id, e->session_id) != 0)
			return false;
		if (s == NULL) {
			t->seen = realloc(t->seen, sizeof(*t->seen) * (t->n_seen + 1));
			s = &t->seen[t->n_seen++];
		}
		memset(s, 0, sizeof(*s));
		snprintf(s->id, sizeof(s->id), "%s", e->session_id);
		s->state = si->state;
		return true;
	}
	if (s == NULL || s->closed)
		return false;           /* nothing before created, nothing after closed */
	switch ((int)e->event_case) {
	case EV_CHANGED:
		if ((int)e->state_changed->old_state != s->state ||
				e->state_changed->old_state == e->state_changed->new_state ||
				s->error_pending != (e->state_changed->new_state == ST_ERROR))
			return false;
		s->state = e->state_changed->new_state;
		s->error_pending = false;
		return true;
	case EV_ERROR:
		s->error_pending = true;
		return true;
	case EV_STATS:
		return !s->error_pending && s->state != ST_CLOSED;
	case EV_CLOSED:
		s->closed = true;
		return s->state == ST_CLOSED && e->closed->final_stats != NULL;
	}
	return false;
}

static void ts_open(struct tstream *t, const char *name, const char *id, uint32_t interval)
{
	Rtpproxy__StreamSessionEventsRequest req = RTPPROXY__STREAM_SESSION_EVENTS_REQUEST__INIT;
	uint64_t open = atomic_load(&pub_open);

	memset(t, 0, sizeof(*t));
	t->name = name;
	req.session_id = (char *)id;
	req.stats_interval_ms = interval;
	t->rs = rpc_stream_start(C, M("StreamSessionEvents"), &req.base, &t->st, 0);
	CHECK(t->rs != NULL);
	/* known to the server before anything else happens (else events would race it);
	 * a refused stream ("nope": unknown) never counts */
	if (strcmp(id, "nope") != 0)
		CHECK(WAIT_UNTIL(atomic_load(&pub_open) == open + 1, DEADLINE_MS));
}

/* Cancel (free does it too) and free; the server's `closed` callback removes the subscriber. */
static void ts_close_how(struct tstream *t, bool cancel)
{
	uint64_t open = atomic_load(&pub_open);
	bool was_open = !t->ended;

	if (cancel)
		rpc_stream_cancel(t->rs);
	rpc_stream_free(t->rs);
	t->rs = NULL;
	if (was_open && !WAIT_UNTIL(atomic_load(&pub_open) == open - 1, DEADLINE_MS)) {
		fprintf(stderr, "  %s: the server still has %llu streams, expected %llu\n",
				t->name, (unsigned long long)atomic_load(&pub_open),
				(unsigned long long)open - 1);
		CHECK(0);
	}
	free(t->seen);
	t->seen = NULL;
}

static void ts_close(struct tstream *t)
{
	ts_close_how(t, false);
}

/* The next event within ms, or NULL (nothing came, or the stream ended: t->ended). */
static Rtpproxy__SessionEvent *ts_next(struct tstream *t, int ms)
{
	ProtobufCMessage *m = NULL;
	char d[256];

	if (t->ended)
		return NULL;
	enum rpc_read r = rpc_stream_read(t->rs, &rtpproxy__session_event__descriptor, &m, &t->st,
			ms);
	if (r == RPC_READ_TIMEOUT)
		return NULL;
	if (r != RPC_READ_MESSAGE) {
		t->ended = true;
		return NULL;
	}
	Rtpproxy__SessionEvent *e = (void *)m;
	if (!order_ok(t, e)) {
		describe(e, d, sizeof(d));
		fprintf(stderr, "  %s: out of order: %s\n", t->name, d);
		CHECK(0);
	}
	return e;
}

static void ev_free(Rtpproxy__SessionEvent *e)
{
	if (e != NULL)
		rtpproxy__session_event__free_unpacked(e, NULL);
}

/* Read the next event and check kind, session and (kind-dependent) a, b; free it. */
static void expect(struct tstream *t, int kind, const char *id, int a, int b, const char *reason)
{
	Rtpproxy__SessionEvent *e = ts_next(t, DEADLINE_MS);
	char d[256];
	bool ok = e != NULL && (int)e->event_case == kind && strcmp(e->session_id, id) == 0;

	if (ok && kind == EV_CREATED)
		ok = (int)e->created->session->state == a;
	if (ok && kind == EV_CHANGED)
		ok = (int)e->state_changed->old_state == a && (int)e->state_changed->new_state == b;
	if (ok && kind == EV_CLOSED)
		ok = strcmp(e->closed->reason, reason) == 0 &&
			e->closed->final_stats->packets_received == (uint64_t)a;
	if (ok && kind == EV_ERROR)
		ok = strstr(e->error->message, reason) != NULL;
	if (!ok) {
		if (e != NULL)
			describe(e, d, sizeof(d));
		else
			snprintf(d, sizeof(d), "nothing (%s)", t->ended ? "ended" : "timeout");
		fprintf(stderr, "  %s: expected kind %d of %s (%d, %d, %s), got %s\n", t->name,
				kind, id, a, b, reason ? reason : "", d);
	}
	CHECK(ok);
	ev_free(e);
}

/* Nothing (but StatsUpdates when allow_stats) within QUIET_MS. */
static void expect_quiet(struct tstream *t, bool allow_stats)
{
	Rtpproxy__SessionEvent *e;
	char d[256];

	while ((e = ts_next(t, QUIET_MS)) != NULL) {
		bool ok = allow_stats && (int)e->event_case == EV_STATS;
		if (!ok) {
			describe(e, d, sizeof(d));
			fprintf(stderr, "  %s: unexpected %s\n", t->name, d);
		}
		CHECK(ok);
		ev_free(e);
	}
	if (t->ended)
		fprintf(stderr, "  %s: ended: %s\n", t->name, t->st.message);
	CHECK(!t->ended);
}

static grpc_status_code create_session(const char *id, uint16_t port, const char *dest)
{
	Rtpproxy__CreateSessionRequest req = RTPPROXY__CREATE_SESSION_REQUEST__INIT;
	Rtpproxy__Endpoint l = RTPPROXY__ENDPOINT__INIT, f = l, d = l;
	struct rpc_status st;
	ProtobufCMessage *m = NULL;

	l.address = "198.18.1.1";
	l.port = port;
	f.address = "198.18.2.1";
	f.port = port;
	d.address = (char *)dest;
	d.port = 40000;
	req.session_id = (char *)id;
	req.listen_endpoint = &l;
	req.forward_endpoint = &f;
	req.destination_endpoint = &d;
	rpc_call_unary(C, M("CreateSession"), &req.base,
			&rtpproxy__create_session_response__descriptor, &m, &st, DEADLINE_MS);
	if (m != NULL)
		protobuf_c_message_free_unpacked(m, NULL);
	if (st.code != GRPC_STATUS_OK)
		fprintf(stderr, "  CreateSession %s: %s\n", id, st.message);
	return st.code;
}

static grpc_status_code destroy_session(const char *id)
{
	Rtpproxy__DestroySessionRequest req = RTPPROXY__DESTROY_SESSION_REQUEST__INIT;
	struct rpc_status st;
	ProtobufCMessage *m = NULL;

	req.session_id = (char *)id;
	rpc_call_unary(C, M("DestroySession"), &req.base,
			&rtpproxy__destroy_session_response__descriptor, &m, &st, DEADLINE_MS);
	if (m != NULL)
		protobuf_c_message_free_unpacked(m, NULL);
	return st.code;
}

static unsigned list_count(void)
{
	Rtpproxy__ListSessionsRequest req = RTPPROXY__LIST_SESSIONS_REQUEST__INIT;
	struct rpc_status st;
	ProtobufCMessage *m = NULL;
	unsigned n = 0;

	req.page_size = 10000;
	CHECK(rpc_call_unary(C, M("ListSessions"), &req.base,
			&rtpproxy__list_sessions_response__descriptor, &m, &st, DEADLINE_MS) ==
			GRPC_STATUS_OK);
	if (m != NULL) {
		n = (unsigned)((Rtpproxy__ListSessionsResponse *)m)->n_sessions;
		protobuf_c_message_free_unpacked(m, NULL);
	}
	return n;
}

/* The streams the tests share, opened in order. */
static struct tstream A, P;

static void test_not_found(void)
{
	struct tstream t;

	ts_open(&t, "nope", "nope", 0);
	CHECK(ts_next(&t, DEADLINE_MS) == NULL);
	CHECK(t.ended);
	CHECK_EQ_U(t.st.code, GRPC_STATUS_NOT_FOUND);
	CHECK(strcmp(t.st.message, "session_id: no session \"nope\"") == 0);
	ts_close(&t);
	CHECK_EQ_U(atomic_load(&pub_open), 0);
}

/* A full lifecycle on a stream for everything and on one for the session, opened later. */
static void test_lifecycle(void)
{
	ts_open(&A, "A(all)", "", 0);
	expect_quiet(&A, false);                /* nothing exists yet: an empty snapshot */
	CHECK(create_session("s1", 20000, "198.18.2.2") == GRPC_STATUS_OK);
	expect(&A, EV_CREATED, "s1", ST_CREATED, 0, NULL);
	expect(&A, EV_CHANGED, "s1", ST_CREATED, ST_CONNECTING, NULL);

	ts_open(&P, "P(s1)", "s1", 0);
	expect(&P, EV_CREATED, "s1", ST_CONNECTING, 0, NULL);  /* snapshot: the state now */

	command(CMD_TRAFFIC, "s1", 50);
	/* both streams get the same message (one build, fanned out): same timestamp too */
	Rtpproxy__SessionEvent *a = ts_next(&A, DEADLINE_MS), *p = ts_next(&P, DEADLINE_MS);
	CHECK(a != NULL && p != NULL);
	if (a != NULL && p != NULL) {
		CHECK_EQ_U(a->event_case, EV_CHANGED);
		CHECK_EQ_U(a->state_changed->new_state, ST_ACTIVE);
		CHECK_EQ_U(p->event_case, EV_CHANGED);
		CHECK_EQ_U(a->timestamp_unix_ms, p->timestamp_unix_ms);
		int64_t now = sess_now_ms();
		CHECK(a->timestamp_unix_ms <= now && a->timestamp_unix_ms > now - 5000);
	}
	ev_free(a);
	ev_free(p);

	CHECK(destroy_session("s1") == GRPC_STATUS_OK);
	for (struct tstream *t = &A; t != NULL; t = t == &A ? &P : NULL) {
		expect(t, EV_CHANGED, "s1", ST_ACTIVE, ST_CLOSED, NULL);
		expect(t, EV_CLOSED, "s1", 50, 0, "destroyed");
	}
	expect_quiet(&A, false);
	/* P was about s1 alone: it ends with OK right after the `closed` */
	CHECK(ts_next(&P, DEADLINE_MS) == NULL);
	CHECK(P.ended);
	CHECK_EQ_U(P.st.code, GRPC_STATUS_OK);
	ts_close(&P);
}

/* ERROR: `error` just before ->ERROR; destroying it then gives ->CLOSED and closed. */
static void test_error(void)
{
	CHECK(create_session("bad", 20100, "198.18.2.99") == GRPC_STATUS_OK);
	expect(&A, EV_CREATED, "bad", ST_CREATED, 0, NULL);
	expect(&A, EV_CHANGED, "bad", ST_CREATED, ST_CONNECTING, NULL);
	command(CMD_FAIL_NEIGH, "bad", 0);
	expect(&A, EV_ERROR, "bad", 0, 0, "does not answer ARP");
	expect(&A, EV_CHANGED, "bad", ST_CONNECTING, ST_ERROR, NULL);
	CHECK(destroy_session("bad") == GRPC_STATUS_OK);
	expect(&A, EV_CHANGED, "bad", ST_ERROR, ST_CLOSED, NULL);
	expect(&A, EV_CLOSED, "bad", 0, 0, "destroyed");
	expect_quiet(&A, false);
}

/* A stream for one session sees nothing of the others. */
static void test_filter(void)
{
	struct tstream t;

	CHECK(create_session("s2", 20002, "198.18.2.2") == GRPC_STATUS_OK);
	expect(&A, EV_CREATED, "s2", ST_CREATED, 0, NULL);
	expect(&A, EV_CHANGED, "s2", ST_CREATED, ST_CONNECTING, NULL);
	ts_open(&t, "P(s2)", "s2", 0);
	expect(&t, EV_CREATED, "s2", ST_CONNECTING, 0, NULL);
	CHECK(create_session("s3", 20004, "198.18.2.2") == GRPC_STATUS_OK);
	CHECK(destroy_session("s3") == GRPC_STATUS_OK);
	expect(&A, EV_CREATED, "s3", ST_CREATED, 0, NULL);
	expect(&A, EV_CHANGED, "s3", ST_CREATED, ST_CONNECTING, NULL);
	expect(&A, EV_CHANGED, "s3", ST_CONNECTING, ST_CLOSED, NULL);
	expect(&A, EV_CLOSED, "s3", 0, 0, "destroyed");
	expect_quiet(&t, false);
	ts_close(&t);

	/* a stream of one session ends with OK right after that session's `closed` */
	CHECK(create_session("s3", 20004, "198.18.2.2") == GRPC_STATUS_OK);
	expect(&A, EV_CREATED, "s3", ST_CREATED, 0, NULL);
	expect(&A, EV_CHANGED, "s3", ST_CREATED, ST_CONNECTING, NULL);
	ts_open(&t, "P(s3)", "s3", 0);
	expect(&t, EV_CREATED, "s3", ST_CONNECTING, 0, NULL);
	CHECK(destroy_session("s3") == GRPC_STATUS_OK);
	expect(&t, EV_CHANGED, "s3", ST_CONNECTING, ST_CLOSED, NULL);
	expect(&t, EV_CLOSED, "s3", 0, 0, "destroyed");
	CHECK(ts_next(&t, DEADLINE_MS) == NULL);
	CHECK(t.ended);
	CHECK_EQ_U(t.st.code, GRPC_STATUS_OK);
	ts_close(&t);
	expect(&A, EV_CHANGED, "s3", ST_CONNECTING, ST_CLOSED, NULL);
	expect(&A, EV_CLOSED, "s3", 0, 0, "destroyed");
}

/*
 * [grpc] max_streams (MAX_STREAMS here): the stream after the last one allowed is refused
 * with RESOURCE_EXHAUSTED; once one ends, the next is accepted.
 */
static void test_max_streams(void)
{
	struct tstream t[MAX_STREAMS];

	CHECK(WAIT_UNTIL(atomic_load(&pub_open) == 1, DEADLINE_MS));    /* A alone */
	unsigned open = (unsigned)atomic_load(&pub_open);
	char name[MAX_STREAMS][16];

	for (unsigned i = open; i < MAX_STREAMS; i++) {
		snprintf(name[i], sizeof(name[i]), "M%u", i);
		ts_open(&t[i], name[i], "", 0);
	}
	CHECK_EQ_U(atomic_load(&pub_open), MAX_STREAMS);
	Rtpproxy__StreamSessionEventsRequest req = RTPPROXY__STREAM_SESSION_EVENTS_REQUEST__INIT;
	struct rpc_status st;
	ProtobufCMessage *m = NULL;
	req.session_id = "";
	struct rpc_stream *rs = rpc_stream_start(C, M("StreamSessionEvents"), &req.base, &st, 0);
	CHECK(rs != NULL);
	CHECK(rpc_stream_read(rs, &rtpproxy__session_event__descriptor, &m, &st, DEADLINE_MS) ==
			RPC_READ_END);
	CHECK_EQ_U(st.code, GRPC_STATUS_RESOURCE_EXHAUSTED);
	CHECK(strstr(st.message, "max_streams") != NULL);
	rpc_stream_free(rs);
	CHECK_EQ_U(atomic_load(&pub_open), MAX_STREAMS);
	ts_close(&t[MAX_STREAMS - 1]);
	ts_open(&t[MAX_STREAMS - 1], name[MAX_STREAMS - 1], "", 0);   /* room again */
	for (unsigned i = open; i < MAX_STREAMS; i++)
		ts_close(&t[i]);
}

/* A stream opened later: a `created` with the current state per session, in creation order. */
static void test_snapshot(void)
{
	struct tstream t;

	CHECK(create_session("s4", 20006, "198.18.2.2") == GRPC_STATUS_OK);
	command(CMD_TRAFFIC, "s4", 50);
	expect(&A, EV_CREATED, "s4", ST_CREATED, 0, NULL);
	expect(&A, EV_CHANGED, "s4", ST_CREATED, ST_CONNECTING, NULL);
	expect(&A, EV_CHANGED, "s4", ST_CONNECTING, ST_ACTIVE, NULL);
	ts_open(&t, "B(all)", "", 0);
	expect(&t, EV_CREATED, "s2", ST_CONNECTING, 0, NULL);
	expect(&t, EV_CREATED, "s4", ST_ACTIVE, 0, NULL);
	expect_quiet(&t, false);
	ts_close(&t);
}

/* Count StatsUpdates per session for ms; check what they carry. */
static void count_stats(struct tstream *t, int ms, unsigned *n_s2, unsigned *n_s4,
		int64_t *first, int64_t *last)
{
	int64_t end = sess_now_ms() + ms;
	Rtpproxy__SessionEvent *e;

	*n_s2 = *n_s4 = 0;
	*first = *last = 0;
	while (sess_now_ms() < end) {
		e = ts_next(t, (int)(end - sess_now_ms()) + 1);
		if (e == NULL)
			continue;
		CHECK_EQ_U(e->event_case, EV_STATS);
		if (e->event_case == EV_STATS) {
			bool s4 = strcmp(e->session_id, "s4") == 0;
			CHECK(s4 || strcmp(e->session_id, "s2") == 0);
			CHECK_EQ_U(e->stats_update->stats->packets_received, s4 ? 50 : 0);
			CHECK_EQ_U(e->stats_update->stats->bytes_sent, s4 ? 50 * 172 : 0);
			CHECK(e->stats_update->reverse_stats != NULL);
			(*(s4 ? n_s4 : n_s2))++;
			if (s4) {
				if (*first == 0)
					*first = e->timestamp_unix_ms;
				*last = e->timestamp_unix_ms;
			}
		}
		ev_free(e);
	}
}

/*
 * Cadence. Tolerance: the server checks every ~2 ms and keeps due times on a fixed grid, so
 * over 1.1 s at 200 ms exactly 5 are due; 4..6 allows for scheduling on a loaded machine.
 * 50 ms is raised to the 100 ms minimum: 10 due per session in 1.05 s, 8..12 accepted.
 */
static void test_stats_cadence(void)
{
	struct tstream t, u;
	unsigned n2, n4;
	int64_t first, last;

	ts_open(&t, "C(s4,200ms)", "s4", 200);
	expect(&t, EV_CREATED, "s4", ST_ACTIVE, 0, NULL);
	count_stats(&t, 1100, &n2, &n4, &first, &last);
	printf("stats every 200 ms for 1.1 s: %u updates, %lld ms apart on average\n", n4,
			n4 > 1 ? (long long)(last - first) / (n4 - 1) : 0LL);
	CHECK(n4 >= 4 && n4 <= 6);
	CHECK_EQ_U(n2, 0);
	if (n4 > 1) {
		int64_t avg = (last - first) / (n4 - 1);
		CHECK(avg >= 160 && avg <= 240);
	}

	ts_open(&u, "D(all,50ms)", "", 50);
	expect(&u, EV_CREATED, "s2", ST_CONNECTING, 0, NULL);
	expect(&u, EV_CREATED, "s4", ST_ACTIVE, 0, NULL);
	count_stats(&u, 1050, &n2, &n4, &first, &last);
	printf("stats every 50 ms (raised to 100) for 1.05 s: s2 %u, s4 %u\n", n2, n4);
	CHECK(n2 >= 8 && n2 <= 12);
	CHECK(n4 >= 8 && n4 <= 12);

	/* after `closed`, nothing of s4: no StatsUpdate either */
	CHECK(destroy_session("s4") == GRPC_STATUS_OK);
	for (struct tstream *s = &t; s != NULL; s = s == &t ? &u : NULL) {
		Rtpproxy__SessionEvent *e;
		bool closed = false;
		while (!closed && (e = ts_next(s, DEADLINE_MS)) != NULL) {
			if (strcmp(e->session_id, "s4") == 0 && e->event_case == EV_CLOSED) {
				closed = true;
				CHECK(strcmp(e->closed->reason, "destroyed") == 0);
				CHECK_EQ_U(e->closed->final_stats->packets_received, 50);
			}
			ev_free(e);
		}
		CHECK(closed);
	}
	/* 500 ms more: s2's updates go on on D, none of s4 (order_ok would complain) */
	count_stats(&u, 500, &n2, &n4, &first, &last);
	CHECK_EQ_U(n4, 0);
	CHECK(n2 >= 3);
	count_stats(&t, 500, &n2, &n4, &first, &last);
	CHECK_EQ_U(n4 + n2, 0);
	expect(&A, EV_CHANGED, "s4", ST_ACTIVE, ST_CLOSED, NULL);
	expect(&A, EV_CLOSED, "s4", 50, 0, "destroyed");
	ts_close(&t);
	ts_close(&u);
}

/* A client that goes away mid-stream: `closed` removes it; the proxy serves on. */
static void test_cancel(void)
{
	struct tstream t;
	Rtpproxy__SessionEvent *e;

	ts_open(&t, "E(all,100ms)", "", 100);
	e = ts_next(&t, DEADLINE_MS);
	CHECK(e != NULL && e->event_case == EV_CREATED);
	ev_free(e);
	ts_close_how(&t, true);           /* waits for the server to drop the subscriber */
	CHECK_EQ_U(list_count(), 1);
	CHECK(create_session("s5", 20008, "198.18.2.2") == GRPC_STATUS_OK);
	expect(&A, EV_CREATED, "s5", ST_CREATED, 0, NULL);
	expect(&A, EV_CHANGED, "s5", ST_CREATED, ST_CONNECTING, NULL);
}

/*
 * 3000 sessions: a new stream's snapshot is paced by its queue (it does not read at first,
 * yet loses nothing) and comes in creation order; a session destroyed before its turn never
 * shows, one destroyed after it shows created ... closed. Then a stream that does not read
 * while 6000 events come: it is ended (RESOURCE_EXHAUSTED) once its queue is full, with no
 * gap in what it got, and the proxy does not stall.
 */
static void test_many(void)
{
	struct tstream t;
	Rtpproxy__SessionEvent *e;
	unsigned next = 0, created = 0, closed_10 = 0, seen_last = 0, closed_last = 0;

	ts_close(&A);           /* A reads nothing here: it would only overflow */
	command(CMD_MANY, NULL, MANY);
	uint64_t behind0 = atomic_load(&pub_behind);
	ts_open(&t, "F(all)", "", 0);
	int64_t t0 = sess_now_ms();
	/* the subscription sent a first slice (EVENTS_TICK_MAX) at once; the rest follows at
	 * EVENTS_PER_MS, so many-2990 is ~50 ms away from its turn: if we are quicker than
	 * that (we normally take a few ms), it must never show */
	command(CMD_DESTROY, "many-10", 0);             /* already in the queue */
	command(CMD_DESTROY, "many-2990", 0);
	int64_t took = sess_now_ms() - t0;
	bool in_time = took < 2400 / EVENTS_PER_MS;
	usleep(300 * 1000);     /* not reading: the snapshot waits for queue space */
	while ((e = ts_next(&t, QUIET_MS * 2)) != NULL) {
		if (e->event_case == EV_CREATED && strncmp(e->session_id, "many-", 5) == 0) {
			unsigned i = (unsigned)atoi(e->session_id + 5);
			if (i == 2990)
				seen_last++;
			if (next == 2990 && i != 2990)
				next++;
			CHECK_EQ_U(i, next);
			next = i + 1;
			created++;
		} else if (strcmp(e->session_id, "many-10") == 0) {
			closed_10 += e->event_case == EV_CLOSED;
		} else if (strcmp(e->session_id, "many-2990") == 0) {
			closed_last += e->event_case == EV_CLOSED;
		} else if (e->event_case != EV_CREATED) {
			char d[256];
			describe(e, d, sizeof(d));
			fprintf(stderr, "  F: unexpected %s\n", d);
			CHECK(0);
		}
		ev_free(e);
	}
	printf("snapshot of %u sessions: %u created events, %llu streams behind; destroys %lld ms "
			"after subscribing: many-2990 %s\n", MANY + 2, created,
			(unsigned long long)(atomic_load(&pub_behind) - behind0), (long long)took,
			seen_last ? "was shown (then closed)" : "never shown");
	if (in_time)
		CHECK_EQ_U(seen_last, 0);
	CHECK_EQ_U(created, MANY - 1 + seen_last);
	CHECK_EQ_U(closed_last, seen_last);     /* shown: then closed too */
	CHECK_EQ_U(closed_10, 1);
	CHECK_EQ_U(atomic_load(&pub_behind), behind0);
	ts_close(&t);

	/* a reader that does not read: ended, counted, and no stall of the server */
	ts_open(&t, "H(all, stuck)", "", 100);
	usleep(200 * 1000);
	t0 = sess_now_ms();
	command(CMD_DESTROY_MANY, NULL, MANY);
	CHECK_EQ_U(list_count(), 2);
	took = sess_now_ms() - t0;
	printf("stuck reader: fell behind %llu; destroying %u sessions + a list took %lld ms; "
			"longest events_tick %llu us\n",
			(unsigned long long)(atomic_load(&pub_behind) - behind0), MANY - 2,
			(long long)took, (unsigned long long)atomic_load(&pub_tick_max_us));
	CHECK_EQ_U(atomic_load(&pub_behind) - behind0, 1);
	CHECK(took < 10000);
	/* what it got has no gap (ts_next checks the order), then RESOURCE_EXHAUSTED */
	unsigned got = 0;
	while ((e = ts_next(&t, DEADLINE_MS)) != NULL) {
		got++;
		ev_free(e);
	}
	CHECK(t.ended);
	CHECK_EQ_U(t.st.code, GRPC_STATUS_RESOURCE_EXHAUSTED);
	CHECK(strstr(t.st.message, "stream fell behind") != NULL);
	printf("stuck reader: %u events read, then %s\n", got, t.st.message);
	ts_close(&t);

	ts_open(&A, "A2(all)", "", 0);
	expect(&A, EV_CREATED, "s2", ST_CONNECTING, 0, NULL);
	expect(&A, EV_CREATED, "s5", ST_CONNECTING, 0, NULL);
	expect_quiet(&A, false);
}

/*
 * Shutdown as app/main.c does it: every stream gets ->CLOSED + closed{shutdown} for each
 * session it covers, then ends with OK.
 */
static void test_shutdown(void)
{
	struct tstream w;

	command(CMD_TRAFFIC, "s5", 7);
	expect(&A, EV_CHANGED, "s5", ST_CONNECTING, ST_ACTIVE, NULL);
	ts_open(&w, "W(s2,100ms)", "s2", 100);
	expect(&w, EV_CREATED, "s2", ST_CONNECTING, 0, NULL);
	command(CMD_SHUTDOWN, NULL, 0);
	expect(&A, EV_CHANGED, "s2", ST_CONNECTING, ST_CLOSED, NULL);
	expect(&A, EV_CLOSED, "s2", 0, 0, "shutdown");
	expect(&A, EV_CHANGED, "s5", ST_ACTIVE, ST_CLOSED, NULL);
	expect(&A, EV_CLOSED, "s5", 7, 0, "shutdown");
	CHECK(ts_next(&A, DEADLINE_MS) == NULL);
	CHECK(A.ended);
	CHECK_EQ_U(A.st.code, GRPC_STATUS_OK);
	/* W may have had StatsUpdates queued before: they come first */
	Rtpproxy__SessionEvent *e;
	while ((e = ts_next(&w, DEADLINE_MS)) != NULL && e->event_case == EV_STATS)
		ev_free(e);
	CHECK(e != NULL && e->event_case == EV_CHANGED &&
			e->state_changed->new_state == ST_CLOSED);
	ev_free(e);
	expect(&w, EV_CLOSED, "s2", 0, 0, "shutdown");
	CHECK(ts_next(&w, DEADLINE_MS) == NULL);
	CHECK(w.ended);
	CHECK_EQ_U(w.st.code, GRPC_STATUS_OK);
	CHECK(WAIT_UNTIL(atomic_load(&srv_stopped), 10000));
	CHECK_EQ_U(atomic_load(&pub_open), 0);
	ts_close(&A);
	ts_close(&w);
}

static void *client_main(void *arg)
{
	char target[64], err[256];

	(void)arg;
	snprintf(target, sizeof(target), "127.0.0.1:%d", srv_port);
	C = rpc_client_connect(target, err, sizeof(err));
	CHECK(C != NULL);
	if (C == NULL) {
		command(CMD_SHUTDOWN, NULL, 0);
		return NULL;
	}
	test_not_found();
	test_lifecycle();
	test_error();
	test_filter();
	test_max_streams();
	test_snapshot();
	test_stats_cadence();
	test_cancel();
	test_many();
	test_shutdown();
	rpc_client_close(C);
	return NULL;
}

int main(int argc, char **argv)
{
	char prefix[64], err[256];
	pthread_t client;

	snprintf(prefix, sizeof(prefix), "--file-prefix=tev%d", (int)getpid());
	char *eal[] = { argv[0], "-l", "0", "--no-huge", "-m", "512", "--no-pci", "--no-shconf",
		prefix, "--log-level=error", NULL };
	(void)argc;
	if (rte_eal_init((int)RTE_DIM(eal) - 1, eal) < 0) {
		fprintf(stderr, "EAL init failed\n");
		return 1;
	}
	/* the usual destination answers ARP (statically); 198.18.2.99 is left unresolved */
	struct dp_neighbor dst = { .addr = dp_addr_v4(inet_addr("198.18.2.2")), .mac = { 2, 0, 0, 0, 2, 2 } };
	dp = test_dp_create(2 * (MANY + 64), &dst);
	CHECK(dp != NULL);
	if (dp == NULL)
		return check_summary("test_events");
	struct sess_config sc = {
		.max_sessions = MANY + 64, .port_min = 30000, .port_max = 30999,
		.idle_timeout_secs = 300, .closed_retention_secs = 60,
	};
	ctx.dp = dp;
	ctx.started_ms = sess_now_ms();
	ctx.sessions = sess_mgr_create(dp, &sc, err, sizeof(err));
	CHECK(ctx.sessions != NULL);
	ev = ctx.sessions != NULL ? events_create(&ctx) : NULL;
	CHECK(ev != NULL);
	if (ev == NULL)
		return check_summary("test_events");
	struct sess_observer obs;
	events_set_limits(ev, MAX_STREAMS, GRPC_SRV_STREAM_QUEUE);
	events_observer(ev, &obs);
	sess_set_observer(ctx.sessions, &obs);
	srv = grpc_srv_start("127.0.0.1:0", &rtpproxy__rtp_proxy__descriptor, rpc_methods, &ctx,
			&srv_port, err, sizeof(err));
	CHECK(srv != NULL);
	if (srv == NULL)
		return check_summary("test_events");

	CHECK(pthread_create(&client, NULL, client_main, NULL) == 0);
	serve();
	CHECK(pthread_join(client, NULL) == 0);
	events_free(ev);
	CHECK(ctx.events == NULL);
	sess_mgr_free(ctx.sessions);
	dp_destroy(dp);
	rte_eal_cleanup();
	return check_summary("test_events");
}
