/*
 * grpc_srv's security hooks with the real guard, over loopback TCP with grpc_srv and
 * rpc_client (no root, no data plane): tokens and roles, the peer check, unknown methods
 * admitted first, max_message_bytes refused by grpc before any hook, and the audit file's
 * exact lines; SIGHUP's reload (a new tokens file, a bad one, the audit file moved away).
 * The handlers are fakes: CreateSession answers session "gen-1", DestroySession NOT_FOUND
 * for "nope".
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "arena.h"
#include "check.h"
#include "guard.h"
#include "rpc_client.h"
#include "rtpproxy.pb-c.h"

#define ADMIN "admin-token-0123456789"
#define READER "read-token-0123456789"
#define NEWTOK "new-admin-token-98765"

static char dir[] = "/tmp/test_guard.XXXXXX";
static char tokens_path[256], audit_path[256], moved_path[256];
static atomic_int handler_calls;

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	fputs(text, f);
	fclose(f);
}

static char *slurp(const char *path)
{
	static char buf[16384];
	FILE *f = fopen(path, "r");
	size_t n = 0;
	if (f != NULL) {
		n = fread(buf, 1, sizeof(buf) - 1, f);
		fclose(f);
	}
	buf[n] = '\0';
	return buf;
}

static grpc_status_code create(void *ctx, const ProtobufCMessage *req, ProtobufCMessage **resp,
		struct arena *a, struct rpc_error *err)
{
	(void)ctx, (void)req, (void)err;
	Rtpproxy__CreateSessionResponse *r = arena_alloc(a, sizeof(*r));
	Rtpproxy__SessionInfo *s = arena_alloc(a, sizeof(*s));
	rtpproxy__create_session_response__init(r);
	rtpproxy__session_info__init(s);
	s->session_id = "gen-1";
	r->session = s;
	*resp = &r->base;
	atomic_fetch_add(&handler_calls, 1);
	return GRPC_STATUS_OK;
}

static grpc_status_code destroy(void *ctx, const ProtobufCMessage *req, ProtobufCMessage **resp,
		struct arena *a, struct rpc_error *err)
{
	(void)ctx, (void)resp, (void)a;
	const Rtpproxy__DestroySessionRequest *q = (const void *)req;
	atomic_fetch_add(&handler_calls, 1);
	return rpc_fail(err, GRPC_STATUS_NOT_FOUND, "session_id: no session \"%s\"", q->session_id);
}

static grpc_status_code stats(void *ctx, const ProtobufCMessage *req, ProtobufCMessage **resp,
		struct arena *a, struct rpc_error *err)
{
	(void)ctx, (void)req, (void)err;
	Rtpproxy__GetProxyStatsResponse *r = arena_alloc(a, sizeof(*r));
	rtpproxy__get_proxy_stats_response__init(r);
	*resp = &r->base;
	atomic_fetch_add(&handler_calls, 1);
	return GRPC_STATUS_OK;
}

/* CreateSession, DestroySession, GetSessionStatus (none: UNIMPLEMENTED), ..., GetProxyStats */
static const struct grpc_srv_method methods[6] = {
	{ .unary = create }, { .unary = destroy }, { 0 }, { 0 }, { 0 }, { .unary = stats },
};

struct server {
	struct grpc_srv *srv;
	struct guard *guard;
	char target[64];
	pthread_t thread;
	atomic_bool stop, reload;
	atomic_int reloads;               /* done by the serving thread */
};

static void *serve(void *p)
{
	struct server *s = p;
	while (!atomic_load(&s->stop)) {
		grpc_srv_poll(s->srv, 10);
		if (atomic_exchange(&s->reload, false)) {
			guard_reload(s->guard);
			atomic_fetch_add(&s->reloads, 1);
		}
	}
	return NULL;
}

