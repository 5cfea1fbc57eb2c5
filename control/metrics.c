/*
 * The Prometheus text exposition format 0.0.4 of API.md 1.4's names: HELP and TYPE once per
 * family, counters end in _total, base units (seconds), no session ids in labels.
 */
#include "metrics.h"

#include <inttypes.h>
#include <stddef.h>

#include "audit.h"

const char *const metrics_close_reasons[METRICS_CLOSE_REASONS] = {
	"destroyed", "idle_timeout", "error", "shutdown", "other",
};
const char *const metrics_grpc_methods[METRICS_GRPC_METHODS] = {
	"CreateSession", "DestroySession", "GetSessionStatus", "ListSessions",
	"StreamSessionEvents", "GetProxyStats", "Health", "other",
};
const double metrics_jitter_bounds[METRICS_JITTER_BUCKETS] = {
	0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5,
};
const double metrics_duration_bounds[METRICS_DURATION_BUCKETS] = {
	0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
};

static const char *const state_names[METRICS_STATES] = {
	"created", "connecting", "active", "error", "closed",
};
static const char *const transport_names[METRICS_TRANSPORTS] = { "udp", "tcp" };

unsigned metrics_bucket(const double *bounds, unsigned n, double v)
{
	unsigned i = 0;
	while (i < n && v > bounds[i])
		i++;
	return i;
}

static void family(FILE *f, const char *name, const char *type, const char *help)
{
	fprintf(f, "# HELP rtpproxy_%s %s\n# TYPE rtpproxy_%s %s\n", name, help, name, type);
}

/* One histogram's series: cumulative buckets, +Inf, sum and count. */
static void histogram(FILE *f, const char *name, const char *labels, const double *bounds,
		unsigned n, const struct metrics_hist *h)
{
	uint64_t cum = 0;
	for (unsigned i = 0; i < n; i++) {
		cum += h->bucket[i];
		fprintf(f, "rtpproxy_%s_bucket{%s%sle=\"%g\"} %" PRIu64 "\n", name, labels,
				labels[0] ? "," : "", bounds[i], cum);
	}
	fprintf(f, "rtpproxy_%s_bucket{%s%sle=\"+Inf\"} %" PRIu64 "\n", name, labels,
			labels[0] ? "," : "", h->count);
	fprintf(f, "rtpproxy_%s_sum%s%s%s %.9g\n", name, labels[0] ? "{" : "", labels,
			labels[0] ? "}" : "", h->sum);
	fprintf(f, "rtpproxy_%s_count%s%s%s %" PRIu64 "\n", name, labels[0] ? "{" : "", labels,
			labels[0] ? "}" : "", h->count);
}

/* A per-port counter family from one field of struct dp_port_stats. */
static void port_counter(FILE *f, const struct metrics_snap *m, const char *name,
		const char *help, size_t off)
{
	family(f, name, "counter", help);
	for (unsigned i = 0; i < m->dp.n_ports; i++)
		fprintf(f, "rtpproxy_%s{port=\"%s\"} %" PRIu64 "\n", name, m->port_names[i],
				*(const uint64_t *)((const char *)&m->dp.port[i] + off));
}

static void sessions(FILE *f, const struct metrics_snap *m)
{
	family(f, "sessions", "gauge", "Sessions by state and transport (retained CLOSED and "
			"ERROR sessions count).");
	for (unsigned s = 0; s < METRICS_STATES; s++)
		for (unsigned t = 0; t < METRICS_TRANSPORTS; t++)
			fprintf(f, "rtpproxy_sessions{state=\"%s\",transport=\"%s\"} %" PRIu64 "\n",
					state_names[s], transport_names[t], m->sessions[s][t]);
	family(f, "sessions_created_total", "counter", "Sessions created since start.");
	fprintf(f, "rtpproxy_sessions_created_total %" PRIu64 "\n", m->created_total);
	family(f, "sessions_closed_total", "counter", "Sessions closed since start, by reason.");
	for (unsigned r = 0; r < METRICS_CLOSE_REASONS; r++)
		fprintf(f, "rtpproxy_sessions_closed_total{reason=\"%s\"} %" PRIu64 "\n",
				metrics_close_reasons[r], m->closed_total[r]);
}

static void ports(FILE *f, const struct metrics_snap *m)
{
#define PORT_FIELD(field) offsetof(struct dp_port_stats, field)
	port_counter(f, m, "port_rx_packets_total", "Packets the port received.",
			PORT_FIELD(rx_packets));
	port_counter(f, m, "port_tx_packets_total", "Packets the port sent.",
			PORT_FIELD(tx_packets));
	port_counter(f, m, "port_rx_bytes_total", "Bytes the port received.",
			PORT_FIELD(rx_bytes));
	port_counter(f, m, "port_tx_bytes_total", "Bytes the port sent.", PORT_FIELD(tx_bytes));
	port_counter(f, m, "port_rx_missed_total", "Packets the NIC dropped before the data "
			"plane saw them.", PORT_FIELD(rx_missed));
	port_counter(f, m, "port_tx_failed_total", "Packets the NIC refused to send.",
			PORT_FIELD(tx_failed));
	port_counter(f, m, "exception_packets_total", "Packets handed to the port's kernel "
			"interface.", PORT_FIELD(exception));
#undef PORT_FIELD
	family(f, "drops_total", "counter", "Packets the appliance dropped, by reason.");
	for (int d = 0; d < DROP_MAX; d++)
		fprintf(f, "rtpproxy_drops_total{reason=\"%s\"} %" PRIu64 "\n", dp_drop_names[d],
				m->dp.drops[d]);
}

