/*
 * Latching rules (lib/latch.c, API.md 1.1 "Latching"): who takes a forward flow's latch in
 * each latch_mode, what strict_source keeps, RTCP following the RTP latch, and the SSRC a
 * payload carries. Pure functions over latch records: no EAL.
 */
#include <string.h>
#include <arpa/inet.h>

#include "check.h"
#include "flow.h"
#include "latch.h"

#define CLIENT "198.18.1.2"
#define STRANGER "198.18.1.3"
#define SSRC_A 0xC11E0001u
#define SSRC_B 0x5757A000u

static const uint8_t mac_a[6] = { 2, 0, 0, 0, 1, 2 };
static const uint8_t mac_b[6] = { 2, 0, 0, 0, 1, 3 };

static struct flow_latch src(const char *ip, uint16_t port, const uint8_t mac[6])
{
	struct flow_latch s;
	memset(&s, 0, sizeof(s));
	s.ip = inet_addr(ip);
	s.port = htons(port);
	s.rx_port = 0;
	s.local_ip = inet_addr("198.18.1.1");
	memcpy(s.mac, mac, 6);
	return s;
}

/* One packet through the rules, as the worker passes it (ssrc in host order here). */
static bool pkt(struct flow_latch *l, uint16_t flags, const struct flow_latch *rtp,
		struct flow_latch s, bool has_ssrc, uint32_t ssrc)
{
	return latch_update(l, flags, rtp, &s, has_ssrc, htonl(ssrc));
}

static bool latched_at(const struct flow_latch *l, const char *ip, uint16_t port)
{
	return l->ip == inet_addr(ip) && l->port == htons(port);
}

static void test_pkt_ssrc(void)
{
	uint8_t rtp[12] = { 0x80, 0, 0, 1, 0, 0, 0, 160, 0xC1, 0x1E, 0, 1 };
	uint8_t sr[28] = { 0x80, 200, 0, 6, 0xAB, 0xCD, 0xEF, 0x01, 0xC1, 0x1E };
	uint32_t v = 0;

	CHECK(latch_pkt_ssrc(rtp, sizeof(rtp), &v) && ntohl(v) == SSRC_A);
	CHECK(!latch_pkt_ssrc(rtp, 11, &v));                    /* too short for RTP */
	CHECK(latch_pkt_ssrc(sr, sizeof(sr), &v) && ntohl(v) == 0xABCDEF01u);   /* sender */
	CHECK(latch_pkt_ssrc(sr, 8, &v) && ntohl(v) == 0xABCDEF01u);
	rtp[1] = 0x80 | 72;     /* marker + PT 72: 200, what RFC 5761 reads as RTCP */
	CHECK(latch_pkt_ssrc(rtp, sizeof(rtp), &v) && ntohl(v) == 0x000000A0u);
	rtp[0] = 0x40;          /* version 1 */
	CHECK(!latch_pkt_ssrc(rtp, sizeof(rtp), &v));
	CHECK(!latch_pkt_ssrc(sr, 7, &v));
}

static void test_ssrc_mode(void)
{
	struct flow_latch l;
	memset(&l, 0, sizeof(l));

	/* the first packet latches, SSRC and all */
	CHECK(pkt(&l, 0, NULL, src(CLIENT, 5000, mac_a), true, SSRC_A));
	CHECK(latched_at(&l, CLIENT, 5000) && l.has_ssrc && l.ssrc == htonl(SSRC_A));
	CHECK(memcmp(l.mac, mac_a, 6) == 0);
	CHECK_EQ_U(l.seq, 2);
	/* the same source again: nothing written */
	CHECK(pkt(&l, 0, NULL, src(CLIENT, 5000, mac_a), true, SSRC_A));
	CHECK_EQ_U(l.seq, 2);
	/* strangers: another SSRC, no SSRC (not RTP) -- not theirs, not from the client */
	CHECK(!pkt(&l, 0, NULL, src(CLIENT, 5002, mac_a), true, SSRC_B));
	CHECK(!pkt(&l, 0, NULL, src(STRANGER, 5000, mac_b), true, SSRC_B));
	CHECK(!pkt(&l, 0, NULL, src(STRANGER, 5000, mac_b), false, 0));
	CHECK(latched_at(&l, CLIENT, 5000) && l.ssrc == htonl(SSRC_A));
	CHECK_EQ_U(l.seq, 2);
	/* the client behind a new NAT binding, same SSRC: moves */
	CHECK(pkt(&l, 0, NULL, src(CLIENT, 6000, mac_a), true, SSRC_A));
	CHECK(latched_at(&l, CLIENT, 6000));
	CHECK_EQ_U(l.seq, 4);
	/* the old binding is a stranger now */
	CHECK(!pkt(&l, 0, NULL, src(CLIENT, 5000, mac_a), true, SSRC_B));
	/* the same address:port through another L2 source needs the SSRC too, but its
	 * packets are the client's (address and port) for strict_source */
	CHECK(pkt(&l, 0, NULL, src(CLIENT, 6000, mac_b), true, SSRC_B));
	CHECK(memcmp(l.mac, mac_a, 6) == 0);
	CHECK(pkt(&l, 0, NULL, src(CLIENT, 6000, mac_b), true, SSRC_A));
	CHECK(memcmp(l.mac, mac_b, 6) == 0);
}

