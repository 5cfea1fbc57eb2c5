/*
 * The state store's writer: its own thread with its own hiredis connection, taking what the
 * control loop queued (state_queue.h) to Redis. It connects (and reconnects, with backoff) on
 * its own; while Redis is away the queue simply waits. It also loads the stored sessions once
 * when asked (restore), and asks the control loop for a full resync when it finds that Redis
 * lost what it had written (a restart without persistence, a flush).
 * Keys (proto/state.proto): base = key_prefix + store instance; base ":" id per session,
 * base "#changes" (a stream of definition changes), base "#writer:" instance (a token of this
 * process: missing after a reconnect, Redis lost what it had written). Each appliance of a
 * pair has its own marker, so the standby's connection does not make the active resync.
 */
#ifndef RTPPROXY_STATE_WRITER_H
#define RTPPROXY_STATE_WRITER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "state_queue.h"

#define STATE_CHANGES_MAXLEN "100000"   /* XADD MAXLEN ~ */

struct state_writer_config {
	const char *host;
	uint16_t port;
	const char *base;               /* key_prefix + store instance */
	const char *instance;           /* this appliance's: names its "#writer:" marker */
	/* the pair's lease ("EPOCH HOLDER", state_lease.h); NULL = write unconditionally. Each
	 * batch is one MULTI/EXEC under WATCH of it, refused (dropped, counted) while another
	 * holder has it: a cut-off former active does not overwrite the new active's store */
	const char *lease_key;
};

/* One stored session as loaded: its hash's "def" and "ctr" (ctr NULL when none). */
struct state_loaded {
	char id[SESS_ID_MAX + 1];
	uint8_t *def, *ctr;
	size_t def_len, ctr_len;
};

struct state_writer;

/* Start the thread (it connects in the background). NULL and err on failure. */
struct state_writer *state_writer_start(const struct state_writer_config *c,
		struct state_queue *q, char *err, size_t errlen);
/* Stop the thread (what is queued stays queued) and free it. NULL is ignored. */
void state_writer_stop(struct state_writer *w);

/* Connected and writing. */
bool state_writer_up(const struct state_writer *w);
/* Redis lost what was written (or the writer could not tell): the control loop should make
 * the store match with a full resync. Reading clears it. */
bool state_writer_take_resync_request(struct state_writer *w);
/* The time (unix ms) of the last checkpoint whose counters are all written; 0 = none. */
int64_t state_writer_last_checkpoint(const struct state_writer *w);
/* Commands written so far. */
uint64_t state_writer_writes(const struct state_writer *w);
/* Entries dropped because another appliance held the lease. */
uint64_t state_writer_refused(const struct state_writer *w);

/* Load every stored session of the base once connected (before writing anything). */
void state_writer_request_load(struct state_writer *w);
/* The loaded sessions (the caller's to free with state_loaded_free), or NULL while not done
 * (or when there were none); *n their count. Given once. */
struct state_loaded *state_writer_take_loaded(struct state_writer *w, unsigned *n);
void state_loaded_free(struct state_loaded *l, unsigned n);
/* Whether the load is over (its result given or not). */
bool state_writer_loaded_done(const struct state_writer *w);

#endif