static bool server_start(struct server *s, const struct auth_net *peers, unsigned n_peers)
{
	char err[512];
	struct guard_config gc = {
		.tokens_file = tokens_path, .peers = peers, .n_peers = n_peers,
		.audit_file = audit_path,
	};
	memset(s, 0, sizeof(*s));
	s->guard = guard_create(&gc, err, sizeof(err));
	if (s->guard == NULL) {
		fprintf(stderr, "guard_create: %s\n", err);
		return false;
	}
	struct grpc_srv_opts o = { .max_message_bytes = 1024, .hooks = guard_hooks(s->guard) };
	int port = 0;
	s->srv = grpc_srv_start_opts("127.0.0.1:0", &rtpproxy__rtp_proxy__descriptor, methods,
			NULL, &o, &port, err, sizeof(err));
	if (s->srv == NULL) {
		fprintf(stderr, "grpc_srv_start_opts: %s\n", err);
		return false;
	}
	snprintf(s->target, sizeof(s->target), "127.0.0.1:%d", port);
	pthread_create(&s->thread, NULL, serve, s);
	return true;
}

/* Ask the serving thread for a reload and wait until it has happened. */
static void server_reload(struct server *s)
{
	int done = atomic_load(&s->reloads);
	atomic_store(&s->reload, true);
	for (int i = 0; i < 500 && atomic_load(&s->reloads) == done; i++)
		usleep(2000);
	CHECK(atomic_load(&s->reloads) == done + 1);
}

static void server_stop(struct server *s)
{
	atomic_store(&s->stop, true);
	pthread_join(s->thread, NULL);
	grpc_srv_stop(s->srv);
	guard_free(s->guard);
}

static grpc_status_code call(const char *target, const char *token, const char *method,
		const ProtobufCMessage *req, struct rpc_status *st)
{
	char err[256];
	struct rpc_client_opts o = { .token = token };
	struct rpc_client *c = rpc_client_connect_opts(target, &o, err, sizeof(err));
	void *out = NULL;
	size_t out_len = 0;
	uint8_t buf[4096];
	size_t len = protobuf_c_message_pack(req, buf);

	CHECK(c != NULL);
	if (c == NULL)
		return GRPC_STATUS_INTERNAL;
	rpc_call_raw(c, method, buf, len, &out, &out_len, st, 5000);
	free(out);
	rpc_client_close(c);
	return st->code;
}

#define M(name) "/rtpproxy.RtpProxy/" name

/* The audit file's lines with "ts" and the peer's port blanked, for exact comparison. */
static const char *audit_text(const char *path)
{
	static char out[16384];
	const char *in = slurp(path);
	size_t o = 0;

	while (*in != '\0' && o + 64 < sizeof(out)) {
		if (strncmp(in, "{\"ts\":", 6) == 0) {
			o += (size_t)sprintf(out + o, "{\"ts\":T");
			in += 6;
			while (*in >= '0' && *in <= '9')
				in++;
		} else if (strncmp(in, "127.0.0.1:", 10) == 0) {
			o += (size_t)sprintf(out + o, "127.0.0.1:P");
			in += 10;
			while (*in >= '0' && *in <= '9')
				in++;
		} else {
			out[o++] = *in++;
		}
	}
	out[o] = '\0';
	return out;
}

static bool text_is(const char *got, const char *want)
{
	if (strcmp(got, want) != 0) {
		fprintf(stderr, "  got:\n%s  want:\n%s", got, want);
		return false;
	}
	return true;
}

#define LINE(principal, method, sid, code) \
	"{\"ts\":T,\"peer\":\"127.0.0.1:P\",\"principal\":\"" principal "\",\"method\":\"" \
	method "\",\"session_id\":\"" sid "\",\"code\":\"" code "\"}\n"

