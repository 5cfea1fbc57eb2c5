/* SPDX-License-Identifier: MIT */
/* Value parsers of the config file: addresses, prefixes, MACs, lists, integers, strings. */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <arpa/inet.h>
#include <sys/socket.h>

#include <rte_common.h>
#include <rte_string_fns.h>

#include "config_keys.h"

char *
cfg_trim(char *s)
{
	size_t n;

	while (isspace((unsigned char)*s))
		s++;
	n = strlen(s);
	while (n > 0 && isspace((unsigned char)s[n - 1]))
		s[--n] = '\0';
	return s;
}

uint32_t
cfg_prefix_mask(uint8_t len)
{
	return len == 0 ? 0 : UINT32_MAX << (32 - len);
}

void
cfg_fmt_prefix(const struct config_prefix *p, char *buf, size_t len)
{
	char a[INET_ADDRSTRLEN];

	inet_ntop(AF_INET, &p->addr, a, sizeof(a));
	snprintf(buf, len, "%s/%u", a, p->len);
}

/* ---- public parsers ---- */

/* Strict dotted quad: inet_aton would take "1.2.3", hex and octal ("010" is 8). */
int
config_parse_ipv4(const char *s, struct in_addr *out)
{
	uint32_t a = 0;
	unsigned int part, v, digits;

	if (s == NULL)
		return -1;
	for (part = 0; part < 4; part++) {
		if (part > 0 && *s++ != '.')
			return -1;
		if (!isdigit((unsigned char)s[0]))
			return -1;
		if (s[0] == '0' && isdigit((unsigned char)s[1]))
			return -1;
		for (v = 0, digits = 0; isdigit((unsigned char)*s) && digits < 3; digits++)
			v = v * 10 + (*s++ - '0');
		if (isdigit((unsigned char)*s) || v > 255)
			return -1;
		a = a << 8 | v;
	}
	if (*s != '\0')
		return -1;
	out->s_addr = htonl(a);
	return 0;
}

