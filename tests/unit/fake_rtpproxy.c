#include "fake_rtpproxy.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "rtpproxy.pb-c.h"

#define SLOW_TEXT_LEN 4096          /* a "slow" stream's messages are this big */
#define SLOW_BURST 64               /* ... sent every SLOW_EVERY_MS: far less than grpc can */
#define SLOW_EVERY_MS 10            /* send, so only a client that stops reading fills the queue */

enum stream_kind { KIND_COUNT, KIND_HOLD, KIND_OPEN, KIND_FLOOD, KIND_FAIL, KIND_SLOW };

struct fake_stream {
	struct fake *f;
	struct grpc_srv_stream *s;
	enum stream_kind kind;
	unsigned sent;
	bool finished;
	int64_t next_ms;                /* "slow": when the next burst is due */
	struct fake_stream *next;
};

static void *new_msg(struct arena *a, const ProtobufCMessageDescriptor *d)
{
	void *m = arena_alloc(a, d->sizeof_message);

	CHECK(m != NULL);
	protobuf_c_message_init(d, m);
	return m;
}

static Rtpproxy__Endpoint *endpoint(struct arena *a, const char *addr, uint32_t port)
{
	Rtpproxy__Endpoint *ep = new_msg(a, &rtpproxy__endpoint__descriptor);

	ep->address = arena_strdup(a, addr);
	ep->port = port;
	return ep;
}

static Rtpproxy__Endpoint *endpoint_copy(struct arena *a, const Rtpproxy__Endpoint *src)
{
	return src == NULL ? NULL : endpoint(a, src->address, src->port);
}

static Rtpproxy__SessionStats *stats(struct arena *a, uint64_t n)
{
	Rtpproxy__SessionStats *s = new_msg(a, &rtpproxy__session_stats__descriptor);

	s->packets_received = n;
	s->packets_sent = n - n / 100;
	s->bytes_received = n * 172;
	s->bytes_sent = s->packets_sent * 172;
	s->packets_dropped = n / 100;
	s->packets_lost = n / 200;
	s->loss_rate = n ? (double)s->packets_lost / (double)(n + s->packets_lost) : 0;
	s->jitter_ms = 1.25;
	s->avg_latency_ms = 0.012;
	s->max_latency_ms = 0.5;
	s->last_activity_unix_ms = FAKE_CREATED_MS + 60000;
	return s;
}

static Rtpproxy__SessionInfo *session(struct arena *a, const char *id, int state)
{
	Rtpproxy__SessionInfo *si = new_msg(a, &rtpproxy__session_info__descriptor);

	si->session_id = arena_strdup(a, id);
	si->state = state;
	si->listen_endpoint = endpoint(a, "198.18.1.1", 20000);
	si->forward_endpoint = endpoint(a, "198.18.2.1", 20002);
	si->destination_endpoint = endpoint(a, "198.18.2.2", 30000);
	si->idle_timeout_secs = 300;
	si->created_unix_ms = FAKE_CREATED_MS;
	si->stats = stats(a, 1000);
	return si;
}

/* Map entries of SessionInfo.labels from any string map of the same shape. */
static void copy_labels(struct arena *a, Rtpproxy__SessionInfo *si, size_t n,
		Rtpproxy__CreateSessionRequest__LabelsEntry *const *src)
{
	si->labels = arena_alloc(a, (n + 1) * sizeof(*si->labels));
	for (size_t i = 0; i < n; i++) {
		Rtpproxy__SessionInfo__LabelsEntry *e =
			new_msg(a, &rtpproxy__session_info__labels_entry__descriptor);
		e->key = arena_strdup(a, src[i]->key);
		e->value = arena_strdup(a, src[i]->value);
		si->labels[i] = e;
	}
	si->n_labels = n;
}

