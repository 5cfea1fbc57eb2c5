/*
 * rtpgen main: EAL -> options -> ports (started once) -> one phase (run_phase: streams ->
 * sessions -> warm-up and measured phases on the main lcore -> sessions destroyed -> report),
 * or with --serve one phase per line read on stdin, the ports kept up in between.
 * Exit status: 0 the run completed (whatever it measured), 1 set-up or session error, 2 usage.
 */
#include <errno.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>

#include "gen.h"
#include "opts.h"
#include "report.h"
#include "sessions.h"
#include "streams.h"

#define NB_RXD 1024
#define NB_TXD 1024
#define POOL_CACHE 256
#define SERVE_LINE_MAX 8192     /* --serve: longest phase line */
#define SERVE_MAX_ARGS 256
#define SERVE_POLL_MS 500       /* how often a wait for a line looks at gen_force_quit */

volatile bool gen_force_quit;

static void on_signal(int sig)
{
	(void)sig;
	gen_force_quit = true;
}

static int port_setup(uint16_t port, struct rte_mempool *pool, char *err, size_t errlen)
{
	struct rte_eth_conf conf = { 0 };
	struct rte_eth_dev_info info;
	struct rte_eth_txconf txconf;
	uint16_t nb_rxd = NB_RXD, nb_txd = NB_TXD;
	int socket = rte_eth_dev_socket_id(port);
	int rc;

	if (socket < 0)
		socket = (int)rte_socket_id();
	rc = rte_eth_dev_info_get(port, &info);
	if (rc != 0)
		goto fail;
	/* every mbuf comes from one pool with refcnt 1: the cheapest free on tx completion */
	if (info.tx_offload_capa & RTE_ETH_TX_OFFLOAD_MBUF_FAST_FREE)
		conf.txmode.offloads |= RTE_ETH_TX_OFFLOAD_MBUF_FAST_FREE;
	rc = rte_eth_dev_configure(port, 1, 1, &conf);
	if (rc != 0)
		goto fail;
	rc = rte_eth_dev_adjust_nb_rx_tx_desc(port, &nb_rxd, &nb_txd);
	if (rc != 0)
		goto fail;
	rc = rte_eth_rx_queue_setup(port, 0, nb_rxd, (unsigned)socket, NULL, pool);
	if (rc != 0)
		goto fail;
	txconf = info.default_txconf;
	txconf.offloads = conf.txmode.offloads;
	rc = rte_eth_tx_queue_setup(port, 0, nb_txd, (unsigned)socket, &txconf);
	if (rc != 0)
		goto fail;
	rc = rte_eth_dev_start(port);
	if (rc != 0)
		goto fail;
	/* the DUT may send to any MAC; a refusal (virtual devices) does not matter */
	(void)rte_eth_promiscuous_enable(port);
	return 0;
fail:
	snprintf(err, errlen, "port %u: set-up failed: %s", port, rte_strerror(-rc));
	return -1;
}

/* Bounded: every port up, or `secs` passed (then a warning; sending fails or not). */
static void wait_links(const uint16_t *ports, unsigned n, double secs)
{
	uint64_t end = rte_get_tsc_cycles() + (uint64_t)(secs * (double)rte_get_tsc_hz());

	for (;;) {
		unsigned up = 0;
		for (unsigned i = 0; i < n; i++) {
			struct rte_eth_link link;
			if (rte_eth_link_get_nowait(ports[i], &link) == 0 &&
					link.link_status == RTE_ETH_LINK_UP)
				up++;
		}
		if (up == n)
			return;
		if (rte_get_tsc_cycles() >= end || gen_force_quit) {
			fprintf(stderr, "rtpgen: warning: link still down after %.1f s\n", secs);
			return;
		}
		rte_delay_ms(10);
	}
}

