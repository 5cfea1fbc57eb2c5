#include "report.h"

#include <inttypes.h>

static double us(uint64_t cycles, uint64_t hz)
{
	return (double)cycles * 1e6 / (double)hz;
}

void report_latency(struct report *r, const struct hist *h, uint64_t tsc_hz)
{
	if (h->count == 0)
		return;
	r->lat_min_us = us(h->min, tsc_hz);
	r->lat_mean_us = us(h->sum / h->count, tsc_hz);
	r->lat_p50_us = us(hist_quantile(h, 0.5), tsc_hz);
	r->lat_p99_us = us(hist_quantile(h, 0.99), tsc_hz);
	r->lat_p999_us = us(hist_quantile(h, 0.999), tsc_hz);
	r->lat_max_us = us(h->max, tsc_hz);
}

static double rate(uint64_t n, double s, double unit)
{
	return s > 0 ? (double)n / s / unit : 0;
}

void report_print_human(FILE *f, const struct report *r)
{
	const struct gen_counters *c = &r->c;

	fprintf(f, "rtpgen: %u streams, %u-byte frames (RTP payload %u), %.6f s sending\n",
			r->streams, r->frame_len, r->payload, r->duration_s);
	fprintf(f, "  sent        %12" PRIu64 " pkts  %10.6f Mpps  %8.3f Gbps"
			"  (NIC refused %" PRIu64 ")\n", c->tx_pkts,
			rate(c->tx_pkts, r->duration_s, 1e6),
			rate(c->tx_bytes * 8, r->duration_s, 1e9), c->tx_refused);
	fprintf(f, "  received    %12" PRIu64 " pkts  %10.6f Mpps  %8.3f Gbps\n", c->rx_pkts,
			rate(c->rx_pkts, r->duration_s, 1e6),
			rate(c->rx_bytes * 8, r->duration_s, 1e9));
	fprintf(f, "  lost        %12" PRIu64 "\n  reordered   %12" PRIu64
			"  (more than 64 late: %" PRIu64 ")\n  duplicated  %12" PRIu64 "\n",
			r->lost, c->reordered, c->late, c->duplicated);
	fprintf(f, "  latency us  p50 %.3f  p99 %.3f  p99.9 %.3f  max %.3f"
			"  (min %.3f, mean %.3f)\n", r->lat_p50_us, r->lat_p99_us, r->lat_p999_us,
			r->lat_max_us, r->lat_min_us, r->lat_mean_us);
	fprintf(f, "  loop        longest pass %.1f us\n", r->loop_max_gap_us);
	if (r->warmup_s > 0)
		fprintf(f, "  warm-up     %.3f s: sent %" PRIu64 ", received %" PRIu64
				" (not counted above)\n", r->warmup_s, r->warmup_tx_pkts,
				r->warmup_rx_pkts);
	if (r->sessions_created > 0) {
		fprintf(f, "  sessions    created %" PRIu64 " (%.0f/s), destroyed %" PRIu64
				" (%.0f/s)\n", r->sessions_created, r->creates_per_s,
				r->sessions_destroyed, r->destroys_per_s);
		if (r->have_session_stats)
			fprintf(f, "  DUT stats   received %" PRIu64 ", sent %" PRIu64
					", dropped %" PRIu64 ", lost %" PRIu64
					" (all phases, summed over sessions)\n", r->sess_rx_pkts,
					r->sess_tx_pkts, r->sess_dropped, r->sess_lost);
	}
	fprintf(f, "  other       not ours %" PRIu64 ", bad %" PRIu64 ", stale %" PRIu64
			", wrong VLAN %" PRIu64 ", no mbuf %" PRIu64 "\n", r->rx_other, r->rx_bad,
			r->rx_stale, r->rx_wrong_vlan, r->tx_nombuf);
	fprintf(f, "  ARP/NDP     received %" PRIu64 ", replies %" PRIu64 ", announced %" PRIu64
			"\n", r->rx_arp, r->arp_replies, r->arp_announced);
	for (unsigned i = 0; i < r->n_ports; i++) {
		const struct report_port *p = &r->ports[i];
		fprintf(f, "  port %u %-12s rx %" PRIu64 " tx %" PRIu64 " missed %" PRIu64
				" rx errors %" PRIu64 " tx errors %" PRIu64 "\n", p->id, p->name,
				p->ipackets, p->opackets, p->imissed, p->ierrors, p->oerrors);
	}
	fprintf(f, "  memory      %u bytes per stream\n", r->stream_bytes);
}

