/*
 * The data plane: ports, workers and the tables they share. Private to lib/ (callers see
 * rp_dp.h): built by dp_create, driven by workers on their lcores, changed only by the
 * control lcore.
 */
#ifndef RTPPROXY_DP_H
#define RTPPROXY_DP_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <rte_common.h>
#include <rte_ether.h>
#include <rte_mbuf.h>

#include "flow.h"
#include "neigh.h"
#include "rp_dp.h"

#define DP_MAX_RXQ 16          /* (port, queue) pairs one worker polls */
#define DP_BURST 32
#define DP_CTL_RING 4096       /* workers <-> control rings */
#define DP_HANDOFF_RING 2048   /* packets other workers hand to a flow's owner */

struct dp_port {
	char name[16];                  /* config section, "port0" */
	uint16_t eth_id;                /* DPDK port id */
	uint16_t tap_id;                /* DPDK port id of its kernel (TAP) interface */
	uint16_t nb_queues;             /* rx = tx queues on eth_id: one per worker */
	bool rss_dst;                   /* RSS on the destination only: a flow's packets all
	                                 * reach one worker, which writes it (no hand-off) */
	uint16_t mtu;                   /* the device's (1500 unless it says otherwise): what
	                                 * a packet translated 4 -> 6 may grow to (too_big) */
	/* 802.1Q (lib/vlan.h): port sections may share one device, told apart by their tag;
	 * here, in the line to_port reads anyway (vid_port[] is at the end) */
	uint16_t vlan;                  /* VID of its traffic; 0 = untagged */
	uint16_t dev_owner;             /* the dp port that set up and polls its device: the
	                                 * device's first section (itself when alone) */
	bool dev_shared;                /* other sections use its device too */
	bool vlan_tx;                   /* to_port tags (and, shared, counts) what it sends */
	bool vlan_tx_offload;           /* the device inserts the tag (TX VLAN_INSERT) */
	bool vlan_demux;                /* (owner) rx goes through vlan_rx: tags or sharing */
	bool vlan_rx_strip;             /* (owner) the device strips tags (RX VLAN_STRIP) */
	struct rte_ether_addr mac;
	uint32_t addr[DP_MAX_ADDRS];    /* owned addresses, network byte order */
	uint32_t mask[DP_MAX_ADDRS];
	unsigned n_addr;
	uint32_t gateway;               /* 0 = none */
	/* IPv6 (network byte order): owned addresses with their prefix lengths, and the next hop
	 * for off-link destinations (all zero = none) */
	uint8_t addr6[DP_MAX_ADDRS][16];
	uint8_t plen6[DP_MAX_ADDRS];
	unsigned n_addr6;
	uint8_t gateway6[16];
	uint8_t ll6[16];                /* its link-local (fe80:: + EUI-64 of mac), the TAP's */
	bool has_ll6;                   /* set when it has IPv6 addresses */
	char tap_name[16];
	char exc_device[64];            /* tests: this vdev instead of a TAP (dp_port_conf) */
	/* The exception path (API.md 1.3): a token bucket per worker, in TSC cycles of credit
	 * (exception_rate_pps split over the workers), and the UDP ports of kernel_allow. */
	uint64_t exc_cost;              /* credit one packet to the kernel takes; 0 = no limit */
	uint64_t exc_burst;             /* the most credit a bucket holds */
	uint64_t udp_allow[65536 / 64]; /* bit per UDP port (host order) the kernel may serve */
	int8_t vid_port[4096];          /* (owner) the dp port of each VID, -1: none; [0] is
	                                 * the untagged (and priority-tagged) section */
};

static inline bool dp_port_udp_allowed(const struct dp_port *p, uint16_t port)
{
	return (p->udp_allow[port >> 6] >> (port & 63)) & 1;
}

/* Per-worker counters: one writer each; control sums them. */
struct worker_stats {
	uint64_t drops[DROP_MAX];
	uint64_t exception[DP_MAX_PORTS];   /* handed to the port's kernel interface */
	uint64_t tx_failed[DP_MAX_PORTS];   /* refused by the NIC */
	uint64_t relayed;
	uint64_t iterations, busy_iterations;
	uint64_t busy_cycles;               /* TSC cycles of the iterations that found work */
	uint64_t handed_off;                /* packets passed to their flow's owning worker */
	/* sections of a shared device (lib/vlan.h): frames and wire bytes (tag included) that
	 * the demultiplexer gave them and that they handed to the device */
	uint64_t sec_rx[DP_MAX_PORTS], sec_rx_bytes[DP_MAX_PORTS];
	uint64_t sec_tx[DP_MAX_PORTS], sec_tx_bytes[DP_MAX_PORTS];
};