/* The phase's ports' ethdev counters (since lcore_prepare reset them). */
static void port_stats(struct report *r, const struct gen_opts *o)
{
	uint16_t ports[2] = { o->tx_port, o->rx_port };
	unsigned n = o->rx_port != o->tx_port ? 2 : 1;

	r->n_ports = n;
	for (unsigned i = 0; i < n; i++) {
		struct report_port *p = &r->ports[i];
		struct rte_eth_stats s;

		p->id = ports[i];
		if (rte_eth_dev_get_name_by_port(ports[i], p->name) != 0)
			snprintf(p->name, sizeof(p->name), "?");
		if (rte_eth_stats_get(ports[i], &s) == 0) {
			p->ipackets = s.ipackets;
			p->opackets = s.opackets;
			p->imissed = s.imissed;
			p->ierrors = s.ierrors;
			p->oerrors = s.oerrors;
			p->rx_nombuf = s.rx_nombuf;
		}
	}
}

/* What lives as long as the process: the started ports, the mempool, the loop's state. */
struct gen_ctx {
	uint16_t ports[GEN_MAX_PORTS];
	unsigned n_ports, started;
	int socket;
	struct rte_mempool *pool;
	struct gen_lcore *lc;
	cpu_set_t cpus;                 /* where the gRPC client threads may run */
};

/* While the sessions are created: answer the DUT's ARP/NDP requests for the sink. */
static void poll_while_creating(void *arg, volatile bool *done)
{
	gen_poll_until(arg, done);
}

/* The addresses rtpgen answers ARP and NDP for, and each rx port's MAC. */
static void setup_identity(struct gen_lcore *lc, struct gen_opts *o)
{
	for (unsigned i = 0; i < o->n_arp_addrs; i++) {
		lc->my_addr_where[lc->n_my_addrs] = o->arp_where[i];
		lc->my_addrs[lc->n_my_addrs++] = o->arp_addrs[i];
	}
	for (unsigned i = 0; i < lc->n_rx_ports; i++)
		rte_eth_macaddr_get(lc->rx_ports[i], &lc->rx_mac[i]);
	if (!o->have_src_mac)
		rte_eth_macaddr_get(o->tx_port, &o->src_mac);
	if (!o->have_dst_mac)
		memset(&o->dst_mac, 0xff, sizeof(o->dst_mac));
}

/* ---- the process: ports and pool ---- */

/* Which ports to start: --tx-port/--rx-port when given (a one-shot run always gives them),
 * else (--serve) every port EAL made, so that each phase may pick its own. */
static int ctx_choose_ports(struct gen_ctx *ctx, const struct gen_opts *o, char *err,
		size_t errlen)
{
	uint16_t p;

	if (o->tx_port != UINT16_MAX) {
		ctx->ports[ctx->n_ports++] = o->tx_port;
		if (o->rx_port != UINT16_MAX && o->rx_port != o->tx_port)
			ctx->ports[ctx->n_ports++] = o->rx_port;
		for (unsigned i = 0; i < ctx->n_ports; i++) {
			if (!rte_eth_dev_is_valid_port(ctx->ports[i])) {
				snprintf(err, errlen, "port %u does not exist (%u ports; add --vdev?)",
						ctx->ports[i], rte_eth_dev_count_avail());
				return -1;
			}
		}
		return 0;
	}
	RTE_ETH_FOREACH_DEV(p) {
		if (ctx->n_ports == GEN_MAX_PORTS) {
			snprintf(err, errlen, "more than %d ports: name them with --tx-port/--rx-port",
					GEN_MAX_PORTS);
			return -1;
		}
		ctx->ports[ctx->n_ports++] = p;
	}
	if (ctx->n_ports == 0) {
		snprintf(err, errlen, "no port (add --vdev?)");
		return -1;
	}
	return 0;
}

