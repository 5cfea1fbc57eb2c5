/*
 * bench_worker: the worker's per-packet cost in process, without a packet generator or a
 * second process (docs/PERFORMANCE.md, "Worker cost in-process (bench_worker)").
 *
 * Two net_null ports (their tx frees the mbufs: a PMD that costs almost nothing), a data plane
 * built by dp_create as the app builds it, with N unidirectional RTP sessions (optionally
 * bidirectional) installed by dp_sess_install, and a static neighbour per destination. Per
 * burst of 32:
 *   (a) baseline: allocate 32 mbufs (pre-filled frames), write each one's headers from a
 *       template (stream i = its own listen address:port, RTP sequence number and timestamp
 *       advancing per stream, UDP checksum right), tx them to net_null;
 *   (b) the same, but worker_handle_burst + worker_end_iteration instead of the direct tx.
 * Worker cycles per packet = (b - a) / packets, per repetition; rte_rdtsc around each burst.
 * At the end every flow must have sent exactly what it was given, with no drop and no loss.
 *
 *   bench_worker [--flows N] [--packets P] [--payload B] [--reps R] [--order rr|random]
 *                [--bidir] [--family 4|6|4to6|6to4] [--cpu C] [--mem MB] [--json]
 *
 * --family: the clients' (listen) family, then the destinations' (forward and destination):
 * 4 (the default), 6, or across families (IPv4 <-> IPv6 interworking).
 *
 * Not a test (not registered with meson test): figures depend on the machine.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>
#include <rte_rcu_qsbr.h>
#include <rte_ring.h>

#include "dp.h"
#include "flow.h"
#include "neigh.h"
#include "pkt.h"
#include "rtp.h"

#define PORTS_PER_ADDR 50000u       /* listen ports 10000..59999 on each address */
#define BASE_PORT 10000u
#define HDR 64                      /* bytes of each IPv4 frame the worker may rewrite */
#define HDR6 96                     /* the same for IPv6 (RTP's header starts at 62) */
#define N_MBUFS 8191
#define HIST_MAX (1u << 17)         /* cycles per iteration, for the median */
#define MAX_REPS 64

struct opts {
	uint32_t flows;
	uint64_t packets;
	uint16_t payload;           /* RTP payload bytes (after the 12-byte RTP header) */
	unsigned reps;
	bool random;
	bool bidir;
	bool client6, dest6;        /* --family */
	bool json;
	unsigned cpu;
	unsigned mem_mb;
};

/* One direction's frame for address index a: headers with the per-stream fields zero. */
struct tmpl {
	uint8_t hdr[HDR6] __rte_aligned(64);
	uint32_t sum;               /* ones' complement sum of what the UDP checksum covers */
};

struct dir {
	struct tmpl *t;             /* per address index */
	uint32_t *cnt;              /* packets sent per stream (worker runs) */
	uint32_t *cnt_a;            /* the same for the baseline runs (never seen by the worker) */
	uint32_t next;              /* round-robin cursor */
	uint64_t rng;
	bool reverse;
	bool v6;                    /* its frames are IPv6 */
	uint16_t frame_len;
	uint16_t udp;               /* the UDP header's offset */
	uint16_t rx_port, tx_port;  /* dp port it arrives on; where the baseline sends it */
};

static struct opts o = {
	.flows = 1000, .packets = 20000000, .payload = 160, .reps = 5, .cpu = 0, .mem_mb = 0,
};
static struct rte_mempool *pool;
static struct dp *dp;
static struct worker *w;
static struct dir fwd, rev;
static uint32_t *hist;

