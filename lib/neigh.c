#include "neigh.h"

#include <stdio.h>
#include <string.h>
#include <arpa/inet.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>

struct neigh_table *neigh_table_create(uint32_t capacity, int socket)
{
	struct neigh_table *nt = rte_zmalloc_socket("neigh", sizeof(*nt), 0, socket);
	if (nt == NULL)
		return NULL;
	uint32_t bits = 1;
	while (bits < 31 && (1u << bits) < 2 * (uint64_t)capacity)
		bits++;
	nt->capacity = capacity;
	nt->slot_mask = (1u << bits) - 1;
	nt->slot_shift = 32 - bits;
	nt->mac = rte_zmalloc_socket("neigh_mac", sizeof(uint64_t) * capacity,
			RTE_CACHE_LINE_SIZE, socket);
	nt->ent = rte_zmalloc_socket("neigh_ent", sizeof(struct neigh_entry) * capacity, 0,
			socket);
	nt->slot = rte_malloc_socket("neigh_slot", sizeof(uint32_t) << bits, 0, socket);
	nt->free_ids = rte_malloc_socket("neigh_free", sizeof(uint32_t) * capacity, 0, socket);
	if (nt->mac == NULL || nt->ent == NULL || nt->slot == NULL || nt->free_ids == NULL) {
		neigh_table_free(nt);
		return NULL;
	}
	memset(nt->slot, 0xff, sizeof(uint32_t) << bits);      /* NEIGH_NONE everywhere */
	return nt;
}

void neigh_table_free(struct neigh_table *nt)
{
	if (nt == NULL)
		return;
	if (nt->ent != NULL)
		for (uint32_t i = 0; i < nt->used; i++)
			for (unsigned j = 0; j < nt->ent[i].n_pending; j++)
				rte_pktmbuf_free(nt->ent[i].pending[j]);
	rte_free((void *)(uintptr_t)nt->mac);
	rte_free(nt->ent);
	rte_free(nt->slot);
	rte_free(nt->free_ids);
	rte_free(nt);
}

/* Where the probe for (port, ip) starts: Fibonacci hashing, the product's top bits. */
static inline uint32_t home_slot(const struct neigh_table *nt, uint16_t port, uint32_t ip)
{
	return ((ip ^ ((uint32_t)port << 16)) * 0x9e3779b1u) >> nt->slot_shift;
}

/* The slot holding entry idx. */
static uint32_t slot_of_entry(const struct neigh_table *nt, uint32_t idx)
{
	const struct neigh_entry *e = &nt->ent[idx];
	uint32_t i = home_slot(nt, e->port, e->ip);
	while (nt->slot[i] != idx)
		i = (i + 1) & nt->slot_mask;
	return i;
}

/* The entry for (port, key) or NEIGH_NONE; ip6 NULL for IPv4 (ip the address), else ip is
 * its fold. */
static uint32_t find_key(const struct neigh_table *nt, uint16_t port, uint32_t ip,
		const uint8_t *ip6)
{
	bool v6 = ip6 != NULL;
	/* never full (at most half), so an empty slot ends every probe */
	for (uint32_t i = home_slot(nt, port, ip);; i = (i + 1) & nt->slot_mask) {
		uint32_t idx = nt->slot[i];
		if (idx == NEIGH_NONE)
			return NEIGH_NONE;
		const struct neigh_entry *e = &nt->ent[idx];
		if (e->ip == ip && e->port == port && e->v6 == v6 &&
				(!v6 || memcmp(e->ip6, ip6, 16) == 0))
			return idx;
	}
}

uint32_t neigh_find(const struct neigh_table *nt, uint16_t port, uint32_t ip)
{
	return find_key(nt, port, ip, NULL);
}

/* An IPv6 address folded to 32 bits for the index's hash (the probe compares all of it). */
static uint32_t fold6(const uint8_t ip6[16])
{
	uint32_t w[4];
	memcpy(w, ip6, 16);
	return w[0] ^ w[1] ^ w[2] ^ (w[3] * 0x85ebca6bu);
}

