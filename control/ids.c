#include "ids.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/random.h>

int ids_uuid4(char out[37])
{
	uint8_t b[16];
	size_t got = 0;

	/* ids are guessable capabilities for Get/Destroy: never from a seeded PRNG */
	while (got < sizeof(b)) {
		ssize_t n = getrandom(b + got, sizeof(b) - got, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		got += (size_t)n;
	}
	b[6] = (b[6] & 0x0f) | 0x40;    /* version 4 */
	b[8] = (b[8] & 0x3f) | 0x80;    /* RFC 4122 variant */
	snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
			"%02x%02x%02x%02x%02x%02x",
			b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9],
			b[10], b[11], b[12], b[13], b[14], b[15]);
	return 0;
}
