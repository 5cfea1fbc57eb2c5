/*
 * test_state_lease: the lease of a pair (control/state_lease.c) against a real redis-server
 * (Debian's), started here on 127.0.0.1 with persistence off and always stopped. An active
 * takes the free lease (epoch 1); a standby of the same pair waits; the active dies (its
 * thread stops without releasing): the standby takes the lease with a higher epoch within
 * the lease plus one look; the old active comes back and stands by; a lone active that
 * restarts takes its own lease at once; a graceful stop releases it; Redis away: the holder
 * keeps holding, nobody takes over, and it renews once Redis is back. Skipped (77) without
 * redis-server.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/wait.h>
#include <hiredis/hiredis.h>

#include "check.h"
#include "state_lease.h"

#define LEASE_MS 300

static pid_t redis_pid = -1;
static uint16_t redis_port;

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void stop_redis(void)
{
	if (redis_pid > 0) {
		kill(redis_pid, SIGKILL);
		waitpid(redis_pid, NULL, 0);
		redis_pid = -1;
	}
}

static redisContext *connect_wait(unsigned ms)
{
	uint64_t until = now_ms() + ms;
	do {
		redisContext *c = redisConnect("127.0.0.1", redis_port);
		if (c != NULL && !c->err)
			return c;
		if (c != NULL)
			redisFree(c);
		usleep(20000);
	} while (now_ms() < until);
	return NULL;
}

/* redis-server on a port of its own; false when it cannot be started. */
static bool start_redis(void)
{
	char port[8];
	snprintf(port, sizeof(port), "%u", redis_port);
	redis_pid = fork();
	if (redis_pid == 0) {
		int null = open("/dev/null", O_WRONLY);
		if (null >= 0) {
			dup2(null, 1);
			dup2(null, 2);
		}
		execlp("redis-server", "redis-server", "--port", port, "--bind", "127.0.0.1",
				"--save", "", "--appendonly", "no", "--loglevel", "warning",
				(char *)NULL);
		_exit(127);
	}
	redisContext *c = connect_wait(5000);
	if (c == NULL)
		return false;
	redisFree(c);
	return true;
}

static char *get(const char *key)
{
	static char out[128];
	redisContext *c = connect_wait(1000);
	out[0] = '\0';
	if (c == NULL)
		return out;
	redisReply *r = redisCommand(c, "GET %s", key);
	if (r != NULL && r->type == REDIS_REPLY_STRING)
		snprintf(out, sizeof(out), "%s", r->str);
	if (r != NULL)
		freeReplyObject(r);
	redisFree(c);
	return out;
}

static struct state_lease *start(const char *holder, bool active)
{
	struct state_lease_conf c = { .host = "127.0.0.1", .port = redis_port,
		.key_prefix = "t:", .pair = "a", .holder = holder, .lease_ms = LEASE_MS,
		.active = active };
	char err[128];
	struct state_lease *l = state_lease_start(&c, err, sizeof(err));
	if (l == NULL)
		fprintf(stderr, "state_lease_start: %s\n", err);
	CHECK(l != NULL);
	CHECK(state_lease_wait(l, 2000));
	return l;
}

static struct state_lease_view view(const struct state_lease *l)
{
	struct state_lease_view v;
	state_lease_read(l, &v);
	return v;
}

/* Poll until l holds (or not) the lease; ms it took, or UINT64_MAX after `limit` ms. */
static uint64_t until_holds(const struct state_lease *l, bool holds, unsigned limit)
{
	uint64_t t0 = now_ms();
	while (now_ms() - t0 < limit) {
		if (view(l).holds == holds)
			return now_ms() - t0;
		usleep(5000);
	}
	return UINT64_MAX;
}

