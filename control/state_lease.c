/*
 * The lease thread (state_lease.h). Every step is one EVAL of LEASE_LUA, so look, renew
 * and take are each atomic in Redis:
 *   - the lease holds our value: renewed (PEXPIRE);
 *   - it holds someone else's: we do not relay (a standby's normal state; an active that
 *     finds it has lost the lease to a higher epoch stands down);
 *   - it is free (expired: GET expires it lazily at that moment, so a lapse is seen at the
 *     next look, not at Redis's next expiry cycle), or holds our own name and we are a
 *     configured active that just started: INCR the epoch and SET it ours with PX.
 * When Redis does not answer, nothing changes: an active keeps relaying and a standby
 * cannot take over (nobody can take a lease in a Redis that is away).
 */
#define _GNU_SOURCE             /* pthread_setname_np */
#include "state_lease.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <hiredis/hiredis.h>
#include <rte_log.h>

#include "log.h"

#define LOGL(level, fmt, ...) RTE_LOG(level, APP, "state lease: " fmt "\n", ##__VA_ARGS__)

/* KEYS: lease, epoch. ARGV: holder, lease_ms, the value we hold ("" = none), "1" = a value
 * naming us that we do not hold (we restarted) is ours to take, "1" = a free lease may be
 * taken. Returns {1, value} renewed, {2, value} taken (new epoch), {0, value} someone
 * else's, {3, ""} free and not taken. */
static const char LEASE_LUA[] =
	"local v = redis.call('GET', KEYS[1])\n"
	"if v and v == ARGV[3] then\n"
	"  redis.call('PEXPIRE', KEYS[1], ARGV[2])\n"
	"  return {1, v}\n"
	"end\n"
	"if v and not (ARGV[4] == '1' and string.sub(v, -#ARGV[1] - 1) == ' ' .. ARGV[1]) then\n"
	"  return {0, v}\n"
	"end\n"
	"if not v and ARGV[5] ~= '1' then return {3, ''} end\n"
	"local e = redis.call('INCR', KEYS[2])\n"
	"local nv = e .. ' ' .. ARGV[1]\n"
	"redis.call('SET', KEYS[1], nv, 'PX', ARGV[2])\n"
	"return {2, nv}\n";

/* KEYS: lease. ARGV: our value. Deleted only if still ours. */
static const char RELEASE_LUA[] =
	"if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end\n"
	"return 0\n";

struct state_lease {
	char host[256];
	uint16_t port;
	char key[300], epoch_key[300];
	char holder[64];
	unsigned lease_ms;
	bool active;                    /* configured active */
	bool take_own;                  /* configured active, until its first answer */

	pthread_t thread;
	pthread_mutex_t mu;             /* the view, and the stop flag's wake-up */
	pthread_cond_t cv;
	bool stop;
	struct state_lease_view view;
	char ours[96];                  /* the value we hold ("" = none): the thread's */
	redisContext *rc;
	bool warned;                    /* Redis away was logged (once per outage) */
	/* A standby takes a lease that lapsed while it watched at once; one it finds free at
	 * its first look after (re)connecting only once it stayed free for lease_ms, so that
	 * an active that still relays (Redis restarted empty) takes it back first. */
	bool watched;                   /* saw the lease held since the last (re)connect */
	uint64_t renewed_ms;            /* our last look that renewed or took it */
	uint64_t free_since;            /* first look that found it free, 0 = not free */
};

static uint64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static struct timeval tv_ms(unsigned ms)
{
	return (struct timeval){ .tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000 };
}

static void set_view(struct state_lease *l, const struct state_lease_view *v)
{
	pthread_mutex_lock(&l->mu);
	l->view = *v;
	pthread_cond_broadcast(&l->cv);
	pthread_mutex_unlock(&l->mu);
}

static void redis_down(struct state_lease *l, const char *reason)
{
	char why[128];
	snprintf(why, sizeof(why), "%s", reason);       /* it may be l->rc's */
	l->watched = false;
	l->free_since = 0;
	if (l->rc != NULL) {
		redisFree(l->rc);
		l->rc = NULL;
	}
	struct state_lease_view v;
	state_lease_read(l, &v);
	if (!l->warned) {
		l->warned = true;
		LOGL(WARNING, "Redis %s:%u: %s; %s", l->host, l->port, why, v.holds ?
				"still relaying (a standby that still reaches Redis takes over "
				"once the lease lapses; we stand down when we see that)" :
				"cannot take over while it is away");
	}
	v.redis_up = false;
	set_view(l, &v);
}

static bool connect_redis(struct state_lease *l)
{
	/* a late answer still renews if it comes before the lease ends: wait that long */
	unsigned t = l->lease_ms ? l->lease_ms : 1;
	l->rc = redisConnectWithTimeout(l->host, l->port, tv_ms(t));
	if (l->rc == NULL || l->rc->err) {
		redis_down(l, l->rc != NULL ? l->rc->errstr : "out of memory");
		return false;
	}
	redisSetTimeout(l->rc, tv_ms(t));
	return true;
}

