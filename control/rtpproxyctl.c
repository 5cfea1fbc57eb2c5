/*
 * rtpproxyctl: the operator client of the rtpproxy gRPC API (API.md section 3).
 * Exit status: 0 success, 1 the call failed (gRPC status), 2 usage error.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <grpc/grpc.h>

#include "pb_json.h"
#include "ctl_bench.h"
#include "rpc_client.h"
#include "rtpproxy.pb-c.h"

#define DEFAULT_SERVER "127.0.0.1:50051"
#define DEFAULT_TIMEOUT_MS 5000
#define WATCH_TICK_MS 200           /* how often watch looks at SIGINT while idle */
#define METHOD(name) "/rtpproxy.RtpProxy/" name

#define EXIT_RPC 1
#define EXIT_USAGE 2

struct ctl {
	const char *server;
	bool json;
	int timeout_ms;
	struct rpc_client *client;
	struct rpc_client_opts copts;   /* --tls-*, and the token of --token-file/RTPPROXY_TOKEN */
	const char *token_file;
	char token[300];
};

/* Key=value pairs collected from repeated options, as string-map entries of one type. */
struct kv_list {
	size_t n;
	ProtobufCMessage **entries;
};

static volatile sig_atomic_t interrupted;

static const char usage_text[] =
"Usage: rtpproxyctl [--server HOST:PORT] [--json] [--timeout MS]\n"
"                   [--tls-ca FILE [--tls-cert FILE --tls-key FILE]] [--token-file FILE]\n"
"                   COMMAND [ARGS]\n"
"\n"
"Commands:\n"
"  create --listen ADDR:PORT --forward ADDR:PORT --destination ADDR:PORT\n"
"         [--id ID] [--tcp] [--rtcp] [--bidirectional] [--idle-timeout S]\n"
"         [--rate-pps N] [--rate-bps N] [--validate-rtp] [--label K=V ...]\n"
"         [--latch-mode ssrc|first|any] [--strict-source]\n"
"  destroy ID\n"
"  get ID\n"
"  list [--state S ...] [--transport udp|tcp ...] [--label K=V ...]\n"
"       [--page-size N] [--page-token T] [--all-pages]\n"
"  stats\n"
"  watch [--session ID] [--interval MS]\n"
"\n"
"Options (also accepted after the command):\n"
"  --server HOST:PORT  the rtpproxy gRPC address (default " DEFAULT_SERVER ")\n"
"  --json              one JSON object per response or event (proto field names)\n"
"  --timeout MS        deadline of each call but watch (default 5000)\n"
"  --tls-ca FILE       speak TLS; the server's certificate must be signed by this CA (PEM)\n"
"  --tls-cert FILE, --tls-key FILE\n"
"                      the client's certificate and key (PEM), for mutual TLS\n"
"  --token-file FILE   send its token as \"authorization: Bearer TOKEN\" (the first word\n"
"                      of its first line that is not a comment); without it the token is\n"
"                      taken from the environment variable RTPPROXY_TOKEN, if set\n"
"  --help, --version\n"
"\n"
"Latching (where replies go when the client's source moves): ssrc (default) follows a\n"
"new source that carries the client's RTP SSRC, first never moves, any follows every one;\n"
"--strict-source drops listen-side packets from anyone but the latched source.\n"
"ADDR:PORT is 1.2.3.4:5 or [2001:db8::1]:5. States: created, connecting, active, error,\n"
"closed. Exit status: 0 ok, 1 the server (or grpc) answered an error, 2 usage error.\n";

static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int usage_error(const char *fmt, ...)
{
	va_list ap;

	fputs("rtpproxyctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("\nTry 'rtpproxyctl --help' for more information.\n", stderr);
	return EXIT_USAGE;
}

static int rpc_failed(const struct rpc_status *st)
{
	fprintf(stderr, "rtpproxyctl: %s: %s\n", rpc_status_name(st->code), st->message);
	return EXIT_RPC;
}

/* ---- argument parsing ---- */

static bool parse_u64(const char *s, uint64_t max, uint64_t *out)
{
	char *end;

	if (s[0] < '0' || s[0] > '9')
		return false;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno != 0 || *end != '\0' || v > max)
		return false;
	*out = v;
	return true;
}

/* "1.2.3.4:5" or "[::1]:5": the host without brackets, and the port. */
static bool parse_hostport(const char *text, char *host, size_t hostlen, uint32_t *port)
{
	const char *colon = strrchr(text, ':');
	const char *h = text;
	size_t hl;
	uint64_t p;

	if (colon == NULL)
		return false;
	hl = (size_t)(colon - text);
	if (hl >= 2 && text[0] == '[' && text[hl - 1] == ']') {
		h++;
		hl -= 2;
	} else if (memchr(text, ':', hl) != NULL || memchr(text, '[', hl) != NULL) {
		return false;   /* IPv6 needs brackets */
	}
	if (hl == 0 || hl >= hostlen || !parse_u64(colon + 1, 65535, &p))
		return false;
	memcpy(host, h, hl);
	host[hl] = '\0';
	*port = (uint32_t)p;
	return true;
}

