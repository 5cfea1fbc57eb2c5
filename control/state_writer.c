/*
 * The writer thread (state_writer.h). Entries leave the queue only once Redis has answered
 * them, so a connection lost mid-batch loses nothing: the batch is written again (every
 * command here may be repeated). A definition change is one MULTI/EXEC with its "#changes"
 * entry, so a reader (the standby, a restore) never sees one without the other. With a lease
 * key the whole batch is one MULTI/EXEC under WATCH of the lease, written only while no other
 * appliance holds it (the fence: a cut-off former active drops what it had queued).
 */
#define _GNU_SOURCE            /* pthread_setname_np */
#include "state_writer.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <hiredis/hiredis.h>

#include "ids.h"
#include "log.h"

#define LOG(level, fmt, ...) RTE_LOG(level, SESS, "state: " fmt "\n", ##__VA_ARGS__)

#define BATCH 256                       /* entries written per round trip */
#define CONNECT_TIMEOUT_MS 500
#define COMMAND_TIMEOUT_MS 2000
#define BACKOFF_MIN_MS 50
#define BACKOFF_MAX_MS 1000
#define IDLE_NAP_US 2000                /* an empty queue is looked at again this much later */
#define SCAN_COUNT "1000"
#define STATE_KEY_MAX 256      /* base (< 160) + ":" + id (<= 64) */

struct state_writer {
	char host[256];
	int port;
	char base[160];
	char marker[STATE_KEY_MAX];     /* base "#writer:" instance */
	char lease_key[STATE_KEY_MAX];  /* "" = no fence */
	char instance[80];              /* the lease's holder when it is ours */
	bool fenced_out;                /* the last batch was refused (logged once) */
	char token[40];                 /* its value: this process's writes */
	struct state_queue *q;
	pthread_t thread;
	redisContext *c;
	bool ever_up;                   /* connected once: a missing marker then means loss */
	bool warned;                    /* this outage was logged */
	bool drop_ctr;                  /* until a resync ends: counters could create half keys */
	/* a full resync in progress: keys found at its start, and which were written since */
	char **stale;
	uint8_t *seen;
	size_t n_stale;
	bool resyncing;
	/* shared with the control thread (atomics) */
	int stop, up, resync_req, load_req, load_done;
	int64_t last_ckpt_ms;
	uint64_t writes, refused;
	struct state_loaded *loaded;
	unsigned n_loaded;
};

static void nap_ms(unsigned ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000 };
	nanosleep(&ts, NULL);
}

static bool stopping(const struct state_writer *w)
{
	return __atomic_load_n(&w->stop, __ATOMIC_ACQUIRE) != 0;
}

static void disconnect(struct state_writer *w, const char *reason)
{
	char why[128];
	snprintf(why, sizeof(why), "%s", reason);       /* it may live in w->c */
	if (w->c != NULL) {
		redisFree(w->c);
		w->c = NULL;
	}
	__atomic_store_n(&w->up, 0, __ATOMIC_RELEASE);
	if (!w->warned) {
		LOG(WARNING, "Redis %s:%d is away (%s): sessions are kept in memory and queued "
				"until it returns", w->host, w->port, why);
		w->warned = true;
	}
}

/* A command's reply, or NULL after disconnecting. */
static redisReply *command(struct state_writer *w, int argc, const char **argv,
		const size_t *lens)
{
	redisReply *r = redisCommandArgv(w->c, argc, argv, lens);
	if (r == NULL) {
		disconnect(w, w->c->errstr);
		return NULL;
	}
	__atomic_add_fetch(&w->writes, 1, __ATOMIC_RELAXED);
	return r;
}

static void key_of(const struct state_writer *w, const char *id, char *key, size_t len)
{
	snprintf(key, len, "%s:%s", w->base, id);
}

/* ---- connecting ---- */

