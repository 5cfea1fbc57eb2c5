/*
 * The flow table under concurrent change: one worker lcore looks flows up without pause while
 * the main lcore adds and deletes thousands of them. A lookup must never return an entry that
 * was given back to the pool: reclaimed entries are poisoned here, and the reader checks that
 * whatever it finds still carries the key it looked up.
 */
#include <stdatomic.h>
#include <errno.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>
#include <rte_eal.h>
#include <rte_launch.h>
#include <rte_lcore.h>
#include <rte_malloc.h>
#include <rte_pause.h>
#include <rte_rcu_qsbr.h>

#include "check.h"
#include "flow.h"
#include "pkt.h"

#define N_KEYS 4096
#define ROUNDS 40

static struct flow_table *ft;
static struct rte_rcu_qsbr *qsv;
static atomic_bool stop;
static atomic_ulong lookups, hits, bad;

static struct flow_key key_of(uint32_t i)
{
	return flow_key_make(0x0112c6c6u + (i >> 12), (uint16_t)(i & 0xfff) + 1000, PKT_IPPROTO_UDP);
}

static int reader(void *arg)
{
	(void)arg;
	rte_rcu_qsbr_thread_register(qsv, 0);
	rte_rcu_qsbr_thread_online(qsv, 0);
	uint32_t i = 0;
	while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
		struct flow_key k = key_of(i++ % N_KEYS);
		struct flow *f = flow_lookup(ft, &k);
		atomic_fetch_add_explicit(&lookups, 1, memory_order_relaxed);
		if (f != NULL) {
			atomic_fetch_add_explicit(&hits, 1, memory_order_relaxed);
			/* hold on to it a while, as a worker does across a burst: without a grace
			 * period the writer would recycle it under our feet */
			for (int spin = 0; spin < 20; spin++)
				rte_pause();
			/* written before publication, poisoned only after the grace period */
			if (memcmp(&f->key, &k, sizeof(k)) != 0 || f->src_port != k.port)
				atomic_fetch_add_explicit(&bad, 1, memory_order_relaxed);
			f->stats.pkts_rx++;   /* a worker writes its flows too */
		}
		if ((i & 63) == 0)
			rte_rcu_qsbr_quiescent(qsv, 0);
	}
	rte_rcu_qsbr_thread_offline(qsv, 0);
	rte_rcu_qsbr_thread_unregister(qsv, 0);
	return 0;
}

/* A reader that holds one flow until told to let go, reporting no quiescent state meanwhile. */
static atomic_int hold_phase;   /* 0 start, 1 holding, 2 release, 3 done */
static atomic_bool hold_intact;

static int holder(void *arg)
{
	const struct flow_key *k = arg;
	rte_rcu_qsbr_thread_register(qsv, 0);
	rte_rcu_qsbr_thread_online(qsv, 0);
	struct flow *f = flow_lookup(ft, k);
	atomic_store(&hold_phase, 1);
	while (atomic_load(&hold_phase) != 2)
		rte_pause();
	atomic_store(&hold_intact, f != NULL && memcmp(&f->key, k, sizeof(*k)) == 0);
	rte_rcu_qsbr_quiescent(qsv, 0);
	rte_rcu_qsbr_thread_offline(qsv, 0);
	rte_rcu_qsbr_thread_unregister(qsv, 0);
	atomic_store(&hold_phase, 3);
	return 0;
}

/* Deterministic: a deleted entry is not handed out again while a reader may still hold it. */
static void test_grace_period(unsigned lcore)
{
	struct flow_key k = key_of(7);
	struct flow *f = flow_alloc(ft);
	f->key = k;
	CHECK(flow_add(ft, f) == 0);
	CHECK(rte_eal_remote_launch(holder, &k, lcore) == 0);
	while (atomic_load(&hold_phase) != 1)
		rte_pause();
	CHECK(flow_del(ft, f) == 0);
	/* take every entry but the held one (the pool grows chunk by chunk as they go): the held
	 * one must not be among them */
	uint32_t n = ft->capacity - 1;
	struct flow **taken = calloc(n, sizeof(*taken));
	bool reused = false;
	for (uint32_t i = 0; i < n; i++) {
		taken[i] = flow_alloc(ft);
		reused |= taken[i] == f;
	}
	CHECK(!reused);
	atomic_store(&hold_phase, 2);
	rte_eal_wait_lcore(lcore);
	CHECK(atomic_load(&hold_intact));
	/* after the reader's quiescent state it comes back */
	struct flow *again = flow_alloc(ft);
	CHECK(again == f);
	flow_release(ft, again);
	for (uint32_t i = 0; i < n; i++)
		flow_release(ft, taken[i]);
	free(taken);
}

