/*
 * The direct flow table: every flow is keyed on (local address, local port), and the local
 * address is one the appliance owns (or the wildcard 0.0.0.0 of a listen), so instead of a
 * hash probe a packet takes two small steps: its destination address -> a small address index
 * (a few-entry open-addressing table that stays in cache), then index x port -> flow id, one
 * load from a 65536-entry array per address (256 KiB, allocated when the address gets its
 * first flow). Index 0 is the wildcard's array.
 *
 * The index space is the table's, not IPv4's: IPv6 addresses get indexes from the same
 * counter through a table of their own (slot6), and share the per-index arrays. The IPv6
 * wildcard `::` has an index of its own too (wild6, given when its first flow comes), so it
 * and 0.0.0.0 never meet: a packet falls back to the wildcard of its own family.
 *
 * One writer (the control lcore); readers are lock-free. Publication order: an address's
 * array exists, filled with FLOW_DIR_NONE, before the address's slot is stored (release); a
 * flow id is stored (release) after its entry is filled. An address keeps its index for the
 * table's life (there are at most DP_MAX_PORTS x DP_MAX_ADDRS of them), so slots are never
 * removed and readers need no grace period for them; a cleared id is reused only after the
 * flow table's grace period (its defer queue).
 */
#ifndef RTPPROXY_FLOW_DIR_H
#define RTPPROXY_FLOW_DIR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define FLOW_DIR_ADDRS 512              /* address indexes, 0 = the wildcard */
#define FLOW_DIR_SLOTS 1024             /* address table: never more than half full */
#define FLOW_DIR_PORTS 65536
#define FLOW_DIR_NONE UINT32_MAX

/* An IPv6 address's slot: the address is written first, then the index (release); readers
 * load the index (acquire) and compare the address only when it is set. */
struct flow_dir_slot6 {
	uint64_t addr[2];
	uint32_t index;                         /* 0 = empty */
	uint32_t pad;
};

struct flow_dir {
	uint64_t slot[FLOW_DIR_SLOTS];          /* index << 32 | address (network order); 0 = empty */
	struct flow_dir_slot6 slot6[FLOW_DIR_SLOTS];
	uint32_t wild6;                         /* the index of `::`, 0 until its first flow */
	uint32_t *ids[FLOW_DIR_ADDRS];          /* per index: flow id by port (network order) */
	uint32_t n_index;                       /* indexes given out, the wildcard's included */
	int socket;
};

static inline uint32_t flow_dir_hash(uint32_t addr)
{
	return (addr * 0x9e3779b1u) >> (32 - 10);
}
_Static_assert(FLOW_DIR_SLOTS == 1 << 10, "flow_dir_hash gives 10 bits");

/* The address's index, 0 when it has none (no flow was ever installed on it). Any thread. */
static inline uint32_t flow_dir_index(const struct flow_dir *d, uint32_t addr)
{
	uint32_t h = flow_dir_hash(addr);
	for (;;) {      /* ends: at least half the slots are empty */
		uint64_t s = __atomic_load_n(&d->slot[h], __ATOMIC_ACQUIRE);
		if (s == 0)
			return 0;
		if ((uint32_t)s == addr)
			return (uint32_t)(s >> 32);
		h = (h + 1) & (FLOW_DIR_SLOTS - 1);
	}
}

/* The id array of an index (NULL: the wildcard's, before its first flow). */
static inline const uint32_t *flow_dir_ids(const struct flow_dir *d, uint32_t index)
{
	return __atomic_load_n(&d->ids[index], __ATOMIC_ACQUIRE);
}

/* The flow id installed at (addr, port), FLOW_DIR_NONE if none. Any thread. */
static inline uint32_t flow_dir_get(const struct flow_dir *d, uint32_t addr, uint16_t port)
{
	uint32_t idx = addr == 0 ? 0 : flow_dir_index(d, addr);
	if (addr != 0 && idx == 0)
		return FLOW_DIR_NONE;
	const uint32_t *ids = flow_dir_ids(d, idx);
	return ids == NULL ? FLOW_DIR_NONE : __atomic_load_n(&ids[port], __ATOMIC_ACQUIRE);
}

static inline uint32_t flow_dir_hash6(const uint64_t a[2])
{
	uint64_t x = a[0] ^ a[1];
	return flow_dir_hash((uint32_t)x ^ (uint32_t)(x >> 32));
}

/* An IPv6 address's index (16 bytes, network order, 8-byte aligned or not), 0 when it has
 * none. Any thread. */
static inline uint32_t flow_dir_index6(const struct flow_dir *d, const uint8_t *addr)
{
	uint64_t a[2];
	memcpy(a, addr, 16);
	uint32_t h = flow_dir_hash6(a);
	for (;;) {      /* ends: at least half the slots are empty */
		const struct flow_dir_slot6 *s = &d->slot6[h];
		uint32_t idx = __atomic_load_n(&s->index, __ATOMIC_ACQUIRE);
		if (idx == 0)
			return 0;
		if (s->addr[0] == a[0] && s->addr[1] == a[1])
			return idx;
		h = (h + 1) & (FLOW_DIR_SLOTS - 1);
	}
}

static inline bool flow_dir_any6(const uint8_t *addr)
{
	uint64_t a[2];
	memcpy(a, addr, 16);
	return (a[0] | a[1]) == 0;
}

/* The flow id installed at (IPv6 addr, port), `::` for the IPv6 wildcard; FLOW_DIR_NONE if
 * none. Any thread. */
static inline uint32_t flow_dir_get6(const struct flow_dir *d, const uint8_t *addr,
		uint16_t port)
{
	uint32_t idx = flow_dir_any6(addr) ? __atomic_load_n(&d->wild6, __ATOMIC_ACQUIRE) :
		flow_dir_index6(d, addr);
	if (idx == 0)
		return FLOW_DIR_NONE;
	const uint32_t *ids = flow_dir_ids(d, idx);
	return ids == NULL ? FLOW_DIR_NONE : __atomic_load_n(&ids[port], __ATOMIC_ACQUIRE);
}

/* Control lcore only. */
void flow_dir_init(struct flow_dir *d, int socket);
void flow_dir_fini(struct flow_dir *d);
/* Install id at (addr, port): 0, -EEXIST when taken, -ENOSPC when no index is left, -ENOMEM. */
int flow_dir_add(struct flow_dir *d, uint32_t addr, uint16_t port, uint32_t id);
/* Clear (addr, port) if it holds id: 0, or -ENOENT. */
int flow_dir_del(struct flow_dir *d, uint32_t addr, uint16_t port, uint32_t id);
/* The same for an IPv6 address (`::`: the IPv6 wildcard). */
int flow_dir_add6(struct flow_dir *d, const uint8_t *addr, uint16_t port, uint32_t id);
int flow_dir_del6(struct flow_dir *d, const uint8_t *addr, uint16_t port, uint32_t id);
/* Bytes of id arrays allocated. */
size_t flow_dir_bytes(const struct flow_dir *d);

#endif
