/*
 * A worker's TX buffers and what happens to the packets a port or a kernel interface refuses:
 * counted once, on their flow where they have one (received = sent + dropped holds).
 */
#include <errno.h>
#include <rte_ethdev.h>
#include <rte_malloc.h>
#include <rte_ring.h>

#include "dp.h"
#include "handoff.h"
#include "pkt.h"

static inline uint16_t udp_payload_of(const struct rte_mbuf *m)
{
	return pkt_udp_payload_of(rte_pktmbuf_mtod(m, const uint8_t *));
}

/*
 * TX error callback for the ports: the NIC refused these. A relayed packet was already
 * counted as sent by its flow, which is still alive (no quiescent state was reported since),
 * so move it from sent to dropped. One the control lcore released after ARP (DP_META_CTL)
 * goes back to control, the only one that may correct its flow from here (this worker may
 * not be the flow's, and the flow may be gone).
 */
static void tx_refused(struct rte_mbuf **pkts, uint16_t n, void *arg)
{
	struct worker *w = arg;

	for (uint16_t i = 0; i < n; i++) {
		struct rte_mbuf *m = pkts[i];
		uint32_t id = dp_meta_flow(m);
		uint32_t port = dp_meta_aux(m);
		if (id != DP_META_NONE && (id & DP_META_CTL)) {
			port = m->port;
		} else if (id != DP_META_NONE) {
			struct flow_stats *st = &flow_at(w->dp->flows, id)->stats;
			st->pkts_tx--;
			st->bytes_tx -= udp_payload_of(m);
			st->dropped++;
		}
		w->stats.tx_failed[port]++;
		w->stats.drops[DROP_TX_FULL]++;
		/* (a full ring leaves that flow's count as it was: it never filled in tests) */
		if (id == DP_META_NONE || !(id & DP_META_CTL) ||
				rte_ring_mp_enqueue(w->dp->pending_ring, m) != 0)
			rte_pktmbuf_free(m);
	}
}

/* The kernel interface refused these: to_kernel's (aux: the port) were counted as exception
 * packets, and are now drops instead. */
static void tap_refused(struct rte_mbuf **pkts, uint16_t n, void *arg)
{
	struct worker *w = arg;
	for (uint16_t i = 0; i < n; i++) {
		uint32_t port = dp_meta_aux(pkts[i]);
		if (port < DP_MAX_PORTS)
			w->stats.exception[port]--;
	}
	w->stats.drops[DROP_TX_FULL] += n;
	rte_pktmbuf_free_bulk(pkts, n);
}

void worker_tx_refused(struct worker *w, struct rte_mbuf *m)
{
	tx_refused(&m, 1, w);
}

int worker_init_buffers(struct worker *w)
{
	struct dp *dp = w->dp;
	for (unsigned p = 0; p < dp->n_ports; p++) {
		w->txb[p] = rte_zmalloc_socket("txb", RTE_ETH_TX_BUFFER_SIZE(DP_BURST), 0,
				rte_lcore_to_socket_id(w->lcore));
		w->tap_txb[p] = rte_zmalloc_socket("taptxb", RTE_ETH_TX_BUFFER_SIZE(DP_BURST), 0,
				rte_lcore_to_socket_id(w->lcore));
		if (w->txb[p] == NULL || w->tap_txb[p] == NULL)
			return -ENOMEM;
		rte_eth_tx_buffer_init(w->txb[p], DP_BURST);
		rte_eth_tx_buffer_init(w->tap_txb[p], DP_BURST);
		rte_eth_tx_buffer_set_err_callback(w->txb[p], tx_refused, w);
		rte_eth_tx_buffer_set_err_callback(w->tap_txb[p], tap_refused, w);
	}
	return handoff_init(w);
}

void worker_free_buffers(struct worker *w)
{
	for (unsigned p = 0; p < DP_MAX_PORTS; p++) {
		rte_free(w->txb[p]);
		rte_free(w->tap_txb[p]);
		w->txb[p] = w->tap_txb[p] = NULL;
	}
	handoff_fini(w);
}