static void test_tokens_and_audit(void)
{
	Rtpproxy__CreateSessionRequest cr = RTPPROXY__CREATE_SESSION_REQUEST__INIT;
	Rtpproxy__DestroySessionRequest dr = RTPPROXY__DESTROY_SESSION_REQUEST__INIT;
	Rtpproxy__GetProxyStatsRequest sr = RTPPROXY__GET_PROXY_STATS_REQUEST__INIT;
	Rtpproxy__GetSessionStatusRequest gr = RTPPROXY__GET_SESSION_STATUS_REQUEST__INIT;
	struct rpc_status st;
	struct server s;

	write_file(tokens_path, "# test\n" ADMIN " admin ops\n" READER " read mon\n");
	CHECK(server_start(&s, NULL, 0));
	dr.session_id = "nope";

	CHECK(call(s.target, NULL, M("GetProxyStats"), &sr.base, &st) == GRPC_STATUS_UNAUTHENTICATED);
	CHECK(strcmp(st.message, "authorization: missing; expected \"Bearer TOKEN\" metadata") == 0);
	CHECK(call(s.target, "not-a-token-at-all-x", M("GetProxyStats"), &sr.base, &st)
			== GRPC_STATUS_UNAUTHENTICATED);
	CHECK(strcmp(st.message, "authorization: unknown token") == 0);
	CHECK(call(s.target, READER, M("GetProxyStats"), &sr.base, &st) == GRPC_STATUS_OK);
	CHECK(call(s.target, READER, M("CreateSession"), &cr.base, &st)
			== GRPC_STATUS_PERMISSION_DENIED);
	CHECK(strcmp(st.message, "/rtpproxy.RtpProxy/CreateSession: the token of \"mon\" has "
			"role read, the method needs admin") == 0);
	/* GetSessionStatus has no handler here: UNIMPLEMENTED, but only once admitted */
	CHECK(call(s.target, NULL, M("GetSessionStatus"), &gr.base, &st)
			== GRPC_STATUS_UNAUTHENTICATED);
	CHECK(call(s.target, READER, M("GetSessionStatus"), &gr.base, &st)
			== GRPC_STATUS_UNIMPLEMENTED);
	CHECK(call(s.target, NULL, "/other.Svc/Probe", &gr.base, &st)
			== GRPC_STATUS_UNAUTHENTICATED);
	int before = atomic_load(&handler_calls);
	CHECK(call(s.target, ADMIN, M("CreateSession"), &cr.base, &st) == GRPC_STATUS_OK);
	CHECK(call(s.target, ADMIN, M("DestroySession"), &dr.base, &st) == GRPC_STATUS_NOT_FOUND);
	CHECK_EQ_U(atomic_load(&handler_calls) - before, 2);

	/* over max_message_bytes (1024): grpc refuses it, no handler and no audit line */
	static char big[2000];
	memset(big, 'x', sizeof(big) - 1);
	cr.session_id = big;
	before = atomic_load(&handler_calls);
	CHECK(call(s.target, ADMIN, M("CreateSession"), &cr.base, &st)
			== GRPC_STATUS_RESOURCE_EXHAUSTED);
	CHECK_EQ_U(atomic_load(&handler_calls) - before, 0);
	cr.session_id = "";

	CHECK(text_is(audit_text(audit_path),
		LINE("", "GetProxyStats", "", "UNAUTHENTICATED")
		LINE("", "GetProxyStats", "", "UNAUTHENTICATED")
		LINE("mon", "CreateSession", "", "PERMISSION_DENIED")
		LINE("", "GetSessionStatus", "", "UNAUTHENTICATED")
		LINE("", "/other.Svc/Probe", "", "UNAUTHENTICATED")
		LINE("ops", "CreateSession", "gen-1", "OK")
		LINE("ops", "DestroySession", "nope", "NOT_FOUND")));

	/* SIGHUP: new tokens, the audit file moved away */
	write_file(tokens_path, NEWTOK " admin ops2\n");
	CHECK(rename(audit_path, moved_path) == 0);
	server_reload(&s);
	CHECK(call(s.target, ADMIN, M("GetProxyStats"), &sr.base, &st)
			== GRPC_STATUS_UNAUTHENTICATED);
	CHECK(call(s.target, NEWTOK, M("CreateSession"), &cr.base, &st) == GRPC_STATUS_OK);
	CHECK(text_is(audit_text(audit_path),
		LINE("", "GetProxyStats", "", "UNAUTHENTICATED")
		LINE("ops2", "CreateSession", "gen-1", "OK")));
	CHECK(strstr(slurp(moved_path), "ops2") == NULL);

	/* a bad file on SIGHUP: the tokens in force stay */
	write_file(tokens_path, NEWTOK " admin\n");
	server_reload(&s);
	CHECK(call(s.target, NEWTOK, M("GetProxyStats"), &sr.base, &st) == GRPC_STATUS_OK);

	/* no token anywhere in what was written */
	const char *a = slurp(audit_path);
	CHECK(strstr(a, ADMIN) == NULL && strstr(a, READER) == NULL && strstr(a, NEWTOK) == NULL);
	a = slurp(moved_path);
	CHECK(strstr(a, ADMIN) == NULL && strstr(a, READER) == NULL && strstr(a, NEWTOK) == NULL);
	server_stop(&s);
	unlink(moved_path);
	unlink(audit_path);
}