static uint32_t listen_ip(uint32_t a) { return htonl(0xc6120100u + 10 + a); }   /* 198.18.1.10+a */
static uint32_t fwd_ip(uint32_t a) { return htonl(0xc6120200u + 10 + a); }      /* 198.18.2.10+a */
static uint32_t dest_ip(uint32_t a) { return htonl(0xc6120200u + 100 + a); }    /* 198.18.2.100+a */
static const uint32_t client_ip = 0x640112c6u;  /* 198.18.1.100, network byte order */
static const uint16_t client_port = 40000;
/* IPv6: 2001:db8:1::10+a, 2001:db8:2::10+a, 2001:db8:2::100+a, the client 2001:db8:1::100 */
static void v6_of(uint8_t net, uint32_t host, uint8_t out[16])
{
	static const uint8_t pre[6] = { 0x20, 0x01, 0x0d, 0xb8, 0, 0 };
	memset(out, 0, 16);
	memcpy(out, pre, 6);
	out[7] = net;
	out[14] = (uint8_t)(host >> 8);
	out[15] = (uint8_t)host;
}
static struct dp_addr addr6(uint8_t net, uint32_t host)
{
	struct dp_addr x = { .family = DP_AF_INET6 };
	v6_of(net, host, x.v6);
	return x;
}
static struct dp_addr listen_addr(uint32_t a)
{
	return o.client6 ? addr6(1, 0x10 + a) : dp_addr_v4(listen_ip(a));
}
static struct dp_addr fwd_addr(uint32_t a)
{
	return o.dest6 ? addr6(2, 0x10 + a) : dp_addr_v4(fwd_ip(a));
}
static struct dp_addr dest_addr(uint32_t a)
{
	return o.dest6 ? addr6(2, 0x100 + a) : dp_addr_v4(dest_ip(a));
}
static const uint8_t port_mac[2][6] = { { 2, 0, 0, 0, 0, 1 }, { 2, 0, 0, 0, 0, 2 } };
static const uint8_t client_mac[6] = { 2, 0, 0, 0, 1, 1 };
static void dest_mac(uint32_t a, uint8_t mac[6])
{
	const uint8_t m[6] = { 2, 0, 0, 0, 2, (uint8_t)(a + 1) };
	memcpy(mac, m, 6);
}

static uint32_t n_addr(void) { return (o.flows + PORTS_PER_ADDR - 1) / PORTS_PER_ADDR; }

static void put16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }

static uint32_t sum16(const uint8_t *p, unsigned len, uint32_t s)
{
	for (unsigned i = 0; i + 1 < len; i += 2)
		s += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (len & 1)
		s += (uint32_t)p[len - 1] << 8;
	return s;
}

static uint16_t fold(uint32_t s)
{
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)s;
}

#define PAYLOAD_BYTE 0xd5           /* PCMU silence */

/* Frame bytes for address index a of a direction, per-stream fields (ports that vary, RTP
 * sequence number and timestamp, checksum) zero; the payload is PAYLOAD_BYTE. */
static void build_frame(uint8_t *f, const struct dir *d, uint32_t a)
{
	bool reverse = d->reverse;
	uint16_t udp_len = (uint16_t)(8 + RTP_HDR_LEN + o.payload);
	uint32_t sip = reverse ? dest_ip(a) : client_ip, dip = reverse ? fwd_ip(a) : listen_ip(a);
	uint8_t smac[6];

	memset(f, 0, d->frame_len);
	memcpy(f, port_mac[reverse ? 1 : 0], 6);
	if (reverse)
		dest_mac(a, smac);
	else
		memcpy(smac, client_mac, 6);
	memcpy(f + 6, smac, 6);
	uint8_t *ip = f + 14;
	if (d->v6) {
		put16(f + 12, PKT_ETHERTYPE_IPV6);
		ip[0] = 0x60;
		put16(ip + 4, udp_len);
		ip[6] = PKT_IPPROTO_UDP;
		ip[7] = 64;
		v6_of(reverse ? 2 : 1, reverse ? 0x100 + a : 0x100, ip + 8);
		v6_of(reverse ? 2 : 1, 0x10 + a, ip + 24);
	} else {
		put16(f + 12, PKT_ETHERTYPE_IPV4);
		ip[0] = 0x45;
		put16(ip + 2, (uint16_t)(20 + udp_len));
		put16(ip + 6, 0x4000);                  /* DF */
		ip[8] = 64;
		ip[9] = PKT_IPPROTO_UDP;
		memcpy(ip + 12, &sip, 4);
		memcpy(ip + 16, &dip, 4);
		put16(ip + 10, (uint16_t)~fold(sum16(ip, 20, 0)));
	}
	uint8_t *udp = f + d->udp;
	if (!reverse)
		put16(udp, client_port);
	put16(udp + 4, udp_len);
	uint8_t *rtp = udp + 8;
	rtp[0] = 0x80;                          /* V=2, PT 0 (PCMU) */
	rtp[1] = 0;
	put16(rtp + 8, 0x1234);                 /* SSRC */
	put16(rtp + 10, 0x5678);
	memset(rtp + RTP_HDR_LEN, PAYLOAD_BYTE, o.payload);
}

