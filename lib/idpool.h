/*
 * A pool of fixed-size objects named by a 32-bit index, allocated in chunks as they are first
 * needed: memory follows the number in use, not the configured maximum (a table sized for a
 * million sessions costs little until they exist).
 *
 * One thread (the control lcore) takes and gives back indices; any thread may resolve an
 * index it was given: chunks never move and stay until the pool is freed, and the chunk
 * pointer is written before any of its objects can be published.
 */
#ifndef RTPPROXY_IDPOOL_H
#define RTPPROXY_IDPOOL_H

#include <stddef.h>
#include <stdint.h>

#define IDPOOL_CHUNK_SHIFT 10
#define IDPOOL_CHUNK (1u << IDPOOL_CHUNK_SHIFT)         /* objects per chunk */
#define IDPOOL_NONE UINT32_MAX

struct idpool {
	void **chunk;                   /* max_chunks slots, NULL until allocated */
	uint32_t esize;                 /* object size, bytes */
	uint32_t capacity;              /* the most indices ever handed out at once */
	uint32_t n_chunks, max_chunks;
	uint32_t *free_ids;             /* stack of free indices in allocated chunks */
	uint32_t n_free;
	int socket;
};

/* 0, or -ENOMEM. Objects are zeroed when their chunk is allocated, not when reused. */
int idpool_init(struct idpool *p, const char *name, uint32_t esize, uint32_t capacity,
		int socket);
void idpool_fini(struct idpool *p);

/* A free index, growing by a chunk when none is left; IDPOOL_NONE when the pool holds
 * capacity objects already or a chunk cannot be allocated. */
uint32_t idpool_get(struct idpool *p);
void idpool_put(struct idpool *p, uint32_t id);

/* Bytes allocated for objects (chunks), for memory accounting. */
size_t idpool_bytes(const struct idpool *p);

static inline void *idpool_at(const struct idpool *p, uint32_t id)
{
	return (char *)p->chunk[id >> IDPOOL_CHUNK_SHIFT] +
		(size_t)(id & (IDPOOL_CHUNK - 1)) * p->esize;
}

#endif
