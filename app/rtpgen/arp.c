#include "arp.h"

#include <string.h>

#include <rte_arp.h>
#include <rte_byteorder.h>
#include <rte_ethdev.h>

static bool is_mine(const struct gen_lcore *lc, uint32_t addr)
{
	for (unsigned i = 0; i < lc->n_my_addrs; i++)
		if (lc->my_addrs[i] == addr)
			return true;
	return false;
}

bool arp_answer(struct gen_lcore *lc, unsigned pi, struct rte_mbuf *m)
{
	struct rte_ether_hdr *eth = rte_pktmbuf_mtod(m, struct rte_ether_hdr *);
	struct rte_arp_hdr *arp = (struct rte_arp_hdr *)(eth + 1);
	const struct rte_ether_addr *mac = &lc->rx_mac[pi];
	uint32_t target;

	if (m->data_len < sizeof(*eth) + sizeof(*arp) ||
			eth->ether_type != rte_cpu_to_be_16(RTE_ETHER_TYPE_ARP) ||
			arp->arp_hardware != rte_cpu_to_be_16(RTE_ARP_HRD_ETHER) ||
			arp->arp_protocol != rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4) ||
			arp->arp_hlen != RTE_ETHER_ADDR_LEN || arp->arp_plen != 4 ||
			arp->arp_opcode != rte_cpu_to_be_16(RTE_ARP_OP_REQUEST))
		return false;
	target = arp->arp_data.arp_tip;
	/* an announcement (sender = target, ours looped back included) wants no answer */
	if (!is_mine(lc, target) || arp->arp_data.arp_sip == target)
		return false;

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

/* A gratuitous ARP request for addr (network order) out of rx port slot pi. */
static bool announce_one(struct gen_lcore *lc, unsigned pi, uint32_t addr)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(lc->pool);
	struct rte_ether_hdr *eth;
	struct rte_arp_hdr *arp;

	if (m == NULL)
		return false;
	eth = rte_pktmbuf_mtod(m, struct rte_ether_hdr *);
	arp = (struct rte_arp_hdr *)(eth + 1);
	memset(eth, 0, RTE_ETHER_MIN_LEN - RTE_ETHER_CRC_LEN);
	memset(&eth->dst_addr, 0xff, RTE_ETHER_ADDR_LEN);
	eth->src_addr = lc->rx_mac[pi];
	eth->ether_type = rte_cpu_to_be_16(RTE_ETHER_TYPE_ARP);
	arp->arp_hardware = rte_cpu_to_be_16(RTE_ARP_HRD_ETHER);
	arp->arp_protocol = rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4);
	arp->arp_hlen = RTE_ETHER_ADDR_LEN;
	arp->arp_plen = 4;
	arp->arp_opcode = rte_cpu_to_be_16(RTE_ARP_OP_REQUEST);
	arp->arp_data.arp_sha = lc->rx_mac[pi];
	arp->arp_data.arp_sip = addr;
	arp->arp_data.arp_tip = addr;
	m->data_len = m->pkt_len = RTE_ETHER_MIN_LEN - RTE_ETHER_CRC_LEN;
	if (rte_eth_tx_burst(lc->rx_ports[pi], 0, &m, 1) != 1) {
		rte_pktmbuf_free(m);
		return false;
	}
	return true;
}

unsigned arp_announce(struct gen_lcore *lc)
{
	unsigned sent = 0;

	for (unsigned pi = 0; pi < lc->n_rx_ports; pi++) {
		uint16_t port = lc->rx_ports[pi];
		for (unsigned a = 0; a < lc->n_my_addrs; a++) {
			uint8_t where = lc->my_addr_where[a];
			if ((where & ARP_ON_TX && port == lc->tx_port) ||
					(where & ARP_ON_RX && port == lc->rx_port))
				sent += announce_one(lc, pi, lc->my_addrs[a]);
		}
	}
	return sent;
}
