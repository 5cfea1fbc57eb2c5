/* The byte-wise reference checksum (the fast path is in pkt.h). */
#include "pkt.h"

uint32_t pkt_csum_partial(const void *buf, uint32_t len, uint32_t sum)
{
	const uint8_t *p = buf;
	for (; len >= 2; p += 2, len -= 2)
		sum += pkt_rd16(p);
	if (len)
		sum += (uint32_t)p[0] << 8;
	return sum;
}

uint16_t pkt_csum_fold(uint32_t sum)
{
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)sum;
}
