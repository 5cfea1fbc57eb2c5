#include "arp.h"

#include <string.h>

#include <rte_arp.h>
#include <rte_byteorder.h>
#include <rte_ethdev.h>

#include "frame.h"
#include "ndp.h"

static bool is_mine4(const struct gen_lcore *lc, uint32_t addr_be)
{
	for (unsigned i = 0; i < lc->n_my_addrs; i++)
		if (lc->my_addrs[i].af == 4 &&
				rte_cpu_to_be_32(lc->my_addrs[i].v4) == addr_be)
			return true;
	return false;
}

static bool is_mine6(const struct gen_lcore *lc, const uint8_t *addr)
{
	for (unsigned i = 0; i < lc->n_my_addrs; i++)
		if (lc->my_addrs[i].af == 6 && memcmp(lc->my_addrs[i].v6, addr, 16) == 0)
			return true;
	return false;
}

bool arp_answer(struct gen_lcore *lc, unsigned pi, struct rte_mbuf *m, uint32_t l3)
{
	struct rte_ether_hdr *eth = rte_pktmbuf_mtod(m, struct rte_ether_hdr *);
	struct rte_arp_hdr *arp = rte_pktmbuf_mtod_offset(m, struct rte_arp_hdr *, l3);
	const struct rte_ether_addr *mac = &lc->rx_mac[pi];
	uint32_t target;

	if (m->data_len < l3 + sizeof(*arp) ||
			arp->arp_hardware != rte_cpu_to_be_16(RTE_ARP_HRD_ETHER) ||
			arp->arp_protocol != rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4) ||
			arp->arp_hlen != RTE_ETHER_ADDR_LEN || arp->arp_plen != 4 ||
			arp->arp_opcode != rte_cpu_to_be_16(RTE_ARP_OP_REQUEST))
		return false;
	target = arp->arp_data.arp_tip;
	/* an announcement (sender = target, ours looped back included) wants no answer */
	if (!is_mine4(lc, target) || arp->arp_data.arp_sip == target)
		return false;

	/* the tag, if any, stays: the answer goes back on the request's VLAN */
	eth->dst_addr = arp->arp_data.arp_sha;
	eth->src_addr = *mac;
	arp->arp_opcode = rte_cpu_to_be_16(RTE_ARP_OP_REPLY);
	arp->arp_data.arp_tha = arp->arp_data.arp_sha;
	arp->arp_data.arp_tip = arp->arp_data.arp_sip;
	arp->arp_data.arp_sha = *mac;
	arp->arp_data.arp_sip = target;
	/* a request may come in padded to 60 bytes: the reply is the same size */
	if (rte_eth_tx_burst(lc->rx_ports[pi], 0, &m, 1) != 1)
		return false;
	lc->arp_replies++;
	return true;
}

/* One frame of len bytes, built by the caller in m, out of rx port slot pi. */
static bool send_frame(struct gen_lcore *lc, unsigned pi, struct rte_mbuf *m, size_t len)
{
	m->data_len = m->pkt_len = (uint32_t)len;
	if (rte_eth_tx_burst(lc->rx_ports[pi], 0, &m, 1) != 1) {
		rte_pktmbuf_free(m);
		return false;
	}
	return true;
}

void ndp_answer(struct gen_lcore *lc, unsigned pi, const struct rte_mbuf *m, uint32_t l3,
		int vid)
{
	const uint8_t *frame = rte_pktmbuf_mtod(m, const uint8_t *);
	bool dad;
	struct ndp_ns ns;
	struct rte_mbuf *r;

	if (!ndp_parse_ns(frame, m->data_len, l3, &ns) || !is_mine6(lc, ns.target))
		return;
	/* (a tag the NIC stripped is not in the frame: the answer gets it back) */
	r = rte_pktmbuf_alloc(lc->pool);
	if (r == NULL)
		return;
	/* duplicate address detection (source ::) is answered to all nodes (RFC 4861 7.2.4) */
	dad = memcmp(ns.src, (uint8_t[16]){ 0 }, 16) == 0;
	if (send_frame(lc, pi, r, ndp_build_na(rte_pktmbuf_mtod(r, uint8_t *),
			dad ? &ndp_all_nodes_mac : &ns.eth_src, &lc->rx_mac[pi], vid, ns.target,
			dad ? ndp_all_nodes : ns.src, !dad)))
		lc->arp_replies++;
}

/* A gratuitous ARP request or an unsolicited NA for a, out of rx port slot pi, tagged vlan. */
static bool announce_one(struct gen_lcore *lc, unsigned pi, const struct gen_addr *a, int vlan)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(lc->pool);
	struct rte_ether_addr bcast;
	struct rte_arp_hdr *arp;
	uint8_t *p;
	size_t l3;

	if (m == NULL)
		return false;
	p = rte_pktmbuf_mtod(m, uint8_t *);
	if (a->af == 6)
		return send_frame(lc, pi, m, ndp_build_na(p, &ndp_all_nodes_mac, &lc->rx_mac[pi],
				vlan, a->v6, ndp_all_nodes, false));
	memset(p, 0, RTE_ETHER_MIN_LEN + 4);
	memset(&bcast, 0xff, sizeof(bcast));
	l3 = frame_eth(p, &bcast, &lc->rx_mac[pi], vlan, RTE_ETHER_TYPE_ARP);
	arp = (struct rte_arp_hdr *)(p + l3);
	arp->arp_hardware = rte_cpu_to_be_16(RTE_ARP_HRD_ETHER);
	arp->arp_protocol = rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4);
	arp->arp_hlen = RTE_ETHER_ADDR_LEN;
	arp->arp_plen = 4;
	arp->arp_opcode = rte_cpu_to_be_16(RTE_ARP_OP_REQUEST);
	arp->arp_data.arp_sha = lc->rx_mac[pi];
	arp->arp_data.arp_sip = rte_cpu_to_be_32(a->v4);
	arp->arp_data.arp_tip = rte_cpu_to_be_32(a->v4);
	/* the minimum frame, plus the tag if there is one */
	return send_frame(lc, pi, m, RTE_ETHER_MIN_LEN - RTE_ETHER_CRC_LEN + (l3 - 14));
}

unsigned arp_announce(struct gen_lcore *lc)
{
	unsigned sent = 0;

	for (unsigned pi = 0; pi < lc->n_rx_ports; pi++) {
		uint16_t port = lc->rx_ports[pi];
		for (unsigned a = 0; a < lc->n_my_addrs; a++) {
			uint8_t where = lc->my_addr_where[a];
			bool on_tx = where & ARP_ON_TX && port == lc->tx_port;
			bool on_rx = where & ARP_ON_RX && port == lc->rx_port;
			if (on_tx)
				sent += announce_one(lc, pi, &lc->my_addrs[a], lc->tx_vlan);
			/* once per port and tag */
			if (on_rx && !(on_tx && lc->tx_vlan == lc->rx_vlan))
				sent += announce_one(lc, pi, &lc->my_addrs[a], lc->rx_vlan);
		}
	}
	return sent;
}
