/* pb_json: exact JSON text for maps, oneofs, repeated enums, 64-bit ints, doubles, escapes. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pb_json.h"
#include "rtpproxy.pb-c.h"

#define CHECK(cond) do { \
	if (!(cond)) { \
		fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
		exit(1); \
	} \
} while (0)

static int passed;

#define RUN(test) do { test(); passed++; } while (0)

/* The JSON of msg equals want. */
static void expect(const ProtobufCMessage *msg, const char *want, int line)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	CHECK(f != NULL);
	pb_json_print(f, msg);
	fclose(f);
	if (strcmp(buf, want) != 0) {
		fprintf(stderr, "%s:%d: JSON differs\n  got:  %s\n  want: %s\n", __FILE__, line,
			buf, want);
		exit(1);
	}
	free(buf);
}

#define EXPECT(msg, want) expect(&(msg).base, want, __LINE__)

static void test_defaults(void)
{
	Rtpproxy__GetProxyStatsRequest empty = RTPPROXY__GET_PROXY_STATS_REQUEST__INIT;
	Rtpproxy__SessionStats s = RTPPROXY__SESSION_STATS__INIT;
	Rtpproxy__CreateSessionResponse r = RTPPROXY__CREATE_SESSION_RESPONSE__INIT;

	EXPECT(empty, "{}");
	EXPECT(s, "{\"packets_received\":0,\"packets_sent\":0,\"bytes_received\":0,"
		"\"bytes_sent\":0,\"packets_lost\":0,\"loss_rate\":0,\"packets_dropped\":0,"
		"\"avg_latency_ms\":0,\"max_latency_ms\":0,\"jitter_ms\":0,"
		"\"last_activity_unix_ms\":0}");
	EXPECT(r, "{}");   /* an unset submessage is left out */
}

static void test_oneof(void)
{
	Rtpproxy__SessionEvent ev = RTPPROXY__SESSION_EVENT__INIT;
	Rtpproxy__SessionStateChanged sc = RTPPROXY__SESSION_STATE_CHANGED__INIT;
	Rtpproxy__SessionError er = RTPPROXY__SESSION_ERROR__INIT;

	ev.session_id = "a";
	ev.timestamp_unix_ms = -5;
	EXPECT(ev, "{\"session_id\":\"a\",\"timestamp_unix_ms\":-5}");
	sc.new_state = RTPPROXY__SESSION_STATE__SESSION_STATE_ACTIVE;
	ev.event_case = RTPPROXY__SESSION_EVENT__EVENT_STATE_CHANGED;
	ev.state_changed = &sc;
	EXPECT(ev, "{\"session_id\":\"a\",\"timestamp_unix_ms\":-5,\"state_changed\":"
		"{\"old_state\":\"SESSION_STATE_CREATED\","
		"\"new_state\":\"SESSION_STATE_ACTIVE\"}}");
	er.message = "x";
	ev.event_case = RTPPROXY__SESSION_EVENT__EVENT_ERROR;
	ev.error = &er;
	EXPECT(ev, "{\"session_id\":\"a\",\"timestamp_unix_ms\":-5,\"error\":{\"message\":\"x\"}}");
}

static void test_maps_and_repeated(void)
{
	Rtpproxy__GetProxyStatsResponse r = RTPPROXY__GET_PROXY_STATS_RESPONSE__INIT;
	Rtpproxy__PortStats p = RTPPROXY__PORT_STATS__INIT;
	Rtpproxy__PortStats *ports[] = { &p };
	Rtpproxy__GetProxyStatsResponse__DropsEntry d1 =
		RTPPROXY__GET_PROXY_STATS_RESPONSE__DROPS_ENTRY__INIT, d2 = d1;
	Rtpproxy__GetProxyStatsResponse__DropsEntry *drops[] = { &d1, &d2 };

	r.sessions_active = 1;
	r.sessions_created_total = 2;
	r.sessions_closed_total = 3;
	p.name = "p\"0";
	p.rx_packets = UINT64_MAX;
	r.n_ports = 1;
	r.ports = ports;
	d1.key = "a";
	d1.value = 1;
	d2.key = "b";
	d2.value = UINT64_MAX;
	r.n_drops = 2;
	r.drops = drops;
	r.version = "v";
	EXPECT(r, "{\"sessions_active\":1,\"sessions_created_total\":2,\"sessions_closed_total\":3,"
		"\"ports\":[{\"port_id\":0,\"name\":\"p\\\"0\",\"rx_packets\":18446744073709551615,"
		"\"tx_packets\":0,\"rx_bytes\":0,\"tx_bytes\":0,\"rx_missed\":0,\"tx_failed\":0,"
		"\"exception_packets\":0}],\"drops\":{\"a\":1,\"b\":18446744073709551615},"
		"\"uptime_ms\":0,\"version\":\"v\",\"workers\":[]}");
}

