/*
 * Event streams. Each session hook builds one SessionEvent in a scratch arena and queues it on
 * every stream that covers the session (grpc_srv packs it at once), so a session's events are
 * in order on every stream. Work that grows with the number of sessions (snapshots, stats
 * rounds) is done in events_tick, in slices bounded by a token bucket and by each stream's
 * free queue space, with cursors that are session serials (creation order).
 *
 * The registry is our own index of the sessions that are not CLOSED, sorted by serial, so a
 * cursor resumes in O(log n). It holds ids, not pointers: a session is looked up again
 * (sess_find, serial checked) before use, so one that went away without a hook is only
 * skipped.
 */
#include "events.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <rte_log.h>

#include "arena.h"
#include "log.h"
#include "rpc.h"
#include "rtpproxy.pb-c.h"
#include "sess.h"

#define LOG(level, fmt, ...) RTE_LOG(level, GRPC, "events: " fmt "\n", ##__VA_ARGS__)

/* Queue levels above which a stream gets no more snapshot / stats messages for now: what
 * is left is for lifecycle events, which are never held back. */
#define SNAPSHOT_FILL(limit) ((limit) * 3 / 4)
#define STATS_FILL(limit) ((limit) / 2)
/* Registry entries one slice may look at per message it may build (holes, skipped ones). */
#define SCAN_FACTOR 4
/* Registry entries re-checked every SWEEP_PERIOD_MS, to find sessions that went without a
 * hook. Paced by time, not per tick: a tick runs every control-loop pass, which under RPC
 * load is every call or two, and 64 hash lookups per call were ~7 % of the control lcore. */
#define SWEEP_PER_TICK 64
#define SWEEP_PERIOD_MS 10

struct reg_entry {
	uint64_t serial;
	char id[SESS_ID_MAX + 1];       /* "" = a hole (the session is gone) */
};

struct sub {
	TAILQ_ENTRY(sub) link;
	struct grpc_srv_stream *stream;
	uint64_t no;                    /* for the logs */
	char session_id[SESS_ID_MAX + 1];       /* "" = every session */
	uint32_t interval_ms;           /* 0 = no StatsUpdate */
	/* every-session streams: sessions [snap_next, snap_end) still await their snapshot */
	uint64_t snap_next, snap_end;
	int64_t stats_due_ms;           /* the next stats round starts then */
	bool in_round;
	uint64_t round_next, round_end; /* the round in progress: serials [next, end) */
	uint64_t sent;
};

TAILQ_HEAD(sub_list, sub);

struct events {
	struct rpc_ctx *ctx;
	struct sess_mgr *sm;
	struct sub_list subs;
	struct reg_entry *reg;
	size_t n_reg, cap_reg, holes, sweep;
	uint64_t last_serial;           /* newest session seen */
	struct arena scratch;           /* one event at a time */
	int64_t tokens, last_tick_ms;
	int64_t next_sweep_ms;          /* reg_maintain runs again then */
	uint64_t streams_total, sent, fell_behind_closed;
	unsigned n_subs;
	unsigned max_streams, stream_queue;     /* [grpc] max_streams, stream_queue */
};

/* ---- the registry ---- */

