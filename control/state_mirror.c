/*
 * The standby's mirror thread (state_mirror.h). Items go to the control loop through a
 * bounded list: when the control loop is behind, the thread waits (it owns nothing anyone
 * else waits for), so memory stays bounded however many sessions the active runs.
 */
#define _GNU_SOURCE             /* pthread_setname_np */
#include "state_mirror.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <hiredis/hiredis.h>
#include <rte_common.h>
#include <rte_log.h>

#include "log.h"

#define LOGM(level, fmt, ...) RTE_LOG(level, APP, "state mirror: " fmt "\n", ##__VA_ARGS__)

#define MIRROR_QUEUE_MAX 4096           /* items waiting for the control loop */
#define MIRROR_BATCH 256                /* keys per SCAN step, entries per XREAD */
#define MIRROR_BLOCK_MS 50              /* XREAD BLOCK: how late a stop or finish is seen */
#define MIRROR_TIMEOUT_MS 2000          /* connect and command timeout */
#define MIRROR_BACKOFF_MAX_MS 1000

struct state_mirror {
	char host[256];
	uint16_t port;
	char prefix[300];               /* "P A:" */
	char pattern[600];              /* "P A:*" escaped for MATCH */
	char stream[300];               /* "P A#changes" */

	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;              /* room in the list, stop, finish */
	struct mirror_item *head, *tail;
	unsigned queued;
	bool stop, finish;
	bool up;
	bool warned;
	redisContext *rc;
	char last_id[64];               /* the newest "#changes" entry applied */
};

static struct timeval tv_ms(unsigned ms)
{
	return (struct timeval){ .tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000 };
}

static bool stopping(struct state_mirror *mi)
{
	pthread_mutex_lock(&mi->mu);
	bool s = mi->stop;
	pthread_mutex_unlock(&mi->mu);
	return s;
}

/* Hand an item to the control loop, waiting for room. False when asked to stop. */
static bool post(struct state_mirror *mi, struct mirror_item *it)
{
	pthread_mutex_lock(&mi->mu);
	while (mi->queued >= MIRROR_QUEUE_MAX && !mi->stop)
		pthread_cond_wait(&mi->cv, &mi->mu);
	if (mi->stop) {
		pthread_mutex_unlock(&mi->mu);
		state_mirror_item_free(it);
		return false;
	}
	it->next = NULL;
	if (mi->tail != NULL)
		mi->tail->next = it;
	else
		mi->head = it;
	mi->tail = it;
	mi->queued++;
	pthread_mutex_unlock(&mi->mu);
	return true;
}

static bool post_op(struct state_mirror *mi, enum mirror_op op, const char *id)
{
	struct mirror_item *it = calloc(1, sizeof(*it));
	if (it == NULL)
		return false;
	it->op = op;
	snprintf(it->id, sizeof(it->id), "%s", id != NULL ? id : "");
	return post(mi, it);
}

static void set_up(struct state_mirror *mi, bool up, const char *why)
{
	pthread_mutex_lock(&mi->mu);
	mi->up = up;
	pthread_mutex_unlock(&mi->mu);
	if (!up && !mi->warned) {
		mi->warned = true;
		LOGM(WARNING, "Redis %s:%u: %s; the mirror resumes (with a full read) when it "
				"answers", mi->host, mi->port, why);
	} else if (up && mi->warned) {
		mi->warned = false;
		LOGM(NOTICE, "Redis %s:%u answers again", mi->host, mi->port);
	}
}

static void drop_conn(struct state_mirror *mi, const char *why)
{
	char reason[128];
	snprintf(reason, sizeof(reason), "%s", why);    /* it may be mi->rc's */
	if (mi->rc != NULL) {
		redisFree(mi->rc);
		mi->rc = NULL;
	}
	set_up(mi, false, reason);
}

/* The id of a session key "P A:id", or NULL when it is not one. */
static const char *id_of(const struct state_mirror *mi, const char *key, size_t len)
{
	size_t pl = strlen(mi->prefix);
	if (len <= pl || len - pl > SESS_ID_MAX || memcmp(key, mi->prefix, pl) != 0)
		return NULL;
	return key + pl;
}

