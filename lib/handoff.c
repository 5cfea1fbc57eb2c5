#include "handoff.h"

#include <errno.h>
#include <stdio.h>
#include <rte_mbuf.h>
#include <rte_ring.h>

#include "pkt.h"

int handoff_init(struct worker *w)
{
	struct dp *dp = w->dp;
	flow_table_set_owners(dp->flows, dp->n_workers);
	if (dp->n_workers <= 1 || w->handoff != NULL)
		return 0;
	char name[RTE_RING_NAMESIZE];
	snprintf(name, sizeof(name), "handoff%u", w->index);
	w->handoff = rte_ring_create(name, DP_HANDOFF_RING, (int)rte_lcore_to_socket_id(w->lcore),
			RING_F_SC_DEQ);
	return w->handoff == NULL ? -ENOMEM : 0;
}

void handoff_fini(struct worker *w)
{
	struct rte_mbuf *m;
	while (w->handoff != NULL && rte_ring_dequeue(w->handoff, (void **)&m) == 0)
		rte_pktmbuf_free(m);
	rte_ring_free(w->handoff);
	w->handoff = NULL;
}

/* UDP payload bytes of a classified IPv4 or IPv6/UDP frame. */
static uint16_t udp_payload(const struct rte_mbuf *m)
{
	return pkt_udp_payload_of(rte_pktmbuf_mtod(m, const uint8_t *));
}

/*
 * One writer per flow: packets of flows this worker does not own go to their owners' rings,
 * one bulk enqueue per owner, with the dp port they arrived on. What a full ring refuses is
 * dropped (handoff_full) and counted on the flow as received and dropped, atomically: the
 * owner writes the flow's other counters (the flow stays valid until this worker's next
 * quiescent state).
 */
void hand_off(struct worker *w, uint16_t rx_port, struct rte_mbuf **pkts,
		struct flow **flows, uint16_t n)
{
	struct rte_mbuf *batch[DP_BURST];
	uint32_t done = 0;

	for (uint16_t i = 0; i < n; i++) {
		if (done & (1u << i))
			continue;
		uint8_t owner = flows[i]->owner;
		unsigned k = 0;
		for (uint16_t j = i; j < n; j++) {
			if (!(done & (1u << j)) && flows[j]->owner == owner) {
				dp_meta_set(pkts[j], flows[j]->id, rx_port);
				batch[k++] = pkts[j];
				done |= 1u << j;
			}
		}
		unsigned sent = rte_ring_mp_enqueue_burst(w->dp->workers[owner].handoff,
				(void **)batch, k, NULL);
		w->stats.handed_off += sent;
		for (unsigned j = sent; j < k; j++) {
			struct flow *f = flow_at(w->dp->flows, dp_meta_flow(batch[j]));
			__atomic_fetch_add(&f->handoff_lost, 1, __ATOMIC_RELAXED);
			__atomic_fetch_add(&f->handoff_lost_bytes, udp_payload(batch[j]),
					__ATOMIC_RELAXED);
			w->stats.drops[DROP_HANDOFF_FULL]++;
			rte_pktmbuf_free(batch[j]);
		}
	}
}
