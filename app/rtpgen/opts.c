#include "opts.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>

static const char usage_text[] =
"Usage: rtpgen [EAL args] -- --tx-port N [--rx-port N] [options]\n"
"       rtpgen [EAL args] -- --serve [options]\n"
"\n"
"Traffic (stream i goes to dst-base + (i % K) : dst-port-base + 2 * (i / K)):\n"
"  --streams N            1..1000000 RTP streams (default 1)\n"
"  --dst-base ADDR        first destination address, IPv4 or IPv6 (default 198.18.1.1;\n"
"                         IPv6: + i on the low 32 bits)\n"
"  --dst-addrs K          destination addresses used (default 1)\n"
"  --dst-port-base P      (default 20000)\n"
"  --src ADDR             source address, the family of --dst-base (default 198.18.1.2)\n"
"  --src-port-base P      stream i sends from P + 2 * i, wrapping (default 10000)\n"
"  --src-mac MAC          (default: the tx port's MAC)\n"
"  --dst-mac MAC          the DUT port's MAC (default: broadcast)\n"
"  --tx-vlan VID          802.1Q-tag what is sent (and --src's announcements) with VID,\n"
"                         0..4094 (0: priority tag only; default untagged)\n"
"  --rx-vlan VID          received RTP must carry VID, 1..4094 (default: untagged or VID\n"
"                         0; else counted as rx_wrong_vlan); --sink-addr's announcements\n"
"                         carry it\n"
"  --payload BYTES        RTP payload size, 24..1460, IPv6 ..1440 (default 160, G.711 20 ms)\n"
"  --pt N                 RTP payload type (default 0)\n"
"  --rate PPS             packets per second, 0 = as fast as possible (default 0)\n"
"  --duration SEC         sending time (default 5 s unless --count is given)\n"
"  --count N              packets to send (the phase also ends at --duration)\n"
"  --warmup SEC           send first for SEC, not counted (lets the DUT resolve ARP)\n"
"  --drain-ms MS          after sending, wait up to MS for stragglers (default 200)\n"
"  --link-wait SEC        wait up to SEC for link up before sending (default 5)\n"
"  --idle-sleep-us US     sleep when a loop pass found nothing to do (default 0: poll)\n"
"  --mbufs N              mempool size (default 16383)\n"
"  --arp-addr ADDR        also answer and announce ARP (IPv4) or NDP (IPv6) for ADDR\n"
"                         (repeatable)\n"
"  --no-arp               neither answer ARP/NDP nor announce --src / --sink-addr (by\n"
"                         default both: gratuitous ARP or unsolicited NA before each phase)\n"
"  --json                 print one JSON object instead of the summary\n"
"  --serve                set up the ports (--tx-port/--rx-port if given, else every port)\n"
"                         and keep them; then run one phase per line read on stdin: the\n"
"                         line holds options as here (the command line's are its\n"
"                         defaults), the answer is one JSON line (--json's object, or\n"
"                         {\"error\": ...}). EOF or \"quit\" ends. The ports are not\n"
"                         polled between phases\n"
"\n"
"Sessions (one per stream, listen endpoint = the stream's destination):\n"
"  --create-sessions TARGET   create them through the gRPC API first (\"unix:/path\",\n"
"                             \"127.0.0.1:50051\"), destroy them at the end\n"
"  --sessions FILE        a prepared list: one \"ADDR:PORT\" or \"[ADDR6]:PORT\" (listen\n"
"                         endpoint) per line, one family (IPv6: one /96);\n"
"                         streams = its lines (or the first --streams of them)\n"
"  --fwd-addr ADDR        forward endpoint address, the family of --sink-addr (default\n"
"                         198.18.2.1)\n"
"  --fwd-addrs K          session i forwards from fwd-addr + (i % K) (default 1; a DUT's\n"
"                         port range limits the sessions per forward address)\n"
"  --fwd-port-base P      forward port P + 2 * (i / K) (default 0: the server allocates)\n"
"  --sink-addr ADDR       destination address, IPv4 or IPv6: may differ from --dst-base's\n"
"                         (interworking) (default 198.18.2.2; ARP/NDP answered)\n"
"  --sink-port-base P     destination port P + 2 * i, wrapping (default 40000)\n"
"  --bidirectional        create bidirectional sessions\n"
"  --idle-timeout SEC     sessions' idle timeout (default: the server's)\n"
"  --rpc-threads N        CreateSession/DestroySession calls in flight (default 4)\n"
"  --keep-sessions        do not destroy them at the end\n"
"  --session-prefix S     session ids are S<i> (default \"rtpgen-<pid>-\")\n";

