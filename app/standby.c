#include "standby.h"

#include <stdio.h>

#include "config.h"
#include "state_standby.h"

struct state_standby *standby_start(const struct config *cfg, char *err, size_t errlen)
{
	err[0] = '\0';
	if (!cfg->state_redis)
		return NULL;
	struct state_standby_conf c = {
		.host = cfg->state_redis_host,
		.port = cfg->state_redis_port,
		.key_prefix = cfg->state_key_prefix,
		/* the pair is named after its active: a standby serves its peer's sessions */
		.pair = cfg->state_standby ? cfg->state_peer_instance : cfg->state_instance,
		.holder = cfg->state_instance,
		.lease_ms = cfg->state_lease_ms,
		.active = !cfg->state_standby,
		.decide_wait_ms = cfg->state_restore_wait_secs * 1000,
	};
	return state_standby_start(&c, err, errlen);
}
