/* [state] role and lease (API.md 1.6) from the config: control/state_standby.c's and
 * control/state.c's glue, so that main.c only calls it. */
#ifndef RTPPROXY_APP_STANDBY_H
#define RTPPROXY_APP_STANDBY_H

#include <stddef.h>

struct config;
struct dp;
struct events;
struct sess_mgr;
struct state;
struct state_standby;

/*
 * With [state] backend = redis: start the lease of the pair (instance, or peer_instance for a
 * standby) and wait for Redis's first answer (restore_wait_secs at most). NULL with err ""
 * when there is no state backend; NULL with err set on failure.
 */
struct state_standby *standby_start(const struct config *cfg, char *err, size_t errlen);

/* The store of API.md 1.6 (its writer thread starts here), standing by when the lease sb
 * (NULL: no pair) says so; sessions it restores join ev's registry. NULL and err on failure. */
struct state *state_start(const struct config *cfg, struct state_standby *sb,
		struct sess_mgr *sm, struct dp *dp, struct events *ev, char *err, size_t errlen);

/* Attach the lease sb (NULL: nothing to do) to the data plane, sessions and events, its
 * verdicts going to the store st. 0, or -1 and err. */
int standby_attach(struct state_standby *sb, struct state *st, struct dp *dp,
		struct sess_mgr *sm, struct events *ev, char *err, size_t errlen);

#endif
