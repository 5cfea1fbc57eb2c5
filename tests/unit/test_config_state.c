/*
 * The [state] section (API.md 1.6): defaults, every key's accepted values, and every bad
 * value stopping start-up with one line naming the file, the section and the key.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "config.h"

#define PORT0 "[port0]\ndevice = net_tap0\naddress = 198.18.1.1/24\n"

static char path[64];

static int load(const char *text, struct config *cfg, char *err, size_t errlen)
{
	FILE *f = fopen(path, "w");
	if (f == NULL || fputs(text, f) < 0 || fclose(f) != 0) {
		perror(path);
		exit(1);
	}
	err[0] = '\0';
	return config_load(path, cfg, err, errlen);
}

static bool msg_is(const char *err, const char *want)
{
	char full[1024];
	snprintf(full, sizeof(full), "%s: %s", path, want);
	if (strcmp(err, full) == 0)
		return true;
	fprintf(stderr, "  got  \"%s\"\n  want \"%s\"\n", err, full);
	return false;
}

static void test_defaults(void)
{
	static struct config cfg;
	char err[512], host[256] = "";
	CHECK(load(PORT0, &cfg, err, sizeof(err)) == 0);
	gethostname(host, sizeof(host));
	CHECK(!cfg.state_redis && !cfg.state_standby);
	CHECK(strcmp(cfg.state_redis_host, "127.0.0.1") == 0);
	CHECK_EQ_U(cfg.state_redis_port, 6379);
	CHECK(strcmp(cfg.state_key_prefix, "rtpproxy:") == 0);
	CHECK(strcmp(cfg.state_instance, host) == 0);
	CHECK_EQ_U(cfg.state_lease_ms, 1000);
	CHECK_EQ_U(cfg.state_checkpoint_secs, 5);
	CHECK_EQ_U(cfg.state_restore_wait_secs, 10);
}

static void test_accepted(void)
{
	static struct config cfg;
	char err[512];
	CHECK(load(PORT0 "[state]\nbackend = redis\nredis = redis-1.example:6380\n"
			"key_prefix = rp:x.\ninstance = edge-1_a.b\nrole = standby\n"
			"peer_instance = edge-2\nlease_ms = 500\ncheckpoint_secs = 1\n"
			"restore_wait_secs = 0\n", &cfg, err, sizeof(err)) == 0);
	CHECK(err[0] == '\0');
	CHECK(cfg.state_redis && cfg.state_standby);
	CHECK(strcmp(cfg.state_redis_host, "redis-1.example") == 0);
	CHECK_EQ_U(cfg.state_redis_port, 6380);
	CHECK(strcmp(cfg.state_key_prefix, "rp:x.") == 0);
	CHECK(strcmp(cfg.state_instance, "edge-1_a.b") == 0);
	CHECK(strcmp(cfg.state_peer_instance, "edge-2") == 0);
	CHECK_EQ_U(cfg.state_lease_ms, 500);
	CHECK_EQ_U(cfg.state_checkpoint_secs, 1);
	CHECK_EQ_U(cfg.state_restore_wait_secs, 0);

	CHECK(load(PORT0 "[state]\nbackend = redis\nredis = [::1]:7000\nkey_prefix =\n"
			"instance = a\n", &cfg, err, sizeof(err)) == 0);
	CHECK(strcmp(cfg.state_redis_host, "::1") == 0 && cfg.state_redis_port == 7000);
	CHECK(cfg.state_key_prefix[0] == '\0');
	/* backend none: the rest is not looked at together */
	CHECK(load(PORT0 "[state]\nbackend = none\npeer_instance = x\n", &cfg, err,
				sizeof(err)) == 0);
}

