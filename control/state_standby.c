/*
 * The hot standby on the control lcore (state_standby.h).
 *
 * Mirrored sessions go through sess_restore (the store's own restore: same ids, ports,
 * latches, state) and leave without a word to any observer: they are the active's, and a
 * standby's event streams and its store writer must not hear of them. A changed session is
 * taken out and restored again (a standby's flows carry nothing, so nothing is lost).
 * A full read (start, reconnect) ends by forgetting every session it did not bring: those
 * restored before it began (older serials).
 */
#include "state_standby.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <rte_log.h>

#include "events.h"
#include "log.h"
#include "rp_dp.h"
#include "sess_int.h"
#include "state_lease.h"
#include "state_mirror.h"

#define LOGS(level, fmt, ...) RTE_LOG(level, APP, "standby: " fmt "\n", ##__VA_ARGS__)

#define MIRROR_PER_PASS 256             /* items applied per control-loop pass */
#define TAKE_OVER_PER_PASS 4096         /* ... while taking over (what relays now) */

struct state_standby {
	struct state_standby_conf conf;
	char host[256], prefix[256], pair[128], holder[128];
	struct state_lease *lease;
	struct state_mirror *mirror;
	bool relaying;
	bool taking_over;               /* relaying; the mirror still brings checkpoints */
	uint64_t epoch;
	uint64_t sync_serial;           /* sessions older than this were not in the full read */
	uint64_t first_new_serial;      /* take-over: the first session it (re)installed */
	struct dp *dp;
	struct sess_mgr *sm;
	struct events *ev;
	struct state_standby_hooks hooks;
	uint64_t mirrored, failed;      /* sessions restored by the mirror, refused */
	uint64_t counters_loaded;       /* take-over: sessions whose checkpoint was loaded */
};

struct state_standby *state_standby_start(const struct state_standby_conf *c, char *err,
		size_t errlen)
{
	struct state_standby *sb = calloc(1, sizeof(*sb));
	if (sb == NULL) {
		snprintf(err, errlen, "[state]: out of memory");
		return NULL;
	}
	sb->conf = *c;
	snprintf(sb->host, sizeof(sb->host), "%s", c->host);
	snprintf(sb->prefix, sizeof(sb->prefix), "%s", c->key_prefix);
	snprintf(sb->pair, sizeof(sb->pair), "%s", c->pair);
	snprintf(sb->holder, sizeof(sb->holder), "%s", c->holder);
	sb->conf.host = sb->host;
	sb->conf.key_prefix = sb->prefix;
	sb->conf.pair = sb->pair;
	sb->conf.holder = sb->holder;
	struct state_lease_conf lc = { .host = sb->host, .port = c->port,
		.key_prefix = sb->prefix, .pair = sb->pair, .holder = sb->holder,
		.lease_ms = c->lease_ms, .active = c->active };
	sb->lease = state_lease_start(&lc, err, errlen);
	if (sb->lease == NULL) {
		free(sb);
		return NULL;
	}
	if (!state_lease_wait(sb->lease, c->decide_wait_ms)) {
		LOGS(WARNING, "Redis %s:%u did not answer within %u ms: starting as %s", sb->host,
				c->port, c->decide_wait_ms, c->active ? "active (the lease is "
				"taken when Redis answers, unless a standby holds it)" :
				"standby (no take-over until Redis answers)");
		state_lease_decide(sb->lease);
	}
	struct state_lease_view v;
	state_lease_read(sb->lease, &v);
	sb->relaying = v.holds;
	sb->epoch = v.epoch;
	LOGS(NOTICE, "%s %s's sessions (lease epoch %llu%s%s)", v.holds ? "relaying" :
			"standing by for", sb->pair, (unsigned long long)v.epoch,
			v.other[0] ? ", held by " : "", v.other);
	return sb;
}

bool state_standby_relaying(const struct state_standby *sb)
{
	return sb->relaying;
}

static int start_mirror(struct state_standby *sb, char *err, size_t errlen)
{
	struct state_mirror_conf mc = { .host = sb->host, .port = sb->conf.port,
		.key_prefix = sb->prefix, .pair = sb->pair };
	sb->mirror = state_mirror_start(&mc, err, errlen);
	return sb->mirror != NULL ? 0 : -1;
}

