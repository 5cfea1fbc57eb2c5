/* SPDX-License-Identifier: MIT */
/*
 * The [state] section (API.md 1.6): the session store's backend, where it is, whose sessions
 * these are, and the active/standby role. Names end up in Redis keys, so they are kept to
 * characters that need no quoting and are no SCAN pattern ([A-Za-z0-9._-], the prefix also ':').
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <rte_common.h>
#include <rte_string_fns.h>

#include "config.h"
#include "config_keys.h"

#define NAME_WHAT "a name of 1..64 characters [A-Za-z0-9._-]"

void
cfg_state_defaults(struct config *cfg)
{
	char host[256];

	cfg->state_redis = false;
	strlcpy(cfg->state_redis_host, "127.0.0.1", sizeof(cfg->state_redis_host));
	cfg->state_redis_port = 6379;
	strlcpy(cfg->state_key_prefix, "rtpproxy:", sizeof(cfg->state_key_prefix));
	cfg->state_instance[0] = '\0';
	if (gethostname(host, sizeof(host)) == 0) {
		host[sizeof(host) - 1] = '\0';
		strlcpy(cfg->state_instance, host, sizeof(cfg->state_instance));
	}
	cfg->state_standby = false;
	cfg->state_peer_instance[0] = '\0';
	cfg->state_lease_ms = 1000;
	cfg->state_checkpoint_secs = 5;
	cfg->state_restore_wait_secs = 10;
}

/* Characters of S all in [A-Za-z0-9._-] (and ':' when colon), 1..64 of them (0.. if empty_ok). */
static bool
is_name(const char *s, bool colon, bool empty_ok)
{
	size_t n = strlen(s);

	if (n > CONFIG_STATE_NAME - 1 || (n == 0 && !empty_ok))
		return false;
	for (; *s != '\0'; s++)
		if (!isalnum((unsigned char)*s) && *s != '.' && *s != '_' && *s != '-' &&
		    !(colon && *s == ':'))
			return false;
	return true;
}

static int
parse_backend(const struct key_rule *r, void *obj, const char *val, struct bad *bad)
{
	struct config *cfg = obj;

	RTE_SET_USED(r);
	RTE_SET_USED(bad);
	if (strcmp(val, "none") == 0)
		cfg->state_redis = false;
	else if (strcmp(val, "redis") == 0)
		cfg->state_redis = true;
	else
		return -1;
	return 0;
}

static int
parse_role(const struct key_rule *r, void *obj, const char *val, struct bad *bad)
{
	struct config *cfg = obj;

	RTE_SET_USED(r);
	RTE_SET_USED(bad);
	if (strcmp(val, "active") == 0)
		cfg->state_standby = false;
	else if (strcmp(val, "standby") == 0)
		cfg->state_standby = true;
	else
		return -1;
	return 0;
}

/* "host:port": a host name or IPv4 literal, or "[IPv6]:port"; port 1..65535. */
static int
parse_redis(const struct key_rule *r, void *obj, const char *val, struct bad *bad)
{
	struct config *cfg = obj;
	char host[CONFIG_STR];
	const char *colon = strrchr(val, ':'), *h = val;
	size_t hlen;
	int64_t port;

	RTE_SET_USED(r);
	RTE_SET_USED(bad);
	if (colon == NULL)
		return -1;
	hlen = (size_t)(colon - val);
	if (val[0] == '[') {
		if (hlen < 3 || val[hlen - 1] != ']')
			return -1;
		h = val + 1;
		hlen -= 2;
	}
	if (hlen == 0 || hlen >= sizeof(host))
		return -1;
	memcpy(host, h, hlen);
	host[hlen] = '\0';
	for (size_t i = 0; i < hlen; i++)
		if (!isalnum((unsigned char)host[i]) && host[i] != '.' && host[i] != '-' &&
		    !(val[0] == '[' && host[i] == ':'))
			return -1;
	port = cfg_parse_dec(colon + 1, 1, 65535);
	if (port < 0)
		return -1;
	strlcpy(cfg->state_redis_host, host, sizeof(cfg->state_redis_host));
	cfg->state_redis_port = (uint16_t)port;
	return 0;
}

static int
parse_name(const struct key_rule *r, void *obj, const char *val, struct bad *bad)
{
	RTE_SET_USED(bad);
	if (!is_name(val, false, false))
		return -1;
	strlcpy((char *)obj + r->off, val, r->size);
	return 0;
}

static int
parse_prefix(const struct key_rule *r, void *obj, const char *val, struct bad *bad)
{
	RTE_SET_USED(bad);
	if (!is_name(val, true, true))
		return -1;
	strlcpy((char *)obj + r->off, val, r->size);
	return 0;
}

#define NAME_KEY(name, field, fn, text) \
	{ .key = name, .parse = fn, .off = offsetof(struct config, field), \
	  .size = sizeof(((struct config *)0)->field), .what = text }

const struct key_rule cfg_state_keys[CFG_N_STATE_KEYS] = {
	{ .key = "backend", .parse = parse_backend, .what = "none or redis" },
	{ .key = "redis", .parse = parse_redis,
	  .what = "host:port or [IPv6]:port, such as 127.0.0.1:6379" },
	NAME_KEY("key_prefix", state_key_prefix, parse_prefix,
		 "0..64 characters [A-Za-z0-9._:-], such as rtpproxy:"),
	NAME_KEY("instance", state_instance, parse_name, NAME_WHAT),
	{ .key = "role", .parse = parse_role, .what = "active or standby" },
	NAME_KEY("peer_instance", state_peer_instance, parse_name, NAME_WHAT),
	UINT_KEY_AS("lease_ms", struct config, state_lease_ms, 100, 60000),
	UINT_KEY_AS("checkpoint_secs", struct config, state_checkpoint_secs, 1, 3600),
	UINT_KEY_AS("restore_wait_secs", struct config, state_restore_wait_secs, 0, 3600),
};

int
cfg_finish_state(struct load_ctx *ctx, const struct section_rule *sr, const char *sec,
		 void *obj, uint32_t seen)
{
	const struct config *cfg = obj;

	RTE_SET_USED(sr);
	RTE_SET_USED(seen);
	if (!cfg->state_redis) {
		if (cfg->state_standby)
			return cfg_fail(ctx, "[%s] role: expected active with backend = none "
					"(a standby mirrors a store), got \"standby\"", sec);
		return 0;
	}
	if (!is_name(cfg->state_instance, false, false))
		return cfg_fail(ctx, "[%s] instance: expected " NAME_WHAT ", got \"%s\" (the host "
				"name: set instance)", sec, cfg->state_instance);
	if (cfg->state_standby && cfg->state_peer_instance[0] == '\0')
		return cfg_fail(ctx, "[%s] peer_instance: expected the active's instance with "
				"role = standby, got nothing", sec);
	if (cfg->state_peer_instance[0] != '\0' &&
	    strcmp(cfg->state_peer_instance, cfg->state_instance) == 0)
		return cfg_fail(ctx, "[%s] peer_instance: expected another instance than this "
				"one's, got \"%s\" (= instance)", sec, cfg->state_peer_instance);
	return 0;
}
