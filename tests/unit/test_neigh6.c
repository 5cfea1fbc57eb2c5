/*
 * IPv6 next hops: the neighbour table keyed on (port, address of either family) against a
 * model; static IPv6 entries; the next-hop choice (on-link prefixes, link-local, gateway6);
 * and neighbour discovery through the slow path as the workers hand NS/NA over: the NS we
 * send, learning only what answers us (an NA completes an entry we resolve, or re-confirms
 * the MAC we know; an NS to us only re-confirms), refresh, failure, unsolicited NAs of our
 * addresses. EAL with --no-huge: no privileges.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <rte_eal.h>
#include <rte_ether.h>
#include <rte_mbuf.h>
#include <rte_ring.h>

#include "check.h"
#include "dp.h"
#include "ndp.h"
#include "neigh.h"
#include "nexthop.h"
#include "slowpath.h"
#include "slowpath_nd.h"

static void ip6(const char *text, uint8_t out[16])
{
	if (inet_pton(AF_INET6, text, out) != 1) {
		fprintf(stderr, "bad test address %s\n", text);
		exit(1);
	}
}

/* ---- the index with keys of both families, against a model ---- */

#define CAP 256
#define N_KEYS 600

struct model {
	uint32_t idx;
	uint32_t refs;
};

/* Even keys IPv4, odd keys IPv6 (clustered in one /64 as next hops are); two ports. */
static uint32_t key_ip(unsigned k)
{
	return htonl(0xc6120000u + (k / 4) * 7);
}

static void key_ip6(unsigned k, uint8_t out[16])
{
	ip6("2001:db8:2::", out);
	out[14] = (uint8_t)((k / 4) >> 8);
	out[15] = (uint8_t)(k / 4);
}

static uint16_t key_port(unsigned k)
{
	return (uint16_t)((k >> 1) & 1);
}

static uint32_t k_get(struct neigh_table *nt, unsigned k)
{
	uint8_t a[16];
	if (!(k & 1))
		return neigh_get(nt, key_port(k), key_ip(k));
	key_ip6(k, a);
	return neigh_get6(nt, key_port(k), a);
}

static uint32_t k_find(const struct neigh_table *nt, unsigned k)
{
	uint8_t a[16];
	if (!(k & 1))
		return neigh_find(nt, key_port(k), key_ip(k));
	key_ip6(k, a);
	return neigh_find6(nt, key_port(k), a);
}

