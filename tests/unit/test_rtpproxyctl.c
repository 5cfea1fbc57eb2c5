/*
 * The built rtpproxyctl run as an operator runs it, against the fake server: output, exit
 * codes, what reached the server, and --json read back by Python's json module.
 * Usage: test_rtpproxyctl PATH/TO/rtpproxyctl [PATH/TO/python3 or ""]
 */
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fake_rtpproxy.h"
#include "rtpproxy.pb-c.h"

#define WAIT_UNTIL(cond, ms) __extension__ ({ \
	for (int w_ = 0; !(cond) && w_ < (ms); w_++) \
		usleep(1000); \
	(cond); \
})

extern char **environ;

static struct fake F;
static const char *ctl_path, *python;
static char server[64];
static char tmpdir[] = "/tmp/test_rtpproxyctl.XXXXXX";
static int passed;

#define RUN(test) do { test(); passed++; } while (0)

struct result {
	int status;                 /* exit code; 128 + signal if killed */
	char out[65536];
	char err[8192];
	char out_path[256];
};

static void slurp(const char *path, char *buf, size_t cap)
{
	FILE *f = fopen(path, "r");
	size_t n = 0;

	if (f != NULL) {
		n = fread(buf, 1, cap - 1, f);
		fclose(f);
	}
	buf[n] = '\0';
}

