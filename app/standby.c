#include "standby.h"

#include <stdio.h>

#include "config.h"
#include "state.h"
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

/* The lease's verdict for the store: a standby writes nothing; StateBackendStats. */
static void standby_role(void *ctx, bool active, uint64_t epoch)
{
	if (ctx != NULL)
		state_set_role(ctx, !active, epoch);
}

struct state *state_start(const struct config *cfg, struct state_standby *sb,
		struct sess_mgr *sm, struct dp *dp, struct events *ev, char *err, size_t errlen)
{
	struct state_config c = {
		.host = cfg->state_redis_host, .port = cfg->state_redis_port,
		.key_prefix = cfg->state_key_prefix, .instance = cfg->state_instance,
		.store_instance = cfg->state_standby ? cfg->state_peer_instance :
			cfg->state_instance,
		/* what the lease decided: a configured active that found a newer holder stands by */
		.standby = sb != NULL && !state_standby_relaying(sb),
		.checkpoint_secs = cfg->state_checkpoint_secs,
		.restore_wait_secs = cfg->state_restore_wait_secs,
		.max_sessions = cfg->max_sessions,
		.events = ev,
	};
	return state_create(&c, sm, dp, err, errlen);
}

int standby_attach(struct state_standby *sb, struct state *st, struct dp *dp,
		struct sess_mgr *sm, struct events *ev, char *err, size_t errlen)
{
	if (sb == NULL)
		return 0;
	struct state_standby_hooks sh = { .ctx = st, .role = standby_role };
	return state_standby_attach(sb, dp, sm, ev, &sh, err, errlen);
}
