/* IPv6 on a port's exception interface (kif6.h): sysctls and netlink. */
#include "kif6.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <net/if.h>
#include <sys/socket.h>
#include <linux/fib_rules.h>
#include <linux/if_addr.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>

static int fail(char *err, size_t errlen, const char *ifname, const char *what)
{
	snprintf(err, errlen, "%s: %s: %s", ifname, what, strerror(errno));
	return -1;
}

static int conf6(const char *ifname, const char *key, const char *value)
{
	char path[128];
	snprintf(path, sizeof(path), "/proc/sys/net/ipv6/conf/%s/%s", ifname, key);
	FILE *f = fopen(path, "w");
	if (f == NULL)
		return -1;
	int ok = fputs(value, f) >= 0;
	return fclose(f) == 0 && ok ? 0 : -1;
}

int kif6_prepare(const char *ifname, bool ipv6, char *err, size_t errlen)
{
	/* the order matters: all of it before IPv6 goes on, so nothing starts that we stop */
	static const char *const quiet[][2] = {
		{ "accept_ra", "0" },           /* the appliance's routes are its config's */
		{ "autoconf", "0" },
		{ "accept_redirects", "0" },
		{ "router_solicitations", "0" },
		{ "accept_dad", "0" },          /* the data plane owns the addresses */
		{ "dad_transmits", "0" },
		{ "addr_gen_mode", "1" },       /* no automatic link-local: kif_add_ipv6 adds it */
	};
	if (!ipv6) {
		/* a kernel without IPv6 has nothing to disable */
		if (conf6(ifname, "disable_ipv6", "1") != 0 && errno != ENOENT)
			return fail(err, errlen, ifname, "cannot disable IPv6 on it");
		return 0;
	}
	for (size_t i = 0; i < sizeof(quiet) / sizeof(quiet[0]); i++)
		if (conf6(ifname, quiet[i][0], quiet[i][1]) != 0) {
			char what[96];
			int e = errno;
			snprintf(what, sizeof(what), "cannot set net.ipv6.conf.%s.%s%s", ifname,
					quiet[i][0], e == ENOENT ? " (is IPv6 disabled in this kernel?)" : "");
			errno = e;
			return fail(err, errlen, ifname, what);
		}
	if (conf6(ifname, "disable_ipv6", "0") != 0)
		return fail(err, errlen, ifname, "cannot enable IPv6 on it");
	return 0;
}

void kif6_link_local(const uint8_t mac[6], uint8_t out[16])
{
	memset(out, 0, 16);
	out[0] = 0xfe;
	out[1] = 0x80;
	out[8] = mac[0] ^ 0x02;         /* the universal/local bit inverted */
	out[9] = mac[1];
	out[10] = mac[2];
	out[11] = 0xff;
	out[12] = 0xfe;
	out[13] = mac[3];
	out[14] = mac[4];
	out[15] = mac[5];
}

static unsigned if_index(const char *ifname, char *err, size_t errlen)
{
	unsigned idx = if_nametoindex(ifname);
	if (idx == 0)
		fail(err, errlen, ifname, "no such interface");
	return idx;
}

int kif_add_ipv6(const char *ifname, const uint8_t addr[16], uint8_t prefix_len, char *err,
		size_t errlen)
{
	struct {
		struct nlmsghdr nh;
		struct ifaddrmsg ifa;
		char attrs[64];
	} req = { 0 };
	unsigned idx = if_index(ifname, err, errlen);
	if (idx == 0)
		return -1;
	uint32_t flags = IFA_F_NODAD;
	req.nh.nlmsg_len = NLMSG_LENGTH(sizeof(req.ifa));
	req.nh.nlmsg_type = RTM_NEWADDR;
	req.nh.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_REPLACE;
	req.ifa.ifa_family = AF_INET6;
	req.ifa.ifa_prefixlen = prefix_len;
	req.ifa.ifa_flags = (uint8_t)flags;
	req.ifa.ifa_index = idx;
	kif_nl_attr(&req.nh, IFA_LOCAL, addr, 16);
	kif_nl_attr(&req.nh, IFA_ADDRESS, addr, 16);
	kif_nl_attr(&req.nh, IFA_FLAGS, &flags, 4);
	if (kif_nl_request(&req.nh) == 0)
		return 0;
	return fail(err, errlen, ifname, "cannot add its IPv6 address");
}

