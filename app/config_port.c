/* SPDX-License-Identifier: MIT */
/*
 * The [portN] sections of the config file: the parsers of a port's keys (device, addresses,
 * gateway, exception interface, neighbours) and the checks across them, within a port (the
 * gateway is on one of its subnets) and between ports (nothing owned twice). The table that
 * names the keys is config.c's, with every other section's.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <arpa/inet.h>

#include <rte_common.h>
#include <rte_string_fns.h>

#include "config_keys.h"

#define EXCEPTION_NAME_MAX 15                   /* IFNAMSIZ - 1 */

/* "DDDD:BB:DD.F" or "BB:DD.F" in hex, as EAL's -a takes it; devargs may follow a ','. */
static bool
is_pci_addr(const char *s)
{
	static const char *const forms[] = { "xxxx:xx:xx.f", "xx:xx.f" };
	unsigned int i;
	size_t j;

	for (i = 0; i < RTE_DIM(forms); i++) {
		const char *f = forms[i];

		for (j = 0; f[j] != '\0'; j++) {
			if (f[j] == 'x' ? !isxdigit((unsigned char)s[j]) :
			    f[j] == 'f' ? s[j] < '0' || s[j] > '7' : s[j] != f[j])
				break;
		}
		if (f[j] == '\0' && (s[j] == '\0' || s[j] == ','))
			return true;
	}
	return false;
}

int
cfg_parse_device(const struct key_rule *r, void *obj, const char *val, struct bad *bad)
{
	struct config_port *port = obj;
	const char *p;

	RTE_SET_USED(r);
	RTE_SET_USED(bad);
	if (val[0] == '\0' || val[0] == ',' || strlen(val) >= sizeof(port->device))
		return -1;
	for (p = val; *p != '\0'; p++)
		if (!isgraph((unsigned char)*p))
			return -1;
	strlcpy(port->device, val, sizeof(port->device));
	port->is_pci = is_pci_addr(val);
	return 0;
}

static int
add_port_addr(void *obj, const char *item, struct bad *bad)
{
	struct config_port *port = obj;
	struct config_prefix p;
	uint32_t host;
	unsigned int i;

	if (strchr(item, ':') != NULL)
		return cfg_ipv6_unsupported(bad, "an IPv4 prefix");
	if (config_parse_prefix(item, &p) < 0 || p.len == 0)
		return -1;
	if (!cfg_is_unicast(p.addr)) {
		strlcpy(bad->what, "a unicast IPv4 address", sizeof(bad->what));
		return -1;
	}
	/* /31 and /32 have no network or broadcast address (RFC 3021). */
	host = ntohl(p.addr.s_addr) & ~cfg_prefix_mask(p.len);
	if (p.len <= 30 && (host == 0 || host == ~cfg_prefix_mask(p.len))) {
		strlcpy(bad->what, "a host address, not the network or broadcast address",
			sizeof(bad->what));
		return -1;
	}
	for (i = 0; i < port->n_addrs; i++) {
		if (port->addrs[i].addr.s_addr == p.addr.s_addr) {
			strlcpy(bad->what, "each address once", sizeof(bad->what));
			return -1;
		}
	}
	if (port->n_addrs == CONFIG_MAX_ADDRS) {
		snprintf(bad->what, sizeof(bad->what), "at most %u addresses",
			 CONFIG_MAX_ADDRS);
		return -1;
	}
	port->addrs[port->n_addrs++] = p;
	return 0;
}

/*
 * An item of a port's address list: one prefix ("198.18.1.10/24") or a range of addresses
 * with one prefix length ("198.18.1.10-198.18.1.41/24"), which keeps a port with many
 * addresses within the config line's 255 characters.
 */
static int
add_port_addr_item(void *obj, const char *item, struct bad *bad)
{
	const char *dash = strchr(item, '-'), *slash = strchr(item, '/');
	char first[INET_ADDRSTRLEN], last[INET_ADDRSTRLEN], one[INET_ADDRSTRLEN + 4];
	struct in_addr a, b;

	if (dash == NULL)
		return add_port_addr(obj, item, bad);
	if (slash == NULL || slash < dash || (size_t)(dash - item) >= sizeof(first))
		return -1;
	memcpy(first, item, (size_t)(dash - item));
	first[dash - item] = '\0';
	if ((size_t)(slash - dash - 1) >= sizeof(last))
		return -1;
	memcpy(last, dash + 1, (size_t)(slash - dash - 1));
	last[slash - dash - 1] = '\0';
	if (inet_pton(AF_INET, first, &a) != 1 || inet_pton(AF_INET, last, &b) != 1)
		return -1;
	uint32_t lo = ntohl(a.s_addr), hi = ntohl(b.s_addr);
	if (hi < lo || hi - lo >= CONFIG_MAX_ADDRS) {
		snprintf(bad->what, sizeof(bad->what),
			 "a range of at most %u addresses, lowest first", CONFIG_MAX_ADDRS);
		return -1;
	}
	for (uint32_t h = lo; h <= hi; h++) {
		struct in_addr x = { .s_addr = htonl(h) };
		inet_ntop(AF_INET, &x, one, sizeof(one));
		strlcat(one, slash, sizeof(one));
		if (add_port_addr(obj, one, bad) < 0)
			return -1;
	}
	return 0;
}

