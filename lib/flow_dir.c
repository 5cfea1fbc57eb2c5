#include "flow_dir.h"

#include <errno.h>
#include <string.h>
#include <rte_malloc.h>

#define IDS_BYTES (FLOW_DIR_PORTS * sizeof(uint32_t))

void flow_dir_init(struct flow_dir *d, int socket)
{
	memset(d, 0, sizeof(*d));
	d->socket = socket;
	d->n_index = 1;         /* 0 is the wildcard's */
}

void flow_dir_fini(struct flow_dir *d)
{
	for (uint32_t i = 0; i < FLOW_DIR_ADDRS; i++) {
		rte_free(d->ids[i]);
		d->ids[i] = NULL;
	}
}

/* A new array for index idx, every port empty, published before anyone can find idx. */
static int ids_create(struct flow_dir *d, uint32_t idx)
{
	uint32_t *ids = rte_malloc_socket("flow_dir", IDS_BYTES, RTE_CACHE_LINE_SIZE, d->socket);
	if (ids == NULL)
		return -ENOMEM;
	memset(ids, 0xff, IDS_BYTES);   /* FLOW_DIR_NONE */
	__atomic_store_n(&d->ids[idx], ids, __ATOMIC_RELEASE);
	return 0;
}

/* addr's index, given one if it has none; 0 with *err set on failure. */
static uint32_t index_get(struct flow_dir *d, uint32_t addr, int *err)
{
	uint32_t h = flow_dir_hash(addr);
	for (;;) {
		uint64_t s = d->slot[h];
		if (s == 0)
			break;
		if ((uint32_t)s == addr)
			return (uint32_t)(s >> 32);
		h = (h + 1) & (FLOW_DIR_SLOTS - 1);
	}
	if (d->n_index == FLOW_DIR_ADDRS) {
		*err = -ENOSPC;
		return 0;
	}
	uint32_t idx = d->n_index;
	*err = ids_create(d, idx);
	if (*err != 0)
		return 0;
	d->n_index++;
	__atomic_store_n(&d->slot[h], (uint64_t)idx << 32 | addr, __ATOMIC_RELEASE);
	return idx;
}

/* A new index for an address, its id array published first; 0 with *err on failure. */
static uint32_t index_new(struct flow_dir *d, int *err)
{
	if (d->n_index == FLOW_DIR_ADDRS) {
		*err = -ENOSPC;
		return 0;
	}
	uint32_t idx = d->n_index;
	*err = ids_create(d, idx);
	if (*err != 0)
		return 0;
	d->n_index++;
	return idx;
}

/* An IPv6 address's index (`::`: the IPv6 wildcard's), given one if it has none; 0 with
 * *err set on failure. */
static uint32_t index_get6(struct flow_dir *d, const uint8_t *addr, int *err)
{
	uint64_t a[2];
	memcpy(a, addr, 16);
	if ((a[0] | a[1]) == 0) {
		if (d->wild6 == 0) {
			uint32_t idx = index_new(d, err);
			if (idx != 0)
				__atomic_store_n(&d->wild6, idx, __ATOMIC_RELEASE);
		}
		return d->wild6;
	}
	uint32_t h = flow_dir_hash6(a);
	for (;;) {
		struct flow_dir_slot6 *s = &d->slot6[h];
		if (s->index == 0)
			break;
		if (s->addr[0] == a[0] && s->addr[1] == a[1])
			return s->index;
		h = (h + 1) & (FLOW_DIR_SLOTS - 1);
	}
	uint32_t idx = index_new(d, err);
	if (idx == 0)
		return 0;
	d->slot6[h].addr[0] = a[0];
	d->slot6[h].addr[1] = a[1];
	__atomic_store_n(&d->slot6[h].index, idx, __ATOMIC_RELEASE);
	return idx;
}

/* Install id in an index's array (which exists): 0 or -EEXIST. */
static int ids_put(struct flow_dir *d, uint32_t idx, uint16_t port, uint32_t id)
{
	uint32_t *ids = d->ids[idx];
	if (ids[port] != FLOW_DIR_NONE)
		return -EEXIST;
	__atomic_store_n(&ids[port], id, __ATOMIC_RELEASE);
	return 0;
}

int flow_dir_add6(struct flow_dir *d, const uint8_t *addr, uint16_t port, uint32_t id)
{
	int err = 0;
	uint32_t idx = index_get6(d, addr, &err);
	return idx == 0 ? err : ids_put(d, idx, port, id);
}

int flow_dir_del6(struct flow_dir *d, const uint8_t *addr, uint16_t port, uint32_t id)
{
	uint32_t idx = flow_dir_any6(addr) ? d->wild6 : flow_dir_index6(d, addr);
	if (idx == 0 || d->ids[idx] == NULL || d->ids[idx][port] != id)
		return -ENOENT;
	__atomic_store_n(&d->ids[idx][port], FLOW_DIR_NONE, __ATOMIC_RELEASE);
	return 0;
}

int flow_dir_add(struct flow_dir *d, uint32_t addr, uint16_t port, uint32_t id)
{
	uint32_t idx = 0;
	int err = 0;
	if (addr != 0) {
		idx = index_get(d, addr, &err);
		if (idx == 0)
			return err;
	} else if (d->ids[0] == NULL && (err = ids_create(d, 0)) != 0) {
		return err;
	}
	uint32_t *ids = d->ids[idx];
	if (ids[port] != FLOW_DIR_NONE)
		return -EEXIST;
	__atomic_store_n(&ids[port], id, __ATOMIC_RELEASE);
	return 0;
}

int flow_dir_del(struct flow_dir *d, uint32_t addr, uint16_t port, uint32_t id)
{
	uint32_t idx = addr == 0 ? 0 : flow_dir_index(d, addr);
	if ((addr != 0 && idx == 0) || d->ids[idx] == NULL || d->ids[idx][port] != id)
		return -ENOENT;
	__atomic_store_n(&d->ids[idx][port], FLOW_DIR_NONE, __ATOMIC_RELEASE);
	return 0;
}

size_t flow_dir_bytes(const struct flow_dir *d)
{
	size_t n = 0;
	for (uint32_t i = 0; i < FLOW_DIR_ADDRS; i++)
		n += d->ids[i] != NULL ? IDS_BYTES : 0;
	return n;
}