uint32_t neigh_find6(const struct neigh_table *nt, uint16_t port, const uint8_t ip6[16])
{
	return find_key(nt, port, fold6(ip6), ip6);
}

static void slot_insert(struct neigh_table *nt, uint32_t idx)
{
	const struct neigh_entry *e = &nt->ent[idx];
	uint32_t i = home_slot(nt, e->port, e->ip);
	while (nt->slot[i] != NEIGH_NONE)
		i = (i + 1) & nt->slot_mask;
	nt->slot[i] = idx;
}

/* Take idx out of the index, moving later members of its probe run back into the hole so
 * that every lookup still meets its entry before an empty slot (no tombstones). */
static void slot_remove(struct neigh_table *nt, uint32_t idx)
{
	uint32_t hole = slot_of_entry(nt, idx);
	uint32_t j = hole;

	for (;;) {
		j = (j + 1) & nt->slot_mask;
		uint32_t other = nt->slot[j];
		if (other == NEIGH_NONE)
			break;
		const struct neigh_entry *e = &nt->ent[other];
		uint32_t home = home_slot(nt, e->port, e->ip);
		/* it may move to the hole unless its home lies cyclically in (hole, j] */
		bool stays = hole <= j ? (home > hole && home <= j) : (home > hole || home <= j);
		if (!stays) {
			nt->slot[hole] = other;
			hole = j;
		}
	}
	nt->slot[hole] = NEIGH_NONE;
}

static uint32_t neigh_new(struct neigh_table *nt, uint16_t port, uint32_t ip,
		const uint8_t *ip6)
{
	uint32_t idx;
	if (nt->n_free > 0)
		idx = nt->free_ids[--nt->n_free];
	else if (nt->used < nt->capacity)
		idx = nt->used++;
	else
		return NEIGH_NONE;
	struct neigh_entry *e = &nt->ent[idx];
	memset(e, 0, sizeof(*e));
	e->ip = ip;
	e->port = port;
	e->v6 = ip6 != NULL;
	if (ip6 != NULL)
		memcpy(e->ip6, ip6, 16);
	e->state = NEIGH_INCOMPLETE;
	__atomic_store_n(&nt->mac[idx], 0, __ATOMIC_RELEASE);
	slot_insert(nt, idx);
	return idx;
}

static uint32_t get_key(struct neigh_table *nt, uint16_t port, uint32_t ip, const uint8_t *ip6)
{
	uint32_t idx = find_key(nt, port, ip, ip6);
	if (idx == NEIGH_NONE)
		idx = neigh_new(nt, port, ip, ip6);
	if (idx != NEIGH_NONE)
		nt->ent[idx].refs++;
	return idx;
}

uint32_t neigh_get(struct neigh_table *nt, uint16_t port, uint32_t ip)
{
	return get_key(nt, port, ip, NULL);
}

uint32_t neigh_get6(struct neigh_table *nt, uint16_t port, const uint8_t ip6[16])
{
	return get_key(nt, port, fold6(ip6), ip6);
}

void neigh_put(struct neigh_table *nt, uint32_t idx)
{
	struct neigh_entry *e = &nt->ent[idx];
	if (--e->refs > 0 || e->state == NEIGH_STATIC)
		return;
	/* No flow points at it any more, so no worker can read it after this grace period;
	 * the index is reused only by a later neigh_new, after flows were unpublished. */
	for (unsigned j = 0; j < e->n_pending; j++)
		rte_pktmbuf_free(e->pending[j]);
	nt->dropped += e->n_pending;    /* their flows are gone: the appliance's drops only */
	e->n_pending = 0;
	slot_remove(nt, idx);
	e->state = NEIGH_FREE;
	__atomic_store_n(&nt->mac[idx], 0, __ATOMIC_RELEASE);
	nt->free_ids[nt->n_free++] = idx;
}

