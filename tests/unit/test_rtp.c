/* SPDX-License-Identifier: MIT */
/*
 * Unit test of lib/rtp.c: RTP/RTCP header validation, RFC 3550 A.1/A.3 loss accounting (gaps,
 * wrap-around, reordering, duplicates, restarts) and A.8 jitter against a double-precision
 * reference.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "rtp.h"

/* ---- packet builders ---- */

static uint8_t big[12 + 60 + 4 + 4 * 65535 + 255 + 64];

/* An RTP packet in buf: cc CSRCs, an extension of ext_words (< 0: none), payload bytes and
 * pad bytes of padding (0: P clear); the padding count byte says pad_count. Returns its size. */
static uint32_t
mk_rtp(uint8_t *buf, unsigned int cc, int ext_words, uint32_t payload, unsigned int pad,
       unsigned int pad_count)
{
	uint32_t n = RTP_HDR_LEN;

	memset(buf, 0xa5, 12);
	buf[0] = 0x80 | (pad ? 0x20 : 0) | (ext_words >= 0 ? 0x10 : 0) | (cc & 0x0f);
	buf[1] = 0;       /* PCMU */
	buf[2] = 0x12;
	buf[3] = 0x34;
	memset(buf + n, 0x11, 4 * cc);
	n += 4 * cc;
	if (ext_words >= 0) {
		buf[n] = 0xbe;
		buf[n + 1] = 0xde;
		buf[n + 2] = (uint8_t)(ext_words >> 8);
		buf[n + 3] = (uint8_t)ext_words;
		memset(buf + n + 4, 0x22, 4 * (uint32_t)ext_words);
		n += 4 + 4 * (uint32_t)ext_words;
	}
	memset(buf + n, 0x33, payload);
	n += payload;
	if (pad) {
		memset(buf + n, 0, pad);
		n += pad;
		buf[n - 1] = (uint8_t)pad_count;
	}
	return n;
}

