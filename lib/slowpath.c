#include "slowpath.h"

#include <string.h>
#include <rte_arp.h>
#include <rte_ether.h>
#include <rte_log.h>
#include <rte_mbuf.h>
#include <rte_ring.h>

#include "dp.h"
#include "pkt.h"
#include "log.h"
#include "ndp.h"
#include "slowpath_nd.h"

#define SLOWPATH_TIMER_MS 100

/* UDP payload bytes of a relayed IPv4 or IPv6 frame (what its flow counted). */
static uint16_t udp_payload_len(const struct rte_mbuf *m)
{
	return pkt_udp_payload_of(rte_pktmbuf_mtod(m, const uint8_t *));
}

/*
 * A held packet (meta: its flow's id and gen) that will not be sent: dropped under `why`
 * appliance-wide and, if its flow is still the same, on the flow, which counted it as sent.
 * count = false when a worker already counted the appliance-wide drop (TX refused).
 */
static void drop_held(struct dp *dp, struct rte_mbuf *m, enum dp_drop why, bool count)
{
	struct flow *f = flow_if_same(dp->flows, dp_meta_flow(m) & ~DP_META_CTL, dp_meta_aux(m));
	if (f != NULL) {
		f->ctl_dropped++;
		f->ctl_dropped_bytes += udp_payload_len(m);
	}
	if (count)
		dp->ctl_drops[why]++;
	rte_pktmbuf_free(m);
}

/* Hand worker 0 a packet to send (to the port, or to the port's kernel interface). */
static void ctl_send(struct dp *dp, struct rte_mbuf *m, uint16_t port, uint32_t where)
{
	m->port = port;
	dp_meta_set(m, DP_META_NONE, where);
	if (rte_ring_sp_enqueue(dp->workers[0].from_ctl, m) != 0) {
		dp->ctl_drops[DROP_TX_FULL]++;
		rte_pktmbuf_free(m);
	}
}

/* Hand worker 0 a held packet (meta: its flow's id and gen) whose next hop resolved. */
static void send_held(struct dp *dp, struct rte_mbuf *m, uint16_t port)
{
	m->port = port;
	dp_meta_set(m, dp_meta_flow(m) | DP_META_CTL, dp_meta_aux(m));
	if (rte_ring_sp_enqueue(dp->workers[0].from_ctl, m) != 0)
		drop_held(dp, m, DROP_TX_FULL, true);
}

/* The port's address on the target's subnet (the first one otherwise). */
static uint32_t source_for(const struct dp_port *p, uint32_t target)
{
	for (unsigned i = 0; i < p->n_addr; i++)
		if ((p->addr[i] & p->mask[i]) == (target & p->mask[i]))
			return p->addr[i];
	return p->addr[0];
}

static void arp_request(struct dp *dp, uint16_t port, uint32_t target)
{
	const struct dp_port *p = &dp->port[port];
	struct rte_mbuf *m = rte_pktmbuf_alloc(dp->pool);
	if (m == NULL)
		return;
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
	/* a standby probes (RFC 5227: sender 0.0.0.0) so that no neighbour learns it */
	ah->arp_data.arp_sip = dp_passive(dp) ? 0 : source_for(p, target);
	memset(&ah->arp_data.arp_tha, 0, sizeof(ah->arp_data.arp_tha));
	ah->arp_data.arp_tip = target;
	ctl_send(dp, m, port, DP_TO_PORT);
}

static void probe(struct dp *dp, uint32_t idx, uint64_t now_ms)
{
	struct neigh_entry *e = &dp->neigh->ent[idx];
	e->probes++;
	e->probe_ms = now_ms;
	if (!e->v6) {
		arp_request(dp, e->port, e->ip);
		return;
	}
	struct rte_mbuf *m = nd_solicit(dp, e);
	if (m != NULL)
		ctl_send(dp, m, e->port, DP_TO_PORT);
}

void slowpath_resolve(struct dp *dp, uint32_t idx, uint64_t now_ms)
{
	struct neigh_entry *e = &dp->neigh->ent[idx];
	if (e->state == NEIGH_INCOMPLETE && e->probes == 0)
		probe(dp, idx, now_ms);
}