static void neigh_set_mac(struct neigh_table *nt, uint32_t idx, const uint8_t mac[6])
{
	uint64_t v = NEIGH_VALID;
	for (int i = 0; i < 6; i++)
		v |= (uint64_t)mac[i] << (8 * i);
	__atomic_store_n(&nt->mac[idx], v, __ATOMIC_RELEASE);
}

static uint32_t add_static(struct neigh_table *nt, uint16_t port, uint32_t ip, const uint8_t *ip6,
		const uint8_t mac[6])
{
	uint32_t idx = find_key(nt, port, ip, ip6);
	if (idx == NEIGH_NONE)
		idx = neigh_new(nt, port, ip, ip6);
	if (idx == NEIGH_NONE)
		return NEIGH_NONE;
	nt->ent[idx].state = NEIGH_STATIC;
	neigh_set_mac(nt, idx, mac);
	return idx;
}

uint32_t neigh_add_static(struct neigh_table *nt, uint16_t port, uint32_t ip, const uint8_t mac[6])
{
	return add_static(nt, port, ip, NULL, mac);
}

uint32_t neigh_add_static6(struct neigh_table *nt, uint16_t port, const uint8_t ip6[16],
		const uint8_t mac[6])
{
	return add_static(nt, port, fold6(ip6), ip6, mac);
}

/* Does the entry's published MAC equal mac? */
static bool mac_is(const struct neigh_table *nt, uint32_t idx, const uint8_t mac[6])
{
	uint8_t cur[6];
	return neigh_mac_get(nt, idx, cur) && memcmp(cur, mac, 6) == 0;
}

/* What an ARP or NDP message may do to entry idx (neigh.h): `complete` lets it settle an entry
 * we resolve, `confirm` lets it re-confirm a settled one with the same MAC. */
static uint32_t learn(struct neigh_table *nt, uint32_t idx, const uint8_t mac[6], bool complete,
		bool confirm, uint64_t now_ms)
{
	if (idx == NEIGH_NONE)
		return NEIGH_NONE;      /* never create an entry from what others send */
	struct neigh_entry *e = &nt->ent[idx];
	bool resolving = (e->state == NEIGH_INCOMPLETE || e->state == NEIGH_STALE) &&
		e->probes > 0;
	bool settled = e->state == NEIGH_REACHABLE || e->state == NEIGH_STALE;

	if (!(complete && resolving) && !(confirm && settled && mac_is(nt, idx, mac)))
		return NEIGH_NONE;
	bool was_usable = settled;
	e->state = NEIGH_REACHABLE;
	e->confirmed_ms = now_ms;
	e->probes = 0;
	neigh_set_mac(nt, idx, mac);
	return was_usable && e->n_pending == 0 ? NEIGH_NONE : idx;
}

uint32_t neigh_learn(struct neigh_table *nt, uint16_t port, uint32_t ip, const uint8_t mac[6],
		bool reply, uint64_t now_ms)
{
	return learn(nt, neigh_find(nt, port, ip), mac, reply, !reply, now_ms);
}

uint32_t neigh_learn6(struct neigh_table *nt, uint16_t port, const uint8_t ip6[16],
		const uint8_t mac[6], bool na, uint64_t now_ms)
{
	return learn(nt, neigh_find6(nt, port, ip6), mac, na, true, now_ms);
}

const char *neigh_format(const struct neigh_entry *e, char *buf, size_t len)
{
	if (inet_ntop(e->v6 ? AF_INET6 : AF_INET, e->v6 ? (const void *)e->ip6 :
				(const void *)&e->ip, buf, (socklen_t)len) == NULL)
		snprintf(buf, len, "?");
	return buf;
}

void neigh_invalidate(struct neigh_table *nt, uint32_t idx)
{
	__atomic_store_n(&nt->mac[idx], 0, __ATOMIC_RELEASE);
}