static void
test_rtp_valid(void)
{
	uint8_t b[512];
	uint32_t n, i;

	n = mk_rtp(b, 0, -1, 160, 0, 0);
	CHECK(n == 172 && rtp_valid(b, n));
	CHECK(rtp_valid(b, RTP_HDR_LEN));                /* a header alone is a packet */
	for (i = 0; i < RTP_HDR_LEN; i++)
		CHECK(!rtp_valid(b, i));
	CHECK(!rtp_valid(NULL, 0));
	/* version 0, 1, 3 */
	b[0] = 0x00;
	CHECK(!rtp_valid(b, n));
	b[0] = 0x40;
	CHECK(!rtp_valid(b, n));
	b[0] = 0xc0;
	CHECK(!rtp_valid(b, n));
	/* the marker and any payload type are the payload's business */
	b[0] = 0x80;
	b[1] = 0xff;
	CHECK(rtp_valid(b, n));
	CHECK_EQ_U(rtp_pt(b), 127);

	/* CSRC list: CC = 15 needs 72 bytes */
	n = mk_rtp(b, 15, -1, 0, 0, 0);
	CHECK(n == 72 && rtp_valid(b, n));
	CHECK(!rtp_valid(b, 71));
	CHECK(!rtp_valid(b, 12));
	n = mk_rtp(b, 15, -1, 100, 0, 0);
	CHECK(rtp_valid(b, n));

	/* extension: 4-byte header, then its length in words */
	n = mk_rtp(b, 0, 0, 0, 0, 0);
	CHECK(n == 16 && rtp_valid(b, n));
	for (i = 12; i < 16; i++)
		CHECK(!rtp_valid(b, i));
	n = mk_rtp(b, 0, 2, 0, 0, 0);
	CHECK(n == 24 && rtp_valid(b, n));
	CHECK(!rtp_valid(b, 23));
	CHECK(!rtp_valid(b, 17));
	n = mk_rtp(b, 3, 1, 20, 0, 0);
	CHECK(n == 12 + 12 + 8 + 20 && rtp_valid(b, n));
	CHECK(!rtp_valid(b, 12 + 12 + 7));
	CHECK(rtp_valid(b, 12 + 12 + 8));
	n = mk_rtp(b, 15, 0, 0, 0, 0);                  /* extension header after the CSRCs */
	CHECK(n == 76 && rtp_valid(b, n));
	CHECK(!rtp_valid(b, 75));
	/* a huge extension length: no overflow, just too long */
	n = mk_rtp(b, 0, 0, 100, 0, 0);
	b[14] = b[15] = 0xff;
	CHECK(!rtp_valid(b, n));

	/* padding: the count includes itself and lies after the header */
	n = mk_rtp(b, 0, -1, 160, 4, 4);
	CHECK(n == 176 && rtp_valid(b, n));
	b[n - 1] = 0;
	CHECK(!rtp_valid(b, n));                         /* count 0 */
	b[n - 1] = 164;
	CHECK(rtp_valid(b, n));                          /* all payload is padding */
	b[n - 1] = 165;
	CHECK(!rtp_valid(b, n));                         /* into the header */
	b[n - 1] = 255;
	CHECK(!rtp_valid(b, n));
	n = mk_rtp(b, 0, -1, 0, 1, 1);
	CHECK(n == 13 && rtp_valid(b, n));               /* one byte: the count itself */
	b[0] |= 0x20;
	CHECK(!rtp_valid(b, 12));                        /* P with nothing after the header */
	n = mk_rtp(b, 2, 1, 0, 8, 8);
	CHECK(n == 12 + 8 + 8 + 8 && rtp_valid(b, n));
	b[n - 1] = 9;
	CHECK(!rtp_valid(b, n));                         /* would eat the extension */
	n = mk_rtp(b, 0, -1, 0, 255, 255);
	CHECK(n == 267 && rtp_valid(b, n));

	/* the largest there is: 15 CSRCs, a 65535-word extension, 255 bytes of padding */
	n = mk_rtp(big, 15, 65535, 64, 255, 255);
	CHECK(n == sizeof(big) && rtp_valid(big, n));
	CHECK(!rtp_valid(big, n - 255 - 64 - 1));
	big[n - 1] = 0;
	CHECK(!rtp_valid(big, n));
	/* and the largest a UDP/IPv4 datagram carries */
	n = mk_rtp(big, 15, 16000, 65507 - 76 - 64000 - 255, 255, 255);
	CHECK(n == 65507 && rtp_valid(big, n));
	CHECK(!rtp_valid(big, 12 + 60 + 4 + 64000 - 1));
}

/* ---- RTCP ---- */

static uint32_t
put_rtcp_hdr(uint8_t *b, unsigned int count, unsigned int pt, unsigned int len_words,
	     bool pad)
{
	b[0] = 0x80 | (pad ? 0x20 : 0) | (count & 0x1f);
	b[1] = (uint8_t)pt;
	b[2] = (uint8_t)(len_words >> 8);
	b[3] = (uint8_t)len_words;
	return 4;
}

/* SR without report blocks (28 bytes) + SDES with one CNAME "host0" (16 bytes). */
static uint32_t
mk_sr_sdes(uint8_t *b)
{
	uint32_t n = 0;

	n += put_rtcp_hdr(b + n, 0, 200, 6, false);
	memset(b + n, 0x44, 24);                    /* SSRC, NTP, RTP ts, counts */
	n += 24;
	n += put_rtcp_hdr(b + n, 1, 202, 3, false);
	memset(b + n, 0x55, 4);                     /* SSRC */
	n += 4;
	memcpy(b + n, "\x01\x05host0\x00", 8);      /* CNAME, then the end item */
	n += 8;
	return n;
}