static void record(const ProtobufCMessage *req, uint8_t *buf, size_t cap, atomic_int *len)
{
	size_t n = protobuf_c_message_get_packed_size(req);

	CHECK(n <= cap);
	protobuf_c_message_pack(req, buf);
	atomic_store(len, (int)n);
}

/* ---- unary ---- */

static grpc_status_code create_session(void *ctx, const ProtobufCMessage *m,
		ProtobufCMessage **resp, struct arena *a, struct rpc_error *err)
{
	struct fake *f = ctx;
	const Rtpproxy__CreateSessionRequest *req = (const void *)m;

	atomic_fetch_add(&f->unary_calls, 1);
	record(m, f->last_create, sizeof(f->last_create), &f->last_len_create);
	if (strcmp(req->session_id, "dup") == 0)
		return rpc_fail(err, GRPC_STATUS_ALREADY_EXISTS,
			"session_id: \"%s\" is already used", req->session_id);
	if (req->listen_endpoint == NULL)
		return rpc_fail(err, GRPC_STATUS_INVALID_ARGUMENT, "listen_endpoint: is required");

	Rtpproxy__CreateSessionResponse *out =
		new_msg(a, &rtpproxy__create_session_response__descriptor);
	Rtpproxy__SessionInfo *si = new_msg(a, &rtpproxy__session_info__descriptor);
	si->session_id = arena_strdup(a, req->session_id[0] ? req->session_id : "generated-1");
	si->state = RTPPROXY__SESSION_STATE__SESSION_STATE_CONNECTING;
	si->transport = req->transport;
	si->listen_endpoint = endpoint_copy(a, req->listen_endpoint);
	si->forward_endpoint = endpoint_copy(a, req->forward_endpoint);
	si->destination_endpoint = endpoint_copy(a, req->destination_endpoint);
	si->enable_rtcp = req->enable_rtcp;
	si->bidirectional = req->bidirectional;
	si->latch_mode = req->latch_mode;
	si->strict_source = req->strict_source;
	si->idle_timeout_secs = req->idle_timeout_secs ? req->idle_timeout_secs : 300;
	si->created_unix_ms = FAKE_CREATED_MS;
	si->stats = stats(a, 0);
	copy_labels(a, si, req->n_labels, req->labels);
	out->session = si;
	*resp = &out->base;
	return GRPC_STATUS_OK;
}

static grpc_status_code get_session(void *ctx, const ProtobufCMessage *m,
		ProtobufCMessage **resp, struct arena *a, struct rpc_error *err)
{
	struct fake *f = ctx;
	const Rtpproxy__GetSessionStatusRequest *req = (const void *)m;
	const char *id = req->session_id;

	atomic_fetch_add(&f->unary_calls, 1);
	if (strcmp(id, "noresp") == 0)
		return GRPC_STATUS_OK;          /* a buggy handler: the server must cope */
	if (strcmp(id, "wrongtype") == 0) {
		*resp = new_msg(a, &rtpproxy__endpoint__descriptor);
		return GRPC_STATUS_OK;
	}
	if (strcmp(id, "s1") != 0 && strcmp(id, "weird") != 0)
		return rpc_fail(err, GRPC_STATUS_NOT_FOUND, "session_id: no session \"%s\"", id);

	Rtpproxy__GetSessionStatusResponse *out =
		new_msg(a, &rtpproxy__get_session_status_response__descriptor);
	Rtpproxy__SessionInfo *si = session(a, id, RTPPROXY__SESSION_STATE__SESSION_STATE_ACTIVE);
	if (strcmp(id, "weird") == 0) {
		si->state = RTPPROXY__SESSION_STATE__SESSION_STATE_ERROR;
		si->error_message = arena_strdup(a, "bad \"quote\" \\ back\n\ttab \x01 \xc3\xbc "
			"\xe2\x82\xac \xff end");
		si->listen_endpoint = endpoint(a, "2001:db8::1", 5004);
	} else {
		Rtpproxy__CreateSessionRequest__LabelsEntry e1 =
			RTPPROXY__CREATE_SESSION_REQUEST__LABELS_ENTRY__INIT;
		Rtpproxy__CreateSessionRequest__LabelsEntry e2 = e1;
		Rtpproxy__CreateSessionRequest__LabelsEntry *labels[] = { &e1, &e2 };
		e1.key = "call";
		e1.value = "abc";
		e2.key = "leg";
		e2.value = "a";
		copy_labels(a, si, 2, labels);
		si->bidirectional = 1;
		si->enable_rtcp = 1;
		si->reverse_stats = stats(a, 500);
		si->rtcp_stats = stats(a, 10);
		si->latched_source = endpoint(a, "198.18.1.2", 40000);
		si->latch_mode = RTPPROXY__LATCH_MODE__LATCH_MODE_FIRST;
		si->strict_source = 1;
	}
	out->session = si;
	*resp = &out->base;
	return GRPC_STATUS_OK;
}

