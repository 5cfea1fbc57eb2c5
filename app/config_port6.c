/* SPDX-License-Identifier: MIT */
/*
 * IPv6 in the config file (API.md 1.5): a port's IPv6 addresses (in its `address` list),
 * `gateway6`, `[2001:db8::2]@MAC` neighbours, IPv6 prefixes in allowed_destinations, and the
 * checks across them (gateway6 on-link, no address owned by two ports). The IPv4 side is
 * config_port.c's; it hands IPv6 items over to these.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <arpa/inet.h>

#include <rte_common.h>
#include <rte_string_fns.h>

#include "config_keys.h"

int
config_parse_prefix6(const char *s, struct config_prefix6 *out)
{
	char ip[INET6_ADDRSTRLEN];
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
	for (; isdigit((unsigned char)*n) && len <= 128; n++)
		len = len * 10 + (*n - '0');
	if (*n != '\0' || len > 128)
		return -1;
	if (strchr(ip, ':') == NULL || inet_pton(AF_INET6, ip, &out->addr) != 1)
		return -1;
	out->len = (uint8_t)len;
	return 0;
}

bool
config_prefix6_contains(const struct config_prefix6 *p, const struct in6_addr *a)
{
	unsigned int full = p->len / 8, rest = p->len % 8;

	if (memcmp(p->addr.s6_addr, a->s6_addr, full) != 0)
		return false;
	if (rest == 0)
		return true;
	uint8_t m = (uint8_t)(0xff << (8 - rest));
	return ((p->addr.s6_addr[full] ^ a->s6_addr[full]) & m) == 0;
}

bool
config_dest_allowed6(const struct config *cfg, const struct in6_addr *a)
{
	if (cfg->n_allowed == 0 && cfg->n_allowed6 == 0)
		return true;
	for (unsigned int i = 0; i < cfg->n_allowed6; i++)
		if (config_prefix6_contains(&cfg->allowed6[i], a))
			return true;
	return false;
}

/* What an IPv6 address of the appliance (or its next hop) may not be; NULL if fine. */
static const char *
not_unicast6(const struct in6_addr *a, bool link_local_ok)
{
	static const uint8_t mapped[12] = { [10] = 0xff, [11] = 0xff };

	if (IN6_IS_ADDR_UNSPECIFIED(a) || IN6_IS_ADDR_LOOPBACK(a))
		return "a unicast IPv6 address (not :: or ::1)";
	if (a->s6_addr[0] == 0xff)
		return "a unicast IPv6 address (not multicast ff00::/8)";
	if (memcmp(a->s6_addr, mapped, sizeof(mapped)) == 0)
		return "a native IPv6 address (not IPv4-mapped ::ffff:0:0/96; IPv4 as such)";
	if (!link_local_ok && IN6_IS_ADDR_LINKLOCAL(a))
		return "a global or unique-local IPv6 address (the interface has its own "
		       "link-local one)";
	return NULL;
}

static void
fmt_prefix6(const struct config_prefix6 *p, char *buf, size_t len)
{
	char a[INET6_ADDRSTRLEN];

	inet_ntop(AF_INET6, &p->addr, a, sizeof(a));
	snprintf(buf, len, "%s/%u", a, p->len);
}

/* Host bits of A under a LEN-bit prefix: all zero? */
static bool
host_zero6(const struct in6_addr *a, unsigned int len)
{
	for (unsigned int b = len; b < 128; b++)
		if (a->s6_addr[b / 8] & (0x80 >> (b % 8)))
			return false;
	return true;
}

