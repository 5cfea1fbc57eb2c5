/* struct dp_addr's text forms and prefix match (rp_addr.h). */
#include <arpa/inet.h>
#include <stdio.h>
#include <sys/socket.h>

#include "rp_addr.h"

int dp_addr_parse(const char *text, struct dp_addr *out)
{
	memset(out, 0, sizeof(*out));
	if (text == NULL)
		return -1;
	if (inet_pton(AF_INET, text, &out->v4) == 1) {
		out->family = DP_AF_INET;
		return 0;
	}
	if (inet_pton(AF_INET6, text, out->v6) == 1) {
		out->family = DP_AF_INET6;
		return 0;
	}
	memset(out, 0, sizeof(*out));
	return -1;
}

const char *dp_addr_format(const struct dp_addr *a, char *buf, size_t len)
{
	if (len == 0)
		return buf;
	int af = a->family == DP_AF_INET ? AF_INET : a->family == DP_AF_INET6 ? AF_INET6 : -1;
	if (af < 0 || inet_ntop(af, a->family == DP_AF_INET ? (const void *)&a->v4 :
				(const void *)a->v6, buf, (socklen_t)len) == NULL)
		snprintf(buf, len, "%s", af < 0 ? "none" : "?");
	return buf;
}

bool dp_addr_in_prefix(const struct dp_addr *a, const struct dp_addr *net, unsigned len)
{
	if (a->family != net->family || a->family == 0)
		return false;
	const uint8_t *x = a->family == DP_AF_INET ? (const uint8_t *)&a->v4 : a->v6;
	const uint8_t *y = net->family == DP_AF_INET ? (const uint8_t *)&net->v4 : net->v6;
	unsigned bits = a->family == DP_AF_INET ? 32 : 128;
	if (len > bits)
		return false;
	unsigned full = len / 8, rest = len % 8;
	if (memcmp(x, y, full) != 0)
		return false;
	if (rest == 0)
		return true;
	uint8_t m = (uint8_t)(0xff << (8 - rest));
	return (x[full] & m) == (y[full] & m);
}