static void test_index_model(void)
{
	struct neigh_table *nt = neigh_table_create(CAP, SOCKET_ID_ANY);
	static struct model m[N_KEYS];
	unsigned live = 0, full = 0, mismatches = 0, bad_find = 0;
	CHECK(nt != NULL);
	if (nt == NULL)
		return;
	for (unsigned k = 0; k < N_KEYS; k++)
		m[k] = (struct model){ NEIGH_NONE, 0 };
	srand(13);
	for (unsigned op = 0; op < 200000; op++) {
		unsigned k = (unsigned)rand() % N_KEYS;
		int what = rand() % 3;
		if (what == 0) {
			uint32_t idx = k_get(nt, k);
			if (m[k].idx == NEIGH_NONE && live == CAP) {
				full += idx == NEIGH_NONE;
				mismatches += idx != NEIGH_NONE;
				continue;
			}
			if (m[k].idx == NEIGH_NONE) {
				m[k].idx = idx;
				live++;
			}
			mismatches += idx != m[k].idx;
			m[k].refs++;
		} else if (what == 1 && m[k].refs > 0) {
			neigh_put(nt, m[k].idx);
			if (--m[k].refs == 0) {
				m[k].idx = NEIGH_NONE;
				live--;
			}
		} else {
			bad_find += k_find(nt, k) != m[k].idx;
		}
	}
	CHECK_EQ_U(mismatches, 0);
	CHECK_EQ_U(bad_find, 0);
	CHECK(full > 0);
	unsigned wrong = 0;
	for (unsigned k = 0; k < N_KEYS; k++) {
		uint32_t idx = k_find(nt, k);
		wrong += idx != m[k].idx;
		if (idx == NEIGH_NONE)
			continue;
		const struct neigh_entry *e = &nt->ent[idx];
		uint8_t a[16];
		key_ip6(k, a);
		wrong += e->v6 != (k & 1) || e->port != key_port(k) || e->refs != m[k].refs;
		wrong += (k & 1) ? memcmp(e->ip6, a, 16) != 0 : e->ip != key_ip(k);
	}
	CHECK_EQ_U(wrong, 0);
	for (unsigned k = 0; k < N_KEYS; k++)
		while (m[k].refs > 0) {
			neigh_put(nt, m[k].idx);
			m[k].refs--;
		}
	unsigned empty = 0;
	for (uint32_t i = 0; i <= nt->slot_mask; i++)
		empty += nt->slot[i] == NEIGH_NONE;
	CHECK_EQ_U(empty, nt->slot_mask + 1);

	/* the families never meet: an IPv4 key equal to an IPv6 entry's hash word is another
	 * entry, and the IPv4-mapped form of an IPv4 next hop is another too */
	uint8_t a[16];
	ip6("2001:db8:2::77", a);
	uint32_t i6 = neigh_get6(nt, 1, a);
	uint32_t fold = nt->ent[i6].ip;
	CHECK(neigh_find(nt, 1, fold) == NEIGH_NONE);
	uint32_t i4 = neigh_get(nt, 1, fold);
	CHECK(i4 != NEIGH_NONE && i4 != i6);
	CHECK(neigh_find6(nt, 1, a) == i6 && neigh_find(nt, 1, fold) == i4);
	ip6("::ffff:198.18.2.2", a);
	uint32_t i4b = neigh_get(nt, 1, inet_addr("198.18.2.2"));
	CHECK(neigh_find6(nt, 1, a) == NEIGH_NONE);
	CHECK(neigh_get6(nt, 1, a) != i4b);
	neigh_table_free(nt);
}

static void test_static6(void)
{
	struct neigh_table *nt = neigh_table_create(8, SOCKET_ID_ANY);
	const uint8_t mac[6] = { 2, 0, 0, 0, 2, 2 }, other[6] = { 2, 0, 0, 0, 9, 9 };
	uint8_t a[16], out[6];
	if (nt == NULL) {
		CHECK(false);
		return;
	}
	ip6("2001:db8:2::2", a);
	uint32_t s = neigh_add_static6(nt, 1, a, mac);
	CHECK(s != NEIGH_NONE);
	CHECK(neigh_find6(nt, 1, a) == s && neigh_find6(nt, 0, a) == NEIGH_NONE);
	CHECK(neigh_mac_get(nt, s, out) && memcmp(out, mac, 6) == 0);
	CHECK(neigh_get6(nt, 1, a) == s);
	neigh_put(nt, s);
	CHECK(neigh_find6(nt, 1, a) == s && nt->ent[s].state == NEIGH_STATIC);
	/* NDP never changes it */
	CHECK(neigh_learn6(nt, 1, a, other, true, 1) == NEIGH_NONE);
	CHECK(neigh_learn6(nt, 1, a, other, false, 1) == NEIGH_NONE);
	CHECK(neigh_mac_get(nt, s, out) && memcmp(out, mac, 6) == 0);
	char text[48];
	CHECK(strcmp(neigh_format(&nt->ent[s], text, sizeof(text)), "2001:db8:2::2") == 0);
	neigh_table_free(nt);
}

/* ---- the next hop ---- */

