/* rtpgen's command line (what follows the EAL arguments and "--"). */
#ifndef RTPGEN_OPTS_H
#define RTPGEN_OPTS_H

#include "gen.h"

#define OPTS_DEFAULT_DURATION 5.0

/* Parse argv into *o (defaults first). Returns 0, or 2 after printing a usage error; 1 after
 * --help (printed). */
int opts_parse(int argc, char **argv, struct gen_opts *o);

/* The longest the sending phase may take: --duration, or a bound derived from --count. */
double opts_time_limit(const struct gen_opts *o);

#endif