int
cfg_parse_port_addrs(const struct key_rule *r, void *obj, const char *val, struct bad *bad)
{
	struct config_port *port = obj;

	RTE_SET_USED(r);
	port->n_addrs = 0;
	if (cfg_for_each_item(val, add_port_addr_item, port, bad) < 0)
		return -1;
	return port->n_addrs > 0 ? 0 : -1;
}

/* Only the syntax here: whether it is on a subnet of the port is for cfg_finish_port(). */
int
cfg_parse_gateway(const struct key_rule *r, void *obj, const char *val, struct bad *bad)
{
	struct config_port *port = obj;

	RTE_SET_USED(r);
	port->has_gateway = false;
	if (*val == '\0')
		return 0;
	if (strchr(val, ':') != NULL)
		return cfg_ipv6_unsupported(bad, "an IPv4 address");
	if (config_parse_ipv4(val, &port->gateway) < 0 || !cfg_is_unicast(port->gateway))
		return -1;
	port->has_gateway = true;
	return 0;
}

/* A Linux interface name: what dev_valid_name() takes, narrowed to plain characters. */
int
cfg_parse_exception(const struct key_rule *r, void *obj, const char *val, struct bad *bad)
{
	struct config_port *port = obj;
	size_t n = strlen(val);
	const char *p;

	RTE_SET_USED(r);
	RTE_SET_USED(bad);
	if (n == 0 || n > EXCEPTION_NAME_MAX || strcmp(val, ".") == 0 || strcmp(val, "..") == 0)
		return -1;
	for (p = val; *p != '\0'; p++)
		if (!isalnum((unsigned char)*p) && strchr("_.-", *p) == NULL)
			return -1;
	strlcpy(port->exception, val, sizeof(port->exception));
	return 0;
}

static int
add_neighbor(void *obj, const char *item, struct bad *bad)
{
	struct config_port *port = obj;
	struct config_neighbor nb;
	char ip[CFG_VALUE_LEN];
	const char *at = strchr(item, '@');
	unsigned int i;

	if (at == NULL)
		return -1;
	memcpy(ip, item, at - item);
	ip[at - item] = '\0';
	if (strchr(ip, ':') != NULL)
		return cfg_ipv6_unsupported(bad, "an IPv4 address@MAC");
	if (config_parse_ipv4(ip, &nb.addr) < 0 || config_parse_mac(at + 1, nb.mac) < 0)
		return -1;
	if ((nb.mac[0] & 1) != 0 || memcmp(nb.mac, "\0\0\0\0\0\0", 6) == 0) {
		strlcpy(bad->what, "a unicast MAC address", sizeof(bad->what));
		return -1;
	}
	for (i = 0; i < port->n_neighbors; i++) {
		if (port->neighbors[i].addr.s_addr == nb.addr.s_addr) {
			strlcpy(bad->what, "each neighbor address once", sizeof(bad->what));
			return -1;
		}
	}
	if (port->n_neighbors == CONFIG_MAX_NEIGHBORS) {
		snprintf(bad->what, sizeof(bad->what), "at most %u neighbors",
			 CONFIG_MAX_NEIGHBORS);
		return -1;
	}
	port->neighbors[port->n_neighbors++] = nb;
	return 0;
}

int
cfg_parse_neighbors(const struct key_rule *r, void *obj, const char *val, struct bad *bad)
{
	struct config_port *port = obj;

	RTE_SET_USED(r);
	port->n_neighbors = 0;
	return cfg_for_each_item(val, add_neighbor, port, bad);
}

