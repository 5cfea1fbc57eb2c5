/* SPDX-License-Identifier: MIT */
/*
 * The config file of API.md section 2. rte_cfgfile splits the INI; the tables below say which
 * sections and keys exist and how each value is parsed, so adding a key is one table line.
 * Every failure becomes one line naming the file, the section, the key and what was expected.
 * The [portN] keys' parsers and checks are config_port.c; the first pass over the lines,
 * config_lint.c; value parsers several sections share, config_values.c.
 */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>

#include <rte_cfgfile.h>
#include <rte_common.h>
#include <rte_string_fns.h>

#include "config.h"
#include "config_keys.h"


#define CONFIG_MAX_WORKERS (RTE_MAX_LCORE - 1)  /* the main lcore is not a worker */

int __attribute__((format(printf, 2, 3)))
cfg_fail(struct load_ctx *ctx, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (ctx->err == NULL || ctx->errlen == 0)
		return -1;
	n = snprintf(ctx->err, ctx->errlen, "%s: ", ctx->file);
	if (n < 0 || (size_t)n >= ctx->errlen)
		return -1;
	va_start(ap, fmt);
	vsnprintf(ctx->err + n, ctx->errlen - n, fmt, ap);
	va_end(ap);
	return -1;
}

static int
parse_tcp_port(const char *s)
{
	unsigned int v = 0;

	if (!isdigit((unsigned char)*s) || *s == '0')
		return -1;
	for (; isdigit((unsigned char)*s) && v <= 65535; s++)
		v = v * 10 + (*s - '0');
	return *s == '\0' && v <= 65535 ? (int)v : -1;
}

/* "host:port" or "[v6]:port", as grpc_server_add_http2_port() takes it. */
static int
parse_listen(const struct key_rule *r, void *obj, const char *val, struct bad *bad)
{
	char host[CFG_VALUE_LEN];
	const char *colon, *p;
	struct in6_addr a6;
	struct in_addr a4;

	/* a unix socket: reachable from every network namespace (the lab's tests use it) */
	if (strncmp(val, "unix:", 5) == 0)
		return val[5] == '/' ? cfg_parse_string(r, obj, val, bad) : -1;
	if (val[0] == '[') {
		const char *end = strchr(val, ']');

		if (end == NULL || end[1] != ':')
			return -1;
		memcpy(host, val + 1, end - val - 1);
		host[end - val - 1] = '\0';
		if (inet_pton(AF_INET6, host, &a6) != 1)
			return -1;
		colon = end + 1;
	} else {
		colon = strchr(val, ':');
		if (colon == NULL || colon == val || strchr(colon + 1, ':') != NULL)
			return -1;
		memcpy(host, val, colon - val);
		host[colon - val] = '\0';
		for (p = host; *p != '\0'; p++)
			if (!isalnum((unsigned char)*p) && *p != '.' && *p != '-')
				return -1;
		/* All digits and dots: it must be an address, not a host name. */
		if (strspn(host, "0123456789.") == strlen(host) &&
		    config_parse_ipv4(host, &a4) < 0)
			return -1;
	}
	if (parse_tcp_port(colon + 1) < 0)
		return -1;
	return cfg_parse_string(r, obj, val, bad);
}

static int
add_allowed(void *obj, const char *item, struct bad *bad)
{
	struct config *cfg = obj;
	struct config_prefix p;
	uint32_t a;
	char net[INET_ADDRSTRLEN + 4];

	if (strchr(item, ':') != NULL)
		return cfg_ipv6_unsupported(bad, "an IPv4 prefix");
	if (strchr(item, '/') != NULL) {
		if (config_parse_prefix(item, &p) < 0)
			return -1;
	} else {
		if (config_parse_ipv4(item, &p.addr) < 0)
			return -1;
		p.len = 32;
	}
	/* 198.18.1.1/15 is more likely a typo than a way to say 198.18.0.0/15. */
	a = ntohl(p.addr.s_addr);
	if ((a & ~cfg_prefix_mask(p.len)) != 0) {
		p.addr.s_addr = htonl(a & cfg_prefix_mask(p.len));
		cfg_fmt_prefix(&p, net, sizeof(net));
		snprintf(bad->what, sizeof(bad->what),
			 "a network prefix without host bits, such as %s", net);
		return -1;
	}
	if (cfg->n_allowed == CONFIG_MAX_ALLOWED) {
		snprintf(bad->what, sizeof(bad->what), "at most %u prefixes", CONFIG_MAX_ALLOWED);
		return -1;
	}
	cfg->allowed[cfg->n_allowed++] = p;
	return 0;
}