static const struct { const char *text, *want; } bad[] = {
	{ "backend = mysql\n", "[state] backend: expected none or redis, got \"mysql\"" },
	{ "backend = Redis\n", "[state] backend: expected none or redis, got \"Redis\"" },
	{ "redis = localhost\n", "[state] redis: expected host:port or [IPv6]:port, such as "
		"127.0.0.1:6379, got \"localhost\"" },
	{ "redis = host:0\n", "[state] redis: expected host:port or [IPv6]:port, such as "
		"127.0.0.1:6379, got \"host:0\"" },
	{ "redis = host:65536\n", "[state] redis: expected host:port or [IPv6]:port, such as "
		"127.0.0.1:6379, got \"host:65536\"" },
	{ "redis = ho st:1\n", "[state] redis: expected host:port or [IPv6]:port, such as "
		"127.0.0.1:6379, got \"ho st:1\"" },
	{ "redis = ::1:6379\n", "[state] redis: expected host:port or [IPv6]:port, such as "
		"127.0.0.1:6379, got \"::1:6379\"" },
	{ "redis = :6379\n", "[state] redis: expected host:port or [IPv6]:port, such as "
		"127.0.0.1:6379, got \":6379\"" },
	{ "key_prefix = a*b\n", "[state] key_prefix: expected 0..64 characters [A-Za-z0-9._:-], "
		"such as rtpproxy:, got \"a*b\"" },
	{ "key_prefix = a#\n", "[state] key_prefix: expected 0..64 characters [A-Za-z0-9._:-], "
		"such as rtpproxy:, got \"a#\"" },
	{ "instance = a:b\n", "[state] instance: expected a name of 1..64 characters "
		"[A-Za-z0-9._-], got \"a:b\"" },
	{ "instance =\n", "[state] instance: expected a name of 1..64 characters "
		"[A-Za-z0-9._-], got \"\"" },
	{ "instance = "
		"x123456789012345678901234567890123456789012345678901234567890123456\n",
	  "[state] instance: expected a name of 1..64 characters [A-Za-z0-9._-], got "
	  "\"x123456789012345678901234567890123456789012345678901234567890123456\"" },
	{ "role = primary\n", "[state] role: expected active or standby, got \"primary\"" },
	{ "peer_instance = a b\n", "[state] peer_instance: expected a name of 1..64 characters "
		"[A-Za-z0-9._-], got \"a b\"" },
	{ "lease_ms = 99\n", "[state] lease_ms: expected an integer 100..60000, got \"99\"" },
	{ "checkpoint_secs = 0\n",
	  "[state] checkpoint_secs: expected an integer 1..3600, got \"0\"" },
	{ "restore_wait_secs = x\n",
	  "[state] restore_wait_secs: expected an integer 0..3600, got \"x\"" },
	{ "backend = redis\nrole = standby\ninstance = a\n",
	  "[state] peer_instance: expected the active's instance with role = standby, got "
	  "nothing" },
	{ "backend = redis\ninstance = a\npeer_instance = a\n",
	  "[state] peer_instance: expected another instance than this one's, got \"a\" "
	  "(= instance)" },
	{ "role = standby\npeer_instance = b\n",
	  "[state] role: expected active with backend = none (a standby mirrors a store), got "
	  "\"standby\"" },
	{ "backend = redis\nbackend = none\n",
	  "[state] backend: expected the key only once, got \"none\" after \"redis\"" },
	{ "lease = 5\n", "[state] lease: unknown key (expected one of: backend, redis, key_prefix, "
		"instance, role, peer_instance, lease_ms, checkpoint_secs, restore_wait_secs)" },
};

static void test_rejected(void)
{
	static struct config cfg;
	char err[1024], text[1024];
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(text, sizeof(text), PORT0 "[state]\n%s", bad[i].text);
		int rc = load(text, &cfg, err, sizeof(err));
		CHECK(rc == -1);
		if (!msg_is(err, bad[i].want))
			fprintf(stderr, "  (case %zu)\n", i);
		CHECK(rc == -1 && strstr(err, bad[i].want) != NULL);
	}
}

int main(void)
{
	snprintf(path, sizeof(path), "/tmp/test_config_state.%d.conf", (int)getpid());
	test_defaults();
	test_accepted();
	test_rejected();
	unlink(path);
	return check_summary("config_state");
}