static void
test_rtcp_valid(void)
{
	uint8_t b[256];
	uint32_t n, i;

	n = mk_sr_sdes(b);
	CHECK(n == 44 && rtcp_valid(b, n));
	CHECK(rtcp_valid(b, 28));                   /* the SR alone */
	for (i = 0; i < n; i++)
		if (i != 28)
			CHECK(!rtcp_valid(b, i));           /* a packet cut short, or none */
	CHECK(!rtcp_valid(NULL, 0));

	/* packet types 192..223 only; 72 is an RTP payload type with the marker */
	b[1] = 72;
	CHECK(!rtcp_valid(b, n));
	b[1] = 191;
	CHECK(!rtcp_valid(b, n));
	b[1] = 224;
	CHECK(!rtcp_valid(b, n));
	b[1] = 192;
	CHECK(rtcp_valid(b, n));
	b[1] = 223;
	CHECK(rtcp_valid(b, n));
	b[1] = 200;
	b[28 + 1] = 72;                             /* in the second packet */
	CHECK(!rtcp_valid(b, n));
	b[28 + 1] = 202;

	/* version */
	b[0] = 0x40;
	CHECK(!rtcp_valid(b, n));
	b[0] = 0x80;
	b[28] = 0xc1;
	CHECK(!rtcp_valid(b, n));
	b[28] = 0x81;
	CHECK(rtcp_valid(b, n));

	/* length fields: too large, too small, must end exactly at len */
	b[3] = 7;
	CHECK(!rtcp_valid(b, 28));
	CHECK(!rtcp_valid(b, n));                   /* lands on the SDES's SSRC */
	b[3] = 5;
	CHECK(!rtcp_valid(b, n));                   /* the walk lands mid-packet */
	b[3] = 6;
	b[28 + 3] = 4;
	CHECK(!rtcp_valid(b, n));
	b[28 + 2] = 0xff;
	b[28 + 3] = 0xff;
	CHECK(!rtcp_valid(b, n));
	b[28 + 2] = 0;
	b[28 + 3] = 3;
	CHECK(rtcp_valid(b, n));

	/* trailing garbage */
	memcpy(b + n, "\x00\x00\x00", 3);
	CHECK(!rtcp_valid(b, n + 1));
	CHECK(!rtcp_valid(b, n + 3));
	memset(b + n, 0, 4);
	CHECK(!rtcp_valid(b, n + 4));
	/* ... but another well-formed packet is fine: a BYE with length 0 */
	put_rtcp_hdr(b + n, 0, 203, 0, false);
	CHECK(rtcp_valid(b, n + 4));

	/* padding: only on the last packet, count >= 1, inside that packet */
	n = mk_sr_sdes(b);
	b[0] |= 0x20;
	CHECK(!rtcp_valid(b, n));                   /* P on the first of two */
	b[0] &= ~0x20;
	put_rtcp_hdr(b + n, 0, 203, 2, true);       /* BYE, SSRC, 4 bytes of padding */
	memset(b + n + 4, 0x66, 4);
	memcpy(b + n + 8, "\0\0\0\x04", 4);
	CHECK(rtcp_valid(b, n + 12));
	b[n + 11] = 0;
	CHECK(!rtcp_valid(b, n + 12));
	b[n + 11] = 8;
	CHECK(rtcp_valid(b, n + 12));               /* the SSRC counts as padding: legal */
	b[n + 11] = 9;
	CHECK(!rtcp_valid(b, n + 12));              /* into the packet's header */
	/* the smallest packet: a header alone (an empty RR) */
	put_rtcp_hdr(b, 0, 201, 0, false);
	CHECK(rtcp_valid(b, 4));
	CHECK(!rtcp_valid(b, 3));
}

/* ---- sequence numbers: A.1 / A.3 ---- */

/* Feeds seq with a timestamp and an arrival that keep transit constant (jitter stays 0). */
static void
feed(struct rtp_state *st, uint16_t seq)
{
	uint32_t ts = (uint32_t)seq * 160;

	rtp_track(st, seq, ts, ts + 1000);
}

