/*
 * The control-plane benchmark: --concurrency calls in flight, kept going by --threads client
 * threads (each on its own channel), create --sessions UDP sessions (static ports: --port-base
 * + 2i on the --listen addresses in turn), timing every call; then destroy them the same way
 * (unless --keep). Reports sessions/s and latency percentiles. Bounded: every call has a
 * deadline and the run stops at the first --max-errors failures.
 *
 * One thread with several calls in flight, not a thread per call: on a small machine the
 * client shares the cores with the server, and a thread per call spent more cpu per call on
 * grpc's cross-thread wake-ups than the server spent on the whole call.
 */
#include "ctl_bench.h"

#include <getopt.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "rpc_client.h"
#include "rtpproxy.pb-c.h"

#define BENCH_MAX_ADDRS 16
#define BENCH_DEADLINE_MS 10000

struct bench {
	const char *server;
	const struct rpc_client_opts *copts;    /* TLS and token, as for the other commands */
	unsigned sessions, concurrency, threads, max_errors;
	char *listen[BENCH_MAX_ADDRS];
	unsigned n_listen;
	const char *forward, *dest;
	unsigned dest_port, port_base;
	bool keep;
	const char *prefix;
	/* results, per call (ms), indexed by session */
	double *create_ms, *destroy_ms;
	unsigned errors;
	pthread_mutex_t lock;
	char first_error[600];
};

struct worker_arg {
	struct bench *b;
	unsigned first, step;       /* sessions first, first + step, ... */
	unsigned inflight;          /* calls this thread keeps going */
	bool destroy;
};

/* A call in flight: which session, since when. */
struct slot {
	unsigned i;
	double t0;
};

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void note_error(struct bench *b, const struct rpc_status *st)
{
	pthread_mutex_lock(&b->lock);
	if (b->errors++ == 0)
		snprintf(b->first_error, sizeof(b->first_error), "%.32s: %.512s",
				rpc_status_name(st->code), st->message);
	pthread_mutex_unlock(&b->lock);
}

static struct rpc_call *start_create(struct bench *b, struct rpc_client *c, struct slot *sl,
		struct rpc_status *st)
{
	Rtpproxy__CreateSessionRequest req = RTPPROXY__CREATE_SESSION_REQUEST__INIT;
	Rtpproxy__Endpoint l = RTPPROXY__ENDPOINT__INIT, f = RTPPROXY__ENDPOINT__INIT;
	Rtpproxy__Endpoint d = RTPPROXY__ENDPOINT__INIT;
	char id[64];
	unsigned i = sl->i, slot = i / b->n_listen;

	snprintf(id, sizeof(id), "%s-%u", b->prefix, i);
	req.session_id = id;
	l.address = b->listen[i % b->n_listen];
	l.port = b->port_base + 2 * slot;
	f.address = (char *)b->forward;
	f.port = b->port_base + 2 * i;
	d.address = (char *)b->dest;
	d.port = b->dest_port;
	req.listen_endpoint = &l;
	req.forward_endpoint = &f;
	req.destination_endpoint = &d;
	return rpc_call_start(c, "/rtpproxy.RtpProxy/CreateSession", &req.base,
			&rtpproxy__create_session_response__descriptor, sl, st, BENCH_DEADLINE_MS);
}

static struct rpc_call *start_destroy(struct bench *b, struct rpc_client *c, struct slot *sl,
		struct rpc_status *st)
{
	Rtpproxy__DestroySessionRequest req = RTPPROXY__DESTROY_SESSION_REQUEST__INIT;
	char id[64];

	snprintf(id, sizeof(id), "%s-%u", b->prefix, sl->i);
	req.session_id = id;
	return rpc_call_start(c, "/rtpproxy.RtpProxy/DestroySession", &req.base,
			&rtpproxy__destroy_session_response__descriptor, sl, st, BENCH_DEADLINE_MS);
}

static bool too_many_errors(struct bench *b)
{
	return __atomic_load_n(&b->errors, __ATOMIC_RELAXED) >= b->max_errors;
}

/* Start the call for the thread's next session in slot sl; false when there is none left. */
static bool start_next(struct worker_arg *a, struct rpc_client *c, struct slot *sl,
		unsigned *next)
{
	struct bench *b = a->b;

	while (*next < b->sessions && !too_many_errors(b)) {
		struct rpc_status st;
		sl->i = *next;
		*next += a->step;
		sl->t0 = now_ms();
		if ((a->destroy ? start_destroy(b, c, sl, &st) : start_create(b, c, sl, &st)) != NULL)
			return true;
		note_error(b, &st);     /* not started: its time stays -1 */
	}
	return false;
}