static void workers(FILE *f, const struct metrics_snap *m)
{
	family(f, "relayed_packets_total", "counter", "Packets a worker relayed.");
	for (unsigned w = 0; w < m->dp.n_workers; w++)
		fprintf(f, "rtpproxy_relayed_packets_total{worker=\"%u\"} %" PRIu64 "\n",
				m->dp.worker[w].index, m->dp.worker[w].relayed);
	family(f, "worker_busy_ratio", "gauge", "Share of a worker's loop iterations that found "
			"work, since start.");
	for (unsigned w = 0; w < m->dp.n_workers; w++) {
		const struct dp_worker_stats *x = &m->dp.worker[w];
		fprintf(f, "rtpproxy_worker_busy_ratio{worker=\"%u\"} %.6g\n", x->index,
				x->iterations ? (double)x->busy_iterations / x->iterations : 0.0);
	}
	family(f, "worker_cycles_per_packet", "gauge", "TSC cycles of busy iterations per "
			"relayed packet, since start.");
	for (unsigned w = 0; w < m->dp.n_workers; w++) {
		const struct dp_worker_stats *x = &m->dp.worker[w];
		fprintf(f, "rtpproxy_worker_cycles_per_packet{worker=\"%u\"} %.6g\n", x->index,
				x->relayed ? (double)x->busy_cycles / x->relayed : 0.0);
	}
}

static void rtp(FILE *f, const struct metrics_snap *m)
{
	family(f, "rtp_packets_lost_total", "counter", "RTP packets lost before the proxy "
			"(sequence gaps), every session since start.");
	fprintf(f, "rtpproxy_rtp_packets_lost_total %" PRIu64 "\n", m->rtp_lost_total);
	family(f, "rtp_jitter_seconds", "histogram", "RTP interarrival jitter of the UDP sessions "
			"not closed.");
	histogram(f, "rtp_jitter_seconds", "", metrics_jitter_bounds, METRICS_JITTER_BUCKETS,
			&m->jitter);
}

static void grpc(FILE *f, const struct metrics_snap *m)
{
	char labels[64];

	family(f, "grpc_requests_total", "counter", "gRPC calls answered, by method and status "
			"code.");
	for (unsigned i = 0; i < METRICS_GRPC_METHODS; i++)
		for (unsigned c = 0; c < METRICS_GRPC_CODES; c++) {
			if (m->grpc.requests[i][c] == 0)
				continue;
			fprintf(f, "rtpproxy_grpc_requests_total{method=\"%s\",code=\"%s\"} "
					"%" PRIu64 "\n", metrics_grpc_methods[i],
					audit_code_name((int)c), m->grpc.requests[i][c]);
		}
	family(f, "grpc_request_duration_seconds", "histogram", "Time the control lcore spent "
			"on a unary gRPC call, by method.");
	for (unsigned i = 0; i < METRICS_GRPC_METHODS; i++) {
		if (m->grpc.duration[i].count == 0)
			continue;
		snprintf(labels, sizeof(labels), "method=\"%s\"", metrics_grpc_methods[i]);
		histogram(f, "grpc_request_duration_seconds", labels, metrics_duration_bounds,
				METRICS_DURATION_BUCKETS, &m->grpc.duration[i]);
	}
}

static void state_backend(FILE *f, const struct metrics_state *s)
{
	if (!s->present)
		return;
	family(f, "state_backend_up", "gauge", "Whether the session store (Redis) is connected "
			"and written to.");
	fprintf(f, "rtpproxy_state_backend_up %d\n", s->up ? 1 : 0);
	family(f, "state_queue_depth", "gauge", "Session changes waiting to be written to the "
			"store.");
	fprintf(f, "rtpproxy_state_queue_depth %" PRIu64 "\n", s->queue_depth);
	family(f, "state_last_checkpoint_age_seconds", "gauge", "Since the last complete counter "
			"checkpoint; -1 = none yet.");
	fprintf(f, "rtpproxy_state_last_checkpoint_age_seconds %.3f\n", s->last_checkpoint_age_s);
	family(f, "state_lease_epoch", "gauge", "The lease epoch held (active) or last seen "
			"(standby); 0 = none.");
	fprintf(f, "rtpproxy_state_lease_epoch %" PRIu64 "\n", s->lease_epoch);
	family(f, "state_role", "gauge", "What this appliance is now (value 1 for its role).");
	fprintf(f, "rtpproxy_state_role{role=\"active\"} %d\n", s->standby ? 0 : 1);
	fprintf(f, "rtpproxy_state_role{role=\"standby\"} %d\n", s->standby ? 1 : 0);
}

void metrics_render(FILE *f, const struct metrics_snap *m)
{
	sessions(f, m);
	ports(f, m);
	workers(f, m);
	rtp(f, m);
	grpc(f, m);
	family(f, "event_streams", "gauge", "Open StreamSessionEvents calls.");
	fprintf(f, "rtpproxy_event_streams %" PRIu64 "\n", m->event_streams);
	family(f, "tcp_connections", "gauge", "Open TCP client connections of TCP sessions.");
	fprintf(f, "rtpproxy_tcp_connections %" PRIu64 "\n", m->tcp_connections);
	state_backend(f, &m->state);
	family(f, "build_info", "gauge", "The running version (value 1).");
	fprintf(f, "rtpproxy_build_info{version=\"%s\"} 1\n", m->version ? m->version : "");
}