/* Drop what waited for a next hop that did not answer: the flows' losses, not their sends. */
static void drop_pending(struct dp *dp, struct neigh_entry *e)
{
	for (unsigned i = 0; i < e->n_pending; i++)
		drop_held(dp, e->pending[i], DROP_NO_NEIGHBOR, true);
	e->n_pending = 0;
}

static void release_pending(struct dp *dp, uint32_t idx)
{
	struct neigh_entry *e = &dp->neigh->ent[idx];
	uint8_t mac[6];
	if (!neigh_mac_get(dp->neigh, idx, mac))
		return;
	for (unsigned i = 0; i < e->n_pending; i++) {
		struct rte_mbuf *m = e->pending[i];
		memcpy(rte_pktmbuf_mtod(m, uint8_t *), mac, 6);
		send_held(dp, m, e->port);
	}
	e->n_pending = 0;
}

static void learn_arp(struct dp *dp, struct rte_mbuf *m, uint64_t now_ms)
{
	/* the section it came in on (a device may carry several, one per VLAN) */
	int port = dp_meta_aux(m) < dp->n_ports ? (int)dp_meta_aux(m) : -1;
	if (port < 0) {
		rte_pktmbuf_free(m);
		return;
	}
	if (m->data_len >= RTE_ETHER_HDR_LEN && rte_pktmbuf_mtod(m, const struct rte_ether_hdr *)
			->ether_type == rte_cpu_to_be_16(NDP_ETHERTYPE_IPV6)) {
		/* neighbour discovery: learnt from as ARP is, then the kernel's too (it answers
		 * solicitations for our addresses and resolves its own connections' peers) */
		uint32_t idx = nd_learn(dp, (uint16_t)port, m, now_ms);
		if (idx != NEIGH_NONE)
			release_pending(dp, idx);
		if (dp_passive(dp))
			rte_pktmbuf_free(m);    /* a standby's kernel hears nothing (below) */
		else
			ctl_send(dp, m, (uint16_t)port, DP_TO_KERNEL);
		return;
	}
	if (m->data_len >= sizeof(struct rte_ether_hdr) + sizeof(struct rte_arp_hdr)) {
		const struct rte_arp_hdr *ah = rte_pktmbuf_mtod_offset(m, const struct rte_arp_hdr *,
				sizeof(struct rte_ether_hdr));
		uint16_t op = rte_be_to_cpu_16(ah->arp_opcode);
		/* only what is addressed to us: a reply to our request, or a request for one
		 * of our addresses; and a neighbour's announcement of itself (gratuitous ARP,
		 * sender = target), which answers a request of ours as a reply would
		 * (neigh_learn decides what each may change: none creates an entry); and the
		 * answer to a standby's probe, whose target is 0.0.0.0 */
		bool announce = ah->arp_data.arp_sip == ah->arp_data.arp_tip;
		if (ah->arp_hardware == rte_cpu_to_be_16(RTE_ARP_HRD_ETHER) &&
				ah->arp_protocol == rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4) &&
				ah->arp_hlen == RTE_ETHER_ADDR_LEN && ah->arp_plen == 4 &&
				(op == RTE_ARP_OP_REPLY || op == RTE_ARP_OP_REQUEST) &&
				(announce || dp_port_owns(&dp->port[port], ah->arp_data.arp_tip) ||
				 (op == RTE_ARP_OP_REPLY && ah->arp_data.arp_tip == 0))) {
			uint32_t idx = neigh_learn(dp->neigh, (uint16_t)port,
					ah->arp_data.arp_sip, ah->arp_data.arp_sha.addr_bytes,
					op == RTE_ARP_OP_REPLY || announce, now_ms);
			if (idx != NEIGH_NONE)
				release_pending(dp, idx);
		}
	}
	/* the kernel answers requests for our addresses and keeps its own table; a standby
	 * owns no address, so its kernel hears nothing */
	if (dp_passive(dp))
		rte_pktmbuf_free(m);
	else
		ctl_send(dp, m, (uint16_t)port, DP_TO_KERNEL);
}

