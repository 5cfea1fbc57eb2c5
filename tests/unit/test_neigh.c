/*
 * The neighbour table (lib/neigh.c) and ARP learning (lib/slowpath.c): the (port, address)
 * index against a reference model through random inserts, lookups and deletes (full table
 * included); static entries; and learning that trusts only answers to our own requests
 * (unsolicited replies create nothing and change nothing, a request to us only re-confirms
 * the MAC we know). EAL with --no-huge: no privileges.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <rte_arp.h>
#include <rte_eal.h>
#include <rte_ether.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>
#include <rte_ring.h>

#include "check.h"
#include "dp.h"
#include "test_dp.h"
#include "neigh.h"
#include "slowpath.h"

/* ---- the index against a model ---- */

#define CAP 256
#define N_KEYS 600      /* more keys than room: the table fills up */

struct model {
	uint32_t idx;           /* NEIGH_NONE: not in the table */
	uint32_t refs;
};

static uint32_t key_ip(unsigned k)
{
	/* clustered addresses (one /24 after another), as next hops are */
	return htonl(0xc6120000u + (k / 2) * 7);
}

static uint16_t key_port(unsigned k)
{
	return (uint16_t)(k & 1);       /* the same address on two ports: two entries */
}

static void test_index_model(void)
{
	struct neigh_table *nt = neigh_table_create(CAP, SOCKET_ID_ANY);
	static struct model m[N_KEYS];
	unsigned live = 0, full_refusals = 0, mismatches = 0, bad_find = 0;
	CHECK(nt != NULL);
	if (nt == NULL)
		return;
	for (unsigned k = 0; k < N_KEYS; k++)
		m[k] = (struct model){ NEIGH_NONE, 0 };
	srand(9);
	for (unsigned op = 0; op < 200000; op++) {
		unsigned k = (unsigned)rand() % N_KEYS;
		int what = rand() % 3;
		if (what == 0) {                        /* take a reference */
			uint32_t idx = neigh_get(nt, key_port(k), key_ip(k));
			if (m[k].idx == NEIGH_NONE && live == CAP) {
				full_refusals += idx == NEIGH_NONE;
				mismatches += idx != NEIGH_NONE;
				continue;
			}
			if (m[k].idx == NEIGH_NONE) {
				m[k].idx = idx;
				live++;
			}
			mismatches += idx != m[k].idx;
			m[k].refs++;
		} else if (what == 1 && m[k].refs > 0) {        /* drop one */
			neigh_put(nt, m[k].idx);
			if (--m[k].refs == 0) {
				m[k].idx = NEIGH_NONE;
				live--;
			}
		} else {                                /* look up */
			bad_find += neigh_find(nt, key_port(k), key_ip(k)) != m[k].idx;
		}
	}
	CHECK_EQ_U(mismatches, 0);
	CHECK_EQ_U(bad_find, 0);
	CHECK(full_refusals > 0);               /* the run did reach a full table */
	/* every key, present or not, answers as the model says; entries are what they claim */
	unsigned wrong = 0;
	for (unsigned k = 0; k < N_KEYS; k++) {
		uint32_t idx = neigh_find(nt, key_port(k), key_ip(k));
		wrong += idx != m[k].idx;
		if (idx != NEIGH_NONE)
			wrong += nt->ent[idx].ip != key_ip(k) || nt->ent[idx].port != key_port(k) ||
				nt->ent[idx].refs != m[k].refs;
	}
	CHECK_EQ_U(wrong, 0);
	CHECK_EQ_U(nt->used - nt->n_free, live);
	/* empty it: every slot free again, and it fills to capacity once more */
	for (unsigned k = 0; k < N_KEYS; k++)
		while (m[k].refs > 0) {
			neigh_put(nt, m[k].idx);
			m[k].refs--;
		}
	unsigned empty = 0;
	for (uint32_t i = 0; i <= nt->slot_mask; i++)
		empty += nt->slot[i] == NEIGH_NONE;
	CHECK_EQ_U(empty, nt->slot_mask + 1);
	CHECK(nt->slot_mask + 1 >= 2 * CAP);    /* at most half full: short probes */
	unsigned got = 0;
	for (unsigned k = 0; k < CAP; k++)
		got += neigh_get(nt, key_port(k), key_ip(k)) != NEIGH_NONE;
	CHECK_EQ_U(got, CAP);
	CHECK(neigh_get(nt, 0, htonl(0x0a000001)) == NEIGH_NONE);
	CHECK_EQ_U(nt->used, CAP);
	neigh_table_free(nt);
}