static int connect_once(struct state_writer *w)
{
	struct timeval ct = { 0, CONNECT_TIMEOUT_MS * 1000 };
	struct timeval tv = { COMMAND_TIMEOUT_MS / 1000, (COMMAND_TIMEOUT_MS % 1000) * 1000 };
	w->c = redisConnectWithTimeout(w->host, w->port, ct);
	if (w->c == NULL || w->c->err) {
		char why[128];
		snprintf(why, sizeof(why), "%s", w->c ? w->c->errstr : "out of memory");
		disconnect(w, why);
		return -1;
	}
	redisSetTimeout(w->c, tv);
	/* is what we wrote still there? The marker says whose writes the store holds. */
	const char *key = w->marker;
	const char *get[] = { "GET", key };
	redisReply *r = command(w, 2, get, NULL);
	if (r == NULL)
		return -1;
	bool ours = r->type == REDIS_REPLY_STRING && strcmp(r->str, w->token) == 0;
	freeReplyObject(r);
	const char *set[] = { "SET", key, w->token };
	r = command(w, 3, set, NULL);
	if (r == NULL)
		return -1;
	freeReplyObject(r);
	if (w->ever_up && !ours) {
		LOG(WARNING, "Redis lost what this appliance wrote: a full resync follows");
		w->drop_ctr = true;
		__atomic_store_n(&w->resync_req, 1, __ATOMIC_RELEASE);
	}
	if (w->warned)
		LOG(NOTICE, "Redis %s:%d is back", w->host, w->port);
	w->warned = false;
	w->ever_up = true;
	__atomic_store_n(&w->up, 1, __ATOMIC_RELEASE);
	return 0;
}

/* ---- loading (restore) ---- */

static int add_loaded(struct state_loaded **v, unsigned *n, unsigned *cap, const char *id,
		const redisReply *def, const redisReply *ctr)
{
	if (*n == *cap) {
		unsigned nc = *cap ? *cap * 2 : 1024;
		struct state_loaded *nv = realloc(*v, nc * sizeof(**v));
		if (nv == NULL)
			return -1;
		*v = nv;
		*cap = nc;
	}
	struct state_loaded *l = &(*v)[*n];
	memset(l, 0, sizeof(*l));
	snprintf(l->id, sizeof(l->id), "%s", id);
	l->def = malloc(def->len ? def->len : 1);
	if (l->def == NULL)
		return -1;
	memcpy(l->def, def->str, def->len);
	l->def_len = def->len;
	if (ctr->type == REDIS_REPLY_STRING) {
		l->ctr = malloc(ctr->len ? ctr->len : 1);
		if (l->ctr == NULL) {
			free(l->def);
			return -1;
		}
		memcpy(l->ctr, ctr->str, ctr->len);
		l->ctr_len = ctr->len;
	}
	(*n)++;
	return 0;
}

/* HMGET def ctr for every key of one SCAN page, pipelined; keys without "def" were never
 * written whole (counters alone): they are deleted, not restored. */
static int load_page(struct state_writer *w, const redisReply *keys, struct state_loaded **v,
		unsigned *n, unsigned *cap, unsigned *half)
{
	size_t plen = strlen(w->base) + 1;
	for (size_t i = 0; i < keys->elements; i++) {
		const char *argv[] = { "HMGET", keys->element[i]->str, "def", "ctr" };
		redisAppendCommandArgv(w->c, 4, argv, NULL);
	}
	for (size_t i = 0; i < keys->elements; i++) {
		redisReply *r;
		if (redisGetReply(w->c, (void **)&r) != REDIS_OK) {
			disconnect(w, w->c->errstr);
			return -1;
		}
		const char *key = keys->element[i]->str;
		if (r->type == REDIS_REPLY_ARRAY && r->elements == 2 &&
				r->element[0]->type == REDIS_REPLY_STRING) {
			if (strlen(key) > plen && strlen(key) - plen <= SESS_ID_MAX &&
					add_loaded(v, n, cap, key + plen, r->element[0],
						r->element[1]) != 0) {
				freeReplyObject(r);
				return -1;
			}
		} else if (r->type == REDIS_REPLY_ARRAY) {
			const char *del[] = { "DEL", key };
			freeReplyObject(r);
			r = command(w, 2, del, NULL);
			if (r == NULL)
				return -1;
			(*half)++;
		}
		freeReplyObject(r);
	}
	return 0;
}