static void test_next_hop(void)
{
	struct dp_port p;
	uint8_t d[16], nh[16], want[16];
	memset(&p, 0, sizeof(p));
	snprintf(p.name, sizeof(p.name), "port1");
	ip6("2001:db8:2::1", p.addr6[0]);
	p.plen6[0] = 64;
	ip6("2001:db8:5::1", p.addr6[1]);
	p.plen6[1] = 127;
	ip6("2001:db8:6:80::1", p.addr6[2]);
	p.plen6[2] = 57;
	p.n_addr6 = 3;

	ip6("2001:db8:2::ffff:1", d);                   /* on the /64 */
	CHECK(nexthop6(&p, d, nh) == 0 && memcmp(nh, d, 16) == 0);
	ip6("2001:db8:5::", d);                         /* on the /127 (its other half) */
	CHECK(nexthop6(&p, d, nh) == 0 && memcmp(nh, d, 16) == 0);
	ip6("2001:db8:5::2", d);                        /* just off it */
	CHECK(nexthop6(&p, d, nh) == -1);
	ip6("2001:db8:6:ff::9", d);                     /* /57: 0x80..0xff of the 4th word */
	CHECK(nexthop6(&p, d, nh) == 0 && memcmp(nh, d, 16) == 0);
	ip6("2001:db8:6:7f::9", d);
	CHECK(nexthop6(&p, d, nh) == -1);
	ip6("fe80::9", d);                              /* link-local: always on-link */
	CHECK(nexthop6(&p, d, nh) == 0 && memcmp(nh, d, 16) == 0);
	/* off-link goes to gateway6 (a link-local one, as routers usually are) */
	ip6("fe80::1", p.gateway6);
	ip6("2001:db8:9::9", d);
	CHECK(nexthop6(&p, d, nh) == 0 && memcmp(nh, p.gateway6, 16) == 0);

	/* prefix edges */
	uint8_t a[16], b[16];
	ip6("2001:db8::", a);
	ip6("3fff::1", b);
	CHECK(nexthop_in_prefix6(b, a, 0));
	CHECK(nexthop_in_prefix6(a, a, 128));
	ip6("2001:db8::1", b);
	CHECK(!nexthop_in_prefix6(b, a, 128));
	CHECK(nexthop_in_prefix6(b, a, 127));
	CHECK(!nexthop_in_prefix6(b, a, 129));
	ip6("2001:db9::", b);
	CHECK(!nexthop_in_prefix6(b, a, 32));
	CHECK(nexthop_in_prefix6(b, a, 31));
	ip6("fe80::1", want);
	CHECK(nexthop_link_local6(want));
	ip6("febf::1", want);
	CHECK(nexthop_link_local6(want));
	ip6("fec0::1", want);
	CHECK(!nexthop_link_local6(want));
}

/* ---- neighbour discovery through the slow path ---- */

static struct dp *dp;
static const uint8_t mac1[6] = { 2, 0, 0, 0, 2, 2 }, mac2[6] = { 2, 0, 0, 0, 6, 6 };
static unsigned to_kernel;      /* NDP frames the slow path passed on to the kernel */

static const uint8_t static_mac[6] = { 2, 0, 0, 0, 2, 5 };
static char our_ll[48];         /* port 1's link-local, as text */

/* test_dp.h's two ports, port 1 with IPv6 too: 2001:db8:2::1/64 and 2001:db8:7::1/64 beside
 * 198.18.2.1/24, and a static neighbour [2001:db8:2::5]. */
static struct dp *create_dp6(void)
{
	static struct dp_conf c;
	char err[256];
	memset(&c, 0, sizeof(c));
	c.n_ports = 2;
	for (unsigned i = 0; i < 2; i++) {
		struct dp_port_conf *p = &c.port[i];
		snprintf(p->name, sizeof(p->name), "port%u", i);
		snprintf(p->device, sizeof(p->device), "net_null%u", i);
		snprintf(p->exception, sizeof(p->exception), "rtp%u", i);
		snprintf(p->exception_device, sizeof(p->exception_device), "net_null%u", 2 + i);
		p->n_addrs = 1;
	}
	dp_addr_parse("198.18.1.1", &c.port[0].addrs[0].addr);
	c.port[0].addrs[0].len = 24;
	dp_addr_parse("198.18.2.1", &c.port[1].addrs[0].addr);
	c.port[1].addrs[0].len = 24;
	dp_addr_parse("2001:db8:2::1", &c.port[1].addrs[1].addr);
	c.port[1].addrs[1].len = 64;
	dp_addr_parse("2001:db8:7::1", &c.port[1].addrs[2].addr);
	c.port[1].addrs[2].len = 64;
	c.port[1].n_addrs = 3;
	dp_addr_parse("2001:db8:2::5", &c.port[1].neighbors[0].addr);
	memcpy(c.port[1].neighbors[0].mac, static_mac, 6);
	c.port[1].n_neighbors = 1;
	c.workers = 1;
	c.workers_inline = true;
	c.mbufs = 2047;
	c.max_flows = 64;
	c.max_neighbors = 64;
	struct dp *d = dp_create(&c, err, sizeof(err));
	if (d == NULL)
		fprintf(stderr, "dp_create: %s\n", err);
	return d;
}

