/*
 * A hot standby's data plane (API.md 1.6): passive until it takes over, then announced.
 *
 * The switch is one flag the workers load once per loop iteration: no lock, no grace period
 * (a burst already being relayed when the flag drops finishes; nothing after it does).
 */
#include <string.h>
#include <rte_arp.h>
#include <rte_ethdev.h>
#include <rte_ether.h>
#include <rte_log.h>
#include <rte_mbuf.h>
#include <rte_ring.h>

#include "dp.h"
#include "log.h"
#include "ndp.h"
#include "slowpath_nd.h"
#include "vlan.h"

#define ANNOUNCE_ROUNDS 3               /* now and twice more: one lost frame is not fatal */
#define ANNOUNCE_GAP_MS 250

void dp_set_active(struct dp *dp, bool active)
{
	if (dp_passive(dp) == !active)
		return;
	__atomic_store_n(&dp->passive, !active, __ATOMIC_RELAXED);
	if (!active)
		dp->announce_left = 0;
	RTE_LOG(NOTICE, DP, "data plane %s\n", active ? "active: relaying" :
			"passive (standby): relaying nothing");
}

bool dp_is_active(const struct dp *dp)
{
	return !dp_passive(dp);
}

/* Gratuitous ARP (a request with sender = target = addr, RFC 5227 "ARP Announcement"):
 * Linux overrides an existing entry with it even within locktime (arp_is_garp). */
static bool garp(struct dp *dp, uint16_t port, uint32_t addr)
{
	const struct dp_port *p = &dp->port[port];
	struct rte_mbuf *m = rte_pktmbuf_alloc(dp->pool);
	if (m == NULL)
		return false;
	struct rte_ether_hdr *eh = (struct rte_ether_hdr *)rte_pktmbuf_append(m,
			sizeof(*eh) + sizeof(struct rte_arp_hdr));
	struct rte_arp_hdr *ah = (struct rte_arp_hdr *)(eh + 1);

	memset(&eh->dst_addr, 0xff, sizeof(eh->dst_addr));
	rte_ether_addr_copy(&p->mac, &eh->src_addr);
	eh->ether_type = rte_cpu_to_be_16(RTE_ETHER_TYPE_ARP);
	ah->arp_hardware = rte_cpu_to_be_16(RTE_ARP_HRD_ETHER);
	ah->arp_protocol = rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4);
	ah->arp_hlen = RTE_ETHER_ADDR_LEN;
	ah->arp_plen = 4;
	ah->arp_opcode = rte_cpu_to_be_16(RTE_ARP_OP_REQUEST);
	rte_ether_addr_copy(&p->mac, &ah->arp_data.arp_sha);
	ah->arp_data.arp_sip = addr;
	memset(&ah->arp_data.arp_tha, 0, sizeof(ah->arp_data.arp_tha));
	ah->arp_data.arp_tip = addr;

	/* worker 0 sends what the control lcore wants sent (the slow path's ring) */
	m->port = port;
	dp_meta_set(m, DP_META_NONE, DP_TO_PORT);
	if (rte_ring_sp_enqueue(dp->workers[0].from_ctl, m) != 0) {
		dp->ctl_drops[DROP_TX_FULL]++;
		rte_pktmbuf_free(m);
		return false;
	}
	return true;
}

static unsigned announce_round(struct dp *dp)
{
	unsigned sent = 0;
	for (unsigned p = 0; p < dp->n_ports; p++)
		for (unsigned i = 0; i < dp->port[p].n_addr; i++)
			sent += garp(dp, (uint16_t)p, dp->port[p].addr[i]);
	/* IPv6: an unsolicited NA (RFC 4861 7.2.6, override flag) of every IPv6 address */
	return sent + dp_announce_na(dp);
}

unsigned dp_announce(struct dp *dp)
{
	if (dp_passive(dp))
		return 0;               /* a standby must not attract traffic */
	dp->announce_left = ANNOUNCE_ROUNDS - 1;
	dp->announce_next_ms = dp_now_ms() + ANNOUNCE_GAP_MS;
	return announce_round(dp);
}

void dp_announce_poll(struct dp *dp, uint64_t now_ms)
{
	if (dp_passive(dp) || now_ms < dp->announce_next_ms)
		return;
	dp->announce_left--;
	dp->announce_next_ms = now_ms + ANNOUNCE_GAP_MS;
	announce_round(dp);
}

/* The section a frame belongs to (VLAN sections of a shared device, lib/vlan.h), its tag
 * taken off; -1 when no section has its tag. */
static int passive_section(const struct dp_port *dev, uint16_t port, struct rte_mbuf *m)
{
	if (!dev->vlan_demux)
		return port;
	uint16_t vid = 0;
	if (m->ol_flags & RTE_MBUF_F_RX_VLAN_STRIPPED) {
		vid = m->vlan_tci & VLAN_VID_MASK;
	} else if (m->data_len >= RTE_ETHER_HDR_LEN + RTE_VLAN_HLEN &&
			*rte_pktmbuf_mtod_offset(m, const uint16_t *, 12) ==
			rte_cpu_to_be_16(RTE_ETHER_TYPE_VLAN)) {
		if (rte_vlan_strip(m) != 0)
			return -1;
		vid = m->vlan_tci & VLAN_VID_MASK;
	}
	return dev->vid_port[vid];
}

void worker_passive_burst(struct worker *w, uint16_t port, struct rte_mbuf **pkts, uint16_t n)
{
	const struct dp_port *dev = &w->dp->port[port];
	for (uint16_t i = 0; i < n; i++) {
		struct rte_mbuf *m = pkts[i];
		/* ARP and NS/NA keep the neighbour table warm (answers to our probes,
		 * announcements); the control lcore frees them instead of passing them to the
		 * kernel */
		int sec = passive_section(dev, port, m);
		const struct rte_ether_hdr *eh = rte_pktmbuf_mtod(m, const struct rte_ether_hdr *);
		if (sec >= 0 && m->data_len >= sizeof(*eh) &&
				(eh->ether_type == rte_cpu_to_be_16(RTE_ETHER_TYPE_ARP) ||
				 ndp_is_ns_na(rte_pktmbuf_mtod(m, const uint8_t *), m->data_len))) {
			dp_meta_set(m, DP_META_NONE, (uint32_t)sec);    /* learn_arp: its section */
			if (rte_ring_mp_enqueue(w->dp->arp_ring, m) == 0)
				continue;
		}
		rte_pktmbuf_free(m);
	}
}

unsigned worker_passive_taps(struct worker *w)
{
	struct dp *dp = w->dp;
	struct rte_mbuf *pkts[DP_BURST];
	unsigned total = 0;

	for (unsigned p = 0; p < dp->n_ports; p++)
		for (uint16_t q = 0; q < dp->port[p].nb_queues; q++) {
			uint16_t k = rte_eth_rx_burst(dp->port[p].tap_id, q, pkts, DP_BURST);
			rte_pktmbuf_free_bulk(pkts, k);
			total += k;
		}
	return total;
}
