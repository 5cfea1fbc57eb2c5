/* SPDX-License-Identifier: MIT */
/*
 * Value parsers of the security keys (API.md 1.3): the services a port lets through to the
 * kernel, the networks gRPC peers may come from, and the paths of key, token and audit files.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include <rte_common.h>
#include <rte_string_fns.h>

#include "config_keys.h"

/* "tcp/22" or "udp/161"; each service once. */
static int
add_service(void *obj, const char *item, struct bad *bad)
{
	struct config_port *port = obj;
	struct config_service s;
	int64_t n;

	if (strncmp(item, "tcp/", 4) == 0)
		s.proto = IPPROTO_TCP;
	else if (strncmp(item, "udp/", 4) == 0)
		s.proto = IPPROTO_UDP;
	else
		return -1;
	n = cfg_parse_dec(item + 4, 1, 65535);
	if (n < 0)
		return -1;
	s.port = (uint16_t)n;
	for (unsigned i = 0; i < port->n_kernel_allow; i++) {
		if (port->kernel_allow[i].proto == s.proto && port->kernel_allow[i].port == s.port) {
			snprintf(bad->what, sizeof(bad->what), "each service once");
			return -1;
		}
	}
	if (port->n_kernel_allow == CONFIG_MAX_SERVICES) {
		snprintf(bad->what, sizeof(bad->what), "at most %u services", CONFIG_MAX_SERVICES);
		return -1;
	}
	port->kernel_allow[port->n_kernel_allow++] = s;
	return 0;
}

int
cfg_parse_kernel_allow(const struct key_rule *r, void *obj, const char *val, struct bad *bad)
{
	struct config_port *port = obj;

	RTE_SET_USED(r);
	port->n_kernel_allow = 0;
	return cfg_for_each_item(val, add_service, port, bad);
}

int
config_parse_cidr(const char *s, struct config_cidr *out)
{
	char ip[INET6_ADDRSTRLEN];
	const char *slash = strchr(s, '/');
	size_t iplen = slash != NULL ? (size_t)(slash - s) : strlen(s);
	struct config_cidr c = { 0 };
	int64_t len;
	unsigned bits;

	if (iplen == 0 || iplen >= sizeof(ip))
		return -1;
	memcpy(ip, s, iplen);
	ip[iplen] = '\0';
	if (strchr(ip, ':') != NULL) {
		if (inet_pton(AF_INET6, ip, c.addr) != 1)
			return -1;
		c.family = AF_INET6;
		bits = 128;
	} else {
		if (config_parse_ipv4(ip, (struct in_addr *)c.addr) < 0)
			return -1;
		c.family = AF_INET;
		bits = 32;
	}
	len = slash != NULL ? cfg_parse_dec(slash + 1, 0, bits) : (int64_t)bits;
	if (len < 0)
		return -1;
	c.len = (uint8_t)len;
	/* host bits set: more likely a typo than a way to write the network */
	for (unsigned b = c.len; b < bits; b++)
		if (c.addr[b / 8] & (0x80 >> (b % 8)))
			return -1;
	*out = c;
	return 0;
}

bool
config_cidr_contains(const struct config_cidr *c, int family, const void *addr)
{
	const uint8_t *a = addr;
	unsigned full = c->len / 8, rest = c->len % 8;

	if (family != c->family)
		return false;
	if (memcmp(a, c->addr, full) != 0)
		return false;
	return rest == 0 || ((a[full] ^ c->addr[full]) & (0xff00 >> rest) & 0xff) == 0;
}

static int
add_peer(void *obj, const char *item, struct bad *bad)
{
	struct config *cfg = obj;

	if (config_parse_cidr(item, &cfg->allowed_peers[cfg->n_allowed_peers]) < 0)
		return -1;
	if (cfg->n_allowed_peers == CONFIG_MAX_PEERS - 1) {
		snprintf(bad->what, sizeof(bad->what), "at most %u networks", CONFIG_MAX_PEERS - 1);
		return -1;
	}
	cfg->n_allowed_peers++;
	return 0;
}

int
cfg_parse_peers(const struct key_rule *r, void *obj, const char *val, struct bad *bad)
{
	struct config *cfg = obj;

	RTE_SET_USED(r);
	cfg->n_allowed_peers = 0;
	return cfg_for_each_item(val, add_peer, cfg, bad);
}

int
cfg_parse_readable(const struct key_rule *r, void *obj, const char *val, struct bad *bad)
{
	if (*val != '\0' && access(val, R_OK) != 0)
		return -1;
	return cfg_parse_string(r, obj, val, bad);
}

int
cfg_parse_writable(const struct key_rule *r, void *obj, const char *val, struct bad *bad)
{
	char dir[CONFIG_STR];
	const char *slash = strrchr(val, '/');

	if (*val != '\0') {
		if (slash == NULL)
			strlcpy(dir, ".", sizeof(dir));
		else if (slash == val)
			strlcpy(dir, "/", sizeof(dir));
		else if ((size_t)(slash - val) < sizeof(dir))
			strlcpy(dir, val, slash - val + 1);
		else
			return -1;
		if (slash != NULL && slash[1] == '\0')
			return -1;
		if (access(dir, W_OK | X_OK) != 0)
			return -1;
	}
	return cfg_parse_string(r, obj, val, bad);
}
