/*
 * rte_log's stream. DPDK 22.11's rte_vlog fflush()es its stream after every message, so a
 * buffered stdio stream still cost a write(2) per line: at INFO a few lines per CreateSession,
 * more than the session itself. This stream's flushes only copy into memory; logbuf_flush (the
 * control loop every few ms, and exit) hands the lines to the kernel in one write. Any thread
 * may log (workers, the TCP relay), so a mutex guards the buffer. A full buffer is written out
 * at once by whoever fills it, and so is a warning or worse (with what came before it): those
 * must not be lost to a crash that follows them.
 */
#define _GNU_SOURCE
#include "logbuf.h"

#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

#include <rte_log.h>

#define LOGBUF_SIZE (64 * 1024)

static struct {
	pthread_mutex_t lock;
	int fd;
	size_t len;
	char buf[LOGBUF_SIZE];
} lb = { .lock = PTHREAD_MUTEX_INITIALIZER, .fd = -1 };

static void write_all(const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(lb.fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return;     /* nowhere to write to: dropped, as on a closed stderr */
		p += w;
		n -= (size_t)w;
	}
}

static ssize_t logbuf_write(void *cookie, const char *p, size_t n)
{
	(void)cookie;
	pthread_mutex_lock(&lb.lock);
	if (lb.len + n > sizeof(lb.buf)) {
		write_all(lb.buf, lb.len);
		lb.len = 0;
	}
	if (n > sizeof(lb.buf)) {
		write_all(p, n);
	} else {
		memcpy(lb.buf + lb.len, p, n);
		lb.len += n;
	}
	if (rte_log_cur_msg_loglevel() <= (int)RTE_LOG_WARNING) {
		write_all(lb.buf, lb.len);
		lb.len = 0;
	}
	pthread_mutex_unlock(&lb.lock);
	return (ssize_t)n;
}

FILE *logbuf_open(int fd)
{
	cookie_io_functions_t io = { .write = logbuf_write };

	lb.fd = fd;
	return fopencookie(NULL, "w", io);
}

void logbuf_flush(void)
{
	pthread_mutex_lock(&lb.lock);
	write_all(lb.buf, lb.len);
	lb.len = 0;
	pthread_mutex_unlock(&lb.lock);
}