static void test_repeated_enums(void)
{
	Rtpproxy__ListSessionsRequest r = RTPPROXY__LIST_SESSIONS_REQUEST__INIT;
	Rtpproxy__SessionState states[] = { RTPPROXY__SESSION_STATE__SESSION_STATE_ACTIVE, 99 };

	r.n_states = 2;
	r.states = states;
	r.page_size = 7;
	r.page_token = "t";
	EXPECT(r, "{\"states\":[\"SESSION_STATE_ACTIVE\",99],\"transports\":[],"
		"\"label_selector\":{},\"page_size\":7,\"page_token\":\"t\"}");
}

static void test_strings(void)
{
	Rtpproxy__Endpoint ep = RTPPROXY__ENDPOINT__INIT;

	/* Control characters escaped, valid UTF-8 kept, broken UTF-8 replaced. */
	ep.address = "a\x01\n\"\\\t\xc3\xbc\xe2\x82\xac\xf0\x9f\x8e\xb5|"
		"\xff|\xc0\x80|\xed\xa0\x80|\xc3";
	ep.port = 5;
	EXPECT(ep, "{\"address\":\"a\\u0001\\n\\\"\\\\\\t\xc3\xbc\xe2\x82\xac\xf0\x9f\x8e\xb5|"
		"\\ufffd|\\ufffd\\ufffd|\\ufffd\\ufffd\\ufffd|\\ufffd\",\"port\":5}");
}

static void test_doubles(void)
{
	Rtpproxy__SessionStats s = RTPPROXY__SESSION_STATS__INIT;

	s.loss_rate = 0.1;
	s.avg_latency_ms = 1e300;
	s.max_latency_ms = NAN;
	s.jitter_ms = -INFINITY;
	s.packets_lost = 1;
	EXPECT(s, "{\"packets_received\":0,\"packets_sent\":0,\"bytes_received\":0,"
		"\"bytes_sent\":0,\"packets_lost\":1,\"loss_rate\":0.1,\"packets_dropped\":0,"
		"\"avg_latency_ms\":1e+300,\"max_latency_ms\":\"NaN\",\"jitter_ms\":\"-Infinity\","
		"\"last_activity_unix_ms\":0}");
	s.loss_rate = 1.0 / 3.0;
	s.avg_latency_ms = 0.012;
	s.max_latency_ms = 2.5;
	s.jitter_ms = INFINITY;
	EXPECT(s, "{\"packets_received\":0,\"packets_sent\":0,\"bytes_received\":0,"
		"\"bytes_sent\":0,\"packets_lost\":1,\"loss_rate\":0.3333333333333333,"
		"\"packets_dropped\":0,\"avg_latency_ms\":0.012,\"max_latency_ms\":2.5,"
		"\"jitter_ms\":\"Infinity\",\"last_activity_unix_ms\":0}");
}

static void test_nested(void)
{
	Rtpproxy__SessionInfo si = RTPPROXY__SESSION_INFO__INIT;
	Rtpproxy__Endpoint l = RTPPROXY__ENDPOINT__INIT;
	Rtpproxy__SessionInfo__LabelsEntry e = RTPPROXY__SESSION_INFO__LABELS_ENTRY__INIT;
	Rtpproxy__SessionInfo__LabelsEntry *labels[] = { &e };

	si.session_id = "s";
	si.state = RTPPROXY__SESSION_STATE__SESSION_STATE_CLOSED;
	si.transport = RTPPROXY__TRANSPORT__TRANSPORT_TCP;
	l.address = "::";
	l.port = 65535;
	si.listen_endpoint = &l;
	si.enable_rtcp = 1;
	si.created_unix_ms = 1700000000123LL;
	e.key = "k";
	e.value = "v";
	si.n_labels = 1;
	si.labels = labels;
	EXPECT(si, "{\"session_id\":\"s\",\"state\":\"SESSION_STATE_CLOSED\","
		"\"transport\":\"TRANSPORT_TCP\",\"listen_endpoint\":{\"address\":\"::\","
		"\"port\":65535},\"enable_rtcp\":true,\"bidirectional\":false,"
		"\"idle_timeout_secs\":0,\"created_unix_ms\":1700000000123,\"error_message\":\"\","
		"\"labels\":{\"k\":\"v\"},\"latch_mode\":\"LATCH_MODE_SSRC\",\"strict_source\":false}");
}

int main(void)
{
	RUN(test_defaults);
	RUN(test_oneof);
	RUN(test_maps_and_repeated);
	RUN(test_repeated_enums);
	RUN(test_strings);
	RUN(test_doubles);
	RUN(test_nested);
	printf("test_pb_json: %d passed, 0 failed\n", passed);
	return 0;
}