static int
parse_allowed(const struct key_rule *r, void *obj, const char *val, struct bad *bad)
{
	struct config *cfg = obj;

	RTE_SET_USED(r);
	cfg->n_allowed = 0;
	return cfg_for_each_item(val, add_allowed, cfg, bad);
}

/* [rtp] clock_rates: which payload types the list has set so far, to refuse a second one. */
struct clock_rates {
	struct config *cfg;
	uint64_t seen[2];
};

/* "PT:HZ": payload type 0..127, clock rate 1..CONFIG_CLOCK_RATE_MAX. */
static int
add_clock_rate(void *obj, const char *item, struct bad *bad)
{
	struct clock_rates *cr = obj;
	char pt_s[8];
	const char *colon = strchr(item, ':');
	int64_t pt, hz;

	if (colon == NULL || (size_t)(colon - item) >= sizeof(pt_s))
		return -1;
	memcpy(pt_s, item, colon - item);
	pt_s[colon - item] = '\0';
	pt = cfg_parse_dec(pt_s, 0, 127);
	hz = cfg_parse_dec(colon + 1, 1, CONFIG_CLOCK_RATE_MAX);
	if (pt < 0 || hz < 0)
		return -1;
	if (cr->seen[pt / 64] & (1ull << (pt % 64))) {
		snprintf(bad->what, sizeof(bad->what), "each payload type once");
		return -1;
	}
	cr->seen[pt / 64] |= 1ull << (pt % 64);
	cr->cfg->clock_rate[pt] = (uint32_t)hz;
	return 0;
}

/* Payload types the list leaves out keep the default rate; an empty list sets none. */
static int
parse_clock_rates(const struct key_rule *r, void *obj, const char *val, struct bad *bad)
{
	struct clock_rates cr = { .cfg = obj };
	unsigned int i;

	RTE_SET_USED(r);
	for (i = 0; i < RTE_DIM(cr.cfg->clock_rate); i++)
		cr.cfg->clock_rate[i] = CONFIG_CLOCK_RATE_DEFAULT;
	return cfg_for_each_item(val, add_clock_rate, &cr, bad);
}

/* ---- the tables ---- */

static const struct key_rule eal_keys[] = {
	{ .key = "args", .parse = cfg_parse_string, .off = offsetof(struct config, eal_args),
	  .size = sizeof(((struct config *)0)->eal_args), .what = "EAL arguments" },
};

static const struct key_rule dataplane_keys[] = {
	UINT_KEY(struct config, workers, 1, CONFIG_MAX_WORKERS),
	UINT_KEY(struct config, mbufs, 1023, 16777215),
	UINT_KEY(struct config, idle_sleep_us, 0, 100000),
};

static const struct key_rule port_keys[] = {
	{ .key = "device", .parse = cfg_parse_device, .required = true,
	  .what = "a DPDK vdev spec or a PCI address such as 0000:03:00.0" },
	UINT_KEY(struct config_port, vlan, 0, 4094),
	{ .key = "address", .parse = cfg_parse_port_addrs, .required = true,
	  .what = "IPv4 addresses with their prefix length, such as 198.18.1.1/24 or "
		  "198.18.1.10-198.18.1.41/24" },
	{ .key = "gateway", .parse = cfg_parse_gateway, .what = "an IPv4 address" },
	{ .key = "exception", .parse = cfg_parse_exception,
	  .what = "an interface name of 1..15 characters [A-Za-z0-9_.-]" },
	{ .key = "neighbors", .parse = cfg_parse_neighbors,
	  .what = "IPv4@MAC such as 198.18.2.2@02:00:00:00:02:02" },
	{ .key = "kernel_allow", .parse = cfg_parse_kernel_allow,
	  .what = "services as tcp/PORT or udp/PORT, such as tcp/22, udp/161" },
	UINT_KEY(struct config_port, exception_rate_pps, 0, 100000000),
};

/* A path key of struct config: FIELD filled by PARSE (readable or writable). */
#define PATH_KEY(name, field, parse_fn, text) \
	{ .key = name, .parse = parse_fn, .off = offsetof(struct config, field), \
	  .size = sizeof(((struct config *)0)->field), .what = text }

