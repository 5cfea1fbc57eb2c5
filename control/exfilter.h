/*
 * The exception path's filter (API.md 1.3): an nftables table of rtpproxy's own,
 * `table inet rtpproxy`, in the appliance's network namespace. What the data-plane ports hand
 * to their kernel (TAP) interfaces reaches a socket only if it is ICMP/ICMPv6 echo or error,
 * NDP, part of a connection the kernel already has, TCP to a TCP session's listen endpoint, or
 * a service of the port's kernel_allow; the rest is dropped and counted by the table's named
 * counter `filtered`. Other tables are never touched. Control lcore only (not thread-safe).
 */
#ifndef RTPPROXY_EXFILTER_H
#define RTPPROXY_EXFILTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rp_addr.h"

#define EXFILTER_TABLE "rtpproxy"           /* family inet */
#define EXFILTER_MAX_PORTS 8
#define EXFILTER_MAX_SERVICES 32

struct exfilter_service {
	uint8_t proto;                  /* IPPROTO_TCP or IPPROTO_UDP */
	uint16_t port;                  /* host byte order */
};

struct exfilter_port {
	char ifname[16];                /* the port's kernel (TAP) interface */
	char raw_ifname[16];            /* the kernel interface DPDK reads raw (af_packet), or "" */
	struct exfilter_service allow[EXFILTER_MAX_SERVICES];
	unsigned n_allow;
};

struct exfilter_config {
	struct exfilter_port port[EXFILTER_MAX_PORTS];
	unsigned n_ports;
};

/*
 * The nft script that (re)creates the table for config c, into buf: pure, no privileges.
 * A stale table of a previous run is replaced in the same transaction. The length written,
 * or -1 with a message in err (a bad interface name, buf too small).
 */
int exfilter_script(const struct exfilter_config *c, char *buf, size_t len, char *err,
		size_t errlen);

struct exfilter;

/* Create the table in this network namespace. NULL + err when nftables refuses. */
struct exfilter *exfilter_start(const struct exfilter_config *c, char *err, size_t errlen);

/* Delete the table and free f (NULL is fine). */
void exfilter_stop(struct exfilter *f);

/* Admit (add) or stop admitting TCP to addr:port (the wildcard = every address; port host
 * byte order; IPv4 only so far). 0, or -1 + err. */
int exfilter_tcp_listen(struct exfilter *f, const struct dp_addr *addr, uint16_t port, bool add,
		char *err, size_t errlen);

/* Packets the table has dropped so far (its named counter), or 0 when it cannot be read. */
uint64_t exfilter_dropped(struct exfilter *f);

#endif