/* Choose and start the ports, with the pool they receive into, and allocate the loop's state. */
static int ctx_open(struct gen_ctx *ctx, const struct gen_opts *o, char *err, size_t errlen)
{
	if (ctx_choose_ports(ctx, o, err, errlen) != 0)
		return -1;
	ctx->socket = rte_eth_dev_socket_id(ctx->ports[0]);
	if (ctx->socket < 0)
		ctx->socket = (int)rte_socket_id();
	ctx->pool = rte_pktmbuf_pool_create("rtpgen_pool", o->mbufs, POOL_CACHE, 0,
			RTE_MBUF_DEFAULT_BUF_SIZE, ctx->socket);
	if (ctx->pool == NULL) {
		snprintf(err, errlen, "cannot create a pool of %u mbufs: %s", o->mbufs,
				rte_strerror(rte_errno));
		return -1;
	}
	for (; ctx->started < ctx->n_ports; ctx->started++) {
		if (port_setup(ctx->ports[ctx->started], ctx->pool, err, errlen) != 0)
			return -1;
	}
	ctx->lc = rte_zmalloc_socket("rtpgen_lcore", sizeof(*ctx->lc), RTE_CACHE_LINE_SIZE,
			ctx->socket);
	if (ctx->lc == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	return 0;
}

static void ctx_close(struct gen_ctx *ctx)
{
	for (unsigned i = 0; i < ctx->started; i++) {
		rte_eth_dev_stop(ctx->ports[i]);
		rte_eth_dev_close(ctx->ports[i]);
	}
	rte_free(ctx->lc);
	rte_mempool_free(ctx->pool);
}

/* ---- one phase ---- */

/* The phase's ports must be among those started. */
static int phase_check_ports(const struct gen_ctx *ctx, const struct gen_opts *o, char *err,
		size_t errlen)
{
	uint16_t want[2] = { o->tx_port, o->rx_port };

	for (unsigned k = 0; k < 2; k++) {
		bool found = false;
		for (unsigned i = 0; i < ctx->n_ports; i++)
			found |= ctx->ports[i] == want[k];
		if (!found) {
			snprintf(err, errlen, "port %u is not set up (%u ports; add --vdev?)",
					want[k], ctx->n_ports);
			return -1;
		}
	}
	return 0;
}

/* --sessions FILE: the streams' destinations, and how many streams there are. */
static int phase_endpoints(struct gen_opts *o, struct gen_endpoint **eps, char *err,
		size_t errlen)
{
	uint32_t n, max = o->streams_given ? o->streams : GEN_MAX_STREAMS;

	if (o->sessions_file == NULL)
		return 0;
	if (streams_read_file(o->sessions_file, max, eps, &n, err, errlen) != 0)
		return -1;
	if (o->streams_given && n < o->streams) {
		snprintf(err, errlen, "%s: %u endpoints, --streams %u", o->sessions_file, n,
				o->streams);
		return -1;
	}
	o->streams = n;
	return 0;
}

/* A clean loop state for a phase: nothing of the previous one (counters, histogram, stream
 * position) survives, and a new run tag makes its late packets foreign (rx_other). */
static void lcore_prepare(struct gen_ctx *ctx, struct gen_opts *o)
{
	struct gen_lcore *lc = ctx->lc;

	memset(lc, 0, sizeof(*lc));
	lc->pool = ctx->pool;
	lc->tx_port = o->tx_port;
	lc->rx_port = o->rx_port;
	/* every started port is drained, whichever the phase sends on */
	for (unsigned i = 0; i < ctx->n_ports; i++) {
		lc->rx_ports[lc->n_rx_ports++] = ctx->ports[i];
		/* the report's port counters are this phase's (not supported: no harm) */
		(void)rte_eth_stats_reset(ctx->ports[i]);
	}
	lc->pattern = o->pattern;
	lc->pattern_k = o->pattern_k;
	lc->idle_sleep_us = o->idle_sleep_us;
	lc->tx_vlan = o->tx_vlan;
	lc->rx_vlan = o->rx_vlan;
	/* the top bit of a marker's tag tells the measured phase from the warm-up */
	lc->run_tag = (uint32_t)(rte_rdtsc() ^ ((uint64_t)getpid() << 16)) & ~GEN_TAG_MEASURED;
	hist_reset(&lc->lat);
	setup_identity(lc, o);
}

static int sessions_create(struct gen_ctx *ctx, const struct gen_opts *o,
		struct sess_totals *sess, char *err, size_t errlen)
{
	struct gen_lcore *lc = ctx->lc;

	if (sess_create_all(o, lc->streams, lc->n_streams, &lc->dst_prefix, &ctx->cpus,
			poll_while_creating, lc, sess) != 0) {
		snprintf(err, errlen, "%s (%lu of %u sessions created)", sess->err,
				(unsigned long)sess->created, lc->n_streams);
		return -1;
	}
	fprintf(stderr, "rtpgen: created %lu sessions in %.3f s\n", (unsigned long)sess->created,
			sess->create_s);
	return 0;
}

/* Destroy (or keep) what sessions_create made and add their figures to the report; a failed
 * destroy makes the phase fail (its message after an earlier error, if any). */
static int sessions_finish(struct gen_ctx *ctx, const struct gen_opts *o,
		struct sess_totals *sess, struct report *rep, int status, char *err, size_t errlen)
{
	if (sess->created == 0)
		return status;
	if (o->keep_sessions) {
		fprintf(stderr, "rtpgen: keeping %lu sessions (%s0..)\n",
				(unsigned long)sess->created, o->session_prefix);
	} else if (sess_destroy_all(o, &ctx->cpus, sess) != 0) {
		size_t len = status != 0 ? strlen(err) : 0;
		snprintf(err + len, errlen - len, "%sdestroying sessions: %s (%lu of %lu destroyed)",
				len ? "; " : "", sess->err, (unsigned long)sess->destroyed,
				(unsigned long)sess->created);
		status = 1;
	}
	rep->sessions_created = sess->created;
	rep->creates_per_s = sess->create_s > 0 ? (double)sess->created / sess->create_s : 0;
	rep->sessions_destroyed = sess->destroyed;
	rep->destroys_per_s = sess->destroy_s > 0 ? (double)sess->destroyed / sess->destroy_s : 0;
	rep->have_session_stats = sess->destroyed > 0;
	rep->sess_rx_pkts = sess->rx_pkts;
	rep->sess_tx_pkts = sess->tx_pkts;
	rep->sess_dropped = sess->dropped;
	rep->sess_lost = sess->lost;
	return status;
}

/* Optional warm-up (not counted), then the measured phase; the report's traffic figures. */
static void run_traffic(struct gen_ctx *ctx, const struct gen_opts *o, struct report *rep)
{
	struct gen_lcore *lc = ctx->lc;
	struct gen_phase warm = { 0 }, meas = { 0 };
	struct gen_counters warm_c = { 0 };
	uint64_t hz = rte_get_tsc_hz(), g_base = 0;

	wait_links(ctx->ports, ctx->n_ports, o->link_wait);
	if (o->warmup > 0 && !gen_force_quit) {
		lc->tag = lc->run_tag;
		warm = (struct gen_phase){ .tsc_limit = (uint64_t)(o->warmup * (double)hz),
				.rate = o->rate, .drain_tsc = o->drain_ms * hz / 1000 };
		gen_run_phase(lc, &warm);
		warm_c = lc->cur;
		memset(&lc->cur, 0, sizeof(lc->cur));
		streams_rx_rebase(lc);
		hist_reset(&lc->lat);
		g_base = lc->generated;
	}
	lc->tag = lc->run_tag | GEN_TAG_MEASURED;
	meas = (struct gen_phase){ .count = o->count,
			.tsc_limit = (uint64_t)(opts_time_limit(o) * (double)hz),
			.rate = o->rate, .drain_tsc = o->drain_ms * hz / 1000 };
	if (!gen_force_quit)
		gen_run_phase(lc, &meas);

	rep->streams = lc->n_streams;
	rep->frame_len = lc->frame_len;
	rep->payload = o->payload;
	rep->stream_bytes = sizeof(struct gen_stream);
	rep->duration_s = (double)(meas.t_end_send - meas.t_start) / (double)hz;
	rep->c = lc->cur;
	rep->lost = streams_lost(lc, g_base);
	report_latency(rep, &lc->lat, hz);
	rep->rx_other = lc->rx_other;
	rep->rx_arp = lc->rx_arp;
	rep->rx_wrong_vlan = lc->rx_wrong_vlan;
	rep->rx_bad = lc->rx_bad;
	rep->rx_stale = lc->rx_stale;
	rep->arp_replies = lc->arp_replies;
	rep->arp_announced = lc->arp_announced;
	rep->loop_max_gap_us = (double)lc->max_gap_tsc * 1e6 / (double)hz;
	rep->tx_nombuf = lc->tx_nombuf;
	rep->warmup_s = (double)(warm.t_end_send - warm.t_start) / (double)hz;
	rep->warmup_tx_pkts = warm_c.tx_pkts;
	rep->warmup_rx_pkts = warm_c.rx_pkts;
	port_stats(rep, o);
}

/*
 * One run as the options ask, on ports already started: streams, sessions (created, then
 * destroyed or kept), warm-up and measurement. 0 and *rep filled, or 1 with err set (*rep
 * then holds the traffic figures if the traffic ran: rep->streams != 0).
 */
static int run_phase(struct gen_ctx *ctx, struct gen_opts *o, struct report *rep, char *err,
		size_t errlen)
{
	struct gen_endpoint *eps = NULL;
	struct sess_totals sess;
	int status = 1;

	memset(rep, 0, sizeof(*rep));
	memset(&sess, 0, sizeof(sess));
	if (phase_check_ports(ctx, o, err, errlen) != 0 ||
			phase_endpoints(o, &eps, err, errlen) != 0)
		goto out;
	lcore_prepare(ctx, o);
	if (streams_setup(ctx->lc, o, eps, ctx->socket, err, errlen) != 0)
		goto out;
	if (o->grpc_target != NULL && sessions_create(ctx, o, &sess, err, errlen) != 0)
		goto out;
	run_traffic(ctx, o, rep);
	status = 0;
out:
	status = sessions_finish(ctx, o, &sess, rep, status, err, errlen);
	rte_free(ctx->lc->streams);
	ctx->lc->streams = NULL;
	free(eps);
	return status;
}

/* ---- --serve: phases from stdin ---- */

/*
 * One line from stdin, without its newline, into line[SERVE_LINE_MAX]: 1, 0 at EOF (or after
 * a signal), -1 for a line too long (its rest is skipped). Waits in poll(2) on stdin alone:
 * between phases rtpgen does not touch its ports, so a DUT may stop (its memif server going
 * away) without racing rtpgen's own polling.
 */
static int serve_read_line(char *line)
{
	static char buf[SERVE_LINE_MAX];
	static size_t have;
	bool too_long = false;

	for (;;) {
		char *nl = memchr(buf, '\n', have);
		struct pollfd pfd = { .fd = STDIN_FILENO, .events = POLLIN };
		ssize_t n;

		if (nl != NULL || (have == sizeof(buf))) {
			size_t len = nl != NULL ? (size_t)(nl - buf) : have;
			size_t used = nl != NULL ? len + 1 : have;
			if (!too_long && nl != NULL) {
				memcpy(line, buf, len);
				line[len] = '\0';
			}
			memmove(buf, buf + used, have - used);
			have -= used;
			too_long |= nl == NULL;
			if (nl != NULL)
				return too_long ? -1 : 1;
			continue;
		}
		if (gen_force_quit)
			return 0;
		if (poll(&pfd, 1, SERVE_POLL_MS) <= 0)
			continue;       /* a timeout, or EINTR: look at gen_force_quit again */
		n = read(STDIN_FILENO, buf + have, sizeof(buf) - have);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			/* EOF: a last line without its newline still counts */
			if (have == 0 || too_long)
				return 0;
			memcpy(line, buf, have);
			line[have] = '\0';
			have = 0;
			return 1;
		}
		have += (size_t)n;
	}
}