/*
 * HMGET def ctr of these ids (pipelined) and post each as `op` (MIRROR_SET or
 * MIRROR_COUNTERS); a key gone meanwhile is posted as MIRROR_DEL for MIRROR_SET. False on a
 * Redis error (the connection is dropped) or stop.
 */
static bool fetch(struct state_mirror *mi, char ids[][SESS_ID_MAX + 1], unsigned n,
		enum mirror_op op)
{
	for (unsigned i = 0; i < n; i++) {
		char key[sizeof(mi->prefix) + SESS_ID_MAX + 1];
		snprintf(key, sizeof(key), "%s%s", mi->prefix, ids[i]);
		const char *argv[] = { "HMGET", key, "def", "ctr" };
		redisAppendCommandArgv(mi->rc, 4, argv, NULL);
	}
	for (unsigned i = 0; i < n; i++) {
		redisReply *r = NULL;
		if (redisGetReply(mi->rc, (void **)&r) != REDIS_OK || r == NULL) {
			drop_conn(mi, mi->rc->errstr[0] ? mi->rc->errstr : "no answer");
			return false;
		}
		if (r->type != REDIS_REPLY_ARRAY || r->elements != 2) {
			freeReplyObject(r);
			continue;
		}
		redisReply *def = r->element[0], *ctr = r->element[1];
		if (def->type != REDIS_REPLY_STRING) {
			freeReplyObject(r);
			if (op == MIRROR_SET && !post_op(mi, MIRROR_DEL, ids[i]))
				return false;
			continue;
		}
		struct mirror_item *it = calloc(1, sizeof(*it));
		char err[256];
		if (it == NULL) {
			freeReplyObject(r);
			return false;
		}
		it->op = op;
		snprintf(it->id, sizeof(it->id), "%s", ids[i]);
		bool has_ctr = ctr->type == REDIS_REPLY_STRING;
		if (state_decode((const uint8_t *)def->str, def->len,
					has_ctr ? (const uint8_t *)ctr->str : NULL,
					has_ctr ? ctr->len : 0, &it->rec, err, sizeof(err)) != 0) {
			LOGM(WARNING, "%s: stored record unusable, not mirrored: %s", ids[i], err);
			free(it);
			freeReplyObject(r);
			continue;
		}
		freeReplyObject(r);
		if (!post(mi, it))
			return false;
	}
	return true;
}

/* Every session key of the pair, in SCAN steps, through fetch. */
static bool read_all(struct state_mirror *mi, enum mirror_op op)
{
	static char ids[MIRROR_BATCH][SESS_ID_MAX + 1];         /* the thread's alone */
	char cursor[32] = "0";
	do {
		const char *argv[] = { "SCAN", cursor, "MATCH", mi->pattern, "COUNT", "256" };
		redisReply *r = redisCommandArgv(mi->rc, 6, argv, NULL);
		if (r == NULL) {
			drop_conn(mi, mi->rc->errstr[0] ? mi->rc->errstr : "no answer");
			return false;
		}
		if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
				r->element[0]->type != REDIS_REPLY_STRING) {
			freeReplyObject(r);
			drop_conn(mi, "SCAN: unexpected answer");
			return false;
		}
		snprintf(cursor, sizeof(cursor), "%s", r->element[0]->str);
		unsigned n = 0;
		bool ok = true;
		redisReply *keys = r->element[1];
		for (size_t i = 0; ok && i < keys->elements; i++) {
			const char *id = keys->element[i]->type == REDIS_REPLY_STRING ?
				id_of(mi, keys->element[i]->str, keys->element[i]->len) : NULL;
			if (id != NULL && strchr(id, '#') == NULL)
				snprintf(ids[n++], sizeof(ids[0]), "%s", id);
			if (n == RTE_DIM(ids)) {
				ok = fetch(mi, ids, n, op);
				n = 0;
			}
		}
		freeReplyObject(r);
		if (!ok || (n > 0 && !fetch(mi, ids, n, op)))
			return false;
		if (stopping(mi))
			return false;
	} while (strcmp(cursor, "0") != 0);
	return true;
}