static const struct key_rule grpc_keys[] = {
	{ .key = "listen", .parse = parse_listen, .off = offsetof(struct config, grpc_listen),
	  .size = sizeof(((struct config *)0)->grpc_listen),
	  .what = "host:port, [IPv6]:port or unix:/absolute/path, such as [::]:50051" },
	PATH_KEY("tls_cert", tls_cert, cfg_parse_readable, "a readable PEM certificate chain"),
	PATH_KEY("tls_key", tls_key, cfg_parse_readable, "a readable PEM private key"),
	PATH_KEY("tls_client_ca", tls_client_ca, cfg_parse_readable,
		 "a readable PEM CA certificate"),
	PATH_KEY("tokens_file", tokens_file, cfg_parse_readable,
		 "a readable file of \"TOKEN ROLE NAME\" lines"),
	{ .key = "allowed_peers", .parse = cfg_parse_peers,
	  .what = "IPv4 or IPv6 networks such as 198.18.0.0/15, ::1/128" },
	UINT_KEY(struct config, max_message_bytes, 1024, 67108864),
	UINT_KEY(struct config, max_streams, 1, 100000),
	UINT_KEY(struct config, stream_queue, 16, 1048576),
};

static const struct key_rule audit_keys[] = {
	PATH_KEY("file", audit_file, cfg_parse_writable,
		 "a file path in an existing directory"),
};

static const struct key_rule http_keys[] = {
	{ .key = "listen", .parse = cfg_parse_http_listen,
	  .off = offsetof(struct config, http_listen),
	  .size = sizeof(((struct config *)0)->http_listen),
	  .what = "IPv4:port or [IPv6]:port (address literals), or empty for no HTTP server, "
		  "such as 127.0.0.1:9464" },
};

static const struct key_rule sessions_keys[] = {
	UINT_KEY(struct config, max_sessions, 1, 16777216),
	UINT_KEY(struct config, port_min, 1, 65535),
	UINT_KEY(struct config, port_max, 1, 65535),
	UINT_KEY(struct config, idle_timeout_secs, 1, 86400),
	{ .key = "allowed_destinations", .parse = parse_allowed,
	  .what = "an IPv4 prefix such as 198.18.0.0/15" },
	UINT_KEY(struct config, closed_retention_secs, 0, 86400),
};

static const struct key_rule rtp_keys[] = {
	{ .key = "clock_rates", .parse = parse_clock_rates,
	  .what = "PT:HZ with a payload type 0..127 and a clock rate 1.."
		  RTE_STR(CONFIG_CLOCK_RATE_MAX) ", such as 96:90000" },
};

static const struct key_rule tcp_keys[] = {
	UINT_KEY_AS("connect_timeout_ms", struct config, tcp_connect_timeout_ms, 100, 600000),
	UINT_KEY_AS("buffer_kib", struct config, tcp_buffer_kib, 4, 4096),
	UINT_KEY_AS("max_connections", struct config, tcp_max_connections, 1, 1000000),
	UINT_KEY_AS("max_connections_per_session", struct config, tcp_max_conns_per_session,
		    1, 1000000),
};

static int finish_grpc(struct load_ctx *ctx, const struct section_rule *sr, const char *sec,
		       void *obj, uint32_t seen);
static int finish_sessions(struct load_ctx *ctx, const struct section_rule *sr,
			   const char *sec, void *obj, uint32_t seen);

static const struct section_rule section_rules[] = {
	{ "eal", false, eal_keys, RTE_DIM(eal_keys), NULL },
	{ "dataplane", false, dataplane_keys, RTE_DIM(dataplane_keys), NULL },
	{ "port", true, port_keys, RTE_DIM(port_keys), cfg_finish_port },
	{ "grpc", false, grpc_keys, RTE_DIM(grpc_keys), finish_grpc },
	{ "audit", false, audit_keys, RTE_DIM(audit_keys), NULL },
	{ "http", false, http_keys, RTE_DIM(http_keys), NULL },
	{ "sessions", false, sessions_keys, RTE_DIM(sessions_keys), finish_sessions },
	{ "rtp", false, rtp_keys, RTE_DIM(rtp_keys), NULL },
	{ "tcp", false, tcp_keys, RTE_DIM(tcp_keys), NULL },
	{ "state", false, cfg_state_keys, CFG_N_STATE_KEYS, cfg_finish_state },
};

