/*
 * rtpgen's addresses: IPv4 or IPv6, parsed from literals, with the "base + k" arithmetic of
 * --dst-base/--fwd-addr (IPv6: on the low 32 bits, so every stream of a run shares the upper
 * 96 bits, which live in the common frame). Pure: no EAL, for unit tests.
 */
#ifndef RTPGEN_ADDR_H
#define RTPGEN_ADDR_H

#include <stdbool.h>
#include <stdint.h>

#define GEN_ADDR_TEXT 48        /* INET6_ADDRSTRLEN and then some */

struct gen_addr {
	uint8_t af;             /* 4 or 6 */
	uint32_t v4;            /* IPv4: host order */
	uint8_t v6[16];         /* IPv6: network order */
};

/* An IPv4 literal, or an IPv6 one with or without brackets; false if neither. */
bool gen_addr_parse(const char *s, struct gen_addr *a);

/* An IPv4 address from a host-order value. */
struct gen_addr gen_addr4(uint32_t host_order);

/* The low 32 bits (IPv4: the address), host order. */
uint32_t gen_addr_low32(const struct gen_addr *a);

/* a with its low 32 bits replaced by low (host order). */
struct gen_addr gen_addr_with_low32(const struct gen_addr *a, uint32_t low);

/* a + k - 1 stays within a's low 32 bits (no carry into the prefix, no wrap). */
bool gen_addr_span_ok(const struct gen_addr *a, uint32_t k);

/* Same family and, for IPv6, the same upper 96 bits. */
bool gen_addr_same_prefix(const struct gen_addr *a, const struct gen_addr *b);

/* "198.18.1.1" or "2001:db8::1" (no brackets) into buf[GEN_ADDR_TEXT]. */
void gen_addr_text(const struct gen_addr *a, char *buf);

#endif
