/*
 * The flow table: one entry per direction of a session, keyed on the local (destination)
 * address, port and protocol of the packets it matches.
 *
 * The control lcore is the only writer; workers look flows up lock-free in the direct table
 * (flow_dir.h: address index x port -> flow id, no hash probe). A deleted flow's entry goes
 * through a defer queue tied to an rte_rcu_qsbr variable, so that its id is reused only after
 * a grace period, and allocation can reclaim, or wait for, entries whose grace period is over
 * instead of failing while a worker is slow to report.
 */
#ifndef RTPPROXY_FLOW_H
#define RTPPROXY_FLOW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <rte_common.h>
#include <rte_meter.h>
#include <rte_rcu_qsbr.h>

#include "flow_dir.h"
#include "idpool.h"
#include "rtp.h"

/*
 * The lookup key. Address and port in network byte order; addr 0 = the wildcard listen.
 * UDP only (the direct table has no protocol dimension). An IPv6 key has v6 set and its
 * address in addr6 (all zero: the IPv6 wildcard `::`); addr is then 0.
 */
struct flow_key {
	uint32_t addr;
	uint16_t port;
	uint8_t proto;
	uint8_t v6;         /* 0: IPv4 (addr), 1: IPv6 (addr6) */
	uint8_t addr6[16];  /* zero for IPv4 keys */
} __rte_aligned(8);

/* Counters of one flow. Written only by the worker that owns the flow, read by control. */
struct flow_stats {
	uint64_t pkts_rx, bytes_rx;     /* UDP payload bytes */
	uint64_t pkts_tx, bytes_tx;
	uint64_t dropped;
	uint64_t last_tsc;              /* TSC of the last relayed packet, 0 = never */
	uint64_t lat_sum, lat_max;      /* TSC cycles from rx_burst to tx_burst, relayed packets */
	uint64_t lat_n;
};

/*
 * Where a client was last seen (symmetric RTP latching), written by the forward flow's worker
 * and read by the reverse flow's: a sequence count makes the multi-word record consistent
 * without a lock (odd = being written; readers retry).
 */
struct flow_latch {
	uint32_t seq;
	uint32_t ip;                    /* client address, network byte order; 0 = none yet */
	uint16_t port;                  /* client port, network byte order */
	uint16_t rx_port;               /* dp port it arrived on: the way back */
	uint32_t local_ip;              /* the appliance address it was sent to */
	uint8_t mac[6];                 /* its L2 source: the next hop back towards the client */
	uint8_t has_ssrc;               /* ssrc is known (the source sent RTP, or RTCP) */
	uint8_t pad;
	uint32_t ssrc;                  /* its RTP SSRC, network byte order (latch_mode SSRC) */
};

#define FLOW_F_RTCP 0x1             /* counts in the session's rtcp_stats; RTCP validation */
#define FLOW_F_REVERSE 0x2          /* destination -> latched client */
#define FLOW_F_VALIDATE 0x4         /* drop what is not RTP (RTCP on an RTCP flow) */
#define FLOW_F_METER_PPS 0x8
#define FLOW_F_METER_BPS 0x10
#define FLOW_F_RTP_STATS 0x20       /* sequence / jitter tracking */
/* Forward flows: when the latch moves to a new source (neither flag: only an RTP/RTCP packet
 * carrying the latched SSRC moves it), and whether others' packets are dropped. */
#define FLOW_F_LATCH_FIRST 0x40     /* never: the first source stays */
#define FLOW_F_LATCH_ANY 0x80       /* every new source */
#define FLOW_F_STRICT 0x100         /* drop what is not from the latched source */
#define FLOW_F_WILDCARD 0x200       /* keyed on 0.0.0.0 or :: (flow_add sets it) */
/* IPv6 (API.md 1.5): the flow's packets arrive as IPv6 (its key is IPv6), leave as IPv6.
 * Either one: the flow has a struct flow6 (flow6_of) with its IPv6 addresses. */
#define FLOW_F_IN6 0x400
#define FLOW_F_OUT6 0x800
#define FLOW_F_V6 (FLOW_F_IN6 | FLOW_F_OUT6)

/* An IPv6 client's latch: struct flow_latch with IPv6 addresses, the same sequence count. */
struct flow_latch6 {
	uint32_t seq;
	uint8_t ip[16];                 /* client address; all zero = none yet */
	uint16_t port;                  /* client port, network byte order */
	uint16_t rx_port;               /* dp port it arrived on */
	uint8_t local_ip[16];           /* the appliance address it was sent to */
	uint8_t mac[6];                 /* its L2 source */
	uint8_t has_ssrc;
	uint8_t pad;
	uint32_t ssrc;
};