/* What dp_create made of the IPv6 configuration. */
static void test_port_conf6(void)
{
	const struct dp_port *p = &dp->port[1];
	uint8_t a[16], ll[16];
	CHECK_EQ_U(p->n_addr, 1);
	CHECK_EQ_U(p->n_addr6, 2);
	ip6("2001:db8:7::1", a);
	CHECK(memcmp(p->addr6[1], a, 16) == 0 && p->plen6[1] == 64);
	CHECK_EQ_U(dp->port[0].n_addr6, 0);
	CHECK(!dp->port[0].has_ll6);
	/* the link-local is the modified EUI-64 of the port's MAC, as the TAP gets it */
	const uint8_t *m = p->mac.addr_bytes;
	uint8_t want[16] = { 0xfe, 0x80, [8] = (uint8_t)(m[0] ^ 2), m[1], m[2], 0xff, 0xfe, m[3],
		m[4], m[5] };
	memcpy(ll, p->ll6, 16);
	CHECK(p->has_ll6 && memcmp(ll, want, 16) == 0);
	inet_ntop(AF_INET6, ll, our_ll, sizeof(our_ll));
	/* the static neighbour, and the port as the API shows it */
	ip6("2001:db8:2::5", a);
	uint32_t s = neigh_find6(dp->neigh, 1, a);
	uint8_t mac[6];
	CHECK(s != NEIGH_NONE && dp->neigh->ent[s].state == NEIGH_STATIC &&
			neigh_mac_get(dp->neigh, s, mac) && memcmp(mac, static_mac, 6) == 0);
	struct dp_port_info pi;
	CHECK(dp_port_info(dp, 1, &pi) == 0);
	CHECK_EQ_U(pi.n_addrs, 3);
	CHECK(pi.addr[0].family == DP_AF_INET && pi.addr[0].v4 == inet_addr("198.18.2.1"));
	ip6("2001:db8:2::1", a);
	CHECK(pi.addr[1].family == DP_AF_INET6 && memcmp(pi.addr[1].v6, a, 16) == 0);
	CHECK_EQ_U(pi.prefix_len[1], 64);
	CHECK(dp_addr_is_none(&pi.gateway6));
	struct dp_addr x;
	dp_addr_parse("2001:db8:7::1", &x);
	CHECK(dp_port_of_addr(dp, &x) == 1);
	dp_addr_parse("2001:db8:7::2", &x);
	CHECK(dp_port_of_addr(dp, &x) == -1);
}

/* What the slow path asked worker 0 to send: NSs for target out of port 1 (checked whole:
 * multicast to its group, from `src`, our MAC in the option) counted; NDP to the kernel
 * counted in to_kernel; anything else is a failure. */
static unsigned ns_out(const char *target, const char *src)
{
	struct rte_mbuf *m = NULL;
	uint8_t t[16], s[16], group[16], gmac[6];
	unsigned n = 0;
	ip6(target, t);
	ip6(src, s);
	ndp_solicited_node(t, group, gmac);
	while (rte_ring_dequeue(dp->workers[0].from_ctl, (void **)&m) == 0) {
		const uint8_t *f = rte_pktmbuf_mtod(m, const uint8_t *);
		struct ndp_msg msg;
		bool parsed = ndp_parse(f, m->data_len, &msg) == 0;
		if (dp_meta_aux(m) == DP_TO_KERNEL) {
			to_kernel += parsed;
		} else {
			bool ok = parsed && m->port == 1 && msg.type == NDP_TYPE_NS &&
				m->data_len == NDP_FRAME_LEN &&
				memcmp(f, gmac, 6) == 0 && memcmp(f + 6, dp->port[1].mac.addr_bytes, 6) == 0 &&
				memcmp(msg.target, t, 16) == 0 && memcmp(msg.src, s, 16) == 0 &&
				memcmp(msg.dst, group, 16) == 0 && msg.has_lladdr &&
				memcmp(msg.lladdr, dp->port[1].mac.addr_bytes, 6) == 0;
			CHECK(ok);
			n += ok;
		}
		rte_pktmbuf_free(m);
	}
	return n;
}