static void build_templates(struct dir *d)
{
	uint8_t *f = calloc(1, RTE_MAX(d->frame_len, (uint16_t)HDR6));
	d->t = rte_zmalloc(NULL, sizeof(struct tmpl) * n_addr(), 64);
	if (f == NULL || d->t == NULL)
		rte_exit(1, "out of memory\n");
	for (uint32_t a = 0; a < n_addr(); a++) {
		build_frame(f, d, a);
		memcpy(d->t[a].hdr, f, d->v6 ? HDR6 : HDR);
		const uint8_t *ip = f + 14;
		uint16_t udp_len = (uint16_t)(d->frame_len - d->udp);
		/* pseudo header + UDP header and data, with the per-stream fields zero */
		uint32_t s = (d->v6 ? sum16(ip + 8, 32, 0) : sum16(ip + 12, 8, 0)) +
			PKT_IPPROTO_UDP + udp_len;
		d->t[a].sum = sum16(f + d->udp, udp_len, s);
	}
	free(f);
}

/* Which stream the next packet of this direction belongs to. */
static inline uint32_t next_stream(struct dir *d)
{
	if (o.random) {
		uint64_t x = d->rng;
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		d->rng = x;
		return (uint32_t)(((unsigned __int128)x * o.flows) >> 64);
	}
	uint32_t s = d->next;
	d->next = s + 1 == o.flows ? 0 : s + 1;
	return s;
}

/* Write packet number c of stream s into m: what a PMD's rx leaves, plus the headers. */
static inline void fill(struct rte_mbuf *m, const struct dir *d, uint32_t s, uint32_t c)
{
	uint32_t a = s / PORTS_PER_ADDR;
	uint16_t port = (uint16_t)(BASE_PORT + s % PORTS_PER_ADDR);
	uint16_t seq = (uint16_t)c;
	uint32_t ts = c * 160;
	const struct tmpl *t = &d->t[a];
	uint8_t *f = rte_pktmbuf_mtod(m, uint8_t *);

	m->data_len = d->frame_len;
	m->pkt_len = d->frame_len;
	if (d->v6)
		memcpy(f, t->hdr, HDR6);
	else
		memcpy(f, t->hdr, HDR);
	uint32_t sum = t->sum + port + seq + (ts >> 16) + (ts & 0xffff);
	if (d->reverse)
		sum += port;             /* source port: the destination's, same number */
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	uint16_t ck = (uint16_t)~sum;
	if (ck == 0)
		ck = 0xffff;
	uint16_t nport = htons(port), nseq = htons(seq), nck = htons(ck);
	uint32_t nts = htonl(ts);
	uint8_t *udp = f + d->udp;
	if (d->reverse)
		memcpy(udp, &nport, 2);
	memcpy(udp + 2, &nport, 2);
	memcpy(udp + 6, &nck, 2);
	memcpy(udp + 10, &nseq, 2);
	memcpy(udp + 12, &nts, 4);
}