/* An enum value by its name, its name without `prefix`, or its number; case does not matter. */
static bool parse_enum(const ProtobufCEnumDescriptor *d, const char *prefix, const char *text,
		int *out)
{
	size_t pl = strlen(prefix);
	uint64_t v;

	for (unsigned i = 0; i < d->n_values; i++) {
		const char *name = d->values[i].name;
		const char *short_name = strncmp(name, prefix, pl) == 0 ? name + pl : name;
		if (strcasecmp(name, text) == 0 || strcasecmp(short_name, text) == 0) {
			*out = d->values[i].value;
			return true;
		}
	}
	if (parse_u64(text, INT32_MAX, &v) && protobuf_c_enum_descriptor_get_value(d, (int)v)) {
		*out = (int)v;
		return true;
	}
	return false;
}

/* Add "K=V" (split in place) as an entry of entry_desc, a map<string, string> entry. */
static bool kv_add(struct kv_list *l, const ProtobufCMessageDescriptor *entry_desc, char *text)
{
	char *eq = strchr(text, '=');

	if (eq == NULL || eq == text)
		return false;
	ProtobufCMessage **grown = realloc(l->entries, (l->n + 1) * sizeof(*grown));
	if (grown == NULL)
		return false;
	l->entries = grown;
	ProtobufCMessage *e = calloc(1, entry_desc->sizeof_message);
	if (e == NULL)
		return false;
	protobuf_c_message_init(entry_desc, e);
	*eq = '\0';
	*(char **)((char *)e + entry_desc->fields[0].offset) = text;
	*(char **)((char *)e + entry_desc->fields[1].offset) = eq + 1;
	l->entries[l->n++] = e;
	return true;
}

static void kv_free(struct kv_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->entries[i]);
	free(l->entries);
}

/* ---- options shared by every command ---- */

enum {
	OPT_SERVER = 0x100, OPT_JSON, OPT_TIMEOUT, OPT_HELP, OPT_VERSION,
	OPT_LISTEN, OPT_FORWARD, OPT_DESTINATION, OPT_ID, OPT_TCP, OPT_RTCP, OPT_BIDIR,
	OPT_IDLE, OPT_PPS, OPT_BPS, OPT_VALIDATE, OPT_LABEL,
	OPT_STATE, OPT_TRANSPORT, OPT_PAGE_SIZE, OPT_PAGE_TOKEN, OPT_ALL_PAGES,
	OPT_SESSION, OPT_INTERVAL,
	OPT_LATCH_MODE, OPT_STRICT,
	OPT_TLS_CA, OPT_TLS_CERT, OPT_TLS_KEY, OPT_TOKEN_FILE,
};

#define COMMON_OPTIONS \
	{ "server", required_argument, NULL, OPT_SERVER }, \
	{ "json", no_argument, NULL, OPT_JSON }, \
	{ "timeout", required_argument, NULL, OPT_TIMEOUT }, \
	{ "tls-ca", required_argument, NULL, OPT_TLS_CA }, \
	{ "tls-cert", required_argument, NULL, OPT_TLS_CERT }, \
	{ "tls-key", required_argument, NULL, OPT_TLS_KEY }, \
	{ "token-file", required_argument, NULL, OPT_TOKEN_FILE }, \
	{ "help", no_argument, NULL, OPT_HELP }

enum opt_result { OPT_NOT_MINE, OPT_DONE, OPT_EXIT_OK, OPT_USAGE };

static enum opt_result common_option(struct ctl *ctl, int opt, const char *arg)
{
	uint64_t v;

	switch (opt) {
	case OPT_SERVER:
		ctl->server = arg;
		return OPT_DONE;
	case OPT_JSON:
		ctl->json = true;
		return OPT_DONE;
	case OPT_TLS_CA:
		ctl->copts.tls_ca = arg;
		return OPT_DONE;
	case OPT_TLS_CERT:
		ctl->copts.tls_cert = arg;
		return OPT_DONE;
	case OPT_TLS_KEY:
		ctl->copts.tls_key = arg;
		return OPT_DONE;
	case OPT_TOKEN_FILE:
		ctl->token_file = arg;
		return OPT_DONE;
	case OPT_TIMEOUT:
		if (!parse_u64(arg, INT32_MAX, &v) || v == 0) {
			usage_error("--timeout: '%s' is not a number of milliseconds > 0", arg);
			return OPT_USAGE;
		}
		ctl->timeout_ms = (int)v;
		return OPT_DONE;
	case OPT_HELP:
		fputs(usage_text, stdout);
		return OPT_EXIT_OK;
	case OPT_VERSION:
		printf("rtpproxyctl %s (grpc core %s)\n", RTPPROXY_VERSION, grpc_version_string());
		return OPT_EXIT_OK;
	}
	return OPT_NOT_MINE;
}

/* getopt's complaints in our words; argv[optind - 1] is the option at fault. */
static int bad_option(const char *cmd, int c, char **argv)
{
	const char *what = argv[optind - 1];

	if (c == ':')
		return usage_error("%s: option '%s' needs a value", cmd, what);
	return usage_error("%s: unknown option '%s'", cmd, what);
}

/* ---- human output ---- */

