/*
 * The data plane's public API: everything control/ and app/ may know of lib/.
 *
 * lib/ decides how packets move; its callers decide what moves (sessions, policy, ids,
 * events). Build a data plane from a dp_conf, start its workers, call dp_poll from the
 * control lcore, and install a session's flows from a dp_sess_spec: the handle that comes
 * back reads the session's counters, RTP state and latch and takes the flows out again.
 * Every call here belongs to the control lcore (one thread), except where said.
 * Addresses are struct dp_addr (rp_addr.h; the data plane still relays IPv4 only), ports in
 * host byte order.
 */
#ifndef RTPPROXY_RP_DP_H
#define RTPPROXY_RP_DP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rp_addr.h"

#define DP_MAX_PORTS 8
#define DP_MAX_ADDRS 32         /* addresses per port */
#define DP_MAX_WORKERS 64
#define DP_MAX_NEIGHBORS 32     /* static neighbours per port */
#define DP_MAX_UDP_ALLOW 32     /* kernel_allow UDP ports per port */
#define DP_NAME_LEN 16          /* port and interface names, NUL included */

/* Why the appliance dropped a packet: every drop is counted under exactly one. */
enum dp_drop {
	DROP_MALFORMED,
	DROP_FRAGMENT,
	DROP_NO_FLOW,
	DROP_RATE_LIMIT,
	DROP_INVALID_RTP,
	DROP_NOT_FROM_DESTINATION,
	DROP_NO_NEIGHBOR,
	DROP_TTL_EXCEEDED,
	DROP_TX_FULL,
	DROP_FILTERED,             /* for the appliance, but no session's and no kernel_allow service */
	DROP_EXCEPTION_LIMIT,      /* over the port's exception_rate_pps */
	DROP_NOT_FROM_CLIENT,      /* strict_source: not from the latched client */
	DROP_HANDOFF_FULL,         /* the owning worker's hand-off ring was full */
	DROP_UNKNOWN_VLAN,         /* an 802.1Q tag (or none) no port section of the device has */
	DROP_TOO_BIG,              /* no longer fits the egress MTU after the header grew (4 -> 6) */
	DROP_MAX
};
/* The API's name of each reason ("malformed", ...). */
extern const char *const dp_drop_names[DROP_MAX];

struct dp;                      /* a data plane */
struct dp_sess;                 /* one session's flows in it */

/* ---- building one ---- */

struct dp_prefix {
	struct dp_addr addr;
	uint8_t len;                    /* 0..32 (IPv4), 0..128 (IPv6) */
};

struct dp_neighbor {
	struct dp_addr addr;
	uint8_t mac[6];
};

struct dp_port_conf {
	char name[DP_NAME_LEN];         /* "port0": in messages and stats */
	char device[256];               /* vdev spec ("net_af_packet0,iface=x") or PCI address */
	char exception[DP_NAME_LEN];    /* its kernel interface (a TAP of this name) */
	/* Tests: this vdev ("net_null9", "net_ring_x") stands in for the kernel interface, with
	 * no TAP and no netlink; "" = the TAP named `exception`. */
	char exception_device[64];
	struct dp_prefix addrs[DP_MAX_ADDRS];   /* the appliance's addresses on it, >= 1 */
	unsigned n_addrs;
	struct dp_addr gateway;         /* IPv4; family 0 = none */
	struct dp_addr gateway6;        /* IPv6; family 0 = none */
	struct dp_neighbor neighbors[DP_MAX_NEIGHBORS];  /* static ARP/NDP entries */
	unsigned n_neighbors;
	uint16_t udp_allow[DP_MAX_UDP_ALLOW];   /* UDP ports the kernel may serve (kernel_allow) */
	unsigned n_udp_allow;
	uint32_t exception_rate_pps;    /* to the kernel, per port; 0 = unlimited */
	/* 802.1Q VID of its traffic, 1..4094; 0 = untagged. Ports with the same `device`
	 * share one ethdev, told apart by this (at most one untagged). */
	uint16_t vlan;
};

struct dp_conf {
	struct dp_port_conf port[DP_MAX_PORTS];
	unsigned n_ports;
	unsigned workers;               /* 1..DP_MAX_WORKERS: one rx/tx queue each per port */
	/* Tests and benchmarks: the caller drives the workers in its own thread; no lcores are
	 * needed and dp_start is refused. A thread that registers as a worker with the data
	 * plane's RCU variable must be offline, or have just reported a quiescent state, when
	 * it calls dp_sess_install / dp_sess_remove (they wait for a grace period). */
	bool workers_inline;
	unsigned mbufs;                 /* per NUMA socket that has ports */
	unsigned idle_sleep_us;         /* a worker's nap when a loop found nothing; 0 = none */
	uint32_t max_flows;             /* flow table capacity: a session takes up to 4 */
	uint32_t max_neighbors;         /* next hops; 0 = 4096 */
	uint32_t clock_rate[128];       /* RTP clock (Hz) per payload type; 0 = 8000 */
	/* Start passive (a hot standby, API.md 1.6): ports up, flows installable, nothing
	 * relayed or answered until dp_set_active(dp, true). */
	bool passive;
};