static void
test_seq_basic(void)
{
	struct rtp_state st;
	unsigned int i;

	memset(&st, 0, sizeof(st));
	CHECK_EQ_U(rtp_expected(&st), 0);
	CHECK_EQ_U(rtp_lost(&st), 0);
	CHECK(rtp_jitter(&st) == 0.0);

	/* the first packet counts: no probation */
	feed(&st, 4321);
	CHECK_EQ_U(rtp_expected(&st), 1);
	CHECK_EQ_U(rtp_lost(&st), 0);

	memset(&st, 0, sizeof(st));
	for (i = 0; i < 1000; i++)
		feed(&st, (uint16_t)(1000 + i));
	CHECK_EQ_U(rtp_expected(&st), 1000);
	CHECK_EQ_U(st.received, 1000);
	CHECK_EQ_U(rtp_lost(&st), 0);
	CHECK(rtp_jitter(&st) == 0.0);

	/* 1000 sequence numbers, 10 of them never sent */
	memset(&st, 0, sizeof(st));
	for (i = 0; i < 1000; i++)
		if (i == 0 || i == 999 || i % 97 != 0)
			feed(&st, (uint16_t)(20000 + i));
	CHECK_EQ_U(rtp_expected(&st), 1000);
	CHECK_EQ_U(rtp_lost(&st), 10);

	/* 1000 packets sent, 10 sequence numbers skipped among them */
	memset(&st, 0, sizeof(st));
	for (i = 0; i < 1010; i++)
		if (i < 100 || i >= 110)
			feed(&st, (uint16_t)i);
	CHECK_EQ_U(st.received, 1000);
	CHECK_EQ_U(rtp_expected(&st), 1010);
	CHECK_EQ_U(rtp_lost(&st), 10);

	/* the largest in-order gap (MAX_DROPOUT - 1) is loss */
	memset(&st, 0, sizeof(st));
	feed(&st, 100);
	feed(&st, 100 + 2999);
	CHECK_EQ_U(rtp_expected(&st), 3000);
	CHECK_EQ_U(rtp_lost(&st), 2998);
}

static void
test_seq_wrap(void)
{
	struct rtp_state st;
	unsigned int i;

	/* 65530 .. (65530 + 100) % 65536 in order */
	memset(&st, 0, sizeof(st));
	for (i = 0; i <= 100; i++)
		feed(&st, (uint16_t)((65530 + i) % 65536));
	CHECK_EQ_U(rtp_expected(&st), 101);
	CHECK_EQ_U(rtp_lost(&st), 0);
	CHECK_EQ_U(st.cycles, 1u << 16);
	CHECK_EQ_U(st.max_seq, 94);

	/* loss right at the wrap: 65535 and 0 */
	memset(&st, 0, sizeof(st));
	for (i = 0; i <= 100; i++)
		if ((65530 + i) % 65536 != 65535 && (65530 + i) % 65536 != 0)
			feed(&st, (uint16_t)((65530 + i) % 65536));
	CHECK_EQ_U(rtp_expected(&st), 101);
	CHECK_EQ_U(rtp_lost(&st), 2);

	/* a gap that crosses the wrap */
	memset(&st, 0, sizeof(st));
	feed(&st, 65000);
	feed(&st, 1000);
	CHECK_EQ_U(rtp_expected(&st), 1537);
	CHECK_EQ_U(rtp_lost(&st), 1535);

	/* several cycles */
	memset(&st, 0, sizeof(st));
	for (i = 0; i < 200000; i++)
		feed(&st, (uint16_t)(60000 + i));
	CHECK_EQ_U(rtp_expected(&st), 200000);
	CHECK_EQ_U(rtp_lost(&st), 0);
	CHECK_EQ_U(st.cycles, 3u << 16);

	/* late packets from before the wrap, after it: counted, never a new cycle */
	memset(&st, 0, sizeof(st));
	for (i = 65530; i < 65534; i++)
		feed(&st, (uint16_t)i);
	feed(&st, 0);
	feed(&st, 65535);
	feed(&st, 65534);
	feed(&st, 1);
	CHECK_EQ_U(st.cycles, 1u << 16);
	CHECK_EQ_U(rtp_expected(&st), 8);
	CHECK_EQ_U(rtp_lost(&st), 0);
}

