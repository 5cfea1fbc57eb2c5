/*
 * Unit test of control/metrics.c: the Prometheus text exposition of a known snapshot, compared
 * line for line with the text it must be (API.md 1.4's names, labels, HELP/TYPE, histograms
 * cumulative with +Inf, _sum and _count), and the bucket search.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "metrics.h"

static const char head[] =
"# HELP rtpproxy_sessions Sessions by state and transport (retained CLOSED and ERROR sessions count).\n"
"# TYPE rtpproxy_sessions gauge\n"
"rtpproxy_sessions{state=\"created\",transport=\"udp\"} 0\n"
"rtpproxy_sessions{state=\"created\",transport=\"tcp\"} 0\n"
"rtpproxy_sessions{state=\"connecting\",transport=\"udp\"} 2\n"
"rtpproxy_sessions{state=\"connecting\",transport=\"tcp\"} 0\n"
"rtpproxy_sessions{state=\"active\",transport=\"udp\"} 3\n"
"rtpproxy_sessions{state=\"active\",transport=\"tcp\"} 1\n"
"rtpproxy_sessions{state=\"error\",transport=\"udp\"} 0\n"
"rtpproxy_sessions{state=\"error\",transport=\"tcp\"} 0\n"
"rtpproxy_sessions{state=\"closed\",transport=\"udp\"} 1\n"
"rtpproxy_sessions{state=\"closed\",transport=\"tcp\"} 0\n"
"# HELP rtpproxy_sessions_created_total Sessions created since start.\n"
"# TYPE rtpproxy_sessions_created_total counter\n"
"rtpproxy_sessions_created_total 9\n"
"# HELP rtpproxy_sessions_closed_total Sessions closed since start, by reason.\n"
"# TYPE rtpproxy_sessions_closed_total counter\n"
"rtpproxy_sessions_closed_total{reason=\"destroyed\"} 2\n"
"rtpproxy_sessions_closed_total{reason=\"idle_timeout\"} 1\n"
"rtpproxy_sessions_closed_total{reason=\"error\"} 0\n"
"rtpproxy_sessions_closed_total{reason=\"shutdown\"} 0\n"
"rtpproxy_sessions_closed_total{reason=\"other\"} 0\n"
"# HELP rtpproxy_port_rx_packets_total Packets the port received.\n"
"# TYPE rtpproxy_port_rx_packets_total counter\n"
"rtpproxy_port_rx_packets_total{port=\"port0\"} 100\n"
"rtpproxy_port_rx_packets_total{port=\"port1\"} 200\n"
"# HELP rtpproxy_port_tx_packets_total Packets the port sent.\n"
"# TYPE rtpproxy_port_tx_packets_total counter\n"
"rtpproxy_port_tx_packets_total{port=\"port0\"} 101\n"
"rtpproxy_port_tx_packets_total{port=\"port1\"} 201\n"
"# HELP rtpproxy_port_rx_bytes_total Bytes the port received.\n"
"# TYPE rtpproxy_port_rx_bytes_total counter\n"
"rtpproxy_port_rx_bytes_total{port=\"port0\"} 102\n"
"rtpproxy_port_rx_bytes_total{port=\"port1\"} 202\n"
"# HELP rtpproxy_port_tx_bytes_total Bytes the port sent.\n"
"# TYPE rtpproxy_port_tx_bytes_total counter\n"
"rtpproxy_port_tx_bytes_total{port=\"port0\"} 103\n"
"rtpproxy_port_tx_bytes_total{port=\"port1\"} 203\n"
"# HELP rtpproxy_port_rx_missed_total Packets the NIC dropped before the data plane saw them.\n"
"# TYPE rtpproxy_port_rx_missed_total counter\n"
"rtpproxy_port_rx_missed_total{port=\"port0\"} 104\n"
"rtpproxy_port_rx_missed_total{port=\"port1\"} 204\n"
"# HELP rtpproxy_port_tx_failed_total Packets the NIC refused to send.\n"
"# TYPE rtpproxy_port_tx_failed_total counter\n"
"rtpproxy_port_tx_failed_total{port=\"port0\"} 105\n"
"rtpproxy_port_tx_failed_total{port=\"port1\"} 205\n"
"# HELP rtpproxy_exception_packets_total Packets handed to the port's kernel interface.\n"
"# TYPE rtpproxy_exception_packets_total counter\n"
"rtpproxy_exception_packets_total{port=\"port0\"} 106\n"
"rtpproxy_exception_packets_total{port=\"port1\"} 206\n"
"# HELP rtpproxy_drops_total Packets the appliance dropped, by reason.\n"
"# TYPE rtpproxy_drops_total counter\n";

/* the drop lines: one per dp_drop_names entry, value 10 * index (the names are lib's) */

