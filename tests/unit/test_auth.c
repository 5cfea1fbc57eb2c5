/*
 * The control API's security pieces without a server: the tokens file (good, every kind of
 * bad line, reload), roles per method, the constant-time compare, Bearer parsing, peers
 * (grpc's peer strings, IPv4-mapped IPv6, unix sockets) against allowed_peers, and the audit
 * trail's JSON lines (escaping, reopen after a move).
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "audit.h"
#include "auth.h"
#include "check.h"

static char dir[] = "/tmp/test_auth.XXXXXX";
static char path[256];

static void write_file(const char *text)
{
	FILE *f = fopen(path, "w");
	fputs(text, f);
	fclose(f);
}

/* Load text as a tokens file; NULL and err set on error. */
static struct auth_tokens *load(const char *text, char *err, size_t errlen)
{
	write_file(text);
	err[0] = '\0';
	return auth_tokens_load(path, err, errlen);
}

static bool err_is(const char *err, const char *line_and_msg)
{
	char want[512];
	snprintf(want, sizeof(want), "%s:%s", path, line_and_msg);
	if (strcmp(err, want) != 0) {
		fprintf(stderr, "  got  \"%s\"\n  want \"%s\"\n", err, want);
		return false;
	}
	return true;
}

#define ADMIN_TOK "adm1n-0123456789abcdef"
#define READ_TOK "re4d-0123456789abcdef"

static void test_tokens_file(void)
{
	char err[512];
	struct auth_tokens *t = load("# tokens\n\n  " ADMIN_TOK " admin ops\n"
			"\t" READ_TOK "\tread\tmonitor  \r\n   # indented comment\n", err, sizeof(err));
	CHECK(t != NULL);
	if (t == NULL)
		return;
	CHECK_EQ_U(t->n, 2);
	const struct auth_token *a = auth_tokens_find(t, ADMIN_TOK, strlen(ADMIN_TOK));
	CHECK(a != NULL && a->role == AUTH_ROLE_ADMIN && strcmp(a->name, "ops") == 0);
	CHECK(a != NULL && a->line == 3);
	const struct auth_token *r = auth_tokens_find(t, READ_TOK, strlen(READ_TOK));
	CHECK(r != NULL && r->role == AUTH_ROLE_READ && strcmp(r->name, "monitor") == 0);
	/* prefixes, extensions, one byte off, empty: none matches */
	CHECK(auth_tokens_find(t, ADMIN_TOK, strlen(ADMIN_TOK) - 1) == NULL);
	CHECK(auth_tokens_find(t, ADMIN_TOK "x", strlen(ADMIN_TOK) + 1) == NULL);
	CHECK(auth_tokens_find(t, "adm1n-0123456789abcdeF", strlen(ADMIN_TOK)) == NULL);
	CHECK(auth_tokens_find(t, "", 0) == NULL);
	CHECK(auth_tokens_find(NULL, ADMIN_TOK, strlen(ADMIN_TOK)) == NULL);
	auth_tokens_free(t);

	/* bad files: the line named, the token never in the message */
	CHECK(load(ADMIN_TOK " admin\n", err, sizeof(err)) == NULL);
	CHECK(err_is(err, "1: expected \"TOKEN ROLE NAME\" (three words)"));
	CHECK(load("# x\n" ADMIN_TOK " admin ops extra\n", err, sizeof(err)) == NULL);
	CHECK(err_is(err, "2: expected \"TOKEN ROLE NAME\" (three words)"));
	CHECK(load(ADMIN_TOK " root ops\n", err, sizeof(err)) == NULL);
	CHECK(err_is(err, "1: ROLE: expected admin or read"));
	CHECK(load("\n\nshort admin ops\n", err, sizeof(err)) == NULL);
	CHECK(err_is(err, "3: TOKEN: expected 16..256 printable characters"));
	CHECK(load(ADMIN_TOK " admin ops\n" ADMIN_TOK " read other\n", err, sizeof(err)) == NULL);
	CHECK(err_is(err, "2: the same token as line 1"));
	CHECK(strstr(err, ADMIN_TOK) == NULL);
	CHECK(load(ADMIN_TOK " admin "
			"a-name-that-is-much-longer-than-sixty-three-characters-allowed-for-it\n",
			err, sizeof(err)) == NULL);
	CHECK(err_is(err, "1: NAME: expected 1..63 printable characters"));
	char tok_ctl[] = ADMIN_TOK " admin ops\n";
	tok_ctl[3] = '\x01';
	CHECK(load(tok_ctl, err, sizeof(err)) == NULL);
	CHECK(err_is(err, "1: TOKEN: expected 16..256 printable characters"));
	CHECK(load("# only comments\n\n", err, sizeof(err)) == NULL);
	CHECK(strstr(err, "no tokens") != NULL);
	char big[1200];
	memset(big, 'a', sizeof(big) - 2);
	big[sizeof(big) - 2] = '\n';
	big[sizeof(big) - 1] = '\0';
	CHECK(load(big, err, sizeof(err)) == NULL);
	CHECK(err_is(err, "1: line longer than 1024 characters"));
	unlink(path);
	CHECK(auth_tokens_load(path, err, sizeof(err)) == NULL);
	CHECK(strstr(err, "cannot open") != NULL);

	/* reload: a new file gives a new table; the caller swaps it in (guard_reload) */
	t = load(ADMIN_TOK " admin ops\n", err, sizeof(err));
	struct auth_tokens *t2 = load("new-admin-token-000000 admin ops2\n", err, sizeof(err));
	CHECK(t != NULL && t2 != NULL);
	if (t2 != NULL) {
		CHECK(auth_tokens_find(t2, ADMIN_TOK, strlen(ADMIN_TOK)) == NULL);
		CHECK(auth_tokens_find(t2, "new-admin-token-000000", 22) != NULL);
	}
	if (t != NULL)
		CHECK(auth_tokens_find(t, ADMIN_TOK, strlen(ADMIN_TOK)) != NULL);
	auth_tokens_free(t);
	auth_tokens_free(t2);
}