/* Split a line on whitespace into argv[1..] (argv[0] = "rtpgen"); the count, or -1. */
static int serve_split(char *line, char **argv)
{
	int argc = 1;
	char *save = NULL;

	argv[0] = (char *)"rtpgen";
	for (char *t = strtok_r(line, " \t\r", &save); t != NULL; t = strtok_r(NULL, " \t\r", &save)) {
		if (argc == SERVE_MAX_ARGS - 1)
			return -1;
		argv[argc++] = t;
	}
	argv[argc] = NULL;
	return argc;
}

/* A phase's options: the command line's (base), then the line's on top, then the checks. */
static int serve_phase_opts(const struct gen_opts *base, int argc, char **argv,
		struct gen_opts *o, char *err, size_t errlen)
{
	int rc;

	*o = *base;
	o->serve = false;
	rc = opts_parse_args(argc, argv, o);
	if (rc == 1) {
		snprintf(err, errlen, "--help: only on the command line");
		return -1;
	}
	if (rc == 0 && o->serve) {
		snprintf(err, errlen, "--serve: only on the command line");
		return -1;
	}
	/* the pool was made at start, for every phase */
	if (rc == 0 && o->mbufs != base->mbufs) {
		snprintf(err, errlen, "--mbufs: only on the command line with --serve");
		return -1;
	}
	if (rc == 0)
		rc = opts_validate(o);
	if (rc != 0)
		snprintf(err, errlen, "%s", *opts_error() ? opts_error() : "bad options");
	return rc == 0 ? 0 : -1;
}