/* An NA (type 136) or NS (135) on port 1 as the wire brings it, through the workers' ring:
 * src -> dst about target, link-layer option `ll` (NULL: none), NA flags. */
static void nd_in(uint8_t type, const char *src, const char *dst, const char *target,
		const uint8_t *ll, uint8_t flags, uint64_t now)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(dp->pool);
	uint8_t *f = m ? (uint8_t *)rte_pktmbuf_append(m, NDP_FRAME_LEN) : NULL;
	if (f == NULL) {
		CHECK(false);
		exit(1);
	}
	uint8_t *ip = f + 14, *nd = ip + 40;
	uint16_t plen = ll ? 32 : 24;
	memset(f, 0, NDP_FRAME_LEN);
	memcpy(f, dp->port[1].mac.addr_bytes, 6);
	memcpy(f + 6, ll ? ll : mac2, 6);
	f[12] = 0x86;
	f[13] = 0xdd;
	ip[0] = 0x60;
	ip[5] = (uint8_t)plen;
	ip[6] = 58;
	ip[7] = 255;
	ip6(src, ip + 8);
	ip6(dst, ip + 24);
	nd[0] = type;
	nd[4] = flags;
	ip6(target, nd + 8);
	if (ll != NULL) {
		nd[24] = type == NDP_TYPE_NA ? 2 : 1;
		nd[25] = 1;
		memcpy(nd + 26, ll, 6);
	}
	uint16_t ck = ndp_icmp6_csum(ip + 8, ip + 24, nd, plen);
	memcpy(nd + 2, &ck, 2);
	rte_pktmbuf_trim(m, (uint16_t)(24 - plen + 8));
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