static int
key_index(const struct section_rule *sr, const char *key)
{
	unsigned int i;

	for (i = 0; i < sr->n_keys; i++)
		if (strcmp(sr->keys[i].key, key) == 0)
			return i;
	return -1;
}


/* TLS needs a certificate and its key; mutual TLS needs TLS. */
static int
finish_grpc(struct load_ctx *ctx, const struct section_rule *sr, const char *sec, void *obj,
	    uint32_t seen)
{
	const struct config *cfg = obj;

	RTE_SET_USED(sr);
	RTE_SET_USED(seen);
	if ((cfg->tls_cert[0] == '\0') != (cfg->tls_key[0] == '\0'))
		return cfg_fail(ctx, "[%s] %s: expected tls_cert and tls_key together, got only %s",
			        sec, cfg->tls_cert[0] ? "tls_key" : "tls_cert",
			        cfg->tls_cert[0] ? "tls_cert" : "tls_key");
	if (cfg->tls_client_ca[0] != '\0' && cfg->tls_cert[0] == '\0')
		return cfg_fail(ctx, "[%s] tls_client_ca: expected with tls_cert and tls_key "
			        "(mutual TLS is TLS first), got it alone", sec);
	return 0;
}

static int
finish_sessions(struct load_ctx *ctx, const struct section_rule *sr, const char *sec,
		void *obj, uint32_t seen)
{
	const struct config *cfg = obj;
	int max_idx = key_index(sr, "port_max");

	if (cfg->port_min <= cfg->port_max)
		return 0;
	return cfg_fail(ctx, "[%s] port_max: expected a port >= port_min (%u), got \"%u\"%s",
		        sec, cfg->port_min, cfg->port_max,
		        (seen & (1u << max_idx)) ? "" : " (the default)");
}

/* "port3" -> 3; -1 when it is not "port" and a plain decimal number. */
static int
port_number(const char *sec)
{
	const char *d = sec + strlen("port");
	unsigned int n = 0;

	if (strncmp(sec, "port", strlen("port")) != 0 || !isdigit((unsigned char)*d) ||
	    (d[0] == '0' && d[1] != '\0') || strlen(d) > 3)
		return -1;
	for (; isdigit((unsigned char)*d); d++)
		n = n * 10 + (*d - '0');
	return *d == '\0' ? (int)n : -1;
}

static int
fail_unknown_key(struct load_ctx *ctx, const char *sec, const struct section_rule *sr,
		 const char *key)
{
	char list[256] = "";
	unsigned int i;

	for (i = 0; i < sr->n_keys; i++) {
		strlcat(list, i == 0 ? "" : ", ", sizeof(list));
		strlcat(list, sr->keys[i].key, sizeof(list));
	}
	return cfg_fail(ctx, "[%s] %s: unknown key (expected one of: %s)", sec, key, list);
}

static int
load_entry(struct load_ctx *ctx, const char *sec, const struct section_rule *sr, void *obj,
	   const struct rte_cfgfile_entry *e, int j, uint32_t *seen)
{
	const struct key_rule *r;
	struct bad bad;
	int k = key_index(sr, e[j].name);
	int i;

	if (k < 0)
		return fail_unknown_key(ctx, sec, sr, e[j].name);
	if (*seen & (1u << k)) {
		for (i = 0; i < j && strcmp(e[i].name, e[j].name) != 0; i++)
			;
		return cfg_fail(ctx, "[%s] %s: expected the key only once, got \"%s\" after \"%s\"",
			        sec, e[j].name, e[j].value, e[i].value);
	}
	*seen |= 1u << k;
	r = &sr->keys[k];
	if (r->what != NULL)
		strlcpy(bad.what, r->what, sizeof(bad.what));
	else
		snprintf(bad.what, sizeof(bad.what), "an integer %u..%u", r->min, r->max);
	strlcpy(bad.got, e[j].value, sizeof(bad.got));
	if (r->parse(r, obj, e[j].value, &bad) < 0)
		return cfg_fail(ctx, "[%s] %s: expected %s, got \"%s\"", sec, r->key, bad.what,
			        bad.got);
	return 0;
}

static void *
fail_unknown_section(struct load_ctx *ctx, const char *sec)
{
	cfg_fail(ctx, "[%s]: unknown section (expected eal, dataplane, portN, grpc, audit, http, "
	         "sessions, rtp, tcp, state)", sec);
	return NULL;
}

