/*
 * rtpproxy: config -> EAL -> ports -> workers on their lcores; the main lcore becomes the
 * control lcore (gRPC server, session manager, neighbour slow path) until SIGINT/SIGTERM.
 */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_lcore.h>
#include <rte_log.h>

#include "config.h"
#include "config_views.h"
#include "ctl_jobs.h"
#include "ctlq.h"
#include "events.h"
#include "exception.h"
#include "exfilter.h"
#include "log.h"
#include "grpc_srv.h"
#include "guard.h"
#include "health.h"
#include "http_srv.h"
#include "logbuf.h"
#include "metrics_src.h"
#include "rp_dp.h"
#include "reflection.h"
#include "rpc.h"
#include "rtpproxy.pb-c.h"
#include "sdnotify.h"
#include "sess.h"
#include "standby.h"
#include "state.h"
#include "state_standby.h"
#include "tcp_relay.h"
#include "telemetry.h"

#define MAX_EAL_ARGS 64
#define CONTROL_POLL_MS 10
#define SESS_TICK_MS 100        /* SESS_TICK_SLICE sessions are looked at per period... */
#define SESS_TICK_STEP 1024     /* ...this many per control-loop pass at most */
#define LOG_FLUSH_MS 10         /* log lines are at most this late (plus one poll) */
#define SHUTDOWN_BATCH 128      /* sessions closed at once: 256 events */
#define SHUTDOWN_BACKLOG 256    /* ...while no stream has more than this waiting */
#define SHUTDOWN_DRAIN_MS 5000
#define CTLQ_CAP 32             /* HTTP/telemetry requests waiting for the control loop */
#define CTLQ_PER_PASS 4         /* ...served per pass at most */
#define CTLQ_TIMEOUT_MS 2000    /* how long such a request waits to be taken */
/* Sessions a /metrics scrape reads per pass: ~1 ms of the control lcore (1 us a session,
 * measured with 100 000 by scripts/scrape_cost.py), so calls wait no longer behind it. */
#define METRICS_SESSIONS_PER_STEP 1024

static volatile sig_atomic_t quit;
static volatile sig_atomic_t reload;   /* SIGHUP: tokens re-read, audit file reopened */
static struct guard *guard;     /* the API's peer, token and audit checks */
static FILE *log_stream;        /* rte_log's, in memory: written out by the control loop */
static struct http_srv *http;   /* [http] listen: /metrics, /healthz, /, /api/ */
static struct ctlq *ctlq;       /* HTTP (and telemetry) requests for the control loop */
static struct ctl_jobs jobs;    /* what ctlq requests run on the control loop */
static struct state *state_store;       /* [state] backend = redis (1.6), else NULL */
static struct state_standby *standby;   /* [state] lease and mirror; NULL without a backend */

static void on_signal(int sig)
{
	(void)sig;
	quit = 1;
}

/* The reload itself reads files and logs: the control loop does it, not the handler. */
static void on_sighup(int sig)
{
	(void)sig;
	reload = 1;
}

/*
 * net_tap learns of kernel -> TAP packets by a signal (SIGIO or a real-time one) directed at
 * the process. Left to the control thread, each one interrupts grpc's epoll_wait, which restarts
 * its full timeout: under TCP load the control loop then never got past grpc_srv_poll. Block
 * them here, after rte_eal_init (the worker lcores already run with them unblocked and take
 * them) and before grpc starts its threads (which inherit this mask). rtpproxy itself uses none.
 */
static void keep_tap_signals_off_control(void)
{
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGIO);
	for (int sig = SIGRTMIN; sig <= SIGRTMAX; sig++)
		sigaddset(&set, sig);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
}

/*
 * Session lifecycle logging at INFO is a few lines per CreateSession: written one write(2)
 * each, they cost the control lcore more than the session itself. rte_log goes to an
 * in-memory stream instead (logbuf.c), written out every LOG_FLUSH_MS by the control loop
 * (not every pass: under RPC load a pass is a call or two) and at exit.
 */
static void buffer_log(void)
{
	int fd = dup(STDERR_FILENO);
	FILE *f = fd >= 0 ? logbuf_open(fd) : NULL;
	if (f == NULL) {
		if (fd >= 0)
			close(fd);
		log_stream = stderr;
		return;
	}
	rte_openlog_stream(f);
	log_stream = f;
}