static void test_learning6(void)
{
	const char *us = "2001:db8:2::1", *nh = "2001:db8:2::2", *stranger = "2001:db8:2::9";
	uint8_t a[16];
	uint64_t t = 1000;
	unsigned kernel0 = to_kernel;

	dp->slow_timer_ms = t;
	/* unsolicited NAs and NSs from an address nobody resolves: no entry */
	nd_in(NDP_TYPE_NA, stranger, us, stranger, mac2, NDP_NA_SOLICITED, t);
	nd_in(NDP_TYPE_NA, stranger, "ff02::1", stranger, mac2, NDP_NA_OVERRIDE, t);
	nd_in(NDP_TYPE_NS, stranger, "ff02::1:ff00:1", us, mac2, 0, t);
	ip6(stranger, a);
	CHECK(neigh_find6(dp->neigh, 1, a) == NEIGH_NONE);
	CHECK_EQ_U(dp->neigh->used, 1);         /* the static one */
	CHECK_EQ_U(ns_out(nh, us), 0);
	CHECK_EQ_U(to_kernel - kernel0, 3);     /* every one went on to the kernel */

	/* a session wants nh: before our NS an NA is no answer */
	ip6(nh, a);
	uint32_t idx = neigh_get6(dp->neigh, 1, a);
	CHECK(idx != NEIGH_NONE);
	nd_in(NDP_TYPE_NA, nh, us, nh, mac2, NDP_NA_SOLICITED, t);
	CHECK(!mac_now(idx, mac2));
	slowpath_resolve(dp, idx, t);
	CHECK_EQ_U(ns_out(nh, us), 1);
	/* our NS is out: an NA to someone else, an NS from it, an NA without the target's
	 * address, one about our own address: none completes it */
	nd_in(NDP_TYPE_NA, nh, "2001:db8:2::77", nh, mac2, NDP_NA_SOLICITED, t);
	nd_in(NDP_TYPE_NS, nh, "ff02::1:ff00:1", us, mac2, 0, t);
	nd_in(NDP_TYPE_NA, nh, us, nh, NULL, NDP_NA_SOLICITED, t);
	nd_in(NDP_TYPE_NA, nh, us, us, mac2, NDP_NA_SOLICITED, t);
	CHECK(!mac_now(idx, mac2) && dp->neigh->ent[idx].state == NEIGH_INCOMPLETE);
	/* the answer does */
	nd_in(NDP_TYPE_NA, nh, us, nh, mac1, NDP_NA_SOLICITED | NDP_NA_OVERRIDE, t + 5);
	CHECK(mac_now(idx, mac1));
	CHECK_EQ_U(dp->neigh->ent[idx].state, NEIGH_REACHABLE);
	CHECK_EQ_U(dp->neigh->ent[idx].confirmed_ms, t + 5);
	/* settled: NAs and NSs with another MAC change nothing; the same MAC re-confirms */
	nd_in(NDP_TYPE_NA, nh, us, nh, mac2, NDP_NA_SOLICITED | NDP_NA_OVERRIDE, t + 10);
	nd_in(NDP_TYPE_NA, nh, "ff02::1", nh, mac2, NDP_NA_OVERRIDE, t + 10);
	nd_in(NDP_TYPE_NS, nh, "ff02::1:ff00:1", us, mac2, 0, t + 10);
	CHECK(mac_now(idx, mac1));
	CHECK_EQ_U(dp->neigh->ent[idx].confirmed_ms, t + 5);
	nd_in(NDP_TYPE_NS, nh, us, us, mac1, 0, t + 20);
	CHECK_EQ_U(dp->neigh->ent[idx].confirmed_ms, t + 20);
	nd_in(NDP_TYPE_NA, nh, "ff02::1", nh, mac1, NDP_NA_OVERRIDE, t + 30);
	CHECK_EQ_U(dp->neigh->ent[idx].confirmed_ms, t + 30);
	CHECK(mac_now(idx, mac1));
	CHECK_EQ_U(ns_out(nh, us), 0);
	/* past NEIGH_REACHABLE_MS: STALE, asked again; that answer may move it */
	t += 30 + NEIGH_REACHABLE_MS;
	slowpath_poll(dp, t);
	CHECK_EQ_U(dp->neigh->ent[idx].state, NEIGH_STALE);
	CHECK(mac_now(idx, mac1));              /* still used meanwhile */
	CHECK_EQ_U(ns_out(nh, us), 1);
	nd_in(NDP_TYPE_NA, nh, us, nh, mac2, NDP_NA_SOLICITED | NDP_NA_OVERRIDE, t + 1);
	CHECK(mac_now(idx, mac2));
	CHECK_EQ_U(dp->neigh->ent[idx].state, NEIGH_REACHABLE);
	/* and when it stops answering: NEIGH_MAX_PROBES solicitations, then FAILED */
	t += 1 + NEIGH_REACHABLE_MS;
	slowpath_poll(dp, t);
	for (unsigned i = 1; i < NEIGH_MAX_PROBES; i++)
		slowpath_poll(dp, t += NEIGH_RETRY_MS);
	CHECK_EQ_U(ns_out(nh, us), NEIGH_MAX_PROBES);
	slowpath_poll(dp, t += NEIGH_RETRY_MS);
	CHECK_EQ_U(dp->neigh->ent[idx].state, NEIGH_FAILED);
	CHECK(!mac_now(idx, mac2));
	CHECK_EQ_U(ns_out(nh, us), 0);
	neigh_put(dp->neigh, idx);
	CHECK(neigh_find6(dp->neigh, 1, a) == NEIGH_NONE);

	/* a next hop on the second prefix is asked from our address there; a link-local one
	 * (a gateway6) from our link-local */
	ip6("2001:db8:7::5", a);
	idx = neigh_get6(dp->neigh, 1, a);
	slowpath_resolve(dp, idx, t);
	CHECK_EQ_U(ns_out("2001:db8:7::5", "2001:db8:7::1"), 1);
	neigh_put(dp->neigh, idx);
	ip6("fe80::99", a);
	idx = neigh_get6(dp->neigh, 1, a);
	slowpath_resolve(dp, idx, t);
	CHECK_EQ_U(ns_out("fe80::99", our_ll), 1);
	nd_in(NDP_TYPE_NA, "fe80::99", our_ll, "fe80::99", mac1, NDP_NA_SOLICITED, t);
	CHECK(mac_now(idx, mac1));
	CHECK_EQ_U(ns_out("fe80::99", our_ll), 0);     /* (the NA, on to the kernel) */
	neigh_put(dp->neigh, idx);
	/* port 0 has no IPv6 address: nothing to ask from, nothing sent */
	idx = neigh_get6(dp->neigh, 0, a);
	slowpath_resolve(dp, idx, t);
	CHECK_EQ_U(rte_ring_count(dp->workers[0].from_ctl), 0);
	neigh_put(dp->neigh, idx);
	CHECK_EQ_U(to_kernel - kernel0, 16);
}