static inline void make_burst(struct dir *d, struct rte_mbuf **pkts, bool worker_run)
{
	uint32_t *cnt = worker_run ? d->cnt : d->cnt_a;
	if (unlikely(rte_pktmbuf_alloc_bulk(pool, pkts, DP_BURST) != 0))
		rte_exit(1, "out of mbufs\n");
	for (unsigned i = 0; i < DP_BURST; i++) {
		uint32_t s = next_stream(d);
		fill(pkts[i], d, s, cnt[s]++);
	}
}

static inline void tx_direct(uint16_t port, struct rte_mbuf **pkts)
{
	uint16_t sent = rte_eth_tx_burst(dp->port[port].eth_id, 0, pkts, DP_BURST);
	if (unlikely(sent < DP_BURST))
		rte_pktmbuf_free_bulk(pkts + sent, DP_BURST - sent);
}

struct run {
	double mean;                /* cycles per packet, all iterations */
	double med;                 /* median iteration's cycles per packet */
};

/* P packets through (a) or (b); one iteration = one burst per direction. */
static struct run run(bool worker_run, uint64_t packets)
{
	struct rte_mbuf *pkts[DP_BURST], *rpkts[DP_BURST];
	unsigned per_iter = o.bidir ? 2 * DP_BURST : DP_BURST;
	uint64_t iters = (packets + per_iter - 1) / per_iter, total = 0;

	memset(hist, 0, sizeof(*hist) * HIST_MAX);
	for (uint64_t it = 0; it < iters; it++) {
		uint64_t t0 = rte_rdtsc();
		make_burst(&fwd, pkts, worker_run);
		if (o.bidir)
			make_burst(&rev, rpkts, worker_run);
		if (worker_run) {
			uint64_t now = rte_rdtsc();     /* as the loop: one read per iteration */
			worker_handle_burst(w, fwd.rx_port, pkts, DP_BURST, now);
			if (o.bidir)
				worker_handle_burst(w, rev.rx_port, rpkts, DP_BURST, now);
			worker_end_iteration(w, now);
		} else {
			tx_direct(fwd.tx_port, pkts);
			if (o.bidir)
				tx_direct(rev.tx_port, rpkts);
		}
		uint64_t d = rte_rdtsc() - t0;
		total += d;
		hist[d < HIST_MAX ? d : HIST_MAX - 1]++;
	}
	uint64_t half = iters / 2, acc = 0;
	uint32_t med = 0;
	for (uint32_t c = 0; c < HIST_MAX; c++) {
		acc += hist[c];
		if (acc > half) {
			med = c;
			break;
		}
	}
	return (struct run){ .mean = (double)total / (double)(iters * per_iter),
		.med = (double)med / per_iter };
}

static void usage(int rc)
{
	fprintf(rc ? stderr : stdout, "usage: bench_worker [--flows N] [--packets P] [--payload B] "
			"[--reps R] [--order rr|random] [--bidir] [--family 4|6|4to6|6to4] [--cpu C] "
			"[--mem MB] [--json]\n");
	exit(rc);
}