/* Hand the buffered log lines to the kernel. */
static void flush_log(void)
{
	fflush(log_stream);
	logbuf_flush();
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: rtpproxy -c FILE [--log-level LEVEL]\n"
		"       rtpproxy [EAL args] -- -c FILE [--log-level LEVEL]\n"
		"  -c, --config FILE     configuration (INI); EAL args come from its [eal] args\n"
		"                        unless given before --\n"
		"  --log-level LEVEL     error, warning, notice, info or debug (default: info,\n"
		"                        or the RTPPROXY_LOG environment variable)\n"
		"  -h, --help            this text\n"
		"  -V, --version         the version\n");
}

static int log_level_of(const char *s)
{
	static const struct { const char *name; int level; } levels[] = {
		{ "error", RTE_LOG_ERR }, { "warning", RTE_LOG_WARNING },
		{ "notice", RTE_LOG_NOTICE }, { "info", RTE_LOG_INFO }, { "debug", RTE_LOG_DEBUG },
	};
	for (size_t i = 0; i < RTE_DIM(levels); i++)
		if (strcasecmp(s, levels[i].name) == 0)
			return levels[i].level;
	return -1;
}

struct options {
	const char *config;
	int log_level;
};

/* Our own options (after "--", or all of argv when there is no "--"). */
static int parse_options(int argc, char **argv, struct options *o)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "log-level", required_argument, NULL, 'L' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ 0 },
	};
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "c:hV", longopts, NULL)) != -1) {
		switch (c) {
		case 'c':
			o->config = optarg;
			break;
		case 'L':
			o->log_level = log_level_of(optarg);
			if (o->log_level < 0) {
				fprintf(stderr, "rtpproxy: --log-level: expected error, warning, "
						"notice, info or debug, got \"%s\"\n", optarg);
				return 2;
			}
			break;
		case 'h':
			usage(stdout);
			return 1;
		case 'V':
			printf("rtpproxy %s\n", RTPPROXY_VERSION);
			return 1;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "rtpproxy: unexpected argument \"%s\"\n", argv[optind]);
		return 2;
	}
	if (o->config == NULL) {
		fprintf(stderr, "rtpproxy: -c FILE is required\n");
		usage(stderr);
		return 2;
	}
	return 0;
}

/* Split [eal] args on white space into argv[1..]; argv[0] is the program name. */
static int split_eal_args(char *args, char *prog, char **argv)
{
	int n = 0;
	argv[n++] = prog;
	for (char *tok = strtok(args, " \t"); tok != NULL; tok = strtok(NULL, " \t")) {
		if (n == MAX_EAL_ARGS - 1)
			return -1;
		argv[n++] = tok;
	}
	argv[n] = NULL;
	return n;
}

static int fail(const char *what, const char *err)
{
	RTE_LOG(ERR, APP, "%s: %s\n", what, err);
	return -1;
}

/*
 * The session timers: SESS_TICK_SLICE sessions every SESS_TICK_MS, in steps of SESS_TICK_STEP
 * over as many control-loop passes. With 100 000 sessions a whole slice took ~1 ms, which
 * every call arriving meanwhile waited for; a step is an eighth of that.
 */
struct tick_pace {
	int64_t last;
	unsigned budget;            /* sessions left for this period */
};

static void tick_sessions(struct sess_mgr *sm, struct tick_pace *tp, int64_t now)
{
	if (now - tp->last >= SESS_TICK_MS || now < tp->last) {
		tp->last = now;
		tp->budget = SESS_TICK_SLICE;
	}
	if (tp->budget == 0)
		return;
	unsigned step = RTE_MIN(tp->budget, (unsigned)SESS_TICK_STEP);
	unsigned n = sess_tick_some(sm, now, step);
	tp->budget = n < step ? 0 : tp->budget - n;     /* fewer: every session was seen */
}

/* Whether every worker has been round its loop at least once (its ports are up by then). */
static bool workers_polling(const struct dp *dp)
{
	static struct dp_stats st;      /* large: not on the stack */
	dp_stats_read(dp, &st);
	for (unsigned w = 0; w < st.n_workers; w++)
		if (st.worker[w].iterations == 0)
			return false;
	return true;
}