static grpc_status_code destroy_session(void *ctx, const ProtobufCMessage *m,
		ProtobufCMessage **resp, struct arena *a, struct rpc_error *err)
{
	struct fake *f = ctx;
	const Rtpproxy__DestroySessionRequest *req = (const void *)m;

	atomic_fetch_add(&f->unary_calls, 1);
	if (strcmp(req->session_id, "s1") != 0)
		return rpc_fail(err, GRPC_STATUS_NOT_FOUND, "session_id: no session \"%s\"",
			req->session_id);
	Rtpproxy__DestroySessionResponse *out =
		new_msg(a, &rtpproxy__destroy_session_response__descriptor);
	out->session = session(a, "s1", RTPPROXY__SESSION_STATE__SESSION_STATE_CLOSED);
	*resp = &out->base;
	return GRPC_STATUS_OK;
}

static bool list_match(const Rtpproxy__ListSessionsRequest *req, int state, int transport)
{
	bool ok = req->n_states == 0;

	for (size_t i = 0; i < req->n_states; i++)
		ok |= (int)req->states[i] == state;
	if (!ok)
		return false;
	ok = req->n_transports == 0;
	for (size_t i = 0; i < req->n_transports; i++)
		ok |= (int)req->transports[i] == transport;
	return ok;
}

/* Five sessions list-0..list-4 in states 0..4, transport i % 2; labels echo the selector. */
static grpc_status_code list_sessions(void *ctx, const ProtobufCMessage *m,
		ProtobufCMessage **resp, struct arena *a, struct rpc_error *err)
{
	struct fake *f = ctx;
	const Rtpproxy__ListSessionsRequest *req = (const void *)m;
	unsigned page = req->page_size ? req->page_size : 1000, start = 0;
	char *end;

	atomic_fetch_add(&f->unary_calls, 1);
	record(m, f->last_list, sizeof(f->last_list), &f->last_len_list);
	if (req->page_token[0] != '\0') {
		start = (unsigned)strtoul(req->page_token, &end, 10);
		if (*end != '\0' || start > 5)
			return rpc_fail(err, GRPC_STATUS_INVALID_ARGUMENT,
				"page_token: \"%s\" is not a token of ours", req->page_token);
	}
	Rtpproxy__ListSessionsResponse *out =
		new_msg(a, &rtpproxy__list_sessions_response__descriptor);
	out->sessions = arena_alloc(a, 5 * sizeof(*out->sessions));
	for (unsigned i = start; i < 5; i++) {
		if (!list_match(req, (int)i, (int)(i % 2)))
			continue;
		if (out->n_sessions == page) {
			out->next_page_token = arena_printf(a, "%u", i);
			break;
		}
		char id[16];
		snprintf(id, sizeof(id), "list-%u", i);
		Rtpproxy__SessionInfo *si = session(a, id, (int)i);
		si->transport = i % 2;
		copy_labels(a, si, req->n_label_selector,
			(Rtpproxy__CreateSessionRequest__LabelsEntry *const *)req->label_selector);
		out->sessions[out->n_sessions++] = si;
	}
	*resp = &out->base;
	return GRPC_STATUS_OK;
}