/*
 * Create the data plane after rte_eal_init: mbuf pools, the flow and neighbour tables,
 * workers (each on its own EAL worker lcore, in order), and every port with its kernel
 * interface (up, with the port's addresses and gateway routes). NULL and err (naming the
 * port or the key) on failure; whatever was created is gone again.
 */
struct dp *dp_create(const struct dp_conf *conf, char *err, size_t errlen);

/* Stop the workers if they run, close the ports (their TAPs go) and free everything. Remove
 * every session first (dp_sess_remove): a handle is not valid after this. NULL is ignored. */
void dp_destroy(struct dp *dp);

/* Launch every worker on its lcore. 0, or -1 and err. */
int dp_start(struct dp *dp, char *err, size_t errlen);
/* Ask the workers to stop and wait until they have. */
void dp_stop(struct dp *dp);

/*
 * The control lcore's share of the data plane, to call every few milliseconds: ARP/NDP
 * learning, packets held until their next hop resolves, neighbour timers.
 */
void dp_poll(struct dp *dp);

/* ---- hot standby (API.md 1.6) ---- */

/*
 * Passive (active = false): the ports stay up and sessions' flows may be installed (ready),
 * but workers relay nothing: what arrives is freed uncounted (it is the peer's traffic: a
 * standby owns no address), except ARP, which the control lcore still learns from; nothing
 * reaches or leaves the kernel interfaces (no ARP answers, nothing the kernel would say in
 * our addresses' name), and the data plane's own ARP requests are probes (sender 0.0.0.0)
 * so no neighbour's cache learns our MAC. Workers read the flag once per loop iteration.
 */
void dp_set_active(struct dp *dp, bool active);
bool dp_is_active(const struct dp *dp);
/* Announce every port's addresses out of that port (gratuitous ARP now and twice more,
 * 250 ms apart, from dp_poll), so neighbours move their caches to this appliance. The
 * number of announcements queued now. */
unsigned dp_announce(struct dp *dp);

/* ---- ports ---- */

unsigned dp_n_ports(const struct dp *dp);
/* The port that owns address addr, or -1. */
int dp_port_of_addr(const struct dp *dp, const struct dp_addr *addr);

struct dp_port_info {
	char name[DP_NAME_LEN];
	char exception[DP_NAME_LEN];    /* kernel interface name */
	uint16_t eth_id;                /* DPDK port id */
	uint8_t mac[6];
	struct dp_addr addr[DP_MAX_ADDRS];
	uint8_t prefix_len[DP_MAX_ADDRS];
	unsigned n_addrs;
	struct dp_addr gateway;         /* family 0 = none */
	struct dp_addr gateway6;        /* family 0 = none */
};
/* Port idx as configured and started. -1 when there is no such port. */
int dp_port_info(const struct dp *dp, unsigned idx, struct dp_port_info *out);

/* ---- sessions ---- */

/* When the latch follows a client's new source (API.md "Latching"). */
enum dp_latch { DP_LATCH_SSRC = 0, DP_LATCH_FIRST = 1, DP_LATCH_ANY = 2 };

struct dp_sess_spec {
	struct dp_addr listen_addr;     /* the wildcard (0.0.0.0) = every address of the appliance */
	uint16_t listen_port;
	struct dp_addr forward_addr;    /* an address of the appliance */
	uint16_t forward_port;
	struct dp_addr dest_addr;
	uint16_t dest_port;
	bool rtcp;                      /* port + 1 too */
	bool bidirectional;             /* destination -> forward endpoint -> latched client */
	bool validate_rtp;
	enum dp_latch latch_mode;
	bool strict_source;
	uint64_t rate_pps, rate_bps;    /* forward RTP and reverse RTP; 0 = none */
	uint32_t tag;                   /* the caller's, carried by the flows (logs, debugging) */
};

/* Why dp_sess_install refused: the message names the field. */
enum dp_sess_fail {
	DP_SESS_NO_ROUTE = 1,           /* destination not reachable from the forward port */
	DP_SESS_NOT_OURS,               /* listen or forward address not the appliance's */
	DP_SESS_IN_USE,                 /* the forward endpoint already receives */
	DP_SESS_FULL,                   /* flow or neighbour table, or memory */
};

/*
 * Install a session's flows (the ports are the caller's to allocate) and start resolving its
 * next hop. 0 and *out, or a dp_sess_fail and msg.
 */
int dp_sess_install(struct dp *dp, const struct dp_sess_spec *spec, struct dp_sess **out,
		char *msg, size_t msglen);