/* After 2^32 sequence numbers in one run, cycles would overflow: the counts must carry on. */
static void
test_seq_cycles_overflow(void)
{
	struct rtp_state st;
	uint64_t e0, l0;
	unsigned int i;

	memset(&st, 0, sizeof(st));
	feed(&st, 65000);
	st.cycles = UINT32_MAX - 0xffff;           /* as if 65535 wraps had gone by */
	e0 = rtp_expected(&st);
	l0 = rtp_lost(&st);
	CHECK_EQ_U(e0, (uint64_t)(UINT32_MAX - 0xffff) + 1);
	for (i = 1; i <= 1000; i++)
		feed(&st, (uint16_t)(65000 + i));
	CHECK_EQ_U(rtp_expected(&st), e0 + 1000);
	CHECK_EQ_U(rtp_lost(&st), l0);
	CHECK_EQ_U(st.cycles, 0);
	for (i = 1001; i <= 1000 + 3 * 65536; i++)
		feed(&st, (uint16_t)(65000 + i));
	CHECK_EQ_U(rtp_expected(&st), e0 + 1000 + 3 * 65536);
	CHECK_EQ_U(rtp_lost(&st), l0);
}

static void
test_seq_reorder_dup(void)
{
	struct rtp_state st;
	unsigned int i;

	/* pairs swapped: 1 0 3 2 5 4 ... */
	memset(&st, 0, sizeof(st));
	for (i = 0; i < 1000; i += 2) {
		feed(&st, (uint16_t)(30000 + i + 1));
		feed(&st, (uint16_t)(30000 + i));
	}
	CHECK_EQ_U(st.received, 1000);
	CHECK_EQ_U(rtp_lost(&st), 0);
	/* the very first packet came after its successor: one below base, never negative */
	CHECK_EQ_U(rtp_expected(&st), 999);

	/* blocks of 50 sent backwards, across the wrap */
	memset(&st, 0, sizeof(st));
	for (i = 0; i < 1000; i += 50) {
		unsigned int k;

		for (k = 50; k-- > 0;)
			feed(&st, (uint16_t)(65000 + i + k));
	}
	CHECK_EQ_U(st.received, 1000);
	CHECK_EQ_U(rtp_lost(&st), 0);
	CHECK_EQ_U(st.cycles, 1u << 16);

	/* every packet twice, and the loss below stays visible */
	memset(&st, 0, sizeof(st));
	for (i = 0; i < 1000; i++) {
		feed(&st, (uint16_t)i);
		feed(&st, (uint16_t)i);
	}
	CHECK_EQ_U(st.received, 2000);
	CHECK_EQ_U(rtp_expected(&st), 1000);
	CHECK_EQ_U(rtp_lost(&st), 0);
	/* duplicates mask loss (A.3): 10 lost and 10 duplicated is 0, never negative */
	memset(&st, 0, sizeof(st));
	for (i = 0; i < 1000; i++) {
		if (i % 100 == 50)
			continue;
		feed(&st, (uint16_t)i);
		if (i % 100 == 60)
			feed(&st, (uint16_t)i);
	}
	CHECK_EQ_U(rtp_expected(&st), 1000);
	CHECK_EQ_U(rtp_lost(&st), 0);
	/* a packet more than MAX_MISORDER late looks like a jump (A.1): ignored, so lost */
	memset(&st, 0, sizeof(st));
	for (i = 0; i < 1000; i++)
		if (i != 500)
			feed(&st, (uint16_t)i);
	feed(&st, 500);
	CHECK_EQ_U(rtp_expected(&st), 1000);
	CHECK_EQ_U(rtp_lost(&st), 1);
	/* ... MAX_MISORDER - 1 late is still a late packet, MAX_MISORDER late is not (A.1) */
	memset(&st, 0, sizeof(st));
	for (i = 0; i <= 599; i++)
		if (i != 500)
			feed(&st, (uint16_t)i);
	feed(&st, 500);
	CHECK_EQ_U(rtp_lost(&st), 0);
	memset(&st, 0, sizeof(st));
	for (i = 0; i <= 600; i++)
		if (i != 500)
			feed(&st, (uint16_t)i);
	feed(&st, 500);
	CHECK_EQ_U(rtp_lost(&st), 1);
}

