#include "neigh.h"

#include <string.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>

struct neigh_table *neigh_table_create(uint32_t capacity, int socket)
{
	struct neigh_table *nt = rte_zmalloc_socket("neigh", sizeof(*nt), 0, socket);
	if (nt == NULL)
		return NULL;
	nt->capacity = capacity;
	nt->mac = rte_zmalloc_socket("neigh_mac", sizeof(uint64_t) * capacity,
			RTE_CACHE_LINE_SIZE, socket);
	nt->ent = rte_zmalloc_socket("neigh_ent", sizeof(struct neigh_entry) * capacity, 0,
			socket);
	if (nt->mac == NULL || nt->ent == NULL) {
		neigh_table_free(nt);
		return NULL;
	}
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
	rte_free(nt);
}

uint32_t neigh_find(const struct neigh_table *nt, uint16_t port, uint32_t ip)
{
	for (uint32_t i = 0; i < nt->used; i++)
		if (nt->ent[i].state != NEIGH_FREE && nt->ent[i].ip == ip &&
				nt->ent[i].port == port)
			return i;
	return NEIGH_NONE;
}

static uint32_t neigh_new(struct neigh_table *nt, uint16_t port, uint32_t ip)
{
	uint32_t idx = NEIGH_NONE;
	for (uint32_t i = 0; i < nt->used; i++)
		if (nt->ent[i].state == NEIGH_FREE) {
			idx = i;
			break;
		}
	if (idx == NEIGH_NONE) {
		if (nt->used == nt->capacity)
			return NEIGH_NONE;
		idx = nt->used++;
	}
	struct neigh_entry *e = &nt->ent[idx];
	memset(e, 0, sizeof(*e));
	e->ip = ip;
	e->port = port;
	e->state = NEIGH_INCOMPLETE;
	__atomic_store_n(&nt->mac[idx], 0, __ATOMIC_RELEASE);
	return idx;
}

uint32_t neigh_get(struct neigh_table *nt, uint16_t port, uint32_t ip)
{
	uint32_t idx = neigh_find(nt, port, ip);
	if (idx == NEIGH_NONE)
		idx = neigh_new(nt, port, ip);
	if (idx != NEIGH_NONE)
		nt->ent[idx].refs++;
	return idx;
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
	e->n_pending = 0;
	e->state = NEIGH_FREE;
	__atomic_store_n(&nt->mac[idx], 0, __ATOMIC_RELEASE);
}

static void neigh_set_mac(struct neigh_table *nt, uint32_t idx, const uint8_t mac[6])
{
	uint64_t v = NEIGH_VALID;
	for (int i = 0; i < 6; i++)
		v |= (uint64_t)mac[i] << (8 * i);
	__atomic_store_n(&nt->mac[idx], v, __ATOMIC_RELEASE);
}

uint32_t neigh_add_static(struct neigh_table *nt, uint16_t port, uint32_t ip, const uint8_t mac[6])
{
	uint32_t idx = neigh_find(nt, port, ip);
	if (idx == NEIGH_NONE)
		idx = neigh_new(nt, port, ip);
	if (idx == NEIGH_NONE)
		return NEIGH_NONE;
	nt->ent[idx].state = NEIGH_STATIC;
	neigh_set_mac(nt, idx, mac);
	return idx;
}

uint32_t neigh_learn(struct neigh_table *nt, uint16_t port, uint32_t ip, const uint8_t mac[6],
		uint64_t now_ms)
{
	uint32_t idx = neigh_find(nt, port, ip);
	if (idx == NEIGH_NONE)
		return NEIGH_NONE;
	struct neigh_entry *e = &nt->ent[idx];
	if (e->state == NEIGH_STATIC)
		return NEIGH_NONE;
	bool was_usable = e->state == NEIGH_REACHABLE || e->state == NEIGH_STALE;
	e->state = NEIGH_REACHABLE;
	e->confirmed_ms = now_ms;
	e->probes = 0;
	neigh_set_mac(nt, idx, mac);
	return was_usable && e->n_pending == 0 ? NEIGH_NONE : idx;
}

void neigh_invalidate(struct neigh_table *nt, uint32_t idx)
{
	__atomic_store_n(&nt->mac[idx], 0, __ATOMIC_RELEASE);
}
