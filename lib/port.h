/* Port set-up: ethdev ports from a vdev spec or PCI address, and their kernel (TAP) twins. */
#ifndef RTPPROXY_PORT_H
#define RTPPROXY_PORT_H

#include <stddef.h>
#include <stdint.h>

struct dp;
struct rte_mempool;

#define PORT_RX_DESC 1024
#define PORT_TX_DESC 1024

/*
 * Find or create the ethdev for `device`: a vdev spec ("net_af_packet0,iface=veth0") is
 * hot-plugged; a PCI address must have been probed by the EAL. 0 and *eth_id, or -1 + err.
 */
int port_probe(const char *device, uint16_t *eth_id, char *err, size_t errlen);

/*
 * Configure and start dp->port[idx] with one rx and one tx queue per worker (RSS on the
 * destination address and port when there are several), then create, configure and start
 * its TAP interface with the port's MAC. Fills mac, nb_queues and tap_id.
 */
int port_start(struct dp *dp, unsigned idx, struct rte_mempool *pool, char *err, size_t errlen);

/* Stop and close every port and TAP that port_start opened. */
void port_close_all(struct dp *dp);

#endif
