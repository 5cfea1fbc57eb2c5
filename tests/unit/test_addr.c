/*
 * struct dp_addr (lib/include/rp_addr.h, lib/addr.c): parse/format round trips of both
 * families, garbage refused, the inline predicates, prefix match at the edges.
 */
#include <string.h>
#include <arpa/inet.h>

#include "check.h"
#include "rp_addr.h"

/* text parses, and formats back to want (the canonical form). */
static void round_trip(const char *text, int family, const char *want)
{
	struct dp_addr a;
	char buf[DP_ADDR_STRLEN];
	CHECK(dp_addr_parse(text, &a) == 0);
	CHECK_EQ_U(a.family, family);
	dp_addr_format(&a, buf, sizeof(buf));
	if (strcmp(buf, want) != 0)
		fprintf(stderr, "round trip %s: got %s, want %s\n", text, buf, want);
	CHECK(strcmp(buf, want) == 0);
}

static void refused(const char *text)
{
	struct dp_addr a;
	memset(&a, 0xa5, sizeof(a));
	CHECK(dp_addr_parse(text, &a) == -1);
	CHECK(dp_addr_is_none(&a));
}

static struct dp_addr A(const char *text)
{
	struct dp_addr a;
	if (dp_addr_parse(text, &a) != 0)
		fprintf(stderr, "bad literal in test: %s\n", text);
	return a;
}

static bool in(const char *a, const char *net, unsigned len)
{
	struct dp_addr x = A(a), n = A(net);
	return dp_addr_in_prefix(&x, &n, len);
}

int main(void)
{
	round_trip("198.18.1.1", DP_AF_INET, "198.18.1.1");
	round_trip("0.0.0.0", DP_AF_INET, "0.0.0.0");
	round_trip("255.255.255.255", DP_AF_INET, "255.255.255.255");
	round_trip("2001:db8::1", DP_AF_INET6, "2001:db8::1");
	round_trip("2001:0DB8:0000:0000:0000:0000:0000:0001", DP_AF_INET6, "2001:db8::1");
	round_trip("::", DP_AF_INET6, "::");
	round_trip("::1", DP_AF_INET6, "::1");
	round_trip("fe80::1:2:3:4", DP_AF_INET6, "fe80::1:2:3:4");
	round_trip("::ffff:198.18.1.1", DP_AF_INET6, "::ffff:198.18.1.1");
	round_trip("64:ff9b::c612:101", DP_AF_INET6, "64:ff9b::c612:101");

	refused("1.2.3");
	refused("::g");
	refused("[::1]");
	refused("");
	refused("198.18.1.1/24");
	refused("198.18.1.256");
	refused(" 198.18.1.1");
	refused("2001:db8::1%eth0");
	refused("1:2:3:4:5:6:7:8:9");
	refused(NULL);

	/* network byte order; the longest text forms fit */
	struct dp_addr v4 = A("198.18.1.2");
	CHECK(v4.v4 == inet_addr("198.18.1.2"));
	struct dp_addr v6 = A("2001:db8::ff");
	CHECK(v6.v6[0] == 0x20 && v6.v6[1] == 0x01 && v6.v6[15] == 0xff);
	char buf[DP_ADDR_STRLEN];
	struct dp_addr longest = A("ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255");
	CHECK(strcmp(dp_addr_format(&longest, buf, sizeof(buf)),
				"ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff") == 0);
	struct dp_addr mapped = A("::ffff:255.255.255.255");
	CHECK(strcmp(dp_addr_format(&mapped, buf, sizeof(buf)), "::ffff:255.255.255.255") == 0);
	struct dp_addr none;
	memset(&none, 0, sizeof(none));
	CHECK(strcmp(dp_addr_format(&none, buf, sizeof(buf)), "none") == 0);
	char small[4];
	dp_addr_format(&v4, small, sizeof(small));
	CHECK(strlen(small) < sizeof(small));

	/* predicates */
	struct dp_addr w = dp_addr_v4(inet_addr("198.18.1.2"));
	CHECK(dp_addr_is_v4(&w) && !dp_addr_is_v6(&w) && !dp_addr_is_none(&w));
	CHECK(dp_addr_eq(&w, &v4));
	CHECK(!dp_addr_eq(&w, &v6));
	struct dp_addr any4 = dp_addr_v4(0), any6 = A("::");
	CHECK(dp_addr_is_any(&any4) && dp_addr_is_any(&any6));
	CHECK(!dp_addr_is_any(&none) && dp_addr_is_none(&none));
	CHECK(!dp_addr_is_any(&v4) && !dp_addr_is_any(&v6));
	CHECK(!dp_addr_eq(&any4, &any6));     /* 0.0.0.0 is not :: */
	CHECK(dp_addr_eq(&none, &none));
	struct dp_addr v6b = A("2001:db8::fe");
	CHECK(!dp_addr_eq(&v6, &v6b));
	struct dp_addr v6c = A("2001:db8:0::ff");
	CHECK(dp_addr_eq(&v6, &v6c));

	/* prefix match, IPv4 */
	CHECK(in("198.18.1.2", "198.18.1.0", 24));
	CHECK(!in("198.18.2.2", "198.18.1.0", 24));
	CHECK(in("1.2.3.4", "0.0.0.0", 0));
	CHECK(in("198.18.1.2", "198.18.1.2", 32));
	CHECK(!in("198.18.1.3", "198.18.1.2", 32));
	CHECK(!in("198.18.1.2", "198.18.1.2", 33));
	CHECK(in("198.19.255.1", "198.18.0.0", 15));  /* odd bits */
	CHECK(!in("198.20.0.1", "198.18.0.0", 15));
	CHECK(in("198.18.1.127", "198.18.1.0", 25));
	CHECK(!in("198.18.1.128", "198.18.1.0", 25));
	/* IPv6 */
	CHECK(in("2001:db8::1", "2001:db8::", 32));
	CHECK(!in("2001:db9::1", "2001:db8::", 32));
	CHECK(in("ffff::1", "::", 0));
	CHECK(in("2001:db8::1", "2001:db8::1", 128));
	CHECK(!in("2001:db8::2", "2001:db8::1", 128));
	CHECK(!in("2001:db8::1", "2001:db8::1", 129));
	CHECK(in("2001:db8:0:7f::1", "2001:db8::", 57));      /* odd bits mid-byte */
	CHECK(!in("2001:db8:0:80::1", "2001:db8::", 57));
	CHECK(in("2001:db8::1", "2001:db8::", 127));
	CHECK(!in("2001:db8::2", "2001:db8::", 127));
	/* families never mix, "none" never matches */
	CHECK(!in("::ffff:198.18.1.2", "198.18.1.0", 24));
	CHECK(!in("198.18.1.2", "::", 0));
	CHECK(!dp_addr_in_prefix(&none, &none, 0));

	return check_summary("addr");
}