/*
 * The IPv6 half of a flow that has FLOW_F_IN6 or FLOW_F_OUT6, two cache lines beside the
 * flow pool, indexed by the flow's id (flow6_of): IPv4 flows neither have nor touch it.
 * Written by the control lcore before the flow is published, except the latch (the forward
 * flow's worker, as struct flow's).
 */
struct flow6 {
	struct flow_latch6 latch;       /* forward flows with FLOW_F_IN6: the client's source */
	uint8_t src_ip[16] __rte_cache_aligned;  /* forward flows with FLOW_F_OUT6: rewrite */
	uint8_t dst_ip[16];
	uint8_t peer_ip[16];            /* reverse flows with FLOW_F_IN6: the destination */
} __rte_cache_aligned;

/*
 * One direction of a session: four cache lines, of which a packet touches the first three.
 * Line 0 is what the fast path reads, with the latch (forward flows: read per packet, written
 * when the client moves) or the reverse flow's fields in the same place; lines 1-2 are what it
 * writes (counters, RTP receiver state); line 3 is the control lcore's alone.
 */
struct flow {
	uint32_t src_ip, dst_ip;        /* rewrite: network byte order */
	uint16_t src_port, dst_port;
	uint8_t tx_port;                /* index into the data plane's port array */
	uint8_t owner;                  /* the worker that writes it (flow_add sets it) */
	uint16_t flags;
	uint32_t neigh;                 /* next hop: index into the neighbour table */
	uint32_t session;               /* opaque to the data plane: the session manager's slot */
	uint32_t id;                    /* this entry's index in the flow pool */
	uint32_t meter;                 /* FLOW_F_METER_*: index of its flow_meter */
	union {
		struct {                        /* forward flows */
			struct flow_latch latch;        /* the client's source */
			uint32_t latch_rtp;     /* RTCP: the RTP flow, whose SSRC it follows */
		};
		struct {                        /* FLOW_F_REVERSE */
			uint32_t peer_ip;       /* the only accepted source (the destination) */
			uint16_t peer_port;
			uint16_t latch_port_add;        /* RTCP falling back on the RTP latch: +1 */
			uint32_t latch_flow;    /* the forward flow whose latch gives the target */
			uint32_t latch_fallback;        /* RTCP: the RTP flow's, until RTCP latches */
		};
	};
	struct flow_stats stats __rte_cache_aligned;
	uint32_t rtp_seq;               /* odd while the worker updates rtp (see flow_rtp_read) */
	uint8_t last_pt;                /* RTP payload type last seen (for the jitter's clock) */
	struct rtp_state rtp;
	struct flow_key key __rte_cache_aligned;        /* what it is installed under */
	/* Which life of this entry: odd while allocated, bumped to even when unpublished. A
	 * packet the control lcore holds (ARP) carries the flow's id and gen, so that control
	 * touches the flow only if it is still the one the packet belonged to. */
	uint32_t gen;
	/* Packets the worker counted as sent that control then could not send (next hop given
	 * up, TX refused): moved from sent to dropped when read (flow_stats_read). Control's
	 * own counters, so the worker stays the only writer of stats. */
	uint64_t ctl_dropped, ctl_dropped_bytes;
	/* Packets another worker could not hand to the owner (its ring was full): counted on the
	 * flow as received and dropped (flow_handoff_lost), by those workers, atomically. */
	uint64_t handoff_lost, handoff_lost_bytes;
} __rte_cache_aligned;

/* What a packet touches ends where the control-only line starts (the worker prefetches it). */
#define FLOW_HOT_BYTES offsetof(struct flow, key)
_Static_assert(offsetof(struct flow, stats) == RTE_CACHE_LINE_SIZE, "line 0 grew");
_Static_assert(FLOW_HOT_BYTES == 3 * RTE_CACHE_LINE_SIZE, "counters and RTP state: two lines");

/* Four cache lines: a million bidirectional sessions' flows take 1 GiB, not more. */
_Static_assert(sizeof(struct flow) <= 4 * RTE_CACHE_LINE_SIZE, "struct flow grew");

/* Rate limits, for the few flows that have them (kept out of struct flow). */
struct flow_meter {
	struct rte_meter_srtcm pps, bps;
	struct rte_meter_srtcm_profile prof_pps, prof_bps;
} __rte_cache_aligned;

/* A flow's counters as the API reports them: what control gave up moved from sent to
 * dropped (control lcore). */
