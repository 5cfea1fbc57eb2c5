/*
 * The hot standby (API.md 1.6) on the control lcore: the lease decides whether this
 * appliance relays pair A's sessions; while it does not, the data plane is passive and the
 * mirror keeps A's sessions installed and ready; when the lease comes to it, it takes over
 * (relay, announce, counters from the last checkpoint, sessions on the event streams, the
 * store written as A). The same code serves a configured active: one that finds a newer
 * holder's lease at start, or loses the lease later, stands by.
 */
#ifndef RTPPROXY_STATE_STANDBY_H
#define RTPPROXY_STATE_STANDBY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct dp;
struct sess_mgr;
struct events;

struct state_standby_conf {
	const char *host;               /* Redis */
	uint16_t port;
	const char *key_prefix;
	const char *pair;               /* A: instance (active) or peer_instance (standby) */
	const char *holder;             /* this appliance's instance name */
	unsigned lease_ms;
	bool active;                    /* [state] role = active */
	unsigned decide_wait_ms;        /* start-up: how long Redis may take to answer first */
};

/* What the state store (control/state_*.c of the writer) is told. */
struct state_standby_hooks {
	void *ctx;
	/* false: a standby writes nothing (the store is the holder's); true: after a take-over,
	 * write as A again, starting with a full resync */
	void (*store_writes)(void *ctx, bool on);
	/* role and lease epoch for StateBackendStats and /metrics */
	void (*role)(void *ctx, bool active, uint64_t epoch);
};

struct state_standby;

/* Start the lease and wait (decide_wait_ms at most) for its first answer, so the data plane
 * can be created passive or not. NULL and err on failure. */
struct state_standby *state_standby_start(const struct state_standby_conf *c, char *err,
		size_t errlen);
/* Whether this appliance relays now (before attach: what the lease decided at start). */
bool state_standby_relaying(const struct state_standby *sb);
/* The data plane (created passive when !state_standby_relaying), sessions and events; a
 * standby starts its mirror here. 0, or -1 and err. */
int state_standby_attach(struct state_standby *sb, struct dp *dp, struct sess_mgr *sm,
		struct events *ev, const struct state_standby_hooks *h, char *err, size_t errlen);
/* Every control-loop pass: follow the lease, apply what the mirror brought (a bounded
 * amount per pass). */
void state_standby_poll(struct state_standby *sb, int64_t now_ms);
/* Shutdown: the mirror ends; graceful = give the lease up so a standby takes over at once.
 * NULL is ignored. */
void state_standby_stop(struct state_standby *sb, bool graceful);

#endif