/* A full read: note the stream's end first, so that XREAD from there misses nothing. */
static bool sync_all(struct state_mirror *mi)
{
	const char *argv[] = { "XREVRANGE", mi->stream, "+", "-", "COUNT", "1" };
	redisReply *r = redisCommandArgv(mi->rc, 6, argv, NULL);
	if (r == NULL) {
		drop_conn(mi, mi->rc->errstr[0] ? mi->rc->errstr : "no answer");
		return false;
	}
	snprintf(mi->last_id, sizeof(mi->last_id), "0-0");
	if (r->type == REDIS_REPLY_ARRAY && r->elements == 1 &&
			r->element[0]->type == REDIS_REPLY_ARRAY && r->element[0]->elements >= 1 &&
			r->element[0]->element[0]->type == REDIS_REPLY_STRING)
		snprintf(mi->last_id, sizeof(mi->last_id), "%s", r->element[0]->element[0]->str);
	freeReplyObject(r);
	return post_op(mi, MIRROR_SYNC_BEGIN, NULL) && read_all(mi, MIRROR_SET) &&
		post_op(mi, MIRROR_SYNC_END, NULL);
}

/* "MS-SEQ" ids in order. */
static int id_cmp(const char *a, const char *b)
{
	unsigned long long ams = strtoull(a, NULL, 10), bms = strtoull(b, NULL, 10);
	if (ams != bms)
		return ams < bms ? -1 : 1;
	const char *ad = strchr(a, '-'), *bd = strchr(b, '-');
	unsigned long long aseq = ad ? strtoull(ad + 1, NULL, 10) : 0;
	unsigned long long bseq = bd ? strtoull(bd + 1, NULL, 10) : 0;
	return aseq < bseq ? -1 : aseq > bseq;
}

/*
 * Whether nothing after `since` was trimmed before it was read: the active trims the stream
 * (MAXLEN ~), and a mirror that fell that far behind must read everything again. Asked after
 * each read that brought entries. False also on a Redis error (*ok false).
 */
static bool still_in_stream(struct state_mirror *mi, const char *since, bool *ok)
{
	const char *argv[] = { "XRANGE", mi->stream, "-", "+", "COUNT", "1" };
	redisReply *r = redisCommandArgv(mi->rc, 6, argv, NULL);
	*ok = r != NULL;
	if (r == NULL) {
		drop_conn(mi, mi->rc->errstr[0] ? mi->rc->errstr : "no answer");
		return false;
	}
	bool in = true;
	if (r->type == REDIS_REPLY_ARRAY && r->elements == 1 &&
			r->element[0]->type == REDIS_REPLY_ARRAY && r->element[0]->elements >= 1 &&
			r->element[0]->element[0]->type == REDIS_REPLY_STRING) {
		/* the first entry left must be at or before the last one read before: else
		 * what came between may have been trimmed unread (or, rarely, the first left is
		 * just the next one: a read too many, nothing lost) */
		in = strcmp(since, "0-0") == 0 ||
			id_cmp(r->element[0]->element[0]->str, since) <= 0;
	}
	freeReplyObject(r);
	return in;
}

/* One XREAD BLOCK: the changes since last_id, fetched and posted in order. False on a Redis
 * error, or when the stream was trimmed past what had been read (*trimmed: read it all). */
