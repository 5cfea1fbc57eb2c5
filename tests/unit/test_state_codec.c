/*
 * The state store's records: a session (UDP bidirectional with labels and both latches, TCP,
 * ERROR) -> StoredSession / StoredCounters bytes -> what sess_restore takes, field by field;
 * and records that cannot be read give an error naming the field, never a crash.
 */
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>

#include "check.h"
#include "sess.h"
#include "state.pb-c.h"
#include "state_codec.h"

static struct dp_addr ip(const char *s)
{
	struct dp_addr a;
	dp_addr_parse(s, &a);
	return a;
}

static bool same(struct dp_addr a, struct dp_addr b)
{
	return dp_addr_eq(&a, &b);
}

static void test_udp_round_trip(void)
{
	struct sess_label labels[2] = { { "call", "abc" }, { "leg", "A" } };
	struct session s = {
		.id = "call-1", .state = SESS_ACTIVE, .transport = SESS_UDP,
		.listen = { ip("198.18.1.1"), 20000 }, .forward = { ip("198.18.2.1"), 20002 },
		.dest = { ip("198.18.2.2"), 30000 }, .rtcp = true, .bidir = true,
		.validate_rtp = true, .latch_mode = SESS_LATCH_ANY, .strict_source = true,
		.rate_pps = 100, .rate_bps = 64000, .idle_timeout_secs = 45,
		.created_ms = 1700000000123, .labels = labels, .n_labels = 2,
	};
	struct dp_latch_state l = { .addr = ip("198.18.1.2"), .port = 4000,
		.mac = { 2, 0, 0, 0, 1, 2 }, .rx_port = 1, .local_addr = ip("198.18.1.1"),
		.has_ssrc = true, .ssrc = 0xdeadbeef };
	struct dp_latch_state lr = l;
	lr.port = 4001;
	lr.has_ssrc = false;
	size_t dlen, clen;
	uint8_t *def = state_encode_def(&s, &l, &lr, &dlen);
	CHECK(def != NULL && dlen > 0);
	struct sess_stats rtp = { .pkts_rx = 10, .pkts_tx = 9, .bytes_rx = 1720, .bytes_tx = 1548,
		.lost = 2, .dropped = 1, .jitter_ms = 1.5, .last_activity_ms = 1700000001000 };
	struct sess_stats rev = { .pkts_rx = 5, .pkts_tx = 5, .bytes_rx = 860, .bytes_tx = 860 };
	struct sess_stats rtcp = { .pkts_rx = 1, .pkts_tx = 1, .bytes_rx = 52, .bytes_tx = 52 };
	uint8_t *ctr = state_encode_ctr(1700000002000, &rtp, &rev, &rtcp, &clen);
	CHECK(ctr != NULL);

	struct state_rec r;
	char err[256] = "";
	CHECK(state_decode(def, dlen, ctr, clen, &r, err, sizeof(err)) == 0);
	CHECK(strcmp(r.params.id, "call-1") == 0);
	CHECK_EQ_U(r.params.transport, SESS_UDP);
	CHECK(same(r.params.listen.addr, ip("198.18.1.1")));
	CHECK_EQ_U(r.params.listen.port, 20000);
	CHECK(same(r.params.forward.addr, ip("198.18.2.1")));
	CHECK_EQ_U(r.params.forward.port, 20002);
	CHECK(same(r.params.dest.addr, ip("198.18.2.2")));
	CHECK_EQ_U(r.params.dest.port, 30000);
	CHECK(r.params.rtcp && r.params.bidir && r.params.validate_rtp && r.params.strict_source);
	CHECK_EQ_U(r.params.latch_mode, SESS_LATCH_ANY);
	CHECK_EQ_U(r.params.rate_pps, 100);
	CHECK_EQ_U(r.params.rate_bps, 64000);
	CHECK_EQ_U(r.params.idle_timeout_secs, 45);
	CHECK_EQ_U(r.params.n_labels, 2);
	CHECK(strcmp(r.params.labels[1].key, "leg") == 0 &&
			strcmp(r.params.labels[1].value, "A") == 0);
	CHECK_EQ_U(r.restore.state, SESS_ACTIVE);
	CHECK_EQ_U(r.restore.created_ms, 1700000000123);
	CHECK(strcmp(r.restore.error, "") == 0);
	CHECK(r.restore.latch == &r.latch && r.restore.latch_rtcp == &r.latch_rtcp);
	CHECK(same(r.latch.addr, l.addr));
	CHECK_EQ_U(r.latch.port, 4000);
	CHECK(memcmp(r.latch.mac, l.mac, 6) == 0);
	CHECK_EQ_U(r.latch.rx_port, 1);
	CHECK(same(r.latch.local_addr, l.local_addr));
	CHECK(r.latch.has_ssrc);
	CHECK_EQ_U(r.latch.ssrc, 0xdeadbeef);
	CHECK_EQ_U(r.latch_rtcp.port, 4001);
	CHECK(!r.latch_rtcp.has_ssrc);
	CHECK(r.has_counters && r.restore.base == &r.base);
	CHECK_EQ_U(r.checkpoint_ms, 1700000002000);
	CHECK_EQ_U(r.base.rtp.pkts_rx, 10);
	CHECK_EQ_U(r.base.rtp.pkts_tx, 9);
	CHECK_EQ_U(r.base.rtp.bytes_tx, 1548);
	CHECK_EQ_U(r.base.rtp.lost, 2);
	CHECK_EQ_U(r.base.rtp.dropped, 1);
	CHECK(r.base.rtp.jitter_ms == 1.5);
	CHECK_EQ_U(r.base.rtp.last_activity_ms, 1700000001000);
	CHECK_EQ_U(r.base.rev.bytes_rx, 860);
	CHECK_EQ_U(r.base.rtcp.pkts_tx, 1);
	state_rec_free(&r);

	/* without counters: no base */
	CHECK(state_decode(def, dlen, NULL, 0, &r, err, sizeof(err)) == 0);
	CHECK(!r.has_counters && r.restore.base == NULL);
	state_rec_free(&r);
	free(def);
	free(ctr);
}