/* SCAN base ":*" calling fn on each page. 0, or -1 (disconnected). */
static int scan_keys(struct state_writer *w, int (*fn)(struct state_writer *w,
			const redisReply *keys, void *arg), void *arg)
{
	char pattern[STATE_KEY_MAX], cursor[32] = "0";
	snprintf(pattern, sizeof(pattern), "%s:*", w->base);
	do {
		const char *argv[] = { "SCAN", cursor, "MATCH", pattern, "COUNT", SCAN_COUNT };
		redisReply *r = command(w, 6, argv, NULL);
		if (r == NULL)
			return -1;
		if (r->type != REDIS_REPLY_ARRAY || r->elements != 2) {
			LOG(ERR, "SCAN: unexpected reply");
			freeReplyObject(r);
			return -1;
		}
		snprintf(cursor, sizeof(cursor), "%s", r->element[0]->str);
		int rc = fn(w, r->element[1], arg);
		freeReplyObject(r);
		if (rc != 0)
			return -1;
	} while (strcmp(cursor, "0") != 0 && !stopping(w));
	return 0;
}

struct load_acc {
	struct state_loaded *v;
	unsigned n, cap, half;
};

static int load_fn(struct state_writer *w, const redisReply *keys, void *arg)
{
	struct load_acc *a = arg;
	return load_page(w, keys, &a->v, &a->n, &a->cap, &a->half);
}

static int load(struct state_writer *w)
{
	struct load_acc a = { 0 };
	if (scan_keys(w, load_fn, &a) != 0) {
		state_loaded_free(a.v, a.n);
		return -1;
	}
	if (a.half > 0)
		LOG(WARNING, "%u stored session(s) had counters but no definition (written "
				"half before a crash?): deleted, not restored", a.half);
	w->loaded = a.v;
	w->n_loaded = a.n;
	__atomic_store_n(&w->load_done, 1, __ATOMIC_RELEASE);
	return 0;
}

/* ---- the fence: write only while no other appliance holds the lease ---- */

/*
 * WATCH the lease and read it: 1 = ours or nobody's (MULTI appended: the caller appends its
 * commands and fence_close), 0 = another holder's (nothing appended; the WATCH is dropped),
 * -1 = disconnected. Without a lease key: 1 and nothing appended.
 */
static int fence_open(struct state_writer *w)
{
	if (w->lease_key[0] == '\0')
		return 1;
	const char *watch[] = { "WATCH", w->lease_key };
	redisReply *r = command(w, 2, watch, NULL);
	if (r == NULL)
		return -1;
	freeReplyObject(r);
	const char *get[] = { "GET", w->lease_key };
	r = command(w, 2, get, NULL);
	if (r == NULL)
		return -1;
	const char *holder = r->type == REDIS_REPLY_STRING ? strchr(r->str, ' ') : NULL;
	bool ours = holder == NULL || strcmp(holder + 1, w->instance) == 0;
	if (!ours && !w->fenced_out)
		LOG(WARNING, "the lease is \"%s\" now: this appliance's queued writes are dropped, "
				"not written over the new holder's", r->str);
	if (ours && w->fenced_out)
		LOG(NOTICE, "the lease is this appliance's again (%llu queued write(s) were "
				"dropped while it was another's)", (unsigned long long)
				__atomic_load_n(&w->refused, __ATOMIC_RELAXED));
	w->fenced_out = !ours;
	freeReplyObject(r);
	if (!ours) {
		const char *unwatch[] = { "UNWATCH" };
		r = command(w, 1, unwatch, NULL);
		if (r == NULL)
			return -1;
		freeReplyObject(r);
		return 0;
	}
	const char *multi[] = { "MULTI" };
	redisAppendCommandArgv(w->c, 1, multi, NULL);
	return 1;
}

/* After fence_open's 1: the EXEC; how many replies fence_open and this add. */
static unsigned fence_close(struct state_writer *w)
{
	if (w->lease_key[0] == '\0')
		return 0;
	const char *exec[] = { "EXEC" };
	redisAppendCommandArgv(w->c, 1, exec, NULL);
	return 2;
}

/*
 * Read `replies` pipelined replies. 1 = written, 0 = the fence's EXEC was aborted (the lease
 * changed in between, a renewal too: write again after a new look), -1 = disconnected.
 */
