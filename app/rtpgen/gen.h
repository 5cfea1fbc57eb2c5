/*
 * rtpgen: the project's DPDK RTP traffic generator and sink (issue 5).
 * What every file of the generator shares: options, the per-stream state, the per-lcore loop
 * state and the layout of the marker rtpgen writes into each RTP payload.
 */
#ifndef RTPGEN_GEN_H
#define RTPGEN_GEN_H

#include <stdbool.h>
#include <stdint.h>

#include <rte_common.h>
#include <rte_ether.h>

#include "addr.h"
#include "hist.h"
#include "pattern.h"
#include "seqwin.h"

#define GEN_BURST 32            /* packets per tx/rx burst (l3fwd's MAX_PKT_BURST) */
#define GEN_RX_BURSTS 4         /* rx bursts per loop pass at most, while they come back full */
#define GEN_PREFETCH 4          /* rx: prefetch this many packets ahead */
#define GEN_MAX_STREAMS 1000000u
#define GEN_MAX_PORTS 4         /* ports set up (--serve: every --vdev port) */
#define GEN_MAX_ADDRS 16        /* --arp-addr: addresses rtpgen answers ARP requests for */
#define GEN_VLAN_NONE (-1)     /* untagged */
#define ARP_ON_TX 1
#define ARP_ON_RX 2

/* Frame layout of what rtpgen sends: Ethernet [/ 802.1Q] / IPv4 (20) or IPv6 (40) / UDP /
 * RTP (12) / payload; the offsets are the loop state's (frame.h). */
#define GEN_PAYLOAD_MAX 1460    /* IPv4, untagged: a 1514-byte frame */
#define GEN_PAYLOAD_MAX6 1440   /* IPv6: a 1500-byte packet */

/*
 * The marker at the start of every payload. The DUT rewrites headers, never the payload, so
 * this is what attributes a received packet to its stream. Big-endian but the TSC (opaque).
 */
#define GEN_MAGIC 0x5254504eu   /* "RTPN" */
struct gen_mark {
	uint32_t magic;
	uint32_t tag;           /* this run's tag; the top bit set = measured (clear = warm-up) */
	uint32_t stream;        /* stream index */
	uint32_t seq;           /* extended sequence number (the RTP header has its low 16 bits) */
	uint64_t tsc;           /* TSC when the burst was built (host order) */
} __rte_packed;
#define GEN_MARK_LEN 24
#define GEN_TAG_MEASURED 0x80000000u
_Static_assert(sizeof(struct gen_mark) == GEN_MARK_LEN, "the marker is 24 bytes on the wire");

struct gen_opts {
	uint16_t tx_port, rx_port;
	uint32_t streams;
	bool streams_given;
	struct gen_addr dst_base;       /* IPv4 or IPv6 (then + i on the low 32 bits) */
	uint32_t dst_addrs;
	uint16_t dst_port_base;
	struct gen_addr src_addr;       /* the family of the destinations */
	int tx_vlan, rx_vlan;           /* 802.1Q VID sent / wanted; GEN_VLAN_NONE (-1): none */
	uint16_t src_port_base;
	bool have_src_mac, have_dst_mac;
	struct rte_ether_addr src_mac, dst_mac;
	uint16_t payload;
	uint8_t pt;
	uint64_t rate;                  /* packets per second; 0 = as fast as possible */
	double duration;                /* seconds; 0 = not given */
	uint64_t count;                 /* packets; 0 = not given */
	double warmup;                  /* seconds */
	uint32_t drain_ms;
	double link_wait;               /* seconds */
	uint32_t idle_sleep_us;
	uint32_t mbufs;
	bool json;
	bool serve;                     /* --serve: phases read from stdin */
	/* sessions */
	const char *grpc_target;        /* --create-sessions */
	const char *sessions_file;      /* --sessions */
	struct gen_addr fwd_addr;       /* the family of --sink-addr */
	uint32_t fwd_addrs;             /* session i forwards from fwd_addr + i % fwd_addrs */
	uint16_t fwd_port_base;         /* 0 = let the server allocate */
	struct gen_addr sink_addr;
	uint16_t sink_port_base;
	bool bidirectional;
	uint32_t idle_timeout;
	uint32_t rpc_threads;
	bool keep_sessions;
	char session_prefix[48];
	/* addresses answered by ARP or NDP: --src, --sink-addr and every --arp-addr */
	struct gen_addr arp_addrs[GEN_MAX_ADDRS];
	uint8_t arp_where[GEN_MAX_ADDRS];       /* ARP_ON_TX | ARP_ON_RX */
	unsigned n_arp_addrs;
	bool no_arp;
	/* tests */
	enum gen_pattern pattern;
	uint32_t pattern_k;
};

/*
 * One stream: its header template (what differs from the common frame) and its receive
 * tracker. 32 bytes, so 1M streams take 32 MB. The sender's position needs no storage: streams
 * are served strictly round-robin, so stream i has sent n_i(G) packets after G in total.
 */