static void test_announce(void)
{
	struct rte_mbuf *m = NULL;
	unsigned n = 0;
	CHECK_EQ_U(dp_announce_na(dp), 2);
	while (rte_ring_dequeue(dp->workers[0].from_ctl, (void **)&m) == 0) {
		struct ndp_msg msg;
		const uint8_t *f = rte_pktmbuf_mtod(m, const uint8_t *);
		bool ok = ndp_parse(f, m->data_len, &msg) == 0 && msg.type == NDP_TYPE_NA &&
			msg.flags == NDP_NA_OVERRIDE && m->port == 1 &&
			dp_meta_aux(m) == DP_TO_PORT &&
			memcmp(msg.target, dp->port[1].addr6[n], 16) == 0 &&
			memcmp(msg.src, dp->port[1].addr6[n], 16) == 0 &&
			memcmp(msg.lladdr, dp->port[1].mac.addr_bytes, 6) == 0;
		CHECK(ok);
		n++;
		rte_pktmbuf_free(m);
	}
	CHECK_EQ_U(n, 2);
}

static void test_dp_next_hop6(void)
{
	char msg[256];
	uint8_t d[16];
	uint32_t idx = NEIGH_NONE;
	ip6("2001:db8:9::9", d);
	CHECK_EQ_U(dp_next_hop6(dp, 1, d, &idx, msg, sizeof(msg)), DP_SESS_NO_ROUTE);
	CHECK(strcmp(msg, "destination_endpoint.address: 2001:db8:9::9 is not on an IPv6 "
				"subnet of port1 (which owns the forward address) and port1 has no "
				"gateway6") == 0);
	ip6("fe80::1", dp->port[1].gateway6);
	CHECK_EQ_U(dp_next_hop6(dp, 1, d, &idx, msg, sizeof(msg)), 0);
	CHECK(idx != NEIGH_NONE && dp->neigh->ent[idx].v6 &&
			memcmp(dp->neigh->ent[idx].ip6, dp->port[1].gateway6, 16) == 0);
	uint32_t again = NEIGH_NONE;
	ip6("2001:db8:2::3", d);
	CHECK_EQ_U(dp_next_hop6(dp, 1, d, &again, msg, sizeof(msg)), 0);
	CHECK(again != idx && memcmp(dp->neigh->ent[again].ip6, d, 16) == 0);
	neigh_put(dp->neigh, again);
	neigh_put(dp->neigh, idx);
	memset(dp->port[1].gateway6, 0, 16);
}

int main(int argc, char **argv)
{
	char prefix[64];
	snprintf(prefix, sizeof(prefix), "--file-prefix=tneigh6%d", (int)getpid());
	char *eal[] = { argv[0], "-l", "0", "--no-huge", "-m", "128", "--no-pci", "--no-shconf",
		prefix, "--log-level=error", NULL };
	(void)argc;
	if (rte_eal_init((int)RTE_DIM(eal) - 1, eal) < 0) {
		fprintf(stderr, "EAL init failed\n");
		return 1;
	}
	test_index_model();
	test_static6();
	test_next_hop();
	dp = create_dp6();
	CHECK(dp != NULL);
	if (dp != NULL) {
		test_port_conf6();
		test_learning6();
		test_announce();
		test_dp_next_hop6();
	}
	dp_destroy(dp);
	rte_eal_cleanup();
	return check_summary("test_neigh6");
}