/* "EPOCH HOLDER" -> epoch and holder. */
static uint64_t parse_value(const char *v, char *holder, size_t len)
{
	char *end = NULL;
	uint64_t e = strtoull(v, &end, 10);
	const char *h = end != NULL && *end == ' ' ? end + 1 : "";
	snprintf(holder, len, "%s", h);
	return e;
}

/* One look at the lease; false when Redis did not answer. */
static bool step(struct state_lease *l)
{
	char ms[16];
	snprintf(ms, sizeof(ms), "%u", l->lease_ms);
	uint64_t now = mono_ms();
	bool may_take = l->ours[0] || l->take_own || l->watched ||
		(l->free_since && now - l->free_since >= l->lease_ms);
	const char *argv[] = { "EVAL", LEASE_LUA, "2", l->key, l->epoch_key, l->holder, ms,
		l->ours, l->take_own ? "1" : "0", may_take ? "1" : "0" };
	redisReply *r = redisCommandArgv(l->rc, 10, argv, NULL);
	if (r == NULL) {
		redis_down(l, l->rc->errstr[0] ? l->rc->errstr : "no answer");
		return false;
	}
	if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
			r->element[0]->type != REDIS_REPLY_INTEGER ||
			r->element[1]->type != REDIS_REPLY_STRING) {
		redis_down(l, r->type == REDIS_REPLY_ERROR ? r->str : "unexpected answer");
		freeReplyObject(r);
		return false;
	}
	long long what = r->element[0]->integer;
	const char *val = r->element[1]->str;
	struct state_lease_view v, old;
	state_lease_read(l, &old);
	memset(&v, 0, sizeof(v));
	v.decided = v.redis_up = true;
	if (l->warned) {
		l->warned = false;
		LOGL(NOTICE, "Redis %s:%u answers again", l->host, l->port);
	}
	l->take_own = false;
	if (what == 3) {
		/* free, not ours to take yet: nothing changes but the clock */
		if (l->free_since == 0)
			l->free_since = now ? now : 1;
		v = old;
		v.decided = v.redis_up = true;
		freeReplyObject(r);
		set_view(l, &v);
		return true;
	}
	l->free_since = 0;
	if (what == 1 && l->renewed_ms && now - l->renewed_ms > l->lease_ms / 2)
		LOGL(WARNING, "renewed %llu ms after the last renewal (lease %u ms): this thread "
				"or Redis is starved; the lease lapses beyond %u ms",
				(unsigned long long)(now - l->renewed_ms), l->lease_ms, l->lease_ms);
	if (what == 1 || what == 2) {
		l->renewed_ms = now;
		v.holds = true;
		v.epoch = parse_value(val, v.other, sizeof(v.other));
		v.other[0] = '\0';
		if (what == 2)
			LOGL(NOTICE, "took the lease, epoch %llu (%s)", (unsigned long long)v.epoch,
					val);
		snprintf(l->ours, sizeof(l->ours), "%s", val);
	} else {
		l->watched = true;
		v.epoch = parse_value(val, v.other, sizeof(v.other));
		if (old.holds || !old.decided)
			LOGL(NOTICE, "the lease is %s's (epoch %llu): standing by", v.other,
					(unsigned long long)v.epoch);
		l->ours[0] = '\0';
	}
	freeReplyObject(r);
	set_view(l, &v);
	return true;
}

/* Sleep until `until` (monotonic ms) or stop; true when asked to stop. */
static bool nap(struct state_lease *l, uint64_t until)
{
	pthread_mutex_lock(&l->mu);
	while (!l->stop) {
		uint64_t now = mono_ms();
		if (now >= until)
			break;
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		uint64_t ns = (uint64_t)ts.tv_nsec + (until - now) * 1000000ull;
		ts.tv_sec += (time_t)(ns / 1000000000ull);
		ts.tv_nsec = (long)(ns % 1000000000ull);
		pthread_cond_timedwait(&l->cv, &l->mu, &ts);
	}
	bool stop = l->stop;
	pthread_mutex_unlock(&l->mu);
	return stop;
}

static void *lease_main(void *arg)
{
	struct state_lease *l = arg;
	unsigned renew = l->lease_ms / 3 ? l->lease_ms / 3 : 1;
	unsigned look = l->lease_ms / 10 ? l->lease_ms / 10 : 1;
	unsigned backoff = look;

	for (;;) {
		uint64_t t0 = mono_ms();
		bool ok = (l->rc != NULL || connect_redis(l)) && step(l);
		unsigned wait = l->ours[0] ? renew : look;
		if (!ok) {
			/* reconnect at a slowing pace, but never slower than a renewal */
			wait = backoff;
			backoff = backoff * 2 > renew ? renew : backoff * 2;
		} else {
			backoff = look;
		}
		if (nap(l, t0 + wait))
			break;
	}
	return NULL;
}