/* A worker's share of a port's exception_rate_pps. */
struct worker_bucket {
	uint64_t credit;                /* TSC cycles */
	uint64_t last;                  /* TSC of the last refill */
};

struct worker_rxq {
	uint16_t port;                  /* dp port index */
	uint16_t queue;
};

struct dp;
struct flow;

/* A packet relayed this iteration, for the latency figures once it has been sent. */
struct worker_lat {
	struct flow *flow;
	uint64_t rx_tsc;
};

struct worker {
	struct dp *dp;
	unsigned index;                 /* 0..n_workers-1: its tx queue and RCU thread id */
	unsigned lcore;
	struct worker_rxq rxq[DP_MAX_RXQ];
	unsigned n_rxq;
	bool polls_taps;                /* worker 0 carries kernel -> port traffic */
	bool taps_busy;                 /* its last TAP poll found packets */
	bool debug;                     /* DP log level is DEBUG: log per packet */
	struct rte_ring *from_ctl;      /* mbufs the control lcore wants sent (ARP, resolved) */
	struct rte_ring *handoff;       /* packets of flows it owns, from other workers (MP/SC);
	                                 * NULL with one worker */
	struct rte_eth_dev_tx_buffer *txb[DP_MAX_PORTS];      /* to the ports */
	struct rte_eth_dev_tx_buffer *tap_txb[DP_MAX_PORTS];  /* to the kernel interfaces */
	struct worker_lat lat[DP_MAX_RXQ * DP_BURST];
	unsigned n_lat;
	struct worker_bucket exc[DP_MAX_PORTS];               /* exception_rate_pps */
	struct worker_stats stats __rte_cache_aligned;
} __rte_cache_aligned;

struct dp {
	struct dp_port port[DP_MAX_PORTS];
	unsigned n_ports;
	int16_t port_of_eth[RTE_MAX_ETHPORTS];  /* DPDK port id -> dp port index, -1 */
	struct worker *workers;
	unsigned n_workers;
	struct flow_table *flows;
	struct neigh_table *neigh;
	struct rte_rcu_qsbr *qsv;
	struct rte_ring *arp_ring;      /* workers -> control: ARP, NS/NA to learn from */
	struct rte_ring *pending_ring;  /* workers -> control: next hop not resolved yet */
	struct rte_mempool *pools[RTE_MAX_NUMA_NODES];  /* per NUMA socket, for its ports */
	struct rte_mempool *pool;       /* the control lcore's (the first port's socket) */
	unsigned idle_sleep_us;
	uint64_t clk_mult[128];         /* TSC -> RTP clock units per payload type, << 32 */
	uint32_t clk_rate[128];         /* RTP clock rate (Hz) per payload type */
	uint64_t ctl_drops[DROP_MAX];   /* drops decided by the control lcore */
	uint64_t slow_timer_ms;         /* last run of the neighbour timers */
	volatile bool stop;
	bool passive;                   /* a standby: relay nothing (dp_role.c; workers read
	                                 * it once per iteration, relaxed) */
	unsigned announce_left;         /* announcement rounds still to send (dp_role.c) */
	uint64_t announce_next_ms;
	bool workers_inline;            /* the caller drives the workers (dp_conf) */
	bool running;                   /* dp_start launched the workers */
};

/*
 * Per-mbuf metadata between a worker and the control lcore or the TX error callback,
 * kept in the mbuf's flow-director hash words (unused by our RX path).
 */
#define DP_META_NONE UINT32_MAX
static inline void dp_meta_set(struct rte_mbuf *m, uint32_t flow_id, uint32_t aux)
{
	m->hash.fdir.lo = flow_id;
	m->hash.fdir.hi = aux;
}
static inline uint32_t dp_meta_flow(const struct rte_mbuf *m) { return m->hash.fdir.lo; }
static inline uint32_t dp_meta_aux(const struct rte_mbuf *m) { return m->hash.fdir.hi; }

/* For from_ctl mbufs: m->port is the dp port index and aux says where it goes. */
#define DP_TO_PORT 0
#define DP_TO_KERNEL 1

/*
 * A flow's packet the control lcore held for ARP: worker -> control (pending_ring) as
 * (flow id, flow gen); control -> worker 0 (from_ctl, to its port m->port) and, when the port
 * refuses it, back to control (pending_ring) as (flow id | DP_META_CTL, flow gen), so that
 * control, not worker 0, moves it from sent to dropped on its flow. Flow ids stay below 2^31.
 */