int
cfg_add_port_addr6(struct config_port *port, const char *item, struct bad *bad)
{
	struct config_prefix6 p;
	const char *why;

	if (config_parse_prefix6(item, &p) < 0 || p.len == 0) {
		strlcpy(bad->what, "an IPv6 address with its prefix length 1..128, such as "
			"2001:db8:1::1/64", sizeof(bad->what));
		return -1;
	}
	why = not_unicast6(&p.addr, false);
	if (why != NULL) {
		strlcpy(bad->what, why, sizeof(bad->what));
		return -1;
	}
	/* all host bits zero is the subnet-router anycast address (RFC 4291 2.6.1) */
	if (p.len < 127 && host_zero6(&p.addr, p.len)) {
		strlcpy(bad->what, "a host address, not the subnet-router anycast address",
			sizeof(bad->what));
		return -1;
	}
	for (unsigned int i = 0; i < port->n_addrs6; i++) {
		if (IN6_ARE_ADDR_EQUAL(&port->addrs6[i].addr, &p.addr)) {
			strlcpy(bad->what, "each address once", sizeof(bad->what));
			return -1;
		}
	}
	if (port->n_addrs + port->n_addrs6 == CONFIG_MAX_ADDRS) {
		snprintf(bad->what, sizeof(bad->what), "at most %u addresses (IPv4 and IPv6)",
			 CONFIG_MAX_ADDRS);
		return -1;
	}
	port->addrs6[port->n_addrs6++] = p;
	return 0;
}

/* Only the syntax here: whether it is on-link is for cfg_finish_port6(). */
int
cfg_parse_gateway6(const struct key_rule *r, void *obj, const char *val, struct bad *bad)
{
	struct config_port *port = obj;
	const char *why;

	RTE_SET_USED(r);
	port->has_gateway6 = false;
	if (*val == '\0')
		return 0;
	if (strchr(val, ':') == NULL || inet_pton(AF_INET6, val, &port->gateway6) != 1)
		return -1;
	why = not_unicast6(&port->gateway6, true);
	if (why != NULL) {
		strlcpy(bad->what, why, sizeof(bad->what));
		return -1;
	}
	port->has_gateway6 = true;
	return 0;
}

int
cfg_add_neighbor6(struct config_port *port, const char *ip, const char *mac, struct bad *bad)
{
	struct config_neighbor6 nb;
	char text[INET6_ADDRSTRLEN];
	size_t n = strlen(ip);
	const char *why;

	strlcpy(bad->what, "[IPv6]@MAC such as [2001:db8:2::2]@02:00:00:00:02:02",
		sizeof(bad->what));
	if (ip[0] == '[') {             /* the brackets are optional: '@' ends the address */
		if (n < 2 || ip[n - 1] != ']')
			return -1;
		ip++;
		n -= 2;
	}
	if (n >= sizeof(text))
		return -1;
	memcpy(text, ip, n);
	text[n] = '\0';
	if (inet_pton(AF_INET6, text, &nb.addr) != 1 || config_parse_mac(mac, nb.mac) < 0)
		return -1;
	why = not_unicast6(&nb.addr, true);
	if (why != NULL) {
		strlcpy(bad->what, why, sizeof(bad->what));
		return -1;
	}
	if ((nb.mac[0] & 1) != 0 || memcmp(nb.mac, "\0\0\0\0\0\0", 6) == 0) {
		strlcpy(bad->what, "a unicast MAC address", sizeof(bad->what));
		return -1;
	}
	for (unsigned int i = 0; i < port->n_neighbors6; i++) {
		if (IN6_ARE_ADDR_EQUAL(&port->neighbors6[i].addr, &nb.addr)) {
			strlcpy(bad->what, "each neighbor address once", sizeof(bad->what));
			return -1;
		}
	}
	if (port->n_neighbors + port->n_neighbors6 == CONFIG_MAX_NEIGHBORS) {
		snprintf(bad->what, sizeof(bad->what), "at most %u neighbors",
			 CONFIG_MAX_NEIGHBORS);
		return -1;
	}
	port->neighbors6[port->n_neighbors6++] = nb;
	return 0;
}