static const char *enum_short(const ProtobufCEnumDescriptor *d, const char *prefix, int v)
{
	const ProtobufCEnumValue *ev = protobuf_c_enum_descriptor_get_value(d, v);
	size_t pl = strlen(prefix);

	if (ev == NULL)
		return "?";
	return strncmp(ev->name, prefix, pl) == 0 ? ev->name + pl : ev->name;
}

static const char *state_name(int v)
{
	return enum_short(&rtpproxy__session_state__descriptor, "SESSION_STATE_", v);
}

static const char *transport_name(int v)
{
	return v == RTPPROXY__TRANSPORT__TRANSPORT_TCP ? "tcp"
		: v == RTPPROXY__TRANSPORT__TRANSPORT_UDP ? "udp" : "?";
}

/* As --latch-mode takes it. */
static const char *latch_mode_name(int v)
{
	return v == RTPPROXY__LATCH_MODE__LATCH_MODE_SSRC ? "ssrc"
		: v == RTPPROXY__LATCH_MODE__LATCH_MODE_FIRST ? "first"
		: v == RTPPROXY__LATCH_MODE__LATCH_MODE_ANY ? "any" : "?";
}

static const char *fmt_endpoint(char *buf, size_t len, const Rtpproxy__Endpoint *ep)
{
	if (ep == NULL || (ep->address[0] == '\0' && ep->port == 0))
		snprintf(buf, len, "-");
	else if (strchr(ep->address, ':') != NULL)
		snprintf(buf, len, "[%s]:%" PRIu32, ep->address, ep->port);
	else
		snprintf(buf, len, "%s:%" PRIu32, ep->address, ep->port);
	return buf;
}

static const char *fmt_time(char *buf, size_t len, int64_t unix_ms)
{
	time_t secs = (time_t)(unix_ms / 1000);
	struct tm tm;

	if (unix_ms <= 0 || gmtime_r(&secs, &tm) == NULL) {
		snprintf(buf, len, "-");
		return buf;
	}
	size_t n = strftime(buf, len, "%Y-%m-%d %H:%M:%S", &tm);
	snprintf(buf + n, len - n, ".%03d UTC", (int)(unix_ms % 1000));
	return buf;
}

static void print_stats(const char *label, const Rtpproxy__SessionStats *s)
{
	char when[64];

	if (s == NULL) {
		printf("  %-13s -\n", label);
		return;
	}
	printf("  %-13s received %" PRIu64 " packets / %" PRIu64 " bytes, "
		"sent %" PRIu64 " packets / %" PRIu64 " bytes\n", label,
		s->packets_received, s->bytes_received, s->packets_sent, s->bytes_sent);
	printf("  %-13s dropped %" PRIu64 ", lost %" PRIu64 ", loss_rate %.4f, "
		"jitter_ms %.3f, latency_ms avg %.3f max %.3f\n", "",
		s->packets_dropped, s->packets_lost, s->loss_rate, s->jitter_ms,
		s->avg_latency_ms, s->max_latency_ms);
	if (s->last_activity_unix_ms > 0)
		printf("  %-13s last activity %s\n", "",
			fmt_time(when, sizeof(when), s->last_activity_unix_ms));
}

static void print_session(const Rtpproxy__SessionInfo *si)
{
	char a[96], when[64];

	if (si == NULL) {
		printf("session -\n");
		return;
	}
	printf("session %s\n", si->session_id);
	printf("  %-13s %s\n", "state", state_name(si->state));
	printf("  %-13s %s\n", "transport", transport_name(si->transport));
	printf("  %-13s %s\n", "listen", fmt_endpoint(a, sizeof(a), si->listen_endpoint));
	printf("  %-13s %s\n", "forward", fmt_endpoint(a, sizeof(a), si->forward_endpoint));
	printf("  %-13s %s\n", "destination",
		fmt_endpoint(a, sizeof(a), si->destination_endpoint));
	if (si->latched_source != NULL)
		printf("  %-13s %s\n", "latched", fmt_endpoint(a, sizeof(a), si->latched_source));
	printf("  %-13s rtcp %s, bidirectional %s, idle timeout %" PRIu32 " s\n", "options",
		si->enable_rtcp ? "on" : "off", si->bidirectional ? "on" : "off",
		si->idle_timeout_secs);
	printf("  %-13s mode %s, strict source %s\n", "latching", latch_mode_name(si->latch_mode),
		si->strict_source ? "on" : "off");
	printf("  %-13s %s\n", "created", fmt_time(when, sizeof(when), si->created_unix_ms));
	if (si->n_labels > 0) {
		printf("  %-13s", "labels");
		for (size_t i = 0; i < si->n_labels; i++)
			printf(" %s=%s", si->labels[i]->key, si->labels[i]->value);
		printf("\n");
	}
	if (si->error_message[0] != '\0')
		printf("  %-13s %s\n", "error", si->error_message);
	print_stats("stats", si->stats);
	if (si->bidirectional || si->reverse_stats != NULL)
		print_stats("reverse", si->reverse_stats);
	if (si->enable_rtcp || si->rtcp_stats != NULL)
		print_stats("rtcp", si->rtcp_stats);
}

