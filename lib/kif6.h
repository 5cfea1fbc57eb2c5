/*
 * The kernel side of a port's exception interface, IPv6 half (kif.h has IPv4's): the TAP
 * carries the port's IPv6 addresses (no duplicate address detection: the data plane owns
 * them) and its link-local, so that the kernel answers neighbour solicitations for them and
 * ICMPv6 echo; and, with a gateway6, the port's routing table gets IPv6 routes like IPv4's.
 */
#ifndef RTPPROXY_KIF6_H
#define RTPPROXY_KIF6_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct nlmsghdr;

/*
 * Before the interface comes up: IPv6 off (a port without IPv6 addresses: the kernel sends
 * nothing of it), or on without what a host does on its own on a new link: no router
 * solicitations, no router advertisements or redirects heeded, no address autoconfiguration
 * (its link-local is added by kif_add_ipv6), no duplicate address detection. 0 or -1 + err.
 */
int kif6_prepare(const char *ifname, bool ipv6, char *err, size_t errlen);

/* The link-local address of a MAC (fe80::/64 + modified EUI-64, RFC 4291 2.5.1). */
void kif6_link_local(const uint8_t mac[6], uint8_t out[16]);

/* Add addr/prefix_len to the interface, without duplicate address detection. */
int kif_add_ipv6(const char *ifname, const uint8_t addr[16], uint8_t prefix_len, char *err,
		size_t errlen);

/* The on-link route of an IPv6 address's prefix in routing table `table` (kif_add_onlink). */
int kif_add_onlink6(const char *ifname, const uint8_t addr[16], uint8_t prefix_len,
		uint32_t table, char *err, size_t errlen);

/* A default route via gateway (link-local or global) in table `table`, and a rule per address
 * sending traffic from it there (kif_add_gateway). */
int kif_add_gateway6(const char *ifname, const uint8_t gateway[16], const uint8_t (*addrs)[16],
		unsigned n_addrs, uint32_t table, char *err, size_t errlen);

/* kif.c's netlink helpers: append an attribute; send a request and read its answer (0, or -1
 * with errno set). */
void kif_nl_attr(struct nlmsghdr *nh, unsigned short type, const void *data, size_t len);
int kif_nl_request(struct nlmsghdr *nh);

#endif