/* The gateway is a neighbour: on one of the port's subnets, and not the port itself. */
int
cfg_finish_port(struct load_ctx *ctx, const struct section_rule *sr, const char *sec, void *obj,
	    uint32_t seen)
{
	struct config_port *port = obj;
	char list[CONFIG_MAX_ADDRS * 20] = "", net[INET_ADDRSTRLEN + 4], gw[INET_ADDRSTRLEN];
	unsigned int i;

	RTE_SET_USED(sr);
	RTE_SET_USED(seen);
	if (!port->has_gateway)
		return 0;
	for (i = 0; i < port->n_addrs; i++) {
		if (port->addrs[i].addr.s_addr == port->gateway.s_addr)
			break;
		if (config_prefix_contains(&port->addrs[i], port->gateway))
			return 0;
	}
	inet_ntop(AF_INET, &port->gateway, gw, sizeof(gw));
	if (i < port->n_addrs)
		return cfg_fail(ctx, "[%s] gateway: expected a next hop other than the port's "
			        "own address, got \"%s\"", sec, gw);
	for (i = 0; i < port->n_addrs; i++) {
		struct config_prefix p = port->addrs[i];

		p.addr.s_addr = htonl(ntohl(p.addr.s_addr) & cfg_prefix_mask(p.len));
		cfg_fmt_prefix(&p, net, sizeof(net));
		strlcat(list, i == 0 ? "" : ", ", sizeof(list));
		strlcat(list, net, sizeof(list));
	}
	return cfg_fail(ctx, "[%s] gateway: expected an address inside %s%s, got \"%s\"", sec,
		        port->n_addrs > 1 ? "one of " : "", list, gw);
}

/* Device name without devargs, PCI addresses with their domain: what EAL would clash on. */
static void
device_key(const char *dev, char *buf, size_t len)
{
	size_t n = strcspn(dev, ",");

	if (is_pci_addr(dev) && dev[2] == ':')
		snprintf(buf, len, "0000:%.*s", (int)n, dev);
	else
		snprintf(buf, len, "%.*s", (int)n, dev);
	for (; *buf != '\0'; buf++)
		*buf = tolower((unsigned char)*buf);
}

/* Port a and port b (a < b) must not share an address, a device's VLAN or an exception name. */
static int
check_port_pair(struct load_ctx *ctx, const struct config_port *a, const struct config_port *b)
{
	char ka[CONFIG_STR + 8], kb[CONFIG_STR + 8], p[INET_ADDRSTRLEN + 4];
	unsigned int i, j;

	for (j = 0; j < b->n_addrs; j++) {
		for (i = 0; i < a->n_addrs; i++) {
			if (a->addrs[i].addr.s_addr != b->addrs[j].addr.s_addr)
				continue;
			cfg_fmt_prefix(&b->addrs[j], p, sizeof(p));
			return cfg_fail(ctx, "[%s] address: expected addresses no other port owns, "
				        "got \"%s\" (also on [%s])", b->name, p, a->name);
		}
	}
	device_key(a->device, ka, sizeof(ka));
	device_key(b->device, kb, sizeof(kb));
	/* one device, several sections told apart by their 802.1Q tag (API.md 1.5) */
	if (strcmp(ka, kb) == 0 && strcmp(a->device, b->device) != 0)
		return cfg_fail(ctx, "[%s] device: expected the same spec as [%s] for a device "
			        "both use (\"%s\"), got \"%s\"", b->name, a->name, a->device,
			        b->device);
	if (strcmp(ka, kb) == 0 && a->vlan == b->vlan)
		return cfg_fail(ctx, "[%s] vlan: expected a VLAN no other section of device "
			        "\"%s\" uses, got %u%s (also on [%s])", b->name, b->device, b->vlan,
			        b->vlan == 0 ? ", untagged" : "", a->name);
	if (strcmp(a->exception, b->exception) == 0)
		return cfg_fail(ctx, "[%s] exception: expected a name no other port uses, "
			        "got \"%s\" (also on [%s])", b->name, b->exception, a->name);
	return 0;
}

int
cfg_check_ports(struct load_ctx *ctx)
{
	struct config *cfg = ctx->cfg;
	unsigned int n, i, j;

	if (ctx->ports_seen == 0)
		return cfg_fail(ctx, "[port0]: expected at least one port section, got none");
	n = rte_bsf32(~ctx->ports_seen);  /* ports before the first gap */
	if ((ctx->ports_seen >> n) != 0)
		return cfg_fail(ctx, "[port%u]: expected port sections numbered from port0 "
			        "without gaps, got no [port%u]",
			        rte_bsf32(ctx->ports_seen >> n) + n, n);
	cfg->n_ports = n;
	for (j = 1; j < n; j++)
		for (i = 0; i < j; i++)
			if (check_port_pair(ctx, &cfg->ports[i], &cfg->ports[j]) < 0)
				return -1;
	return 0;
}