/*
 * Start-up is over: every port is up and every worker polls. Health turns SERVING here, and
 * only here (a service manager's readiness notification belongs next to it).
 */
static void announce_serving(void)
{
	health_set(HEALTH_SERVING);
	RTE_LOG(INFO, APP, "serving\n");
	/* systemd (Type=notify): the service is started now */
	if (sdnotify("READY=1") < 0)
		RTE_LOG(WARNING, APP, "READY=1 to $NOTIFY_SOCKET: %s\n", strerror(errno));
}

/* The control lcore: serve gRPC, run the slow path and the session timers until told to stop. */
static void control_loop(struct grpc_srv *srv, struct dp *dp, struct sess_mgr *sm,
		struct events *ev)
{
	struct tick_pace tp = { 0 };
	int64_t last_flush = 0;
	bool serving = false;
	while (!quit) {
		/* a scrape in steps goes on at once, not after an idle poll */
		grpc_srv_poll(srv, ctlq_pending(ctlq) ||
				(state_store != NULL && state_busy(state_store)) ? 0 : CONTROL_POLL_MS);
		/* with a state backend: once the stored sessions are back (or given up on) */
		if (!serving && workers_polling(dp) &&
				(state_store == NULL || state_ready(state_store))) {
			serving = true;
			announce_serving();
		}
		if (reload) {
			reload = 0;
			guard_reload(guard);
			char herr[256];
			if (http_srv_reload_tokens(http, herr, sizeof(herr)) != 0)
				RTE_LOG(ERR, APP, "[http] kept the old tokens: %s\n", herr);
		}
		ctlq_serve(ctlq, CTLQ_PER_PASS, ctl_jobs_serve, &jobs);
		int64_t now = sess_now_ms();
		if (now - last_flush >= LOG_FLUSH_MS || now < last_flush) {
			last_flush = now;
			flush_log();
		}
		dp_poll(dp);
		sess_tcp_poll(sm);
		if (standby != NULL)
			state_standby_poll(standby, now);
		/* a standby's sessions are the active's: their timers run there */
		if (standby == NULL || state_standby_relaying(standby))
			tick_sessions(sm, &tp, now);
		if (state_store != NULL)
			state_poll(state_store, now);
		events_tick(ev, now);   /* events: snapshots and StatsUpdates due */
		sdnotify_watchdog(now); /* systemd's WatchdogSec: proof the loop still turns */
	}
}

/*
 * Close every session for shutdown in batches, letting the event streams drain in between,
 * so that each stream gets every session's closing events (a stream queue holds
 * stream_queue; a batch is 2 events a session, and backlog + batch stays within it). A
 * client that does not read holds shutdown back for SHUTDOWN_DRAIN_MS at most.
 */
static void close_sessions_paced(struct sess_mgr *sm, struct grpc_srv *srv, struct events *ev,
		unsigned stream_queue)
{
	int64_t deadline = sess_now_ms() + SHUTDOWN_DRAIN_MS;
	unsigned batch = RTE_MAX(1u, RTE_MIN((unsigned)SHUTDOWN_BATCH, stream_queue / 4));
	unsigned backlog = RTE_MIN((unsigned)SHUTDOWN_BACKLOG, stream_queue / 2);
	while (sess_close_some(sm, "shutdown", batch) > 0)
		while (srv != NULL && ev != NULL && events_backlog(ev) > backlog &&
				sess_now_ms() < deadline)
			grpc_srv_poll(srv, 5);
}

/* Set net.KEY of this network namespace ("ipv4/tcp_tw_reuse"). 0 or -1 (errno set). */
static int set_sysctl(const char *key, const char *value)
{
	char path[128];
	snprintf(path, sizeof(path), "/proc/sys/net/%s", key);
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ssize_t n = write(fd, value, strlen(value));
	int saved = errno;
	close(fd);
	errno = saved;
	return n == (ssize_t)strlen(value) ? 0 : -1;
}

/* The TCP relay's log lines (syslog levels) into rte_log (whose levels are one above). */
static void tcp_log(int level, const char *msg)
{
	rte_log((uint32_t)level + 1, RTE_LOGTYPE_SESS, "SESS: tcp: %s\n", msg);
}