int state_standby_attach(struct state_standby *sb, struct dp *dp, struct sess_mgr *sm,
		struct events *ev, const struct state_standby_hooks *h, char *err, size_t errlen)
{
	sb->dp = dp;
	sb->sm = sm;
	sb->ev = ev;
	if (h != NULL)
		sb->hooks = *h;
	if (sb->hooks.role != NULL)
		sb->hooks.role(sb->hooks.ctx, sb->relaying, sb->epoch);
	if (sb->relaying)
		return 0;
	if (sb->hooks.store_writes != NULL)
		sb->hooks.store_writes(sb->hooks.ctx, false);
	dp_set_active(dp, false);       /* (created passive: this only makes sure) */
	return start_mirror(sb, err, errlen);
}

/* A mirrored session leaves: no observer hears of it and it is not counted as closed. */
static void forget_quietly(struct state_standby *sb, const char *id)
{
	struct sess_mgr *m = sb->sm;
	struct sess_observer saved = m->obs;
	uint64_t closed = m->closed_total;
	struct session final;
	struct sess_error err;
	memset(&m->obs, 0, sizeof(m->obs));
	if (sess_destroy(m, id, &final, &err) == SESS_OK)
		sess_final_free(&final);
	m->obs = saved;
	m->closed_total = closed;
}

static void apply_set(struct state_standby *sb, struct mirror_item *it)
{
	struct sess_error err = { 0 };
	if (sess_find(sb->sm, it->id) != NULL)
		forget_quietly(sb, it->id);
	it->rec.restore.refuse_conflicts = false;       /* what does not fit: ERROR, visible */
	if (sess_restore(sb->sm, &it->rec.params, &it->rec.restore, &err) != NULL) {
		sb->mirrored++;
	} else {
		sb->failed++;
		LOGS(WARNING, "%s: not mirrored: %s", it->id, err.message);
	}
}

/* Take-over: the session's counters continue from the active's last checkpoint. */
static void apply_counters(struct state_standby *sb, struct mirror_item *it, int64_t now_ms)
{
	struct session *s = sess_find(sb->sm, it->id);
	if (s == NULL) {
		/* not mirrored yet (the standby had not finished its first read): restored now,
		 * counters and all */
		apply_set(sb, it);
		sb->counters_loaded += it->rec.has_counters;
		return;
	}
	if (!it->rec.has_counters)
		return;
	sb->counters_loaded++;
	if (s->base == NULL && (s->base = calloc(1, sizeof(*s->base))) == NULL)
		return;
	*s->base = it->rec.base;
	s->base->restored_ms = now_ms;  /* idle since the take-over at the earliest */
}

/* Every session is the new active's now: on the event streams, in the store as A. */
static void finish_take_over(struct state_standby *sb)
{
	sb->taking_over = false;
	unsigned n = 0;
	for (struct session *s = sess_first(sb->sm, sb->first_new_serial); s != NULL;
			s = sess_next(s)) {
		if (s->state == SESS_CLOSED)
			continue;
		events_adopt(sb->ev, s);
		n++;
	}
	/* streams open since before the take-over get them as a snapshot, paced */
	events_resnapshot(sb->ev, sb->first_new_serial);
	/* only now: a checkpoint written before the active's last one was read would have
	 * overwritten it with counters that start from zero */
	if (sb->hooks.role != NULL)
		sb->hooks.role(sb->hooks.ctx, true, sb->epoch);
	if (sb->hooks.store_writes != NULL)
		sb->hooks.store_writes(sb->hooks.ctx, true);
	LOGS(NOTICE, "took over %s's %u sessions (%llu with a checkpoint of their counters): "
			"on the event streams, written as %s", sb->pair, n,
			(unsigned long long)sb->counters_loaded, sb->pair);
}

static void take_over(struct state_standby *sb, const struct state_lease_view *v)
{
	/* relay first: every millisecond here is media lost */
	dp_set_active(sb->dp, true);
	unsigned announced = dp_announce(sb->dp);
	sb->relaying = true;
	sb->epoch = v->epoch;
	sb->counters_loaded = 0;
	LOGS(NOTICE, "took the lease of %s (epoch %llu): relaying, %u addresses announced",
			sb->pair, (unsigned long long)v->epoch, announced);
	struct session *first = sess_first(sb->sm, 0);
	sb->first_new_serial = first != NULL ? first->serial : 0;
	if (sb->mirror != NULL) {
		/* the changes already read, then the checkpoints (state_standby_poll) */
		sb->taking_over = true;
		state_mirror_finish(sb->mirror);
	} else {
		finish_take_over(sb);
	}
}