/* An IPv6 route request for `table` on interface idx. */
static void route_req(struct nlmsghdr *nh, struct rtmsg *rt, uint8_t dst_len, uint32_t table,
		unsigned idx)
{
	nh->nlmsg_len = NLMSG_LENGTH(sizeof(*rt));
	nh->nlmsg_type = RTM_NEWROUTE;
	nh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_REPLACE;
	rt->rtm_family = AF_INET6;
	rt->rtm_dst_len = dst_len;
	rt->rtm_table = RT_TABLE_UNSPEC;
	rt->rtm_protocol = RTPROT_STATIC;
	rt->rtm_scope = RT_SCOPE_UNIVERSE;
	rt->rtm_type = RTN_UNICAST;
	kif_nl_attr(nh, RTA_TABLE, &table, 4);
	kif_nl_attr(nh, RTA_OIF, &idx, 4);
}

int kif_add_onlink6(const char *ifname, const uint8_t addr[16], uint8_t prefix_len,
		uint32_t table, char *err, size_t errlen)
{
	struct {
		struct nlmsghdr nh;
		struct rtmsg rt;
		char attrs[96];
	} req = { 0 };
	unsigned idx = if_index(ifname, err, errlen);
	if (idx == 0)
		return -1;
	uint8_t net[16] = { 0 };
	unsigned bytes = prefix_len / 8, bits = prefix_len % 8;
	memcpy(net, addr, bytes);
	if (bits != 0)
		net[bytes] = addr[bytes] & (uint8_t)(0xff00 >> bits);
	route_req(&req.nh, &req.rt, prefix_len, table, idx);
	kif_nl_attr(&req.nh, RTA_DST, net, 16);
	kif_nl_attr(&req.nh, RTA_PREFSRC, addr, 16);
	if (kif_nl_request(&req.nh) == 0 || errno == EEXIST)
		return 0;
	return fail(err, errlen, ifname, "cannot add its IPv6 on-link route to its gateway table");
}

int kif_add_gateway6(const char *ifname, const uint8_t gateway[16], const uint8_t (*addrs)[16],
		unsigned n_addrs, uint32_t table, char *err, size_t errlen)
{
	struct {
		struct nlmsghdr nh;
		struct rtmsg rt;
		char attrs[96];
	} req = { 0 };
	unsigned idx = if_index(ifname, err, errlen);
	if (idx == 0)
		return -1;
	route_req(&req.nh, &req.rt, 0, table, idx);
	kif_nl_attr(&req.nh, RTA_GATEWAY, gateway, 16);
	if (kif_nl_request(&req.nh) != 0)
		return fail(err, errlen, ifname, "cannot add an IPv6 route via its gateway6");
	for (unsigned i = 0; i < n_addrs; i++) {
		struct {
			struct nlmsghdr nh;
			struct fib_rule_hdr fr;
			char attrs[64];
		} rule = { 0 };
		uint32_t prio = 1000 + table;
		rule.nh.nlmsg_len = NLMSG_LENGTH(sizeof(rule.fr));
		rule.nh.nlmsg_type = RTM_NEWRULE;
		rule.nh.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE;
		rule.fr.family = AF_INET6;
		rule.fr.src_len = 128;
		rule.fr.action = FR_ACT_TO_TBL;
		kif_nl_attr(&rule.nh, FRA_SRC, addrs[i], 16);
		kif_nl_attr(&rule.nh, FRA_TABLE, &table, 4);
		kif_nl_attr(&rule.nh, FRA_PRIORITY, &prio, 4);
		if (kif_nl_request(&rule.nh) != 0 && errno != EEXIST)
			return fail(err, errlen, ifname, "cannot add an IPv6 source rule for its "
					"gateway6");
	}
	return 0;
}
