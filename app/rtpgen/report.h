/* What a run measured, printed as a human summary or as one JSON object (stable keys). */
#ifndef RTPGEN_REPORT_H
#define RTPGEN_REPORT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "gen.h"

struct report_port {
	uint16_t id;
	char name[64];
	uint64_t ipackets, opackets, imissed, ierrors, oerrors, rx_nombuf;
};

struct report {
	uint32_t streams;
	uint32_t frame_len, payload;
	uint32_t stream_bytes;                  /* memory per stream */
	double duration_s;                      /* the measured sending phase */
	struct gen_counters c;                  /* measured phase */
	uint64_t lost;
	double lat_min_us, lat_mean_us, lat_p50_us, lat_p99_us, lat_p999_us, lat_max_us;
	uint64_t rx_other, rx_arp, rx_bad, rx_stale, arp_replies, arp_announced, tx_nombuf;
	uint64_t rx_wrong_vlan;                 /* ours, with a tag other than --rx-vlan */
	double loop_max_gap_us;                 /* the loop's longest stall (descheduled?) */
	double warmup_s;
	uint64_t warmup_tx_pkts, warmup_rx_pkts;
	/* sessions */
	uint64_t sessions_created, sessions_destroyed;
	double creates_per_s, destroys_per_s;
	bool have_session_stats;
	uint64_t sess_rx_pkts, sess_tx_pkts, sess_dropped, sess_lost;
	unsigned n_ports;
	struct report_port ports[GEN_MAX_PORTS];
};

/* Latency fields from a histogram of TSC cycles. */
void report_latency(struct report *r, const struct hist *h, uint64_t tsc_hz);

void report_print_human(FILE *f, const struct report *r);
void report_print_json(FILE *f, const struct report *r);
/* {"error": msg} on one line (--serve's answer to a phase that failed). */
void report_print_error(FILE *f, const char *msg);

#endif