static inline void flow_stats_read(const struct flow *f, struct flow_stats *out)
{
	*out = f->stats;
	out->pkts_tx -= f->ctl_dropped;
	out->bytes_tx -= f->ctl_dropped_bytes;
	out->dropped += f->ctl_dropped;
}

/* A consistent copy of a flow's RTP state for the control lcore (the worker writes it). */
static inline void flow_rtp_read(const struct flow *f, struct rtp_state *out)
{
	uint32_t s1, s2;
	do {
		s1 = __atomic_load_n(&f->rtp_seq, __ATOMIC_ACQUIRE);
		if (s1 & 1)
			continue;
		memcpy(out, &f->rtp, sizeof(*out));
		__atomic_thread_fence(__ATOMIC_ACQUIRE);
		s2 = __atomic_load_n(&f->rtp_seq, __ATOMIC_RELAXED);
	} while ((s1 & 1) || s1 != s2);
}

/* Read a latch consistently (any thread). False when nothing is latched yet. */
static inline bool flow_latch_read(const struct flow_latch *l, struct flow_latch *out)
{
	uint32_t s1, s2;
	do {
		s1 = __atomic_load_n(&l->seq, __ATOMIC_ACQUIRE);
		if (s1 & 1)
			continue;
		out->ip = l->ip;
		out->port = l->port;
		out->rx_port = l->rx_port;
		out->local_ip = l->local_ip;
		memcpy(out->mac, l->mac, 6);
		out->has_ssrc = l->has_ssrc;
		out->ssrc = l->ssrc;
		__atomic_thread_fence(__ATOMIC_ACQUIRE);
		s2 = __atomic_load_n(&l->seq, __ATOMIC_RELAXED);
		if (s1 == s2)
			break;
	} while (1);
	out->seq = s1;
	return out->ip != 0;
}

/* The single writer's update: the latch becomes v (all but its seq). */
static inline void flow_latch_write(struct flow_latch *l, const struct flow_latch *v)
{
	uint32_t s = l->seq;
	__atomic_store_n(&l->seq, s + 1, __ATOMIC_RELAXED);
	__atomic_thread_fence(__ATOMIC_RELEASE);
	l->ip = v->ip;
	l->port = v->port;
	l->rx_port = v->rx_port;
	l->local_ip = v->local_ip;
	memcpy(l->mac, v->mac, 6);
	l->has_ssrc = v->has_ssrc;
	l->ssrc = v->ssrc;
	__atomic_store_n(&l->seq, s + 2, __ATOMIC_RELEASE);
}

struct rte_rcu_qsbr_dq;

struct flow_table {
	struct flow_dir dir;            /* (address, port) -> flow id */
	unsigned n_owners;              /* workers flows are spread over (flow_table_set_owners) */
	struct rte_rcu_qsbr_dq *dq;     /* deleted entries waiting out their grace period */
	struct idpool flows;            /* struct flow, by id, on the table's NUMA socket */
	struct idpool meters;           /* struct flow_meter, by flow->meter */
	struct flow6 **flows6;          /* per flow pool chunk: its flows' struct flow6, NULL
	                                 * until one of them has IPv6 (flow6_attach) */
	uint32_t capacity;
	uint32_t n_flows;
	struct rte_rcu_qsbr *qsv;
};

/* A flow by its id (any thread holding an id it was given). */
static inline struct flow *flow_at(const struct flow_table *ft, uint32_t id)
{
	return &((struct flow *)ft->flows.chunk[id >> IDPOOL_CHUNK_SHIFT])[id & (IDPOOL_CHUNK - 1)];
}

/* The flow with this id if it is still in the life `gen` (control lcore: the only writer of
 * the table, so the answer holds until it changes the table), else NULL. */
static inline struct flow *flow_if_same(const struct flow_table *ft, uint32_t id, uint32_t gen)
{
	if (id >= ft->capacity || !(gen & 1))
		return NULL;
	struct flow *f = flow_at(ft, id);
	return f->gen == gen ? f : NULL;
}

/* The IPv6 half of a flow with FLOW_F_V6 (any thread holding the flow). */
static inline struct flow6 *flow6_of(const struct flow_table *ft, const struct flow *f)
{
	return &ft->flows6[f->id >> IDPOOL_CHUNK_SHIFT][f->id & (IDPOOL_CHUNK - 1)];
}

/* Read an IPv6 latch consistently (any thread). False when nothing is latched yet. */
static inline bool flow_latch6_read(const struct flow_latch6 *l, struct flow_latch6 *out)
{
	uint32_t s1, s2;
	do {
		s1 = __atomic_load_n(&l->seq, __ATOMIC_ACQUIRE);
		if (s1 & 1)
			continue;
		memcpy(out, l, sizeof(*out));
		__atomic_thread_fence(__ATOMIC_ACQUIRE);
		s2 = __atomic_load_n(&l->seq, __ATOMIC_RELAXED);
		if (s1 == s2)
			break;
	} while (1);
	out->seq = s1;
	return !flow_dir_any6(out->ip);
}