static void test_peers(void)
{
	Rtpproxy__GetProxyStatsRequest sr = RTPPROXY__GET_PROXY_STATS_REQUEST__INIT;
	struct auth_net ten = { .family = AF_INET, .addr = { 10 }, .len = 8 };
	struct auth_net lo = { .family = AF_INET, .addr = { 127 }, .len = 8 };
	struct rpc_status st;
	struct server s;

	write_file(tokens_path, ADMIN " admin ops\n");
	CHECK(server_start(&s, &ten, 1));
	int before = atomic_load(&handler_calls);
	CHECK(call(s.target, ADMIN, M("GetProxyStats"), &sr.base, &st)
			== GRPC_STATUS_UNAUTHENTICATED);
	CHECK(strncmp(st.message, "peer 127.0.0.1:", 15) == 0 &&
			strstr(st.message, " is not in [grpc] allowed_peers") != NULL);
	CHECK_EQ_U(atomic_load(&handler_calls) - before, 0);
	CHECK(text_is(audit_text(audit_path), LINE("", "GetProxyStats", "", "UNAUTHENTICATED")));
	server_stop(&s);
	unlink(audit_path);

	CHECK(server_start(&s, &lo, 1));
	CHECK(call(s.target, ADMIN, M("GetProxyStats"), &sr.base, &st) == GRPC_STATUS_OK);
	server_stop(&s);
	unlink(audit_path);
}

static void test_start_errors(void)
{
	char err[512];
	struct guard_config gc = { .tokens_file = tokens_path, .audit_file = audit_path };

	write_file(tokens_path, "\n" ADMIN " admin ops\n" ADMIN " read again\n");
	CHECK(guard_create(&gc, err, sizeof(err)) == NULL);
	char want[600];
	snprintf(want, sizeof(want), "[grpc] tokens_file: %s:3: the same token as line 2",
			tokens_path);
	CHECK(text_is(err, want));
	write_file(tokens_path, ADMIN " admin ops\n");
	gc.audit_file = "/nonexistent/audit.log";
	CHECK(guard_create(&gc, err, sizeof(err)) == NULL);
	CHECK(text_is(err, "[audit] file: cannot open /nonexistent/audit.log: "
			"No such file or directory"));
}

int main(void)
{
	if (mkdtemp(dir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	snprintf(tokens_path, sizeof(tokens_path), "%s/tokens", dir);
	snprintf(audit_path, sizeof(audit_path), "%s/audit.log", dir);
	snprintf(moved_path, sizeof(moved_path), "%s/audit.log.1", dir);
	test_tokens_and_audit();
	test_peers();
	test_start_errors();
	unlink(tokens_path);
	rmdir(dir);
	return check_summary("guard");
}