enum {
	O_TX_PORT = 256, O_RX_PORT, O_STREAMS, O_DST_BASE, O_DST_ADDRS, O_DST_PORT_BASE, O_SRC,
	O_SRC_PORT_BASE, O_SRC_MAC, O_DST_MAC, O_PAYLOAD, O_PT, O_RATE, O_DURATION, O_COUNT,
	O_WARMUP, O_DRAIN_MS, O_LINK_WAIT, O_IDLE_SLEEP, O_MBUFS, O_ARP_ADDR, O_NO_ARP, O_JSON,
	O_CREATE, O_SESSIONS, O_FWD_ADDR, O_FWD_ADDRS, O_FWD_PORT_BASE, O_SINK_ADDR, O_SINK_PORT_BASE,
	O_BIDIR, O_IDLE_TIMEOUT, O_RPC_THREADS, O_KEEP, O_PREFIX, O_TX_VLAN, O_RX_VLAN,
	O_SERVE, O_TEST_SKIP, O_TEST_DUP, O_TEST_SWAP, O_HELP,
};

static const struct option long_opts[] = {
	{ "tx-port", required_argument, NULL, O_TX_PORT },
	{ "rx-port", required_argument, NULL, O_RX_PORT },
	{ "streams", required_argument, NULL, O_STREAMS },
	{ "dst-base", required_argument, NULL, O_DST_BASE },
	{ "dst-addrs", required_argument, NULL, O_DST_ADDRS },
	{ "dst-port-base", required_argument, NULL, O_DST_PORT_BASE },
	{ "src", required_argument, NULL, O_SRC },
	{ "src-port-base", required_argument, NULL, O_SRC_PORT_BASE },
	{ "src-mac", required_argument, NULL, O_SRC_MAC },
	{ "dst-mac", required_argument, NULL, O_DST_MAC },
	{ "tx-vlan", required_argument, NULL, O_TX_VLAN },
	{ "rx-vlan", required_argument, NULL, O_RX_VLAN },
	{ "payload", required_argument, NULL, O_PAYLOAD },
	{ "pt", required_argument, NULL, O_PT },
	{ "rate", required_argument, NULL, O_RATE },
	{ "duration", required_argument, NULL, O_DURATION },
	{ "count", required_argument, NULL, O_COUNT },
	{ "warmup", required_argument, NULL, O_WARMUP },
	{ "drain-ms", required_argument, NULL, O_DRAIN_MS },
	{ "link-wait", required_argument, NULL, O_LINK_WAIT },
	{ "idle-sleep-us", required_argument, NULL, O_IDLE_SLEEP },
	{ "mbufs", required_argument, NULL, O_MBUFS },
	{ "arp-addr", required_argument, NULL, O_ARP_ADDR },
	{ "no-arp", no_argument, NULL, O_NO_ARP },
	{ "json", no_argument, NULL, O_JSON },
	{ "create-sessions", required_argument, NULL, O_CREATE },
	{ "sessions", required_argument, NULL, O_SESSIONS },
	{ "fwd-addr", required_argument, NULL, O_FWD_ADDR },
	{ "fwd-addrs", required_argument, NULL, O_FWD_ADDRS },
	{ "fwd-port-base", required_argument, NULL, O_FWD_PORT_BASE },
	{ "sink-addr", required_argument, NULL, O_SINK_ADDR },
	{ "sink-port-base", required_argument, NULL, O_SINK_PORT_BASE },
	{ "bidirectional", no_argument, NULL, O_BIDIR },
	{ "idle-timeout", required_argument, NULL, O_IDLE_TIMEOUT },
	{ "rpc-threads", required_argument, NULL, O_RPC_THREADS },
	{ "keep-sessions", no_argument, NULL, O_KEEP },
	{ "session-prefix", required_argument, NULL, O_PREFIX },
	{ "serve", no_argument, NULL, O_SERVE },
	/* hidden: make the sender lose, duplicate or reorder on purpose (tests, pattern.h) */
	{ "test-skip-every", required_argument, NULL, O_TEST_SKIP },
	{ "test-dup-every", required_argument, NULL, O_TEST_DUP },
	{ "test-swap-every", required_argument, NULL, O_TEST_SWAP },
	{ "help", no_argument, NULL, O_HELP },
	{ NULL, 0, NULL, 0 },
};