static void test_static(void)
{
	struct neigh_table *nt = neigh_table_create(8, SOCKET_ID_ANY);
	const uint8_t mac[6] = { 2, 0, 0, 0, 2, 2 }, other[6] = { 2, 0, 0, 0, 9, 9 };
	uint8_t out[6];
	uint32_t ip = inet_addr("198.18.2.2");
	if (nt == NULL) {
		CHECK(false);
		return;
	}
	uint32_t s = neigh_add_static(nt, 1, ip, mac);
	CHECK(s != NEIGH_NONE);
	CHECK(neigh_find(nt, 1, ip) == s && neigh_find(nt, 0, ip) == NEIGH_NONE);
	CHECK(neigh_mac_get(nt, s, out) && memcmp(out, mac, 6) == 0);
	/* a session using it and going away leaves it in place */
	CHECK(neigh_get(nt, 1, ip) == s);
	neigh_put(nt, s);
	CHECK(neigh_find(nt, 1, ip) == s && nt->ent[s].state == NEIGH_STATIC);
	/* ARP never changes it */
	CHECK(neigh_learn(nt, 1, ip, other, true, 1) == NEIGH_NONE);
	CHECK(neigh_learn(nt, 1, ip, other, false, 1) == NEIGH_NONE);
	CHECK(neigh_mac_get(nt, s, out) && memcmp(out, mac, 6) == 0);
	neigh_table_free(nt);
}

/* ---- learning through the slow path, as the workers hand ARP over ---- */

/* The data plane as the app builds it (dp_create), on net_null ports: 198.18.1.1/24 and
 * 198.18.2.1/24 (tests/unit/test_dp.h), which this test drives by hand. */
static struct dp *dp;

/* What the slow path asked worker 0 to send: ARP requests to port 1 counted, the rest freed. */
static unsigned requests_out(uint32_t target)
{
	struct rte_mbuf *m = NULL;
	unsigned n = 0;
	while (rte_ring_dequeue(dp->workers[0].from_ctl, (void **)&m) == 0) {
		const uint8_t *f = rte_pktmbuf_mtod(m, const uint8_t *);
		if (dp_meta_aux(m) == DP_TO_PORT && f[12] == 0x08 && f[13] == 0x06 && f[21] == 1 &&
				memcmp(f + 38, &target, 4) == 0)
			n++;
		rte_pktmbuf_free(m);
	}
	return n;
}

/* An ARP packet on port 1 from sip/sha to tip, through the ring the workers use. */
static void arp_in(uint16_t op, uint32_t sip, const uint8_t sha[6], uint32_t tip, uint64_t now)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(dp->pool);
	if (m == NULL) {
		CHECK(false);
		return;
	}
	struct rte_ether_hdr *eh = (struct rte_ether_hdr *)rte_pktmbuf_append(m,
			sizeof(*eh) + sizeof(struct rte_arp_hdr));
	if (eh == NULL) {
		rte_pktmbuf_free(m);
		CHECK(false);
		return;
	}
	struct rte_arp_hdr *ah = (struct rte_arp_hdr *)(eh + 1);
	memcpy(&eh->dst_addr, dp->port[1].mac.addr_bytes, 6);
	memcpy(&eh->src_addr, sha, 6);
	eh->ether_type = rte_cpu_to_be_16(RTE_ETHER_TYPE_ARP);
	ah->arp_hardware = rte_cpu_to_be_16(RTE_ARP_HRD_ETHER);
	ah->arp_protocol = rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4);
	ah->arp_hlen = RTE_ETHER_ADDR_LEN;
	ah->arp_plen = 4;
	ah->arp_opcode = rte_cpu_to_be_16(op);
	memcpy(&ah->arp_data.arp_sha, sha, 6);
	ah->arp_data.arp_sip = sip;
	memcpy(&ah->arp_data.arp_tha, dp->port[1].mac.addr_bytes, 6);
	ah->arp_data.arp_tip = tip;
	m->port = dp->port[1].eth_id;
	dp_meta_set(m, DP_META_NONE, 1);        /* the section it came in on, as the worker says */
	CHECK(rte_ring_enqueue(dp->arp_ring, m) == 0);
	slowpath_poll(dp, now);
}

static bool mac_now(uint32_t idx, const uint8_t want[6])
{
	uint8_t out[6];
	return neigh_mac_get(dp->neigh, idx, out) && memcmp(out, want, 6) == 0;
}