/* The port [portN]'s keys fill, after checking N; NULL after reporting why not. */
static void *
begin_port(struct load_ctx *ctx, const char *sec)
{
	struct config_port *port;
	int n = port_number(sec);

	if (n < 0)
		return fail_unknown_section(ctx, sec);
	if (n >= CONFIG_MAX_PORTS) {
		cfg_fail(ctx, "[%s]: expected a port section port0..port%u, got \"%s\"", sec,
		         CONFIG_MAX_PORTS - 1, sec);
		return NULL;
	}
	if (ctx->ports_seen & (1u << n)) {
		cfg_fail(ctx, "[%s]: expected each section once, got a second [%s]", sec, sec);
		return NULL;
	}
	ctx->ports_seen |= 1u << n;
	port = &ctx->cfg->ports[n];
	strlcpy(port->name, sec, sizeof(port->name));
	snprintf(port->exception, sizeof(port->exception), "rtp%d", n);
	port->exception_rate_pps = CONFIG_EXCEPTION_RATE_DEFAULT;
	return port;
}

/* Which rule SEC follows and the object its keys fill; NULL after reporting why not. */
static void *
begin_section(struct load_ctx *ctx, const char *sec, const struct section_rule **srp)
{
	const struct section_rule *sr;
	unsigned int i;

	for (i = 0; i < RTE_DIM(section_rules); i++) {
		sr = *srp = &section_rules[i];
		if (sr->numbered && strncmp(sec, sr->name, strlen(sr->name)) == 0)
			return begin_port(ctx, sec);
		if (sr->numbered || strcmp(sec, sr->name) != 0)
			continue;
		if (ctx->sections_seen & (1u << i)) {
			cfg_fail(ctx, "[%s]: expected each section once, got a second [%s]", sec,
				 sec);
			return NULL;
		}
		ctx->sections_seen |= 1u << i;
		return ctx->cfg;
	}
	return fail_unknown_section(ctx, sec);
}

static int
load_section(struct load_ctx *ctx, struct rte_cfgfile *ini, int idx)
{
	const struct section_rule *sr;
	struct rte_cfgfile_entry *e = NULL;
	char sec[CFG_NAME_LEN];
	uint32_t seen = 0;
	void *obj;
	int n, j, rc = 0;

	n = rte_cfgfile_section_num_entries_by_index(ini, sec, idx);
	if (n < 0)
		return cfg_fail(ctx, "cannot read: section %d vanished", idx);
	obj = begin_section(ctx, sec, &sr);
	if (obj == NULL)
		return -1;
	if (n > 0) {
		e = calloc(n, sizeof(*e));
		if (e == NULL)
			return cfg_fail(ctx, "cannot read: %s", strerror(ENOMEM));
		n = rte_cfgfile_section_entries_by_index(ini, idx, sec, e, n);
	}
	for (j = 0; j < n && rc == 0; j++)
		rc = load_entry(ctx, sec, sr, obj, e, j, &seen);
	free(e);
	for (j = 0; j < (int)sr->n_keys && rc == 0; j++)
		if (sr->keys[j].required && (seen & (1u << j)) == 0)
			rc = cfg_fail(ctx,
				      "[%s] %s: expected %s, got nothing (the key is required)",
				      sec, sr->keys[j].key, sr->keys[j].what);
	if (rc == 0 && sr->finish != NULL)
		rc = sr->finish(ctx, sr, sec, obj, seen);
	return rc;
}


int
config_load(const char *file, struct config *cfg, char *err, size_t errlen)
{
	struct load_ctx ctx = { .file = file, .cfg = cfg, .err = err, .errlen = errlen };
	struct rte_cfgfile *ini;
	int i, n, rc = 0;

	config_defaults(cfg);
	strlcpy(cfg->path, file, sizeof(cfg->path));
	if (cfg_lint_file(&ctx) < 0)
		return -1;
	/* Empty values are allowed: "allowed_destinations =" means any destination. */
	ini = rte_cfgfile_load(file, CFG_FLAG_EMPTY_VALUES);
	if (ini == NULL)
		return cfg_fail(&ctx, "cannot read: rte_cfgfile_load failed");
	n = rte_cfgfile_num_sections(ini, NULL, 0);
	for (i = 0; i < n && rc == 0; i++)
		rc = load_section(&ctx, ini, i);
	rte_cfgfile_close(ini);
	if (rc == 0)
		rc = cfg_check_ports(&ctx);
	return rc;
}