static void hold_pending(struct dp *dp, struct rte_mbuf *m, uint64_t now_ms)
{
	if (dp_meta_flow(m) & DP_META_CTL) {
		/* released earlier, refused by the port: worker 0 counted tx_full */
		drop_held(dp, m, DROP_TX_FULL, false);
		return;
	}
	const struct flow *f = flow_if_same(dp->flows, dp_meta_flow(m), dp_meta_aux(m));
	if (f == NULL) {
		/* its session went away while the packet waited in the ring */
		drop_held(dp, m, DROP_NO_NEIGHBOR, true);
		return;
	}
	uint32_t idx = f->neigh;
	struct neigh_entry *e = &dp->neigh->ent[idx];
	uint8_t mac[6];

	if (neigh_mac_get(dp->neigh, idx, mac)) {
		/* resolved between the worker's look and now */
		memcpy(rte_pktmbuf_mtod(m, uint8_t *), mac, 6);
		send_held(dp, m, e->port);
		return;
	}
	if (e->n_pending == NEIGH_PENDING_MAX || e->state == NEIGH_FAILED) {
		drop_held(dp, m, DROP_NO_NEIGHBOR, true);
		/* a failed next hop is tried again once in a while, when traffic wants it */
		if (e->state == NEIGH_FAILED && now_ms - e->probe_ms >= NEIGH_RETRY_MS) {
			e->state = NEIGH_INCOMPLETE;
			e->probes = 0;
			probe(dp, idx, now_ms);
		}
		return;
	}
	e->pending[e->n_pending++] = m;
	if (e->probes == 0)
		probe(dp, idx, now_ms);
}

static void run_timers(struct dp *dp, uint64_t now_ms)
{
	struct neigh_table *nt = dp->neigh;
	for (uint32_t i = 0; i < nt->used; i++) {
		struct neigh_entry *e = &nt->ent[i];
		switch (e->state) {
		case NEIGH_INCOMPLETE:
			if (e->probes > 0 && now_ms - e->probe_ms >= NEIGH_RETRY_MS) {
				if (e->probes >= NEIGH_MAX_PROBES) {
					e->state = NEIGH_FAILED;
					drop_pending(dp, e);
				} else {
					probe(dp, i, now_ms);
				}
			}
			break;
		case NEIGH_REACHABLE:
			if (now_ms - e->confirmed_ms >= NEIGH_REACHABLE_MS) {
				/* keep forwarding with the old MAC while we ask again */
				e->state = NEIGH_STALE;
				e->probes = 0;
				probe(dp, i, now_ms);
			}
			break;
		case NEIGH_STALE:
			if (now_ms - e->probe_ms >= NEIGH_RETRY_MS) {
				if (e->probes >= NEIGH_MAX_PROBES) {
					char a[48];
					RTE_LOG(INFO, DP, "neighbour %s stopped answering %s\n",
						neigh_format(e, a, sizeof(a)),
						e->v6 ? "NDP" : "ARP");
					e->state = NEIGH_FAILED;
					neigh_invalidate(nt, i);
				} else {
					probe(dp, i, now_ms);
				}
			}
			break;
		default:
			break;
		}
	}
}

void slowpath_poll(struct dp *dp, uint64_t now_ms)
{
	struct rte_mbuf *pkts[DP_BURST];
	unsigned n;

	while ((n = rte_ring_sc_dequeue_burst(dp->arp_ring, (void **)pkts, DP_BURST, NULL)) > 0)
		for (unsigned i = 0; i < n; i++)
			learn_arp(dp, pkts[i], now_ms);
	while ((n = rte_ring_sc_dequeue_burst(dp->pending_ring, (void **)pkts, DP_BURST,
					NULL)) > 0)
		for (unsigned i = 0; i < n; i++)
			hold_pending(dp, pkts[i], now_ms);
	if (now_ms - dp->slow_timer_ms >= SLOWPATH_TIMER_MS) {
		dp->slow_timer_ms = now_ms;
		run_timers(dp, now_ms);
	}
}
