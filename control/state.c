/*
 * Write-through (state.h): the session observer queues a session's definition when it is
 * created, changes state or moves its latch, and its deletion when it leaves the appliance;
 * counters follow every checkpoint_secs, walked a slice per control-loop pass; a full resync
 * (every running session, then the stale keys deleted) when the queue could not hold the
 * difference or Redis lost it. Encoding happens here, on the control lcore; the writer thread
 * only sends bytes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "rp_dp.h"
#include "state_codec.h"
#include "state_int.h"

#define QUEUE_MIN 4096
#define QUEUE_MAX (1u << 21)
/* Sessions a checkpoint or resync takes per control-loop pass: ~1.4 us each (100 000 measured
 * by scripts/state_restore_cost.py), so a call waits at most ~0.4 ms behind one. */
#define WALK_STEP 256
#define QUEUE_RESERVE 1024      /* room a walk leaves for the changes meanwhile */
#define SHUTDOWN_WAIT_MS 2000   /* SIGTERM: the last checkpoint's bound */

static uint32_t queue_size(unsigned max_sessions)
{
	uint32_t n = QUEUE_MIN;
	while (n < QUEUE_MAX && n < 2 * (uint64_t)max_sessions)
		n <<= 1;
	return n;
}

struct state *state_create(const struct state_config *c, struct sess_mgr *m, struct dp *dp,
		char *err, size_t errlen)
{
	struct state *st = calloc(1, sizeof(*st));
	if (st == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	st->cfg = *c;
	snprintf(st->host, sizeof(st->host), "%s", c->host);
	snprintf(st->key_prefix, sizeof(st->key_prefix), "%s", c->key_prefix);
	snprintf(st->instance, sizeof(st->instance), "%s", c->instance);
	snprintf(st->store_instance, sizeof(st->store_instance), "%s", c->store_instance);
	snprintf(st->base, sizeof(st->base), "%s%s", c->key_prefix, c->store_instance);
	st->cfg.host = st->host;
	st->cfg.key_prefix = st->key_prefix;
	st->cfg.instance = st->instance;
	st->cfg.store_instance = st->store_instance;
	st->m = m;
	st->dp = dp;
	st->standby = c->standby;
	st->q = state_queue_create(queue_size(c->max_sessions));
	if (st->q == NULL) {
		snprintf(err, errlen, "out of memory for the queue");
		free(st);
		return NULL;
	}
	/* the pair's lease (state_lease.c names it so): the writer's fence */
	char lease_key[sizeof(st->base) + 8];
	snprintf(lease_key, sizeof(lease_key), "%s#lease", st->base);
	struct state_writer_config wc = { .host = st->host, .port = c->port, .base = st->base,
		.instance = st->instance, .lease_key = lease_key };
	st->w = state_writer_start(&wc, st->q, err, errlen);
	if (st->w == NULL) {
		state_queue_free(st->q);
		free(st);
		return NULL;
	}
	int64_t now = sess_now_ms();
	st->next_ckpt_ms = now + (int64_t)c->checkpoint_secs * 1000;
	if (st->standby) {
		st->ready = true;       /* a standby restores at take-over, not now */
	} else {
		st->phase = RESTORE_WAIT;
		st->restore_started_ms = now;
		st->restore_deadline_ms = now + (int64_t)c->restore_wait_secs * 1000;
		state_writer_request_load(st->w);
	}
	LOG(INFO, "backend redis %s:%u, keys %s:*, queue of %u", st->host, c->port, st->base,
			st->q->mask + 1);
	return st;
}

void state_push(struct state *st, struct state_entry *e)
{
	if (!state_queue_push(st->q, e) && !st->resync_pending)
		LOG(WARNING, "the queue to Redis is full: a full resync follows once it drains");
	if (st->q->overflowed)
		st->resync_pending = true;
}

/* ---- write-through ---- */

static bool writing(const struct state *st)
{
	return !st->standby && !st->shutting;
}

void state_write_session(struct state *st, const struct session *s)
{
	struct dp_latch_state l, lr;
	bool has_l = false, has_lr = false;
	size_t len;
	if (s->flows != NULL) {
		has_l = dp_sess_get_latch(st->dp, s->flows, DP_FLOW_RTP, &l);
		has_lr = has_l && s->rtcp && dp_sess_get_latch(st->dp, s->flows, DP_FLOW_RTCP, &lr);
	}
	uint8_t *def = state_encode_def(s, has_l ? &l : NULL, has_lr ? &lr : NULL, &len);
	state_push(st, def ? state_entry_new(STATE_SET, s->id, def, len) : NULL);
	free(def);
}

static void on_created(void *ctx, const struct session *s)
{
	struct state *st = ctx;
	/* written with its first state change, CONNECTING, right after: once is enough */
	if (st->next.created != NULL)
		st->next.created(st->next.ctx, s);
}

static void on_state(void *ctx, const struct session *s, enum sess_state o, enum sess_state n)
{
	struct state *st = ctx;
	if (writing(st) && n != SESS_CLOSED)
		state_write_session(st, s);
	if (st->next.state_changed != NULL)
		st->next.state_changed(st->next.ctx, s, o, n);
}

static void on_error(void *ctx, const struct session *s, const char *msg)
{
	struct state *st = ctx;
	if (st->next.error != NULL)
		st->next.error(st->next.ctx, s, msg);
}

static void on_closed(void *ctx, const struct session *s, const char *reason)
{
	struct state *st = ctx;
	if (writing(st))
		state_push(st, state_entry_new(STATE_DEL, s->id, NULL, 0));
	if (st->next.closed != NULL)
		st->next.closed(st->next.ctx, s, reason);
}

static void on_latch(void *ctx, const struct session *s)
{
	struct state *st = ctx;
	if (writing(st) && s->state != SESS_CLOSED)
		state_write_session(st, s);
	if (st->next.latch_moved != NULL)
		st->next.latch_moved(st->next.ctx, s);
}

void state_observe(struct state *st, struct sess_observer *o)
{
	st->next = *o;
	*o = (struct sess_observer){ .ctx = st, .created = on_created, .state_changed = on_state,
		.error = on_error, .closed = on_closed, .latch_moved = on_latch };
}

/* ---- walks: checkpoints and resyncs ---- */

static void walk_start(struct state *st, struct state_walk *w, int64_t now_ms)
{
	struct session *s = sess_first(st->m, 0);
	w->on = true;
	w->started_ms = now_ms;
	w->serial = s != NULL ? s->serial : UINT64_MAX;
	snprintf(w->id, sizeof(w->id), "%s", s != NULL ? s->id : "");
}

static struct session *walk_resume(struct state *st, const struct state_walk *w)
{
	if (w->serial == UINT64_MAX)
		return NULL;
	struct session *s = sess_find(st->m, w->id);
	if (s == NULL || s->serial != w->serial)
		s = sess_first(st->m, w->serial);
	return s;
}

static void walk_stop_at(struct state_walk *w, const struct session *s)
{
	w->serial = s != NULL ? s->serial : UINT64_MAX;
	snprintf(w->id, sizeof(w->id), "%s", s != NULL ? s->id : "");
}

static bool live(const struct session *s)
{
	return s->state == SESS_CONNECTING || s->state == SESS_ACTIVE ||
		s->state == SESS_CREATED;
}

static void push_counters(struct state *st, const struct session *s, int64_t now_ms)
{
	struct sess_stats rtp, rev, rtcp;
	size_t len;
	sess_read_stats(st->m, s, &rtp, &rev, &rtcp);
	uint8_t *b = state_encode_ctr(now_ms, &rtp, &rev, &rtcp, &len);
	state_push(st, b ? state_entry_new(STATE_CTR, s->id, b, len) : NULL);
	free(b);
}

/* Up to `max` sessions of the walk: their definitions (resync) or counters (checkpoint, live
 * ones only); true when the walk is through. */
static bool walk_step(struct state *st, struct state_walk *w, unsigned max, int64_t now_ms,
		bool resync)
{
	struct session *s = walk_resume(st, w);
	for (unsigned n = 0; s != NULL && n < max; s = sess_next(s)) {
		if (s->state == SESS_CLOSED)
			continue;
		if (resync)
			state_write_session(st, s);
		else if (live(s))
			push_counters(st, s, now_ms);
		else
			continue;
		n++;
	}
	walk_stop_at(w, s);
	return s == NULL;
}

static unsigned room_for_walk(const struct state *st)
{
	uint32_t room = state_queue_room(st->q);
	room = room > QUEUE_RESERVE ? room - QUEUE_RESERVE : 0;
	return room < WALK_STEP ? room : WALK_STEP;
}

static void resync_poll(struct state *st, int64_t now_ms)
{
	if (state_writer_take_resync_request(st->w))
		st->resync_pending = true;
	if (st->resync_pending && state_writer_up(st->w) &&
			state_queue_room(st->q) > QUEUE_RESERVE) {
		/* (again) from the start: BEGIN lists the keys, the walk rewrites every session */
		st->resync_pending = false;
		st->q->overflowed = false;
		st->ckpt.on = false;
		state_push(st, state_entry_new(STATE_RESYNC_BEGIN, NULL, NULL, 0));
		walk_start(st, &st->resync, now_ms);
		st->resyncs++;
		LOG(NOTICE, "full resync of the store started");
	}
	if (!st->resync.on || st->resync_pending)
		return;
	unsigned n = room_for_walk(st);
	if (n > 0 && walk_step(st, &st->resync, n, now_ms, true)) {
		state_push(st, state_entry_new(STATE_RESYNC_END, NULL, NULL, 0));
		st->resync.on = false;
	}
}

static void checkpoint_poll(struct state *st, int64_t now_ms)
{
	if (st->resync_pending || st->resync.on)
		return;         /* counters now could land on keys the resync has not written */
	/* with Redis away, counters would only take the room the changes need */
	if (!st->ckpt.on && now_ms >= st->next_ckpt_ms && state_writer_up(st->w)) {
		st->next_ckpt_ms = now_ms + (int64_t)st->cfg.checkpoint_secs * 1000;
		walk_start(st, &st->ckpt, now_ms);
	}
	if (!st->ckpt.on)
		return;
	unsigned n = room_for_walk(st);
	if (n > 0 && walk_step(st, &st->ckpt, n, st->ckpt.started_ms, false)) {
		struct state_entry *e = state_entry_new(STATE_CKPT_END, NULL, NULL, 0);
		if (e != NULL)
			e->ms = st->ckpt.started_ms;
		state_push(st, e);
		st->ckpt.on = false;
	}
}

void state_poll(struct state *st, int64_t now_ms)
{
	if (!state_restore_poll(st, now_ms))
		return;
	if (st->standby)
		return;
	resync_poll(st, now_ms);
	checkpoint_poll(st, now_ms);
}

bool state_busy(const struct state *st)
{
	if (st->phase == RESTORE_RUN)
		return true;
	/* a walk goes on at once, unless it waits for room in the queue */
	return (st->ckpt.on || st->resync.on) && room_for_walk(st) > 0;
}

bool state_ready(const struct state *st)
{
	return st->ready;
}

/* ---- shutdown ---- */

static void nap_ms(unsigned ms)
{
	struct timespec ts = { 0, (long)ms * 1000000 };
	nanosleep(&ts, NULL);
}

void state_shutdown(struct state *st)
{
	if (st == NULL || st->shutting)
		return;
	int64_t now = sess_now_ms(), deadline = now + SHUTDOWN_WAIT_MS;
	bool owner = writing(st) && st->phase == RESTORE_NONE;  /* a standby writes nothing */
	bool done = false;
	if (owner) {
		/* a resync under way ends first: the store is to hold every session */
		while ((st->resync_pending || st->resync.on) && state_writer_up(st->w) &&
				sess_now_ms() < deadline) {
			resync_poll(st, sess_now_ms());
			nap_ms(1);
		}
		if (!st->resync_pending && !st->resync.on && state_writer_up(st->w)) {
			walk_start(st, &st->ckpt, now);
			while (!(done = walk_step(st, &st->ckpt, room_for_walk(st), now, false)) &&
					sess_now_ms() < deadline)
				nap_ms(1);
		}
		if (done) {
			struct state_entry *e = state_entry_new(STATE_CKPT_END, NULL, NULL, 0);
			if (e != NULL)
				e->ms = now;
			state_push(st, e);
		}
	}
	while (state_queue_depth(st->q) > 0 && state_writer_up(st->w) && sess_now_ms() < deadline)
		nap_ms(1);
	st->shutting = true;
	uint32_t left = state_queue_depth(st->q);
	if (left > 0 || (owner && !done))
		LOG(WARNING, "shutdown: %u change(s) not written to Redis%s", left,
				owner && !done ? ", last checkpoint incomplete" : "");
	else if (owner)
		LOG(INFO, "shutdown: last checkpoint written, sessions kept in the store");
	st->writes_final = state_writer_writes(st->w);
	state_writer_stop(st->w);
	st->w = NULL;
}

void state_free(struct state *st)
{
	if (st == NULL)
		return;
	state_shutdown(st);
	state_loaded_free(st->loaded, st->n_loaded);
	state_queue_free(st->q);
	free(st);
}

/* ---- what it says about itself ---- */

void state_stats(const struct state *st, int64_t now_ms, struct state_stats *out)
{
	memset(out, 0, sizeof(*out));
	out->up = st->w != NULL && state_writer_up(st->w);
	out->queue_depth = state_queue_depth(st->q);
	int64_t last = st->w != NULL ? state_writer_last_checkpoint(st->w) : 0;
	out->last_checkpoint_age_ms = last > 0 ? now_ms - last : -1;
	out->role = st->standby ? "standby" : "active";
	out->lease_epoch = st->epoch;
	out->instance = st->instance;
	out->store_instance = st->store_instance;
	out->writes_total = st->w != NULL ? state_writer_writes(st->w) : st->writes_final;
	out->resyncs_total = st->resyncs;
	out->restored_sessions = st->restored_total;
}

void state_set_role(struct state *st, bool standby, uint64_t lease_epoch)
{
	if (st->standby != standby)
		LOG(NOTICE, "role: %s (lease epoch %llu)", standby ? "standby" : "active",
				(unsigned long long)lease_epoch);
	st->standby = standby;
	st->epoch = lease_epoch;
}