static const char tail[] =
"# HELP rtpproxy_relayed_packets_total Packets a worker relayed.\n"
"# TYPE rtpproxy_relayed_packets_total counter\n"
"rtpproxy_relayed_packets_total{worker=\"0\"} 1000\n"
"rtpproxy_relayed_packets_total{worker=\"1\"} 0\n"
"# HELP rtpproxy_worker_busy_ratio Share of a worker's loop iterations that found work, since start.\n"
"# TYPE rtpproxy_worker_busy_ratio gauge\n"
"rtpproxy_worker_busy_ratio{worker=\"0\"} 0.25\n"
"rtpproxy_worker_busy_ratio{worker=\"1\"} 0\n"
"# HELP rtpproxy_worker_cycles_per_packet TSC cycles of busy iterations per relayed packet, since start.\n"
"# TYPE rtpproxy_worker_cycles_per_packet gauge\n"
"rtpproxy_worker_cycles_per_packet{worker=\"0\"} 150.5\n"
"rtpproxy_worker_cycles_per_packet{worker=\"1\"} 0\n"
"# HELP rtpproxy_rtp_packets_lost_total RTP packets lost before the proxy (sequence gaps), every session since start.\n"
"# TYPE rtpproxy_rtp_packets_lost_total counter\n"
"rtpproxy_rtp_packets_lost_total 5\n"
"# HELP rtpproxy_rtp_jitter_seconds RTP interarrival jitter of the UDP sessions not closed.\n"
"# TYPE rtpproxy_rtp_jitter_seconds histogram\n"
"rtpproxy_rtp_jitter_seconds_bucket{le=\"0.001\"} 1\n"
"rtpproxy_rtp_jitter_seconds_bucket{le=\"0.002\"} 1\n"
"rtpproxy_rtp_jitter_seconds_bucket{le=\"0.005\"} 3\n"
"rtpproxy_rtp_jitter_seconds_bucket{le=\"0.01\"} 3\n"
"rtpproxy_rtp_jitter_seconds_bucket{le=\"0.02\"} 3\n"
"rtpproxy_rtp_jitter_seconds_bucket{le=\"0.05\"} 3\n"
"rtpproxy_rtp_jitter_seconds_bucket{le=\"0.1\"} 3\n"
"rtpproxy_rtp_jitter_seconds_bucket{le=\"0.2\"} 3\n"
"rtpproxy_rtp_jitter_seconds_bucket{le=\"0.5\"} 3\n"
"rtpproxy_rtp_jitter_seconds_bucket{le=\"+Inf\"} 4\n"
"rtpproxy_rtp_jitter_seconds_sum 2.0075\n"
"rtpproxy_rtp_jitter_seconds_count 4\n"
"# HELP rtpproxy_grpc_requests_total gRPC calls answered, by method and status code.\n"
"# TYPE rtpproxy_grpc_requests_total counter\n"
"rtpproxy_grpc_requests_total{method=\"CreateSession\",code=\"OK\"} 7\n"
"rtpproxy_grpc_requests_total{method=\"CreateSession\",code=\"INVALID_ARGUMENT\"} 2\n"
"rtpproxy_grpc_requests_total{method=\"Health\",code=\"UNAUTHENTICATED\"} 1\n"
"# HELP rtpproxy_grpc_request_duration_seconds Time the control lcore spent on a unary gRPC call, by method.\n"
"# TYPE rtpproxy_grpc_request_duration_seconds histogram\n"
"rtpproxy_grpc_request_duration_seconds_bucket{method=\"CreateSession\",le=\"0.0001\"} 0\n"
"rtpproxy_grpc_request_duration_seconds_bucket{method=\"CreateSession\",le=\"0.00025\"} 6\n"
"rtpproxy_grpc_request_duration_seconds_bucket{method=\"CreateSession\",le=\"0.0005\"} 6\n"
"rtpproxy_grpc_request_duration_seconds_bucket{method=\"CreateSession\",le=\"0.001\"} 6\n"
"rtpproxy_grpc_request_duration_seconds_bucket{method=\"CreateSession\",le=\"0.0025\"} 6\n"
"rtpproxy_grpc_request_duration_seconds_bucket{method=\"CreateSession\",le=\"0.005\"} 6\n"
"rtpproxy_grpc_request_duration_seconds_bucket{method=\"CreateSession\",le=\"0.01\"} 8\n"
"rtpproxy_grpc_request_duration_seconds_bucket{method=\"CreateSession\",le=\"0.025\"} 8\n"
"rtpproxy_grpc_request_duration_seconds_bucket{method=\"CreateSession\",le=\"0.05\"} 8\n"
"rtpproxy_grpc_request_duration_seconds_bucket{method=\"CreateSession\",le=\"0.1\"} 8\n"
"rtpproxy_grpc_request_duration_seconds_bucket{method=\"CreateSession\",le=\"+Inf\"} 9\n"
"rtpproxy_grpc_request_duration_seconds_sum{method=\"CreateSession\"} 1.0172\n"
"rtpproxy_grpc_request_duration_seconds_count{method=\"CreateSession\"} 9\n"
"# HELP rtpproxy_event_streams Open StreamSessionEvents calls.\n"
"# TYPE rtpproxy_event_streams gauge\n"
"rtpproxy_event_streams 2\n"
"# HELP rtpproxy_tcp_connections Open TCP client connections of TCP sessions.\n"
"# TYPE rtpproxy_tcp_connections gauge\n"
"rtpproxy_tcp_connections 3\n"
"# HELP rtpproxy_build_info The running version (value 1).\n"
"# TYPE rtpproxy_build_info gauge\n"
"rtpproxy_build_info{version=\"1.2.3\"} 1\n";