/* Run phases until EOF, "quit" or a signal; every line gets one JSON line back. */
static void serve(struct gen_ctx *ctx, const struct gen_opts *base)
{
	static char line[SERVE_LINE_MAX];
	char *argv[SERVE_MAX_ARGS];
	char err[1024];
	struct report rep;
	struct gen_opts o;
	int rc, argc;
	bool ok;

	fprintf(stderr, "rtpgen: serving on %u port(s); phases from stdin\n", ctx->n_ports);
	while (!gen_force_quit && (rc = serve_read_line(line)) != 0) {
		argc = rc < 0 ? -1 : serve_split(line, argv);
		if (argc == 2 && strcmp(argv[1], "quit") == 0)
			break;
		ok = false;
		if (argc < 0)
			snprintf(err, sizeof(err), "line too long");
		else if (argc == 1)
			snprintf(err, sizeof(err), "empty line");
		else if (serve_phase_opts(base, argc, argv, &o, err, sizeof(err)) == 0 &&
				!(ok = run_phase(ctx, &o, &rep, err, sizeof(err)) == 0))
			fprintf(stderr, "rtpgen: %s\n", err);  /* (usage errors are already there) */
		if (!ok) {
			report_print_error(stdout, err);
		} else {
			report_print_json(stdout, &rep);
		}
		fflush(stdout);
	}
}