static grpc_status_code proxy_stats(void *ctx, const ProtobufCMessage *m,
		ProtobufCMessage **resp, struct arena *a, struct rpc_error *err)
{
	struct fake *f = ctx;
	static const char *const reasons[] = { "malformed", "rate_limit", "no_flow" };

	(void)m;
	(void)err;
	atomic_fetch_add(&f->unary_calls, 1);
	Rtpproxy__GetProxyStatsResponse *out =
		new_msg(a, &rtpproxy__get_proxy_stats_response__descriptor);
	out->sessions_active = 3;
	out->sessions_created_total = 10;
	out->sessions_closed_total = 7;
	out->uptime_ms = 90061001;      /* 1d 01:01:01.001 */
	out->version = arena_strdup(a, "9.9.9");
	out->ports = arena_alloc(a, 2 * sizeof(*out->ports));
	for (unsigned i = 0; i < 2; i++) {
		Rtpproxy__PortStats *p = new_msg(a, &rtpproxy__port_stats__descriptor);
		p->port_id = i;
		p->name = arena_printf(a, "port%u", i);
		p->rx_packets = 100 + i;
		p->tx_packets = 200 + i;
		p->rx_bytes = 18446744073709551615ULL - i;  /* uint64 must survive JSON */
		p->tx_bytes = 4000;
		p->rx_missed = 1;
		p->tx_failed = 2;
		p->exception_packets = 3;
		out->ports[out->n_ports++] = p;
	}
	out->drops = arena_alloc(a, 3 * sizeof(*out->drops));
	for (unsigned i = 0; i < 3; i++) {
		Rtpproxy__GetProxyStatsResponse__DropsEntry *e =
			new_msg(a, &rtpproxy__get_proxy_stats_response__drops_entry__descriptor);
		e->key = arena_strdup(a, reasons[i]);
		e->value = i * 5;
		out->drops[out->n_drops++] = e;
	}
	out->workers = arena_alloc(a, 2 * sizeof(*out->workers));
	for (unsigned i = 0; i < 2; i++) {
		Rtpproxy__WorkerStats *w = new_msg(a, &rtpproxy__worker_stats__descriptor);
		w->index = i;
		w->lcore = i + 1;
		w->relayed = i == 0 ? 1000 : 0;     /* worker 1 never relayed: no cycles/packet */
		w->iterations = 4000;
		w->busy_iterations = i == 0 ? 1000 : 0;
		w->busy_cycles = i == 0 ? 123456 : 0;
		w->tsc_hz = 2600000000ULL;
		out->workers[out->n_workers++] = w;
	}
	Rtpproxy__StateBackendStats *st = new_msg(a, &rtpproxy__state_backend_stats__descriptor);
	st->backend = "redis";
	st->up = false;
	st->queue_depth = 12;
	st->last_checkpoint_age_ms = 2500;
	st->role = "active";
	st->lease_epoch = 7;
	st->instance = "edge-1";
	st->store_instance = "edge-1";
	st->writes_total = 99;
	st->resyncs_total = 1;
	st->restored_sessions = 3;
	out->state = st;
	*resp = &out->base;
	return GRPC_STATUS_OK;
}

/* ---- streams ---- */

