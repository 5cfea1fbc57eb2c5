/* rtpgen's command line (what follows the EAL arguments and "--"). */
#ifndef RTPGEN_OPTS_H
#define RTPGEN_OPTS_H

#include <stdio.h>

#include "gen.h"

#define OPTS_DEFAULT_DURATION 5.0

/* Parse argv into *o (defaults first) and check it (not with --serve: then argv holds only
 * the phases' defaults). Returns 0, or 2 after printing a usage error; 1 after --help
 * (printed). */
int opts_parse(int argc, char **argv, struct gen_opts *o);

/* The pieces of opts_parse, for --serve's phases (the command line's options, then a line's
 * on top): the defaults; options parsed over *o (0, 1 for --help, not printed, or 2 after a
 * usage error); the checks across options, which also complete *o (rx port, ARP addresses):
 * once per phase. */
void opts_defaults(struct gen_opts *o);
int opts_parse_args(int argc, char **argv, struct gen_opts *o);
int opts_validate(struct gen_opts *o);

/* The last usage error's text (without "rtpgen: "), "" if none. */
const char *opts_error(void);
void opts_usage(FILE *f);

/* The longest the sending phase may take: --duration, or a bound derived from --count. */
double opts_time_limit(const struct gen_opts *o);

#endif
