/* The state backend's insides, shared by state.c (write-through, checkpoints, resyncs) and
 * state_restore.c (sessions back from the store). Not for anyone else. */
#ifndef RTPPROXY_STATE_INT_H
#define RTPPROXY_STATE_INT_H

#include "log.h"
#include "state.h"
#include "state_queue.h"
#include "state_writer.h"

#define LOG(level, fmt, ...) RTE_LOG(level, SESS, "state: " fmt "\n", ##__VA_ARGS__)

/* Where a walk over every session stands between control-loop passes: the next session's
 * id and serial (found again by id; by serial when it was forgotten meanwhile). */
struct state_walk {
	bool on;
	uint64_t serial;
	char id[SESS_ID_MAX + 1];
	int64_t started_ms;
};

enum state_restore_phase {
	RESTORE_NONE,           /* not asked (standby) or finished */
	RESTORE_WAIT,           /* the writer loads the store */
	RESTORE_RUN,            /* re-creating them, some per pass */
};

struct state {
	struct state_config cfg;
	char host[256], key_prefix[80], instance[80], store_instance[80], base[160];
	struct sess_mgr *m;
	struct dp *dp;
	struct state_queue *q;
	struct state_writer *w;
	struct sess_observer next;
	bool standby;
	uint64_t epoch;
	bool shutting;          /* SIGTERM: closing sessions is not a destroy */
	bool ready;             /* SERVING may be announced */
	/* restore */
	enum state_restore_phase phase;
	int64_t restore_deadline_ms;
	bool late;              /* restore_wait_secs passed: conflicts are refused, not ERROR */
	struct state_loaded *loaded;
	unsigned n_loaded, next_loaded;
	unsigned restored, restored_error, skipped;
	int64_t restore_started_ms, restore_loaded_ms;
	/* resync and checkpoints */
	bool resync_pending;
	struct state_walk resync, ckpt;
	int64_t next_ckpt_ms;
	uint64_t resyncs, restored_total;
	uint64_t writes_final;  /* the writer's count when it stopped */
};

/* state_restore.c: the restore's share of state_poll (false: nothing else this pass). */
bool state_restore_poll(struct state *st, int64_t now_ms);

/* Queue an entry; a full queue marks the store for a resync. */
void state_push(struct state *st, struct state_entry *e);

#endif
