#include "streams.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>

#include <rte_byteorder.h>
#include <rte_malloc.h>

#include "frame.h"

#define SSRC_MULT 0x9e3779b1u   /* odd: i -> (i + salt) * SSRC_MULT is a bijection */

int streams_read_file(const char *path, uint32_t max, struct gen_endpoint **out, uint32_t *n,
		char *err, size_t errlen)
{
	FILE *f = fopen(path, "r");
	struct gen_endpoint *eps = NULL;
	uint32_t cap = 0, cnt = 0;
	char line[512];
	unsigned lineno = 0;

	if (f == NULL) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	while (cnt < max && fgets(line, sizeof(line), f) != NULL) {
		char *tok = line + strspn(line, " \t");
		char *colon, *end;
		unsigned long port;

		lineno++;
		tok[strcspn(tok, " \t\r\n#")] = '\0';
		if (*tok == '\0')
			continue;
		colon = strrchr(tok, ':');
		if (colon == NULL)
			goto bad;
		*colon = '\0';
		errno = 0;
		port = strtoul(colon + 1, &end, 10);
		if (errno != 0 || *end != '\0' || port == 0 || port > 65535 || colon[1] < '0' ||
				colon[1] > '9')
			goto bad;
		/* an IPv6 address has colons of its own: brackets keep the port apart */
		if (cnt == cap) {
			uint32_t ncap = cap ? 2 * cap : 1024;
			struct gen_endpoint *p = realloc(eps, ncap * sizeof(*eps));
			if (p == NULL) {
				snprintf(err, errlen, "%s: out of memory", path);
				goto fail;
			}
			eps = p;
			cap = ncap;
		}
		if (!gen_addr_parse(tok, &eps[cnt].addr) ||
				(eps[cnt].addr.af == 6 && tok[0] != '['))
			goto bad;
		eps[cnt].port = (uint16_t)port;
		cnt++;
	}
	fclose(f);
	if (cnt == 0) {
		snprintf(err, errlen, "%s: no endpoint in it", path);
		free(eps);
		return -1;
	}
	*out = eps;
	*n = cnt;
	return 0;
bad:
	snprintf(err, errlen, "%s:%u: expected ADDR:PORT or [ADDR6]:PORT (port 1..65535)", path,
			lineno);
fail:
	fclose(f);
	free(eps);
	return -1;
}

/* Every destination of eps in the family of --src and, IPv6, in the first one's /96. */
static int check_endpoints(const struct gen_opts *o, const struct gen_endpoint *eps,
		char *err, size_t errlen)
{
	for (uint32_t i = 0; i < o->streams; i++) {
		if (!gen_addr_same_prefix(&eps[i].addr, &eps[0].addr) ||
				eps[i].addr.af != o->src_addr.af) {
			char a[GEN_ADDR_TEXT];
			gen_addr_text(&eps[i].addr, a);
			snprintf(err, errlen, "%s: endpoint %u (%s): every listen endpoint must be "
					"of --src's family (IPv%u)%s", o->sessions_file, i + 1, a,
					o->src_addr.af, o->src_addr.af == 6 ?
					" and in the first one's /96" : "");
			return -1;
		}
	}
	return 0;
}

int streams_setup(struct gen_lcore *lc, const struct gen_opts *o, const struct gen_endpoint *eps,
		int socket, char *err, size_t errlen)
{
	uint32_t src_ports = (65535u - o->src_port_base) / 2 + 1;

	if (eps != NULL && check_endpoints(o, eps, err, errlen) != 0)
		return -1;
	lc->dst_prefix = eps != NULL ? eps[0].addr : o->dst_base;
	frame_template(lc, o, &lc->dst_prefix);
	lc->n_streams = o->streams;
	lc->streams = rte_zmalloc_socket("rtpgen_streams", sizeof(struct gen_stream) * o->streams,
			RTE_CACHE_LINE_SIZE, socket);
	if (lc->streams == NULL) {
		snprintf(err, errlen, "cannot allocate %u streams (%zu bytes) on socket %d",
				o->streams, sizeof(struct gen_stream) * o->streams, socket);
		return -1;
	}
	for (uint32_t i = 0; i < o->streams; i++) {
		struct gen_stream *st = &lc->streams[i];
		uint32_t addr = eps ? gen_addr_low32(&eps[i].addr)
				: gen_addr_low32(&o->dst_base) + i % o->dst_addrs;
		uint16_t port = eps ? eps[i].port
				: (uint16_t)(o->dst_port_base + 2 * (i / o->dst_addrs));

		st->ssrc = (i + lc->run_tag) * SSRC_MULT;
		st->seq_off = (uint16_t)(st->ssrc >> 16);
		frame_stream(lc, st, addr, (uint16_t)(o->src_port_base + 2 * (i % src_ports)), port);
		seqwin_reset(&st->rx, 0);
	}
	return 0;
}

void streams_rx_rebase(struct gen_lcore *lc)
{
	for (uint32_t i = 0; i < lc->n_streams; i++) {
		uint64_t n = gen_stream_sent(lc, i, lc->generated);
		seqwin_reset(&lc->streams[i].rx,
				(uint32_t)pat_expected(lc->pattern, lc->pattern_k, n));
	}
}

uint64_t streams_lost(const struct gen_lcore *lc, uint64_t generated_at_rebase)
{
	uint64_t lost = 0;

	for (uint32_t i = 0; i < lc->n_streams; i++) {
		uint64_t n0 = gen_stream_sent(lc, i, generated_at_rebase);
		uint64_t n1 = gen_stream_sent(lc, i, lc->generated);
		uint64_t expected = pat_expected(lc->pattern, lc->pattern_k, n1) -
				pat_expected(lc->pattern, lc->pattern_k, n0);
		lost += seqwin_lost(&lc->streams[i].rx, (uint32_t)expected);
	}
	return lost;
}
