/*
 * An IP address of either family, as the data plane's API and its callers carry it.
 * Network byte order; family 0 only in zeroed memory, meaning "none".
 */
#ifndef RTPPROXY_RP_ADDR_H
#define RTPPROXY_RP_ADDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

enum { DP_AF_INET = 4, DP_AF_INET6 = 6 };

struct dp_addr {
	uint8_t family;                 /* DP_AF_INET or DP_AF_INET6; 0 = none */
	union {
		uint32_t v4;
		uint8_t v6[16];
		uint64_t v6w[2];
	};
};

/* Room for the longest text form (an IPv4-mapped IPv6 address), NUL included. */
#define DP_ADDR_STRLEN 46

static inline struct dp_addr dp_addr_v4(uint32_t be)
{
	struct dp_addr a;
	memset(&a, 0, sizeof(a));
	a.family = DP_AF_INET;
	a.v4 = be;
	return a;
}

static inline bool dp_addr_is_v4(const struct dp_addr *a)
{
	return a->family == DP_AF_INET;
}

static inline bool dp_addr_is_v6(const struct dp_addr *a)
{
	return a->family == DP_AF_INET6;
}

static inline bool dp_addr_is_none(const struct dp_addr *a)
{
	return a->family == 0;
}

/* The wildcard of its family: 0.0.0.0 or ::. */
static inline bool dp_addr_is_any(const struct dp_addr *a)
{
	if (a->family == DP_AF_INET)
		return a->v4 == 0;
	if (a->family == DP_AF_INET6)
		return (a->v6w[0] | a->v6w[1]) == 0;
	return false;
}

/* Same family and address; two "none"s are equal. */
static inline bool dp_addr_eq(const struct dp_addr *a, const struct dp_addr *b)
{
	if (a->family != b->family)
		return false;
	if (a->family == DP_AF_INET)
		return a->v4 == b->v4;
	if (a->family == DP_AF_INET6)
		return a->v6w[0] == b->v6w[0] && a->v6w[1] == b->v6w[1];
	return true;
}

/* An IPv4 or IPv6 literal (no brackets, no prefix) into *out: 0, or -1 (*out zeroed). */
int dp_addr_parse(const char *text, struct dp_addr *out);
/* The text form into buf (DP_ADDR_STRLEN is enough); "none" for family 0. Returns buf. */
const char *dp_addr_format(const struct dp_addr *a, char *buf, size_t len);
/* Whether a lies in net/len (same family; len beyond the family's width never matches). */
bool dp_addr_in_prefix(const struct dp_addr *a, const struct dp_addr *net, unsigned len);

#endif
