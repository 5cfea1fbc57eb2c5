#include "port.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <net/if.h>
#include <rte_bus.h>
#include <rte_dev.h>
#include <rte_ethdev.h>
#include <rte_mempool.h>

#include "dp.h"
#include "kif.h"
#include "kif6.h"
#include "log.h"

static int fail(char *err, size_t errlen, int ret, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static int fail(char *err, size_t errlen, int ret, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return ret;
}

int port_probe(const char *device, uint16_t *eth_id, char *err, size_t errlen)
{
	char name[RTE_DEV_NAME_MAX_LEN];
	size_t n = strcspn(device, ",");
	if (n == 0 || n >= sizeof(name))
		return fail(err, errlen, -1, "device \"%s\": no device name", device);
	memcpy(name, device, n);
	name[n] = '\0';

	if (rte_eth_dev_get_port_by_name(name, eth_id) == 0)
		return 0;
	if (strncmp(name, "net_", 4) != 0)
		return fail(err, errlen, -1, "device \"%s\": no such port (a PCI device must be "
				"bound to a DPDK driver and allowed with -a)", device);
	/* a raw-socket vdev on a kernel interface: keep the kernel's stack off it */
	const char *iface = strstr(device, "iface=");
	if (iface != NULL && (strncmp(name, "net_af_packet", 13) == 0 ||
				strncmp(name, "net_af_xdp", 10) == 0)) {
		char ifname[IF_NAMESIZE];
		snprintf(ifname, sizeof(ifname), "%.*s", (int)strcspn(iface + 6, ","), iface + 6);
		if (kif_claim(ifname, err, errlen) != 0)
			return -1;
	}
	int ret = rte_dev_probe(device);
	if (ret != 0)
		return fail(err, errlen, -1, "device \"%s\": probe failed: %s", device,
				rte_strerror(-ret));
	if (rte_eth_dev_get_port_by_name(name, eth_id) != 0)
		return fail(err, errlen, -1, "device \"%s\": probed but no ethdev named %s",
				device, name);
	return 0;
}

/*
 * How a port spreads packets over its rx queues (one per worker), said once at start:
 * destination-only RSS keeps each flow on one worker; anything else (a 4-tuple hash, a
 * kernel's fanout, a single queue) lets a flow's packets reach several workers, which hand
 * them to the flow's owner (lib/handoff.h).
 */
static uint64_t rss_choice(const struct rte_eth_dev_info *info, const char *what, bool *dst_only)
{
	const uint64_t dst = RTE_ETH_RSS_NONFRAG_IPV4_UDP | RTE_ETH_RSS_L3_DST_ONLY |
		RTE_ETH_RSS_L4_DST_ONLY;
	uint64_t offered = info->flow_type_rss_offloads;
	*dst_only = (offered & dst) == dst;
	if (*dst_only) {
		RTE_LOG(INFO, DP, "%s: RSS on the destination address and port: no hand-off\n",
				what);
		return dst | (offered & RTE_ETH_RSS_NONFRAG_IPV6_UDP);
	}
	uint64_t hf = offered & (RTE_ETH_RSS_NONFRAG_IPV4_UDP | RTE_ETH_RSS_IPV4);
	RTE_LOG(NOTICE, DP, "%s: the device cannot hash on the destination alone (RSS offers "
			"0x%" PRIx64 "): %s; packets that reach a worker other than their flow's "
			"owner are handed to it through its ring\n", what, offered,
			hf ? "RSS on what it offers" : "no RSS (the driver's own spreading, if any)");
	return hf;
}

/* The 802.1Q offloads a device's sections want and it offers (vlan.h): strip when it
 * demultiplexes by tag, insert when a section is tagged. */
static void vlan_offloads(struct dp *dp, unsigned idx, const struct rte_eth_dev_info *info,
		struct rte_eth_conf *conf)
{
	struct dp_port *p = &dp->port[idx];
	bool tagged = false;
	for (unsigned i = 0; i < dp->n_ports; i++)
		tagged |= dp->port[i].dev_owner == idx && dp->port[i].vlan != 0;
	p->vlan_rx_strip = p->vlan_demux &&
		(info->rx_offload_capa & RTE_ETH_RX_OFFLOAD_VLAN_STRIP);
	p->vlan_tx_offload = tagged && (info->tx_offload_capa & RTE_ETH_TX_OFFLOAD_VLAN_INSERT);
	if (p->vlan_rx_strip)
		conf->rxmode.offloads |= RTE_ETH_RX_OFFLOAD_VLAN_STRIP;
	if (p->vlan_tx_offload)
		conf->txmode.offloads |= RTE_ETH_TX_OFFLOAD_VLAN_INSERT;
	if (p->vlan_demux)
		RTE_LOG(INFO, DP, "%s: 802.1Q tags stripped %s, inserted %s\n", p->name,
				p->vlan_rx_strip ? "by the device" : "in software",
				!tagged ? "nowhere (no tagged section)" :
				p->vlan_tx_offload ? "by the device" : "in software");
}

static int start_dev(uint16_t id, uint16_t nb_rx, uint16_t nb_tx, struct rte_mempool *pool,
		const char *what, bool *rss_dst, struct dp *vlan_dp, unsigned vlan_idx,
		char *err, size_t errlen)
{
	struct rte_eth_dev_info info;
	int ret = rte_eth_dev_info_get(id, &info);
	if (ret != 0)
		return fail(err, errlen, -1, "%s: cannot read device info: %s", what,
				rte_strerror(-ret));
	if (nb_rx > info.max_rx_queues || nb_tx > info.max_tx_queues)
		return fail(err, errlen, -1, "%s: needs %u rx and %u tx queues (one per worker), "
				"the device offers %u and %u (net_af_packet: add qpairs=N)", what,
				nb_rx, nb_tx, info.max_rx_queues, info.max_tx_queues);

	struct rte_eth_conf conf = { 0 };
	/* where the device checks IPv4/UDP checksums the worker trusts its verdict
	 * (RTE_MBUF_F_RX_*_CKSUM_GOOD/BAD) instead of summing the header again */
	conf.rxmode.offloads = info.rx_offload_capa &
		(RTE_ETH_RX_OFFLOAD_IPV4_CKSUM | RTE_ETH_RX_OFFLOAD_UDP_CKSUM);
	if (vlan_dp != NULL)
		vlan_offloads(vlan_dp, vlan_idx, &info, &conf);
	if (nb_rx > 1 && rss_dst != NULL) {
		/* Flows are keyed on their destination: hash on it alone where the device can, so
		 * a flow stays on one worker even when its source moves (latching, NAT
		 * rebinding). */
		conf.rx_adv_conf.rss_conf.rss_hf = rss_choice(&info, what, rss_dst);
		conf.rxmode.mq_mode = conf.rx_adv_conf.rss_conf.rss_hf ? RTE_ETH_MQ_RX_RSS :
			RTE_ETH_MQ_RX_NONE;
	} else if (nb_rx > 1) {
		/* a kernel interface: worker 0 polls all its queues */
		uint64_t hf = info.flow_type_rss_offloads & (RTE_ETH_RSS_NONFRAG_IPV4_UDP |
				RTE_ETH_RSS_L3_DST_ONLY | RTE_ETH_RSS_L4_DST_ONLY);
		conf.rx_adv_conf.rss_conf.rss_hf = hf;
		conf.rxmode.mq_mode = hf ? RTE_ETH_MQ_RX_RSS : RTE_ETH_MQ_RX_NONE;
	}
	ret = rte_eth_dev_configure(id, nb_rx, nb_tx, &conf);
	if (ret != 0)
		return fail(err, errlen, -1, "%s: configure failed: %s", what, rte_strerror(-ret));

	uint16_t nrx = PORT_RX_DESC, ntx = PORT_TX_DESC;
	rte_eth_dev_adjust_nb_rx_tx_desc(id, &nrx, &ntx);
	int socket = rte_eth_dev_socket_id(id);
	if (socket < 0)
		socket = 0;
	for (uint16_t q = 0; q < nb_rx; q++) {
		ret = rte_eth_rx_queue_setup(id, q, nrx, (unsigned)socket, NULL, pool);
		if (ret != 0)
			return fail(err, errlen, -1, "%s: rx queue %u: %s", what, q,
					rte_strerror(-ret));
	}
	for (uint16_t q = 0; q < nb_tx; q++) {
		ret = rte_eth_tx_queue_setup(id, q, ntx, (unsigned)socket, NULL);
		if (ret != 0)
			return fail(err, errlen, -1, "%s: tx queue %u: %s", what, q,
					rte_strerror(-ret));
	}
	ret = rte_eth_dev_start(id);
	if (ret != 0)
		return fail(err, errlen, -1, "%s: start failed: %s", what, rte_strerror(-ret));
	return 0;
}

int port_start(struct dp *dp, unsigned idx, struct rte_mempool *pool, char *err, size_t errlen)
{
	struct dp_port *p = &dp->port[idx];
	uint16_t nq = (uint16_t)dp->n_workers;

	if (p->dev_owner != idx) {
		/* another section of a device its owner (an earlier section) has started */
		const struct dp_port *o = &dp->port[p->dev_owner];
		p->nb_queues = o->nb_queues;
		p->rss_dst = o->rss_dst;
		p->mtu = o->mtu;
		p->mac = o->mac;
		p->vlan_tx_offload = o->vlan_tx_offload;
		p->mtu = o->mtu;
	} else {
		if (start_dev(p->eth_id, nq, nq, pool, p->name, &p->rss_dst, dp, idx, err,
					errlen) != 0)
			return -1;
		p->nb_queues = nq;
		if (rte_eth_dev_get_mtu(p->eth_id, &p->mtu) != 0 || p->mtu == 0)
			p->mtu = RTE_ETHER_MTU;
		if (rte_eth_macaddr_get(p->eth_id, &p->mac) != 0)
			return fail(err, errlen, -1, "%s: cannot read its MAC address", p->name);
		dp->port_of_eth[p->eth_id] = (int16_t)idx;
	}

	/* The kernel twin carries the port's MAC, so the kernel answers ARP and ping as us. */
	char spec[128], mac[RTE_ETHER_ADDR_FMT_SIZE], what[48];
	rte_ether_format_addr(mac, sizeof(mac), &p->mac);
	snprintf(spec, sizeof(spec), "net_tap%u,iface=%s,mac=%s", idx, p->tap_name, mac);
	if (p->exc_device[0] != '\0')
		snprintf(spec, sizeof(spec), "%s", p->exc_device);     /* tests: no kernel */
	snprintf(what, sizeof(what), "%s exception %s", p->name, p->tap_name);
	if (port_probe(spec, &p->tap_id, err, errlen) != 0)
		return -1;
	/* IPv6 on the TAP as the port has it, quiet, before it comes up (kif6.h) */
	if (p->exc_device[0] == '\0' && kif6_prepare(p->tap_name, p->n_addr6 > 0, err, errlen) != 0)
		return -1;
	/* net_tap wants as many rx as tx queues: every worker sends to the kernel on its own tx
	 * queue, and worker 0 polls all the rx queues (the kernel spreads its traffic on them) */
	return start_dev(p->tap_id, nq, nq, pool, what, NULL, NULL, 0, err, errlen);
}

static void close_dev(uint16_t id)
{
	struct rte_eth_dev_info info;
	rte_eth_dev_stop(id);
	int have = rte_eth_dev_info_get(id, &info) == 0 && info.device != NULL;
	char name[RTE_DEV_NAME_MAX_LEN] = "";
	if (have)
		snprintf(name, sizeof(name), "%s", rte_dev_name(info.device));
	rte_eth_dev_close(id);
	/* a hot-plugged vdev is removed too, so its kernel interface disappears */
	if (have && strncmp(name, "net_", 4) == 0)
		rte_dev_remove(info.device);
}

void port_close_all(struct dp *dp)
{
	for (unsigned i = 0; i < dp->n_ports; i++) {
		struct dp_port *p = &dp->port[i];
		if (p->tap_id != UINT16_MAX && rte_eth_dev_is_valid_port(p->tap_id))
			close_dev(p->tap_id);
		if (p->eth_id != UINT16_MAX && p->dev_owner == i &&
				rte_eth_dev_is_valid_port(p->eth_id))
			close_dev(p->eth_id);       /* a shared device once, by its owner */
	}
}
