/*
 * test_state_mirror: the standby's mirror thread (control/state_mirror.c) against a real
 * redis-server (Debian's, started here on 127.0.0.1, persistence off, always stopped), fed
 * the way the active's writer feeds the store: "P A:id" hashes (def, ctr) and "P A#changes"
 * entries. A full read first (what exists, between SYNC_BEGIN and SYNC_END), then changes in
 * order ("set": the session as stored now; "del"; a "set" whose key is gone: a deletion);
 * a mirror that the trimmed stream left behind reads everything again; take-over: every
 * session's checkpoint, then the end. Skipped (77) without redis-server.
 */
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
#include "state_codec.h"
#include "state_mirror.h"

static pid_t redis_pid = -1;
static uint16_t redis_port;
static redisContext *rc;

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void stop_redis(void)
{
	if (rc != NULL)
		redisFree(rc);
	rc = NULL;
	if (redis_pid > 0) {
		kill(redis_pid, SIGKILL);
		waitpid(redis_pid, NULL, 0);
		redis_pid = -1;
	}
}

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
				"--save", "", "--appendonly", "no", (char *)NULL);
		_exit(127);
	}
	for (uint64_t until = now_ms() + 5000; now_ms() < until; usleep(20000)) {
		rc = redisConnect("127.0.0.1", redis_port);
		if (rc != NULL && !rc->err)
			return true;
		if (rc != NULL)
			redisFree(rc);
		rc = NULL;
	}
	return false;
}

static void cmd_ok(redisReply *r)
{
	CHECK(r != NULL && r->type != REDIS_REPLY_ERROR);
	if (r != NULL)
		freeReplyObject(r);
}

/* Session id stored with its listen port (a change is told by it) and a counter value. */
static void store(const char *id, uint16_t port, uint64_t rx, bool announce)
{
	struct session s = { .state = SESS_ACTIVE, .transport = SESS_UDP,
		.listen = { .port = port }, .forward = { .port = (uint16_t)(port + 10000) },
		.dest = { .port = 40000 }, .created_ms = 1700000000000 };
	snprintf(s.id, sizeof(s.id), "%s", id);
	dp_addr_parse("198.18.1.1", &s.listen.addr);
	dp_addr_parse("198.18.2.1", &s.forward.addr);
	dp_addr_parse("198.18.2.2", &s.dest.addr);
	struct sess_stats st = { .pkts_rx = rx, .pkts_tx = rx };
	size_t dl, cl;
	uint8_t *def = state_encode_def(&s, NULL, NULL, &dl);
	uint8_t *ctr = state_encode_ctr(1700000001000, &st, &st, &st, &cl);
	cmd_ok(redisCommand(rc, "HSET t:a:%s def %b ctr %b", id, def, dl, ctr, cl));
	if (announce)
		cmd_ok(redisCommand(rc, "XADD t:a#changes * id %s op set", id));
	free(def);
	free(ctr);
}

/* The next item within 3 s (NULL after that). */
static struct mirror_item *next_item(struct state_mirror *mi)
{
	for (uint64_t until = now_ms() + 3000; now_ms() < until; usleep(2000)) {
		struct mirror_item *it = state_mirror_next(mi);
		if (it != NULL)
			return it;
	}
	return NULL;
}

/* Expect op (and id, and listen port for SET) next. */
static void expect(struct state_mirror *mi, enum mirror_op op, const char *id, uint16_t port)
{
	struct mirror_item *it = next_item(mi);
	CHECK(it != NULL);
	if (it == NULL)
		return;
	if (it->op != op)
		fprintf(stderr, "  item %d (%s), want %d (%s)\n", it->op, it->id, op, id ? id : "");
	CHECK_EQ_U(it->op, op);
	if (id != NULL)
		CHECK(strcmp(it->id, id) == 0);
	if (op == MIRROR_SET)
		CHECK_EQ_U(it->rec.params.listen.port, port);
	state_mirror_item_free(it);
}