void report_print_json(FILE *f, const struct report *r)
{
	const struct gen_counters *c = &r->c;

	fprintf(f, "{\"streams\": %u, \"duration_s\": %.6f, \"frame_len\": %u, \"payload\": %u",
			r->streams, r->duration_s, r->frame_len, r->payload);
	fprintf(f, ", \"tx_pkts\": %" PRIu64 ", \"tx_dropped\": %" PRIu64 ", \"rx_pkts\": %" PRIu64
			", \"lost\": %" PRIu64 ", \"reordered\": %" PRIu64 ", \"duplicated\": %"
			PRIu64 ", \"late\": %" PRIu64, c->tx_pkts, c->tx_refused, c->rx_pkts,
			r->lost, c->reordered, c->duplicated, c->late);
	fprintf(f, ", \"tx_mpps\": %.6f, \"rx_mpps\": %.6f, \"tx_gbps\": %.6f, \"rx_gbps\": %.6f",
			rate(c->tx_pkts, r->duration_s, 1e6), rate(c->rx_pkts, r->duration_s, 1e6),
			rate(c->tx_bytes * 8, r->duration_s, 1e9),
			rate(c->rx_bytes * 8, r->duration_s, 1e9));
	fprintf(f, ", \"lat_p50_us\": %.3f, \"lat_p99_us\": %.3f, \"lat_p999_us\": %.3f"
			", \"lat_max_us\": %.3f, \"lat_min_us\": %.3f, \"lat_mean_us\": %.3f",
			r->lat_p50_us, r->lat_p99_us, r->lat_p999_us, r->lat_max_us,
			r->lat_min_us, r->lat_mean_us);
	fprintf(f, ", \"rx_other\": %" PRIu64 ", \"rx_bad\": %" PRIu64 ", \"rx_stale\": %" PRIu64
			", \"tx_nombuf\": %" PRIu64 ", \"rx_arp\": %" PRIu64 ", \"arp_replies\": %"
			PRIu64 ", \"arp_announced\": %" PRIu64, r->rx_other, r->rx_bad, r->rx_stale,
			r->tx_nombuf, r->rx_arp, r->arp_replies, r->arp_announced);
	fprintf(f, ", \"rx_wrong_vlan\": %" PRIu64, r->rx_wrong_vlan);
	fprintf(f, ", \"loop_max_gap_us\": %.1f", r->loop_max_gap_us);
	fprintf(f, ", \"warmup_s\": %.3f, \"warmup_tx_pkts\": %" PRIu64 ", \"warmup_rx_pkts\": %"
			PRIu64, r->warmup_s, r->warmup_tx_pkts, r->warmup_rx_pkts);
	fprintf(f, ", \"sessions_created\": %" PRIu64 ", \"creates_per_s\": %.1f"
			", \"sessions_destroyed\": %" PRIu64 ", \"destroys_per_s\": %.1f",
			r->sessions_created, r->creates_per_s, r->sessions_destroyed,
			r->destroys_per_s);
	if (r->have_session_stats)
		fprintf(f, ", \"sessions_rx_pkts\": %" PRIu64 ", \"sessions_tx_pkts\": %" PRIu64
				", \"sessions_dropped\": %" PRIu64 ", \"sessions_lost\": %" PRIu64,
				r->sess_rx_pkts, r->sess_tx_pkts, r->sess_dropped, r->sess_lost);
	fprintf(f, ", \"bytes_per_stream\": %u, \"ports\": [", r->stream_bytes);
	for (unsigned i = 0; i < r->n_ports; i++) {
		const struct report_port *p = &r->ports[i];
		fprintf(f, "%s{\"port\": %u, \"name\": \"%s\", \"ipackets\": %" PRIu64
				", \"opackets\": %" PRIu64 ", \"imissed\": %" PRIu64
				", \"ierrors\": %" PRIu64 ", \"oerrors\": %" PRIu64
				", \"rx_nombuf\": %" PRIu64 "}",
				i ? ", " : "", p->id, p->name, p->ipackets, p->opackets, p->imissed,
				p->ierrors, p->oerrors, p->rx_nombuf);
	}
	fputs("]}\n", f);
}

void report_print_error(FILE *f, const char *msg)
{
	fputs("{\"error\": \"", f);
	for (const unsigned char *p = (const unsigned char *)msg; *p != '\0'; p++) {
		if (*p == '"' || *p == '\\')
			fprintf(f, "\\%c", *p);
		else if (*p < 0x20)
			fprintf(f, "\\u%04x", *p);
		else
			fputc(*p, f);
	}
	fputs("\"}\n", f);
}
