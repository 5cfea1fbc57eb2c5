/*
 * 802.1Q VLANs (API.md 1.5): several port sections on one device, told apart by their tag.
 *
 * A device is set up and polled once, by its first section (the owner); every section keeps
 * its own addresses, exception interface, neighbours and counters. Receive: where the owner
 * has several sections or a tagged one, vlan_rx takes the tag (stripped by the NIC, else here
 * in software), finds the section of that VID and hands the untagged frames on as if they had
 * arrived on that section; a tag no section has (or no tag, where no section is untagged) is
 * dropped as unknown_vlan; VID 0 (priority-tagged) is untagged. Transmit: to_port calls
 * vlan_tx for such sections, which inserts the tag (by the NIC where it offers it).
 */
#ifndef RTPPROXY_VLAN_H
#define RTPPROXY_VLAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <rte_ether.h>
#include <rte_mbuf.h>

#include "dp.h"

#define VLAN_VID_MASK 0x0fff

/*
 * Before any device starts (every section probed, eth_id set): group the sections by device,
 * fill each owner's VID table and the sections' flags. -1 and err naming both sections when
 * two of one device have the same tag.
 */
int vlan_plan(struct dp *dp, const struct dp_conf *conf, char *err, size_t errlen);

/* A burst from the device that dp port `owner` polls: demultiplexed by tag, then the
 * worker's burst code per section. */
void vlan_rx(struct worker *w, uint16_t owner, struct rte_mbuf **pkts, uint16_t n,
		uint64_t now);

/* A frame that still carries an 802.1Q tag after the demultiplexer (a device without tagged
 * sections, or a second tag): VID 0 tags are stripped and the frame handled as untagged on
 * `port`; any other is unknown_vlan. */
void vlan_other(struct worker *w, uint16_t port, struct rte_mbuf *m, uint64_t now);

/* For a section with vlan_tx, before its frame goes to the device: counted (shared device)
 * and tagged. false: there was no room for the tag, and the packet is refused as a device
 * would refuse it (tx_failed). */
static inline bool vlan_tx(struct worker *w, uint16_t port, struct rte_mbuf *m)
{
	const struct dp_port *p = &w->dp->port[port];
	if (p->dev_shared) {
		w->stats.sec_tx[port]++;
		w->stats.sec_tx_bytes[port] += m->pkt_len + (p->vlan ? RTE_VLAN_HLEN : 0);
	}
	if (p->vlan == 0) {
		m->ol_flags &= ~RTE_MBUF_F_TX_VLAN;
		return true;
	}
	m->vlan_tci = p->vlan;
	if (p->vlan_tx_offload) {
		m->ol_flags |= RTE_MBUF_F_TX_VLAN;
		return true;
	}
	if (likely(rte_vlan_insert(&m) == 0))
		return true;
	worker_tx_refused(w, m);
	return false;
}

#endif