int main(void)
{
	if (system("command -v redis-server >/dev/null 2>&1") != 0) {
		printf("state_lease: SKIP: no redis-server\n");
		return 77;
	}
	srand((unsigned)getpid());
	redis_port = (uint16_t)(20000 + rand() % 20000);
	if (!start_redis()) {
		stop_redis();
		fprintf(stderr, "cannot start redis-server on port %u\n", redis_port);
		return 1;
	}

	/* bad arguments are refused, naming the section */
	char err[128] = "";
	struct state_lease_conf bad = { .host = "127.0.0.1", .port = redis_port,
		.key_prefix = "t:", .pair = "a", .holder = "", .lease_ms = LEASE_MS };
	CHECK(state_lease_start(&bad, err, sizeof(err)) == NULL);
	CHECK(strstr(err, "[state]") != NULL);

	/* an active takes the free lease, a standby of the pair waits */
	struct state_lease *a = start("a", true);
	CHECK(view(a).holds);
	CHECK_EQ_U(view(a).epoch, 1);
	CHECK(view(a).redis_up);
	CHECK(strcmp(get("t:a#lease"), "1 a") == 0);
	struct state_lease *b = start("b", false);
	CHECK(!view(b).holds);
	CHECK_EQ_U(view(b).epoch, 1);
	CHECK(strcmp(view(b).other, "a") == 0);
	/* renewed: still a's well after one lease */
	usleep(3 * LEASE_MS * 1000);
	CHECK(view(a).holds);
	CHECK(!view(b).holds);
	CHECK(strcmp(get("t:a#lease"), "1 a") == 0);

	/* a dies (no release): b takes over within a lease and one look (+ slack) */
	uint64_t t0 = now_ms();
	state_lease_stop(a, false);
	uint64_t took = until_holds(b, true, 3 * LEASE_MS);
	CHECK(took <= LEASE_MS + LEASE_MS / 10 + 100);
	printf("take-over %llu ms after the holder stopped (lease %u ms)\n",
			(unsigned long long)(now_ms() - t0), LEASE_MS);
	CHECK_EQ_U(view(b).epoch, 2);
	CHECK(strcmp(get("t:a#lease"), "2 b") == 0);

	/* the old active comes back: a lower epoch, someone else's lease: it stands by */
	a = start("a", true);
	CHECK(!view(a).holds);
	CHECK(strcmp(view(a).other, "b") == 0);
	usleep(2 * LEASE_MS * 1000);
	CHECK(!view(a).holds);
	CHECK(view(b).holds);

	/* a graceful stop releases: the other takes over at once (one look) */
	t0 = now_ms();
	state_lease_stop(b, true);
	CHECK(until_holds(a, true, LEASE_MS) != UINT64_MAX);
	CHECK_EQ_U(view(a).epoch, 3);

	/* a lone active that restarts (killed, back before its lease lapsed) takes it at once */
	state_lease_stop(a, false);
	t0 = now_ms();
	a = start("a", true);
	CHECK(view(a).holds);
	CHECK(now_ms() - t0 < LEASE_MS);
	CHECK_EQ_U(view(a).epoch, 4);
	CHECK(strcmp(get("t:a#lease"), "4 a") == 0);

	/* Redis away: the holder keeps holding, the standby cannot take over */
	b = start("b", false);
	CHECK(!view(b).holds);
	stop_redis();
	usleep(3 * LEASE_MS * 1000);
	CHECK(view(a).holds);
	CHECK(!view(a).redis_up);
	CHECK(!view(b).holds);
	CHECK(!view(b).redis_up);
	/* back (empty, as after a restart without persistence): the holder takes it again */
	CHECK(start_redis());
	uint64_t t1 = now_ms();
	while (now_ms() - t1 < 3000 && !(view(a).redis_up && view(b).redis_up))
		usleep(10000);
	CHECK(view(a).redis_up);
	CHECK(view(b).redis_up);
	CHECK(view(a).holds);
	CHECK(!view(b).holds);
	CHECK(strcmp(get("t:a#lease"), "1 a") == 0);
	usleep(2 * LEASE_MS * 1000);
	CHECK(view(a).holds);
	CHECK(!view(b).holds);

	state_lease_stop(b, true);
	state_lease_stop(a, true);
	CHECK(get("t:a#lease")[0] == '\0');
	stop_redis();
	return check_summary("state_lease");
}