static void parse(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "flows", required_argument, NULL, 'n' },
		{ "packets", required_argument, NULL, 'p' },
		{ "payload", required_argument, NULL, 'b' },
		{ "reps", required_argument, NULL, 'r' },
		{ "order", required_argument, NULL, 'o' },
		{ "bidir", no_argument, NULL, 'd' },
		{ "family", required_argument, NULL, 'f' },
		{ "cpu", required_argument, NULL, 'c' },
		{ "mem", required_argument, NULL, 'm' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;
	while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		switch (c) {
		case 'n': o.flows = (uint32_t)strtoul(optarg, NULL, 0); break;
		case 'p': o.packets = strtoull(optarg, NULL, 0); break;
		case 'b': o.payload = (uint16_t)strtoul(optarg, NULL, 0); break;
		case 'r': o.reps = (unsigned)strtoul(optarg, NULL, 0); break;
		case 'o':
			if (strcmp(optarg, "rr") == 0)
				o.random = false;
			else if (strcmp(optarg, "random") == 0)
				o.random = true;
			else
				usage(2);
			break;
		case 'd': o.bidir = true; break;
		case 'f':
			if (strcmp(optarg, "4") == 0 || strcmp(optarg, "6") == 0 ||
					strcmp(optarg, "4to6") == 0 || strcmp(optarg, "6to4") == 0) {
				o.client6 = optarg[0] == '6';
				o.dest6 = optarg[strlen(optarg) - 1] == '6';
			} else {
				usage(2);
			}
			break;
		case 'c': o.cpu = (unsigned)strtoul(optarg, NULL, 0); break;
		case 'm': o.mem_mb = (unsigned)strtoul(optarg, NULL, 0); break;
		case 'j': o.json = true; break;
		case 'h': usage(0); break;
		default: usage(2);
		}
	}
	if (optind != argc || o.flows == 0 || o.flows > PORTS_PER_ADDR * DP_MAX_ADDRS ||
			o.packets < 64 || o.reps == 0 || o.reps > MAX_REPS || o.payload > 1400 ||
			((o.client6 || o.dest6) && o.flows > PORTS_PER_ADDR * DP_MAX_ADDRS / 2))
		usage(2);      /* (with IPv6 a port has addresses of both families) */
	if (o.mem_mb == 0)   /* flows (256 B, bidir 2x) + hash; 1 GiB holds a million forward */
		o.mem_mb = o.bidir && o.flows > 500000 ? 2048 : 1024;
}