static void test_compare_and_bearer(void)
{
	CHECK(auth_const_eq("abc", 3, "abc", 3));
	CHECK(!auth_const_eq("abc", 3, "abd", 3));
	CHECK(!auth_const_eq("abc", 3, "ab", 2));
	CHECK(!auth_const_eq("ab", 2, "abc", 3));
	CHECK(!auth_const_eq("abc", 3, "abc\0", 4));
	CHECK(auth_const_eq("", 0, "", 0));

	const char *tok;
	size_t len;
	const char *v = "Bearer secret-token";
	CHECK(auth_bearer(v, strlen(v), &tok, &len) && len == 12 && memcmp(tok, "secret-token", 12) == 0);
	v = "bearer  x";
	CHECK(auth_bearer(v, strlen(v), &tok, &len) && len == 1 && tok[0] == 'x');
	v = "Basic dXNlcjpwYXNz";
	CHECK(!auth_bearer(v, strlen(v), &tok, &len));
	v = "Bearer ";
	CHECK(!auth_bearer(v, strlen(v), &tok, &len));
	v = "Bearersecret";
	CHECK(!auth_bearer(v, strlen(v), &tok, &len));
}

static void test_roles(void)
{
	static const char *const reads[] = {
		"/rtpproxy.RtpProxy/GetSessionStatus", "/rtpproxy.RtpProxy/ListSessions",
		"/rtpproxy.RtpProxy/StreamSessionEvents", "/rtpproxy.RtpProxy/GetProxyStats",
		"/grpc.health.v1.Health/Check", "/grpc.health.v1.Health/Watch",
		"/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
	};
	static const char *const admins[] = {
		"/rtpproxy.RtpProxy/CreateSession", "/rtpproxy.RtpProxy/DestroySession",
		"/rtpproxy.RtpProxy/SomethingNew", "/rtpproxy.RtpProxy/GetProxyStatsX",
		"/other.Svc/GetProxyStats", "",
	};
	for (size_t i = 0; i < sizeof(reads) / sizeof(reads[0]); i++) {
		CHECK(auth_role_needed(reads[i]) == AUTH_ROLE_READ);
		CHECK(auth_role_allows(AUTH_ROLE_READ, auth_role_needed(reads[i])));
		CHECK(auth_role_allows(AUTH_ROLE_ADMIN, auth_role_needed(reads[i])));
	}
	for (size_t i = 0; i < sizeof(admins) / sizeof(admins[0]); i++) {
		CHECK(auth_role_needed(admins[i]) == AUTH_ROLE_ADMIN);
		CHECK(!auth_role_allows(AUTH_ROLE_READ, auth_role_needed(admins[i])));
		CHECK(auth_role_allows(AUTH_ROLE_ADMIN, auth_role_needed(admins[i])));
	}
	CHECK(strcmp(auth_role_name(AUTH_ROLE_ADMIN), "admin") == 0);
	CHECK(strcmp(auth_role_name(AUTH_ROLE_READ), "read") == 0);
}

