#include "idpool.h"

#include <errno.h>
#include <string.h>
#include <rte_common.h>
#include <rte_malloc.h>

int idpool_init(struct idpool *p, const char *name, uint32_t esize, uint32_t capacity,
		int socket)
{
	memset(p, 0, sizeof(*p));
	p->esize = esize;
	p->capacity = capacity;
	p->socket = socket;
	p->max_chunks = (capacity + IDPOOL_CHUNK - 1) / IDPOOL_CHUNK;
	p->chunk = rte_zmalloc_socket(name, sizeof(void *) * p->max_chunks, 0, socket);
	p->free_ids = rte_malloc_socket(name, sizeof(uint32_t) * capacity, 0, socket);
	if (p->chunk == NULL || p->free_ids == NULL) {
		idpool_fini(p);
		return -ENOMEM;
	}
	return 0;
}

void idpool_fini(struct idpool *p)
{
	for (uint32_t c = 0; p->chunk != NULL && c < p->n_chunks; c++)
		rte_free(p->chunk[c]);
	rte_free(p->chunk);
	rte_free(p->free_ids);
	memset(p, 0, sizeof(*p));
}

/* Add a chunk's indices to the free stack, lowest on top (locality). */
static int idpool_grow(struct idpool *p)
{
	if (p->n_chunks == p->max_chunks)
		return -ENOSPC;
	uint32_t first = p->n_chunks * IDPOOL_CHUNK;
	uint32_t n = RTE_MIN(IDPOOL_CHUNK, p->capacity - first);
	void *c = rte_zmalloc_socket("idpool_chunk", (size_t)p->esize * IDPOOL_CHUNK,
			RTE_CACHE_LINE_SIZE, p->socket);
	if (c == NULL)
		return -ENOMEM;
	/* published before any index in it is handed out */
	__atomic_store_n(&p->chunk[p->n_chunks++], c, __ATOMIC_RELEASE);
	for (uint32_t i = 0; i < n; i++)
		p->free_ids[p->n_free++] = first + n - 1 - i;
	return 0;
}

uint32_t idpool_get(struct idpool *p)
{
	if (p->n_free == 0 && idpool_grow(p) != 0)
		return IDPOOL_NONE;
	return p->free_ids[--p->n_free];
}

void idpool_put(struct idpool *p, uint32_t id)
{
	p->free_ids[p->n_free++] = id;
}

size_t idpool_bytes(const struct idpool *p)
{
	return (size_t)p->n_chunks * IDPOOL_CHUNK * p->esize;
}
