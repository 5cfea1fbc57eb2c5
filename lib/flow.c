/* rte_rcu_qsbr_dq_* are still "experimental" in DPDK 22.11, though stable in use since 20.05 */
#define ALLOW_EXPERIMENTAL_API

#include "flow.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <rte_errno.h>
#include <rte_hash.h>
#include <rte_hash_crc.h>
#include <rte_malloc.h>

#define FLOW_DEFER_SLACK 1024

_Static_assert(sizeof(struct flow_key) == 8, "flow_key is hashed as 8 raw bytes");

/*
 * rte_hash has vector compares for 16-, 32-... byte keys and falls back on memcmp (a call
 * through the PLT) for ours: one 64-bit compare instead. 0 when equal, as memcmp.
 */
static int flow_key_cmp(const void *a, const void *b, size_t len)
{
	uint64_t x, y;
	RTE_SET_USED(len);
	memcpy(&x, a, sizeof(x));
	memcpy(&y, b, sizeof(y));
	return x != y;
}

/* An entry (and its meter) back to the free pools. */
static void flow_put(struct flow_table *ft, struct flow *f)
{
	if (f->meter != IDPOOL_NONE)
		idpool_put(&ft->meters, f->meter);
	idpool_put(&ft->flows, f->id);
}

/* Called by the defer queue once no worker can still see these entries. */
static void flow_reclaim(void *p, void *e, unsigned int n)
{
	struct flow_table *ft = p;
	const uint32_t *ids = e;

	for (unsigned int i = 0; i < n; i++)
		flow_put(ft, flow_at(ft, ids[i]));
}

struct flow_table *flow_table_create(const char *name, uint32_t capacity, int socket,
		struct rte_rcu_qsbr *qsv)
{
	struct flow_table *ft = rte_zmalloc_socket(name, sizeof(*ft), 0, socket);
	if (ft == NULL) {
		rte_errno = ENOMEM;
		return NULL;
	}
	/* Deleted entries wait out a grace period in the hash's defer queue (reclaimed in
	 * batches of trigger_reclaim_limit): keep room for them beyond the promised capacity. */
	capacity += FLOW_DEFER_SLACK;
	ft->capacity = capacity;
	ft->qsv = qsv;
	if (idpool_init(&ft->flows, name, sizeof(struct flow), capacity, socket) != 0 ||
			idpool_init(&ft->meters, name, sizeof(struct flow_meter), capacity,
				socket) != 0)
		goto fail_nomem;

	char hname[RTE_HASH_NAMESIZE];
	snprintf(hname, sizeof(hname), "%s_h", name);
	struct rte_hash_parameters hp = {
		.name = hname,
		.entries = capacity,
		.key_len = sizeof(struct flow_key),
		.hash_func = rte_hash_crc,
		.socket_id = socket,
		.extra_flag = RTE_HASH_EXTRA_FLAGS_RW_CONCURRENCY_LF |
			RTE_HASH_EXTRA_FLAGS_EXT_TABLE,
	};
	ft->hash = rte_hash_create(&hp);
	if (ft->hash == NULL)
		goto fail;
	rte_hash_set_cmp_func(ft->hash, flow_key_cmp);

	struct rte_hash_rcu_config rc = {
		.v = qsv,
		.mode = RTE_HASH_QSBR_MODE_DQ,
		.trigger_reclaim_limit = 32,
	};
	if (rte_hash_rcu_qsbr_add(ft->hash, &rc) != 0)
		goto fail;

	char dqname[RTE_RCU_QSBR_DQ_NAMESIZE];
	snprintf(dqname, sizeof(dqname), "%s_dq", name);
	struct rte_rcu_qsbr_dq_parameters dp = {
		.name = dqname,
		.flags = RTE_RCU_QSBR_DQ_MT_UNSAFE,     /* the control lcore alone */
		.size = capacity,
		.esize = sizeof(uint32_t),
		.trigger_reclaim_limit = 32,
		.max_reclaim_size = 64,
		.free_fn = flow_reclaim,
		.p = ft,
		.v = qsv,
	};
	ft->dq = rte_rcu_qsbr_dq_create(&dp);
	if (ft->dq == NULL)
		goto fail;
	return ft;

fail_nomem:
	rte_errno = ENOMEM;
fail:;
	int e = rte_errno;
	flow_table_free(ft);
	rte_errno = e;
	return NULL;
}

