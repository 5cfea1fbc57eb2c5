/*
 * 802.1Q port sections sharing a device (vlan.h): the plan made at set-up and the receive
 * side's demultiplexer. The transmit side is inline in vlan.h.
 */
#include <stdio.h>
#include <string.h>
#include <rte_branch_prediction.h>
#include <rte_prefetch.h>

#include "pkt.h"
#include "vlan.h"

int vlan_plan(struct dp *dp, const struct dp_conf *conf, char *err, size_t errlen)
{
	for (unsigned i = 0; i < dp->n_ports; i++) {
		struct dp_port *p = &dp->port[i];
		p->vlan = conf->port[i].vlan;
		p->dev_owner = (uint16_t)i;
		p->dev_shared = false;
		memset(p->vid_port, -1, sizeof(p->vid_port));
		for (unsigned j = 0; j < i; j++) {
			if (dp->port[j].eth_id == p->eth_id) {
				p->dev_owner = dp->port[j].dev_owner;
				break;
			}
		}
		struct dp_port *o = &dp->port[p->dev_owner];
		if (p->vlan > VLAN_VID_MASK - 1) {
			snprintf(err, errlen, "%s: vlan: %u, expected 0..%u", p->name, p->vlan,
					VLAN_VID_MASK - 1);
			return -1;
		}
		int other = o->vid_port[p->vlan];
		if (other >= 0) {
			char what[16];
			snprintf(what, sizeof(what), p->vlan ? "VLAN %u" : "untagged", p->vlan);
			snprintf(err, errlen, "%s: vlan: %s on device \"%s\" is %s's already",
					p->name, what, conf->port[i].device, dp->port[other].name);
			return -1;
		}
		o->vid_port[p->vlan] = (int8_t)i;
		if (o != p)
			o->dev_shared = p->dev_shared = true;
	}
	for (unsigned i = 0; i < dp->n_ports; i++) {
		struct dp_port *p = &dp->port[i];
		struct dp_port *o = &dp->port[p->dev_owner];
		if (o->dev_shared)
			p->dev_shared = true;
		p->vlan_tx = p->vlan != 0 || p->dev_shared;
		if (p->vlan != 0 || p->dev_shared)
			o->vlan_demux = true;
	}
	return 0;
}

/* Strip the VID-0 tags a frame starts with; its first VID that is not 0 (0 = none left).
 * Bounded: each pass takes 4 bytes off the frame. */
static uint16_t strip_priority_tags(struct rte_mbuf *m)
{
	while (m->data_len >= RTE_ETHER_HDR_LEN + RTE_VLAN_HLEN) {
		const uint8_t *f = rte_pktmbuf_mtod(m, const uint8_t *);
		if (pkt_rd16(f + 12) != RTE_ETHER_TYPE_VLAN)
			return 0;
		uint16_t vid = pkt_rd16(f + 14) & VLAN_VID_MASK;
		if (vid != 0)
			return vid;
		rte_vlan_strip(m);
	}
	return 0;
}

static void drop_unknown(struct worker *w, struct rte_mbuf *m)
{
	w->stats.drops[DROP_UNKNOWN_VLAN]++;
	rte_pktmbuf_free(m);
}

void vlan_other(struct worker *w, uint16_t port, struct rte_mbuf *m, uint64_t now)
{
	if (strip_priority_tags(m) != 0 || m->data_len < RTE_ETHER_HDR_LEN) {
		drop_unknown(w, m);
		return;
	}
	/* untagged now: the burst code sees an ordinary frame (no second visit here) */
	worker_handle_burst(w, port, &m, 1, now);
}

#define PF_AHEAD 4

void vlan_rx(struct worker *w, uint16_t owner, struct rte_mbuf **pkts, uint16_t n, uint64_t now)
{
	const struct dp_port *dev = &w->dp->port[owner];
	struct rte_mbuf *sec[DP_MAX_PORTS][DP_BURST];
	uint16_t n_sec[DP_MAX_PORTS] = { 0 };
	uint32_t used = 0;              /* bit per section that got frames */

	for (uint16_t i = 0; i < n && i < PF_AHEAD; i++)
		rte_prefetch0(rte_pktmbuf_mtod(pkts[i], void *));
	for (uint16_t i = 0; i < n && i < DP_BURST; i++) {
		struct rte_mbuf *m = pkts[i];
		uint32_t wire = m->pkt_len;
		uint16_t vid = 0;
		if (i + PF_AHEAD < n)
			rte_prefetch0(rte_pktmbuf_mtod(pkts[i + PF_AHEAD], void *));
		if (m->ol_flags & RTE_MBUF_F_RX_VLAN_STRIPPED) {
			vid = m->vlan_tci & VLAN_VID_MASK;      /* the NIC took it off */
			wire += RTE_VLAN_HLEN;
		} else if (m->data_len >= RTE_ETHER_HDR_LEN + RTE_VLAN_HLEN &&
				pkt_rd16(rte_pktmbuf_mtod(m, const uint8_t *) + 12) ==
				RTE_ETHER_TYPE_VLAN) {
			rte_vlan_strip(m);
			vid = m->vlan_tci & VLAN_VID_MASK;
		}
		int s = dev->vid_port[vid];
		if (unlikely(s < 0)) {
			drop_unknown(w, m);
			continue;
		}
		w->stats.sec_rx[s]++;
		w->stats.sec_rx_bytes[s] += wire;
		sec[s][n_sec[s]++] = m;
		used |= 1u << s;
	}
	while (used != 0) {
		unsigned s = (unsigned)__builtin_ctz(used);
		used &= used - 1;
		worker_handle_burst(w, (uint16_t)s, sec[s], n_sec[s], now);
	}
}