/* Index of the first entry whose serial >= serial. */
static size_t reg_lower(const struct events *ev, uint64_t serial)
{
	size_t lo = 0, hi = ev->n_reg;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (ev->reg[mid].serial < serial)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static void reg_compact(struct events *ev)
{
	size_t n = 0;
	for (size_t i = 0; i < ev->n_reg; i++)
		if (ev->reg[i].id[0] != '\0')
			ev->reg[n++] = ev->reg[i];
	ev->n_reg = n;
	ev->holes = 0;
	ev->sweep = 0;
}

static void reg_add(struct events *ev, const struct session *s)
{
	if (ev->n_reg > 0 && s->serial <= ev->reg[ev->n_reg - 1].serial) {
		LOG(ERR, "%s: serial %" PRIu64 " out of order: not tracked", s->id, s->serial);
		return;
	}
	if (ev->n_reg == ev->cap_reg) {
		if (ev->holes > 0)
			reg_compact(ev);
		if (ev->n_reg == ev->cap_reg) {
			size_t cap = ev->cap_reg ? ev->cap_reg * 2 : 1024;
			struct reg_entry *r = realloc(ev->reg, cap * sizeof(*r));
			if (r == NULL) {
				LOG(ERR, "%s: out of memory: no snapshot or stats for it", s->id);
				return;
			}
			ev->reg = r;
			ev->cap_reg = cap;
		}
	}
	struct reg_entry *e = &ev->reg[ev->n_reg++];
	e->serial = s->serial;
	snprintf(e->id, sizeof(e->id), "%s", s->id);
}

static void reg_hole(struct events *ev, struct reg_entry *e)
{
	if (e->id[0] == '\0')
		return;
	e->id[0] = '\0';
	ev->holes++;
}

static void reg_remove(struct events *ev, const struct session *s)
{
	size_t i = reg_lower(ev, s->serial);
	if (i < ev->n_reg && ev->reg[i].serial == s->serial)
		reg_hole(ev, &ev->reg[i]);
}

/* The live session an entry stands for, or NULL (and the entry becomes a hole). */
static struct session *reg_session(struct events *ev, struct reg_entry *e)
{
	if (e->id[0] == '\0')
		return NULL;
	struct session *s = sess_find(ev->sm, e->id);
	if (s == NULL || s->serial != e->serial || s->state == SESS_CLOSED) {
		reg_hole(ev, e);
		return NULL;
	}
	return s;
}

/* Re-check a few entries every SWEEP_PERIOD_MS; compact when half are holes. */
static void reg_maintain(struct events *ev, int64_t now)
{
	if (now < ev->next_sweep_ms && now >= ev->next_sweep_ms - SWEEP_PERIOD_MS)
		return;         /* (a clock set back does not stop the sweep for long) */
	ev->next_sweep_ms = now + SWEEP_PERIOD_MS;
	for (unsigned k = 0; k < SWEEP_PER_TICK && ev->n_reg > 0; k++) {
		if (ev->sweep >= ev->n_reg)
			ev->sweep = 0;
		reg_session(ev, &ev->reg[ev->sweep++]);
	}
	if (ev->holes > 64 && ev->holes * 2 > ev->n_reg)
		reg_compact(ev);
}

/* ---- building events (in ev->scratch, valid until the next arena_reset) ---- */

static Rtpproxy__SessionEvent *event_new(struct events *ev, const struct session *s,
		Rtpproxy__SessionEvent__EventCase kind)
{
	Rtpproxy__SessionEvent *m = arena_alloc(&ev->scratch, sizeof(*m));
	rtpproxy__session_event__init(m);
	m->session_id = (char *)s->id;
	m->timestamp_unix_ms = sess_now_ms();
	m->event_case = kind;
	return m;
}

static Rtpproxy__SessionEvent *created_event(struct events *ev, const struct session *s)
{
	Rtpproxy__SessionEvent *m = event_new(ev, s, RTPPROXY__SESSION_EVENT__EVENT_CREATED);
	m->created = arena_alloc(&ev->scratch, sizeof(*m->created));
	rtpproxy__session_created__init(m->created);
	m->created->session = rpc_session_info(ev->ctx, &ev->scratch, s);
	return m;
}

static Rtpproxy__SessionEvent *stats_event(struct events *ev, const struct session *s)
{
	struct sess_stats rtp, rev, rtcp;
	Rtpproxy__SessionEvent *m = event_new(ev, s, RTPPROXY__SESSION_EVENT__EVENT_STATS_UPDATE);

	sess_read_stats(ev->sm, s, &rtp, &rev, &rtcp);
	m->stats_update = arena_alloc(&ev->scratch, sizeof(*m->stats_update));
	rtpproxy__session_stats_update__init(m->stats_update);
	m->stats_update->stats = rpc_session_stats(&ev->scratch, &rtp);
	m->stats_update->reverse_stats = rpc_session_stats(&ev->scratch, &rev);
	return m;
}

/* ---- subscribers ---- */

static bool sub_all(const struct sub *u)
{
	return u->session_id[0] == '\0';
}

/* Whether live events of session s go to u now. */
static bool sub_covers(const struct sub *u, const struct session *s)
{
	if (!sub_all(u))
		return strcmp(u->session_id, s->id) == 0;
	/* not yet in its snapshot: the snapshot will show its state then */
	return s->serial < u->snap_next || s->serial >= u->snap_end;
}

/* Free queue space below fill (a share of the stream's limit). */
static unsigned sub_room(const struct sub *u, unsigned (*fill)(unsigned limit))
{
	unsigned q = grpc_srv_stream_queued(u->stream);
	unsigned f = fill(grpc_srv_stream_limit(u->stream));
	return q < f ? f - q : 0;
}

static unsigned snapshot_fill(unsigned limit)
{
	return SNAPSHOT_FILL(limit);
}

static unsigned stats_fill(unsigned limit)
{
	return STATS_FILL(limit);
}

static void sub_send(struct events *ev, struct sub *u, const Rtpproxy__SessionEvent *m)
{
	if (grpc_srv_stream_send(u->stream, &m->base) == 0) {
		u->sent++;
		ev->sent++;
	}
}

static const char *sub_name(const struct sub *u, char *buf, size_t len)
{
	if (sub_all(u))
		snprintf(buf, len, "every session");
	else
		snprintf(buf, len, "session \"%s\"", u->session_id);
	return buf;
}

/*
 * Up to `budget` snapshot `created` events for an every-session stream, as its queue allows;
 * the number built.
 */
static unsigned sub_snapshot(struct events *ev, struct sub *u, unsigned budget)
{
	unsigned room = sub_room(u, snapshot_fill), n = 0, scanned = 0;
	size_t i;

	if (u->snap_next >= u->snap_end)
		return 0;
	if (room < budget)
		budget = room;
	for (i = reg_lower(ev, u->snap_next); i < ev->n_reg && ev->reg[i].serial < u->snap_end;
			i++) {
		if (n == budget || scanned++ == budget * SCAN_FACTOR)
			break;
		struct reg_entry *e = &ev->reg[i];
		struct session *s = reg_session(ev, e);
		u->snap_next = e->serial + 1;
		if (s == NULL)
			continue;
		sub_send(ev, u, created_event(ev, s));
		arena_reset(&ev->scratch);
		n++;
	}
	if (i == ev->n_reg || ev->reg[i].serial >= u->snap_end)
		u->snap_next = u->snap_end;     /* done: every session is live for it now */
	return n;
}

static void round_start(struct sub *u, uint64_t last_serial, int64_t now)
{
	u->in_round = true;
	u->round_next = 0;
	u->round_end = last_serial + 1;
	/* keep the cadence; after a stall, start afresh rather than catch up */
	u->stats_due_ms += u->interval_ms;
	if (u->stats_due_ms <= now)
		u->stats_due_ms = now + u->interval_ms;
}

/* One session's StatsUpdate when it is live (and not CLOSED). */
static unsigned stats_one(struct events *ev, struct sub *u, const struct session *s)
{
	if (s == NULL || s->state == SESS_CLOSED || !sub_covers(u, s))
		return 0;
	sub_send(ev, u, stats_event(ev, s));
	arena_reset(&ev->scratch);
	return 1;
}

/* Continue u's stats round (starting one when due); the number of messages built. */
static unsigned sub_stats(struct events *ev, struct sub *u, int64_t now, unsigned budget)
{
	unsigned room = sub_room(u, stats_fill), n = 0, scanned = 0;
	size_t i;

	if (u->interval_ms == 0)
		return 0;
	if (!u->in_round) {
		if (u->stats_due_ms - now > (int64_t)u->interval_ms)
			u->stats_due_ms = now + u->interval_ms;         /* the clock went back */
		if (now < u->stats_due_ms)
			return 0;
		round_start(u, ev->last_serial, now);
	}
	if (room < budget)
		budget = room;
	if (budget == 0)
		return 0;       /* a slow reader: the round waits for it */
	if (!sub_all(u)) {
		n = stats_one(ev, u, sess_find(ev->sm, u->session_id));
		u->in_round = false;
		return n;
	}
	for (i = reg_lower(ev, u->round_next); i < ev->n_reg && ev->reg[i].serial < u->round_end;
			i++) {
		if (n == budget || scanned++ == budget * SCAN_FACTOR)
			break;
		u->round_next = ev->reg[i].serial + 1;
		n += stats_one(ev, u, reg_session(ev, &ev->reg[i]));
	}
	if (i == ev->n_reg || ev->reg[i].serial >= u->round_end)
		u->in_round = false;
	return n;
}

grpc_status_code events_subscribe(void *c, const ProtobufCMessage *req,
		struct grpc_srv_stream *stream, struct rpc_error *err)
{
	struct rpc_ctx *ctx = c;
	struct events *ev = ctx->events;
	const Rtpproxy__StreamSessionEventsRequest *r = (const void *)req;
	const char *id = r->session_id != NULL ? r->session_id : "";
	struct session *s = NULL;
	char name[SESS_ID_MAX + 32];

	if (ev == NULL)
		return rpc_fail(err, GRPC_STATUS_UNAVAILABLE, "events are not available");
	if (ev->n_subs >= ev->max_streams)
		return rpc_fail(err, GRPC_STATUS_RESOURCE_EXHAUSTED,
				"%u event streams are open, the most [grpc] max_streams allows",
				ev->n_subs);
	if (id[0] != '\0') {
		s = sess_find(ev->sm, id);
		if (s == NULL)
			return rpc_fail(err, GRPC_STATUS_NOT_FOUND, "session_id: no session \"%s\"",
					id);
	}
	struct sub *u = calloc(1, sizeof(*u));
	if (u == NULL)
		return rpc_fail(err, GRPC_STATUS_RESOURCE_EXHAUSTED, "out of memory");
	u->stream = stream;
	u->no = ++ev->streams_total;
	snprintf(u->session_id, sizeof(u->session_id), "%s", id);
	u->interval_ms = r->stats_interval_ms;
	if (u->interval_ms != 0 && u->interval_ms < EVENTS_MIN_INTERVAL_MS)
		u->interval_ms = EVENTS_MIN_INTERVAL_MS;
	u->stats_due_ms = sess_now_ms() + u->interval_ms;
	grpc_srv_stream_set_user(stream, u);
	grpc_srv_stream_set_limit(stream, ev->stream_queue);
	TAILQ_INSERT_TAIL(&ev->subs, u, link);
	ev->n_subs++;

	if (s != NULL) {
		if (s->state != SESS_CLOSED) {
			sub_send(ev, u, created_event(ev, s));
			arena_reset(&ev->scratch);
		} else {
			grpc_srv_stream_finish(stream, GRPC_STATUS_OK, NULL);   /* its `closed` was */
		}
	} else {
		/* what exists now comes as a snapshot: a first slice here, the rest in ticks */
		u->snap_next = 1;
		u->snap_end = ev->last_serial + 1;
		ev->tokens -= sub_snapshot(ev, u, EVENTS_TICK_MAX);   /* ticks catch up */
	}
	if (u->interval_ms == 0)
		LOG(INFO, "stream %" PRIu64 " opened: %s, no StatsUpdate", u->no,
				sub_name(u, name, sizeof(name)));
	else
		LOG(INFO, "stream %" PRIu64 " opened: %s, StatsUpdate every %" PRIu32 " ms%s",
				u->no, sub_name(u, name, sizeof(name)), u->interval_ms,
				u->interval_ms != r->stats_interval_ms ? " (the minimum)" : "");
	return GRPC_STATUS_OK;
}

void events_unsubscribe(void *c, struct grpc_srv_stream *stream)
{
	struct rpc_ctx *ctx = c;
	struct events *ev = ctx->events;
	struct sub *u = grpc_srv_stream_user(stream);
	char name[SESS_ID_MAX + 32];

	if (ev == NULL || u == NULL)
		return;
	bool behind = grpc_srv_stream_fell_behind(stream);
	ev->fell_behind_closed += behind;
	LOG(INFO, "stream %" PRIu64 " (%s) ended: %" PRIu64 " events sent%s",
			u->no, sub_name(u, name, sizeof(name)), u->sent,
			behind ? ", then its client fell behind (RESOURCE_EXHAUSTED)" : "");
	TAILQ_REMOVE(&ev->subs, u, link);
	ev->n_subs--;
	grpc_srv_stream_set_user(stream, NULL);
	free(u);
}

/* ---- the session manager's hooks ---- */

static bool anyone_covers(const struct events *ev, const struct session *s)
{
	const struct sub *u;
	TAILQ_FOREACH(u, &ev->subs, link)
		if (sub_covers(u, s))
			return true;
	return false;
}

static void fan_out(struct events *ev, const struct session *s, const Rtpproxy__SessionEvent *m)
{
	struct sub *u;
	TAILQ_FOREACH(u, &ev->subs, link)
		if (sub_covers(u, s))
			sub_send(ev, u, m);
	arena_reset(&ev->scratch);
}

static void on_created(void *c, const struct session *s)
{
	struct events *ev = c;

	if (s->serial > ev->last_serial)
		ev->last_serial = s->serial;
	reg_add(ev, s);
	if (anyone_covers(ev, s))
		fan_out(ev, s, created_event(ev, s));
}

static void on_state_changed(void *c, const struct session *s, enum sess_state old_state,
		enum sess_state new_state)
{
	struct events *ev = c;

	if (!anyone_covers(ev, s))
		return;
	Rtpproxy__SessionEvent *m = event_new(ev, s, RTPPROXY__SESSION_EVENT__EVENT_STATE_CHANGED);
	m->state_changed = arena_alloc(&ev->scratch, sizeof(*m->state_changed));
	rtpproxy__session_state_changed__init(m->state_changed);
	m->state_changed->old_state = (Rtpproxy__SessionState)old_state;
	m->state_changed->new_state = (Rtpproxy__SessionState)new_state;
	fan_out(ev, s, m);
}

static void on_error(void *c, const struct session *s, const char *message)
{
	struct events *ev = c;

	if (!anyone_covers(ev, s))
		return;
	Rtpproxy__SessionEvent *m = event_new(ev, s, RTPPROXY__SESSION_EVENT__EVENT_ERROR);
	m->error = arena_alloc(&ev->scratch, sizeof(*m->error));
	rtpproxy__session_error__init(m->error);
	m->error->message = (char *)(message != NULL ? message : "");
	fan_out(ev, s, m);
}

static void on_closed(void *c, const struct session *s, const char *reason)
{
	struct events *ev = c;
	struct sess_stats rtp, rev, rtcp;

	if (anyone_covers(ev, s)) {
		Rtpproxy__SessionEvent *m = event_new(ev, s, RTPPROXY__SESSION_EVENT__EVENT_CLOSED);
		sess_read_stats(ev->sm, s, &rtp, &rev, &rtcp);
		m->closed = arena_alloc(&ev->scratch, sizeof(*m->closed));
		rtpproxy__session_closed__init(m->closed);
		m->closed->reason = (char *)(reason != NULL ? reason : "");
		m->closed->final_stats = rpc_session_stats(&ev->scratch, &rtp);
		fan_out(ev, s, m);
		/* a stream of this session alone has nothing more to say (API.md 1.1) */
		struct sub *u;
		TAILQ_FOREACH(u, &ev->subs, link)
			if (!sub_all(u) && strcmp(u->session_id, s->id) == 0)
				grpc_srv_stream_finish(u->stream, GRPC_STATUS_OK, NULL);
	}
	reg_remove(ev, s);      /* nothing follows `closed`: no snapshot, no stats */
}

void events_adopt(struct events *ev, const struct session *s)
{
	if (s->serial > ev->last_serial)
		ev->last_serial = s->serial;
	reg_add(ev, s);
}

void events_resnapshot(struct events *ev, uint64_t from)
{
	struct sub *u;
	TAILQ_FOREACH(u, &ev->subs, link) {
		if (!sub_all(u))
			continue;
		if (u->snap_next >= u->snap_end || from < u->snap_next)
			u->snap_next = from;
		u->snap_end = ev->last_serial + 1;
	}
}

/* ---- the rest ---- */

struct events *events_create(struct rpc_ctx *ctx)
{
	struct events *ev = calloc(1, sizeof(*ev));
	if (ev == NULL)
		return NULL;
	ev->ctx = ctx;
	ev->sm = ctx->sessions;
	ev->max_streams = EVENTS_MAX_STREAMS;
	ev->stream_queue = GRPC_SRV_STREAM_QUEUE;
	TAILQ_INIT(&ev->subs);
	/* sessions made before the hooks were set (none in the appliance; cheap anyway) */
	for (struct session *s = sess_first(ev->sm, 0); s != NULL; s = sess_next(s)) {
		if (s->serial > ev->last_serial)
			ev->last_serial = s->serial;
		if (s->state != SESS_CLOSED)
			reg_add(ev, s);
	}
	ctx->events = ev;
	return ev;
}

void events_set_limits(struct events *ev, unsigned max_streams, unsigned stream_queue)
{
	ev->max_streams = max_streams;
	ev->stream_queue = stream_queue > 0 ? stream_queue : 1;
}

void events_observer(struct events *ev, struct sess_observer *o)
{
	memset(o, 0, sizeof(*o));
	o->ctx = ev;
	o->created = on_created;
	o->state_changed = on_state_changed;
	o->error = on_error;
	o->closed = on_closed;
}

void events_tick(struct events *ev, int64_t now)
{
	struct sub *u, *first;

	/* the token bucket: EVENTS_PER_MS, at most EVENTS_TICK_MAX at once */
	if (now > ev->last_tick_ms)
		ev->tokens += (now - ev->last_tick_ms) * EVENTS_PER_MS;
	ev->last_tick_ms = now;
	if (ev->tokens > EVENTS_TICK_MAX)
		ev->tokens = EVENTS_TICK_MAX;
	reg_maintain(ev, now);
	if (TAILQ_EMPTY(&ev->subs))
		return;
	/* who goes first changes every tick, so no stream starves the others */
	first = TAILQ_FIRST(&ev->subs);
	TAILQ_REMOVE(&ev->subs, first, link);
	TAILQ_INSERT_TAIL(&ev->subs, first, link);
	TAILQ_FOREACH(u, &ev->subs, link) {
		if (ev->tokens <= 0)
			break;
		ev->tokens -= sub_snapshot(ev, u, (unsigned)ev->tokens);
		if (ev->tokens > 0)
			ev->tokens -= sub_stats(ev, u, now, (unsigned)ev->tokens);
	}
}

void events_counters(const struct events *ev, struct events_counters *c)
{
	const struct sub *u;

	memset(c, 0, sizeof(*c));
	c->streams_total = ev->streams_total;
	c->sent = ev->sent;
	c->fell_behind = ev->fell_behind_closed;
	TAILQ_FOREACH(u, &ev->subs, link) {
		c->streams_open++;
		c->fell_behind += grpc_srv_stream_fell_behind(u->stream);
	}
}

void events_free(struct events *ev)
{
	struct sess_observer none;
	struct sub *u;

	if (ev == NULL)
		return;
	memset(&none, 0, sizeof(none));
	sess_set_observer(ev->sm, &none);
	while ((u = TAILQ_FIRST(&ev->subs)) != NULL) {
		/* grpc_srv_stop ends every stream first: nothing should be left */
		LOG(WARNING, "stream %" PRIu64 " still open at exit", u->no);
		TAILQ_REMOVE(&ev->subs, u, link);
		free(u);
	}
	if (ev->ctx->events == ev)
		ev->ctx->events = NULL;
	arena_reset(&ev->scratch);
	free(ev->reg);
	free(ev);
}

unsigned events_backlog(const struct events *ev)
{
	unsigned most = 0;
	const struct sub *u;
	TAILQ_FOREACH(u, &ev->subs, link) {
		unsigned q = grpc_srv_stream_queued(u->stream);
		if (q > most)
			most = q;
	}
	return most;
}