static struct auth_net net(int family, const char *addr, uint8_t len)
{
	struct auth_net n = { .family = family, .len = len };
	inet_pton(family, addr, n.addr);
	return n;
}

static void test_peers(void)
{
	struct auth_peer p;

	CHECK(auth_peer_parse("ipv4:198.18.1.2:40000", &p) == 0);
	CHECK(p.family == AF_INET && p.port == 40000 && !p.local);
	CHECK(strcmp(p.text, "198.18.1.2:40000") == 0);
	CHECK(auth_peer_parse("ipv6:[2001:db8::1]:5", &p) == 0);
	CHECK(p.family == AF_INET6 && p.port == 5 && strcmp(p.text, "[2001:db8::1]:5") == 0);
	CHECK(auth_peer_parse("ipv6:[::ffff:127.0.0.1]:6", &p) == 0);
	CHECK(p.family == AF_INET && strcmp(p.text, "127.0.0.1:6") == 0);
	CHECK(auth_peer_parse("ipv6:%5B2001:db8::2%5D:8", &p) == 0);   /* grpc 1.51's form */
	CHECK(p.family == AF_INET6 && p.port == 8 && strcmp(p.text, "[2001:db8::2]:8") == 0);
	CHECK(auth_peer_parse("ipv6:%5B::ffff:10.0.0.1%5D:9", &p) == 0);
	CHECK(p.family == AF_INET && strcmp(p.text, "10.0.0.1:9") == 0);
	CHECK(auth_peer_parse("ipv6:[fe80::1%25eth0]:7", &p) == 0);
	CHECK(p.family == AF_INET6 && strcmp(p.text, "[fe80::1]:7") == 0);
	CHECK(auth_peer_parse("unix:/tmp/x.sock", &p) == 0 && p.local);
	CHECK(strcmp(p.text, "unix") == 0);
	CHECK(auth_peer_parse("unix-abstract:x", &p) == 0 && p.local);
	static const char *const bad[] = {
		"", "ipv4:", "ipv4:1.2.3.4", "ipv4:1.2.3.4:", "ipv4:1.2.3.4:70000", "ipv4:1.2.3:5",
		"ipv6:::1:5", "ipv6:[::1]", "ipv6:[::1]5", "ipv6:[zz]:5", "tcp:1.2.3.4:5",
		"ipv4:1.2.3.4:5x", "ipv6:%5B::1%5D%00:5", "ipv6:%5B::1%5:5",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int rc = auth_peer_parse(bad[i], &p);
		CHECK(rc == -1);
		if (rc != -1)
			fprintf(stderr, "  parsed \"%s\"\n", bad[i]);
	}

	struct auth_net nets[3] = {
		net(AF_INET, "10.0.0.0", 8), net(AF_INET, "192.168.1.128", 25),
		net(AF_INET6, "2001:db8::", 32),
	};
	static const struct { const char *peer; bool ok; } cases[] = {
		{ "ipv4:10.1.2.3:1", true }, { "ipv4:11.0.0.1:1", false },
		{ "ipv4:192.168.1.128:1", true }, { "ipv4:192.168.1.255:1", true },
		{ "ipv4:192.168.1.127:1", false },
		{ "ipv6:[::ffff:10.9.9.9]:1", true },           /* mapped: checked as IPv4 */
		{ "ipv6:[::ffff:127.0.0.1]:1", false },
		{ "ipv6:[2001:db8:1::5]:1", true }, { "ipv6:[2001:db9::5]:1", false },
		{ "ipv6:[::1]:1", false }, { "unix:/run/rtpproxy.sock", true },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		CHECK(auth_peer_parse(cases[i].peer, &p) == 0);
		bool ok = auth_peer_allowed(&p, nets, 3);
		CHECK(ok == cases[i].ok);
		if (ok != cases[i].ok)
			fprintf(stderr, "  %s: allowed %d\n", cases[i].peer, ok);
		CHECK(auth_peer_allowed(&p, nets, 0));         /* no list: anyone */
	}
	struct auth_net all4 = net(AF_INET, "0.0.0.0", 0);
	CHECK(auth_peer_parse("ipv4:8.8.8.8:1", &p) == 0 && auth_peer_allowed(&p, &all4, 1));
	CHECK(auth_peer_parse("ipv6:[2001:db8::1]:1", &p) == 0 && !auth_peer_allowed(&p, &all4, 1));
}