struct gen_stream {
	uint32_t dst_ip;        /* network order; IPv6: the low 32 bits */
	uint16_t dst_port;      /* network order */
	uint16_t src_port;      /* network order */
	uint16_t ip_csum;       /* IPv4: this stream's header checksum, as stored in the header;
				 * IPv6: its UDP checksum's constant part (frame.h) */
	uint16_t seq_off;       /* RTP sequence number of extended sequence 0 */
	uint32_t ssrc;          /* host order */
	struct seqwin rx;       /* the receiver's tracker */
};
_Static_assert(sizeof(struct gen_stream) == 32, "1M streams must fit in 32 MB");

/* Counters of one phase (warm-up or measured). */
struct gen_counters {
	uint64_t tx_pkts, tx_bytes;     /* accepted by the NIC */
	uint64_t tx_refused;            /* offered to tx_burst and refused (then rebuilt) */
	uint64_t rx_pkts, rx_bytes;     /* ours, this phase, duplicates included */
	uint64_t duplicated;
	uint64_t reordered;
	uint64_t late;                  /* reordered packets beyond the duplicate window */
};

/* Everything the loop touches, on one lcore (l3fwd's lcore_conf). */
struct gen_lcore {
	struct gen_stream *streams;
	uint32_t n_streams;
	uint32_t cursor;                /* next stream to send */
	uint64_t round;                 /* completed rounds over every stream */
	uint64_t generated;             /* round * n_streams + cursor */

	uint16_t tx_port;
	uint16_t rx_ports[GEN_MAX_PORTS];
	unsigned n_rx_ports;
	struct rte_mempool *pool;

	uint8_t tmpl[1518] __rte_aligned(64);   /* the common frame */
	uint16_t frame_len;
	uint8_t af;                     /* 4 or 6: what is sent (any family is received) */
	uint16_t l3_off, udp_off, rtp_off, pl_off;      /* in the common frame */
	uint32_t csum_base;             /* IPv6: the common frame's UDP checksum sum */
	int tx_vlan, rx_vlan;           /* GEN_VLAN_NONE or a VID (frame.h) */
	struct gen_addr dst_prefix;     /* the family (and IPv6's upper 96 bits) of every dst */
	uint16_t ts_step;               /* RTP timestamp units per packet */
	uint32_t tag;                   /* marker tag of the current phase */
	uint32_t run_tag;

	enum gen_pattern pattern;
	uint32_t pattern_k;
	uint32_t idle_sleep_us;

	struct gen_counters cur;        /* the phase running now */
	uint64_t rx_other;              /* not ours and not ARP: no marker, another run, ... */
	uint64_t rx_arp;                /* ARP and NDP (NS/NA) frames, answered or not */
	uint64_t rx_wrong_vlan;         /* ours, but with a tag other than --rx-vlan's */
	uint64_t rx_bad;                /* a marker with an impossible stream or sequence */
	uint64_t rx_stale;              /* ours, but from the warm-up while measuring */
	uint64_t arp_replies;
	uint64_t arp_announced;
	uint64_t tx_nombuf;             /* bursts not built: the mempool was empty */
	uint64_t last_rx_tsc;
	uint64_t max_gap_tsc;           /* longest time between two loop passes (a stalled loop) */

	uint16_t rx_port;               /* the port --rx-port named (rx_ports[] holds every port) */
	struct gen_addr my_addrs[GEN_MAX_ADDRS];
	uint8_t my_addr_where[GEN_MAX_ADDRS];   /* ARP_ON_TX | ARP_ON_RX: where to announce it */
	unsigned n_my_addrs;
	struct rte_ether_addr rx_mac[GEN_MAX_PORTS];    /* each rx port's own MAC */

	struct hist lat;                /* rx TSC - tx TSC, in TSC cycles */
};

/* A phase of the loop: send `count` packets (0 = no limit) for at most `tsc_limit` cycles at
 * `rate` pps (0 = as fast as possible), then drain. */
struct gen_phase {
	uint64_t count;
	uint64_t tsc_limit;
	uint64_t rate;
	uint64_t drain_tsc;
	/* results */
	uint64_t t_start, t_end_send, t_end;
};

extern volatile bool gen_force_quit;

/* loop.c */
void gen_run_phase(struct gen_lcore *lc, struct gen_phase *ph);
/* Only receive (answering ARP, counting the rest) until *done or a signal; naps when idle. */
void gen_poll_until(struct gen_lcore *lc, volatile bool *done);
/* How many packets stream i has sent after `generated` packets in total. */
static inline uint64_t gen_stream_sent(const struct gen_lcore *lc, uint32_t i, uint64_t generated)
{
	uint64_t n = generated / lc->n_streams;
	return n + (i < generated % lc->n_streams ? 1 : 0);
}

#endif
