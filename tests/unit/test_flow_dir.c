/*
 * The direct flow table (lib/flow_dir.h): insert, lookup, delete; many addresses up to the
 * index limit; the wildcard beside an address; a deleted flow's id reused only after a grace
 * period while its slot is free at once; IPv6 addresses and `::` in the same index space.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <rte_eal.h>
#include <rte_lcore.h>
#include <rte_malloc.h>
#include <rte_rcu_qsbr.h>

#include "check.h"
#include "flow.h"
#include "flow_dir.h"
#include "pkt.h"

#define IDS_BYTES (FLOW_DIR_PORTS * sizeof(uint32_t))

static uint32_t addr_of(uint32_t i) { return htonl(0xc6120000u + 256 + i); }   /* 198.18.1.0+i... */

static void test_basics(void)
{
	struct flow_dir *d = calloc(1, sizeof(*d));
	flow_dir_init(d, SOCKET_ID_ANY);
	uint32_t a = addr_of(10), b = addr_of(11);
	uint16_t p = htons(4000), q = htons(4002);

	CHECK(flow_dir_bytes(d) == 0);
	CHECK(flow_dir_get(d, a, p) == FLOW_DIR_NONE);
	CHECK(flow_dir_index(d, a) == 0);
	CHECK(flow_dir_add(d, a, p, 7) == 0);
	CHECK(flow_dir_index(d, a) == 1);
	CHECK(flow_dir_bytes(d) == IDS_BYTES);
	CHECK(flow_dir_get(d, a, p) == 7);
	CHECK(flow_dir_get(d, a, q) == FLOW_DIR_NONE);
	CHECK(flow_dir_get(d, b, p) == FLOW_DIR_NONE);
	CHECK(flow_dir_add(d, a, p, 8) == -EEXIST);
	CHECK(flow_dir_get(d, a, p) == 7);
	CHECK(flow_dir_add(d, a, q, 9) == 0);
	CHECK(flow_dir_bytes(d) == IDS_BYTES);          /* same address, same array */
	CHECK(flow_dir_add(d, b, p, 10) == 0);
	CHECK(flow_dir_index(d, b) == 2);
	/* the wildcard: its own array, index 0, beside the addresses' */
	CHECK(flow_dir_ids(d, 0) == NULL);
	CHECK(flow_dir_get(d, 0, p) == FLOW_DIR_NONE);
	CHECK(flow_dir_add(d, 0, p, 11) == 0);
	CHECK(flow_dir_ids(d, 0) != NULL);
	CHECK(flow_dir_get(d, 0, p) == 11);
	CHECK(flow_dir_get(d, a, p) == 7);
	CHECK(flow_dir_add(d, 0, p, 12) == -EEXIST);
	CHECK(flow_dir_bytes(d) == 3 * IDS_BYTES);
	/* delete: only the id installed there */
	CHECK(flow_dir_del(d, a, p, 8) == -ENOENT);
	CHECK(flow_dir_del(d, addr_of(99), p, 7) == -ENOENT);
	CHECK(flow_dir_del(d, a, p, 7) == 0);
	CHECK(flow_dir_get(d, a, p) == FLOW_DIR_NONE);
	CHECK(flow_dir_get(d, a, q) == 9);
	CHECK(flow_dir_del(d, a, p, 7) == -ENOENT);
	CHECK(flow_dir_del(d, 0, p, 11) == 0);
	CHECK(flow_dir_get(d, 0, p) == FLOW_DIR_NONE);
	CHECK(flow_dir_get(d, b, p) == 10);
	/* the address keeps its index */
	CHECK(flow_dir_add(d, a, p, 13) == 0);
	CHECK(flow_dir_index(d, a) == 1);
	flow_dir_fini(d);
	free(d);
}

/* Every index up to the limit, each on a different address and port; then -ENOSPC. */
static void test_many_addresses(void)
{
	struct flow_dir *d = calloc(1, sizeof(*d));
	flow_dir_init(d, SOCKET_ID_ANY);
	unsigned ok = 0;
	for (uint32_t i = 0; i < FLOW_DIR_ADDRS - 1; i++)
		ok += flow_dir_add(d, addr_of(i), htons((uint16_t)(1024 + i)), i) == 0;
	CHECK_EQ_U(ok, FLOW_DIR_ADDRS - 1);
	CHECK(flow_dir_add(d, addr_of(FLOW_DIR_ADDRS), htons(1024), 1) == -ENOSPC);
	/* addresses that have an index still take flows */
	CHECK(flow_dir_add(d, addr_of(3), htons(2000), 77777) == 0);
	unsigned found = 0, exact = 1;
	for (uint32_t i = 0; i < FLOW_DIR_ADDRS - 1; i++) {
		found += flow_dir_get(d, addr_of(i), htons((uint16_t)(1024 + i))) == i;
		exact &= flow_dir_get(d, addr_of(i), htons((uint16_t)(1025 + i))) == FLOW_DIR_NONE;
	}
	CHECK_EQ_U(found, FLOW_DIR_ADDRS - 1);
	CHECK(exact);
	CHECK(flow_dir_get(d, addr_of(3), htons(2000)) == 77777);
	CHECK(flow_dir_get(d, addr_of(FLOW_DIR_ADDRS), htons(1024)) == FLOW_DIR_NONE);
	CHECK_EQ_U(flow_dir_bytes(d), (FLOW_DIR_ADDRS - 1) * IDS_BYTES);
	flow_dir_fini(d);
	free(d);
}