/* The flows of a session, by role. */
enum dp_flow_role {
	DP_FLOW_RTP,                    /* listen -> destination */
	DP_FLOW_RTCP,                   /* listen+1 -> destination+1 */
	DP_FLOW_REV_RTP,                /* forward <- destination, back to the latched client */
	DP_FLOW_REV_RTCP,
	DP_FLOW_ROLES
};

/* One flow's counters. Times are TSC cycles (dp_stats.tsc_hz per second). */
struct dp_flow_read {
	bool present;                   /* the session has this flow */
	uint64_t pkts_rx, bytes_rx;     /* bytes: UDP payload */
	uint64_t pkts_tx, bytes_tx;
	uint64_t dropped;               /* pkts_rx = pkts_tx + dropped */
	uint64_t last_tsc;              /* last relayed packet, 0 = never */
	uint64_t lat_sum, lat_max, lat_n;       /* rx_burst -> tx_burst of relayed packets */
	bool has_rtp;                   /* RTP receiver state below (RTP flows) */
	uint64_t lost;                  /* RFC 3550 cumulative lost (never negative here) */
	double jitter_s;                /* RFC 3550 interarrival jitter, seconds */
};

struct dp_latch_read {
	bool latched;                   /* the client has sent (addr/port valid) */
	struct dp_addr addr;
	uint16_t port;
	uint32_t gen;                   /* changes each time the latch moves */
};

struct dp_sess_read {
	struct dp_flow_read flow[DP_FLOW_ROLES];
	struct dp_latch_read latch;     /* the forward RTP flow's: the client's source */
	bool next_hop_failed;           /* the next hop does not answer ARP/NDP */
	struct dp_addr next_hop;        /* its address */
};

/* Everything about a session's flows now (any thread may call it while the handle lives). */
void dp_sess_read(const struct dp *dp, const struct dp_sess *s, struct dp_sess_read *out);

/* The cheap part of dp_sess_read for periodic checks: last_tsc of the session's newest
 * relayed packet (0 = none), the latch, and whether the next hop failed. */
struct dp_sess_status {
	uint64_t last_tsc;
	struct dp_latch_read latch;
	bool next_hop_failed;
	struct dp_addr next_hop;
};
void dp_sess_status(const struct dp *dp, const struct dp_sess *s, struct dp_sess_status *out);

/*
 * A forward flow's latch in full (role DP_FLOW_RTP or DP_FLOW_RTCP): what the reverse
 * direction needs to reach the client. The state store keeps it across restarts.
 */
struct dp_latch_state {
	struct dp_addr addr;            /* the client's address; family 0 = none */
	uint16_t port;                  /* its port, host byte order */
	uint8_t mac[6];                 /* its L2 source: the next hop back */
	uint16_t rx_port;               /* the data-plane port (index) it arrived on */
	struct dp_addr local_addr;      /* the appliance address it was sent to */
	bool has_ssrc;
	uint32_t ssrc;                  /* host byte order */
};
/* False when the flow has not latched (or the session has no such flow). */
bool dp_sess_get_latch(const struct dp *dp, const struct dp_sess *s, enum dp_flow_role role,
		struct dp_latch_state *out);
/* Preload a just-installed flow's latch (a restored session): 0, or -1 when the flow already
 * latched, does not exist, or the port/address is not the appliance's (IPv4 only so far). */
int dp_sess_set_latch(struct dp *dp, struct dp_sess *s, enum dp_flow_role role,
		const struct dp_latch_state *in);

/*
 * Take the flows out, wait until no worker touches them, and give their final counters in
 * *final (NULL: not wanted). The handle is freed.
 */
void dp_sess_remove(struct dp *dp, struct dp_sess *s, struct dp_sess_read *final);

/* ---- appliance-wide stats ---- */

/* Sections of one shared device (vlan): rx/tx packets and bytes are the section's own as the
 * data plane counted them (frames the tag demultiplexer gave it, frames it handed to the
 * device; wire bytes, tag included); rx_missed is the device's, on its first section only. */
struct dp_port_stats {
	uint16_t eth_id;
	uint64_t rx_packets, tx_packets, rx_bytes, tx_bytes, rx_missed;  /* the device's */
	uint64_t tx_failed;             /* refused by the device */
	uint64_t exception;             /* handed to its kernel interface */
};

struct dp_worker_stats {
	unsigned index, lcore;
	uint64_t relayed, iterations, busy_iterations;
	uint64_t busy_cycles;           /* TSC cycles of the iterations that found work */
	uint64_t handed_off;            /* packets passed to the worker owning their flow */
};

struct dp_stats {
	uint64_t drops[DROP_MAX];
	unsigned n_ports;
	struct dp_port_stats port[DP_MAX_PORTS];
	unsigned n_workers;
	struct dp_worker_stats worker[DP_MAX_WORKERS];
	uint64_t tsc_hz;
};
void dp_stats_read(const struct dp *dp, struct dp_stats *out);

#endif
