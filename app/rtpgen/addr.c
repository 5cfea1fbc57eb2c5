#include "addr.h"

#include <stdio.h>
#include <string.h>
#include <arpa/inet.h>

bool gen_addr_parse(const char *s, struct gen_addr *a)
{
	char buf[GEN_ADDR_TEXT];
	size_t len = strlen(s);
	struct in_addr a4;

	memset(a, 0, sizeof(*a));
	if (inet_pton(AF_INET, s, &a4) == 1) {
		a->af = 4;
		a->v4 = ntohl(a4.s_addr);
		return true;
	}
	if (len >= 2 && s[0] == '[' && s[len - 1] == ']') {
		if (len - 2 >= sizeof(buf))
			return false;
		memcpy(buf, s + 1, len - 2);
		buf[len - 2] = '\0';
		s = buf;
	}
	if (inet_pton(AF_INET6, s, a->v6) != 1)
		return false;
	a->af = 6;
	return true;
}

struct gen_addr gen_addr4(uint32_t host_order)
{
	struct gen_addr a = { .af = 4, .v4 = host_order };

	return a;
}

uint32_t gen_addr_low32(const struct gen_addr *a)
{
	uint32_t v;

	if (a->af == 4)
		return a->v4;
	memcpy(&v, a->v6 + 12, 4);
	return ntohl(v);
}

struct gen_addr gen_addr_with_low32(const struct gen_addr *a, uint32_t low)
{
	struct gen_addr r = *a;
	uint32_t be = htonl(low);

	if (r.af == 4)
		r.v4 = low;
	else
		memcpy(r.v6 + 12, &be, 4);
	return r;
}

bool gen_addr_span_ok(const struct gen_addr *a, uint32_t k)
{
	return k == 0 || (uint64_t)gen_addr_low32(a) + k - 1 <= UINT32_MAX;
}

bool gen_addr_same_prefix(const struct gen_addr *a, const struct gen_addr *b)
{
	return a->af == b->af && (a->af == 4 || memcmp(a->v6, b->v6, 12) == 0);
}

void gen_addr_text(const struct gen_addr *a, char *buf)
{
	struct in_addr a4 = { .s_addr = htonl(a->v4) };

	if (a->af == 4)
		inet_ntop(AF_INET, &a4, buf, GEN_ADDR_TEXT);
	else
		inet_ntop(AF_INET6, a->v6, buf, GEN_ADDR_TEXT);
}