int main(int argc, char **argv)
{
	char prefix[64];
	snprintf(prefix, sizeof(prefix), "--file-prefix=tflow%d", (int)getpid());
	char *eal[] = { argv[0], "-l", "0-1", "--no-huge", "-m", "256", "--no-pci",
		"--no-shconf", prefix, "--log-level=error", NULL };
	(void)argc;
	if (rte_eal_init((int)RTE_DIM(eal) - 1, eal) < 0) {
		fprintf(stderr, "EAL init failed\n");
		return 1;
	}
	size_t sz = rte_rcu_qsbr_get_memsize(1);
	qsv = rte_zmalloc(NULL, sz, RTE_CACHE_LINE_SIZE);
	CHECK(qsv != NULL && rte_rcu_qsbr_init(qsv, 1) == 0);
	ft = flow_table_create("tflows", N_KEYS, SOCKET_ID_ANY, qsv);
	CHECK(ft != NULL);
	if (ft == NULL)
		return check_summary("test_flow_rcu");

	/* memory follows use: nothing until the first flow, then one chunk */
	CHECK(flow_table_bytes(ft) == 0);
	/* basics, single-threaded */
	struct flow *f = flow_alloc(ft);
	CHECK(flow_table_bytes(ft) == IDPOOL_CHUNK * sizeof(struct flow));
	/* a meter is zeroed state of its own, given back with the flow */
	struct flow *metered = flow_alloc(ft);
	struct flow_meter *fm = flow_meter_attach(ft, metered);
	CHECK(fm != NULL && fm == flow_meter_of(ft, metered));
	CHECK(flow_table_bytes(ft) == IDPOOL_CHUNK * (sizeof(struct flow) +
				sizeof(struct flow_meter)));
	uint32_t meters_free = ft->meters.n_free;
	flow_release(ft, metered);
	CHECK(ft->meters.n_free == meters_free + 1);
	f->key = key_of(1);
	f->src_port = f->key.port;
	CHECK(flow_add(ft, f) == 0);
	CHECK(flow_lookup(ft, &f->key) == f);
	struct flow *dup = flow_alloc(ft);
	dup->key = key_of(1);
	CHECK(flow_add(ft, dup) == -EEXIST);
	flow_release(ft, dup);
	CHECK(flow_del(ft, f) == 0);
	CHECK(flow_lookup(ft, &f->key) == NULL);
	CHECK(flow_del(ft, f) < 0);

	test_grace_period(rte_get_next_lcore(-1, 1, 0));

	/* capacity: exactly N_KEYS flows fit */
	struct flow **all = calloc(N_KEYS, sizeof(*all));
	unsigned added = 0;
	for (uint32_t i = 0; i < N_KEYS; i++) {
		all[i] = flow_alloc(ft);
		if (all[i] == NULL)
			break;
		all[i]->key = key_of(i);
		all[i]->src_port = all[i]->key.port;
		if (flow_add(ft, all[i]) == 0)
			added++;
	}
	CHECK_EQ_U(added, N_KEYS);

	/* now churn with a concurrent reader */
	unsigned lcore = rte_get_next_lcore(-1, 1, 0);
	CHECK(rte_eal_remote_launch(reader, NULL, lcore) == 0);
	unsigned long churn = 0;
	bool broken = false;
	for (int r = 0; r < ROUNDS && !broken; r++) {
		for (uint32_t i = (uint32_t)r % 2; i < N_KEYS; i += 2) {
			CHECK(flow_del(ft, all[i]) == 0);
			all[i] = NULL;
			churn++;
		}
		for (uint32_t i = (uint32_t)r % 2; i < N_KEYS; i += 2) {
			/* entries still in their grace period are covered by the pool's slack */
			struct flow *n = flow_alloc(ft);
			CHECK(n != NULL);
			if (n == NULL) {
				broken = true;
				break;
			}
			n->key = key_of(i);
			n->src_port = n->key.port;
			CHECK(flow_add(ft, n) == 0);
			all[i] = n;
		}
	}
	atomic_store(&stop, true);
	rte_eal_wait_lcore(lcore);

	printf("flows churned: %lu, reader lookups: %lu (hits %lu), bad: %lu\n", churn,
			atomic_load(&lookups), atomic_load(&hits), atomic_load(&bad));
	CHECK(atomic_load(&lookups) > 0);
	CHECK(atomic_load(&hits) > 0);
	CHECK_EQ_U(atomic_load(&bad), 0);
	CHECK(!broken);
	CHECK_EQ_U(ft->n_flows, N_KEYS);

	free(all);
	flow_table_free(ft);
	rte_free(qsv);
	rte_eal_cleanup();
	return check_summary("test_flow_rcu");
}