#define DP_META_CTL 0x80000000u

/* Does port p own address a (network byte order)? */
static inline bool dp_port_owns(const struct dp_port *p, uint32_t a)
{
	for (unsigned i = 0; i < p->n_addr; i++)
		if (p->addr[i] == a)
			return true;
	return false;
}

/* Does port p own IPv6 address a? */
static inline bool dp_port_owns6(const struct dp_port *p, const uint8_t a[16])
{
	for (unsigned i = 0; i < p->n_addr6; i++)
		if (memcmp(p->addr6[i], a, 16) == 0)
			return true;
	return false;
}

/* The dp port index that owns address a, or -1. */
int dp_owner_of(const struct dp *dp, uint32_t a);
/* The same for an IPv6 address (16 bytes, network order). */
int dp_owner_of6(const struct dp *dp, const uint8_t *a);

/* Allocate a worker's TX buffers and, with more than one worker, its hand-off ring (before
 * it starts; dp->n_workers set; tells the flow table how many owners there are). 0 or
 * -ENOMEM. worker_free_buffers gives them back, with the packets still in the ring. */
int worker_init_buffers(struct worker *w);
void worker_free_buffers(struct worker *w);
/* A packet to_port could not send (no room for its tag): refused as the device would. */
void worker_tx_refused(struct worker *w, struct rte_mbuf *m);

/* The lcore entry point of a worker (arg: struct worker *). */
int worker_main(void *arg);

/* The loop's work on one rx burst from dp port `port` (rx time `now`), and what it does once
 * per busy iteration that started at `now` after its bursts (flush the TX buffers, latency,
 * busy cycles, RCU quiescent state): for the in-process benchmark
 * (tests/bench/bench_worker.c), on a worker registered with dp->qsv. */
void worker_handle_burst(struct worker *w, uint16_t port, struct rte_mbuf **pkts, uint16_t n,
		uint64_t now);
/* A burst as rx_burst gave it on the device that dp port `port` owns: demultiplexed by
 * 802.1Q tag first where the device carries several sections or tags (lib/vlan.h), then
 * worker_handle_burst. What worker_main does; for tests. */
void worker_rx_burst(struct worker *w, uint16_t port, struct rte_mbuf **pkts, uint16_t n,
		uint64_t now);
/* What other workers handed to this one, a burst at most (as the loop does at its top);
 * the number of packets taken. For tests that drive several workers in one thread. */
unsigned worker_poll_handoff(struct worker *w, uint64_t now);
void worker_end_iteration(struct worker *w, uint64_t now);
/* The loop's take from its from_ctl ring (ARP requests, released packets), buffered for the
 * next flush; for tests/unit/test_worker.c. */
unsigned worker_poll_ctl(struct worker *w);

/* Set the RTP clock of payload type pt (every type starts at RTP_CLOCK_DEFAULT via
 * dp_clock_defaults). */
void dp_set_clock_rate(struct dp *dp, unsigned pt, uint32_t hz);
void dp_clock_defaults(struct dp *dp);

/* Limit what port `port` hands to its kernel interface to pps packets per second (0: no
 * limit), each worker pps / n_workers with a burst of 100 ms (DP_BURST at least); buckets
 * start full. Before the workers run. UDP ports of kernel_allow: dp_port_allow_udp. */
void dp_set_exception_rate(struct dp *dp, unsigned port, uint32_t pps);
void dp_port_allow_udp(struct dp_port *p, uint16_t port);

/* A standby's loop (dp_role.c): what a passive worker does with an rx burst (ARP to the
 * control lcore, the rest freed) and with its TAPs (drained, nothing sent). */
void worker_passive_burst(struct worker *w, uint16_t port, struct rte_mbuf **pkts, uint16_t n);
unsigned worker_passive_taps(struct worker *w);
static inline bool dp_passive(const struct dp *dp)
{
	return __atomic_load_n(&dp->passive, __ATOMIC_RELAXED);
}
/* Repeat the announcement rounds dp_announce left (dp_poll). */
void dp_announce_poll(struct dp *dp, uint64_t now_ms);

/* The slow path's clock: CLOCK_MONOTONIC in ms. */
uint64_t dp_now_ms(void);

/* Sum of every worker's counters. */
void dp_stats_sum(const struct dp *dp, struct worker_stats *out);

#endif