static void known_snapshot(struct metrics_snap *m)
{
	memset(m, 0, sizeof(*m));
	m->sessions[1][0] = 2;
	m->sessions[2][0] = 3;
	m->sessions[2][1] = 1;
	m->sessions[4][0] = 1;
	m->created_total = 9;
	m->closed_total[0] = 2;
	m->closed_total[1] = 1;
	m->rtp_lost_total = 5;
	/* jitter 0.5 ms, 3 ms, 4 ms and 2 s */
	m->jitter.bucket[0] = 1;
	m->jitter.bucket[2] = 2;
	m->jitter.count = 4;
	m->jitter.sum = 0.0005 + 0.003 + 0.004 + 2;
	m->dp.n_ports = 2;
	for (unsigned i = 0; i < 2; i++) {
		struct dp_port_stats *p = &m->dp.port[i];
		uint64_t b = 100 * (i + 1);
		*p = (struct dp_port_stats){ .rx_packets = b, .tx_packets = b + 1, .rx_bytes = b + 2,
			.tx_bytes = b + 3, .rx_missed = b + 4, .tx_failed = b + 5, .exception = b + 6 };
		snprintf(m->port_names[i], sizeof(m->port_names[i]), "port%u", i);
	}
	for (int d = 0; d < DROP_MAX; d++)
		m->dp.drops[d] = 10 * (uint64_t)d;
	m->dp.n_workers = 2;
	m->dp.worker[0] = (struct dp_worker_stats){ .index = 0, .relayed = 1000, .iterations = 400,
		.busy_iterations = 100, .busy_cycles = 150500 };
	m->dp.worker[1] = (struct dp_worker_stats){ .index = 1 };
	m->grpc.requests[0][0] = 7;
	m->grpc.requests[0][3] = 2;
	m->grpc.requests[6][16] = 1;
	m->grpc.duration[0].bucket[1] = 6;      /* 0.0002 s */
	m->grpc.duration[0].bucket[6] = 2;      /* 0.008 s */
	m->grpc.duration[0].count = 9;          /* and one of 1 s */
	m->grpc.duration[0].sum = 6 * 0.0002 + 2 * 0.008 + 1;
	m->event_streams = 2;
	m->tcp_connections = 3;
	m->version = "1.2.3";
}

