/*
 * Sessions back from the store (state.h): at start the writer loads every stored session of
 * this instance and the control loop re-creates them a slice per pass, before health turns
 * SERVING. When Redis does not answer within restore_wait_secs the appliance serves without
 * them and restores them once it does, leaving out those that conflict with sessions created
 * meanwhile. What cannot be restored (a record this build cannot read, a port now taken) is
 * logged and its key deleted: the store holds what the appliance runs, nothing else.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "events.h"
#include "state_codec.h"
#include "state_int.h"

#define RESTORE_STEP 2048       /* sessions re-created per control-loop pass */

static void forget_key(struct state *st, const char *id)
{
	if (!st->standby)
		state_push(st, state_entry_new(STATE_DEL, id, NULL, 0));
}

int state_restore_one(struct state *st, const char *id, const uint8_t *def, size_t def_len,
		const uint8_t *ctr, size_t ctr_len, bool refuse_conflicts, char *err,
		size_t errlen)
{
	struct state_rec r;
	if (state_decode(def, def_len, ctr, ctr != NULL ? ctr_len : 0, &r, err, errlen) != 0) {
		forget_key(st, id);
		return -1;
	}
	if (strcmp(r.params.id, id) != 0) {
		snprintf(err, errlen, "def.request.session_id: \"%.64s\" under the key of \"%.64s\"",
				r.params.id, id);
		state_rec_free(&r);
		forget_key(st, id);
		return -1;
	}
	r.restore.refuse_conflicts = refuse_conflicts;
	struct sess_error se;
	struct session *s = sess_restore(st->m, &r.params, &r.restore, &se);
	enum sess_state was = r.restore.state;
	state_rec_free(&r);
	if (s == NULL) {
		snprintf(err, errlen, "%.*s", (int)errlen - 1, se.message);
		/* the id taken by a session created meanwhile: the key is that one's now */
		if (sess_find(st->m, id) == NULL)
			forget_key(st, id);
		return -1;
	}
	st->restored_total++;
	if (s->state != SESS_ERROR)
		return 0;
	if (was != SESS_ERROR && !st->standby)
		state_write_session(st, s);     /* the store says ERROR and why, as the API does */
	return 1;
}

static void restore_some(struct state *st, unsigned max)
{
	char err[512];
	for (unsigned n = 0; n < max && st->next_loaded < st->n_loaded; n++) {
		const struct state_loaded *l = &st->loaded[st->next_loaded++];
		int rc = state_restore_one(st, l->id, l->def, l->def_len, l->ctr, l->ctr_len,
				st->late, err, sizeof(err));
		/* sess_restore calls no observer: the events learn of it here, so that every
		 * stream opened from now on has it in its snapshot (API.md 1.6) */
		const struct session *s = rc >= 0 ? sess_find(st->m, l->id) : NULL;
		if (s != NULL && st->cfg.events != NULL)
			events_adopt(st->cfg.events, s);
		if (rc == 0) {
			st->restored++;
		} else if (rc == 1) {
			st->restored_error++;
		} else {
			st->skipped++;
			LOG(WARNING, "%s: not restored: %s", l->id, err);
		}
	}
}

/* The restore's share of state_poll: true once there is nothing left to restore (the
 * checkpoints and resyncs may run: before, they could delete keys not restored yet). */
bool state_restore_poll(struct state *st, int64_t now_ms)
{
	if (st->phase == RESTORE_NONE)
		return true;
	if (st->phase == RESTORE_WAIT) {
		unsigned n = 0;
		struct state_loaded *l = state_writer_take_loaded(st->w, &n);
		if (l == NULL && n == 0 && !state_writer_loaded_done(st->w)) {
			if (!st->ready && now_ms >= st->restore_deadline_ms) {
				st->ready = true;
				st->late = true;
				LOG(WARNING, "Redis did not answer within restore_wait_secs (%u s): "
						"serving without the stored sessions; they are restored "
						"when it answers, but for those that conflict with "
						"sessions created meanwhile", st->cfg.restore_wait_secs);
			}
			return false;
		}
		st->loaded = l;
		st->n_loaded = n;
		st->next_loaded = 0;
		st->phase = RESTORE_RUN;
		st->restore_loaded_ms = now_ms;
		LOG(INFO, "restoring %u stored session(s)%s, loaded in %lld ms", n,
				st->late ? " (late)" : "",
				(long long)(now_ms - st->restore_started_ms));
	}
	restore_some(st, RESTORE_STEP);
	if (st->next_loaded < st->n_loaded)
		return false;
	state_loaded_free(st->loaded, st->n_loaded);
	st->loaded = NULL;
	st->n_loaded = 0;
	st->phase = RESTORE_NONE;
	st->ready = true;
	LOG(NOTICE, "restored %u session(s), %u of them as ERROR, %u left out, in %lld ms "
			"(%lld ms re-creating them)", st->restored + st->restored_error,
			st->restored_error, st->skipped,
			(long long)(now_ms - st->restore_started_ms),
			(long long)(now_ms - st->restore_loaded_ms));
	return true;
}