static void print_proxy_stats(const Rtpproxy__GetProxyStatsResponse *r)
{
	uint64_t ms = r->uptime_ms;

	printf("%-16s %s\n", "version", r->version);
	printf("%-16s %" PRIu64 "d %02" PRIu64 ":%02" PRIu64 ":%02" PRIu64 ".%03" PRIu64 "\n",
		"uptime", ms / 86400000, ms / 3600000 % 24, ms / 60000 % 60, ms / 1000 % 60,
		ms % 1000);
	printf("%-16s active %" PRIu64 ", created %" PRIu64 ", closed %" PRIu64 "\n",
		"sessions", r->sessions_active, r->sessions_created_total,
		r->sessions_closed_total);
	for (size_t i = 0; i < r->n_ports; i++) {
		const Rtpproxy__PortStats *p = r->ports[i];
		char name[64];

		snprintf(name, sizeof(name), "port %" PRIu32 " %s", p->port_id, p->name);
		printf("%-16s rx %" PRIu64 " packets / %" PRIu64 " bytes, tx %" PRIu64
			" packets / %" PRIu64 " bytes\n", name, p->rx_packets, p->rx_bytes,
			p->tx_packets, p->tx_bytes);
		printf("%-16s rx_missed %" PRIu64 ", tx_failed %" PRIu64
			", exception_packets %" PRIu64 "\n", "", p->rx_missed, p->tx_failed,
			p->exception_packets);
	}
	for (size_t i = 0; i < r->n_workers; i++) {
		const Rtpproxy__WorkerStats *w = r->workers[i];
		char name[32];

		snprintf(name, sizeof(name), "worker %" PRIu32, w->index);
		printf("%-16s lcore %" PRIu32 ", relayed %" PRIu64 ", busy %.1f%% of iterations",
			name, w->lcore, w->relayed, w->iterations ?
			100.0 * (double)w->busy_iterations / (double)w->iterations : 0.0);
		if (w->relayed > 0)
			printf(", %.1f cycles/packet", (double)w->busy_cycles / (double)w->relayed);
		printf("\n");
	}
	printf("%-16s", "drops");
	if (r->n_drops == 0)
		printf(" none");
	for (size_t i = 0; i < r->n_drops; i++)
		printf(" %s=%" PRIu64, r->drops[i]->key, r->drops[i]->value);
	printf("\n");
}

static void print_event(const Rtpproxy__SessionEvent *ev)
{
	char when[64], a[96], b[96];
	const Rtpproxy__SessionStats *s = NULL;

	printf("%s  %s  ", fmt_time(when, sizeof(when), ev->timestamp_unix_ms), ev->session_id);
	switch (ev->event_case) {
	case RTPPROXY__SESSION_EVENT__EVENT_CREATED: {
		const Rtpproxy__SessionInfo *si = ev->created->session;
		if (si == NULL) {
			printf("created\n");
			break;
		}
		printf("created %s %s, listen %s, destination %s\n", transport_name(si->transport),
			state_name(si->state), fmt_endpoint(a, sizeof(a), si->listen_endpoint),
			fmt_endpoint(b, sizeof(b), si->destination_endpoint));
		break;
	}
	case RTPPROXY__SESSION_EVENT__EVENT_STATE_CHANGED:
		printf("state %s -> %s\n", state_name(ev->state_changed->old_state),
			state_name(ev->state_changed->new_state));
		break;
	case RTPPROXY__SESSION_EVENT__EVENT_STATS_UPDATE:
		s = ev->stats_update->stats;
		printf("stats");
		goto stats;
	case RTPPROXY__SESSION_EVENT__EVENT_ERROR:
		printf("error %s\n", ev->error->message);
		break;
	case RTPPROXY__SESSION_EVENT__EVENT_CLOSED:
		s = ev->closed->final_stats;
		printf("closed reason %s;", ev->closed->reason);
		goto stats;
	default:
		printf("(unknown event)\n");
		break;
	}
	return;
stats:
	if (s == NULL) {
		printf("\n");
		return;
	}
	printf(" received %" PRIu64 "/%" PRIu64 " B, sent %" PRIu64 "/%" PRIu64
		" B, dropped %" PRIu64 ", lost %" PRIu64 ", jitter_ms %.3f\n",
		s->packets_received, s->bytes_received, s->packets_sent, s->bytes_sent,
		s->packets_dropped, s->packets_lost, s->jitter_ms);
}

static void print_json(const ProtobufCMessage *msg)
{
	pb_json_print(stdout, msg);
	fputc('\n', stdout);
}

/* ---- calls ---- */

/* The token of --token-file, else of RTPPROXY_TOKEN, into ctl->copts; -1 (said) on error. */
static int load_token(struct ctl *ctl)
{
	char err[512];
	const char *env = getenv("RTPPROXY_TOKEN");

	if (ctl->token_file != NULL) {
		if (rpc_client_read_token(ctl->token_file, ctl->token, sizeof(ctl->token), err,
				sizeof(err)) != 0) {
			fprintf(stderr, "rtpproxyctl: %s\n", err);
			return -1;
		}
		ctl->copts.token = ctl->token;
	} else if (env != NULL && env[0] != '\0') {
		ctl->copts.token = env;
	}
	return 0;
}