/* Start argv[0] with stdout/stderr into files; its pid. */
static pid_t spawn(char *const argv[], const char *out, const char *err)
{
	posix_spawn_file_actions_t fa;
	pid_t pid;

	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 1, out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	posix_spawn_file_actions_addopen(&fa, 2, err, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	CHECK(posix_spawn(&pid, argv[0], &fa, NULL, argv, environ) == 0);
	posix_spawn_file_actions_destroy(&fa);
	return pid;
}

static int wait_exit(pid_t pid)
{
	int ws;

	CHECK(waitpid(pid, &ws, 0) == pid);
	return WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + WTERMSIG(ws);
}

/* rtpproxyctl ARGS... (NULL-terminated), with --server first unless no_server. */
static void ctl_argv(struct result *r, bool with_server, const char *const *args)
{
	char *argv[64], err_path[256];
	int n = 0;

	argv[n++] = (char *)ctl_path;
	if (with_server) {
		argv[n++] = "--server";
		argv[n++] = server;
	}
	for (; *args != NULL; args++) {
		CHECK(n < 63);
		argv[n++] = (char *)*args;
	}
	argv[n] = NULL;
	snprintf(r->out_path, sizeof(r->out_path), "%s/out", tmpdir);
	snprintf(err_path, sizeof(err_path), "%s/err", tmpdir);
	r->status = wait_exit(spawn(argv, r->out_path, err_path));
	slurp(r->out_path, r->out, sizeof(r->out));
	slurp(err_path, r->err, sizeof(r->err));
}

#define CTL(r, ...) ctl_argv(r, true, (const char *const[]){ __VA_ARGS__, NULL })
#define CTL_BARE(r, ...) ctl_argv(r, false, (const char *const[]){ __VA_ARGS__, NULL })

static void expect_out(const struct result *r, const char *want, int line)
{
	if (strstr(r->out, want) == NULL) {
		fprintf(stderr, "%s:%d: stdout lacks \"%s\"; it was:\n%s\nstderr:\n%s\n", __FILE__,
			line, want, r->out, r->err);
		exit(1);
	}
}

#define OUT_HAS(r, want) expect_out(r, want, __LINE__)

static int count_lines(const char *s)
{
	int n = 0;

	for (; *s; s++)
		n += *s == '\n';
	return n;
}

/*
 * Every line of r's stdout is JSON (no NaN/Infinity literals) and `script` holds for L, the
 * list of parsed lines. Skipped without python.
 */
static void json_check(const struct result *r, const char *script)
{
	char prog[4096], out[256], err[256], text[4096];

	if (python == NULL)
		return;
	snprintf(prog, sizeof(prog),
		"import json, sys\n"
		"def bad(c): raise ValueError('literal ' + c)\n"
		"L = [json.loads(l, parse_constant=bad) for l in open(sys.argv[1]) if l.strip()]\n"
		"%s\n", script);
	snprintf(out, sizeof(out), "%s/py.out", tmpdir);
	snprintf(err, sizeof(err), "%s/py.err", tmpdir);
	char *argv[] = { (char *)python, "-c", prog, (char *)r->out_path, NULL };
	int status = wait_exit(spawn(argv, out, err));
	if (status != 0) {
		slurp(err, text, sizeof(text));
		fprintf(stderr, "python check failed:\n%s\nscript:\n%s\ninput:\n%s\n", text, script,
			r->out);
	}
	CHECK(status == 0);
}

static void test_help_version(void)
{
	struct result r;

	CTL_BARE(&r, "--version");
	CHECK(r.status == 0);
	OUT_HAS(&r, "rtpproxyctl " RTPPROXY_VERSION " (grpc core ");
	CTL_BARE(&r, "--help");
	CHECK(r.status == 0);
	OUT_HAS(&r, "Usage: rtpproxyctl [--server HOST:PORT] [--json]");
	OUT_HAS(&r, "watch [--session ID] [--interval MS]");
	CTL_BARE(&r, "get", "--help");
	CHECK(r.status == 0);
	OUT_HAS(&r, "Usage: rtpproxyctl");
}

static void expect_usage(struct result *r, const char *msg)
{
	CHECK(r->status == 2);
	if (strstr(r->err, msg) == NULL || strstr(r->err, "Try 'rtpproxyctl --help'") == NULL) {
		fprintf(stderr, "stderr lacks \"%s\": %s\n", msg, r->err);
		exit(1);
	}
	CHECK(r->out[0] == '\0');
}

static void test_usage_errors(void)
{
	struct result r;

	CTL_BARE(&r, "--json");
	expect_usage(&r, "rtpproxyctl: missing command\n");
	CTL(&r, "frob");
	expect_usage(&r, "rtpproxyctl: unknown command 'frob'\n");
	CTL_BARE(&r, "--bogus", "get", "x");
	expect_usage(&r, "rtpproxyctl: unknown option '--bogus'\n");
	CTL_BARE(&r, "--server");
	expect_usage(&r, "rtpproxyctl: option '--server' needs a value\n");
	CTL(&r, "create", "--bogus");
	expect_usage(&r, "rtpproxyctl: create: unknown option '--bogus'\n");
	CTL(&r, "create", "--listen");
	expect_usage(&r, "create: option '--listen' needs a value\n");
	CTL(&r, "create", "--listen", "1.2.3.4", "--forward", "1.2.3.4:6");
	expect_usage(&r, "create: --listen: '1.2.3.4' is not ADDR:PORT");
	CTL(&r, "create", "--listen", "::1:5", "--forward", "1.2.3.4:6");
	expect_usage(&r, "create: --listen: '::1:5' is not ADDR:PORT");
	CTL(&r, "create", "--listen", "1.2.3.4:65536");
	expect_usage(&r, "create: --listen: '1.2.3.4:65536' is not ADDR:PORT");
	CTL(&r, "create", "--listen", "1.2.3.4:5", "--forward", "[::1]:6");
	expect_usage(&r, "rtpproxyctl: create: --destination ADDR:PORT is required\n");
	CTL(&r, "create", "--listen", "1.2.3.4:5", "--forward", "1.2.3.4:6", "--destination",
		"1.2.3.5:7", "--label", "novalue");
	expect_usage(&r, "create: --label: 'novalue' is not KEY=VALUE");
	CTL(&r, "create", "--listen", "1.2.3.4:5", "--forward", "1.2.3.4:6", "--destination",
		"1.2.3.5:7", "--rate-pps", "-1");
	expect_usage(&r, "create: --rate-pps: '-1' is not a number");
	CTL(&r, "create", "--listen", "1.2.3.4:5", "--forward", "1.2.3.4:6", "--destination",
		"1.2.3.5:7", "--latch-mode", "sticky");
	expect_usage(&r, "create: --latch-mode: 'sticky' is not ssrc, first or any");
	CTL(&r, "get");
	expect_usage(&r, "rtpproxyctl: get: missing session ID\n");
	CTL(&r, "destroy", "a", "b");
	expect_usage(&r, "rtpproxyctl: destroy: unexpected argument 'b'\n");
	CTL(&r, "list", "--state", "sleepy");
	expect_usage(&r, "list: --state: 'sleepy' is not one of");
	CTL(&r, "list", "--transport", "sctp");
	expect_usage(&r, "list: --transport: 'sctp' is not udp or tcp");
	CTL(&r, "watch", "--interval", "soon");
	expect_usage(&r, "watch: --interval: 'soon' is not a number");
	CTL(&r, "stats", "extra");
	expect_usage(&r, "stats: unexpected argument 'extra'");
	CTL(&r, "--timeout", "0", "stats");
	expect_usage(&r, "--timeout: '0' is not a number");
	CHECK(atomic_load(&F.unary_calls) == 0);    /* nothing reached the server */
}

static void test_rpc_errors(void)
{
	struct result r;

	CTL(&r, "get", "nope");
	CHECK(r.status == 1);
	CHECK(strcmp(r.err, "rtpproxyctl: NOT_FOUND: session_id: no session \"nope\"\n") == 0);
	CHECK(r.out[0] == '\0');
	CTL(&r, "--json", "destroy", "gone");
	CHECK(r.status == 1);
	CHECK(strcmp(r.err, "rtpproxyctl: NOT_FOUND: session_id: no session \"gone\"\n") == 0);
	CTL(&r, "create", "--id", "dup", "--listen", "1.2.3.4:5", "--forward", "1.2.3.4:6",
		"--destination", "1.2.3.5:7");
	CHECK(r.status == 1);
	CHECK(strcmp(r.err, "rtpproxyctl: ALREADY_EXISTS: session_id: \"dup\" is already used\n")
		== 0);
	/* the security options' files: named when they cannot be used; no call is made */
	int before = atomic_load(&F.unary_calls);
	CTL(&r, "--tls-ca", "/nonexistent/ca.pem", "get", "x");
	CHECK(r.status == 1);
	CHECK(strcmp(r.err, "rtpproxyctl: --tls-ca: cannot read /nonexistent/ca.pem: "
		"No such file or directory\n") == 0);
	CTL(&r, "--tls-cert", "/nonexistent/c.pem", "--tls-key", "/nonexistent/k.pem", "get", "x");
	CHECK(r.status == 1);
	CHECK(strcmp(r.err, "rtpproxyctl: --tls-cert/--tls-key need --tls-ca\n") == 0);
	CTL(&r, "--token-file", "/nonexistent/token", "get", "x");
	CHECK(r.status == 2);
	CHECK(strcmp(r.err, "rtpproxyctl: --token-file: cannot read /nonexistent/token: "
		"No such file or directory\n") == 0);
	CHECK(atomic_load(&F.unary_calls) == before);
	/* Port 1 on loopback: nobody listens. */
	CTL_BARE(&r, "--server", "127.0.0.1:1", "--timeout", "3000", "get", "x");
	CHECK(r.status == 1);
	CHECK(strncmp(r.err, "rtpproxyctl: UNAVAILABLE: ", 26) == 0);
}

static void test_create(void)
{
	struct result r;

	CTL(&r, "create", "--listen", "198.18.1.1:20000", "--forward", "[2001:db8::1]:0",
		"--destination", "198.18.2.2:30000", "--id", "abc", "--tcp", "--rtcp",
		"--bidirectional", "--idle-timeout", "42", "--rate-pps", "100", "--rate-bps",
		"18446744073709551615", "--validate-rtp", "--label", "a=b", "--label", "c=d=e",
		"--latch-mode", "any", "--strict-source");
	CHECK(r.status == 0);
	CHECK(r.err[0] == '\0');
	OUT_HAS(&r, "session abc\n");
	OUT_HAS(&r, "  state         CONNECTING\n");
	OUT_HAS(&r, "  transport     tcp\n");
	OUT_HAS(&r, "  listen        198.18.1.1:20000\n");
	OUT_HAS(&r, "  forward       [2001:db8::1]:0\n");
	OUT_HAS(&r, "  destination   198.18.2.2:30000\n");
	OUT_HAS(&r, "  options       rtcp on, bidirectional on, idle timeout 42 s\n");
	OUT_HAS(&r, "  latching      mode any, strict source on\n");
	OUT_HAS(&r, "  created       2023-11-14 22:13:20.123 UTC\n");
	OUT_HAS(&r, "  labels        a=b c=d=e\n");

	Rtpproxy__CreateSessionRequest *q = rtpproxy__create_session_request__unpack(NULL,
		(size_t)atomic_load(&F.last_len_create), F.last_create);
	CHECK(q != NULL);
	CHECK(strcmp(q->session_id, "abc") == 0);
	CHECK(strcmp(q->listen_endpoint->address, "198.18.1.1") == 0);
	CHECK(q->listen_endpoint->port == 20000);
	CHECK(strcmp(q->forward_endpoint->address, "2001:db8::1") == 0);
	CHECK(q->forward_endpoint->port == 0);
	CHECK(strcmp(q->destination_endpoint->address, "198.18.2.2") == 0);
	CHECK(q->destination_endpoint->port == 30000);
	CHECK(q->transport == RTPPROXY__TRANSPORT__TRANSPORT_TCP);
	CHECK(q->enable_rtcp && q->bidirectional && q->validate_rtp);
	CHECK(q->idle_timeout_secs == 42);
	CHECK(q->rate_limit_pps == 100);
	CHECK(q->rate_limit_bps == 18446744073709551615ULL);
	CHECK(q->latch_mode == RTPPROXY__LATCH_MODE__LATCH_MODE_ANY && q->strict_source);
	CHECK(q->n_labels == 2);
	CHECK(strcmp(q->labels[0]->key, "a") == 0 && strcmp(q->labels[0]->value, "b") == 0);
	CHECK(strcmp(q->labels[1]->key, "c") == 0 && strcmp(q->labels[1]->value, "d=e") == 0);
	rtpproxy__create_session_request__free_unpacked(q, NULL);

	/* Defaults: udp, nothing on; options may follow the command. */
	CTL(&r, "create", "--listen", "0.0.0.0:0", "--forward", "198.18.2.1:0",
		"--destination", "198.18.2.2:30000", "--json");
	CHECK(r.status == 0);
	CHECK(count_lines(r.out) == 1);
	json_check(&r, "s = L[0]['session']\n"
		"assert s['session_id'] == 'generated-1', s\n"
		"assert s['transport'] == 'TRANSPORT_UDP'\n"
		"assert s['state'] == 'SESSION_STATE_CONNECTING'\n"
		"assert s['listen_endpoint'] == {'address': '0.0.0.0', 'port': 0}\n"
		"assert s['idle_timeout_secs'] == 300 and s['enable_rtcp'] is False\n"
		"assert s['labels'] == {}\n"
		"assert s['latch_mode'] == 'LATCH_MODE_SSRC' and s['strict_source'] is False\n");
	q = rtpproxy__create_session_request__unpack(NULL,
		(size_t)atomic_load(&F.last_len_create), F.last_create);
	CHECK(q != NULL && q->transport == RTPPROXY__TRANSPORT__TRANSPORT_UDP);
	CHECK(!q->enable_rtcp && !q->bidirectional && !q->validate_rtp && q->n_labels == 0);
	CHECK(q->latch_mode == RTPPROXY__LATCH_MODE__LATCH_MODE_SSRC && !q->strict_source);
	CHECK(q->rate_limit_pps == 0 && q->idle_timeout_secs == 0 && q->session_id[0] == '\0');
	rtpproxy__create_session_request__free_unpacked(q, NULL);
}

static void test_get_destroy(void)
{
	struct result r;

	CTL(&r, "get", "s1");
	CHECK(r.status == 0);
	OUT_HAS(&r, "session s1\n  state         ACTIVE\n  transport     udp\n");
	OUT_HAS(&r, "  latched       198.18.1.2:40000\n");
	OUT_HAS(&r, "  latching      mode first, strict source on\n");
	OUT_HAS(&r, "  labels        call=abc leg=a\n");
	OUT_HAS(&r, "  stats         received 1000 packets / 172000 bytes, "
		"sent 990 packets / 170280 bytes\n");
	OUT_HAS(&r, "dropped 10, lost 5, loss_rate 0.0050, jitter_ms 1.250, "
		"latency_ms avg 0.012 max 0.500\n");
	OUT_HAS(&r, "  reverse       received 500 packets");
	OUT_HAS(&r, "  rtcp          received 10 packets");
	OUT_HAS(&r, "last activity 2023-11-14 22:14:20.123 UTC\n");

	CTL(&r, "get", "s1", "--json");
	CHECK(r.status == 0 && count_lines(r.out) == 1);
	json_check(&r, "s = L[0]['session']\n"
		"assert s['session_id'] == 's1' and s['state'] == 'SESSION_STATE_ACTIVE'\n"
		"assert s['stats']['packets_received'] == 1000\n"
		"assert s['stats']['jitter_ms'] == 1.25 and s['stats']['loss_rate'] == 5 / 1005\n"
		"assert s['labels'] == {'call': 'abc', 'leg': 'a'}\n"
		"assert s['latched_source'] == {'address': '198.18.1.2', 'port': 40000}\n"
		"assert s['latch_mode'] == 'LATCH_MODE_FIRST' and s['strict_source'] is True\n"
		"assert s['created_unix_ms'] == 1700000000123\n");

	CTL(&r, "--json", "get", "weird");
	CHECK(r.status == 0);
	json_check(&r, "s = L[0]['session']\n"
		"assert s['error_message'] == 'bad \"quote\" \\\\ back\\n\\ttab \\x01 \\u00fc "
		"\\u20ac \\ufffd end', repr(s['error_message'])\n"
		"assert s['state'] == 'SESSION_STATE_ERROR'\n");
	CTL(&r, "get", "weird");
	OUT_HAS(&r, "  listen        [2001:db8::1]:5004\n");
	OUT_HAS(&r, "  state         ERROR\n");

	CTL(&r, "destroy", "s1");
	CHECK(r.status == 0);
	OUT_HAS(&r, "session s1\n  state         CLOSED\n");
}

static void test_list(void)
{
	struct result r;

	CTL(&r, "list", "--page-size", "2");
	CHECK(r.status == 0);
	OUT_HAS(&r, "session list-0\n");
	OUT_HAS(&r, "\nsession list-1\n");
	OUT_HAS(&r, "\n2 sessions\nmore: rtpproxyctl list --page-token 2\n");
	CHECK(strstr(r.out, "list-2") == NULL);

	CTL(&r, "list", "--page-size", "2", "--page-token", "4");
	CHECK(r.status == 0);
	OUT_HAS(&r, "session list-4\n");
	OUT_HAS(&r, "\n1 session\n");
	CHECK(strstr(r.out, "more:") == NULL);

	CTL(&r, "list", "--page-size", "2", "--all-pages", "--json");
	CHECK(r.status == 0 && count_lines(r.out) == 3);
	json_check(&r, "ids = [s['session_id'] for p in L for s in p['sessions']]\n"
		"assert ids == ['list-%d' % i for i in range(5)], ids\n"
		"assert [p['next_page_token'] for p in L] == ['2', '4', '']\n"
		"assert L[0]['sessions'][1]['state'] == 'SESSION_STATE_CONNECTING'\n");

	CTL(&r, "list", "--state", "active", "--state", "SESSION_STATE_CLOSED", "--state", "Error",
		"--transport", "tcp", "--label", "k=v", "--label", "x=");
	CHECK(r.status == 0);
	OUT_HAS(&r, "session list-3\n");
	OUT_HAS(&r, "  labels        k=v x=\n");
	OUT_HAS(&r, "\n1 session\n");
	Rtpproxy__ListSessionsRequest *q = rtpproxy__list_sessions_request__unpack(NULL,
		(size_t)atomic_load(&F.last_len_list), F.last_list);
	CHECK(q != NULL);
	CHECK(q->n_states == 3);
	CHECK(q->states[0] == RTPPROXY__SESSION_STATE__SESSION_STATE_ACTIVE);
	CHECK(q->states[1] == RTPPROXY__SESSION_STATE__SESSION_STATE_CLOSED);
	CHECK(q->states[2] == RTPPROXY__SESSION_STATE__SESSION_STATE_ERROR);
	CHECK(q->n_transports == 1 && q->transports[0] == RTPPROXY__TRANSPORT__TRANSPORT_TCP);
	CHECK(q->n_label_selector == 2);
	CHECK(strcmp(q->label_selector[1]->key, "x") == 0);
	CHECK(strcmp(q->label_selector[1]->value, "") == 0);
	CHECK(q->page_size == 0 && q->page_token[0] == '\0');
	rtpproxy__list_sessions_request__free_unpacked(q, NULL);

	CTL(&r, "list", "--page-token", "zzz");
	CHECK(r.status == 1);
	CHECK(strcmp(r.err, "rtpproxyctl: INVALID_ARGUMENT: page_token: \"zzz\" is not a token "
		"of ours\n") == 0);
}

static void test_stats(void)
{
	struct result r;

	CTL(&r, "stats");
	CHECK(r.status == 0);
	OUT_HAS(&r, "version          9.9.9\n");
	OUT_HAS(&r, "uptime           1d 01:01:01.001\n");
	OUT_HAS(&r, "sessions         active 3, created 10, closed 7\n");
	OUT_HAS(&r, "port 1 port1     rx 101 packets / 18446744073709551614 bytes, "
		"tx 201 packets / 4000 bytes\n");
	OUT_HAS(&r, "rx_missed 1, tx_failed 2, exception_packets 3\n");
	OUT_HAS(&r, "drops            malformed=0 rate_limit=5 no_flow=10\n");
	OUT_HAS(&r, "worker 0         lcore 1, relayed 1000, busy 25.0% of iterations, "
		"123.5 cycles/packet\n");
	OUT_HAS(&r, "worker 1         lcore 2, relayed 0, busy 0.0% of iterations\n");
	OUT_HAS(&r, "state            redis DOWN, active edge-1 of edge-1, lease epoch 7\n"
		"                 queue 12, last checkpoint 2.5 s ago, writes 99, resyncs 1, "
		"restored 3\n");

	CTL(&r, "stats", "--json");
	CHECK(r.status == 0 && count_lines(r.out) == 1);
	json_check(&r, "d = L[0]\n"
		"assert d['ports'][0]['rx_bytes'] == 18446744073709551615\n"
		"assert d['drops'] == {'malformed': 0, 'rate_limit': 5, 'no_flow': 10}\n"
		"assert d['uptime_ms'] == 90061001 and d['version'] == '9.9.9'\n"
		"assert d['sessions_active'] == 3\n"
		"assert d['workers'][0]['busy_cycles'] == 123456\n"
		"assert d['workers'][0]['tsc_hz'] == 2600000000\n"
		"assert d['state']['queue_depth'] == 12 and d['state']['role'] == 'active'\n");
}

static void test_watch(void)
{
	struct result r;
	int closed = atomic_load(&F.closed_total);

	CTL(&r, "watch", "--session", "count:6", "--json", "--interval", "1000");
	CHECK(r.status == 0);
	CHECK(r.err[0] == '\0');
	CHECK(count_lines(r.out) == 6);
	json_check(&r, "kinds = [[k for k in e if k not in ('session_id', 'timestamp_unix_ms')]"
		" for e in L]\n"
		"assert kinds == [['created'], ['state_changed'], ['stats_update'], ['error'], "
		"['closed'], ['created']], kinds\n"
		"assert [e['session_id'] for e in L] == ['ev-%d' % i for i in range(6)]\n"
		"assert L[1]['state_changed']['new_state'] == 'SESSION_STATE_CONNECTING'\n"
		"assert L[4]['closed']['reason'] == 'destroyed'\n");

	CTL(&r, "watch", "--session", "count:5");
	CHECK(r.status == 0);
	CHECK(count_lines(r.out) == 5);
	OUT_HAS(&r, "ev-0  created udp CREATED, listen 198.18.1.1:20000, destination "
		"198.18.2.2:30000\n");
	OUT_HAS(&r, "ev-1  state CREATED -> CONNECTING\n");
	OUT_HAS(&r, "ev-2  stats received 2/344 B, sent 2/344 B, dropped 0, lost 0, "
		"jitter_ms 1.250\n");
	OUT_HAS(&r, "ev-3  error error 3\n");
	OUT_HAS(&r, "ev-4  closed reason destroyed; received 4/688 B");

	CTL(&r, "watch", "--session", "missing");
	CHECK(r.status == 1);
	CHECK(strcmp(r.err, "rtpproxyctl: NOT_FOUND: session_id: no session \"missing\"\n") == 0);

	CTL(&r, "watch", "--session", "fail:2");
	CHECK(r.status == 1 && count_lines(r.out) == 2);
	CHECK(strcmp(r.err, "rtpproxyctl: ABORTED: boom after 2\n") == 0);
	CHECK(WAIT_UNTIL(atomic_load(&F.closed_total) == closed + 3, 5000));
}

/* watch runs until SIGINT, then exits 0, and the server sees the stream go. */
static void test_watch_sigint(void)
{
	char out[256], err[256], text[65536];
	int hold = atomic_load(&F.closed_hold);
	char *argv[] = { (char *)ctl_path, "--server", server, "watch", "--session", "hold",
		NULL };

	snprintf(out, sizeof(out), "%s/watch.out", tmpdir);
	snprintf(err, sizeof(err), "%s/watch.err", tmpdir);
	pid_t pid = spawn(argv, out, err);
	bool three = false;
	for (int i = 0; i < 10000 && !three; i++) {
		usleep(1000);
		slurp(out, text, sizeof(text));
		three = count_lines(text) == 3;
	}
	CHECK(three);
	usleep(100 * 1000);
	CHECK(atomic_load(&F.closed_hold) == hold);     /* still watching */
	CHECK(kill(pid, SIGINT) == 0);
	CHECK(wait_exit(pid) == 0);
	CHECK(WAIT_UNTIL(atomic_load(&F.closed_hold) == hold + 1, 5000));

	/* A client killed outright: the server learns it from the connection. */
	pid = spawn(argv, out, err);
	three = false;
	for (int i = 0; i < 10000 && !three; i++) {
		usleep(1000);
		slurp(out, text, sizeof(text));
		three = count_lines(text) == 3;
	}
	CHECK(three);
	CHECK(kill(pid, SIGKILL) == 0);
	CHECK(wait_exit(pid) == 128 + SIGKILL);
	CHECK(WAIT_UNTIL(atomic_load(&F.closed_hold) == hold + 2, 5000));
}

static void *client_main(void *arg)
{
	(void)arg;
	snprintf(server, sizeof(server), "127.0.0.1:%d", F.port);
	RUN(test_help_version);
	RUN(test_usage_errors);
	RUN(test_rpc_errors);
	RUN(test_create);
	RUN(test_get_destroy);
	RUN(test_list);
	RUN(test_stats);
	RUN(test_watch);
	RUN(test_watch_sigint);
	atomic_store(&F.stop, true);
	return NULL;
}

int main(int argc, char **argv)
{
	pthread_t client;
	char cmd[512];

	if (argc < 2) {
		fprintf(stderr, "usage: test_rtpproxyctl RTPPROXYCTL [PYTHON3]\n");
		return 1;
	}
	ctl_path = argv[1];
	python = argc > 2 && argv[2][0] != '\0' ? argv[2] : NULL;
	if (python == NULL)
		printf("no python3: --json output is not parsed back\n");
	CHECK(mkdtemp(tmpdir) != NULL);
	CHECK(fake_start(&F));
	CHECK(pthread_create(&client, NULL, client_main, NULL) == 0);
	fake_serve(&F);
	CHECK(pthread_join(client, NULL) == 0);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	CHECK(system(cmd) == 0);
	printf("test_rtpproxyctl: %d passed, 0 failed\n", passed);
	return 0;
}