static bool follow(struct state_mirror *mi, bool *trimmed)
{
	char since[sizeof(mi->last_id)];
	snprintf(since, sizeof(since), "%s", mi->last_id);
	*trimmed = false;
	static char ids[MIRROR_BATCH][SESS_ID_MAX + 1];
	char block[16], count[16];
	snprintf(block, sizeof(block), "%u", MIRROR_BLOCK_MS);
	snprintf(count, sizeof(count), "%u", MIRROR_BATCH);
	const char *argv[] = { "XREAD", "COUNT", count, "BLOCK", block, "STREAMS", mi->stream,
		mi->last_id };
	redisReply *r = redisCommandArgv(mi->rc, 8, argv, NULL);
	if (r == NULL) {
		drop_conn(mi, mi->rc->errstr[0] ? mi->rc->errstr : "no answer");
		return false;
	}
	if (r->type == REDIS_REPLY_NIL) {
		freeReplyObject(r);
		return true;            /* nothing new within the block */
	}
	if (r->type != REDIS_REPLY_ARRAY || r->elements != 1 ||
			r->element[0]->type != REDIS_REPLY_ARRAY || r->element[0]->elements != 2) {
		freeReplyObject(r);
		drop_conn(mi, "XREAD: unexpected answer");
		return false;
	}
	redisReply *entries = r->element[0]->element[1];
	bool ok = true;
	unsigned n = 0;
	/* runs of "set" are fetched together; a "del" flushes the run first (order holds) */
	for (size_t i = 0; ok && i < entries->elements; i++) {
		redisReply *e = entries->element[i];
		if (e->type != REDIS_REPLY_ARRAY || e->elements != 2 ||
				e->element[0]->type != REDIS_REPLY_STRING)
			continue;
		snprintf(mi->last_id, sizeof(mi->last_id), "%s", e->element[0]->str);
		const char *id = NULL, *op = NULL;
		redisReply *f = e->element[1];
		for (size_t k = 0; f->type == REDIS_REPLY_ARRAY && k + 1 < f->elements; k += 2) {
			if (f->element[k]->type != REDIS_REPLY_STRING ||
					f->element[k + 1]->type != REDIS_REPLY_STRING)
				continue;
			if (strcmp(f->element[k]->str, "id") == 0)
				id = f->element[k + 1]->str;
			else if (strcmp(f->element[k]->str, "op") == 0)
				op = f->element[k + 1]->str;
		}
		if (id == NULL || op == NULL || strlen(id) > SESS_ID_MAX)
			continue;
		if (strcmp(op, "set") == 0) {
			snprintf(ids[n++], sizeof(ids[0]), "%s", id);
			if (n == RTE_DIM(ids)) {
				ok = fetch(mi, ids, n, MIRROR_SET);
				n = 0;
			}
		} else if (strcmp(op, "del") == 0) {
			if (n > 0)
				ok = fetch(mi, ids, n, MIRROR_SET);
			n = 0;
			ok = ok && post_op(mi, MIRROR_DEL, id);
		}
	}
	if (ok && n > 0)
		ok = fetch(mi, ids, n, MIRROR_SET);
	freeReplyObject(r);
	if (ok && !still_in_stream(mi, since, &ok) && ok)
		*trimmed = true;
	return ok && !*trimmed;
}

static void nap_ms(struct state_mirror *mi, unsigned ms)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	uint64_t ns = (uint64_t)ts.tv_nsec + (uint64_t)ms * 1000000ull;
	ts.tv_sec += (time_t)(ns / 1000000000ull);
	ts.tv_nsec = (long)(ns % 1000000000ull);
	pthread_mutex_lock(&mi->mu);
	if (!mi->stop && !mi->finish)
		pthread_cond_timedwait(&mi->cv, &mi->mu, &ts);
	pthread_mutex_unlock(&mi->mu);
}

static void *mirror_main(void *arg)
{
	struct state_mirror *mi = arg;
	unsigned backoff = 50;
	bool synced = false;

	while (!stopping(mi)) {
		if (mi->rc == NULL) {
			mi->rc = redisConnectWithTimeout(mi->host, mi->port, tv_ms(MIRROR_TIMEOUT_MS));
			if (mi->rc == NULL || mi->rc->err) {
				drop_conn(mi, mi->rc != NULL ? mi->rc->errstr : "out of memory");
				nap_ms(mi, backoff);
				backoff = backoff * 2 > MIRROR_BACKOFF_MAX_MS ? MIRROR_BACKOFF_MAX_MS :
					backoff * 2;
				continue;
			}
			/* XREAD BLOCK waits longer than nothing: the timeout covers it */
			redisSetTimeout(mi->rc, tv_ms(MIRROR_TIMEOUT_MS + MIRROR_BLOCK_MS));
			synced = false;
		}
		pthread_mutex_lock(&mi->mu);
		bool finish = mi->finish;
		pthread_mutex_unlock(&mi->mu);
		if (finish) {
			/* take-over: the checkpoints of every session, then done */
			if (read_all(mi, MIRROR_COUNTERS)) {
				post_op(mi, MIRROR_COUNTERS_END, NULL);
				break;
			}
			if (mi->rc == NULL)
				nap_ms(mi, backoff);
			continue;
		}
		if (!synced) {
			synced = sync_all(mi);
			if (synced) {
				backoff = 50;
				set_up(mi, true, NULL);
			} else if (mi->rc == NULL) {
				nap_ms(mi, backoff);
				backoff = backoff * 2 > MIRROR_BACKOFF_MAX_MS ? MIRROR_BACKOFF_MAX_MS :
					backoff * 2;
			}
			continue;
		}
		bool trimmed;
		if (follow(mi, &trimmed) || !trimmed)
			continue;       /* (a Redis error: the connection is gone, reconnect) */
		LOGM(WARNING, "fell behind the trimmed %s: reading every session again", mi->stream);
		synced = false;
	}
	return NULL;
}