static void test_ssrc_learned_later(void)
{
	struct flow_latch l;
	memset(&l, 0, sizeof(l));

	/* the first packet carries no SSRC (e.g. a STUN keepalive): latched without one */
	CHECK(pkt(&l, 0, NULL, src(CLIENT, 5000, mac_a), false, 0));
	CHECK(latched_at(&l, CLIENT, 5000) && !l.has_ssrc);
	/* meanwhile nobody else can take it, whatever they carry */
	CHECK(!pkt(&l, 0, NULL, src(STRANGER, 5000, mac_b), true, SSRC_B));
	CHECK(latched_at(&l, CLIENT, 5000));
	/* the latched source's first RTP gives it its SSRC */
	CHECK(pkt(&l, 0, NULL, src(CLIENT, 5000, mac_a), true, SSRC_A));
	CHECK(l.has_ssrc && l.ssrc == htonl(SSRC_A));
	/* and it is not replaced by a later one */
	CHECK(pkt(&l, 0, NULL, src(CLIENT, 5000, mac_a), true, SSRC_B));
	CHECK(l.ssrc == htonl(SSRC_A));
}

static void test_first_mode(void)
{
	struct flow_latch l;
	memset(&l, 0, sizeof(l));

	CHECK(pkt(&l, FLOW_F_LATCH_FIRST, NULL, src(CLIENT, 5000, mac_a), true, SSRC_A));
	CHECK(latched_at(&l, CLIENT, 5000));
	/* never moves: not for the same SSRC, not for anyone */
	CHECK(!pkt(&l, FLOW_F_LATCH_FIRST, NULL, src(CLIENT, 6000, mac_a), true, SSRC_A));
	CHECK(!pkt(&l, FLOW_F_LATCH_FIRST, NULL, src(STRANGER, 5000, mac_b), false, 0));
	CHECK(latched_at(&l, CLIENT, 5000));
	/* the way back stays too; the client's address:port is still the client's */
	CHECK(pkt(&l, FLOW_F_LATCH_FIRST, NULL, src(CLIENT, 5000, mac_b), true, SSRC_A));
	CHECK(memcmp(l.mac, mac_a, 6) == 0);
	CHECK_EQ_U(l.seq, 2);
}

static void test_any_mode(void)
{
	struct flow_latch l;
	memset(&l, 0, sizeof(l));

	CHECK(pkt(&l, FLOW_F_LATCH_ANY, NULL, src(CLIENT, 5000, mac_a), true, SSRC_A));
	CHECK(pkt(&l, FLOW_F_LATCH_ANY, NULL, src(STRANGER, 7000, mac_b), false, 0));
	CHECK(latched_at(&l, STRANGER, 7000) && !l.has_ssrc);
	CHECK(pkt(&l, FLOW_F_LATCH_ANY, NULL, src(CLIENT, 5000, mac_a), true, SSRC_B));
	CHECK(latched_at(&l, CLIENT, 5000) && l.ssrc == htonl(SSRC_B));
	CHECK_EQ_U(l.seq, 6);
}

static void test_rtcp_follows_rtp(void)
{
	struct flow_latch rtp, rtcp;
	memset(&rtp, 0, sizeof(rtp));
	memset(&rtcp, 0, sizeof(rtcp));

	/* RTP not latched yet: the first RTCP packet latches */
	CHECK(pkt(&rtcp, 0, &rtp, src(CLIENT, 5001, mac_a), true, SSRC_A));
	CHECK(latched_at(&rtcp, CLIENT, 5001));

	/* once RTP holds an SSRC, only RTCP carrying it takes the RTCP latch */
	memset(&rtcp, 0, sizeof(rtcp));
	CHECK(pkt(&rtp, 0, NULL, src(CLIENT, 5000, mac_a), true, SSRC_A));
	CHECK(!pkt(&rtcp, 0, &rtp, src(STRANGER, 5001, mac_b), true, SSRC_B));
	CHECK(rtcp.ip == 0);
	CHECK(!pkt(&rtcp, 0, &rtp, src(STRANGER, 5001, mac_b), false, 0));
	CHECK(pkt(&rtcp, 0, &rtp, src(CLIENT, 5001, mac_a), true, SSRC_A));
	CHECK(latched_at(&rtcp, CLIENT, 5001));
	CHECK(!pkt(&rtcp, 0, &rtp, src(CLIENT, 5003, mac_a), true, SSRC_B));
	/* NAT rebinding of RTCP, same SSRC */
	CHECK(pkt(&rtcp, 0, &rtp, src(CLIENT, 6001, mac_a), true, SSRC_A));
	CHECK(latched_at(&rtcp, CLIENT, 6001));

	/* FIRST: RTCP latches only from the RTP client's address, then never moves */
	struct flow_latch frtp, frtcp;
	memset(&frtp, 0, sizeof(frtp));
	memset(&frtcp, 0, sizeof(frtcp));
	CHECK(pkt(&frtp, FLOW_F_LATCH_FIRST, NULL, src(CLIENT, 5000, mac_a), true, SSRC_A));
	CHECK(!pkt(&frtcp, FLOW_F_LATCH_FIRST, &frtp, src(STRANGER, 5001, mac_b), true, SSRC_A));
	CHECK(frtcp.ip == 0);
	CHECK(pkt(&frtcp, FLOW_F_LATCH_FIRST, &frtp, src(CLIENT, 5001, mac_a), true, SSRC_A));
	CHECK(!pkt(&frtcp, FLOW_F_LATCH_FIRST, &frtp, src(CLIENT, 6001, mac_a), true, SSRC_A));
	CHECK(latched_at(&frtcp, CLIENT, 5001));
}

int main(void)
{
	test_pkt_ssrc();
	test_ssrc_mode();
	test_ssrc_learned_later();
	test_first_mode();
	test_any_mode();
	test_rtcp_follows_rtp();
	return check_summary("test_latch");
}
