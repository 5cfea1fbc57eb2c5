/* A bump allocator for building one response: everything is freed at once by arena_reset. */
#ifndef RTPPROXY_ARENA_H
#define RTPPROXY_ARENA_H

#include <stddef.h>

struct arena_chunk;

struct arena {
	struct arena_chunk *head;
};

/* Zeroed memory that lives until arena_reset; NULL only when malloc fails. */
void *arena_alloc(struct arena *a, size_t size);
char *arena_strdup(struct arena *a, const char *s);
char *arena_printf(struct arena *a, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void arena_reset(struct arena *a);

#endif