static char *slurp(const char *file)
{
	static char buf[8192];
	FILE *f = fopen(file, "r");
	size_t n = 0;
	if (f != NULL) {
		n = fread(buf, 1, sizeof(buf) - 1, f);
		fclose(f);
	}
	buf[n] = '\0';
	return buf;
}

static char logged[1024];
static void log_line(const char *line)
{
	snprintf(logged, sizeof(logged), "%s", line);
}

static void test_audit(void)
{
	char line[AUDIT_LINE_MAX], err[256], moved[300];
	struct audit_record r = {
		.ts_ms = 1764628800123, .peer = "127.0.0.1:4000", .principal = "o\"p\\s\n\x01\xc3\xa9",
		.method = "CreateSession", .session_id = "s-1", .code = 16,
	};
	size_t n = audit_format(line, sizeof(line), &r);
	const char *want = "{\"ts\":1764628800123,\"peer\":\"127.0.0.1:4000\",\"principal\":"
			"\"o\\\"p\\\\s\\n\\u0001\\u00c3\\u00a9\",\"method\":\"CreateSession\","
			"\"session_id\":\"s-1\",\"code\":\"UNAUTHENTICATED\"}\n";
	CHECK(n == strlen(want) && strcmp(line, want) == 0);
	if (strcmp(line, want) != 0)
		fprintf(stderr, "  got  %s  want %s", line, want);
	CHECK(audit_format(line, 40, &r) == 0);          /* too small: nothing half-written */
	CHECK(strcmp(audit_code_name(0), "OK") == 0);
	CHECK(strcmp(audit_code_name(7), "PERMISSION_DENIED") == 0);
	CHECK(strcmp(audit_code_name(99), "UNKNOWN") == 0);
	/* a huge field is cut, the line still fits */
	static char huge[10000];
	memset(huge, '\x02', sizeof(huge) - 1);
	r.session_id = huge;
	n = audit_format(line, sizeof(line), &r);
	CHECK(n > 0 && n < sizeof(line));
	r.session_id = "s-1";

	/* to a file; a reopen after a move starts a new file */
	snprintf(path, sizeof(path), "%s/audit.log", dir);
	snprintf(moved, sizeof(moved), "%s/audit.log.1", dir);
	struct audit *a = audit_open(path, log_line, err, sizeof(err));
	CHECK(a != NULL);
	if (a == NULL)
		return;
	r.code = 0;
	CHECK(audit_write(a, &r) == 0);
	CHECK(rename(path, moved) == 0);
	r.session_id = "s-2";
	CHECK(audit_write(a, &r) == 0);                  /* still the moved file */
	CHECK(audit_reopen(a, err, sizeof(err)) == 0);
	r.session_id = "s-3";
	CHECK(audit_write(a, &r) == 0);
	CHECK(strstr(slurp(moved), "\"s-1\"") != NULL && strstr(slurp(moved), "\"s-2\"") != NULL);
	CHECK(strstr(slurp(path), "\"s-3\"") != NULL && strstr(slurp(path), "\"s-2\"") == NULL);
	CHECK(logged[0] == '\0');
	audit_close(a);
	unlink(moved);
	unlink(path);

	/* a directory that is not there: an error naming the key and the file */
	char bad[300];
	snprintf(bad, sizeof(bad), "%s/nope/audit.log", dir);
	CHECK(audit_open(bad, log_line, err, sizeof(err)) == NULL);
	CHECK(strncmp(err, "[audit] file: cannot open ", 26) == 0);

	/* no file: the log function gets the line, without its newline */
	a = audit_open("", log_line, err, sizeof(err));
	CHECK(a != NULL);
	if (a != NULL) {
		CHECK(audit_write(a, &r) == 0);
		CHECK(strncmp(logged, "{\"ts\":", 6) == 0 && logged[strlen(logged) - 1] == '}');
		CHECK(audit_reopen(a, err, sizeof(err)) == 0);
		audit_close(a);
	}
}

int main(void)
{
	if (mkdtemp(dir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	snprintf(path, sizeof(path), "%s/tokens", dir);
	test_tokens_file();
	test_compare_and_bearer();
	test_roles();
	test_peers();
	test_audit();
	unlink(path);
	rmdir(dir);
	return check_summary("auth");
}