static void test_tcp_and_error(void)
{
	struct session s = {
		.id = "t1", .state = SESS_CONNECTING, .transport = SESS_TCP,
		.listen = { { .family = DP_AF_INET }, 21000 }, .forward = { ip("198.18.2.1"), 0 },
		.dest = { ip("198.18.2.2"), 5060 }, .idle_timeout_secs = 300, .created_ms = 5,
	};
	size_t len;
	uint8_t *def = state_encode_def(&s, NULL, NULL, &len);
	struct state_rec r;
	char err[256];
	CHECK(state_decode(def, len, NULL, 0, &r, err, sizeof(err)) == 0);
	CHECK_EQ_U(r.params.transport, SESS_TCP);
	CHECK(dp_addr_is_any(&r.params.listen.addr));
	CHECK_EQ_U(r.params.listen.port, 21000);
	CHECK_EQ_U(r.params.forward.port, 0);
	CHECK_EQ_U(r.restore.state, SESS_CONNECTING);
	CHECK(dp_addr_is_none(&r.latch.addr));
	state_rec_free(&r);
	free(def);

	struct sess_end end = { .error[0] = 0 };
	snprintf(end.error, sizeof(end.error), "destination_endpoint: next hop 198.18.2.9 "
			"does not answer ARP");
	s.transport = SESS_UDP;
	s.state = SESS_ERROR;
	s.end = &end;
	def = state_encode_def(&s, NULL, NULL, &len);
	CHECK(state_decode(def, len, NULL, 0, &r, err, sizeof(err)) == 0);
	CHECK_EQ_U(r.restore.state, SESS_ERROR);
	CHECK(strcmp(r.restore.error, end.error) == 0);
	state_rec_free(&r);
	free(def);
}