static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* the last usage error, for --serve's {"error": ...} answer */
static char last_error[512];

static int usage_error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(last_error, sizeof(last_error), fmt, ap);
	va_end(ap);
	fprintf(stderr, "rtpgen: %s\nTry 'rtpgen -- --help' for more information.\n", last_error);
	return 2;
}

const char *opts_error(void)
{
	return last_error;
}

void opts_usage(FILE *f)
{
	fputs(usage_text, f);
}

static bool parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	char *end;
	unsigned long long v;

	if (s[0] < '0' || s[0] > '9')
		return false;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < min || v > max)
		return false;
	*out = v;
	return true;
}

static bool parse_secs(const char *s, double max, double *out)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno != 0 || end == s || *end != '\0' || !isfinite(v) || v < 0 || v > max)
		return false;
	*out = v;
	return true;
}


void opts_defaults(struct gen_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->tx_port = UINT16_MAX;
	o->rx_port = UINT16_MAX;
	o->streams = 1;
	o->dst_base = gen_addr4(0xc6120101);    /* 198.18.1.1: the lab's DUT port0 */
	o->dst_addrs = 1;
	o->dst_port_base = 20000;
	o->src_addr = gen_addr4(0xc6120102);    /* 198.18.1.2 */
	o->tx_vlan = GEN_VLAN_NONE;
	o->rx_vlan = GEN_VLAN_NONE;
	o->src_port_base = 10000;
	o->payload = 160;
	o->drain_ms = 200;
	o->link_wait = 5;
	o->mbufs = 16383;
	o->fwd_addr = gen_addr4(0xc6120201);    /* 198.18.2.1 */
	o->fwd_addrs = 1;
	o->sink_addr = gen_addr4(0xc6120202);   /* 198.18.2.2 */
	o->sink_port_base = 40000;
	o->rpc_threads = 4;
	snprintf(o->session_prefix, sizeof(o->session_prefix), "rtpgen-%d-", (int)getpid());
}

