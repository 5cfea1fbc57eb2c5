/* SPDX-License-Identifier: MIT */
/*
 * Inside the config parser: what a key rule is, and the value parsers that several sections
 * share (config_values.c), the port sections' (config_port.c) and the security keys'
 * (config_security.c). Not for use outside app/config*.c.
 */
#ifndef RTPPROXY_CONFIG_KEYS_H
#define RTPPROXY_CONFIG_KEYS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <rte_cfgfile.h>

#include "config.h"

/* What a key expected, and the text at fault: the whole value or one item of a list. */
struct bad {
	char what[192];
	char got[CFG_VALUE_LEN];
};

struct key_rule;

/* Parses VAL into OBJ (struct config, or struct config_port for [portN]); -1 fills *bad. */
typedef int (*key_parse_t)(const struct key_rule *rule, void *obj, const char *val,
		struct bad *bad);

struct key_rule {
	const char *key;
	key_parse_t parse;
	size_t off;          /* field in OBJ, for the generic parsers */
	size_t size;
	uint32_t min, max;   /* integers only */
	bool required;
	const char *what;    /* what a good value looks like; integers say their range */
};

struct load_ctx {
	const char *file;
	struct config *cfg;
	char *err;
	size_t errlen;
	uint32_t sections_seen;  /* unnumbered sections, by index in section_rules[] */
	uint32_t ports_seen;     /* [portN], bit N */
};

struct section_rule {
	const char *name;        /* "port" stands for port0..port7 */
	bool numbered;
	const struct key_rule *keys;
	unsigned int n_keys;
	/* Cross-key checks, once every key of the section is parsed; SEEN has bit k for keys[k]. */
	int (*finish)(struct load_ctx *ctx, const struct section_rule *sr, const char *sec,
		      void *obj, uint32_t seen);
};

typedef int (*item_fn_t)(void *obj, const char *item, struct bad *bad);

/* Write "FILE: " and the message into ctx->err; returns -1 (config.c). */
int cfg_fail(struct load_ctx *ctx, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Each line of ctx->file as rte_cfgfile reads it; -1 naming the first bad one (config_lint.c). */
int cfg_lint_file(struct load_ctx *ctx);

char *cfg_trim(char *s);
uint32_t cfg_prefix_mask(uint8_t len);
void cfg_fmt_prefix(const struct config_prefix *p, char *buf, size_t len);
bool cfg_is_unicast(struct in_addr a);
/* Fill *bad for an IPv6 literal where only IPv4 is taken yet; returns -1. */
int cfg_ipv6_unsupported(struct bad *bad, const char *kind);
/* FN on each comma-separated, trimmed item of VAL; an empty VAL has none, "a,,b" has "". */
int cfg_for_each_item(const char *val, item_fn_t fn, void *obj, struct bad *bad);
/* Generic key parsers: an unsigned integer min..max, a string that fits the field. */
int cfg_parse_uint(const struct key_rule *r, void *obj, const char *val, struct bad *bad);
int cfg_parse_string(const struct key_rule *r, void *obj, const char *val, struct bad *bad);
/* A decimal number lo..hi without sign or leading zeros, all of S; -1 otherwise. */
int64_t cfg_parse_dec(const char *s, uint32_t lo, uint32_t hi);

#define UINT_KEY(type, field, lo, hi) \
	{ .key = #field, .parse = cfg_parse_uint, .off = offsetof(type, field), \
	  .size = sizeof(((type *)0)->field), .min = (lo), .max = (hi) }
/* UINT_KEY with a key name other than the field's */
#define UINT_KEY_AS(name, type, field, lo, hi) \
	{ .key = name, .parse = cfg_parse_uint, .off = offsetof(type, field), \
	  .size = sizeof(((type *)0)->field), .min = (lo), .max = (hi) }

/* Key parsers of the security keys (config_security.c). */
int cfg_parse_kernel_allow(const struct key_rule *r, void *obj, const char *val, struct bad *bad);
int cfg_parse_peers(const struct key_rule *r, void *obj, const char *val, struct bad *bad);
/* A path to a file this process can read (checked at load, so a typo stops start-up). */
int cfg_parse_readable(const struct key_rule *r, void *obj, const char *val, struct bad *bad);
/* A path whose directory exists (the file is created when missing). */
int cfg_parse_writable(const struct key_rule *r, void *obj, const char *val, struct bad *bad);

/* [http] listen: "IPv4:port", "[IPv6]:port" or "" (config_values.c). */
int cfg_parse_http_listen(const struct key_rule *r, void *obj, const char *val, struct bad *bad);

/* The [state] section (config_state.c): defaults, keys, and its checks across keys. */
void cfg_state_defaults(struct config *cfg);
#define CFG_N_STATE_KEYS 9
extern const struct key_rule cfg_state_keys[CFG_N_STATE_KEYS];
int cfg_finish_state(struct load_ctx *ctx, const struct section_rule *sr, const char *sec,
		     void *obj, uint32_t seen);

/* Key parsers of the [portN] sections (config_port.c); OBJ is the struct config_port. */
int cfg_parse_device(const struct key_rule *r, void *obj, const char *val, struct bad *bad);
int cfg_parse_port_addrs(const struct key_rule *r, void *obj, const char *val, struct bad *bad);
int cfg_parse_gateway(const struct key_rule *r, void *obj, const char *val, struct bad *bad);
int cfg_parse_exception(const struct key_rule *r, void *obj, const char *val, struct bad *bad);
int cfg_parse_neighbors(const struct key_rule *r, void *obj, const char *val, struct bad *bad);
/* A [portN] section's checks across its keys (its section_rule's finish). */
int cfg_finish_port(struct load_ctx *ctx, const struct section_rule *sr, const char *sec,
		    void *obj, uint32_t seen);
/* Once every section is read: ports numbered from port0 without gaps, nothing owned twice. */
int cfg_check_ports(struct load_ctx *ctx);

#endif