static void test_learning(void)
{
	const uint8_t mac1[6] = { 2, 0, 0, 0, 2, 2 }, mac2[6] = { 2, 0, 0, 0, 6, 6 };
	uint32_t us = dp->port[1].addr[0], nh = inet_addr("198.18.2.2");
	uint32_t stranger = inet_addr("198.18.2.9"), not_us = inet_addr("198.18.2.77");
	uint64_t t = 1000;

	dp->slow_timer_ms = t;
	/* unsolicited replies and requests from an address nobody resolves: no entry */
	arp_in(RTE_ARP_OP_REPLY, stranger, mac2, us, t);
	arp_in(RTE_ARP_OP_REQUEST, stranger, mac2, us, t);
	arp_in(RTE_ARP_OP_REPLY, stranger, mac2, stranger, t);         /* gratuitous */
	CHECK(neigh_find(dp->neigh, 1, stranger) == NEIGH_NONE);
	CHECK_EQ_U(dp->neigh->used, 0);

	/* a session wants nh: the entry exists, a reply before our request is not an answer */
	uint32_t idx = neigh_get(dp->neigh, 1, nh);
	CHECK(idx != NEIGH_NONE);
	arp_in(RTE_ARP_OP_REPLY, nh, mac2, us, t);
	CHECK(!mac_now(idx, mac2));
	slowpath_resolve(dp, idx, t);
	CHECK_EQ_U(requests_out(nh), 1);
	/* our request is out: neither a reply to someone else nor a request completes it */
	arp_in(RTE_ARP_OP_REPLY, nh, mac2, not_us, t);
	arp_in(RTE_ARP_OP_REQUEST, nh, mac2, us, t);
	CHECK(!mac_now(idx, mac2) && dp->neigh->ent[idx].state == NEIGH_INCOMPLETE);
	/* the answer does */
	arp_in(RTE_ARP_OP_REPLY, nh, mac1, us, t + 5);
	CHECK(mac_now(idx, mac1));
	CHECK_EQ_U(dp->neigh->ent[idx].state, NEIGH_REACHABLE);
	CHECK_EQ_U(dp->neigh->ent[idx].confirmed_ms, t + 5);
	/* settled: unsolicited replies (to us or gratuitous) and requests with another MAC are
	 * ignored; a request to us with the MAC we know re-confirms it */
	arp_in(RTE_ARP_OP_REPLY, nh, mac2, us, t + 10);
	arp_in(RTE_ARP_OP_REPLY, nh, mac2, nh, t + 10);
	arp_in(RTE_ARP_OP_REQUEST, nh, mac2, us, t + 10);
	CHECK(mac_now(idx, mac1));
	CHECK_EQ_U(dp->neigh->ent[idx].confirmed_ms, t + 5);
	arp_in(RTE_ARP_OP_REQUEST, nh, mac1, us, t + 20);
	CHECK(mac_now(idx, mac1));
	CHECK_EQ_U(dp->neigh->ent[idx].confirmed_ms, t + 20);
	CHECK_EQ_U(requests_out(nh), 0);
	/* past NEIGH_REACHABLE_MS it goes STALE and asks again: that answer may move it */
	t += 20 + NEIGH_REACHABLE_MS;
	slowpath_poll(dp, t);
	CHECK_EQ_U(dp->neigh->ent[idx].state, NEIGH_STALE);
	CHECK_EQ_U(requests_out(nh), 1);
	arp_in(RTE_ARP_OP_REPLY, nh, mac2, us, t + 1);
	CHECK(mac_now(idx, mac2));
	CHECK_EQ_U(dp->neigh->ent[idx].state, NEIGH_REACHABLE);
	/* every ARP packet still went on to the kernel (and nothing else was sent) */
	CHECK_EQ_U(requests_out(nh), 0);
	neigh_put(dp->neigh, idx);
	CHECK(neigh_find(dp->neigh, 1, nh) == NEIGH_NONE);

	/* a neighbour that announces itself (gratuitous ARP, as a host does when it comes up)
	 * while we ask for it answers our request; before we ask, it is not an answer */
	uint32_t nh2 = inet_addr("198.18.2.3");
	uint32_t idx2 = neigh_get(dp->neigh, 1, nh2);
	arp_in(RTE_ARP_OP_REQUEST, nh2, mac2, nh2, t + 2);
	CHECK(!mac_now(idx2, mac2));
	slowpath_resolve(dp, idx2, t + 2);
	CHECK_EQ_U(requests_out(nh2), 1);
	arp_in(RTE_ARP_OP_REQUEST, nh2, mac2, nh2, t + 3);
	CHECK(mac_now(idx2, mac2));
	CHECK_EQ_U(dp->neigh->ent[idx2].state, NEIGH_REACHABLE);
	neigh_put(dp->neigh, idx2);
}

int main(int argc, char **argv)
{
	char prefix[64];
	snprintf(prefix, sizeof(prefix), "--file-prefix=tneigh%d", (int)getpid());
	char *eal[] = { argv[0], "-l", "0", "--no-huge", "-m", "128", "--no-pci", "--no-shconf",
		prefix, "--log-level=error", NULL };
	(void)argc;
	if (rte_eal_init((int)RTE_DIM(eal) - 1, eal) < 0) {
		fprintf(stderr, "EAL init failed\n");
		return 1;
	}
	test_index_model();
	test_static();
	dp = test_dp_create(64, NULL);
	CHECK(dp != NULL);
	if (dp != NULL)
		test_learning();
	dp_destroy(dp);
	rte_eal_cleanup();
	return check_summary("test_neigh");
}
