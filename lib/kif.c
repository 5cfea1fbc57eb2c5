#include "kif.h"
#include "kif6.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/fib_rules.h>

#define KIF_TXQUEUELEN 10000

int kif_up(const char *ifname, char *err, size_t errlen)
{
	struct ifreq ifr = { 0 };
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		goto fail;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	if (ioctl(fd, SIOCGIFFLAGS, &ifr) < 0)
		goto fail;
	ifr.ifr_flags |= IFF_UP;
	if (ioctl(fd, SIOCSIFFLAGS, &ifr) < 0)
		goto fail;
	/* the kernel's bursts (TCP) wait here for worker 0: a deeper queue than the default 1000 */
	ifr.ifr_qlen = KIF_TXQUEUELEN;
	ioctl(fd, SIOCSIFTXQLEN, &ifr);    /* best effort */
	close(fd);
	return 0;
fail:
	snprintf(err, errlen, "%s: cannot bring the interface up: %s", ifname, strerror(errno));
	if (fd >= 0)
		close(fd);
	return -1;
}

static int write_sysctl(const char *ifname, const char *key, const char *value)
{
	char path[128];
	snprintf(path, sizeof(path), "/proc/sys/net/%s", key);
	char *at = strstr(path, "IF");
	if (at != NULL) {
		char rest[64];
		snprintf(rest, sizeof(rest), "%s", at + 2);
		snprintf(at, sizeof(path) - (size_t)(at - path), "%s%s", ifname, rest);
	}
	FILE *f = fopen(path, "w");
	if (f == NULL)
		return -1;
	int ok = fputs(value, f) >= 0;
	return fclose(f) == 0 && ok ? 0 : -1;
}

int kif_sysctl(const char *key, const char *value)
{
	return write_sysctl("", key, value);
}

int kif_claim(const char *ifname, char *err, size_t errlen)
{
	/* strict reverse-path filter: our addresses live on the TAP, so anything for them that
	 * arrives here fails it; arp_ignore 8: never answer ARP here */
	static const char *const settings[][2] = {
		{ "ipv4/conf/IF/rp_filter", "1" },
		{ "ipv4/conf/IF/arp_ignore", "8" },
	};
	for (size_t i = 0; i < sizeof(settings) / sizeof(settings[0]); i++)
		if (write_sysctl(ifname, settings[i][0], settings[i][1]) != 0) {
			snprintf(err, errlen, "%s: cannot set net.%s: %s", ifname, settings[i][0],
					strerror(errno));
			return -1;
		}
	/* no IPv6 chatter from an interface that is not the kernel's (best effort) */
	write_sysctl(ifname, "ipv6/conf/IF/disable_ipv6", "1");
	return 0;
}

static void add_attr(struct nlmsghdr *nh, unsigned short type, const void *data, size_t len)
{
	struct rtattr *rta = (struct rtattr *)((char *)nh + NLMSG_ALIGN(nh->nlmsg_len));
	rta->rta_type = type;
	rta->rta_len = (unsigned short)RTA_LENGTH(len);
	memcpy(RTA_DATA(rta), data, len);
	nh->nlmsg_len = NLMSG_ALIGN(nh->nlmsg_len) + RTA_ALIGN(rta->rta_len);
}