static void stand_down(struct state_standby *sb, const struct state_lease_view *v)
{
	dp_set_active(sb->dp, false);
	sb->relaying = false;
	sb->taking_over = false;
	sb->epoch = v->epoch;
	if (sb->hooks.store_writes != NULL)
		sb->hooks.store_writes(sb->hooks.ctx, false);
	if (sb->hooks.role != NULL)
		sb->hooks.role(sb->hooks.ctx, false, v->epoch);
	LOGS(WARNING, "%s holds the lease of %s now (epoch %llu): standing by, relaying "
			"nothing", v->other, sb->pair, (unsigned long long)v->epoch);
	state_mirror_stop(sb->mirror);
	sb->mirror = NULL;
	char err[128];
	if (start_mirror(sb, err, sizeof(err)) != 0)
		LOGS(ERR, "%s", err);
}

static void apply(struct state_standby *sb, struct mirror_item *it, int64_t now_ms)
{
	switch (it->op) {
	case MIRROR_SYNC_BEGIN:
		sb->sync_serial = sb->sm->next_serial;
		break;
	case MIRROR_SET:
		apply_set(sb, it);
		break;
	case MIRROR_DEL:
		if (sess_find(sb->sm, it->id) != NULL)
			forget_quietly(sb, it->id);
		break;
	case MIRROR_SYNC_END: {
		/* what the full read did not bring is no longer in the store */
		struct session *s = sess_first(sb->sm, 0), *next;
		unsigned gone = 0;
		for (; s != NULL && s->serial < sb->sync_serial; s = next) {
			next = sess_next(s);
			char id[SESS_ID_MAX + 1];
			snprintf(id, sizeof(id), "%s", s->id);
			forget_quietly(sb, id);
			gone++;
		}
		struct sess_counters c;
		sess_counters(sb->sm, &c);
		LOGS(INFO, "mirror in step with the store: %llu sessions of %s%s",
				(unsigned long long)c.active, sb->pair, gone ? " (some gone meanwhile)" : "");
		break;
	}
	case MIRROR_COUNTERS:
		apply_counters(sb, it, now_ms);
		break;
	case MIRROR_COUNTERS_END:
		break;
	}
}

void state_standby_poll(struct state_standby *sb, int64_t now_ms)
{
	struct state_lease_view v;
	state_lease_read(sb->lease, &v);
	if (!sb->relaying && v.holds)
		take_over(sb, &v);
	else if (sb->relaying && v.decided && !v.holds && v.redis_up)
		stand_down(sb, &v);
	else if (sb->relaying && !sb->taking_over && v.holds && v.epoch != sb->epoch &&
			sb->hooks.role != NULL)
		sb->hooks.role(sb->hooks.ctx, true, sb->epoch = v.epoch);

	if (sb->mirror == NULL)
		return;
	unsigned budget = sb->taking_over ? TAKE_OVER_PER_PASS : MIRROR_PER_PASS;
	struct mirror_item *it;
	bool done = false;
	for (unsigned n = 0; n < budget && (it = state_mirror_next(sb->mirror)) != NULL; n++) {
		done = it->op == MIRROR_COUNTERS_END;
		apply(sb, it, now_ms);
		state_mirror_item_free(it);
		if (done)
			break;
	}
	if (done) {
		state_mirror_stop(sb->mirror);
		sb->mirror = NULL;
		finish_take_over(sb);
	}
}

void state_standby_stop(struct state_standby *sb, bool graceful)
{
	if (sb == NULL)
		return;
	state_mirror_stop(sb->mirror);
	state_lease_stop(sb->lease, graceful && sb->relaying);
	if (!sb->relaying && sb->sm != NULL) {
		/* the active's sessions: no `closed{shutdown}` for them on our streams */
		struct session *s;
		while ((s = sess_first(sb->sm, 0)) != NULL) {
			char id[SESS_ID_MAX + 1];
			snprintf(id, sizeof(id), "%s", s->id);
			forget_quietly(sb, id);
		}
	}
	free(sb);
}