/* Record a finished call's time (-1: failed). */
static void finish(struct worker_arg *a, const struct slot *sl, const struct rpc_status *st)
{
	struct bench *b = a->b;
	double dt = now_ms() - sl->t0;

	(a->destroy ? b->destroy_ms : b->create_ms)[sl->i] = st->code == GRPC_STATUS_OK ? dt : -1;
	if (st->code != GRPC_STATUS_OK)
		note_error(b, st);
}

static void *run_worker(void *p)
{
	struct worker_arg *a = p;
	struct bench *b = a->b;
	char err[256];
	struct rpc_client *c = rpc_client_connect_opts(b->server, b->copts, err, sizeof(err));
	struct slot *slots = calloc(a->inflight, sizeof(*slots));
	unsigned next = a->first, busy = 0;

	if (c == NULL || slots == NULL) {
		struct rpc_status st = { .code = GRPC_STATUS_UNAVAILABLE };
		snprintf(st.message, sizeof(st.message), "%s", c == NULL ? err : "out of memory");
		note_error(b, &st);
		rpc_client_close(c);
		free(slots);
		return NULL;
	}
	for (unsigned k = 0; k < a->inflight; k++)
		busy += start_next(a, c, &slots[k], &next);
	while (busy > 0) {
		struct rpc_status st;
		ProtobufCMessage *resp;
		struct slot *sl = rpc_call_next(c, &resp, &st);
		if (sl == NULL)
			break;      /* the cq is shut down: cannot happen while calls are in flight */
		if (resp != NULL)
			protobuf_c_message_free_unpacked(resp, NULL);
		finish(a, sl, &st);
		busy--;
		busy += start_next(a, c, sl, &next);
	}
	rpc_client_close(c);
	free(slots);
	return NULL;
}

/* Run one phase on every thread; returns its wall time in ms. */
static double phase(struct bench *b, bool destroy)
{
	unsigned n = b->threads;
	pthread_t th[n];
	struct worker_arg args[n];
	double t0 = now_ms();

	for (unsigned w = 0; w < n; w++) {
		args[w] = (struct worker_arg){ .b = b, .first = w, .step = n,
			.inflight = b->concurrency / n + (w < b->concurrency % n), .destroy = destroy };
		pthread_create(&th[w], NULL, run_worker, &args[w]);
	}
	for (unsigned w = 0; w < n; w++)
		pthread_join(th[w], NULL);
	return now_ms() - t0;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

struct summary {
	unsigned ok;
	double per_s, p50, p99, max;
};

static struct summary summarize(const double *ms, unsigned n, double wall_ms)
{
	struct summary s = { 0 };
	double *v = malloc(sizeof(*v) * (n ? n : 1));
	for (unsigned i = 0; i < n; i++)
		if (ms[i] >= 0)
			v[s.ok++] = ms[i];
	qsort(v, s.ok, sizeof(*v), cmp_double);
	if (s.ok > 0) {
		s.p50 = v[(s.ok - 1) / 2];
		s.p99 = v[(size_t)ceil(0.99 * s.ok) - 1];
		s.max = v[s.ok - 1];
	}
	s.per_s = wall_ms > 0 ? s.ok * 1000.0 / wall_ms : 0;
	free(v);
	return s;
}

static int usage(const char *msg)
{
	fprintf(stderr, "rtpproxyctl: bench: %s\n"
		"usage: rtpproxyctl [--server S] [--json] bench [--sessions N] [--concurrency C]\n"
		"       [--threads T] [--listen A[,A...]] [--forward A] [--destination A:P]\n"
		"       [--port-base P] [--prefix ID] [--keep] [--max-errors N]\n"
		"  --concurrency C  calls in flight (default 8)\n"
		"  --threads T      client threads sharing them, one channel each (default 1)\n", msg);
	return 2;
}

static bool parse_uint(const char *s, unsigned lo, unsigned hi, unsigned *out)
{
	char *end;
	unsigned long v = strtoul(s, &end, 10);
	if (*s == '\0' || *end != '\0' || v < lo || v > hi)
		return false;
	*out = (unsigned)v;
	return true;
}

static int parse_args(struct bench *b, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "sessions", required_argument, NULL, 'n' },
		{ "concurrency", required_argument, NULL, 'c' },
		{ "threads", required_argument, NULL, 't' },
		{ "listen", required_argument, NULL, 'l' },
		{ "forward", required_argument, NULL, 'f' },
		{ "destination", required_argument, NULL, 'd' },
		{ "port-base", required_argument, NULL, 'p' },
		{ "prefix", required_argument, NULL, 'x' },
		{ "keep", no_argument, NULL, 'k' },
		{ "max-errors", required_argument, NULL, 'e' },
		{ NULL, 0, NULL, 0 },
	};
	static char dest[64];
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'n':
			if (!parse_uint(optarg, 1, 10000000, &b->sessions))
				return usage("--sessions: expected 1..10000000");
			break;
		case 'c':
			if (!parse_uint(optarg, 1, 256, &b->concurrency))
				return usage("--concurrency: expected 1..256");
			break;
		case 't':
			if (!parse_uint(optarg, 1, 256, &b->threads))
				return usage("--threads: expected 1..256");
			break;
		case 'l':
			b->n_listen = 0;
			for (char *t = strtok(optarg, ","); t != NULL && b->n_listen < BENCH_MAX_ADDRS;
					t = strtok(NULL, ","))
				b->listen[b->n_listen++] = t;
			if (b->n_listen == 0)
				return usage("--listen: expected addresses, comma separated");
			break;
		case 'f':
			b->forward = optarg;
			break;
		case 'd': {
			char *colon = strrchr(optarg, ':');
			if (colon == NULL || !parse_uint(colon + 1, 1, 65535, &b->dest_port) ||
					(size_t)(colon - optarg) >= sizeof(dest))
				return usage("--destination: expected ADDRESS:PORT");
			memcpy(dest, optarg, (size_t)(colon - optarg));
			dest[colon - optarg] = '\0';
			b->dest = dest;
			break;
		}
		case 'p':
			if (!parse_uint(optarg, 1, 65534, &b->port_base))
				return usage("--port-base: expected 1..65534");
			break;
		case 'x':
			b->prefix = optarg;
			break;
		case 'k':
			b->keep = true;
			break;
		case 'e':
			if (!parse_uint(optarg, 1, 1000000, &b->max_errors))
				return usage("--max-errors: expected 1..1000000");
			break;
		default:
			return usage("unknown option");
		}
	}
	if (optind < argc)
		return usage("unexpected argument");
	if (b->threads > b->concurrency)
		return usage("--threads: at most --concurrency (every thread keeps a call going)");
	unsigned per_addr = (b->sessions + b->n_listen - 1) / b->n_listen;
	if (b->port_base + 2ULL * per_addr > 65535 || b->port_base + 2ULL * b->sessions > 65535)
		return usage("too many sessions for the port range from --port-base (add --listen "
				"addresses, or a lower --port-base)");
	return 0;
}

