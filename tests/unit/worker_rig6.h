/*
 * IPv6 for the worker rig (worker_rig.h; header-only, its checks count in the including test):
 * IPv6 addresses on the rig's ports (rig6_conf, for rig_conf_extra), Ethernet/IPv6/UDP frames
 * built and checked byte by byte with the checksum from scratch, mixed-family session specs.
 */
#ifndef RTPPROXY_TEST_WORKER_RIG6_H
#define RTPPROXY_TEST_WORKER_RIG6_H

#include "worker_rig.h"

#define CLIENT6 "2001:db8:1::100"
#define LISTEN6 "2001:db8:1::10"
#define FWD6 "2001:db8:2::10"
#define DEST6 "2001:db8:2::100"

static inline void a6(const char *s, uint8_t out[16])
{
	if (inet_pton(AF_INET6, s, out) != 1) {
		fprintf(stderr, "bad IPv6 literal %s\n", s);
		exit(1);
	}
}

static inline struct dp_addr addr_of(const char *s)
{
	struct dp_addr a;
	if (dp_addr_parse(s, &a) != 0) {
		fprintf(stderr, "bad address %s\n", s);
		exit(1);
	}
	return a;
}

/* Port 0: 2001:db8:1::10/64 and ::11; port 1: 2001:db8:2::10/64 with a static neighbour
 * 2001:db8:2::100 at dest_mac (besides the rig's IPv4). */
static inline void rig6_conf(struct dp_conf *c)
{
	struct dp_port_conf *p0 = &c->port[P0], *p1 = &c->port[P1];
	p0->addrs[p0->n_addrs++] = (struct dp_prefix){ addr_of(LISTEN6), 64 };
	p0->addrs[p0->n_addrs++] = (struct dp_prefix){ addr_of("2001:db8:1::11"), 64 };
	p1->addrs[p1->n_addrs++] = (struct dp_prefix){ addr_of(FWD6), 64 };
	p1->neighbors[p1->n_neighbors].addr = addr_of(DEST6);
	memcpy(p1->neighbors[p1->n_neighbors++].mac, dest_mac, 6);
}

/* The UDP checksum's sum over the IPv6 pseudo-header and the datagram (0xffff when right). */
static inline uint16_t udp6_sum(const uint8_t *ip6, const uint8_t *udp, unsigned ulen)
{
	return fold(sum16(udp, ulen, sum16(ip6 + 8, 32, 0) + ulen + PKT_IPPROTO_UDP));
}

/* An Ethernet/IPv6/UDP frame, checksum right, flow label 0x12345. */
static inline struct rte_mbuf *udp6_frame(const uint8_t smac[6], const uint8_t dmac[6],
		const char *sip, const char *dip, uint16_t sport, uint16_t dport, uint8_t hlim,
		uint8_t tc, const uint8_t *pl, uint16_t plen)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(pool);
	uint16_t len = (uint16_t)(14 + 40 + 8 + plen);
	uint8_t *f = m ? (uint8_t *)rte_pktmbuf_append(m, len) : NULL;
	if (f == NULL) {
		fprintf(stderr, "out of mbufs\n");
		exit(1);
	}
	memset(f, 0, len);
	memcpy(f, dmac, 6);
	memcpy(f + 6, smac, 6);
	put16(f + 12, PKT_ETHERTYPE_IPV6);
	uint8_t *ip6 = f + 14, *udp = ip6 + 40;
	ip6[0] = (uint8_t)(0x60 | tc >> 4);
	ip6[1] = (uint8_t)(tc << 4 | 0x1);
	ip6[2] = 0x23;
	ip6[3] = 0x45;
	put16(ip6 + 4, (uint16_t)(8 + plen));
	ip6[6] = PKT_IPPROTO_UDP;
	ip6[7] = hlim;
	a6(sip, ip6 + 8);
	a6(dip, ip6 + 24);
	put16(udp, sport);
	put16(udp + 2, dport);
	put16(udp + 4, (uint16_t)(8 + plen));
	memcpy(udp + 8, pl, plen);
	uint16_t ck = (uint16_t)~udp6_sum(ip6, udp, 8u + plen);
	put16(udp + 6, ck ? ck : 0xffff);
	return m;
}

