/*
 * The neighbour table: next-hop MAC addresses the data plane resolves itself, with ARP
 * (IPv4) or neighbour discovery (IPv6), keyed on (port, address of either family).
 *
 * Workers read one 64-bit word per entry (MAC + valid bit), written atomically by the
 * control lcore, so a MAC is never seen half-updated. Everything else (state, retries,
 * packets waiting for resolution, the (port, address) -> entry index) belongs to the control
 * lcore alone.
 *
 * Learning trusts only what it asked for: an ARP reply updates an entry we are resolving (a
 * request of ours is out), never creates one and never changes a settled entry; an ARP
 * request addressed to us only re-confirms an entry whose MAC it repeats. IPv6 alike: an NA
 * completes an entry we resolve, or re-confirms one whose MAC it repeats; an NS to us with a
 * source address option only re-confirms.
 */
#ifndef RTPPROXY_NEIGH_H
#define RTPPROXY_NEIGH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <rte_common.h>

struct rte_mbuf;

#define NEIGH_VALID (1ULL << 63)
#define NEIGH_NONE UINT32_MAX

/* How long a learned entry is trusted, and how resolution retries. */
#define NEIGH_REACHABLE_MS 30000
#define NEIGH_RETRY_MS 1000
#define NEIGH_MAX_PROBES 3
#define NEIGH_PENDING_MAX 16   /* packets held per unresolved next hop */

enum neigh_state {
	NEIGH_FREE,
	NEIGH_INCOMPLETE,   /* ARP request sent, no answer yet */
	NEIGH_REACHABLE,
	NEIGH_STALE,        /* still used, being re-confirmed */
	NEIGH_FAILED,       /* no answer after NEIGH_MAX_PROBES: packets are dropped */
	NEIGH_STATIC,       /* from the config: never expires */
};

struct neigh_entry {
	uint32_t ip;                /* network byte order; IPv6: a fold of ip6 (the index's hash) */
	uint16_t port;              /* data-plane port index the next hop is on */
	bool v6;                    /* an IPv6 next hop (ip6), resolved with NDP */
	uint8_t ip6[16];
	enum neigh_state state;
	uint32_t refs;              /* flows using it */
	uint8_t probes;
	uint64_t confirmed_ms;      /* last time an ARP from it was seen */
	uint64_t probe_ms;          /* last request sent */
	struct rte_mbuf *pending[NEIGH_PENDING_MAX];
	uint8_t n_pending;
};

struct neigh_table {
	volatile uint64_t *mac;     /* the workers' view: MAC in the low 48 bits | NEIGH_VALID */
	struct neigh_entry *ent;
	uint32_t capacity;
	uint32_t used;              /* high-water mark of entries ever used */
	/* (port, address) -> entry index: open addressing, linear probing, at most half full
	 * (2^n slots >= 2 x capacity), so a lookup is a probe or two */
	uint32_t *slot;             /* entry index, or NEIGH_NONE for an empty slot */
	uint32_t slot_mask;
	uint32_t slot_shift;        /* 32 - log2(slots): the hash's top bits pick the slot */
	uint32_t *free_ids;         /* entries below used that are NEIGH_FREE, a stack */
	uint32_t n_free;
	uint64_t dropped;           /* held packets freed with their entry (no_neighbor) */
};

static inline bool neigh_mac_get(const struct neigh_table *nt, uint32_t idx, uint8_t mac[6])
{
	uint64_t v = nt->mac[idx];
	if (!(v & NEIGH_VALID))
		return false;
#if RTE_BYTE_ORDER == RTE_LITTLE_ENDIAN
	/* byte i is bits 8i..8i+7: already the MAC in order; one wide copy, which the rewrite's
	 * wide loads can forward from (byte stores could not) */
	memcpy(mac, &v, 6);
#else
	for (int i = 0; i < 6; i++)
		mac[i] = (uint8_t)(v >> (8 * i));
#endif
	return true;
}

struct neigh_table *neigh_table_create(uint32_t capacity, int socket);
void neigh_table_free(struct neigh_table *nt);

/* Find or create the entry for ip on port and take a reference. NEIGH_NONE when full. */
uint32_t neigh_get(struct neigh_table *nt, uint16_t port, uint32_t ip);
void neigh_put(struct neigh_table *nt, uint32_t idx);
uint32_t neigh_find(const struct neigh_table *nt, uint16_t port, uint32_t ip);

/* Make an entry static (from the config) with this MAC. */
uint32_t neigh_add_static(struct neigh_table *nt, uint16_t port, uint32_t ip, const uint8_t mac[6]);

/* The same for IPv6 next hops (the key includes the family: no IPv4 entry ever matches). */
uint32_t neigh_get6(struct neigh_table *nt, uint16_t port, const uint8_t ip6[16]);
uint32_t neigh_find6(const struct neigh_table *nt, uint16_t port, const uint8_t ip6[16]);
uint32_t neigh_add_static6(struct neigh_table *nt, uint16_t port, const uint8_t ip6[16],
		const uint8_t mac[6]);

/*
 * An ARP packet from ip/mac, addressed to one of our addresses, arrived on port: a reply
 * (reply = true) or a request. A reply completes or refreshes the entry for ip only while we
 * are resolving it (INCOMPLETE or STALE, a request of ours sent); a request only re-confirms
 * a REACHABLE or STALE entry with this very MAC. Nothing else changes the table: no entry is
 * created, static entries never change.
 * Returns the entry index when it became usable (its pending packets can go), else NEIGH_NONE.
 */
uint32_t neigh_learn(struct neigh_table *nt, uint16_t port, uint32_t ip, const uint8_t mac[6],
		bool reply, uint64_t now_ms);

/*
 * An NDP message about ip6 with link-layer address mac arrived on port, addressed to us: an
 * NA (na = true; its target and target address option) completes or refreshes an entry we
 * are resolving, or re-confirms a settled one whose MAC it repeats; an NS (na = false; its
 * source and source address option) only re-confirms. Otherwise as neigh_learn.
 */
uint32_t neigh_learn6(struct neigh_table *nt, uint16_t port, const uint8_t ip6[16],
		const uint8_t mac[6], bool na, uint64_t now_ms);

/* An entry's address as text ("198.18.2.1", "2001:db8::1"): for messages. */
const char *neigh_format(const struct neigh_entry *e, char *buf, size_t len);

/* Mark an entry unusable for workers (they hand its packets to control again). */
void neigh_invalidate(struct neigh_table *nt, uint32_t idx);

#endif