/* Through the flow table, with this thread as an online reader that has not reported a
 * quiescent state: the slot is free at once, the old entry stays whole and its id is not
 * handed out until the reader reports. */
static void test_reuse_after_grace(void)
{
	size_t sz = rte_rcu_qsbr_get_memsize(1);
	struct rte_rcu_qsbr *qsv = rte_zmalloc(NULL, sz, RTE_CACHE_LINE_SIZE);
	CHECK(qsv != NULL && rte_rcu_qsbr_init(qsv, 1) == 0);
	struct flow_table *ft = flow_table_create("tdir", 8, SOCKET_ID_ANY, qsv);
	CHECK(ft != NULL);
	if (ft == NULL)
		return;
	rte_rcu_qsbr_thread_register(qsv, 0);
	rte_rcu_qsbr_thread_online(qsv, 0);

	struct flow_key k = flow_key_make(addr_of(1), htons(5000), PKT_IPPROTO_UDP);
	struct flow_key wk = flow_key_make(0, htons(5000), PKT_IPPROTO_UDP);
	struct flow *f = flow_alloc(ft), *w = flow_alloc(ft);
	f->key = k;
	f->src_port = 1111;
	w->key = wk;
	CHECK(flow_add(ft, f) == 0);
	CHECK(flow_add(ft, w) == 0);
	CHECK(flow_lookup(ft, &k) == f);
	CHECK(flow_lookup(ft, &wk) == w);
	struct flow_key tcp = flow_key_make(addr_of(1), htons(5002), PKT_IPPROTO_TCP);
	struct flow *t = flow_alloc(ft);
	t->key = tcp;
	CHECK(flow_add(ft, t) == -EINVAL);
	flow_release(ft, t);

	uint32_t old = f->id;
	CHECK(flow_del(ft, f) == 0);
	CHECK(flow_lookup(ft, &k) == NULL);
	CHECK(flow_lookup(ft, &wk) == w);
	/* every other entry (all but w's and the deleted one) can be taken; the deleted one is
	 * not among them (one more would wait for this thread's grace period: never) */
	uint32_t n = ft->capacity - 2;
	struct flow **taken = calloc(ft->capacity, sizeof(*taken));
	uint32_t got = 0;
	bool reused = false;
	while (got < ft->capacity && (taken[got] = flow_alloc(ft)) != NULL) {
		reused |= taken[got]->id == old;
		got++;
		if (got == n)
			break;
	}
	CHECK(!reused);
	CHECK(got == n);
	CHECK(flow_at(ft, old)->src_port == 1111);      /* still whole for the reader */
	/* a new flow takes the key at once */
	struct flow *g = taken[--got];
	g->key = k;
	CHECK(flow_add(ft, g) == 0);
	CHECK(flow_lookup(ft, &k) == g && g->id != old);
	/* the reader passes a quiescent state: the id comes back */
	rte_rcu_qsbr_quiescent(qsv, 0);
	struct flow *again = flow_alloc(ft);
	CHECK(again != NULL && again->id == old);
	if (again != NULL)
		flow_release(ft, again);
	for (uint32_t i = 0; i < got; i++)
		flow_release(ft, taken[i]);
	free(taken);
	CHECK(flow_del(ft, g) == 0);
	CHECK(flow_del(ft, w) == 0);
	CHECK(flow_lookup(ft, &wk) == NULL);
	rte_rcu_qsbr_thread_offline(qsv, 0);
	rte_rcu_qsbr_thread_unregister(qsv, 0);
	flow_table_free(ft);
	rte_free(qsv);
}

/* 2001:db8::<i> (i < 65536), and one that differs from it in the top half only. */
static void addr6_of(uint32_t i, bool other_half, uint8_t out[16])
{
	memset(out, 0, 16);
	out[0] = 0x20;
	out[1] = 0x01;
	out[2] = 0x0d;
	out[3] = 0xb8;
	out[7] = other_half;
	out[14] = (uint8_t)(i >> 8);
	out[15] = (uint8_t)i;
}

/* IPv6 addresses get indexes from the same space as IPv4's; `::` has its own, apart from
 * 0.0.0.0's index 0; an IPv4 address and an IPv6 one never find each other's flows. */
