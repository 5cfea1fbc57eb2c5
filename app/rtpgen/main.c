/*
 * rtpgen main: EAL -> options -> ports -> streams -> sessions -> warm-up and measured phases
 * on the main lcore -> sessions destroyed -> report.
 * Exit status: 0 the run completed (whatever it measured), 1 set-up or session error, 2 usage.
 */
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

static void port_stats(struct report *r, const uint16_t *ports, unsigned n)
{
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

/* While the sessions are created: answer the DUT's ARP requests for the sink. */
static void poll_while_creating(void *arg, volatile bool *done)
{
	gen_poll_until(arg, done);
}

/* The addresses rtpgen answers ARP for, and each rx port's MAC. */
static void setup_identity(struct gen_lcore *lc, struct gen_opts *o)
{
	for (unsigned i = 0; i < o->n_arp_addrs; i++) {
		lc->my_addr_where[lc->n_my_addrs] = o->arp_where[i];
		lc->my_addrs[lc->n_my_addrs++] = rte_cpu_to_be_32(o->arp_addrs[i]);
	}
	for (unsigned i = 0; i < lc->n_rx_ports; i++)
		rte_eth_macaddr_get(lc->rx_ports[i], &lc->rx_mac[i]);
	if (!o->have_src_mac)
		rte_eth_macaddr_get(o->tx_port, &o->src_mac);
	if (!o->have_dst_mac)
		memset(&o->dst_mac, 0xff, sizeof(o->dst_mac));
}

int main(int argc, char **argv)
{
	struct gen_opts o;
	struct gen_lcore *lc = NULL;
	struct rte_mempool *pool = NULL;
	struct gen_endpoint *eps = NULL;
	struct sess_totals sess;
	struct report rep;
	struct gen_phase warm = { 0 }, meas = { 0 };
	struct gen_counters warm_c = { 0 };
	uint16_t ports[GEN_MAX_PORTS];
	unsigned n_ports = 0, started = 0;
	uint64_t hz, g_base = 0;
	cpu_set_t cpus;
	char err[512];
	int socket, rc, status = 1;
	bool sessions_made = false;

	/* the gRPC client threads may run anywhere, not just on the generator's lcore */
	if (sched_getaffinity(0, sizeof(cpus), &cpus) != 0)
		CPU_ZERO(&cpus);
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
	memset(&sess, 0, sizeof(sess));
	memset(&rep, 0, sizeof(rep));
	hz = rte_get_tsc_hz();

	ports[n_ports++] = o.tx_port;
	if (o.rx_port != o.tx_port)
		ports[n_ports++] = o.rx_port;
	for (unsigned i = 0; i < n_ports; i++) {
		if (!rte_eth_dev_is_valid_port(ports[i])) {
			fprintf(stderr, "rtpgen: port %u does not exist (%u ports; add --vdev?)\n",
					ports[i], rte_eth_dev_count_avail());
			goto out;
		}
	}
	socket = rte_eth_dev_socket_id(o.tx_port);
	if (socket < 0)
		socket = (int)rte_socket_id();

	if (o.sessions_file != NULL) {
		uint32_t n;
		uint32_t max = o.streams_given ? o.streams : GEN_MAX_STREAMS;
		if (streams_read_file(o.sessions_file, max, &eps, &n, err, sizeof(err)) != 0) {
			fprintf(stderr, "rtpgen: %s\n", err);
			goto out;
		}
		if (o.streams_given && n < o.streams) {
			fprintf(stderr, "rtpgen: %s: %u endpoints, --streams %u\n", o.sessions_file,
					n, o.streams);
			goto out;
		}
		o.streams = n;
	}

	pool = rte_pktmbuf_pool_create("rtpgen_pool", o.mbufs, POOL_CACHE, 0,
			RTE_MBUF_DEFAULT_BUF_SIZE, socket);
	if (pool == NULL) {
		fprintf(stderr, "rtpgen: cannot create a pool of %u mbufs: %s\n", o.mbufs,
				rte_strerror(rte_errno));
		goto out;
	}
	for (; started < n_ports; started++) {
		if (port_setup(ports[started], pool, err, sizeof(err)) != 0) {
			fprintf(stderr, "rtpgen: %s\n", err);
			goto out;
		}
	}

	lc = rte_zmalloc_socket("rtpgen_lcore", sizeof(*lc), RTE_CACHE_LINE_SIZE, socket);
	if (lc == NULL) {
		fprintf(stderr, "rtpgen: out of memory\n");
		goto out;
	}
	lc->pool = pool;
	lc->tx_port = o.tx_port;
	lc->rx_port = o.rx_port;
	for (unsigned i = 0; i < n_ports; i++)
		lc->rx_ports[lc->n_rx_ports++] = ports[i];
	lc->pattern = o.pattern;
	lc->pattern_k = o.pattern_k;
	lc->idle_sleep_us = o.idle_sleep_us;
	/* the top bit of a marker's tag tells the measured phase from the warm-up */
	lc->run_tag = (uint32_t)(rte_rdtsc() ^ ((uint64_t)getpid() << 16)) & ~GEN_TAG_MEASURED;
	hist_reset(&lc->lat);
	setup_identity(lc, &o);
	if (streams_setup(lc, &o, eps, socket, err, sizeof(err)) != 0) {
		fprintf(stderr, "rtpgen: %s\n", err);
		goto out;
	}

	if (o.grpc_target != NULL) {
		sessions_made = true;
		if (sess_create_all(&o, lc->streams, lc->n_streams, &cpus, poll_while_creating, lc,
				&sess) != 0) {
			fprintf(stderr, "rtpgen: %s (%lu of %u sessions created)\n", sess.err,
					(unsigned long)sess.created, lc->n_streams);
			goto out;
		}
		fprintf(stderr, "rtpgen: created %lu sessions in %.3f s\n",
				(unsigned long)sess.created, sess.create_s);
	}

	wait_links(ports, n_ports, o.link_wait);
	if (o.warmup > 0 && !gen_force_quit) {
		lc->tag = lc->run_tag;
		warm = (struct gen_phase){ .tsc_limit = (uint64_t)(o.warmup * (double)hz),
				.rate = o.rate, .drain_tsc = o.drain_ms * hz / 1000 };
		gen_run_phase(lc, &warm);
		warm_c = lc->cur;
		memset(&lc->cur, 0, sizeof(lc->cur));
		streams_rx_rebase(lc);
		hist_reset(&lc->lat);
		g_base = lc->generated;
	}
	lc->tag = lc->run_tag | GEN_TAG_MEASURED;
	meas = (struct gen_phase){ .count = o.count,
			.tsc_limit = (uint64_t)(opts_time_limit(&o) * (double)hz),
			.rate = o.rate, .drain_tsc = o.drain_ms * hz / 1000 };
	if (!gen_force_quit)
		gen_run_phase(lc, &meas);

	rep.streams = lc->n_streams;
	rep.frame_len = lc->frame_len;
	rep.payload = o.payload;
	rep.stream_bytes = sizeof(struct gen_stream);
	rep.duration_s = (double)(meas.t_end_send - meas.t_start) / (double)hz;
	rep.c = lc->cur;
	rep.lost = streams_lost(lc, g_base);
	report_latency(&rep, &lc->lat, hz);
	rep.rx_other = lc->rx_other;
	rep.rx_arp = lc->rx_arp;
	rep.rx_bad = lc->rx_bad;
	rep.rx_stale = lc->rx_stale;
	rep.arp_replies = lc->arp_replies;
	rep.arp_announced = lc->arp_announced;
	rep.loop_max_gap_us = (double)lc->max_gap_tsc * 1e6 / (double)hz;
	rep.tx_nombuf = lc->tx_nombuf;
	rep.warmup_s = (double)(warm.t_end_send - warm.t_start) / (double)hz;
	rep.warmup_tx_pkts = warm_c.tx_pkts;
	rep.warmup_rx_pkts = warm_c.rx_pkts;
	port_stats(&rep, ports, n_ports);
	status = 0;

out:
	if (sessions_made && sess.created > 0) {
		if (o.keep_sessions) {
			fprintf(stderr, "rtpgen: keeping %lu sessions (%s0..)\n",
					(unsigned long)sess.created, o.session_prefix);
		} else if (sess_destroy_all(&o, &cpus, &sess) != 0) {
			fprintf(stderr, "rtpgen: destroying sessions: %s (%lu of %lu destroyed)\n",
					sess.err, (unsigned long)sess.destroyed,
					(unsigned long)sess.created);
			status = 1;
		}
		rep.sessions_created = sess.created;
		rep.creates_per_s = sess.create_s > 0 ? (double)sess.created / sess.create_s : 0;
		rep.sessions_destroyed = sess.destroyed;
		rep.destroys_per_s = sess.destroy_s > 0 ?
				(double)sess.destroyed / sess.destroy_s : 0;
		rep.have_session_stats = sess.destroyed > 0;
		rep.sess_rx_pkts = sess.rx_pkts;
		rep.sess_tx_pkts = sess.tx_pkts;
		rep.sess_dropped = sess.dropped;
		rep.sess_lost = sess.lost;
	}
	if (status == 0 || (status == 1 && lc != NULL && rep.streams != 0)) {
		if (o.json)
			report_print_json(stdout, &rep);
		else
			report_print_human(stdout, &rep);
		fflush(stdout);
	}
	for (unsigned i = 0; i < started; i++) {
		rte_eth_dev_stop(ports[i]);
		rte_eth_dev_close(ports[i]);
	}
	if (lc != NULL)
		rte_free(lc->streams);
	rte_free(lc);
	rte_mempool_free(pool);
	free(eps);
	rte_eal_cleanup();
	return status;
}