/* Compare line by line, so that a failure shows the first line that differs. */
static void check_text(const char *got, const char *want)
{
	unsigned line = 1;
	while (*got != '\0' || *want != '\0') {
		const char *ge = strchr(got, '\n'), *we = strchr(want, '\n');
		size_t gl = ge ? (size_t)(ge - got) : strlen(got);
		size_t wl = we ? (size_t)(we - want) : strlen(want);
		if (gl != wl || memcmp(got, want, gl) != 0) {
			fprintf(stderr, "line %u:\n got  %.*s\n want %.*s\n", line, (int)gl, got,
					(int)wl, want);
			CHECK(false);
			return;
		}
		got += gl + (ge != NULL);
		want += wl + (we != NULL);
		line++;
	}
	CHECK(true);
}

static void test_render(void)
{
	struct metrics_snap m;
	char *got = NULL, *want = NULL;
	size_t glen = 0, wlen = 0;
	FILE *f = open_memstream(&got, &glen);
	FILE *w = open_memstream(&want, &wlen);

	known_snapshot(&m);
	metrics_render(f, &m);
	fclose(f);
	fputs(head, w);
	for (int d = 0; d < DROP_MAX; d++)
		fprintf(w, "rtpproxy_drops_total{reason=\"%s\"} %d\n", dp_drop_names[d], 10 * d);
	fputs(tail, w);
	fclose(w);
	check_text(got, want);
	CHECK(strstr(got, "rtpproxy_drops_total{reason=\"malformed\"} 0\n") != NULL);
	free(got);
	free(want);
}

/* With a state backend: its five families, exactly, before build_info. */
static void test_state(void)
{
	struct metrics_snap m;
	char *got = NULL;
	size_t glen = 0;
	FILE *f = open_memstream(&got, &glen);

	known_snapshot(&m);
	m.state = (struct metrics_state){ .present = true, .up = false, .queue_depth = 42,
		.last_checkpoint_age_s = 1.5, .lease_epoch = 3, .standby = true };
	metrics_render(f, &m);
	fclose(f);
	static const char want[] =
		"# HELP rtpproxy_state_backend_up Whether the session store (Redis) is connected "
		"and written to.\n"
		"# TYPE rtpproxy_state_backend_up gauge\n"
		"rtpproxy_state_backend_up 0\n"
		"# HELP rtpproxy_state_queue_depth Session changes waiting to be written to the "
		"store.\n"
		"# TYPE rtpproxy_state_queue_depth gauge\n"
		"rtpproxy_state_queue_depth 42\n"
		"# HELP rtpproxy_state_last_checkpoint_age_seconds Since the last complete counter "
		"checkpoint; -1 = none yet.\n"
		"# TYPE rtpproxy_state_last_checkpoint_age_seconds gauge\n"
		"rtpproxy_state_last_checkpoint_age_seconds 1.500\n"
		"# HELP rtpproxy_state_lease_epoch The lease epoch held (active) or last seen "
		"(standby); 0 = none.\n"
		"# TYPE rtpproxy_state_lease_epoch gauge\n"
		"rtpproxy_state_lease_epoch 3\n"
		"# HELP rtpproxy_state_role What this appliance is now (value 1 for its role).\n"
		"# TYPE rtpproxy_state_role gauge\n"
		"rtpproxy_state_role{role=\"active\"} 0\n"
		"rtpproxy_state_role{role=\"standby\"} 1\n"
		"# HELP rtpproxy_build_info";
	CHECK(strstr(got, want) != NULL);
	free(got);
}

static void test_bucket(void)
{
	CHECK_EQ_U(metrics_bucket(metrics_jitter_bounds, METRICS_JITTER_BUCKETS, 0), 0);
	CHECK_EQ_U(metrics_bucket(metrics_jitter_bounds, METRICS_JITTER_BUCKETS, 0.001), 0);
	CHECK_EQ_U(metrics_bucket(metrics_jitter_bounds, METRICS_JITTER_BUCKETS, 0.0011), 1);
	CHECK_EQ_U(metrics_bucket(metrics_jitter_bounds, METRICS_JITTER_BUCKETS, 0.5), 8);
	CHECK_EQ_U(metrics_bucket(metrics_jitter_bounds, METRICS_JITTER_BUCKETS, 0.51), 9);
}

int main(void)
{
	test_render();
	test_state();
	test_bucket();
	return check_summary("test_metrics");
}
