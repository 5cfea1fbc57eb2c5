#include "streams.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>

#include <rte_byteorder.h>
#include <rte_ip.h>
#include <rte_malloc.h>
#include <rte_udp.h>

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
		struct in_addr a;
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
		if (inet_pton(AF_INET, tok, &a) != 1 || errno != 0 || *end != '\0' || port == 0 ||
				port > 65535 || colon[1] < '0' || colon[1] > '9')
			goto bad;
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
		eps[cnt].addr = ntohl(a.s_addr);
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
	snprintf(err, errlen, "%s:%u: expected ADDR:PORT (IPv4, port 1..65535)", path, lineno);
fail:
	fclose(f);
	free(eps);
	return -1;
}

/* The frame every stream shares; a stream's template fields are written over it. */
static void build_template(struct gen_lcore *lc, const struct gen_opts *o)
{
	uint8_t *p = lc->tmpl;
	struct rte_ether_hdr *eth = (struct rte_ether_hdr *)p;
	struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)(p + GEN_IP_OFF);
	struct rte_udp_hdr *udp = (struct rte_udp_hdr *)(p + GEN_UDP_OFF);
	uint16_t udp_len = (uint16_t)(8 + 12 + o->payload);

	memset(p, 0, sizeof(lc->tmpl));
	eth->dst_addr = o->dst_mac;
	eth->src_addr = o->src_mac;
	eth->ether_type = rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4);
	ip->version_ihl = RTE_IPV4_VHL_DEF;
	ip->total_length = rte_cpu_to_be_16((uint16_t)(20 + udp_len));
	/* DF with a constant ID (RFC 6864: fine for atomic datagrams) keeps the header
	 * checksum per stream constant */
	ip->fragment_offset = rte_cpu_to_be_16(RTE_IPV4_HDR_DF_FLAG);
	ip->time_to_live = 64;
	ip->next_proto_id = IPPROTO_UDP;
	ip->src_addr = rte_cpu_to_be_32(o->src_addr);
	udp->dgram_len = rte_cpu_to_be_16(udp_len);
	udp->dgram_cksum = 0;   /* "no checksum": allowed over IPv4, and the cheapest */
	p[GEN_RTP_OFF] = 0x80;  /* version 2, no padding, extension or CSRC */
	p[GEN_RTP_OFF + 1] = o->pt;
	/* silence in the payload's codec: G.711 A-law (PT 8) 0xd5, otherwise mu-law's 0xff */
	memset(p + GEN_PL_OFF, o->pt == 8 ? 0xd5 : 0xff, o->payload);
	lc->frame_len = (uint16_t)(GEN_PL_OFF + o->payload);
	lc->ts_step = o->payload;
}

int streams_setup(struct gen_lcore *lc, const struct gen_opts *o, const struct gen_endpoint *eps,
		int socket, char *err, size_t errlen)
{
	uint32_t src_ports = (65535u - o->src_port_base) / 2 + 1;
	struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)(lc->tmpl + GEN_IP_OFF);

	build_template(lc, o);
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
		uint32_t addr = eps ? eps[i].addr : o->dst_base + i % o->dst_addrs;
		uint16_t port = eps ? eps[i].port
				: (uint16_t)(o->dst_port_base + 2 * (i / o->dst_addrs));

		st->dst_ip = rte_cpu_to_be_32(addr);
		st->dst_port = rte_cpu_to_be_16(port);
		st->src_port = rte_cpu_to_be_16((uint16_t)(o->src_port_base + 2 * (i % src_ports)));
		ip->dst_addr = st->dst_ip;
		ip->hdr_checksum = 0;
		st->ip_csum = rte_ipv4_cksum(ip);
		st->ssrc = (i + lc->run_tag) * SSRC_MULT;
		st->seq_off = (uint16_t)(st->ssrc >> 16);
		seqwin_reset(&st->rx, 0);
	}
	ip->dst_addr = 0;
	ip->hdr_checksum = 0;
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