static void setup(void)
{
	int socket = (int)rte_socket_id();

	/* the data plane as the app builds it: net_null ports, net_null for the kernel
	 * interfaces (no exception traffic here), one worker this thread drives */
	static struct dp_conf c;
	char err[256];
	c.n_ports = 2;
	for (unsigned p = 0; p < 2; p++) {
		struct dp_port_conf *pc = &c.port[p];
		snprintf(pc->name, sizeof(pc->name), "port%u", p);
		snprintf(pc->device, sizeof(pc->device), "net_null%u", p);
		snprintf(pc->exception, sizeof(pc->exception), "bw%u", p);
		snprintf(pc->exception_device, sizeof(pc->exception_device), "net_null%u", 2 + p);
		for (uint32_t a = 0; a < n_addr(); a++)
			pc->addrs[pc->n_addrs++] = (struct dp_prefix){
				dp_addr_v4(p == 0 ? listen_ip(a) : fwd_ip(a)), 24 };
		for (uint32_t a = 0; (p == 0 ? o.client6 : o.dest6) && a < n_addr(); a++)
			pc->addrs[pc->n_addrs++] = (struct dp_prefix){
				p == 0 ? listen_addr(a) : fwd_addr(a), 64 };
	}
	/* the destinations' next hops, as `neighbors =` in [port1] makes them */
	for (uint32_t a = 0; a < n_addr(); a++) {
		c.port[1].neighbors[a].addr = dest_addr(a);
		dest_mac(a, c.port[1].neighbors[a].mac);
	}
	c.port[1].n_neighbors = n_addr();
	c.workers = 1;
	c.workers_inline = true;
	c.mbufs = N_MBUFS;
	c.max_flows = o.bidir ? 2 * o.flows : o.flows;
	c.max_neighbors = 64;
	dp = dp_create(&c, err, sizeof(err));
	if (dp == NULL)
		rte_exit(1, "dp_create: %s\n", err);
	w = &dp->workers[0];
	pool = dp->pool;
	(void)socket;

	fwd = (struct dir){ .reverse = false, .v6 = o.client6, .rx_port = 0, .tx_port = 1,
		.rng = 0x9e3779b97f4a7c15ull };
	rev = (struct dir){ .reverse = true, .v6 = o.dest6, .rx_port = 1, .tx_port = 0,
		.rng = 0x2545f4914f6cdd1dull };
	for (struct dir *d = &fwd; d != NULL; d = d == &fwd ? &rev : NULL) {
		d->udp = d->v6 ? 14 + 40 : 14 + 20;
		d->frame_len = (uint16_t)(d->udp + 8 + RTP_HDR_LEN + o.payload);
	}

	/* every mbuf carries a whole frame from the start: the runs rewrite only the headers
	 * (an IPv4 frame's payload bytes cover an IPv6 frame's after its template too) */
	{
		struct rte_mbuf **all = calloc(N_MBUFS, sizeof(*all));
		uint16_t len = RTE_MAX(fwd.frame_len, rev.frame_len);
		uint8_t *f = malloc(len);
		unsigned n = 0;
		memset(f, PAYLOAD_BYTE, len);
		build_frame(f, &fwd, 0);
		memset(f + fwd.frame_len, PAYLOAD_BYTE, len - fwd.frame_len);
		while (n < N_MBUFS && (all[n] = rte_pktmbuf_alloc(pool)) != NULL) {
			memcpy(rte_pktmbuf_mtod(all[n], uint8_t *), f, len);
			n++;
		}
		rte_pktmbuf_free_bulk(all, n);
		free(all);
		free(f);
	}

	/* RTP sessions, as the session manager installs them (no RTCP) */
	for (uint32_t s = 0; s < o.flows; s++) {
		uint32_t a = s / PORTS_PER_ADDR;
		uint16_t port = (uint16_t)(BASE_PORT + s % PORTS_PER_ADDR);
		struct dp_sess_spec sp = {
			.listen_addr = listen_addr(a), .listen_port = port,
			.forward_addr = fwd_addr(a), .forward_port = port,
			.dest_addr = dest_addr(a), .dest_port = port,
			.bidirectional = o.bidir, .tag = s,
		};
		struct dp_sess *h;
		if (dp_sess_install(dp, &sp, &h, err, sizeof(err)) != 0)
			rte_exit(1, "session %u: %s\n", s, err);
	}

	build_templates(&fwd);
	fwd.cnt = calloc(o.flows, sizeof(uint32_t));
	fwd.cnt_a = calloc(o.flows, sizeof(uint32_t));
	if (o.bidir) {
		build_templates(&rev);
		rev.cnt = calloc(o.flows, sizeof(uint32_t));
		rev.cnt_a = calloc(o.flows, sizeof(uint32_t));
	}
	hist = calloc(HIST_MAX, sizeof(*hist));
	if (fwd.cnt == NULL || fwd.cnt_a == NULL || hist == NULL ||
			(o.bidir && (rev.cnt == NULL || rev.cnt_a == NULL)))
		rte_exit(1, "out of memory\n");

	rte_rcu_qsbr_thread_register(dp->qsv, 0);
	rte_rcu_qsbr_thread_online(dp->qsv, 0);
}