/* gateway6 is a neighbour: link-local, or on one of the port's IPv6 prefixes, not itself. */
int
cfg_finish_port6(struct load_ctx *ctx, const char *sec, const struct config_port *port)
{
	char list[CONFIG_MAX_ADDRS * 48] = "", net[INET6_ADDRSTRLEN + 4], gw[INET6_ADDRSTRLEN];
	unsigned int i;

	if (!port->has_gateway6)
		return 0;
	inet_ntop(AF_INET6, &port->gateway6, gw, sizeof(gw));
	for (i = 0; i < port->n_addrs6; i++)
		if (IN6_ARE_ADDR_EQUAL(&port->addrs6[i].addr, &port->gateway6))
			return cfg_fail(ctx, "[%s] gateway6: expected a next hop other than the "
				        "port's own address, got \"%s\"", sec, gw);
	if (port->n_addrs6 == 0)
		return cfg_fail(ctx, "[%s] gateway6: expected an IPv6 address on the port first "
			        "(its address list has none), got \"%s\"", sec, gw);
	if (IN6_IS_ADDR_LINKLOCAL(&port->gateway6))
		return 0;
	for (i = 0; i < port->n_addrs6; i++)
		if (config_prefix6_contains(&port->addrs6[i], &port->gateway6))
			return 0;
	for (i = 0; i < port->n_addrs6; i++) {
		struct config_prefix6 p = port->addrs6[i];

		for (unsigned int b = p.len; b < 128; b++)
			p.addr.s6_addr[b / 8] &= (uint8_t)~(0x80 >> (b % 8));
		fmt_prefix6(&p, net, sizeof(net));
		strlcat(list, i == 0 ? "" : ", ", sizeof(list));
		strlcat(list, net, sizeof(list));
	}
	return cfg_fail(ctx, "[%s] gateway6: expected a link-local address or one inside %s%s, "
		        "got \"%s\"", sec, port->n_addrs6 > 1 ? "one of " : "", list, gw);
}

int
cfg_check_port_pair6(struct load_ctx *ctx, const struct config_port *a,
		     const struct config_port *b)
{
	char p[INET6_ADDRSTRLEN + 4];

	for (unsigned int j = 0; j < b->n_addrs6; j++) {
		for (unsigned int i = 0; i < a->n_addrs6; i++) {
			if (!IN6_ARE_ADDR_EQUAL(&a->addrs6[i].addr, &b->addrs6[j].addr))
				continue;
			fmt_prefix6(&b->addrs6[j], p, sizeof(p));
			return cfg_fail(ctx, "[%s] address: expected addresses no other port owns, "
				        "got \"%s\" (also on [%s])", b->name, p, a->name);
		}
	}
	return 0;
}

int
cfg_add_allowed6(struct config *cfg, const char *item, struct bad *bad)
{
	struct config_prefix6 p;
	char net[INET6_ADDRSTRLEN + 4];

	if (strchr(item, '/') != NULL) {
		if (config_parse_prefix6(item, &p) < 0)
			return -1;
	} else {
		if (inet_pton(AF_INET6, item, &p.addr) != 1)
			return -1;
		p.len = 128;
	}
	/* 2001:db8::1/32 is more likely a typo than a way to say 2001:db8::/32 */
	if (!host_zero6(&p.addr, p.len)) {
		for (unsigned int b = p.len; b < 128; b++)
			p.addr.s6_addr[b / 8] &= (uint8_t)~(0x80 >> (b % 8));
		fmt_prefix6(&p, net, sizeof(net));
		snprintf(bad->what, sizeof(bad->what),
			 "a network prefix without host bits, such as %s", net);
		return -1;
	}
	if (cfg->n_allowed + cfg->n_allowed6 == CONFIG_MAX_ALLOWED) {
		snprintf(bad->what, sizeof(bad->what), "at most %u prefixes", CONFIG_MAX_ALLOWED);
		return -1;
	}
	cfg->allowed6[cfg->n_allowed6++] = p;
	return 0;
}