/* The API's gatekeeper from [grpc] tokens_file/allowed_peers and [audit] file. */
static struct guard *guard_from(const struct config *cfg, char *err, size_t errlen)
{
	struct auth_net nets[CONFIG_MAX_PEERS];
	for (unsigned i = 0; i < cfg->n_allowed_peers; i++) {
		nets[i].family = cfg->allowed_peers[i].family;
		memcpy(nets[i].addr, cfg->allowed_peers[i].addr, sizeof(nets[i].addr));
		nets[i].len = cfg->allowed_peers[i].len;
	}
	struct guard_config gc = {
		.tokens_file = cfg->tokens_file,
		.peers = nets,
		.n_peers = cfg->n_allowed_peers,
		.audit_file = cfg->audit_file,
	};
	return guard_create(&gc, err, errlen);
}

/* For the RPCs: a standby changes no session. */
static bool standing_by(void *arg)
{
	(void)arg;              /* the global: NULL once it has stopped at shutdown */
	return standby != NULL && !state_standby_relaying(standby);
}

/* [http] listen: the server on its own threads, asking the control loop through ctlq. */
static int start_http(const struct config *cfg, char *err, size_t errlen)
{
	struct sockaddr_storage ss;
	unsigned len;

	if (config_parse_hostport(cfg->http_listen, &ss, &len) != 0) {
		snprintf(err, errlen, "listen: \"%s\" is not IPv4:port or [IPv6]:port",
				cfg->http_listen);
		return -1;
	}
	struct http_srv_config hc = {
		.listen = cfg->http_listen, .addr = (struct sockaddr *)&ss,
		.tokens_file = cfg->tokens_file, .q = ctlq, .timeout_ms = CTLQ_TIMEOUT_MS,
	};
	http = http_srv_start(&hc, err, errlen);
	if (http == NULL)
		return -1;
	RTE_LOG(INFO, APP, "HTTP (/metrics, /healthz, /) on %s\n", cfg->http_listen);
	return 0;
}