/* Event i of a stream: the five kinds in turn, session "ev-<i>", timestamp i. */
static int send_event(struct grpc_srv_stream *s, unsigned i, const char *text)
{
	struct arena a = { NULL };
	Rtpproxy__SessionEvent *ev = new_msg(&a, &rtpproxy__session_event__descriptor);

	ev->session_id = arena_printf(&a, "ev-%u", i);
	ev->timestamp_unix_ms = i;
	switch (i % 5) {
	case 0:
		ev->event_case = RTPPROXY__SESSION_EVENT__EVENT_CREATED;
		ev->created = new_msg(&a, &rtpproxy__session_created__descriptor);
		ev->created->session = session(&a, ev->session_id,
			RTPPROXY__SESSION_STATE__SESSION_STATE_CREATED);
		break;
	case 1:
		ev->event_case = RTPPROXY__SESSION_EVENT__EVENT_STATE_CHANGED;
		ev->state_changed = new_msg(&a, &rtpproxy__session_state_changed__descriptor);
		ev->state_changed->old_state = RTPPROXY__SESSION_STATE__SESSION_STATE_CREATED;
		ev->state_changed->new_state = RTPPROXY__SESSION_STATE__SESSION_STATE_CONNECTING;
		break;
	case 2:
		ev->event_case = RTPPROXY__SESSION_EVENT__EVENT_STATS_UPDATE;
		ev->stats_update = new_msg(&a, &rtpproxy__session_stats_update__descriptor);
		ev->stats_update->stats = stats(&a, i);
		break;
	case 3:
		ev->event_case = RTPPROXY__SESSION_EVENT__EVENT_ERROR;
		ev->error = new_msg(&a, &rtpproxy__session_error__descriptor);
		ev->error->message = text != NULL ? (char *)text : arena_printf(&a, "error %u", i);
		break;
	default:
		ev->event_case = RTPPROXY__SESSION_EVENT__EVENT_CLOSED;
		ev->closed = new_msg(&a, &rtpproxy__session_closed__descriptor);
		ev->closed->reason = arena_strdup(&a, "destroyed");
		ev->closed->final_stats = stats(&a, i);
		break;
	}
	int rc = grpc_srv_stream_send(s, &ev->base);
	arena_reset(&a);
	return rc;
}

static unsigned send_events(struct fake_stream *fs, unsigned n)
{
	unsigned ok = 0;

	for (unsigned i = 0; i < n; i++) {
		if (send_event(fs->s, fs->sent + i, NULL) == 0)
			ok++;
		else
			atomic_fetch_add(&fs->f->refused_sends, 1);
	}
	fs->sent += n;
	return ok;
}

static grpc_status_code stream_events(void *ctx, const ProtobufCMessage *m,
		struct grpc_srv_stream *s, struct rpc_error *err)
{
	struct fake *f = ctx;
	const Rtpproxy__StreamSessionEventsRequest *req = (const void *)m;
	const char *id = req->session_id;
	struct fake_stream *fs;
	unsigned n = 0;

	if (strcmp(id, "missing") == 0)
		return rpc_fail(err, GRPC_STATUS_NOT_FOUND, "session_id: no session \"%s\"", id);
	fs = calloc(1, sizeof(*fs));
	CHECK(fs != NULL);
	fs->f = f;
	fs->s = s;
	if (sscanf(id, "count:%u", &n) == 1)
		fs->kind = KIND_COUNT;
	else if (sscanf(id, "flood:%u", &n) == 1)
		fs->kind = KIND_FLOOD;
	else if (sscanf(id, "fail:%u", &n) == 1)
		fs->kind = KIND_FAIL;
	else if (strcmp(id, "hold") == 0)
		fs->kind = KIND_HOLD, n = 3;
	else if (strcmp(id, "open") == 0)
		fs->kind = KIND_OPEN, n = 1;
	else if (strcmp(id, "slow") == 0)
		fs->kind = KIND_SLOW;
	else
		fs->kind = KIND_COUNT;  /* "" and the rest: nothing, then OK */