static void
test_seq_restart(void)
{
	struct rtp_state st;
	uint64_t prev = 0;
	unsigned int i;
	bool monotonic = true;

	/* 100 packets, then the sender restarts 20000 further on: a new run */
	memset(&st, 0, sizeof(st));
	for (i = 0; i < 100; i++)
		feed(&st, (uint16_t)i);
	for (i = 0; i < 100; i++) {
		feed(&st, (uint16_t)(20000 + i));
		monotonic &= rtp_expected(&st) >= prev;
		prev = rtp_expected(&st);
	}
	CHECK(monotonic);
	CHECK_EQ_U(st.expected_prior_runs, 100);
	CHECK_EQ_U(st.received_prior_runs, 100);
	CHECK_EQ_U(st.base_seq, 20000);
	CHECK_EQ_U(rtp_expected(&st), 200);
	CHECK_EQ_U(rtp_lost(&st), 0);
	/* loss in the new run is loss */
	feed(&st, 20105);
	CHECK_EQ_U(rtp_expected(&st), 206);
	CHECK_EQ_U(rtp_lost(&st), 5);

	/* a single stray packet far away is ignored: not received, not expected */
	memset(&st, 0, sizeof(st));
	for (i = 0; i < 100; i++)
		feed(&st, (uint16_t)i);
	feed(&st, 40000);
	CHECK_EQ_U(rtp_expected(&st), 100);
	CHECK_EQ_U(rtp_lost(&st), 0);
	for (i = 100; i < 200; i++)
		feed(&st, (uint16_t)i);
	CHECK_EQ_U(rtp_expected(&st), 200);
	CHECK_EQ_U(rtp_lost(&st), 0);
	CHECK_EQ_U(st.expected_prior_runs, 0);
	/* two strays that do not follow each other: still ignored */
	feed(&st, 40000);
	feed(&st, 40002);
	feed(&st, 200);
	CHECK_EQ_U(rtp_expected(&st), 201);
	CHECK_EQ_U(rtp_lost(&st), 0);

	/* a restart backwards, and one whose second packet is seq 0 (the run spans a wrap) */
	memset(&st, 0, sizeof(st));
	for (i = 0; i < 5000; i++)
		feed(&st, (uint16_t)(10000 + i));
	feed(&st, 65535);
	feed(&st, 0);
	feed(&st, 1);
	CHECK_EQ_U(rtp_expected(&st), 5003);
	CHECK_EQ_U(rtp_lost(&st), 0);
	feed(&st, 40000);                          /* and again */
	feed(&st, 40001);
	CHECK_EQ_U(rtp_expected(&st), 5005);
	CHECK_EQ_U(rtp_lost(&st), 0);
	CHECK_EQ_U(st.expected_prior_runs + st.received_prior_runs, 2 * 5003);

	/* a jump of exactly MAX_DROPOUT is a jump, not 2999 lost */
	memset(&st, 0, sizeof(st));
	feed(&st, 100);
	feed(&st, 3100);
	CHECK_EQ_U(rtp_expected(&st), 1);
	CHECK_EQ_U(rtp_lost(&st), 0);
}