/* An IPv4 frame (worker_rig.h's) with this ToS, the header checksum fixed up. */
static inline struct rte_mbuf *udp4_tos(const char *sip, const char *dip, uint16_t sport,
		uint16_t dport, uint8_t ttl, uint8_t tos, const uint8_t *pl, uint16_t plen)
{
	struct rte_mbuf *m = udp_frame(client_mac, port_mac[0], ip(sip), ip(dip), sport, dport,
			ttl, pl, plen);
	uint8_t *iph = rte_pktmbuf_mtod_offset(m, uint8_t *, 14);
	iph[1] = tos;
	iph[10] = iph[11] = 0;
	put16(iph + 10, (uint16_t)~fold(sum16(iph, 20, 0)));
	return m;
}

struct want6 {
	const uint8_t *dmac, *smac;
	const char *sip, *dip;
	uint16_t sport, dport;
	uint8_t hlim, tc;
	uint32_t flow_label;
	const uint8_t *pl;
	uint16_t plen;
};

/* A relayed IPv6 frame byte by byte, its checksum from scratch. */
static inline void check_frame6(const struct rte_mbuf *m, const struct want6 *x)
{
	const uint8_t *f = rte_pktmbuf_mtod(m, const uint8_t *);
	const uint8_t *ip6 = f + 14, *udp = ip6 + 40;
	uint8_t sip[16], dip[16];
	a6(x->sip, sip);
	a6(x->dip, dip);
	CHECK_EQ_U(m->pkt_len, 14u + 40 + 8 + x->plen);
	CHECK_EQ_U(m->data_len, m->pkt_len);
	CHECK(memcmp(f, x->dmac, 6) == 0);
	CHECK(memcmp(f + 6, x->smac, 6) == 0);
	CHECK_EQ_U(pkt_rd16(f + 12), PKT_ETHERTYPE_IPV6);
	CHECK_EQ_U(ip6[0] >> 4, 6);
	CHECK_EQ_U((pkt_rd16(ip6) >> 4) & 0xff, x->tc);
	CHECK_EQ_U(((uint32_t)(ip6[1] & 0x0f) << 16) | pkt_rd16(ip6 + 2), x->flow_label);
	CHECK_EQ_U(pkt_rd16(ip6 + 4), 8u + x->plen);
	CHECK_EQ_U(ip6[6], PKT_IPPROTO_UDP);
	CHECK_EQ_U(ip6[7], x->hlim);
	CHECK(memcmp(ip6 + 8, sip, 16) == 0);
	CHECK(memcmp(ip6 + 24, dip, 16) == 0);
	CHECK_EQ_U(pkt_rd16(udp), x->sport);
	CHECK_EQ_U(pkt_rd16(udp + 2), x->dport);
	CHECK_EQ_U(pkt_rd16(udp + 4), 8u + x->plen);
	CHECK(pkt_rd16(udp + 6) != 0);                          /* mandatory in IPv6 */
	CHECK_EQ_U(udp6_sum(ip6, udp, 8u + x->plen), 0xffff);
	CHECK(memcmp(udp + 8, x->pl, x->plen) == 0);
}

/* What only an IPv6 -> IPv4 translation writes: ToS, DF, identification 0. */
static inline void check_v4_from6(const struct rte_mbuf *m, uint8_t tos)
{
	const uint8_t *iph = rte_pktmbuf_mtod_offset(m, const uint8_t *, 14);
	CHECK_EQ_U(iph[0], 0x45);
	CHECK_EQ_U(iph[1], tos);
	CHECK_EQ_U(pkt_rd16(iph + 4), 0);
	CHECK_EQ_U(pkt_rd16(iph + 6), 0x4000);
	CHECK_EQ_U(m->data_len, m->pkt_len);
}

static inline struct dp_sess_spec spec6(const char *listen, uint16_t lport, const char *fwd,
		uint16_t fport, const char *dst, uint16_t dport)
{
	return (struct dp_sess_spec){ .listen_addr = addr_of(listen), .listen_port = lport,
		.forward_addr = addr_of(fwd), .forward_port = fport, .dest_addr = addr_of(dst),
		.dest_port = dport };
}

#endif
