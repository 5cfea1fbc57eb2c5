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

/* Called by the defer queue once no worker can still see these entries. */
static void flow_reclaim(void *p, void *e, unsigned int n)
{
	struct flow_table *ft = p;
	const uint32_t *ids = e;

	for (unsigned int i = 0; i < n; i++)
		ft->free_ids[ft->n_free++] = ids[i];
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
	ft->pool = rte_zmalloc_socket(name, sizeof(struct flow) * capacity,
			RTE_CACHE_LINE_SIZE, socket);
	ft->free_ids = rte_malloc_socket(name, sizeof(uint32_t) * capacity, 0, socket);
	if (ft->pool == NULL || ft->free_ids == NULL)
		goto fail_nomem;
	/* popped from the top: hand out low indices first, for locality */
	for (uint32_t i = 0; i < capacity; i++)
		ft->free_ids[i] = capacity - 1 - i;
	ft->n_free = capacity;

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
	rte_free(ft->pool);
	rte_free(ft->free_ids);
	rte_free(ft);
}

struct flow *flow_alloc(struct flow_table *ft)
{
	if (ft->n_free == 0) {
		/* everything free is still in its grace period: take what is over, else wait */
		rte_rcu_qsbr_dq_reclaim(ft->dq, UINT32_MAX, NULL, NULL, NULL);
		if (ft->n_free == 0) {
			flow_table_sync(ft);
			rte_rcu_qsbr_dq_reclaim(ft->dq, UINT32_MAX, NULL, NULL, NULL);
		}
		if (ft->n_free == 0)
			return NULL;
	}
	uint32_t id = ft->free_ids[--ft->n_free];
	struct flow *f = &ft->pool[id];
	memset(f, 0, sizeof(*f));
	f->id = id;
	return f;
}

void flow_release(struct flow_table *ft, struct flow *f)
{
	ft->free_ids[ft->n_free++] = f->id;
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
