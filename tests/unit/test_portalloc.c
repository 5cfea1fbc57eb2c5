/* The port allocator: static and dynamic ports, RTCP pairs, the wildcard's conflicts. */
#include <arpa/inet.h>

#include "check.h"
#include "portalloc.h"

int main(void)
{
	static struct portalloc pa;
	uint32_t a = inet_addr("198.18.1.1"), b = inet_addr("198.18.2.1");
	uint16_t p, q;

	portalloc_init(&pa, 20001, 20010);      /* even candidates: 20002..20010 */
	CHECK(portalloc_add_addr(&pa, a) == 0);
	CHECK(portalloc_add_addr(&pa, b) == 0);

	/* dynamic ports are even, in range, pairs keep the odd one too */
	CHECK(portalloc_alloc(&pa, a, 2, &p) == 0);
	CHECK_EQ_U(p, 20002);
	CHECK(!portalloc_free(&pa, a, 20003, 1));
	CHECK(portalloc_free(&pa, b, 20002, 2));        /* other address, own pool */
	CHECK(!portalloc_free(&pa, 0, 20002, 1));       /* wildcard conflicts with a's */

	/* a static port inside the range is skipped by the allocator */
	portalloc_take(&pa, a, 20004, 1);
	CHECK(portalloc_alloc(&pa, a, 1, &q) == 0);
	CHECK_EQ_U(q, 20006);

	/* a wildcard port blocks every address */
	CHECK(portalloc_free(&pa, 0, 30000, 1));
	portalloc_take(&pa, 0, 30000, 1);
	CHECK(!portalloc_free(&pa, a, 30000, 1));
	CHECK(!portalloc_free(&pa, b, 30000, 1));
	portalloc_release(&pa, 0, 30000, 1);
	CHECK(portalloc_free(&pa, b, 30000, 1));

	/* exhaustion, then a release makes room again */
	int n = 0;
	while (portalloc_alloc(&pa, a, 1, &q) == 0)
		n++;
	CHECK_EQ_U(n, 2);               /* 20008, 20010 */
	CHECK(portalloc_alloc(&pa, a, 1, &q) != 0);
	portalloc_release(&pa, a, 20002, 2);
	CHECK(portalloc_alloc(&pa, a, 2, &q) == 0);
	CHECK_EQ_U(q, 20002);

	/* nonsense is never free */
	CHECK(!portalloc_free(&pa, a, 0, 1));
	CHECK(!portalloc_free(&pa, a, 65535, 2));
	CHECK(!portalloc_free(&pa, inet_addr("10.9.9.9"), 1000, 1));
	return check_summary("test_portalloc");
}