static int run(const struct config *cfg)
{
	static struct dp_conf dc;
	struct dp *dp = NULL;
	struct sess_mgr *sm = NULL;
	struct grpc_srv *srv = NULL;
	struct events *ev = NULL;       /* events: StreamSessionEvents subscribers */
	struct tcp_relay *tcp = NULL;
	struct metrics_src *msrc = NULL;   /* counters for /metrics kept as things happen */
	struct exfilter *exf = NULL;    /* table inet rtpproxy: before any TAP exists */
	struct reflection *refl = NULL; /* server reflection over the embedded .proto set */
	struct sess_config sc;
	char err[512];
	int rc = 1, bound;

	exf = exception_filter_start(cfg);
	if (exf == NULL)
		goto out;
	standby = standby_start(cfg, err, sizeof(err));
	if (standby == NULL && err[0] != '\0') {
		fail("[state]", err);
		goto out;
	}
	dp_conf_from(&dc, cfg);
	dc.passive = standby != NULL && !state_standby_relaying(standby);
	dp = dp_create(&dc, err, sizeof(err));
	if (dp == NULL) {
		RTE_LOG(ERR, APP, "%s\n", err);       /* it names the port or the key */
		goto out;
	}
	sess_config_from(&sc, cfg);
	sm = sess_mgr_create(dp, &sc, err, sizeof(err));
	if (sm == NULL) {
		fail("sessions", err);
		goto out;
	}
	struct tcp_relay_config tc = {
		.connect_timeout_ms = cfg->tcp_connect_timeout_ms,
		.buffer_bytes = (size_t)cfg->tcp_buffer_kib * 1024,
		.max_connections = cfg->tcp_max_connections,
		.max_conns_per_session = cfg->tcp_max_conns_per_session,
	};
	/* a fixed forward port reconnects from the same address:port: let TIME_WAIT be reused */
	if (set_sysctl("ipv4/tcp_tw_reuse", "1") != 0)
		RTE_LOG(WARNING, APP, "cannot set net.ipv4.tcp_tw_reuse: %s\n", strerror(errno));
	tcp_relay_set_log(tcp_log);
	tcp = tcp_relay_start(&tc, err, sizeof(err));
	if (tcp == NULL) {
		fail("[tcp]", err);
		goto out;
	}
	sess_set_tcp_relay(sm, tcp);
	struct rpc_ctx ctx = { .sessions = sm, .dp = dp, .started_ms = sess_now_ms() };
	/* events: subscribers, told of every session change by the session manager */
	ev = events_create(&ctx);
	if (ev == NULL) {
		fail("events", "out of memory");
		goto out;
	}
	events_set_limits(ev, cfg->max_streams, cfg->stream_queue);
	exception_attach(exf, sm, &ctx);
	struct sess_observer obs;
	events_observer(ev, &obs);
	msrc = metrics_src_create(&ctx, tcp);
	ctlq = ctlq_create(CTLQ_CAP);
	if (msrc == NULL || ctlq == NULL) {
		fail("metrics", "out of memory");
		goto out;
	}
	metrics_src_observe(msrc, &obs);
	if (cfg->state_redis) {
		state_store = state_start(cfg, standby, sm, dp, ev, err, sizeof(err));
		if (state_store == NULL) {
			fail("[state]", err);
			goto out;
		}
		state_observe(state_store, &obs);
		ctx.state = state_store;
	}
	sess_set_observer(sm, &obs);
	ctx.standing_by = standing_by;
	if (standby_attach(standby, state_store, dp, sm, ev, err, sizeof(err)) != 0) {
		fail("[state]", err);
		goto out;
	}
	jobs = (struct ctl_jobs){ .rpc = &ctx, .metrics = msrc,
		.sessions_per_step = METRICS_SESSIONS_PER_STEP };
	if (telemetry_start(ctlq, CTLQ_TIMEOUT_MS) != 0)
		RTE_LOG(WARNING, APP, "telemetry: the /rtpproxy/ commands were not registered\n");
	guard = guard_from(cfg, err, sizeof(err));
	if (guard == NULL) {
		fail("[grpc]", err);
		goto out;
	}
	struct grpc_srv_opts so = {
		.tls_cert = cfg->tls_cert, .tls_key = cfg->tls_key,
		.tls_client_ca = cfg->tls_client_ca,
		.max_message_bytes = (int)cfg->max_message_bytes,
		.hooks = metrics_src_hooks(msrc, guard_hooks(guard)),
	};
	refl = reflection_create(err, sizeof(err));
	if (refl == NULL) {
		fail("reflection", err);
		goto out;
	}
	/* RtpProxy and, on the same port, the standard health and reflection services */
	const struct grpc_srv_service services[] = {
		{ .svc = &rtpproxy__rtp_proxy__descriptor, .methods = rpc_methods, .ctx = &ctx },
		health_service(),
		reflection_service_v1alpha(refl),
		reflection_service_v1(refl),
	};
	srv = grpc_srv_start_services(cfg->grpc_listen, services, RTE_DIM(services), &so, &bound,
			err, sizeof(err));
	if (srv == NULL) {
		fail("gRPC server", err);      /* err names the key: listen, tls_cert, tls_key... */
		goto out;
	}
	if (cfg->http_listen[0] != '\0' && start_http(cfg, err, sizeof(err)) != 0) {
		fail("[http]", err);
		goto out;
	}
	if (dp_start(dp, err, sizeof(err)) != 0) {
		fail("workers", err);
		goto out;
	}
	RTE_LOG(INFO, APP, "rtpproxy %s: %u port(s), %u worker(s), gRPC on %s\n",
			RTPPROXY_VERSION, dp_n_ports(dp), cfg->workers, cfg->grpc_listen);

	control_loop(srv, dp, sm, ev);
	health_set(HEALTH_STOPPING);    /* first: probes and Watch streams hear it at once */
	RTE_LOG(INFO, APP, "shutting down\n");
	sdnotify("STOPPING=1");
	rc = 0;
out:
	ctlq_close(ctlq);       /* HTTP requests waiting fail now: the loop serves no more */
	telemetry_stop();       /* the commands answer null from now on */
	/* a last checkpoint; closing them below is a shutdown, not a destroy: keys stay */
	state_shutdown(state_store);
	/* then the lease goes (a standby takes over at once); a standby's mirrored sessions
	 * leave quietly: they are the active's, not ours to close */
	state_standby_stop(standby, true);
	standby = NULL;
	/* sessions end first, so every event stream sees their "shutdown" before it ends */
	if (sm != NULL)
		close_sessions_paced(sm, srv, ev, cfg->stream_queue);
	if (srv != NULL)
		grpc_srv_stop(srv);
	http_srv_stop(http);    /* /healthz said 503 (STOPPING) while the sessions closed */
	http = NULL;
	events_free(ev);        /* events: after every stream has ended */
	if (sm != NULL)
		sess_set_tcp_relay(sm, NULL);
	tcp_relay_stop(tcp);    /* every TCP session was closed above */
	if (dp != NULL)
		dp_stop(dp);
	sess_mgr_free(sm);
	state_free(state_store);        /* after the sessions: it observed them to the end */
	state_store = NULL;
	guard_free(guard);
	ctlq_free(ctlq);
	ctlq = NULL;
	metrics_src_free(msrc);
	reflection_free(refl);
	dp_destroy(dp);
	exfilter_stop(exf);     /* after the TAPs are gone */
	return rc;
}

