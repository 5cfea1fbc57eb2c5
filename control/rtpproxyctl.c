/*
 * rtpproxyctl: the operator client of the rtpproxy gRPC API (API.md section 3).
 * Exit status: 0 success, 1 the call failed (gRPC status), 2 usage error.
 * This file: main and the commands, each with its own options and calls. The command line's
 * shared parts are ctl_args.c, the output ctl_print.c, the bench command ctl_bench.c.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <grpc/grpc.h>

#include "ctl_bench.h"
#include "health.pb-c.h"
#include "rtpproxyctl.h"

static volatile sig_atomic_t interrupted;

static int rpc_failed(const struct rpc_status *st)
{
	fprintf(stderr, "rtpproxyctl: %s: %s\n", rpc_status_name(st->code), st->message);
	return EXIT_RPC;
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
	while (rc == 0 && (c = next_option(ctl, argc, argv, opts, &rc)) != -1) {
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
	int c, rc = 0;

	optind = 0;
	c = next_option(ctl, argc, argv, opts, &rc);
	if (c != -1)
		return bad_option(cmd, c, argv);
	if (rc != 0)
		return rc;
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
	const char *id = NULL;
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
	const char *id = NULL;
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
	while (rc == 0 && (c = next_option(ctl, argc, argv, opts, &rc)) != -1) {
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
	int c, rc = 0;

	optind = 0;
	c = next_option(ctl, argc, argv, opts, &rc);
	if (c != -1)
		return bad_option("stats", c, argv);
	if (rc != 0)
		return rc < 0 ? 0 : rc;
	if (optind < argc)
		return usage_error("stats: unexpected argument '%s'", argv[optind]);
	rc = call(ctl, METHOD("GetProxyStats"), &req.base,
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

/*
 * health: the server's grpc.health.v1 Check. Exit 0 only when SERVING; 1 for NOT_SERVING, an
 * error status or no answer at all (a container HEALTHCHECK reads 1 as unhealthy and
 * reserves 2), 2 for usage errors only.
 */
static int cmd_health(struct ctl *ctl, int argc, char **argv)
{
	static const struct option opts[] = {
		COMMON_OPTIONS,
		{ "service", required_argument, NULL, OPT_SERVICE },
		{ NULL, 0, NULL, 0 },
	};
	Grpc__Health__V1__HealthCheckRequest req = GRPC__HEALTH__V1__HEALTH_CHECK_REQUEST__INIT;
	ProtobufCMessage *resp;
	int c, rc = 0;

	optind = 0;
	while ((c = next_option(ctl, argc, argv, opts, &rc)) != -1) {
		if (c != OPT_SERVICE)
			return bad_option("health", c, argv);
		req.service = optarg;
	}
	if (rc != 0)
		return rc < 0 ? 0 : rc;
	if (optind < argc)
		return usage_error("health: unexpected argument '%s'", argv[optind]);
	rc = call(ctl, "/grpc.health.v1.Health/Check", &req.base,
		&grpc__health__v1__health_check_response__descriptor, &resp);
	if (rc != 0)
		return EXIT_RPC;
	Grpc__Health__V1__HealthCheckResponse *r = (void *)resp;
	if (ctl->json) {
		print_json(resp);
	} else {
		const ProtobufCEnumValue *v = protobuf_c_enum_descriptor_get_value(
				&grpc__health__v1__health_check_response__serving_status__descriptor,
				r->status);
		printf("%s\n", v != NULL ? v->name : "UNKNOWN");
	}
	rc = r->status == GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__SERVING ? 0
		: EXIT_RPC;
	protobuf_c_message_free_unpacked(resp, NULL);
	return rc;
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
	int c, rc = 0;

	optind = 0;
	while ((c = next_option(ctl, argc, argv, opts, &rc)) != -1) {
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
	if (rc != 0)
		return rc < 0 ? 0 : rc;
	if (optind < argc)
		return usage_error("watch: unexpected argument '%s'", argv[optind]);

	struct sigaction sa = { .sa_handler = on_signal };
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);

	rc = connect_server(ctl);
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
	{ "health", cmd_health },
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