/* One option; 0 or a usage error (2). */
static int parse_one(struct gen_opts *o, int c, const char *arg, const char *name)
{
	uint64_t v;
	struct gen_addr a;

#define U64(min, max) do { \
	if (!parse_u64(arg, (min), (max), &v)) \
		return usage_error("--%s: expected an integer in %" PRIu64 "..%" PRIu64 \
				", got \"%s\"", name, (uint64_t)(min), (uint64_t)(max), arg); \
} while (0)
#define SECS(max, field) do { \
	if (!parse_secs(arg, (max), &(field))) \
		return usage_error("--%s: expected seconds in 0..%g, got \"%s\"", name, \
				(double)(max), arg); \
} while (0)
#define IP(field) do { \
	if (!gen_addr_parse(arg, &(field))) \
		return usage_error("--%s: expected an IPv4 or IPv6 address, got \"%s\"", name, \
				arg); \
} while (0)
#define MAC(field, have) do { \
	if (rte_ether_unformat_addr(arg, &(field)) != 0) \
		return usage_error("--%s: expected a MAC address, got \"%s\"", name, arg); \
	(have) = true; \
} while (0)

	switch (c) {
	case O_TX_PORT: U64(0, RTE_MAX_ETHPORTS - 1); o->tx_port = (uint16_t)v; break;
	case O_RX_PORT: U64(0, RTE_MAX_ETHPORTS - 1); o->rx_port = (uint16_t)v; break;
	case O_STREAMS:
		U64(1, GEN_MAX_STREAMS);
		o->streams = (uint32_t)v;
		o->streams_given = true;
		break;
	case O_DST_BASE: IP(o->dst_base); break;
	case O_DST_ADDRS: U64(1, GEN_MAX_STREAMS); o->dst_addrs = (uint32_t)v; break;
	case O_DST_PORT_BASE: U64(1, 65535); o->dst_port_base = (uint16_t)v; break;
	case O_SRC: IP(o->src_addr); break;
	case O_SRC_PORT_BASE: U64(1, 65535); o->src_port_base = (uint16_t)v; break;
	case O_SRC_MAC: MAC(o->src_mac, o->have_src_mac); break;
	case O_DST_MAC: MAC(o->dst_mac, o->have_dst_mac); break;
	case O_TX_VLAN: U64(0, 4094); o->tx_vlan = (int)v; break;
	case O_RX_VLAN: U64(1, 4094); o->rx_vlan = (int)v; break;
	case O_PAYLOAD: U64(GEN_MARK_LEN, GEN_PAYLOAD_MAX); o->payload = (uint16_t)v; break;
	case O_PT: U64(0, 127); o->pt = (uint8_t)v; break;
	case O_RATE: U64(0, 1000000000); o->rate = v; break;
	case O_DURATION:
		SECS(86400, o->duration);
		if (o->duration == 0)
			return usage_error("--duration: must be more than 0");
		break;
	case O_COUNT: U64(1, UINT64_C(1000000000000)); o->count = v; break;
	case O_WARMUP: SECS(3600, o->warmup); break;
	case O_DRAIN_MS: U64(1, 60000); o->drain_ms = (uint32_t)v; break;
	case O_LINK_WAIT: SECS(600, o->link_wait); break;
	case O_IDLE_SLEEP: U64(0, 100000); o->idle_sleep_us = (uint32_t)v; break;
	case O_MBUFS: U64(1023, 16777215); o->mbufs = (uint32_t)v; break;
	case O_ARP_ADDR:
		if (o->n_arp_addrs == GEN_MAX_ADDRS - 2)
			return usage_error("--arp-addr: at most %d", GEN_MAX_ADDRS - 2);
		IP(a);
		o->arp_where[o->n_arp_addrs] = ARP_ON_TX | ARP_ON_RX;
		o->arp_addrs[o->n_arp_addrs++] = a;
		break;
	case O_NO_ARP: o->no_arp = true; break;
	case O_JSON: o->json = true; break;
	case O_CREATE: o->grpc_target = arg; break;
	case O_SESSIONS: o->sessions_file = arg; break;
	case O_FWD_ADDR: IP(o->fwd_addr); break;
	case O_FWD_ADDRS: U64(1, GEN_MAX_STREAMS); o->fwd_addrs = (uint32_t)v; break;
	case O_FWD_PORT_BASE: U64(0, 65535); o->fwd_port_base = (uint16_t)v; break;
	case O_SINK_ADDR: IP(o->sink_addr); break;
	case O_SINK_PORT_BASE: U64(1, 65535); o->sink_port_base = (uint16_t)v; break;
	case O_BIDIR: o->bidirectional = true; break;
	case O_IDLE_TIMEOUT: U64(0, UINT32_MAX); o->idle_timeout = (uint32_t)v; break;
	case O_RPC_THREADS: U64(1, 64); o->rpc_threads = (uint32_t)v; break;
	case O_KEEP: o->keep_sessions = true; break;
	case O_SERVE: o->serve = true; break;
	case O_PREFIX:
		if (strlen(arg) >= sizeof(o->session_prefix))
			return usage_error("--session-prefix: at most %zu characters",
					sizeof(o->session_prefix) - 1);
		strcpy(o->session_prefix, arg);
		break;
	case O_TEST_SKIP: case O_TEST_DUP: case O_TEST_SWAP:
		if (o->pattern != PAT_NONE)
			return usage_error("--%s: only one --test-* option at a time", name);
		U64(c == O_TEST_DUP ? 1 : 2, 1000000);
		o->pattern = c == O_TEST_SKIP ? PAT_SKIP : c == O_TEST_DUP ? PAT_DUP : PAT_SWAP;
		o->pattern_k = (uint32_t)v;
		break;
	default:
		return 2;
	}
	return 0;
#undef U64
#undef SECS
#undef IP
#undef MAC
}