static int connect_server(struct ctl *ctl)
{
	char err[512];

	if (load_token(ctl) != 0)
		return EXIT_USAGE;
	ctl->client = rpc_client_connect_opts(ctl->server, &ctl->copts, err, sizeof(err));
	if (ctl->client == NULL) {
		fprintf(stderr, "rtpproxyctl: %s\n", err);
		return EXIT_RPC;
	}
	return 0;
}

/* A unary call; on success *resp is set. */
static int call(struct ctl *ctl, const char *method, const ProtobufCMessage *req,
		const ProtobufCMessageDescriptor *resp_desc, ProtobufCMessage **resp)
{
	struct rpc_status st;
	int rc = ctl->client == NULL ? connect_server(ctl) : 0;

	if (rc != 0)
		return rc;
	if (rpc_call_unary(ctl->client, method, req, resp_desc, resp, &st, ctl->timeout_ms)
			!= GRPC_STATUS_OK)
		return rpc_failed(&st);
	return 0;
}

/* destroy / get: one session id in, one SessionInfo out. */
static int session_call(struct ctl *ctl, const char *method, const ProtobufCMessage *req,
		const ProtobufCMessageDescriptor *resp_desc)
{
	ProtobufCMessage *resp;
	int rc = call(ctl, method, req, resp_desc, &resp);

	if (rc != 0)
		return rc;
	if (ctl->json) {
		print_json(resp);
	} else {
		/* Create/Destroy/GetSessionStatus responses all hold one SessionInfo at field 1. */
		const ProtobufCFieldDescriptor *f = protobuf_c_message_descriptor_get_field(
				resp_desc, 1);
		print_session(*(Rtpproxy__SessionInfo **)((char *)resp + f->offset));
	}
	protobuf_c_message_free_unpacked(resp, NULL);
	return 0;
}

/* ---- commands ---- */