/* The single writer's update: the latch becomes v (all but its seq). */
static inline void flow_latch6_write(struct flow_latch6 *l, const struct flow_latch6 *v)
{
	uint32_t s = l->seq;
	__atomic_store_n(&l->seq, s + 1, __ATOMIC_RELAXED);
	__atomic_thread_fence(__ATOMIC_RELEASE);
	memcpy((uint8_t *)l + sizeof(l->seq), (const uint8_t *)v + sizeof(v->seq),
			sizeof(*l) - sizeof(l->seq));
	__atomic_store_n(&l->seq, s + 2, __ATOMIC_RELEASE);
}

static inline struct flow_meter *flow_meter_of(const struct flow_table *ft, const struct flow *f)
{
	return &((struct flow_meter *)ft->meters.chunk[f->meter >> IDPOOL_CHUNK_SHIFT])
		[f->meter & (IDPOOL_CHUNK - 1)];
}

/*
 * Create a table for `capacity` flows on `socket`, tied to `qsv` (which the workers must
 * register with). NULL with rte_errno set on failure.
 */
struct flow_table *flow_table_create(const char *name, uint32_t capacity, int socket,
		struct rte_rcu_qsbr *qsv);
void flow_table_free(struct flow_table *ft);

/*
 * Take a free entry for a new flow (not yet visible to workers). NULL when the table is full.
 * Fill it, then publish it with flow_add.
 */
struct flow *flow_alloc(struct flow_table *ft);
/* Give back an entry that was never published. */
void flow_release(struct flow_table *ft, struct flow *f);

/* Give an unpublished flow rate-limit state (zeroed); NULL when out of memory. The caller
 * configures it and sets FLOW_F_METER_*; it goes back with the flow. */
struct flow_meter *flow_meter_attach(struct flow_table *ft, struct flow *f);

/* Give an unpublished flow its IPv6 half (zeroed): NULL when out of memory. The caller sets
 * FLOW_F_IN6 / FLOW_F_OUT6 and fills it. */
struct flow6 *flow6_attach(struct flow_table *ft, struct flow *f);

/* Bytes of flow and meter storage in use (chunks allocated so far). */
size_t flow_table_bytes(const struct flow_table *ft);

/* Publish f under f->key. 0, -EEXIST when the key is taken, -ENOSPC when the table has no
 * index left for a new address, -ENOMEM, -EINVAL for a protocol other than UDP. */
int flow_add(struct flow_table *ft, struct flow *f);

/*
 * Unpublish f. Its entry returns to the pool only after a grace period; the caller may read
 * f->stats until then (flow_table_sync makes sure no worker still updates them).
 */
int flow_del(struct flow_table *ft, struct flow *f);

/*
 * One writer per flow: flow_add gives each flow an owning worker out of n (default 1), a hash
 * of its local port (RTP and RTCP of a session, ports 2k and 2k+1, share one). Before flows
 * are added.
 */
void flow_table_set_owners(struct flow_table *ft, unsigned n);

/* What other workers dropped of f's packets because they could not hand them over. */
static inline void flow_handoff_lost(const struct flow *f, uint64_t *pkts, uint64_t *bytes)
{
	*pkts = __atomic_load_n(&f->handoff_lost, __ATOMIC_RELAXED);
	*bytes = __atomic_load_n(&f->handoff_lost_bytes, __ATOMIC_RELAXED);
}

/* Wait until every worker has passed a quiescent state (microseconds when they are running). */
void flow_table_sync(struct flow_table *ft);

/* Look up one key (NULL on miss), exactly (no wildcard fallback). Any thread; the worker loop
 * reads the direct table itself. */
struct flow *flow_lookup(const struct flow_table *ft, const struct flow_key *key);

static inline struct flow_key flow_key_make(uint32_t addr, uint16_t port, uint8_t proto)
{
	struct flow_key k = { .addr = addr, .port = port, .proto = proto, .v6 = 0 };
	return k;
}

/* An IPv6 key (addr: 16 bytes, network order; all zero = `::`). */
static inline struct flow_key flow_key_make6(const uint8_t *addr, uint16_t port, uint8_t proto)
{
	struct flow_key k = { .addr = 0, .port = port, .proto = proto, .v6 = 1 };
	memcpy(k.addr6, addr, 16);
	return k;
}

#endif
