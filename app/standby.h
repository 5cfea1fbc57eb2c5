/* [state] role and lease (API.md 1.6) from the config: control/state_standby.c's glue. */
#ifndef RTPPROXY_APP_STANDBY_H
#define RTPPROXY_APP_STANDBY_H

#include <stddef.h>

struct config;
struct state_standby;

/*
 * With [state] backend = redis: start the lease of the pair (instance, or peer_instance for a
 * standby) and wait for Redis's first answer (restore_wait_secs at most). NULL with err ""
 * when there is no state backend; NULL with err set on failure.
 */
struct state_standby *standby_start(const struct config *cfg, char *err, size_t errlen);

#endif