void flow_table_free(struct flow_table *ft)
{
	if (ft == NULL)
		return;
	if (ft->dq != NULL)
		rte_rcu_qsbr_dq_delete(ft->dq);   /* waits for the grace period, frees the rest */
	rte_hash_free(ft->hash);
	idpool_fini(&ft->flows);
	idpool_fini(&ft->meters);
	rte_free(ft);
}

struct flow *flow_alloc(struct flow_table *ft)
{
	/* reuse what finished its grace period before growing; when the pool is full (or out
	 * of memory), wait for the rest */
	if (ft->flows.n_free == 0)
		rte_rcu_qsbr_dq_reclaim(ft->dq, UINT32_MAX, NULL, NULL, NULL);
	uint32_t id = idpool_get(&ft->flows);
	if (id == IDPOOL_NONE) {
		flow_table_sync(ft);
		rte_rcu_qsbr_dq_reclaim(ft->dq, UINT32_MAX, NULL, NULL, NULL);
		id = idpool_get(&ft->flows);
		if (id == IDPOOL_NONE)
			return NULL;
	}
	struct flow *f = flow_at(ft, id);
	uint32_t gen = f->gen;
	memset(f, 0, sizeof(*f));
	f->gen = (gen + 1) | 1;         /* odd: a new life, unlike any before */
	f->id = id;
	f->meter = IDPOOL_NONE;
	return f;
}

void flow_release(struct flow_table *ft, struct flow *f)
{
	flow_put(ft, f);
}

struct flow_meter *flow_meter_attach(struct flow_table *ft, struct flow *f)
{
	if (f->meter == IDPOOL_NONE) {
		f->meter = idpool_get(&ft->meters);
		if (f->meter == IDPOOL_NONE)
			return NULL;
	}
	struct flow_meter *fm = flow_meter_of(ft, f);
	memset(fm, 0, sizeof(*fm));
	return fm;
}

size_t flow_table_bytes(const struct flow_table *ft)
{
	return idpool_bytes(&ft->flows) + idpool_bytes(&ft->meters);
}

int flow_add(struct flow_table *ft, struct flow *f)
{
	if (rte_hash_lookup(ft->hash, &f->key) >= 0)
		return -EEXIST;
	int ret = rte_hash_add_key_data(ft->hash, &f->key, f);
	if (ret == -ENOSPC) {
		/* key slots still in their grace period: wait it out, the add reclaims them */
		flow_table_sync(ft);
		ret = rte_hash_add_key_data(ft->hash, &f->key, f);
	}
	if (ret < 0)
		return ret;
	ft->n_flows++;
	return 0;
}

int flow_del(struct flow_table *ft, struct flow *f)
{
	int32_t ret = rte_hash_del_key(ft->hash, &f->key);
	if (ret < 0)
		return ret;
	ft->n_flows--;
	/* even: what is held for it is no longer its (a worker may be reading it) */
	__atomic_store_n(&f->gen, f->gen + 1, __ATOMIC_RELAXED);
	/* the queue holds every pool entry at most once, so it never fills */
	return rte_rcu_qsbr_dq_enqueue(ft->dq, &f->id) == 0 ? 0 : -ENOSPC;
}

void flow_table_sync(struct flow_table *ft)
{
	rte_rcu_qsbr_synchronize(ft->qsv, RTE_QSBR_THRID_INVALID);
}

struct flow *flow_lookup(const struct flow_table *ft, const struct flow_key *key)
{
	void *data;
	if (rte_hash_lookup_data(ft->hash, key, &data) < 0)
		return NULL;
	return data;
}