int opts_validate(struct gen_opts *o)
{
	if (o->tx_port == UINT16_MAX)
		return usage_error("--tx-port is required");
	if (o->rx_port == UINT16_MAX)
		o->rx_port = o->tx_port;
	if (o->grpc_target != NULL && o->sessions_file != NULL)
		return usage_error("--create-sessions and --sessions exclude each other");
	if (o->sessions_file == NULL) {
		uint64_t last_port = o->dst_port_base +
				2 * (uint64_t)((o->streams - 1) / o->dst_addrs);
		if (!gen_addr_span_ok(&o->dst_base, o->dst_addrs))
			return usage_error("--dst-base + --dst-addrs goes past %s",
					o->dst_base.af == 4 ? "255.255.255.255" :
					"the address's low 32 bits (IPv6: one /96)");
		if (last_port > 65535) {
			uint64_t per_addr = (65535u - o->dst_port_base) / 2 + 1;
			return usage_error("%u streams over %u address(es) need ports up to %"
					PRIu64 " from --dst-port-base %u: use --dst-addrs %"
					PRIu64 " or more, or a lower --dst-port-base",
					o->streams, o->dst_addrs, last_port, o->dst_port_base,
					(o->streams + per_addr - 1) / per_addr);
		}
	}
	if (o->sessions_file == NULL && o->src_addr.af != o->dst_base.af)
		return usage_error("--src: IPv%u, but --dst-base is IPv%u (one family is sent)",
				o->src_addr.af, o->dst_base.af);
	if (o->payload > GEN_PAYLOAD_MAX6 && o->src_addr.af == 6)
		return usage_error("--payload: at most %d with IPv6 (a 1500-byte packet)",
				GEN_PAYLOAD_MAX6);
	if (o->grpc_target != NULL && o->fwd_addr.af != o->sink_addr.af)
		return usage_error("--fwd-addr: IPv%u, but --sink-addr is IPv%u (the forward "
				"endpoint sends to the destination)", o->fwd_addr.af,
				o->sink_addr.af);
	if (!gen_addr_span_ok(&o->fwd_addr, o->fwd_addrs))
		return usage_error("--fwd-addr + --fwd-addrs goes past %s",
				o->fwd_addr.af == 4 ? "255.255.255.255" :
				"the address's low 32 bits (IPv6: one /96)");
	if (o->grpc_target != NULL && o->fwd_port_base != 0 &&
			o->fwd_port_base + 2 * (uint64_t)((o->streams - 1) / o->fwd_addrs) > 65535)
		return usage_error("--fwd-port-base %u: %u streams over %u forward address(es) "
				"go past port 65535 (use more --fwd-addrs, or 0: the server "
				"allocates)", o->fwd_port_base, o->streams, o->fwd_addrs);
	o->arp_where[o->n_arp_addrs] = ARP_ON_TX;
	o->arp_addrs[o->n_arp_addrs++] = o->src_addr;
	o->arp_where[o->n_arp_addrs] = ARP_ON_RX;
	o->arp_addrs[o->n_arp_addrs++] = o->sink_addr;
	if (o->no_arp)
		o->n_arp_addrs = 0;
	return 0;
}

int opts_parse_args(int argc, char **argv, struct gen_opts *o)
{
	int c, idx, rc;

	/* 0, not 1: glibc's getopt then forgets the previous argument vector's state (--serve
	 * parses one per line) */
	optind = 0;
	opterr = 0;
	last_error[0] = '\0';
	for (;;) {
		idx = -1;
		c = getopt_long(argc, argv, "", long_opts, &idx);
		if (c == -1)
			break;
		if (c == O_HELP)
			return 1;
		if (c == '?' || c == ':')
			return usage_error("unknown option or missing argument: %s",
					argv[optind - 1]);
		rc = parse_one(o, c, optarg, idx >= 0 ? long_opts[idx].name : "?");
		if (rc != 0)
			return rc;
	}
	if (optind < argc)
		return usage_error("unexpected argument \"%s\"", argv[optind]);
	return 0;
}

int opts_parse(int argc, char **argv, struct gen_opts *o)
{
	int rc;

	opts_defaults(o);
	rc = opts_parse_args(argc, argv, o);
	if (rc == 1)
		opts_usage(stdout);
	if (rc != 0)
		return rc;
	/* --serve: the command line only holds every phase's defaults, checked per phase */
	return o->serve ? 0 : opts_validate(o);
}

double opts_time_limit(const struct gen_opts *o)
{
	if (o->duration > 0)
		return o->duration;
	if (o->count == 0)
		return OPTS_DEFAULT_DURATION;
	/* --count alone still ends by itself: half as long again as the rate needs, plus 10 s,
	 * or 10 minutes at full speed */
	if (o->rate != 0)
		return 1.5 * (double)o->count / (double)o->rate + 10;
	return 600;
}