	grpc_srv_stream_set_user(s, fs);
	if (fs->kind == KIND_FLOOD || fs->kind == KIND_SLOW)
		grpc_srv_stream_set_limit(s, FAKE_STREAM_LIMIT);
	fs->next = f->streams;
	f->streams = fs;
	atomic_fetch_add(&f->streams_open, 1);
	send_events(fs, n);
	if (fs->kind == KIND_COUNT || fs->kind == KIND_FLOOD) {
		grpc_srv_stream_finish(s, GRPC_STATUS_OK, NULL);
		fs->finished = true;
	} else if (fs->kind == KIND_FAIL) {
		char msg[64];
		snprintf(msg, sizeof(msg), "boom after %u", n);
		grpc_srv_stream_finish(s, GRPC_STATUS_ABORTED, msg);
		fs->finished = true;
	}
	return GRPC_STATUS_OK;
}

static void stream_closed(void *ctx, struct grpc_srv_stream *s)
{
	struct fake *f = ctx;
	struct fake_stream *fs = grpc_srv_stream_user(s);

	/* The handle is still valid here, and sending is refused. */
	CHECK(send_event(s, 0, NULL) == -1);
	atomic_fetch_add(&f->closed_total, 1);
	atomic_fetch_sub(&f->streams_open, 1);
	if (fs->kind == KIND_HOLD)
		atomic_fetch_add(&f->closed_hold, 1);
	if (fs->kind == KIND_OPEN)
		atomic_fetch_add(&f->closed_open, 1);
	if (fs->kind == KIND_FLOOD)
		atomic_store(&f->flood_behind, grpc_srv_stream_fell_behind(s));
	if (fs->kind == KIND_SLOW)
		atomic_store(&f->slow_behind, grpc_srv_stream_fell_behind(s));
	for (struct fake_stream **p = &f->streams; *p != NULL; p = &(*p)->next) {
		if (*p == fs) {
			*p = fs->next;
			break;
		}
	}
	free(fs);
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* "slow" streams: bursts of big messages at a steady rate until the first refusal (the
 * server then ends the stream: it fell behind). */
static void tick(struct fake *f)
{
	static char text[SLOW_TEXT_LEN];
	int64_t now = now_ms();

	if (text[0] == '\0')
		memset(text, 'x', sizeof(text) - 1);
	for (struct fake_stream *fs = f->streams; fs != NULL; fs = fs->next) {
		if (fs->kind != KIND_SLOW || fs->finished || now < fs->next_ms)
			continue;
		fs->next_ms = now + SLOW_EVERY_MS;
		for (unsigned i = 0; i < SLOW_BURST; i++) {
			if (send_event(fs->s, fs->sent, text) != 0) {
				atomic_store(&f->slow_behind, grpc_srv_stream_fell_behind(fs->s));
				grpc_srv_stream_finish(fs->s, GRPC_STATUS_OK, NULL);
				fs->finished = true;
				break;
			}
			fs->sent++;
			atomic_store(&f->slow_accepted, fs->sent);
		}
	}
}

static const struct grpc_srv_method methods[] = {
	{ .unary = create_session },
	{ .unary = destroy_session },
	{ .unary = get_session },
	{ .unary = list_sessions },
	{ .stream = stream_events, .closed = stream_closed },
	{ .unary = proxy_stats },
};

bool fake_start(struct fake *f)
{
	char err[256];

	/* methods[] follows the service's declaration order. */
	CHECK(rtpproxy__rtp_proxy__descriptor.n_methods == 6);
	CHECK(strcmp(rtpproxy__rtp_proxy__descriptor.methods[4].name, "StreamSessionEvents") == 0);
	f->srv = grpc_srv_start("127.0.0.1:0", &rtpproxy__rtp_proxy__descriptor, methods, f,
			&f->port, err, sizeof(err));
	if (f->srv == NULL) {
		fprintf(stderr, "fake_start: %s\n", err);
		return false;
	}
	return f->port > 0;
}

void fake_serve(struct fake *f)
{
	while (!atomic_load(&f->stop)) {
		grpc_srv_poll(f->srv, 5);
		tick(f);
	}
	grpc_srv_stop(f->srv);
	f->srv = NULL;
	atomic_store(&f->stopped, true);
}