static void print_summary(const char *what, const struct summary *s, bool json, bool last)
{
	if (json)
		printf("\"%ss_per_s\": %.1f, \"%s_p50_ms\": %.3f, \"%s_p99_ms\": %.3f, "
				"\"%s_max_ms\": %.3f, \"%s_ok\": %u%s", what, s->per_s, what, s->p50,
				what, s->p99, what, s->max, what, s->ok, last ? "" : ", ");
	else
		printf("%-8s %u ok, %.0f/s, latency p50 %.3f ms, p99 %.3f ms, max %.3f ms\n",
				what, s->ok, s->per_s, s->p50, s->p99, s->max);
}

int ctl_bench(const char *server, const struct rpc_client_opts *copts, bool json, int argc,
		char **argv)
{
	static char default_listen[] = "198.18.1.1";
	struct bench b = {
		.server = server, .copts = copts, .sessions = 10000, .concurrency = 8, .threads = 1, .max_errors = 10,
		.listen = { default_listen }, .n_listen = 1, .forward = "198.18.2.1",
		.dest = "198.18.2.2", .dest_port = 40000, .port_base = 10000, .prefix = "bench",
		.lock = PTHREAD_MUTEX_INITIALIZER,
	};
	int rc = parse_args(&b, argc, argv);
	if (rc != 0)
		return rc;
	b.create_ms = calloc(b.sessions, sizeof(double));
	b.destroy_ms = calloc(b.sessions, sizeof(double));
	for (unsigned i = 0; i < b.sessions; i++)
		b.create_ms[i] = b.destroy_ms[i] = -1;

	double wall = phase(&b, false);
	struct summary cs = summarize(b.create_ms, b.sessions, wall);
	struct summary ds = { 0 };
	if (!b.keep) {
		wall = phase(&b, true);
		ds = summarize(b.destroy_ms, b.sessions, wall);
	}
	if (json) {
		printf("{\"sessions\": %u, \"concurrency\": %u, \"threads\": %u, ", b.sessions,
				b.concurrency, b.threads);
		print_summary("create", &cs, true, false);
		print_summary("destroy", &ds, true, false);
		printf("\"errors\": %u}\n", b.errors);
	} else {
		printf("%u sessions, %u calls in flight, %u threads\n", b.sessions, b.concurrency,
				b.threads);
		print_summary("create", &cs, false, false);
		if (!b.keep)
			print_summary("destroy", &ds, false, true);
		printf("errors   %u%s%s\n", b.errors, b.errors ? ", first: " : "", b.first_error);
	}
	free(b.create_ms);
	free(b.destroy_ms);
	return b.errors ? 1 : 0;
}
