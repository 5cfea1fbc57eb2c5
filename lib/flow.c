/* rte_rcu_qsbr_dq_* are still "experimental" in DPDK 22.11, though stable in use since 20.05 */
#define ALLOW_EXPERIMENTAL_API

#include "flow.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <rte_errno.h>
#include <rte_byteorder.h>
#include <rte_malloc.h>

#include "pkt.h"

#define FLOW_DEFER_SLACK 1024

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
	/* Deleted entries wait out a grace period in the defer queue (reclaimed in batches of
	 * trigger_reclaim_limit): keep room for them beyond the promised capacity. */
	capacity += FLOW_DEFER_SLACK;
	ft->capacity = capacity;
	ft->qsv = qsv;
	if (idpool_init(&ft->flows, name, sizeof(struct flow), capacity, socket) != 0 ||
			idpool_init(&ft->meters, name, sizeof(struct flow_meter), capacity,
				socket) != 0)
		goto fail_nomem;

	ft->flows6 = rte_zmalloc_socket(name, sizeof(*ft->flows6) * ft->flows.max_chunks, 0,
			socket);
	if (ft->flows6 == NULL)
		goto fail_nomem;
	flow_dir_init(&ft->dir, socket);

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
	flow_dir_fini(&ft->dir);
	if (ft->flows6 != NULL)
		for (uint32_t c = 0; c < ft->flows.max_chunks; c++)
			rte_free(ft->flows6[c]);
	rte_free(ft->flows6);
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

struct flow6 *flow6_attach(struct flow_table *ft, struct flow *f)
{
	uint32_t c = f->id >> IDPOOL_CHUNK_SHIFT;
	if (ft->flows6[c] == NULL) {
		/* published before the flow that needs it (flow_add: release) */
		ft->flows6[c] = rte_zmalloc_socket("flow6", sizeof(struct flow6) * IDPOOL_CHUNK,
				RTE_CACHE_LINE_SIZE, ft->flows.socket);
		if (ft->flows6[c] == NULL)
			return NULL;
	}
	struct flow6 *f6 = flow6_of(ft, f);
	/* the old life's latch sequence goes on, so a reader never mistakes one for the other */
	uint32_t seq = f6->latch.seq;
	memset(f6, 0, sizeof(*f6));
	f6->latch.seq = (seq + 1) & ~1u;
	return f6;
}

size_t flow_table_bytes(const struct flow_table *ft)
{
	size_t n6 = 0;
	for (uint32_t c = 0; c < ft->flows.max_chunks; c++)
		n6 += ft->flows6[c] != NULL ? sizeof(struct flow6) * IDPOOL_CHUNK : 0;
	return idpool_bytes(&ft->flows) + idpool_bytes(&ft->meters) + flow_dir_bytes(&ft->dir) +
		n6;
}

void flow_table_set_owners(struct flow_table *ft, unsigned n)
{
	ft->n_owners = n;
}

int flow_add(struct flow_table *ft, struct flow *f)
{
	if (f->key.proto != PKT_IPPROTO_UDP)
		return -EINVAL;
	f->owner = ft->n_owners > 1 ?
		(uint8_t)((rte_be_to_cpu_16(f->key.port) >> 1) % ft->n_owners) : 0;
	if (f->key.v6 ? flow_dir_any6(f->key.addr6) : f->key.addr == 0)
		f->flags |= FLOW_F_WILDCARD;
	/* the entry is complete before its id becomes visible (flow_dir_add stores it with
	 * release order) */
	int ret = f->key.v6 ? flow_dir_add6(&ft->dir, f->key.addr6, f->key.port, f->id) :
		flow_dir_add(&ft->dir, f->key.addr, f->key.port, f->id);
	if (ret < 0)
		return ret;
	ft->n_flows++;
	return 0;
}

int flow_del(struct flow_table *ft, struct flow *f)
{
	int ret = f->key.v6 ? flow_dir_del6(&ft->dir, f->key.addr6, f->key.port, f->id) :
		flow_dir_del(&ft->dir, f->key.addr, f->key.port, f->id);
	if (ret < 0)
		return ret;
	ft->n_flows--;
	/* even: what is held for it is no longer its (a worker may be reading it) */
	__atomic_store_n(&f->gen, f->gen + 1, __ATOMIC_RELAXED);
	/* a worker that read the id before the clear still holds the entry: it is reused only
	 * after the grace period (the queue holds every pool entry at most once: never full) */
	return rte_rcu_qsbr_dq_enqueue(ft->dq, &f->id) == 0 ? 0 : -ENOSPC;
}

void flow_table_sync(struct flow_table *ft)
{
	rte_rcu_qsbr_synchronize(ft->qsv, RTE_QSBR_THRID_INVALID);
}

struct flow *flow_lookup(const struct flow_table *ft, const struct flow_key *key)
{
	if (key->proto != PKT_IPPROTO_UDP)
		return NULL;
	uint32_t id = key->v6 ? flow_dir_get6(&ft->dir, key->addr6, key->port) :
		flow_dir_get(&ft->dir, key->addr, key->port);
	return id == FLOW_DIR_NONE ? NULL : flow_at(ft, id);
}