/* Send one netlink request and read its acknowledgment. 0, or -1 with errno set. */
static int nl_request(struct nlmsghdr *nh)
{
	int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (fd < 0)
		return -1;
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
	char buf[512];
	int ret = -1;
	if (sendto(fd, nh, nh->nlmsg_len, 0, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
			recv(fd, buf, sizeof(buf), 0) < 0)
		goto out;
	struct nlmsghdr *rh = (struct nlmsghdr *)buf;
	if (rh->nlmsg_type == NLMSG_ERROR) {
		struct nlmsgerr *e = NLMSG_DATA(rh);
		if (e->error != 0) {
			errno = -e->error;
			goto out;
		}
	}
	ret = 0;
out:;
	int saved = errno;
	close(fd);
	errno = saved;
	return ret;
}

int kif_add_ipv4(const char *ifname, uint32_t addr, uint8_t prefix_len, char *err, size_t errlen)
{
	struct {
		struct nlmsghdr nh;
		struct ifaddrmsg ifa;
		char attrs[64];
	} req = { 0 };
	unsigned idx = if_nametoindex(ifname);
	if (idx == 0) {
		snprintf(err, errlen, "%s: no such interface: %s", ifname, strerror(errno));
		return -1;
	}
	req.nh.nlmsg_len = NLMSG_LENGTH(sizeof(req.ifa));
	req.nh.nlmsg_type = RTM_NEWADDR;
	req.nh.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_REPLACE;
	req.ifa.ifa_family = AF_INET;
	req.ifa.ifa_prefixlen = prefix_len;
	req.ifa.ifa_index = idx;
	add_attr(&req.nh, IFA_LOCAL, &addr, 4);
	add_attr(&req.nh, IFA_ADDRESS, &addr, 4);
	if (nl_request(&req.nh) == 0)
		return 0;
	snprintf(err, errlen, "%s: cannot add its address: %s", ifname, strerror(errno));
	return -1;
}

int kif_add_onlink(const char *ifname, uint32_t addr, uint8_t prefix_len, uint32_t table,
		char *err, size_t errlen)
{
	struct {
		struct nlmsghdr nh;
		struct rtmsg rt;
		char attrs[64];
	} req = { 0 };
	unsigned idx = if_nametoindex(ifname);
	if (idx == 0) {
		snprintf(err, errlen, "%s: no such interface: %s", ifname, strerror(errno));
		return -1;
	}
	uint32_t mask = prefix_len == 0 ? 0 : htonl(UINT32_MAX << (32 - prefix_len));
	uint32_t net = addr & mask;
	req.nh.nlmsg_len = NLMSG_LENGTH(sizeof(req.rt));
	req.nh.nlmsg_type = RTM_NEWROUTE;
	req.nh.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_REPLACE;
	req.rt.rtm_family = AF_INET;
	req.rt.rtm_dst_len = prefix_len;
	req.rt.rtm_table = RT_TABLE_UNSPEC;
	req.rt.rtm_protocol = RTPROT_STATIC;
	req.rt.rtm_scope = RT_SCOPE_LINK;
	req.rt.rtm_type = RTN_UNICAST;
	add_attr(&req.nh, RTA_TABLE, &table, 4);
	add_attr(&req.nh, RTA_DST, &net, 4);
	add_attr(&req.nh, RTA_PREFSRC, &addr, 4);
	add_attr(&req.nh, RTA_OIF, &idx, 4);
	if (nl_request(&req.nh) == 0 || errno == EEXIST)
		return 0;
	snprintf(err, errlen, "%s: cannot add its on-link route to its gateway table: %s", ifname,
			strerror(errno));
	return -1;
}

int kif_add_gateway(const char *ifname, uint32_t gateway, const uint32_t *addrs, unsigned n_addrs,
		uint32_t table, char *err, size_t errlen)
{
	struct {
		struct nlmsghdr nh;
		struct rtmsg rt;
		char attrs[64];
	} req = { 0 };
	unsigned idx = if_nametoindex(ifname);
	if (idx == 0) {
		snprintf(err, errlen, "%s: no such interface: %s", ifname, strerror(errno));
		return -1;
	}
	/* default via the gateway, in the port's own table */
	req.nh.nlmsg_len = NLMSG_LENGTH(sizeof(req.rt));
	req.nh.nlmsg_type = RTM_NEWROUTE;
	req.nh.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_REPLACE;
	req.rt.rtm_family = AF_INET;
	req.rt.rtm_table = RT_TABLE_UNSPEC;
	req.rt.rtm_protocol = RTPROT_STATIC;
	req.rt.rtm_scope = RT_SCOPE_UNIVERSE;
	req.rt.rtm_type = RTN_UNICAST;
	add_attr(&req.nh, RTA_TABLE, &table, 4);
	add_attr(&req.nh, RTA_GATEWAY, &gateway, 4);
	add_attr(&req.nh, RTA_OIF, &idx, 4);
	if (nl_request(&req.nh) != 0) {
		snprintf(err, errlen, "%s: cannot add a route via its gateway: %s", ifname,
				strerror(errno));
		return -1;
	}
	/* and a rule per address: traffic from it uses that table */
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
		rule.fr.family = AF_INET;
		rule.fr.src_len = 32;
		rule.fr.action = FR_ACT_TO_TBL;
		add_attr(&rule.nh, FRA_SRC, &addrs[i], 4);
		add_attr(&rule.nh, FRA_TABLE, &table, 4);
		add_attr(&rule.nh, FRA_PRIORITY, &prio, 4);
		if (nl_request(&rule.nh) != 0 && errno != EEXIST) {
			snprintf(err, errlen, "%s: cannot add a source rule for its gateway: %s",
					ifname, strerror(errno));
			return -1;
		}
	}
	return 0;
}

/* For kif6.c (kif6.h). */
void kif_nl_attr(struct nlmsghdr *nh, unsigned short type, const void *data, size_t len)
{
	add_attr(nh, type, data, len);
}

int kif_nl_request(struct nlmsghdr *nh)
{
	return nl_request(nh);
}