/* "a.b.c.d/N", N 0..32; host bits are kept (an interface address has them). */
int
config_parse_prefix(const char *s, struct config_prefix *out)
{
	char ip[INET_ADDRSTRLEN];
	const char *slash, *n;
	unsigned int len = 0;

	if (s == NULL)
		return -1;
	slash = strchr(s, '/');
	if (slash == NULL || (size_t)(slash - s) >= sizeof(ip))
		return -1;
	memcpy(ip, s, slash - s);
	ip[slash - s] = '\0';
	n = slash + 1;
	if (!isdigit((unsigned char)n[0]) || (n[0] == '0' && n[1] != '\0'))
		return -1;
	for (; isdigit((unsigned char)*n) && len <= 32; n++)
		len = len * 10 + (*n - '0');
	if (*n != '\0' || len > 32)
		return -1;
	if (config_parse_ipv4(ip, &out->addr) < 0)
		return -1;
	out->len = len;
	return 0;
}

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = tolower((unsigned char)c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* "02:00:00:00:02:02": six colon-separated pairs of hex digits, either case. */
int
config_parse_mac(const char *s, uint8_t mac[6])
{
	uint8_t m[6];
	int i, hi, lo;

	if (s == NULL)
		return -1;
	for (i = 0; i < 6; i++, s += 3) {
		hi = hexval(s[0]);
		lo = hi < 0 ? -1 : hexval(s[1]);
		if (lo < 0 || s[2] != (i < 5 ? ':' : '\0'))
			return -1;
		m[i] = hi << 4 | lo;
	}
	memcpy(mac, m, sizeof(m));
	return 0;
}

bool
config_prefix_contains(const struct config_prefix *p, struct in_addr a)
{
	uint32_t mask = cfg_prefix_mask(p->len);

	return ((ntohl(p->addr.s_addr) ^ ntohl(a.s_addr)) & mask) == 0;
}

bool
config_dest_allowed(const struct config *cfg, struct in_addr a)
{
	unsigned int i;

	if (cfg->n_allowed == 0)
		return true;
	for (i = 0; i < cfg->n_allowed; i++)
		if (config_prefix_contains(&cfg->allowed[i], a))
			return true;
	return false;
}

void
config_defaults(struct config *cfg)
{
	unsigned int i;

	memset(cfg, 0, sizeof(*cfg));
	cfg->workers = 1;
	cfg->mbufs = 16383;
	cfg->idle_sleep_us = 0;
	strlcpy(cfg->grpc_listen, "[::]:50051", sizeof(cfg->grpc_listen));
	cfg->max_sessions = 65536;
	cfg->port_min = 20000;
	cfg->port_max = 59999;
	cfg->idle_timeout_secs = 300;
	cfg->closed_retention_secs = 60;
	cfg->tcp_connect_timeout_ms = 5000;
	cfg->tcp_buffer_kib = 64;
	cfg->tcp_max_connections = 10000;
	cfg->tcp_max_conns_per_session = 64;
	cfg->max_message_bytes = 65536;
	cfg->max_streams = 64;
	cfg->stream_queue = 4096;
	strlcpy(cfg->http_listen, "127.0.0.1:9464", sizeof(cfg->http_listen));
	cfg_state_defaults(cfg);
	for (i = 0; i < RTE_DIM(cfg->clock_rate); i++)
		cfg->clock_rate[i] = CONFIG_CLOCK_RATE_DEFAULT;
}

/* ---- value parsers for the key tables ---- */

bool
cfg_is_unicast(struct in_addr a)
{
	uint32_t first = ntohl(a.s_addr) >> 24;

	return first != 0 && first != 127 && first < 224;
}

int
cfg_ipv6_unsupported(struct bad *bad, const char *kind)
{
	snprintf(bad->what, sizeof(bad->what), "%s (IPv6 is not supported yet)", kind);
	return -1;
}
typedef int (*item_fn_t)(void *obj, const char *item, struct bad *bad);

/* FN on each comma-separated, trimmed item of VAL; an empty VAL has none, "a,,b" has "". */
int
cfg_for_each_item(const char *val, item_fn_t fn, void *obj, struct bad *bad)
{
	char buf[CFG_VALUE_LEN];
	char *item = buf, *comma;

	if (*val == '\0')
		return 0;
	if (strlcpy(buf, val, sizeof(buf)) >= sizeof(buf))
		return -1;
	for (;;) {
		comma = strchr(item, ',');
		if (comma != NULL)
			*comma = '\0';
		item = cfg_trim(item);
		if (fn(obj, item, bad) < 0) {
			strlcpy(bad->got, item, sizeof(bad->got));
			return -1;
		}
		if (comma == NULL)
			return 0;
		item = comma + 1;
	}
}

int
cfg_parse_uint(const struct key_rule *r, void *obj, const char *val, struct bad *bad)
{
	void *field = (char *)obj + r->off;
	uint64_t v = 0;
	const char *p;

	RTE_SET_USED(bad);
	if (*val == '\0')
		return -1;
	for (p = val; *p != '\0'; p++) {
		if (!isdigit((unsigned char)*p))
			return -1;
		v = v * 10 + (*p - '0');
		if (v > r->max)
			return -1;
	}
	if (v < r->min)
		return -1;
	if (r->size == sizeof(uint16_t))
		*(uint16_t *)field = v;
	else
		*(unsigned int *)field = v;
	return 0;
}

int
cfg_parse_string(const struct key_rule *r, void *obj, const char *val, struct bad *bad)
{
	RTE_SET_USED(bad);
	return strlcpy((char *)obj + r->off, val, r->size) < r->size ? 0 : -1;
}
/* A decimal number lo..hi without sign or leading zeros, all of S; -1 otherwise. */
int64_t
cfg_parse_dec(const char *s, uint32_t lo, uint32_t hi)
{
	uint64_t v = 0;

	if (!isdigit((unsigned char)*s) || (s[0] == '0' && s[1] != '\0'))
		return -1;
	for (; isdigit((unsigned char)*s) && v <= hi; s++)
		v = v * 10 + (*s - '0');
	return *s == '\0' && v >= lo && v <= hi ? (int64_t)v : -1;
}

int
config_parse_hostport(const char *s, struct sockaddr_storage *out, unsigned *len)
{
	char host[INET6_ADDRSTRLEN + 1];
	const char *colon;
	int64_t port;

	memset(out, 0, sizeof(*out));
	if (s[0] == '[') {
		const char *end = strchr(s, ']');
		struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)out;

		if (end == NULL || end[1] != ':' || (size_t)(end - s - 1) >= sizeof(host))
			return -1;
		memcpy(host, s + 1, end - s - 1);
		host[end - s - 1] = '\0';
		if (inet_pton(AF_INET6, host, &a6->sin6_addr) != 1)
			return -1;
		colon = end + 1;
		a6->sin6_family = AF_INET6;
		*len = sizeof(*a6);
	} else {
		struct sockaddr_in *a4 = (struct sockaddr_in *)out;

		colon = strchr(s, ':');
		if (colon == NULL || (size_t)(colon - s) >= sizeof(host))
			return -1;
		memcpy(host, s, colon - s);
		host[colon - s] = '\0';
		if (config_parse_ipv4(host, &a4->sin_addr) < 0)
			return -1;
		a4->sin_family = AF_INET;
		*len = sizeof(*a4);
	}
	port = cfg_parse_dec(colon + 1, 1, 65535);
	if (port < 0)
		return -1;
	/* sin_port and sin6_port are at the same offset */
	((struct sockaddr_in *)out)->sin_port = htons((uint16_t)port);
	return 0;
}

/* [http] listen: an address literal and a port, or "" (no HTTP server). */
int
cfg_parse_http_listen(const struct key_rule *r, void *obj, const char *val, struct bad *bad)
{
	struct sockaddr_storage ss;
	unsigned len;

	if (val[0] != '\0' && config_parse_hostport(val, &ss, &len) < 0)
		return -1;
	return cfg_parse_string(r, obj, val, bad);
}
