/* The kernel side of a port's exception interface: its addresses and link state (netlink). */
#ifndef RTPPROXY_KIF_H
#define RTPPROXY_KIF_H

#include <stddef.h>
#include <stdint.h>

/* Bring interface `ifname` up and add addr/prefix_len (network byte order). 0 or -1 + err. */
int kif_up(const char *ifname, char *err, size_t errlen);
int kif_add_ipv4(const char *ifname, uint32_t addr, uint8_t prefix_len, char *err, size_t errlen);

/*
 * Keep the kernel's own stack off an interface the data plane reads raw (net_af_packet,
 * net_af_xdp on a veth): it must not answer ARP or accept packets for our addresses there,
 * or every request would be answered twice, once by us and once by it.
 */
int kif_claim(const char *ifname, char *err, size_t errlen);

/*
 * Let the kernel's own connections (the TCP relay's destination legs) reach off-subnet
 * destinations through the port's gateway: a default route in routing table `table`, used by
 * traffic from the port's addresses (one source rule each), so several ports with gateways
 * each keep their own way out.
 */
/*
 * The on-link route of one of the port's addresses (its subnet, scope link) in the port's
 * gateway table: the source rules of kif_add_gateway send everything from the address there,
 * and peers on the subnet must still be reached directly, not through the gateway.
 */
int kif_add_onlink(const char *ifname, uint32_t addr, uint8_t prefix_len, uint32_t table,
		char *err, size_t errlen);

int kif_add_gateway(const char *ifname, uint32_t gateway, const uint32_t *addrs, unsigned n_addrs,
		uint32_t table, char *err, size_t errlen);

/* Set a sysctl of this network namespace ("ipv4/tcp_tw_reuse"). 0 or -1 (errno set). */
int kif_sysctl(const char *key, const char *value);

#endif
