/* The port allocator: static and dynamic ports, RTCP pairs, the wildcards' conflicts (per
 * family: 0.0.0.0 and :: never conflict), IPv6 pools. */
#include <arpa/inet.h>

#include "check.h"
#include "portalloc.h"

static struct dp_addr A(const char *s)
{
	struct dp_addr a;
	CHECK(dp_addr_parse(s, &a) == 0);
	return a;
}

int main(void)
{
	static struct portalloc pa;
	struct dp_addr a = A("198.18.1.1"), b = A("198.18.2.1"), any4 = A("0.0.0.0");
	struct dp_addr c = A("2001:db8:1::1"), d = A("2001:db8:2::1"), any6 = A("::");
	uint16_t p, q;

	portalloc_init(&pa, 20001, 20010);      /* even candidates: 20002..20010 */
	CHECK(portalloc_add_addr(&pa, &a) == 0);
	CHECK(portalloc_add_addr(&pa, &b) == 0);
	CHECK(portalloc_add_addr(&pa, &c) == 0);
	CHECK(portalloc_add_addr(&pa, &d) == 0);

	/* dynamic ports are even, in range, pairs keep the odd one too */
	CHECK(portalloc_alloc(&pa, &a, 2, &p) == 0);
	CHECK_EQ_U(p, 20002);
	CHECK(!portalloc_free(&pa, &a, 20003, 1));
	CHECK(portalloc_free(&pa, &b, 20002, 2));       /* other address, own pool */
	CHECK(!portalloc_free(&pa, &any4, 20002, 1));   /* wildcard conflicts with a's */
	CHECK(portalloc_free(&pa, &any6, 20002, 2));    /* :: does not */
	CHECK(portalloc_free(&pa, &c, 20002, 2));       /* nor does an IPv6 address */

	/* a static port inside the range is skipped by the allocator */
	portalloc_take(&pa, &a, 20004, 1);
	CHECK(portalloc_alloc(&pa, &a, 1, &q) == 0);
	CHECK_EQ_U(q, 20006);

	/* a wildcard port blocks every address of its family, and only those */
	CHECK(portalloc_free(&pa, &any4, 30000, 1));
	portalloc_take(&pa, &any4, 30000, 1);
	CHECK(!portalloc_free(&pa, &a, 30000, 1));
	CHECK(!portalloc_free(&pa, &b, 30000, 1));
	CHECK(portalloc_free(&pa, &c, 30000, 1));
	CHECK(portalloc_free(&pa, &any6, 30000, 1));
	portalloc_release(&pa, &any4, 30000, 1);
	CHECK(portalloc_free(&pa, &b, 30000, 1));

	/* the same for :: and the IPv6 addresses, both ways */
	portalloc_take(&pa, &any6, 31000, 2);
	CHECK(!portalloc_free(&pa, &c, 31001, 1));
	CHECK(!portalloc_free(&pa, &d, 31000, 1));
	CHECK(portalloc_free(&pa, &a, 31000, 2));
	CHECK(portalloc_free(&pa, &any4, 31000, 2));
	portalloc_release(&pa, &any6, 31000, 2);
	portalloc_take(&pa, &d, 32000, 1);
	CHECK(!portalloc_free(&pa, &any6, 32000, 1));
	CHECK(portalloc_free(&pa, &c, 32000, 1));
	CHECK(portalloc_free(&pa, &any4, 32000, 1));
	portalloc_release(&pa, &d, 32000, 1);
	CHECK(portalloc_free(&pa, &any6, 32000, 1));

	/* exhaustion, then a release makes room again */
	int n = 0;
	while (portalloc_alloc(&pa, &a, 1, &q) == 0)
		n++;
	CHECK_EQ_U(n, 2);               /* 20008, 20010 */
	CHECK(portalloc_alloc(&pa, &a, 1, &q) != 0);
	CHECK(portalloc_alloc(&pa, &c, 2, &q) == 0);    /* IPv6 pools are separate */
	portalloc_release(&pa, &a, 20002, 2);
	CHECK(portalloc_alloc(&pa, &a, 2, &q) == 0);
	CHECK_EQ_U(q, 20002);

	/* nonsense is never free */
	CHECK(!portalloc_free(&pa, &a, 0, 1));
	CHECK(!portalloc_free(&pa, &a, 65535, 2));
	struct dp_addr other4 = A("10.9.9.9"), other6 = A("2001:db8:9::9");
	CHECK(!portalloc_free(&pa, &other4, 1000, 1));
	CHECK(!portalloc_free(&pa, &other6, 1000, 1));
	return check_summary("test_portalloc");
}