static void test_ipv6(void)
{
	struct flow_dir *d = calloc(1, sizeof(*d));
	flow_dir_init(d, SOCKET_ID_ANY);
	uint8_t a[16], b[16], any[16] = { 0 };
	addr6_of(0x10, false, a);
	addr6_of(0x10, true, b);
	uint16_t p = htons(4000);

	CHECK(flow_dir_index6(d, a) == 0);
	CHECK(flow_dir_get6(d, a, p) == FLOW_DIR_NONE);
	CHECK(flow_dir_add(d, addr_of(10), p, 1) == 0);         /* index 1 */
	CHECK(flow_dir_add6(d, a, p, 2) == 0);
	CHECK(flow_dir_index6(d, a) == 2);
	CHECK(flow_dir_get6(d, a, p) == 2);
	CHECK(flow_dir_get6(d, b, p) == FLOW_DIR_NONE);         /* 64 bits apart */
	CHECK(flow_dir_add6(d, b, p, 3) == 0);
	CHECK(flow_dir_index6(d, b) == 3);
	CHECK(flow_dir_add6(d, a, p, 4) == -EEXIST);
	CHECK(flow_dir_get(d, addr_of(10), p) == 1);
	/* an IPv4 address whose bytes are the IPv6 one's last four is another address */
	uint32_t tail;
	memcpy(&tail, a + 12, 4);
	CHECK(flow_dir_get(d, tail, p) == FLOW_DIR_NONE);
	/* the wildcards: both on port p, apart */
	CHECK(d->wild6 == 0);
	CHECK(flow_dir_get6(d, any, p) == FLOW_DIR_NONE);
	CHECK(flow_dir_add(d, 0, p, 5) == 0);
	CHECK(flow_dir_get6(d, any, p) == FLOW_DIR_NONE);
	CHECK(flow_dir_add6(d, any, p, 6) == 0);
	CHECK(d->wild6 == 4);
	CHECK(flow_dir_index6(d, any) == 0);                    /* not in the address table */
	CHECK(flow_dir_get6(d, any, p) == 6);
	CHECK(flow_dir_get(d, 0, p) == 5);
	CHECK(flow_dir_add6(d, any, p, 7) == -EEXIST);
	CHECK(flow_dir_bytes(d) == 5 * IDS_BYTES);
	/* delete: only the id installed there, of its family */
	CHECK(flow_dir_del6(d, a, p, 3) == -ENOENT);
	CHECK(flow_dir_del6(d, a, p, 2) == 0);
	CHECK(flow_dir_get6(d, a, p) == FLOW_DIR_NONE);
	CHECK(flow_dir_get6(d, b, p) == 3);
	CHECK(flow_dir_del6(d, any, p, 5) == -ENOENT);
	CHECK(flow_dir_del6(d, any, p, 6) == 0);
	CHECK(flow_dir_get(d, 0, p) == 5);
	CHECK(flow_dir_get6(d, any, p) == FLOW_DIR_NONE);
	uint8_t c[16];
	addr6_of(0x99, false, c);
	CHECK(flow_dir_del6(d, c, p, 2) == -ENOENT);
	/* many: the index space is shared with IPv4's (0 and four given), every one found */
	unsigned ok = 0, found = 0;
	for (uint32_t i = 0; i < FLOW_DIR_ADDRS - 5; i++) {
		addr6_of(0x1000 + i, i & 1, c);
		ok += flow_dir_add6(d, c, p, 100 + i) == 0;
	}
	CHECK_EQ_U(ok, FLOW_DIR_ADDRS - 5);
	addr6_of(0x9999, false, c);
	CHECK(flow_dir_add6(d, c, p, 1) == -ENOSPC);
	CHECK(flow_dir_add(d, addr_of(200), p, 1) == -ENOSPC);
	for (uint32_t i = 0; i < FLOW_DIR_ADDRS - 5; i++) {
		addr6_of(0x1000 + i, i & 1, c);
		found += flow_dir_get6(d, c, p) == 100 + i;
	}
	CHECK_EQ_U(found, FLOW_DIR_ADDRS - 5);
	flow_dir_fini(d);
	free(d);
}

int main(int argc, char **argv)
{
	char prefix[64];
	snprintf(prefix, sizeof(prefix), "--file-prefix=tfdir%d", (int)getpid());
	char *eal[] = { argv[0], "-l", "0", "--no-huge", "-m", "512", "--no-pci",
		"--no-shconf", prefix, "--log-level=error", NULL };
	(void)argc;
	if (rte_eal_init((int)RTE_DIM(eal) - 1, eal) < 0) {
		fprintf(stderr, "EAL init failed\n");
		return 1;
	}
	test_basics();
	test_many_addresses();
	test_reuse_after_grace();
	test_ipv6();
	rte_eal_cleanup();
	return check_summary("test_flow_dir");
}