/* The classic run: one phase, its report, exit 0 or 1. */
static int one_shot(struct gen_ctx *ctx, struct gen_opts *o)
{
	struct report rep;
	char err[1024];
	int status;

	status = run_phase(ctx, o, &rep, err, sizeof(err));
	if (status != 0)
		fprintf(stderr, "rtpgen: %s\n", err);
	/* a failed destroy after the traffic still reports the traffic */
	if (status == 0 || rep.streams != 0) {
		if (o->json)
			report_print_json(stdout, &rep);
		else
			report_print_human(stdout, &rep);
		fflush(stdout);
	}
	return status;
}

int main(int argc, char **argv)
{
	static struct gen_ctx ctx;
	struct gen_opts o;
	char err[512];
	int rc, status = 1;

	/* the gRPC client threads may run anywhere, not just on the generator's lcore */
	if (sched_getaffinity(0, sizeof(ctx.cpus), &ctx.cpus) != 0)
		CPU_ZERO(&ctx.cpus);
	rc = rte_eal_init(argc, argv);
	if (rc < 0) {
		fprintf(stderr, "rtpgen: EAL init failed: %s\n", rte_strerror(rte_errno));
		return 1;
	}
	argc -= rc;
	argv += rc;
	argv[0] = (char *)"rtpgen";
	rc = opts_parse(argc, argv, &o);
	if (rc != 0) {
		rte_eal_cleanup();
		return rc == 1 ? 0 : 2;
	}
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);

	if (ctx_open(&ctx, &o, err, sizeof(err)) != 0) {
		fprintf(stderr, "rtpgen: %s\n", err);
	} else if (o.serve) {
		serve(&ctx, &o);
		status = 0;
	} else {
		status = one_shot(&ctx, &o);
	}
	ctx_close(&ctx);
	rte_eal_cleanup();
	return status;
}