static int cmd_create(struct ctl *ctl, int argc, char **argv)
{
	static const struct option opts[] = {
		COMMON_OPTIONS,
		{ "listen", required_argument, NULL, OPT_LISTEN },
		{ "forward", required_argument, NULL, OPT_FORWARD },
		{ "destination", required_argument, NULL, OPT_DESTINATION },
		{ "id", required_argument, NULL, OPT_ID },
		{ "tcp", no_argument, NULL, OPT_TCP },
		{ "rtcp", no_argument, NULL, OPT_RTCP },
		{ "bidirectional", no_argument, NULL, OPT_BIDIR },
		{ "idle-timeout", required_argument, NULL, OPT_IDLE },
		{ "rate-pps", required_argument, NULL, OPT_PPS },
		{ "rate-bps", required_argument, NULL, OPT_BPS },
		{ "validate-rtp", no_argument, NULL, OPT_VALIDATE },
		{ "label", required_argument, NULL, OPT_LABEL },
		{ "latch-mode", required_argument, NULL, OPT_LATCH_MODE },
		{ "strict-source", no_argument, NULL, OPT_STRICT },
		{ NULL, 0, NULL, 0 },
	};
	static const char *const ep_opt[3] = { "--listen", "--forward", "--destination" };
	const ProtobufCMessageDescriptor *labels_entry =
		&rtpproxy__create_session_request__labels_entry__descriptor;
	Rtpproxy__CreateSessionRequest req = RTPPROXY__CREATE_SESSION_REQUEST__INIT;
	Rtpproxy__Endpoint ep[3] = {
		RTPPROXY__ENDPOINT__INIT, RTPPROXY__ENDPOINT__INIT, RTPPROXY__ENDPOINT__INIT,
	};
	char host[3][256];
	bool have[3] = { false, false, false };
	struct kv_list labels = { 0, NULL };
	uint64_t v = 0;
	int c, rc = 0;

	optind = 0;
	while (rc == 0 && (c = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
		enum opt_result r = common_option(ctl, c, optarg);
		if (r == OPT_USAGE || r == OPT_EXIT_OK) {
			rc = r == OPT_USAGE ? EXIT_USAGE : -1;
			break;
		}
		if (r == OPT_DONE)
			continue;
		switch (c) {
		case OPT_LISTEN:
		case OPT_FORWARD:
		case OPT_DESTINATION: {
			int i = c - OPT_LISTEN;
			if (!parse_hostport(optarg, host[i], sizeof(host[i]), &ep[i].port)) {
				rc = usage_error("create: %s: '%s' is not ADDR:PORT "
					"(1.2.3.4:5 or [::1]:5)", ep_opt[i], optarg);
				break;
			}
			ep[i].address = host[i];
			have[i] = true;
			break;
		}
		case OPT_ID:
			req.session_id = optarg;
			break;
		case OPT_TCP:
			req.transport = RTPPROXY__TRANSPORT__TRANSPORT_TCP;
			break;
		case OPT_RTCP:
			req.enable_rtcp = 1;
			break;
		case OPT_BIDIR:
			req.bidirectional = 1;
			break;
		case OPT_VALIDATE:
			req.validate_rtp = 1;
			break;
		case OPT_IDLE:
			if (!parse_u64(optarg, UINT32_MAX, &v))
				rc = usage_error("create: --idle-timeout: '%s' is not a number "
					"of seconds", optarg);
			req.idle_timeout_secs = (uint32_t)v;
			break;
		case OPT_PPS:
		case OPT_BPS:
			if (!parse_u64(optarg, UINT64_MAX, &v)) {
				rc = usage_error("create: %s: '%s' is not a number",
					c == OPT_PPS ? "--rate-pps" : "--rate-bps", optarg);
				break;
			}
			if (c == OPT_PPS)
				req.rate_limit_pps = v;
			else
				req.rate_limit_bps = v;
			break;
		case OPT_LATCH_MODE:
			if (strcmp(optarg, "ssrc") == 0)
				req.latch_mode = RTPPROXY__LATCH_MODE__LATCH_MODE_SSRC;
			else if (strcmp(optarg, "first") == 0)
				req.latch_mode = RTPPROXY__LATCH_MODE__LATCH_MODE_FIRST;
			else if (strcmp(optarg, "any") == 0)
				req.latch_mode = RTPPROXY__LATCH_MODE__LATCH_MODE_ANY;
			else
				rc = usage_error("create: --latch-mode: '%s' is not ssrc, first "
					"or any", optarg);
			break;
		case OPT_STRICT:
			req.strict_source = 1;
			break;
		case OPT_LABEL:
			if (!kv_add(&labels, labels_entry, optarg))
				rc = usage_error("create: --label: '%s' is not KEY=VALUE", optarg);
			break;
		default:
			rc = bad_option("create", c, argv);
			break;
		}
	}
	if (rc == 0 && optind < argc)
		rc = usage_error("create: unexpected argument '%s'", argv[optind]);
	for (int i = 0; rc == 0 && i < 3; i++)
		if (!have[i])
			rc = usage_error("create: %s ADDR:PORT is required", ep_opt[i]);
	if (rc == 0) {
		req.listen_endpoint = &ep[0];
		req.forward_endpoint = &ep[1];
		req.destination_endpoint = &ep[2];
		req.n_labels = labels.n;
		req.labels = (Rtpproxy__CreateSessionRequest__LabelsEntry **)labels.entries;
		rc = session_call(ctl, METHOD("CreateSession"), &req.base,
			&rtpproxy__create_session_response__descriptor);
	}
	kv_free(&labels);
	return rc < 0 ? 0 : rc;
}

/* Options of a command that takes only the common ones and one session id. */
static int parse_id_command(struct ctl *ctl, const char *cmd, int argc, char **argv,
		const char **id)
{
	static const struct option opts[] = { COMMON_OPTIONS, { NULL, 0, NULL, 0 } };
	int c;

	optind = 0;
	while ((c = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
		enum opt_result r = common_option(ctl, c, optarg);
		if (r == OPT_USAGE)
			return EXIT_USAGE;
		if (r == OPT_EXIT_OK)
			return -1;
		if (r == OPT_NOT_MINE)
			return bad_option(cmd, c, argv);
	}
	if (optind >= argc)
		return usage_error("%s: missing session ID", cmd);
	if (optind + 1 < argc)
		return usage_error("%s: unexpected argument '%s'", cmd, argv[optind + 1]);
	*id = argv[optind];
	return 0;
}

static int cmd_destroy(struct ctl *ctl, int argc, char **argv)
{
	Rtpproxy__DestroySessionRequest req = RTPPROXY__DESTROY_SESSION_REQUEST__INIT;
	const char *id;
	int rc = parse_id_command(ctl, "destroy", argc, argv, &id);

	if (rc != 0)
		return rc < 0 ? 0 : rc;
	req.session_id = (char *)id;
	return session_call(ctl, METHOD("DestroySession"), &req.base,
		&rtpproxy__destroy_session_response__descriptor);
}

static int cmd_get(struct ctl *ctl, int argc, char **argv)
{
	Rtpproxy__GetSessionStatusRequest req = RTPPROXY__GET_SESSION_STATUS_REQUEST__INIT;
	const char *id;
	int rc = parse_id_command(ctl, "get", argc, argv, &id);

	if (rc != 0)
		return rc < 0 ? 0 : rc;
	req.session_id = (char *)id;
	return session_call(ctl, METHOD("GetSessionStatus"), &req.base,
		&rtpproxy__get_session_status_response__descriptor);
}

/* Ask page after page (only the first unless all_pages); print each. */
static int list_pages(struct ctl *ctl, Rtpproxy__ListSessionsRequest *req, bool all_pages)
{
	size_t total = 0;
	char *token = NULL;
	int rc = 0;

	for (;;) {
		ProtobufCMessage *m;
		rc = call(ctl, METHOD("ListSessions"), &req->base,
			&rtpproxy__list_sessions_response__descriptor, &m);
		if (rc != 0)
			break;
		Rtpproxy__ListSessionsResponse *resp = (Rtpproxy__ListSessionsResponse *)m;
		if (ctl->json) {
			print_json(m);
		} else {
			for (size_t i = 0; i < resp->n_sessions; i++) {
				if (total + i > 0)
					printf("\n");
				print_session(resp->sessions[i]);
			}
		}
		total += resp->n_sessions;
		/* A token that does not move would page forever. */
		bool stuck = token != NULL && strcmp(token, resp->next_page_token) == 0;
		free(token);
		token = strdup(resp->next_page_token);
		protobuf_c_message_free_unpacked(m, NULL);
		if (stuck) {
			fprintf(stderr, "rtpproxyctl: the server repeated page token '%s'\n", token);
			rc = EXIT_RPC;
			break;
		}
		if (token == NULL || token[0] == '\0' || !all_pages)
			break;
		req->page_token = token;
	}
	if (rc == 0 && !ctl->json) {
		printf("%s%zu session%s\n", total > 0 ? "\n" : "", total, total == 1 ? "" : "s");
		if (token != NULL && token[0] != '\0')
			printf("more: rtpproxyctl list --page-token %s\n", token);
	}
	free(token);
	return rc;
}

static int cmd_list(struct ctl *ctl, int argc, char **argv)
{
	static const struct option opts[] = {
		COMMON_OPTIONS,
		{ "state", required_argument, NULL, OPT_STATE },
		{ "transport", required_argument, NULL, OPT_TRANSPORT },
		{ "label", required_argument, NULL, OPT_LABEL },
		{ "page-size", required_argument, NULL, OPT_PAGE_SIZE },
		{ "page-token", required_argument, NULL, OPT_PAGE_TOKEN },
		{ "all-pages", no_argument, NULL, OPT_ALL_PAGES },
		{ NULL, 0, NULL, 0 },
	};
	const ProtobufCMessageDescriptor *selector_entry =
		&rtpproxy__list_sessions_request__label_selector_entry__descriptor;
	Rtpproxy__ListSessionsRequest req = RTPPROXY__LIST_SESSIONS_REQUEST__INIT;
	struct kv_list labels = { 0, NULL };
	/* Each --state/--transport takes an argument, so argc bounds their number. */
	Rtpproxy__SessionState *states = calloc((size_t)argc + 1, sizeof(*states));
	Rtpproxy__Transport *transports = calloc((size_t)argc + 1, sizeof(*transports));
	bool all_pages = false;
	uint64_t v = 0;
	int c, e = 0, rc = 0;

	if (states == NULL || transports == NULL) {
		fprintf(stderr, "rtpproxyctl: out of memory\n");
		rc = EXIT_RPC;
	}
	optind = 0;
	while (rc == 0 && (c = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
		enum opt_result r = common_option(ctl, c, optarg);
		if (r == OPT_USAGE || r == OPT_EXIT_OK) {
			rc = r == OPT_USAGE ? EXIT_USAGE : -1;
			break;
		}
		if (r == OPT_DONE)
			continue;
		switch (c) {
		case OPT_STATE:
			if (parse_enum(&rtpproxy__session_state__descriptor, "SESSION_STATE_",
					optarg, &e))
				states[req.n_states++] = (Rtpproxy__SessionState)e;
			else
				rc = usage_error("list: --state: '%s' is not one of created, "
					"connecting, active, error, closed", optarg);
			break;
		case OPT_TRANSPORT:
			if (parse_enum(&rtpproxy__transport__descriptor, "TRANSPORT_", optarg, &e))
				transports[req.n_transports++] = (Rtpproxy__Transport)e;
			else
				rc = usage_error("list: --transport: '%s' is not udp or tcp",
					optarg);
			break;
		case OPT_LABEL:
			if (!kv_add(&labels, selector_entry, optarg))
				rc = usage_error("list: --label: '%s' is not KEY=VALUE", optarg);
			break;
		case OPT_PAGE_SIZE:
			if (!parse_u64(optarg, UINT32_MAX, &v))
				rc = usage_error("list: --page-size: '%s' is not a number", optarg);
			req.page_size = (uint32_t)v;
			break;
		case OPT_PAGE_TOKEN:
			req.page_token = optarg;
			break;
		case OPT_ALL_PAGES:
			all_pages = true;
			break;
		default:
			rc = bad_option("list", c, argv);
			break;
		}
	}
	if (rc == 0 && optind < argc)
		rc = usage_error("list: unexpected argument '%s'", argv[optind]);
	if (rc == 0) {
		req.states = states;
		req.transports = transports;
		req.n_label_selector = labels.n;
		req.label_selector =
			(Rtpproxy__ListSessionsRequest__LabelSelectorEntry **)labels.entries;
		rc = list_pages(ctl, &req, all_pages);
	}
	kv_free(&labels);
	free(states);
	free(transports);
	return rc < 0 ? 0 : rc;
}

static int cmd_stats(struct ctl *ctl, int argc, char **argv)
{
	static const struct option opts[] = { COMMON_OPTIONS, { NULL, 0, NULL, 0 } };
	Rtpproxy__GetProxyStatsRequest req = RTPPROXY__GET_PROXY_STATS_REQUEST__INIT;
	ProtobufCMessage *resp;
	int c;

	optind = 0;
	while ((c = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
		enum opt_result r = common_option(ctl, c, optarg);
		if (r == OPT_USAGE)
			return EXIT_USAGE;
		if (r == OPT_EXIT_OK)
			return 0;
		if (r == OPT_NOT_MINE)
			return bad_option("stats", c, argv);
	}
	if (optind < argc)
		return usage_error("stats: unexpected argument '%s'", argv[optind]);
	int rc = call(ctl, METHOD("GetProxyStats"), &req.base,
		&rtpproxy__get_proxy_stats_response__descriptor, &resp);
	if (rc != 0)
		return rc;
	if (ctl->json)
		print_json(resp);
	else
		print_proxy_stats((Rtpproxy__GetProxyStatsResponse *)resp);
	protobuf_c_message_free_unpacked(resp, NULL);
	return 0;
}

static void on_signal(int sig)
{
	(void)sig;
	interrupted = 1;
}

/* Print events as they come until the stream ends (its status decides) or SIGINT/SIGTERM. */
static int watch_loop(struct ctl *ctl, struct rpc_stream *s)
{
	struct rpc_status st;
	ProtobufCMessage *msg;

	for (;;) {
		if (interrupted)
			return 0;
		enum rpc_read r = rpc_stream_read(s, &rtpproxy__session_event__descriptor, &msg,
				&st, WATCH_TICK_MS);
		if (r == RPC_READ_TIMEOUT)
			continue;
		if (r == RPC_READ_ERROR)
			return rpc_failed(&st);
		if (r == RPC_READ_END)
			return st.code == GRPC_STATUS_OK ? 0 : rpc_failed(&st);
		if (ctl->json)
			print_json(msg);
		else
			print_event((Rtpproxy__SessionEvent *)msg);
		fflush(stdout);
		protobuf_c_message_free_unpacked(msg, NULL);
	}
}

static int cmd_watch(struct ctl *ctl, int argc, char **argv)
{
	static const struct option opts[] = {
		COMMON_OPTIONS,
		{ "session", required_argument, NULL, OPT_SESSION },
		{ "interval", required_argument, NULL, OPT_INTERVAL },
		{ NULL, 0, NULL, 0 },
	};
	Rtpproxy__StreamSessionEventsRequest req = RTPPROXY__STREAM_SESSION_EVENTS_REQUEST__INIT;
	struct rpc_status st;
	uint64_t v;
	int c;

	optind = 0;
	while ((c = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
		enum opt_result r = common_option(ctl, c, optarg);
		if (r == OPT_USAGE)
			return EXIT_USAGE;
		if (r == OPT_EXIT_OK)
			return 0;
		if (r == OPT_DONE)
			continue;
		switch (c) {
		case OPT_SESSION:
			req.session_id = optarg;
			break;
		case OPT_INTERVAL:
			if (!parse_u64(optarg, UINT32_MAX, &v))
				return usage_error("watch: --interval: '%s' is not a number of "
					"milliseconds", optarg);
			req.stats_interval_ms = (uint32_t)v;
			break;
		default:
			return bad_option("watch", c, argv);
		}
	}
	if (optind < argc)
		return usage_error("watch: unexpected argument '%s'", argv[optind]);

	struct sigaction sa = { .sa_handler = on_signal };
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);

	int rc = connect_server(ctl);
	if (rc != 0)
		return rc;
	struct rpc_stream *s = rpc_stream_start(ctl->client, METHOD("StreamSessionEvents"),
			&req.base, &st, 0);
	if (s == NULL)
		return rpc_failed(&st);
	rc = watch_loop(ctl, s);
	rpc_stream_free(s);
	return rc;
}

static int cmd_bench(struct ctl *ctl, int argc, char **argv)
{
	if (load_token(ctl) != 0)
		return EXIT_USAGE;
	return ctl_bench(ctl->server, &ctl->copts, ctl->json, argc, argv);
}

static const struct command {
	const char *name;
	int (*run)(struct ctl *ctl, int argc, char **argv);
} commands[] = {
	{ "create", cmd_create },
	{ "destroy", cmd_destroy },
	{ "get", cmd_get },
	{ "list", cmd_list },
	{ "stats", cmd_stats },
	{ "watch", cmd_watch },
	{ "bench", cmd_bench },
};

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		COMMON_OPTIONS,
		{ "version", no_argument, NULL, OPT_VERSION },
		{ NULL, 0, NULL, 0 },
	};
	struct ctl ctl = { .server = DEFAULT_SERVER, .timeout_ms = DEFAULT_TIMEOUT_MS };
	int c;

	opterr = 0;
	while ((c = getopt_long(argc, argv, "+:", opts, NULL)) != -1) {
		enum opt_result r = common_option(&ctl, c, optarg);
		if (r == OPT_USAGE)
			return EXIT_USAGE;
		if (r == OPT_EXIT_OK)
			return 0;
		if (r == OPT_NOT_MINE)
			return c == ':' ? usage_error("option '%s' needs a value", argv[optind - 1])
				: usage_error("unknown option '%s'", argv[optind - 1]);
	}
	if (optind >= argc)
		return usage_error("missing command");

	const char *name = argv[optind];
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		if (strcmp(commands[i].name, name) != 0)
			continue;
		/* The command sees its own argv, argv[0] being its name. */
		int rc = commands[i].run(&ctl, argc - optind, argv + optind);
		fflush(stdout);
		rpc_client_close(ctl.client);
		return rc;
	}
	return usage_error("unknown command '%s'", name);
}