static int read_replies(struct state_writer *w, unsigned replies)
{
	unsigned refused = 0;
	int rc = 1;
	for (unsigned i = 0; i < replies; i++) {
		redisReply *r;
		if (redisGetReply(w->c, (void **)&r) != REDIS_OK) {
			disconnect(w, w->c->errstr);
			return -1;
		}
		if (r->type == REDIS_REPLY_ERROR && refused++ == 0)    /* once a batch */
			LOG(ERR, "Redis refused a write: %s", r->str);
		if (w->lease_key[0] != '\0' && i == replies - 1 && r->type == REDIS_REPLY_NIL)
			rc = 0;
		freeReplyObject(r);
	}
	__atomic_add_fetch(&w->writes, replies, __ATOMIC_RELAXED);
	return rc;
}

/* ---- a full resync: which keys did it not name? ---- */

static void stale_clear(struct state_writer *w)
{
	for (size_t i = 0; i < w->n_stale; i++)
		free(w->stale[i]);
	free(w->stale);
	free(w->seen);
	w->stale = NULL;
	w->seen = NULL;
	w->n_stale = 0;
	w->resyncing = false;
}

struct stale_acc {
	size_t cap;
	bool oom;
};

static int stale_fn(struct state_writer *w, const redisReply *keys, void *arg)
{
	struct stale_acc *a = arg;
	for (size_t i = 0; i < keys->elements && !a->oom; i++) {
		if (w->n_stale == a->cap) {
			size_t nc = a->cap ? a->cap * 2 : 1024;
			char **ns = realloc(w->stale, nc * sizeof(*ns));
			if (ns == NULL) {
				a->oom = true;
				break;
			}
			w->stale = ns;
			a->cap = nc;
		}
		w->stale[w->n_stale] = strdup(keys->element[i]->str);
		if (w->stale[w->n_stale] == NULL)
			a->oom = true;
		else
			w->n_stale++;
	}
	return 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int resync_begin(struct state_writer *w)
{
	struct stale_acc a = { 0 };
	stale_clear(w);
	if (scan_keys(w, stale_fn, &a) != 0) {
		stale_clear(w);
		return -1;
	}
	if (a.oom)
		LOG(ERR, "out of memory listing the stored sessions: stale ones may stay");
	qsort(w->stale, w->n_stale, sizeof(*w->stale), cmp_str);
	w->seen = calloc(w->n_stale + 1, 1);
	w->resyncing = w->seen != NULL;
	w->drop_ctr = true;
	LOG(INFO, "full resync: %zu key(s) in the store", w->n_stale);
	return 0;
}

static void resync_saw(struct state_writer *w, const char *key)
{
	if (!w->resyncing)
		return;
	char **hit = bsearch(&key, w->stale, w->n_stale, sizeof(*w->stale), cmp_str);
	if (hit != NULL)
		w->seen[hit - w->stale] = 1;
}

static unsigned append_changes(struct state_writer *w, const char *id, const char *op);

static int resync_end(struct state_writer *w)
{
	size_t n = 0, plen = strlen(w->base) + 1;
	unsigned replies = 0;
	int fence = fence_open(w);
	if (fence < 0)
		return -1;
	bool wrap = w->lease_key[0] == '\0';   /* fenced: the whole batch is one MULTI */
	for (size_t i = 0; fence == 1 && i < w->n_stale; i++) {
		if (w->seen[i] || strlen(w->stale[i]) <= plen)
			continue;
		const char *multi[] = { "MULTI" }, *exec[] = { "EXEC" };
		const char *del[] = { "DEL", w->stale[i] };
		if (wrap)
			redisAppendCommandArgv(w->c, 1, multi, NULL);
		redisAppendCommandArgv(w->c, 2, del, NULL);
		replies += 1 + append_changes(w, w->stale[i] + plen, "del");
		if (wrap) {
			redisAppendCommandArgv(w->c, 1, exec, NULL);
			replies += 2;
		}
		n++;
	}
	if (fence == 1) {
		replies += fence_close(w);
		int rc = read_replies(w, replies);
		if (rc <= 0)
			return rc < 0 ? -1 : 2;         /* aborted: the barrier is tried again */
	}
	LOG(INFO, "full resync done: %zu stale key(s) deleted%s", fence == 1 ? n : 0,
			fence == 1 ? "" : " (none: the lease is another's)");
	stale_clear(w);
	w->drop_ctr = false;
	return 0;
}

/* ---- writing entries ---- */

static unsigned append_changes(struct state_writer *w, const char *id, const char *op)
{
	char key[STATE_KEY_MAX];
	snprintf(key, sizeof(key), "%s#changes", w->base);
	const char *argv[] = { "XADD", key, "MAXLEN", "~", STATE_CHANGES_MAXLEN, "*", "id", id,
		"op", op };
	redisAppendCommandArgv(w->c, 10, argv, NULL);
	return 1;
}

/* Append e's commands; how many replies they give. wrap: a definition change is its own
 * MULTI/EXEC (else the caller's fence makes the whole batch one). */
static unsigned append_entry(struct state_writer *w, const struct state_entry *e, bool wrap)
{
	char key[STATE_KEY_MAX];
	key_of(w, e->id, key, sizeof(key));
	const char *multi[] = { "MULTI" }, *exec[] = { "EXEC" };
	unsigned extra = wrap ? 2 : 0;
	switch (e->op) {
	case STATE_SET: {
		const char *argv[] = { "HSET", key, "def", (const char *)e->data };
		size_t lens[] = { 4, strlen(key), 3, e->len };
		resync_saw(w, key);
		if (wrap)
			redisAppendCommandArgv(w->c, 1, multi, NULL);
		redisAppendCommandArgv(w->c, 4, argv, lens);
		append_changes(w, e->id, "set");
		if (wrap)
			redisAppendCommandArgv(w->c, 1, exec, NULL);
		return 2 + extra;
	}
	case STATE_DEL: {
		const char *argv[] = { "DEL", key };
		resync_saw(w, key);
		if (wrap)
			redisAppendCommandArgv(w->c, 1, multi, NULL);
		redisAppendCommandArgv(w->c, 2, argv, NULL);
		append_changes(w, e->id, "del");
		if (wrap)
			redisAppendCommandArgv(w->c, 1, exec, NULL);
		return 2 + extra;
	}
	case STATE_CTR: {
		if (w->drop_ctr)
			return 0;
		const char *argv[] = { "HSET", key, "ctr", (const char *)e->data };
		size_t lens[] = { 4, strlen(key), 3, e->len };
		redisAppendCommandArgv(w->c, 4, argv, lens);
		return 1;
	}
	default:
		return 0;
	}
}

static bool is_barrier(const struct state_entry *e)
{
	return e->op == STATE_RESYNC_BEGIN || e->op == STATE_RESYNC_END ||
		e->op == STATE_CKPT_END;
}

/* Write the oldest entries: a batch of plain ones, or one barrier. 1 = wrote something,
 * 0 = queue empty, -1 = disconnected (the entries stay queued). */
static int write_some(struct state_writer *w)
{
	struct state_entry *e = state_queue_peek(w->q);
	if (e == NULL)
		return 0;
	if (is_barrier(e)) {
		int rc = 0;
		if (e->op == STATE_RESYNC_BEGIN)
			rc = resync_begin(w);
		else if (e->op == STATE_RESYNC_END)
			rc = w->resyncing ? resync_end(w) : 0;
		else if (!w->drop_ctr)
			__atomic_store_n(&w->last_ckpt_ms, e->ms, __ATOMIC_RELEASE);
		if (rc == 2)
			return 1;
		if (rc != 0)
			return -1;
		free(state_queue_pop(w->q));
		return 1;
	}
	int fence = fence_open(w);
	if (fence < 0)
		return -1;
	unsigned n = 0, replies = 0;
	while (n < BATCH && (e = state_queue_at(w->q, n)) != NULL && !is_barrier(e)) {
		if (fence == 1)
			replies += append_entry(w, e, w->lease_key[0] == '\0');
		n++;
	}
	if (fence == 1) {
		replies += fence_close(w);
		int rc = read_replies(w, replies);
		if (rc < 0)
			return -1;
		if (rc == 0)
			return 1;       /* the lease changed meanwhile: looked at again, then written */
	} else {
		__atomic_add_fetch(&w->refused, n, __ATOMIC_RELAXED);
	}
	for (unsigned i = 0; i < n; i++)
		free(state_queue_pop(w->q));
	return 1;
}

static void *run(void *arg)
{
	struct state_writer *w = arg;
	unsigned backoff = BACKOFF_MIN_MS;
	while (!stopping(w)) {
		if (w->c == NULL) {
			if (connect_once(w) != 0) {
				nap_ms(backoff);
				backoff = backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff * 2;
				continue;
			}
			/* a resync cut short by the outage goes on: the keys it listed are still
			 * the ones to check (deleting one Redis lost meanwhile is harmless) */
			backoff = BACKOFF_MIN_MS;
		}
		if (__atomic_load_n(&w->load_req, __ATOMIC_ACQUIRE) &&
				!__atomic_load_n(&w->load_done, __ATOMIC_ACQUIRE)) {
			if (load(w) != 0)
				continue;
		}
		int rc = write_some(w);
		if (rc == 0)
			usleep(IDLE_NAP_US);
	}
	return NULL;
}

struct state_writer *state_writer_start(const struct state_writer_config *c,
		struct state_queue *q, char *err, size_t errlen)
{
	struct state_writer *w = calloc(1, sizeof(*w));
	if (w == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	snprintf(w->host, sizeof(w->host), "%s", c->host);
	w->port = c->port;
	snprintf(w->base, sizeof(w->base), "%s", c->base);
	snprintf(w->marker, sizeof(w->marker), "%s#writer:%s", c->base, c->instance);
	snprintf(w->lease_key, sizeof(w->lease_key), "%s", c->lease_key ? c->lease_key : "");
	snprintf(w->instance, sizeof(w->instance), "%s", c->instance);
	if (ids_uuid4(w->token) != 0)
		snprintf(w->token, sizeof(w->token), "%d-%ld", (int)getpid(), (long)time(NULL));
	w->q = q;
	int rc = pthread_create(&w->thread, NULL, run, w);
	if (rc != 0) {
		snprintf(err, errlen, "cannot start the writer thread: %s", strerror(rc));
		free(w);
		return NULL;
	}
	pthread_setname_np(w->thread, "rp-state");
	return w;
}

void state_writer_stop(struct state_writer *w)
{
	if (w == NULL)
		return;
	__atomic_store_n(&w->stop, 1, __ATOMIC_RELEASE);
	pthread_join(w->thread, NULL);
	if (w->c != NULL)
		redisFree(w->c);
	stale_clear(w);
	state_loaded_free(w->loaded, w->n_loaded);
	free(w);
}

bool state_writer_up(const struct state_writer *w)
{
	return __atomic_load_n(&w->up, __ATOMIC_ACQUIRE) != 0;
}

bool state_writer_take_resync_request(struct state_writer *w)
{
	return __atomic_exchange_n(&w->resync_req, 0, __ATOMIC_ACQ_REL) != 0;
}

int64_t state_writer_last_checkpoint(const struct state_writer *w)
{
	return __atomic_load_n(&w->last_ckpt_ms, __ATOMIC_ACQUIRE);
}

uint64_t state_writer_writes(const struct state_writer *w)
{
	return __atomic_load_n(&w->writes, __ATOMIC_RELAXED);
}

uint64_t state_writer_refused(const struct state_writer *w)
{
	return __atomic_load_n(&w->refused, __ATOMIC_RELAXED);
}

void state_writer_request_load(struct state_writer *w)
{
	__atomic_store_n(&w->load_req, 1, __ATOMIC_RELEASE);
}

struct state_loaded *state_writer_take_loaded(struct state_writer *w, unsigned *n)
{
	if (!__atomic_load_n(&w->load_done, __ATOMIC_ACQUIRE) || w->load_done == 2)
		return NULL;
	struct state_loaded *l = w->loaded;
	*n = w->n_loaded;
	w->loaded = NULL;
	w->n_loaded = 0;
	__atomic_store_n(&w->load_done, 2, __ATOMIC_RELEASE);       /* given */
	return l;
}

void state_loaded_free(struct state_loaded *l, unsigned n)
{
	for (unsigned i = 0; l != NULL && i < n; i++) {
		free(l[i].def);
		free(l[i].ctr);
	}
	free(l);
}

bool state_writer_loaded_done(const struct state_writer *w)
{
	return __atomic_load_n(&w->load_done, __ATOMIC_ACQUIRE) != 0;
}