/* ---- jitter: A.8 ---- */

/* A.8 as printed: double precision, J += (|D| - J) / 16, skipping the first packet. */
struct ref_jitter {
	bool have;
	int64_t transit;
	double j;
};

static void
ref_update(struct ref_jitter *r, int64_t arrival, int64_t ts)
{
	int64_t transit = arrival - ts, d;

	if (r->have) {
		d = transit - r->transit;
		if (d < 0)
			d = -d;
		r->j += ((double)d - r->j) / 16.0;
	}
	r->transit = transit;
	r->have = true;
}

static uint32_t lcg_state = 12345;

static uint32_t
lcg(void)
{
	lcg_state = lcg_state * 1103515245u + 12345u;
	return lcg_state >> 8;
}

static double
absd(double x)
{
	return x < 0 ? -x : x;
}

static void
test_jitter(void)
{
	struct rtp_state st;
	struct ref_jitter ref;
	double worst = 0;
	int64_t ts64, arr64;
	uint32_t ts, arr;
	unsigned int i;

	/* constant spacing, also across the 32-bit wrap of both clocks */
	memset(&st, 0, sizeof(st));
	ts = UINT32_MAX - 160 * 50;
	arr = 123;
	for (i = 0; i < 1000; i++, ts += 160, arr += 160)
		rtp_track(&st, (uint16_t)i, ts, arr);
	CHECK(rtp_jitter(&st) == 0.0);
	CHECK_EQ_U(st.jitter, 0);

	/* exact integers, worked by hand (J16 = J scaled by 16):
	 * D = 160: J16 = 0 + 160 - (8 >> 4) = 160; D = 0: 160 - (168 >> 4) = 150;
	 * D = 80: 150 + 80 - (158 >> 4) = 221; D = -80: 221 + 80 - (229 >> 4) = 287 */
	memset(&st, 0, sizeof(st));
	rtp_track(&st, 1, 1000, 5000);
	CHECK_EQ_U(st.jitter, 0);
	rtp_track(&st, 2, 1160, 5320);               /* transit 4000 -> 4160 */
	CHECK_EQ_U(st.jitter, 160);
	CHECK(rtp_jitter(&st) == 10.0);
	rtp_track(&st, 3, 1320, 5480);
	CHECK_EQ_U(st.jitter, 150);
	rtp_track(&st, 4, 1480, 5720);               /* transit 4240 */
	CHECK_EQ_U(st.jitter, 221);
	rtp_track(&st, 5, 1640, 5800);               /* transit 4160 */
	CHECK_EQ_U(st.jitter, 287);
	CHECK(rtp_jitter(&st) == 287 / 16.0);

	/* RFC 3550 6.4.1's example spirit: one packet 20 ms (160 units) late, then on time.
	 * J jumps by 160/16 twice (late, then back), then decays by 15/16 a packet. */
	memset(&st, 0, sizeof(st));
	memset(&ref, 0, sizeof(ref));
	for (i = 0, ts = 0, arr = 0; i < 200; i++, ts += 160, arr += 160) {
		uint32_t a = arr + (i == 100 ? 160 : 0);

		rtp_track(&st, (uint16_t)i, ts, a);
		ref_update(&ref, a, ts);
		if (i == 101)
			CHECK(absd(rtp_jitter(&st) - ref.j) <= 0.5);
	}
	CHECK(absd(rtp_jitter(&st) - ref.j) <= 0.5);
	CHECK(rtp_jitter(&st) < 1.0);

	/*
	 * Pseudo-random arrivals against the double reference. The integer form rounds J16/16
	 * once a packet (error <= 0.5 in J16), and old errors decay by 15/16, so it stays within
	 * 16 * 0.5 J16 = 0.5 clock units of the reference: that is the tolerance.
	 */
	memset(&st, 0, sizeof(st));
	memset(&ref, 0, sizeof(ref));
	ts64 = 4000000000;                         /* both clocks wrap 32 bits on the way */
	arr64 = 4290000000;
	for (i = 0; i < 100000; i++) {
		int64_t a = arr64 + lcg() % 400;       /* 0..50 ms of network delay */

		rtp_track(&st, (uint16_t)i, (uint32_t)ts64, (uint32_t)a);
		ref_update(&ref, a, ts64);
		if (absd(rtp_jitter(&st) - ref.j) > worst)
			worst = absd(rtp_jitter(&st) - ref.j);
		ts64 += 160;
		arr64 += 160;
	}
	if (worst > 0.5)
		fprintf(stderr, "jitter: worst difference from the reference %.3f\n", worst);
	CHECK(worst <= 0.5);
	/* uniform delay on 0..399: E|D| = 400/3, the estimate's mean */
	CHECK(ref.j > 100 && ref.j < 170);
	CHECK(rtp_jitter(&st) > 100 && rtp_jitter(&st) < 170);

	/* bursty arrivals with the sender clock drifting (arrival units != ts units) */
	memset(&st, 0, sizeof(st));
	memset(&ref, 0, sizeof(ref));
	worst = 0;
	for (i = 0, ts = 0, arr = 0; i < 20000; i++) {
		uint32_t a = arr + (lcg() % 16 == 0 ? lcg() % 3000 : lcg() % 20);

		rtp_track(&st, (uint16_t)i, ts, a);
		ref_update(&ref, a, ts);
		if (absd(rtp_jitter(&st) - ref.j) > worst)
			worst = absd(rtp_jitter(&st) - ref.j);
		ts += 160;
		arr += 161;
	}
	CHECK(worst <= 0.5);

	/* duplicates and reordered packets update J too (A.8: every packet, in arrival order) */
	memset(&st, 0, sizeof(st));
	rtp_track(&st, 1, 160, 1000);
	rtp_track(&st, 1, 160, 1080);                /* a duplicate, 80 later: D = 80 */
	CHECK_EQ_U(st.jitter, 80);

	/* the largest transit difference: no overflow, no wrap to a small value */
	memset(&st, 0, sizeof(st));
	rtp_track(&st, 1, 0, 0);
	rtp_track(&st, 2, 0, 0x80000000u);
	CHECK_EQ_U(st.jitter, 0x80000000u);
	rtp_track(&st, 3, 0, 0);
	rtp_track(&st, 4, 0, 0x80000000u);
	CHECK_EQ_U(st.jitter, UINT32_MAX);
	CHECK(rtp_jitter(&st) > 2.6e8);

	/* a stray packet (a jump) does not touch J; a restart starts a new transit origin */
	memset(&st, 0, sizeof(st));
	for (i = 0; i < 100; i++)
		rtp_track(&st, (uint16_t)i, i * 160, 5000 + i * 160);
	rtp_track(&st, 30000, 99999999, 5000 + 100 * 160);
	CHECK_EQ_U(st.jitter, 0);
	rtp_track(&st, 100, 100 * 160, 5000 + 101 * 160);    /* D = 160: on the old origin */
	CHECK_EQ_U(st.jitter, 160);
	st.jitter = 0;
	for (i = 0; i < 100; i++)
		rtp_track(&st, (uint16_t)(50000 + i), 777777 + i * 160, 9000000 + i * 160);
	CHECK_EQ_U(st.jitter, 0);
	CHECK_EQ_U(rtp_expected(&st), 201);
}

int
main(void)
{
	test_rtp_valid();
	test_rtcp_valid();
	test_seq_basic();
	test_seq_wrap();
	test_seq_cycles_overflow();
	test_seq_reorder_dup();
	test_seq_restart();
	test_jitter();
	return check_summary("test_rtp");
}