static bool says(const char *err, const char *prefix)
{
	bool ok = strncmp(err, prefix, strlen(prefix)) == 0;
	if (!ok)
		fprintf(stderr, "  error \"%s\" does not start with \"%s\"\n", err, prefix);
	return ok;
}

static void test_bad_records(void)
{
	struct state_rec r;
	char err[256];
	static const uint8_t junk[] = { 0xff, 0xff, 0xff, 0xff, 0x0f };
	CHECK(state_decode(junk, sizeof(junk), NULL, 0, &r, err, sizeof(err)) == -1);
	CHECK(says(err, "def: not a StoredSession"));

	Rtpproxy__State__StoredSession m = RTPPROXY__STATE__STORED_SESSION__INIT;
	Rtpproxy__CreateSessionRequest req = RTPPROXY__CREATE_SESSION_REQUEST__INIT;
	Rtpproxy__Endpoint l = RTPPROXY__ENDPOINT__INIT, f = RTPPROXY__ENDPOINT__INIT,
		d = RTPPROXY__ENDPOINT__INIT;
	uint8_t buf[512];
	size_t len;
	m.version = 2;
	m.request = &req;
	len = rtpproxy__state__stored_session__pack(&m, buf);
	CHECK(state_decode(buf, len, NULL, 0, &r, err, sizeof(err)) == -1);
	CHECK(says(err, "def.version: 2"));

	m.version = 1;
	len = rtpproxy__state__stored_session__pack(&m, buf);
	CHECK(state_decode(buf, len, NULL, 0, &r, err, sizeof(err)) == -1);
	CHECK(says(err, "def.request.session_id: missing"));

	req.session_id = "x";
	l.address = "198.18.1.1";
	f.address = "nonsense";
	d.address = "198.18.2.2";
	d.port = 9;
	req.listen_endpoint = &l;
	req.forward_endpoint = &f;
	req.destination_endpoint = &d;
	len = rtpproxy__state__stored_session__pack(&m, buf);
	CHECK(state_decode(buf, len, NULL, 0, &r, err, sizeof(err)) == -1);
	CHECK(says(err, "def.request.forward_endpoint.address"));

	f.address = "198.18.2.1";
	m.state = RTPPROXY__SESSION_STATE__SESSION_STATE_CLOSED;
	len = rtpproxy__state__stored_session__pack(&m, buf);
	CHECK(state_decode(buf, len, NULL, 0, &r, err, sizeof(err)) == -1);
	CHECK(says(err, "def.state: 4"));

	m.state = RTPPROXY__SESSION_STATE__SESSION_STATE_ACTIVE;
	Rtpproxy__State__StoredLatch lt = RTPPROXY__STATE__STORED_LATCH__INIT;
	Rtpproxy__Endpoint src = RTPPROXY__ENDPOINT__INIT;
	src.address = "198.18.1.2";
	src.port = 7;
	lt.source = &src;
	lt.local_address = "198.18.1.1";
	uint8_t mac[3] = { 1, 2, 3 };
	lt.mac.data = mac;
	lt.mac.len = 3;
	m.latch = &lt;
	len = rtpproxy__state__stored_session__pack(&m, buf);
	CHECK(state_decode(buf, len, NULL, 0, &r, err, sizeof(err)) == -1);
	CHECK(says(err, "latch.mac: 3 bytes"));

	m.latch = NULL;
	len = rtpproxy__state__stored_session__pack(&m, buf);
	CHECK(state_decode(buf, len, junk, sizeof(junk), &r, err, sizeof(err)) == -1);
	CHECK(says(err, "ctr: not a StoredCounters"));
	CHECK(state_decode(buf, len, NULL, 0, &r, err, sizeof(err)) == 0);
	state_rec_free(&r);
}

int main(void)
{
	test_udp_round_trip();
	test_tcp_and_error();
	test_bad_records();
	return check_summary("state_codec");
}
