/*
 * The worker's per-packet look-ups: the NIC's checksum verdict, the flow of a UDP packet
 * (the direct table, then a wildcard listen), and the flow's hot lines to prefetch.
 */
#ifndef RTPPROXY_LOOKUP_H
#define RTPPROXY_LOOKUP_H

#include <rte_branch_prediction.h>
#include <rte_mbuf.h>
#include <rte_prefetch.h>

#include "dp.h"
#include "flow.h"
#include "pkt.h"

/* What the NIC says of a frame's checksums: trusted where it has checked them. */
enum rx_ck { RX_CK_UNKNOWN, RX_CK_IP_GOOD, RX_CK_BAD };

static inline enum rx_ck rx_checksums(const struct rte_mbuf *m)
{
	uint64_t f = m->ol_flags;
	if (unlikely((f & RTE_MBUF_F_RX_IP_CKSUM_MASK) == RTE_MBUF_F_RX_IP_CKSUM_BAD ||
			(f & RTE_MBUF_F_RX_L4_CKSUM_MASK) == RTE_MBUF_F_RX_L4_CKSUM_BAD))
		return RX_CK_BAD;
	return (f & RTE_MBUF_F_RX_IP_CKSUM_MASK) == RTE_MBUF_F_RX_IP_CKSUM_GOOD ?
		RX_CK_IP_GOOD : RX_CK_UNKNOWN;
}

/* Has the NIC verified the UDP checksum (IPv6, where it is the only one)? */
static inline bool rx_l4_good(const struct rte_mbuf *m)
{
	return (m->ol_flags & RTE_MBUF_F_RX_L4_CKSUM_MASK) == RTE_MBUF_F_RX_L4_CKSUM_GOOD;
}

/* The flow a UDP packet to (dst, dport) belongs to, NULL if none: the direct table (an
 * address with an index, then one load), else a wildcard listen when dst is ours. */
static inline struct flow *dp_flow_of(const struct dp *dp, uint32_t dst, uint16_t dport)
{
	const struct flow_table *ft = dp->flows;
	uint32_t idx = flow_dir_index(&ft->dir, dst);
	uint32_t id = idx ? __atomic_load_n(&ft->dir.ids[idx][dport], __ATOMIC_ACQUIRE) :
		FLOW_DIR_NONE;
	if (likely(id != FLOW_DIR_NONE))
		return flow_at(ft, id);
	const uint32_t *wild = flow_dir_ids(&ft->dir, 0);
	if (wild == NULL)
		return NULL;
	id = __atomic_load_n(&wild[dport], __ATOMIC_ACQUIRE);
	if (id == FLOW_DIR_NONE || dp_owner_of(dp, dst) < 0)
		return NULL;
	return flow_at(ft, id);
}

/* The same for an IPv6 destination (16 bytes): its own address table, then the IPv6
 * wildcard `::` when dst is ours. */
static inline struct flow *dp_flow_of6(const struct dp *dp, const uint8_t *dst, uint16_t dport)
{
	const struct flow_table *ft = dp->flows;
	uint32_t idx = flow_dir_index6(&ft->dir, dst);
	uint32_t id = idx ? __atomic_load_n(&ft->dir.ids[idx][dport], __ATOMIC_ACQUIRE) :
		FLOW_DIR_NONE;
	if (likely(id != FLOW_DIR_NONE))
		return flow_at(ft, id);
	uint32_t wild = __atomic_load_n(&ft->dir.wild6, __ATOMIC_ACQUIRE);
	if (wild == 0)
		return NULL;
	id = __atomic_load_n(&flow_dir_ids(&ft->dir, wild)[dport], __ATOMIC_ACQUIRE);
	if (id == FLOW_DIR_NONE || dp_owner_of6(dp, dst) < 0)
		return NULL;
	return flow_at(ft, id);
}

static inline void prefetch_flow(const struct flow *f)
{
	for (unsigned l = 0; l < FLOW_HOT_BYTES; l += RTE_CACHE_LINE_SIZE)
		rte_prefetch0((const char *)f + l);
}

/* An IPv6 flow's hot lines and its IPv6 half. */
static inline void prefetch_flow6(const struct flow_table *ft, const struct flow *f)
{
	prefetch_flow(f);
	const struct flow6 *f6 = flow6_of(ft, f);
	rte_prefetch0(f6);
	rte_prefetch0((const char *)f6 + RTE_CACHE_LINE_SIZE);
}

#endif
