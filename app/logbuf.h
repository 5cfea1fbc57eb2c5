/*
 * rte_log's stream, held in memory until the control loop writes it out (see logbuf.c).
 */
#ifndef RTPPROXY_LOGBUF_H
#define RTPPROXY_LOGBUF_H

#include <stdio.h>

/* A stream whose flushes land in memory; logbuf_flush writes them to fd. NULL on failure. */
FILE *logbuf_open(int fd);

/* Write out what the stream has flushed so far. Any thread; cheap when there is nothing. */
void logbuf_flush(void);

#endif
