/* Neighbour discovery on the control lcore (slowpath_nd.h). */
#include "slowpath_nd.h"

#include <string.h>
#include <rte_mbuf.h>
#include <rte_ring.h>

#include "dp.h"
#include "ndp.h"
#include "nexthop.h"

static const uint8_t all_nodes[16] = { 0xff, 0x02, [15] = 1 };

/* The address port p asks for target from: its own on target's prefix, its link-local for a
 * link-local target, else its first. NULL: no IPv6 address. */
static const uint8_t *source_for6(const struct dp_port *p, const uint8_t target[16])
{
	if (p->n_addr6 == 0)
		return NULL;
	if (nexthop_link_local6(target) && p->has_ll6)
		return p->ll6;
	for (unsigned i = 0; i < p->n_addr6; i++)
		if (nexthop_in_prefix6(target, p->addr6[i], p->plen6[i]))
			return p->addr6[i];
	return p->addr6[0];
}

static struct rte_mbuf *frame_mbuf(struct dp *dp, uint8_t **data)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(dp->pool);
	if (m == NULL)
		return NULL;
	*data = (uint8_t *)rte_pktmbuf_append(m, NDP_FRAME_LEN);
	if (*data == NULL) {
		rte_pktmbuf_free(m);
		return NULL;
	}
	return m;
}

struct rte_mbuf *nd_solicit(struct dp *dp, const struct neigh_entry *e)
{
	static const uint8_t unspecified[16];
	const struct dp_port *p = &dp->port[e->port];
	/* a standby asks from :: so that no neighbour learns it (the answer goes to all nodes) */
	const uint8_t *src = dp_passive(dp) ? unspecified : source_for6(p, e->ip6);
	uint8_t *f;
	if (src == NULL)
		return NULL;
	struct rte_mbuf *m = frame_mbuf(dp, &f);
	if (m == NULL)
		return NULL;
	unsigned len = ndp_build_ns(f, p->mac.addr_bytes, src, e->ip6, NULL);
	rte_pktmbuf_trim(m, (uint16_t)(NDP_FRAME_LEN - len));
	return m;
}

/* One of port p's own addresses (its link-local included)? */
static bool ours6(const struct dp_port *p, const uint8_t a[16])
{
	return dp_port_owns6(p, a) || (p->has_ll6 && memcmp(p->ll6, a, 16) == 0);
}

uint32_t nd_learn(struct dp *dp, uint16_t port, const struct rte_mbuf *m, uint64_t now_ms)
{
	const struct dp_port *p = &dp->port[port];
	struct ndp_msg msg;
	if (ndp_parse(rte_pktmbuf_mtod(m, const uint8_t *), m->data_len, &msg) != 0 ||
			!msg.has_lladdr)
		return NEIGH_NONE;
	if (msg.type == NDP_TYPE_NA) {
		/* an answer to us (unicast), or a neighbour's announcement to all nodes; never
		 * about one of our own addresses */
		if (ours6(p, msg.target) || !(ours6(p, msg.dst) ||
					memcmp(msg.dst, all_nodes, 16) == 0))
			return NEIGH_NONE;
		return neigh_learn6(dp->neigh, port, msg.target, msg.lladdr, true, now_ms);
	}
	/* an NS for one of our addresses re-confirms its sender (never creates, never moves) */
	if (!ours6(p, msg.target))
		return NEIGH_NONE;
	return neigh_learn6(dp->neigh, port, msg.src, msg.lladdr, false, now_ms);
}

unsigned dp_announce_na(struct dp *dp)
{
	unsigned sent = 0;
	for (unsigned i = 0; i < dp->n_ports; i++) {
		const struct dp_port *p = &dp->port[i];
		for (unsigned a = 0; a < p->n_addr6; a++) {
			uint8_t *f;
			struct rte_mbuf *m = frame_mbuf(dp, &f);
			if (m == NULL)
				return sent;
			ndp_build_unsolicited_na(f, p->mac.addr_bytes, p->addr6[a]);
			/* worker 0 sends what the control lcore wants sent */
			m->port = (uint16_t)i;
			dp_meta_set(m, DP_META_NONE, DP_TO_PORT);
			if (rte_ring_sp_enqueue(dp->workers[0].from_ctl, m) != 0) {
				dp->ctl_drops[DROP_TX_FULL]++;
				rte_pktmbuf_free(m);
				return sent;
			}
			sent++;
		}
	}
	return sent;
}