/* Escape glob characters for SCAN MATCH. */
static void glob_escape(const char *in, char *out, size_t len)
{
	size_t o = 0;
	for (; *in && o + 2 < len; in++) {
		if (strchr("*?[]\\", *in))
			out[o++] = '\\';
		out[o++] = *in;
	}
	out[o] = '\0';
}

struct state_mirror *state_mirror_start(const struct state_mirror_conf *c, char *err,
		size_t errlen)
{
	struct state_mirror *mi = calloc(1, sizeof(*mi));
	if (mi == NULL) {
		snprintf(err, errlen, "[state]: out of memory");
		return NULL;
	}
	snprintf(mi->host, sizeof(mi->host), "%s", c->host);
	mi->port = c->port;
	snprintf(mi->prefix, sizeof(mi->prefix), "%s%s:", c->key_prefix, c->pair);
	char esc[sizeof(mi->pattern) - 2];
	glob_escape(mi->prefix, esc, sizeof(esc));
	snprintf(mi->pattern, sizeof(mi->pattern), "%s*", esc);
	snprintf(mi->stream, sizeof(mi->stream), "%s%s#changes", c->key_prefix, c->pair);
	pthread_mutex_init(&mi->mu, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&mi->cv, &ca);
	pthread_condattr_destroy(&ca);
	if (pthread_create(&mi->thread, NULL, mirror_main, mi) != 0) {
		snprintf(err, errlen, "[state]: cannot start the mirror thread");
		pthread_cond_destroy(&mi->cv);
		pthread_mutex_destroy(&mi->mu);
		free(mi);
		return NULL;
	}
	pthread_setname_np(mi->thread, "rp-mirror");
	return mi;
}

void state_mirror_finish(struct state_mirror *mi)
{
	pthread_mutex_lock(&mi->mu);
	mi->finish = true;
	pthread_cond_broadcast(&mi->cv);
	pthread_mutex_unlock(&mi->mu);
}

struct mirror_item *state_mirror_next(struct state_mirror *mi)
{
	pthread_mutex_lock(&mi->mu);
	struct mirror_item *it = mi->head;
	if (it != NULL) {
		mi->head = it->next;
		if (mi->head == NULL)
			mi->tail = NULL;
		mi->queued--;
		pthread_cond_broadcast(&mi->cv);
	}
	pthread_mutex_unlock(&mi->mu);
	return it;
}

void state_mirror_item_free(struct mirror_item *it)
{
	if (it == NULL)
		return;
	if (it->op == MIRROR_SET || it->op == MIRROR_COUNTERS)
		state_rec_free(&it->rec);
	free(it);
}

bool state_mirror_up(const struct state_mirror *mi)
{
	pthread_mutex_lock((pthread_mutex_t *)&mi->mu);
	bool up = mi->up;
	pthread_mutex_unlock((pthread_mutex_t *)&mi->mu);
	return up;
}

void state_mirror_stop(struct state_mirror *mi)
{
	if (mi == NULL)
		return;
	pthread_mutex_lock(&mi->mu);
	mi->stop = true;
	pthread_cond_broadcast(&mi->cv);
	pthread_mutex_unlock(&mi->mu);
	pthread_join(mi->thread, NULL);
	struct mirror_item *it;
	while ((it = state_mirror_next(mi)) != NULL)
		state_mirror_item_free(it);
	if (mi->rc != NULL)
		redisFree(mi->rc);
	pthread_cond_destroy(&mi->cv);
	pthread_mutex_destroy(&mi->mu);
	free(mi);
}