static void fail(char *err, size_t len, const char *msg)
{
	if (err != NULL && len > 0)
		snprintf(err, len, "%s", msg);
}

struct state_lease *state_lease_start(const struct state_lease_conf *c, char *err,
		size_t errlen)
{
	if (c->host == NULL || c->key_prefix == NULL || c->pair == NULL || c->holder == NULL ||
			c->holder[0] == '\0' || c->pair[0] == '\0' || c->lease_ms == 0) {
		fail(err, errlen, "[state]: the lease needs redis, instance and lease_ms");
		return NULL;
	}
	struct state_lease *l = calloc(1, sizeof(*l));
	if (l == NULL) {
		fail(err, errlen, "[state]: out of memory");
		return NULL;
	}
	snprintf(l->host, sizeof(l->host), "%s", c->host);
	l->port = c->port;
	snprintf(l->key, sizeof(l->key), "%s%s#lease", c->key_prefix, c->pair);
	snprintf(l->epoch_key, sizeof(l->epoch_key), "%s%s#epoch", c->key_prefix, c->pair);
	snprintf(l->holder, sizeof(l->holder), "%s", c->holder);
	l->lease_ms = c->lease_ms;
	l->active = l->take_own = c->active;
	pthread_mutex_init(&l->mu, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&l->cv, &ca);
	pthread_condattr_destroy(&ca);
	int e = pthread_create(&l->thread, NULL, lease_main, l);
	if (e != 0) {
		fail(err, errlen, "[state]: cannot start the lease thread");
		pthread_cond_destroy(&l->cv);
		pthread_mutex_destroy(&l->mu);
		free(l);
		return NULL;
	}
	pthread_setname_np(l->thread, "rp-lease");
	/* the lease must not wait behind busy threads: a late renewal hands the calls to the
	 * standby. Real-time round robin at the lowest priority when allowed (CAP_SYS_NICE);
	 * the thread sleeps between its short Redis round trips. */
	struct sched_param sp = { .sched_priority = 1 };
	int pe = pthread_setschedparam(l->thread, SCHED_RR, &sp);
	if (pe != 0)
		LOGL(INFO, "no real-time priority for the lease thread (%s): it runs as any "
				"other", strerror(pe));
	return l;
}

void state_lease_stop(struct state_lease *l, bool release)
{
	if (l == NULL)
		return;
	pthread_mutex_lock(&l->mu);
	l->stop = true;
	pthread_cond_broadcast(&l->cv);
	pthread_mutex_unlock(&l->mu);
	pthread_join(l->thread, NULL);
	if (release && l->ours[0] && l->rc != NULL) {
		const char *argv[] = { "EVAL", RELEASE_LUA, "1", l->key, l->ours };
		redisReply *r = redisCommandArgv(l->rc, 5, argv, NULL);
		if (r != NULL && r->type == REDIS_REPLY_INTEGER && r->integer == 1)
			LOGL(NOTICE, "released the lease (%s)", l->ours);
		if (r != NULL)
			freeReplyObject(r);
	}
	if (l->rc != NULL)
		redisFree(l->rc);
	pthread_cond_destroy(&l->cv);
	pthread_mutex_destroy(&l->mu);
	free(l);
}

void state_lease_read(const struct state_lease *l, struct state_lease_view *out)
{
	pthread_mutex_lock((pthread_mutex_t *)&l->mu);
	*out = l->view;
	pthread_mutex_unlock((pthread_mutex_t *)&l->mu);
}

void state_lease_decide(struct state_lease *l)
{
	pthread_mutex_lock(&l->mu);
	if (!l->view.decided) {
		l->view.decided = true;
		l->view.holds = l->active;
	}
	pthread_cond_broadcast(&l->cv);
	pthread_mutex_unlock(&l->mu);
}

bool state_lease_wait(struct state_lease *l, unsigned timeout_ms)
{
	uint64_t until = mono_ms() + timeout_ms;
	pthread_mutex_lock(&l->mu);
	while (!l->view.decided) {
		uint64_t now = mono_ms();
		if (now >= until)
			break;
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		uint64_t ns = (uint64_t)ts.tv_nsec + (until - now) * 1000000ull;
		ts.tv_sec += (time_t)(ns / 1000000000ull);
		ts.tv_nsec = (long)(ns % 1000000000ull);
		pthread_cond_timedwait(&l->cv, &l->mu, &ts);
	}
	bool d = l->view.decided;
	pthread_mutex_unlock(&l->mu);
	return d;
}
