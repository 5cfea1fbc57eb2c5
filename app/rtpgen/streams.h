/*
 * The streams: where each one goes (from the options, or from a prepared session list), its
 * header template and receive tracker, and the frame they all share.
 */
#ifndef RTPGEN_STREAMS_H
#define RTPGEN_STREAMS_H

#include <stddef.h>
#include <stdint.h>

#include "gen.h"

struct gen_endpoint {
	struct gen_addr addr;
	uint16_t port;
};

/* Read up to `max` listen endpoints ("ADDR:PORT" or "[ADDR6]:PORT" first on each line; '#'
 * comments and blank lines skipped) into a malloc'ed array. 0, or -1 with err set. */
int streams_read_file(const char *path, uint32_t max, struct gen_endpoint **out, uint32_t *n,
		char *err, size_t errlen);

/*
 * Allocate lc->streams (o->streams entries, rte_malloc on `socket`) and fill them from the
 * options or from eps (o->streams entries), with SSRCs salted by lc->run_tag; build the
 * common frame in lc->tmpl (frame.h; lc->tx_vlan set before). Every destination has the
 * family of --src and, for IPv6, the upper 96 bits of the first (lc->dst_prefix). 0, or -1
 * with err set.
 */
int streams_setup(struct gen_lcore *lc, const struct gen_opts *o, const struct gen_endpoint *eps,
		int socket, char *err, size_t errlen);

/* Every stream's receive tracker expects what the sender will send next (after a warm-up). */
void streams_rx_rebase(struct gen_lcore *lc);

/* Sequence numbers lost over the measured phase: sent since the rebase but never received. */
uint64_t streams_lost(const struct gen_lcore *lc, uint64_t generated_at_rebase);

#endif