int main(int argc, char **argv)
{
	struct options o = { .log_level = -1 };
	static struct config cfg;
	char *eal_argv[MAX_EAL_ARGS];
	int eal_argc = 0, sep = -1, ret;
	char err[1024];

	for (int i = 1; i < argc; i++)
		if (strcmp(argv[i], "--") == 0) {
			sep = i;
			break;
		}
	/* our options: after "--" when it is there, else the whole command line */
	int our_argc = sep < 0 ? argc : argc - sep;
	char **our_argv = sep < 0 ? argv : argv + sep;
	if (sep >= 0)
		our_argv[0] = argv[0];
	ret = parse_options(our_argc, our_argv, &o);
	if (ret != 0)
		return ret == 1 ? 0 : ret;

	if (config_load(o.config, &cfg, err, sizeof(err)) != 0) {
		fprintf(stderr, "rtpproxy: %s\n", err);
		return 1;
	}
	if (sep >= 0) {
		eal_argc = sep;
		memcpy(eal_argv, argv, sizeof(char *) * (size_t)sep);
		eal_argv[sep] = NULL;
	} else {
		eal_argc = split_eal_args(cfg.eal_args, argv[0], eal_argv);
		if (eal_argc < 0) {
			fprintf(stderr, "rtpproxy: %s: [eal] args: more than %d arguments\n",
					o.config, MAX_EAL_ARGS - 2);
			return 1;
		}
	}

	if (o.log_level < 0 && getenv("RTPPROXY_LOG") != NULL) {
		o.log_level = log_level_of(getenv("RTPPROXY_LOG"));
		if (o.log_level < 0) {
			fprintf(stderr, "rtpproxy: RTPPROXY_LOG: expected error, warning, notice, "
					"info or debug, got \"%s\"\n", getenv("RTPPROXY_LOG"));
			return 2;
		}
	}
	ret = rte_eal_init(eal_argc, eal_argv);
	if (ret < 0) {
		fprintf(stderr, "rtpproxy: EAL init failed: %s\n", rte_strerror(rte_errno));
		return 1;
	}
	/* the level applies to rtpproxy's own log types; DPDK's stay at INFO or below */
	uint32_t level = o.log_level < 0 ? (uint32_t)RTE_LOG_INFO : (uint32_t)o.log_level;
	rte_log_set_global_level(level);
	if (level > RTE_LOG_INFO)
		rte_log_set_level_pattern("*", RTE_LOG_INFO);
	rte_log_set_level_pattern("rtpproxy.*", level);

	struct sigaction sa = { .sa_handler = on_signal };
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	struct sigaction hup = { .sa_handler = on_sighup };
	sigaction(SIGHUP, &hup, NULL);
	signal(SIGPIPE, SIG_IGN);       /* a peer gone mid-write is an error return, not death */
	keep_tap_signals_off_control();
	buffer_log();

	ret = run(&cfg);
	flush_log();
	rte_eal_cleanup();
	return ret;
}