/* A full read: SYNC_BEGIN, the n sessions in any order, SYNC_END. */
static void expect_full_read(struct state_mirror *mi, unsigned n)
{
	expect(mi, MIRROR_SYNC_BEGIN, NULL, 0);
	unsigned seen = 0;
	for (unsigned i = 0; i < n; i++) {
		struct mirror_item *it = next_item(mi);
		seen += it != NULL && it->op == MIRROR_SET;
		state_mirror_item_free(it);
	}
	CHECK_EQ_U(seen, n);
	expect(mi, MIRROR_SYNC_END, NULL, 0);
}

int main(void)
{
	if (system("command -v redis-server >/dev/null 2>&1") != 0) {
		printf("state_mirror: SKIP: no redis-server\n");
		return 77;
	}
	srand((unsigned)getpid() ^ (unsigned)time(NULL));
	redis_port = (uint16_t)(20000 + rand() % 20000);
	if (!start_redis()) {
		stop_redis();
		fprintf(stderr, "cannot start redis-server on port %u\n", redis_port);
		return 1;
	}
	store("s1", 20000, 1, true);
	store("s2", 20002, 2, true);
	store("s3", 20004, 3, true);
	cmd_ok(redisCommand(rc, "SET t:a#lease x"));    /* not a session: never mirrored */

	char err[128];
	struct state_mirror_conf c = { .host = "127.0.0.1", .port = redis_port,
		.key_prefix = "t:", .pair = "a" };
	struct state_mirror *mi = state_mirror_start(&c, err, sizeof(err));
	CHECK(mi != NULL);
	if (mi == NULL)
		return check_summary("state_mirror");
	expect_full_read(mi, 3);
	CHECK(state_mirror_up(mi));
	CHECK(state_mirror_next(mi) == NULL);

	/* changes in order: a new definition, a deletion, a set whose key went meanwhile */
	store("s2", 20102, 2, true);
	expect(mi, MIRROR_SET, "s2", 20102);
	cmd_ok(redisCommand(rc, "DEL t:a:s1"));
	cmd_ok(redisCommand(rc, "XADD t:a#changes * id s1 op del"));
	expect(mi, MIRROR_DEL, "s1", 0);
	cmd_ok(redisCommand(rc, "MULTI"));     /* gone before the mirror can read it */
	store("s4", 20006, 4, true);
	cmd_ok(redisCommand(rc, "DEL t:a:s4"));
	cmd_ok(redisCommand(rc, "EXEC"));
	expect(mi, MIRROR_DEL, "s4", 0);

	/* the stream trimmed past what the mirror read: everything is read again */
	cmd_ok(redisCommand(rc, "MULTI"));
	store("s5", 20008, 5, true);
	store("s6", 20010, 6, true);
	cmd_ok(redisCommand(rc, "XTRIM t:a#changes MAXLEN 1"));
	cmd_ok(redisCommand(rc, "EXEC"));
	expect(mi, MIRROR_SET, "s6", 20010);    /* s5's entry is gone */
	expect_full_read(mi, 4);                /* s2, s3, s5, s6 */

	/* take-over: every checkpoint, then the end */
	state_mirror_finish(mi);
	unsigned ctrs = 0;
	uint64_t rx_sum = 0;
	struct mirror_item *it;
	while ((it = next_item(mi)) != NULL && it->op == MIRROR_COUNTERS) {
		ctrs++;
		CHECK(it->rec.has_counters);
		rx_sum += it->rec.base.rtp.pkts_rx;
		state_mirror_item_free(it);
	}
	CHECK(it != NULL && it->op == MIRROR_COUNTERS_END);
	state_mirror_item_free(it);
	CHECK_EQ_U(ctrs, 4);
	CHECK_EQ_U(rx_sum, 2 + 3 + 5 + 6);
	state_mirror_stop(mi);

	/* Redis away: the mirror says so and stops cleanly */
	mi = state_mirror_start(&c, err, sizeof(err));
	expect_full_read(mi, 4);
	stop_redis();
	uint64_t t0 = now_ms();
	while (state_mirror_up(mi) && now_ms() - t0 < 5000)
		usleep(10000);
	CHECK(!state_mirror_up(mi));
	state_mirror_stop(mi);
	return check_summary("state_mirror");
}
