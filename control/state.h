/*
 * The state backend (API.md 1.6): sessions written through to Redis as they change, their
 * counters every checkpoint_secs, and restored on start. The control loop owns this object:
 * it observes the session manager (state_observe), encodes on the control lcore and queues
 * for the writer thread (state_writer.h), which alone talks to Redis, so nothing here ever
 * waits on Redis while serving. Created only with [state] backend = redis.
 */
#ifndef RTPPROXY_STATE_H
#define RTPPROXY_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sess.h"

struct dp;
struct events;
struct state;

struct state_config {
	const char *host;
	uint16_t port;
	const char *key_prefix;
	const char *instance;           /* this appliance's name */
	const char *store_instance;     /* whose sessions the keys hold: instance, or the
					 * peer_instance of a standby pair */
	bool standby;                   /* role = standby: mirror, do not write or restore */
	unsigned checkpoint_secs;
	unsigned restore_wait_secs;
	unsigned max_sessions;          /* sizes the queue */
	struct events *events;          /* restored sessions join its registry (NULL: none) */
};

struct state *state_create(const struct state_config *c, struct sess_mgr *m, struct dp *dp,
		char *err, size_t errlen);
/* Stand in front of observer *o (the events'): session changes are written through. */
void state_observe(struct state *st, struct sess_observer *o);
/* The control loop's share, every pass: restore in steps, checkpoints, resyncs. */
void state_poll(struct state *st, int64_t now_ms);
/* Work is waiting for the next pass (a restore, a checkpoint or a resync in progress): the
 * control loop should not idle in between. */
bool state_busy(const struct state *st);
/* Whether start-up may announce SERVING: the stored sessions are restored, or Redis did not
 * answer within restore_wait_secs (they are restored when it does). */
bool state_ready(const struct state *st);
/* SIGTERM: a last checkpoint is written (2 s at most) and the sessions stay in the store;
 * from here on closing sessions writes nothing. Then the writer stops. */
void state_shutdown(struct state *st);
void state_free(struct state *st);

/* What GetProxyStats and /metrics show (StateBackendStats). */
struct state_stats {
	bool up;
	uint64_t queue_depth;
	int64_t last_checkpoint_age_ms;         /* -1 = none yet */
	const char *role;                       /* "active" | "standby" */
	uint64_t lease_epoch;
	const char *instance, *store_instance;
	uint64_t writes_total, resyncs_total, restored_sessions;
};
void state_stats(const struct state *st, int64_t now_ms, struct state_stats *out);

/* The standby's lease logic (its own file) says what this appliance is now: a standby writes
 * nothing (it mirrors), an active writes through. */
void state_set_role(struct state *st, bool standby, uint64_t lease_epoch);

/*
 * Re-create one stored session from its hash fields "def" and "ctr" (ctr NULL: no counters):
 * at start, late (Redis came back after restore_wait_secs) or at a standby's take-over.
 * refuse_conflicts: what no longer fits is left out (and its key deleted) rather than
 * restored as ERROR. 0 restored, 1 restored as ERROR, -1 not restored (err says why).
 */
int state_restore_one(struct state *st, const char *id, const uint8_t *def, size_t def_len,
		const uint8_t *ctr, size_t ctr_len, bool refuse_conflicts, char *err,
		size_t errlen);

/* Queue session s's definition as it is now (its latch read from the data plane). */
void state_write_session(struct state *st, const struct session *s);

#endif