/* Every flow relayed exactly what it was given; no drop anywhere; RTP saw no loss. */
static int verify(uint64_t worker_pkts)
{
	int bad = 0;
	struct worker_stats *st = &w->stats;
	for (int d = 0; d < DROP_MAX; d++)
		if (st->drops[d]) {
			fprintf(stderr, "bench_worker: %" PRIu64 " drops: %s\n", st->drops[d],
					dp_drop_names[d]);
			bad = 1;
		}
	if (st->relayed != worker_pkts) {
		fprintf(stderr, "bench_worker: relayed %" PRIu64 ", sent %" PRIu64 "\n", st->relayed,
				worker_pkts);
		bad = 1;
	}
	for (int dir = 0; dir < (o.bidir ? 2 : 1); dir++) {
		const struct dir *d = dir ? &rev : &fwd;
		uint64_t mism = 0, lossy = 0;
		for (uint32_t s = 0; s < o.flows; s++) {
			uint32_t a = s / PORTS_PER_ADDR;
			uint16_t port = htons((uint16_t)(BASE_PORT + s % PORTS_PER_ADDR));
			struct dp_addr ka = dir ? fwd_addr(a) : listen_addr(a);
			struct flow_key k = dp_addr_is_v6(&ka) ?
				flow_key_make6(ka.v6, port, PKT_IPPROTO_UDP) :
				flow_key_make(ka.v4, port, PKT_IPPROTO_UDP);
			struct flow *f = flow_lookup(dp->flows, &k);
			if (f == NULL || f->stats.pkts_tx != d->cnt[s] ||
					f->stats.pkts_rx != d->cnt[s] || f->stats.dropped != 0) {
				if (mism++ < 3)
					fprintf(stderr, "bench_worker: %s flow %u: rx %" PRIu64 " tx %"
							PRIu64 " dropped %" PRIu64 ", sent %u\n",
							dir ? "reverse" : "forward", s,
							f ? f->stats.pkts_rx : 0, f ? f->stats.pkts_tx : 0,
							f ? f->stats.dropped : 0, d->cnt[s]);
				continue;
			}
			if (rtp_lost(&f->rtp) != 0 || f->rtp.received != d->cnt[s])
				lossy++;
		}
		if (mism || lossy) {
			fprintf(stderr, "bench_worker: %s flows: %" PRIu64 " with wrong counters, %"
					PRIu64 " with RTP loss or a wrong count\n",
					dir ? "reverse" : "forward", mism, lossy);
			bad = 1;
		}
	}
	return bad;
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static double median(const double *v, unsigned n)
{
	double s[MAX_REPS];
	memcpy(s, v, n * sizeof(*v));
	qsort(s, n, sizeof(*s), cmp_d);
	return n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

static double minimum(const double *v, unsigned n)
{
	double m = v[0];
	for (unsigned i = 1; i < n; i++)
		m = v[i] < m ? v[i] : m;
	return m;
}

static double maximum(const double *v, unsigned n)
{
	double m = v[0];
	for (unsigned i = 1; i < n; i++)
		m = v[i] > m ? v[i] : m;
	return m;
}

static void print_list(const char *key, const double *v, unsigned n, const char *sep)
{
	printf("  \"%s\": [", key);
	for (unsigned i = 0; i < n; i++)
		printf("%s%.2f", i ? ", " : "", v[i]);
	printf("]%s\n", sep);
}

int main(int argc, char **argv)
{
	char prefix[64], lcores[16], mem[16];
	/* our options only: EAL's are fixed */
	parse(argc, argv);
	snprintf(prefix, sizeof(prefix), "--file-prefix=bw%d", (int)getpid());
	snprintf(lcores, sizeof(lcores), "%u", o.cpu);
	snprintf(mem, sizeof(mem), "%u", o.mem_mb);
	char *eal[] = { argv[0], "-l", lcores, "--no-huge", "-m", mem, "--no-pci", "--no-shconf",
		prefix, "--vdev", "net_null0", "--vdev", "net_null1", "--log-level=error", NULL };
	if (rte_eal_init((int)RTE_DIM(eal) - 1, eal) < 0) {
		fprintf(stderr, "bench_worker: EAL init failed\n");
		return 1;
	}
	uint64_t t_setup = rte_rdtsc();
	setup();
	double hz = (double)rte_get_tsc_hz();
	if (!o.json)
		printf("bench_worker: %u %s IPv%c -> IPv%c flows, %" PRIu64 " packets x %u reps, "
				"%u-byte frames, order %s, TSC %.0f MHz, set-up %.1f s\n", o.flows,
				o.bidir ? "bidirectional" : "forward", o.client6 ? '6' : '4',
				o.dest6 ? '6' : '4', o.packets, o.reps, fwd.frame_len,
				o.random ? "random" : "round-robin", hz / 1e6,
				(double)(rte_rdtsc() - t_setup) / hz);

	/* warm-up (not timed): every forward flow latches its client (the reverse flows need
	 * it) and starts its RTP state; caches and branch predictors settle */
	uint64_t worker_pkts = 0;
	if (o.bidir) {
		bool r = o.random, b = o.bidir;
		o.random = false;
		o.bidir = false;
		uint64_t n = ((uint64_t)o.flows + DP_BURST - 1) / DP_BURST * DP_BURST;
		run(true, n);
		worker_pkts += n;
		o.random = r;
		o.bidir = b;
	}
	{
		/* at least 2 s of both: an idle vCPU takes about a second to run at full speed */
		unsigned per = o.bidir ? 2 * DP_BURST : DP_BURST;
		uint64_t n = ((o.flows > 1000000 ? o.flows : 1000000) + per - 1) / per * per;
		uint64_t t0 = rte_rdtsc();
		do {
			run(false, n);
			run(true, n);
			worker_pkts += n;
		} while (rte_rdtsc() - t0 < 2 * rte_get_tsc_hz());
	}

	double base[MAX_REPS], with[MAX_REPS], work[MAX_REPS];
	double work_med[MAX_REPS];
	unsigned per = o.bidir ? 2 * DP_BURST : DP_BURST;
	uint64_t pkts = (o.packets + per - 1) / per * per;
	for (unsigned r = 0; r < o.reps; r++) {
		struct run a = run(false, pkts);
		struct run b = run(true, pkts);
		worker_pkts += pkts;
		base[r] = a.mean;
		with[r] = b.mean;
		work[r] = b.mean - a.mean;
		work_med[r] = b.med - a.med;
		if (!o.json)
			printf("  rep %u: baseline %6.1f  with worker %6.1f  worker %6.1f cycles/pkt "
					"(median burst: %6.1f %6.1f -> %6.1f)\n", r + 1, a.mean, b.mean,
					work[r], a.med, b.med, work_med[r]);
	}
	int bad = verify(worker_pkts);

	double wk = median(work, o.reps), wk_min = minimum(work, o.reps);
	double wk_med = median(work_med, o.reps);
	if (o.json) {
		printf("{\n  \"flows\": %u,\n  \"bidirectional\": %s,\n  \"order\": \"%s\",\n"
				"  \"family\": \"%s\",\n"
				"  \"packets_per_rep\": %" PRIu64 ",\n  \"frame_bytes\": %u,\n"
				"  \"tsc_hz\": %.0f,\n", o.flows, o.bidir ? "true" : "false",
				o.random ? "random" : "rr", o.client6 ? (o.dest6 ? "6" : "6to4") :
				(o.dest6 ? "4to6" : "4"), pkts, fwd.frame_len, hz);
		print_list("baseline_cycles_per_pkt", base, o.reps, ",");
		print_list("total_cycles_per_pkt", with, o.reps, ",");
		print_list("worker_cycles_per_pkt_reps", work, o.reps, ",");
		print_list("worker_cycles_per_pkt_median_burst_reps", work_med, o.reps, ",");
		printf("  \"worker_cycles_per_pkt\": %.2f,\n  \"worker_cycles_per_pkt_min\": %.2f,\n"
				"  \"worker_cycles_per_pkt_median_burst\": %.2f,\n"
				"  \"total_cycles_per_pkt\": %.2f,\n  \"baseline_cycles_per_pkt\": %.2f,\n"
				"  \"ok\": %s\n}\n", wk, wk_min, wk_med, median(with, o.reps),
				median(base, o.reps), bad ? "false" : "true");
	} else {
		printf("worker cycles/packet: median %.1f, min %.1f, spread (max-min) %.1f (median-burst "
				"estimate %.1f); with worker %.1f, baseline %.1f (medians); %s\n",
				wk, wk_min, maximum(work, o.reps) - wk_min, wk_med, median(with, o.reps),
				median(base, o.reps), bad ? "FAILED checks" : "checks ok");
	}
	rte_eal_cleanup();
	return bad;
}
