/*
 * The TCP relay on loopback: destinations are threads or sockets of this process (an echo
 * server, a greeter that half-closes first, a quiet one that half-closes and reads only when
 * told, a sink that never accepts, a blackhole whose accept queue is full), clients are sockets
 * of the main thread. The relay's log hook counts messages and can stall the relay thread (to
 * make add/remove time out). Every wait is bounded in time and count.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <linux/sockios.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "tcp_relay.h"

#define MIB (1024 * 1024)
#define MAX_ID 2048

static uint32_t lo;     /* 127.0.0.1, network order */
#define lo_addr dp_addr_v4(lo)

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(int ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000 };

	nanosleep(&ts, NULL);
}

/* Open fds of the process (the directory's own fd not counted); max_fd gets the highest. */
static int fd_count(int *max_fd)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0, hi = -1;

	if (d == NULL)
		return -1;
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		int fd = atoi(e->d_name);

		if (fd == dirfd(d))
			continue;
		n++;
		hi = fd > hi ? fd : hi;
	}
	closedir(d);
	if (max_fd != NULL)
		*max_fd = hi;
	return n;
}

/* Wait up to ms for the fd count to come back to want. */
static int fd_count_settle(int want, int ms)
{
	int64_t end = now_ms() + ms;
	int n;

	while ((n = fd_count(NULL)) != want && now_ms() < end)
		sleep_ms(20);
	return n;
}

/* CPU time (ms) of the relay threads (named "tcp-relay"): a spinning loop shows here. */
static long relay_cpu_ms(void)
{
	DIR *d = opendir("/proc/self/task");
	struct dirent *e;
	long hz = sysconf(_SC_CLK_TCK), ticks = 0;

	if (d == NULL)
		return -1;
	while ((e = readdir(d)) != NULL) {
		char path[300], line[512], *p;
		unsigned long ut = 0, st = 0;
		FILE *f;

		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/self/task/%s/stat", e->d_name);
		f = fopen(path, "r");
		if (f == NULL)
			continue;
		if (fgets(line, sizeof(line), f) != NULL && strstr(line, "(tcp-relay)") != NULL &&
				(p = strrchr(line, ')')) != NULL &&
				sscanf(p + 1, " %*c %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s "
					"%lu %lu", &ut, &st) == 2)
			ticks += (long)(ut + st);
		fclose(f);
	}
	closedir(d);
	return ticks * 1000 / hz;
}

static void fill_random(uint8_t *p, size_t n, uint64_t seed)
{
	uint64_t x = seed * 0x9E3779B97F4A7C15ULL + 1;

	for (size_t i = 0; i < n; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		p[i] = (uint8_t)(x >> 24);
	}
}

static struct sockaddr_in sin_lo(uint16_t port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port) };

	sa.sin_addr.s_addr = lo;
	return sa;
}

static uint16_t local_port(int fd)
{
	struct sockaddr_in sa;
	socklen_t len = sizeof(sa);

	if (getsockname(fd, (struct sockaddr *)&sa, &len) < 0)
		return 0;
	return ntohs(sa.sin_port);
}

static void set_timeouts(int fd, int ms)
{
	struct timeval tv = { .tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000 };

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

/* A non-blocking listener on 127.0.0.1:<ephemeral>; bound only (no listen) when backlog < 0. */
static int tcp_listener(int backlog, uint16_t *port)
{
	struct sockaddr_in sa = sin_lo(0);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
			(backlog >= 0 && listen(fd, backlog) < 0)) {
		perror("tcp_listener");
		exit(2);
	}
	*port = local_port(fd);
	return fd;
}

/* A blocking client of 127.0.0.1:port, every call bounded by 5 s. -1 on failure. */
static int client_connect(uint16_t port)
{
	struct sockaddr_in sa = sin_lo(port);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	set_timeouts(fd, 5000);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static int send_all(int fd, const void *buf, size_t n)
{
	const char *p = buf;

	while (n > 0) {
		ssize_t k = send(fd, p, n, MSG_NOSIGNAL);

		if (k <= 0)
			return -1;
		p += k;
		n -= (size_t)k;
	}
	return 0;
}

/* Read until EOF (or error, or max bytes); bytes read, -1 if an error came first. */
static ssize_t recv_to_eof(int fd, void *buf, size_t max, int *err)
{
	size_t got = 0;

	*err = 0;
	for (int i = 0; i < 100000; i++) {
		ssize_t k = recv(fd, (char *)buf + got, max - got, 0);

		if (k == 0)
			return (ssize_t)got;
		if (k < 0) {
			*err = errno;
			return got > 0 ? (ssize_t)got : -1;
		}
		got += (size_t)k;
		if (got == max) {
			char c;

			k = recv(fd, &c, 1, 0);
			if (k < 0)
				*err = errno;
			return k == 0 ? (ssize_t)got : -1;
		}
	}
	return -1;
}

/* The client's connection was closed by the relay: EOF or RST within the socket timeout. */
static bool closed_by_peer(int fd)
{
	char buf[4096];

	for (int i = 0; i < 1000; i++) {
		ssize_t k = recv(fd, buf, sizeof(buf), 0);

		if (k == 0)
			return true;
		if (k < 0)
			return errno == ECONNRESET || errno == EPIPE;
	}
	return false;
}

/* ---- the relay's log: counted, printed unless DEBUG ---- */

static unsigned log_starved, log_recovered;     /* bumped by the relay thread */
#define LOAD(v) __atomic_load_n(&(v), __ATOMIC_RELAXED)
static pthread_t main_thread;
static int stall_ms, stalling;  /* the next relay-thread log call sleeps stall_ms */

static void test_log(int level, const char *msg)
{
	if (!pthread_equal(pthread_self(), main_thread)) {
		int ms = __atomic_exchange_n(&stall_ms, 0, __ATOMIC_ACQ_REL);

		if (ms > 0) {
			__atomic_store_n(&stalling, 1, __ATOMIC_RELEASE);
			sleep_ms(ms);
			__atomic_store_n(&stalling, 0, __ATOMIC_RELEASE);
		}
	}
	if (strstr(msg, "cannot take a connection") != NULL)
		__atomic_fetch_add(&log_starved, 1, __ATOMIC_RELAXED);
	if (strstr(msg, "accepting connections again") != NULL)
		__atomic_fetch_add(&log_recovered, 1, __ATOMIC_RELAXED);
	if (level <= LOG_WARNING || getenv("TCP_RELAY_TEST_VERBOSE") != NULL)
		fprintf(stderr, "  [relay %d] %s\n", level, msg);
}

/* ---- events: tallied per (session id, kind), the last message kept ---- */

static unsigned ev_n[MAX_ID][4];
static char ev_msg[MAX_ID][4][160];
static unsigned ev_total;

static void ev_pump(struct tcp_relay *r)
{
	struct tcp_event ev[256];
	unsigned n;

	for (int round = 0; round < 100 && (n = tcp_relay_drain(r, ev, 256)) > 0; round++) {
		for (unsigned i = 0; i < n; i++) {
			ev_total++;
			if (ev[i].id >= MAX_ID || ev[i].kind > TCP_EV_CLOSED)
				continue;
			ev_n[ev[i].id][ev[i].kind]++;
			memcpy(ev_msg[ev[i].id][ev[i].kind], ev[i].message, sizeof(ev[i].message));
		}
	}
}

/* Wait until session id has had count events of kind (polling the relay's event fd). */
static bool ev_wait(struct tcp_relay *r, uint64_t id, enum tcp_event_kind kind, unsigned count,
		int ms)
{
	int64_t end = now_ms() + ms;
	struct pollfd pfd = { .fd = tcp_relay_event_fd(r), .events = POLLIN };

	for (;;) {
		ev_pump(r);
		if (ev_n[id][kind] >= count)
			return true;
		if (now_ms() >= end)
			return false;
		poll(&pfd, 1, 50);
	}
}

/* ---- destinations ---- */

/* Echo: every byte back; after the client's FIN and the echo flushed, close. */
struct echo_conn {
	struct echo_conn *prev, *next;
	int fd;
	size_t off, len;
	bool eof;
	uint32_t mask;
	char buf[65536];
};

struct echo_srv {
	int lfd, epfd, stopfd;
	uint16_t port;
	int open;               /* connections open now (atomic) */
	struct echo_conn *conns;
	pthread_t th;
};

static void echo_close(struct echo_srv *e, struct echo_conn *c)
{
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		e->conns = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	close(c->fd);
	free(c);
	__atomic_fetch_sub(&e->open, 1, __ATOMIC_RELAXED);
}

static void echo_accept(struct echo_srv *e)
{
	for (int i = 0; i < 64; i++) {
		int fd = accept4(e->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		struct echo_conn *c;

		if (fd < 0) {
			if (errno != EAGAIN)
				sleep_ms(1);    /* EMFILE while the fd test runs: do not spin */
			return;
		}
		c = malloc(sizeof(*c));
		if (c == NULL) {
			close(fd);
			return;
		}
		c->prev = NULL;
		c->next = e->conns;
		if (e->conns != NULL)
			e->conns->prev = c;
		e->conns = c;
		c->fd = fd;
		c->off = c->len = 0;
		c->eof = false;
		c->mask = EPOLLIN;
		struct epoll_event ev = { .events = EPOLLIN, .data.ptr = c };
		epoll_ctl(e->epfd, EPOLL_CTL_ADD, fd, &ev);
		__atomic_fetch_add(&e->open, 1, __ATOMIC_RELAXED);
	}
}

/* One read, then write what is held; false when the connection is over. */
static bool echo_step(struct echo_conn *c, uint32_t events)
{
	if (!c->eof && c->len < sizeof(c->buf) && (events & (EPOLLIN | EPOLLHUP | EPOLLERR))) {
		size_t end = c->off + c->len;
		ssize_t k = recv(c->fd, c->buf + end, sizeof(c->buf) - end, 0);

		if (k == 0)
			c->eof = true;
		else if (k < 0 && errno != EAGAIN)
			return false;
		else if (k > 0)
			c->len += (size_t)k;
	}
	if (c->len > 0) {
		ssize_t k = send(c->fd, c->buf + c->off, c->len, MSG_NOSIGNAL);

		if (k < 0 && errno != EAGAIN)
			return false;
		if (k > 0) {
			c->off += (size_t)k;
			c->len -= (size_t)k;
		}
		if (c->len == 0)
			c->off = 0;
	}
	return !(c->eof && c->len == 0);
}

static void *echo_main(void *arg)
{
	struct echo_srv *e = arg;
	struct epoll_event evs[128];

	for (;;) {
		int n = epoll_wait(e->epfd, evs, 128, 1000);

		for (int i = 0; i < n; i++) {
			struct echo_conn *c = evs[i].data.ptr;

			if (c == NULL) {
				echo_accept(e);
				continue;
			}
			if ((void *)c == (void *)e) {
				while (e->conns != NULL)
					echo_close(e, e->conns);
				return NULL;
			}
			if (!echo_step(c, evs[i].events)) {
				echo_close(e, c);
				continue;
			}
			/* room at the end only (off reset when empty): simple and enough */
			bool room = c->off + c->len < sizeof(c->buf);
			uint32_t want = (!c->eof && room ? EPOLLIN : 0) |
				(c->len > 0 ? EPOLLOUT : 0);
			if (want != c->mask) {
				struct epoll_event ev = { .events = want, .data.ptr = c };

				epoll_ctl(e->epfd, EPOLL_CTL_MOD, c->fd, &ev);
				c->mask = want;
			}
		}
	}
}


static void echo_start(struct echo_srv *e)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = NULL };
	struct epoll_event stop = { .events = EPOLLIN, .data.ptr = e };

	memset(e, 0, sizeof(*e));
	e->lfd = tcp_listener(4096, &e->port);
	e->epfd = epoll_create1(EPOLL_CLOEXEC);
	e->stopfd = eventfd(0, EFD_CLOEXEC);
	epoll_ctl(e->epfd, EPOLL_CTL_ADD, e->lfd, &ev);
	epoll_ctl(e->epfd, EPOLL_CTL_ADD, e->stopfd, &stop);
	pthread_create(&e->th, NULL, echo_main, e);
}

static void echo_stop(struct echo_srv *e)
{
	uint64_t one = 1;

	(void)!write(e->stopfd, &one, sizeof(one));
	pthread_join(e->th, NULL);
	close(e->lfd);
	close(e->epfd);
	close(e->stopfd);
}

static bool echo_settle(struct echo_srv *e, int want, int ms)
{
	int64_t end = now_ms() + ms;

	while (__atomic_load_n(&e->open, __ATOMIC_RELAXED) != want && now_ms() < end)
		sleep_ms(10);
	return __atomic_load_n(&e->open, __ATOMIC_RELAXED) == want;
}

/* Greeter: sends GREETING bytes, half-closes, then counts what it receives until EOF. */
#define GREETING (64 * 1024)
struct greeter {
	int lfd;
	uint16_t port;
	pthread_t th;
	size_t received;
	int err;
};

static void *greeter_main(void *arg)
{
	struct greeter *g = arg;
	struct pollfd pfd = { .fd = g->lfd, .events = POLLIN };
	uint8_t *buf = malloc(GREETING);
	int fd = -1;

	if (poll(&pfd, 1, 5000) != 1 || (fd = accept4(g->lfd, NULL, NULL, SOCK_CLOEXEC)) < 0) {
		g->err = ETIMEDOUT;
		free(buf);
		return NULL;
	}
	set_timeouts(fd, 5000);
	fill_random(buf, GREETING, 77);
	if (send_all(fd, buf, GREETING) < 0 || shutdown(fd, SHUT_WR) < 0)
		g->err = errno;
	for (int i = 0; i < 100000; i++) {
		ssize_t k = recv(fd, buf, GREETING, 0);

		if (k <= 0) {
			if (k < 0)
				g->err = errno;
			break;
		}
		g->received += (size_t)k;
	}
	close(fd);
	free(buf);
	return NULL;
}

/* Quiet sink: half-closes at once, reads nothing until told to, then counts until EOF. */
struct quiet {
	int lfd;
	uint16_t port;
	pthread_t th;
	int go;                 /* atomic: start reading */
	size_t received;
	int err;
};

static void *quiet_main(void *arg)
{
	struct quiet *q = arg;
	struct pollfd pfd = { .fd = q->lfd, .events = POLLIN };
	char buf[65536];
	int64_t end = now_ms() + 20000;
	int fd = -1;

	if (poll(&pfd, 1, 5000) != 1 || (fd = accept4(q->lfd, NULL, NULL, SOCK_CLOEXEC)) < 0) {
		q->err = ETIMEDOUT;
		return NULL;
	}
	set_timeouts(fd, 5000);
	shutdown(fd, SHUT_WR);
	while (!__atomic_load_n(&q->go, __ATOMIC_ACQUIRE) && now_ms() < end)
		sleep_ms(5);
	for (int i = 0; i < 100000; i++) {
		ssize_t k = recv(fd, buf, sizeof(buf), 0);

		if (k <= 0) {
			if (k < 0)
				q->err = errno;
			break;
		}
		q->received += (size_t)k;
	}
	close(fd);
	return NULL;
}

/* ---- helpers on the relay ---- */

static struct echo_srv echo;

static struct tcp_sess_params params(uint64_t id, uint16_t fwd_port, uint16_t dest_port)
{
	struct tcp_sess_params p = {
		.id = id, .listen_addr = lo_addr, .listen_port = 0,
		.forward_addr = lo_addr, .forward_port = fwd_port,
		.dest_addr = lo_addr, .dest_port = dest_port,
	};
	return p;
}

static uint16_t add(struct tcp_relay *r, uint64_t id, uint16_t fwd_port, uint16_t dest_port)
{
	struct tcp_sess_params p = params(id, fwd_port, dest_port);
	char err[256] = "";
	uint16_t port = 0;
	int rc = tcp_relay_add(r, &p, &port, err, sizeof(err));

	if (rc != 0)
		fprintf(stderr, "add %" PRIu64 ": %d %s\n", id, rc, err);
	CHECK(rc == 0);
	CHECK(port != 0);
	return port;
}

static void remove_ok(struct tcp_relay *r, uint64_t id)
{
	struct tcp_stats st;

	CHECK(tcp_relay_remove(r, id, &st) == 0);
}

static struct tcp_relay_counters counters(struct tcp_relay *r)
{
	struct tcp_relay_counters c;

	tcp_relay_counters(r, &c);
	return c;
}

static struct tcp_stats stats(struct tcp_relay *r, uint64_t id)
{
	struct tcp_stats st;

	memset(&st, 0, sizeof(st));
	CHECK(tcp_relay_stats(r, id, &st) == 0);
	return st;
}

/* Send msg, expect it back. */
static bool echo_ok(int fd, const char *msg)
{
	size_t n = strlen(msg), got = 0;
	char buf[256];

	if (send_all(fd, msg, n) < 0)
		return false;
	while (got < n) {
		ssize_t k = recv(fd, buf + got, n - got, 0);

		if (k <= 0)
			return false;
		got += (size_t)k;
	}
	return memcmp(buf, msg, n) == 0;
}

static int64_t unix_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- the tests ---- */

static void test_api(struct tcp_relay *r)
{
	struct tcp_sess_params p = params(1, 0, echo.port);
	struct tcp_stats st;
	char err[256], want[256];
	uint16_t port = add(r, 1, 0, echo.port), bp = 0;

	/* one listener per id */
	CHECK(tcp_relay_add(r, &p, &bp, err, sizeof(err)) == -EEXIST);
	/* the port is taken: the message names the field and the endpoint */
	p.id = 2;
	p.listen_port = port;
	CHECK(tcp_relay_add(r, &p, &bp, err, sizeof(err)) == -EADDRINUSE);
	snprintf(want, sizeof(want), "listen_endpoint: 127.0.0.1:%u: Address already in use", port);
	CHECK(strcmp(err, want) == 0);
	/* an address that is not local */
	p.listen_addr = dp_addr_v4(inet_addr("198.18.1.1"));
	p.listen_port = 20000;
	CHECK(tcp_relay_add(r, &p, &bp, err, sizeof(err)) == -EADDRNOTAVAIL);
	CHECK(strncmp(err, "listen_endpoint: 198.18.1.1:20000: ", 35) == 0);
	/* IPv6 (2001:db8::1) is refused up front, naming the field */
	struct dp_addr v6 = { .family = DP_AF_INET6, .v6 = { 0x20, 0x01, 0x0d, 0xb8, [15] = 1 } };
	p = params(2, 0, echo.port);
	p.dest_addr = v6;
	CHECK(tcp_relay_add(r, &p, &bp, err, sizeof(err)) == -EINVAL);
	CHECK(strcmp(err, "destination_endpoint: IPv6 is not supported yet") == 0);
	p = params(2, 0, echo.port);
	p.listen_addr = v6;
	CHECK(tcp_relay_add(r, &p, &bp, err, sizeof(err)) == -EINVAL);
	CHECK(strcmp(err, "listen_endpoint: IPv6 is not supported yet") == 0);
	p = params(2, 0, echo.port);
	p.forward_addr = v6;
	CHECK(tcp_relay_add(r, &p, &bp, err, sizeof(err)) == -EINVAL);
	CHECK(strcmp(err, "forward_endpoint: IPv6 is not supported yet") == 0);
	/* unknown ids */
	CHECK(tcp_relay_stats(r, 2, &st) == -ENOENT);
	CHECK(tcp_relay_remove(r, 2, &st) == -ENOENT);
	/* a fresh session counts nothing */
	st = stats(r, 1);
	CHECK_EQ_U(st.connections_total + st.c2d.bytes_in + st.d2c.bytes_in, 0);
	CHECK_EQ_U(st.last_activity_ms, 0);
	remove_ok(r, 1);
	CHECK(tcp_relay_stats(r, 1, &st) == -ENOENT);
	/* its port is free again, the id too */
	p = params(1, 0, echo.port);
	p.listen_port = port;
	CHECK(tcp_relay_add(r, &p, &bp, err, sizeof(err)) == 0);
	CHECK_EQ_U(bp, port);
	remove_ok(r, 1);
}

#define BULK_CLIENTS 50
#define BULK_BYTES MIB

struct bulk {
	int fd;
	uint8_t *data;
	size_t sent, rcvd;
	bool bad, done, ok;
};

static void bulk_finish(struct bulk *b, bool ok)
{
	b->done = true;
	b->ok = ok && !b->bad && b->rcvd == BULK_BYTES && b->sent == BULK_BYTES;
	close(b->fd);
}

/* Send what the socket takes (then FIN), check what comes back against the data. */
static void bulk_step(struct bulk *b, short revents, uint8_t *tmp)
{
	if ((revents & POLLOUT) && b->sent < BULK_BYTES) {
		size_t n = BULK_BYTES - b->sent < 65536 ? BULK_BYTES - b->sent : 65536;
		ssize_t k = send(b->fd, b->data + b->sent, n, MSG_NOSIGNAL | MSG_DONTWAIT);

		if (k > 0) {
			b->sent += (size_t)k;
			if (b->sent == BULK_BYTES)
				shutdown(b->fd, SHUT_WR);
		} else if (k < 0 && errno != EAGAIN) {
			bulk_finish(b, false);
			return;
		}
	}
	if (revents & (POLLIN | POLLHUP | POLLERR)) {
		ssize_t k = recv(b->fd, tmp, 65536, MSG_DONTWAIT);

		if (k > 0) {
			if (b->rcvd + (size_t)k > BULK_BYTES ||
					memcmp(tmp, b->data + b->rcvd, (size_t)k) != 0)
				b->bad = true;
			b->rcvd += (size_t)k;
		} else if (k == 0) {
			bulk_finish(b, true);
		} else if (errno != EAGAIN) {
			bulk_finish(b, false);
		}
	}
}

static int nb_connect(uint16_t port)
{
	struct sockaddr_in sa = sin_lo(port);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 &&
			errno != EINPROGRESS) {
		close(fd);
		return -1;
	}
	return fd;
}

/* 50 clients x 1 MiB of their own random bytes, echoed; stats exact. */
static void test_bulk(struct tcp_relay *r)
{
	const uint64_t id = 10;
	uint16_t port = add(r, id, 0, echo.port);
	static struct bulk b[BULK_CLIENTS];
	uint8_t *tmp = malloc(65536);
	int64_t t0 = unix_ms(), end = now_ms() + 60000;
	unsigned left = BULK_CLIENTS, ok = 0;
	struct tcp_stats st;

	for (int i = 0; i < BULK_CLIENTS; i++) {
		memset(&b[i], 0, sizeof(b[i]));
		b[i].data = malloc(BULK_BYTES);
		fill_random(b[i].data, BULK_BYTES, (uint64_t)i + 1);
		b[i].fd = nb_connect(port);
		CHECK(b[i].fd >= 0);
	}
	while (left > 0 && now_ms() < end) {
		struct pollfd pfd[BULK_CLIENTS];
		int idx[BULK_CLIENTS], n = 0;

		for (int i = 0; i < BULK_CLIENTS; i++) {
			if (b[i].done)
				continue;
			pfd[n].fd = b[i].fd;
			pfd[n].events = POLLIN | (b[i].sent < BULK_BYTES ? POLLOUT : 0);
			idx[n++] = i;
		}
		if (poll(pfd, (nfds_t)n, 100) <= 0)
			continue;
		for (int j = 0; j < n; j++) {
			if (pfd[j].revents == 0)
				continue;
			bulk_step(&b[idx[j]], pfd[j].revents, tmp);
			if (b[idx[j]].done)
				left--;
		}
	}
	CHECK_EQ_U(left, 0);
	for (int i = 0; i < BULK_CLIENTS; i++) {
		ok += b[i].ok;
		if (!b[i].done)
			close(b[i].fd);
		free(b[i].data);
	}
	free(tmp);
	CHECK_EQ_U(ok, BULK_CLIENTS);
	CHECK(ev_wait(r, id, TCP_EV_CLOSED, BULK_CLIENTS, 5000));
	st = stats(r, id);
	CHECK_EQ_U(st.c2d.bytes_in, (uint64_t)BULK_CLIENTS * BULK_BYTES);
	CHECK_EQ_U(st.c2d.bytes_out, (uint64_t)BULK_CLIENTS * BULK_BYTES);
	CHECK_EQ_U(st.d2c.bytes_in, (uint64_t)BULK_CLIENTS * BULK_BYTES);
	CHECK_EQ_U(st.d2c.bytes_out, (uint64_t)BULK_CLIENTS * BULK_BYTES);
	/* a read is at most buffer_bytes (64 KiB): at least 16 per MiB */
	CHECK(st.c2d.reads >= BULK_CLIENTS * 16 && st.d2c.reads >= BULK_CLIENTS * 16);
	CHECK(st.c2d.writes >= BULK_CLIENTS * 16 && st.d2c.writes >= BULK_CLIENTS * 16);
	CHECK_EQ_U(st.connections_total, BULK_CLIENTS);
	CHECK_EQ_U(st.connections_open, 0);
	CHECK(st.last_activity_ms >= t0 && st.last_activity_ms <= unix_ms());
	CHECK_EQ_U(ev_n[id][TCP_EV_CONNECTING], BULK_CLIENTS);
	CHECK_EQ_U(ev_n[id][TCP_EV_ESTABLISHED], BULK_CLIENTS);
	CHECK_EQ_U(ev_n[id][TCP_EV_FAILED], 0);
	CHECK(strstr(ev_msg[id][TCP_EV_CLOSED], ": closed") != NULL);
	printf("  bulk: %d clients x %d bytes, c2d %" PRIu64 " reads / %" PRIu64 " writes, "
		"d2c %" PRIu64 " / %" PRIu64 "\n", BULK_CLIENTS, BULK_BYTES, st.c2d.reads,
		st.c2d.writes, st.d2c.reads, st.d2c.writes);
	remove_ok(r, id);
}

/* The client half-closes before reading anything: the whole echo still comes, then EOF. */
static void test_half_close_client(struct tcp_relay *r)
{
	const uint64_t id = 11;
	const size_t n = 256 * 1024;
	uint16_t port = add(r, id, 0, echo.port);
	uint8_t *data = malloc(n), *back = malloc(n);
	int fd = client_connect(port), err;
	struct tcp_stats st;

	CHECK(fd >= 0);
	fill_random(data, n, 11);
	CHECK(send_all(fd, data, n) == 0);
	CHECK(shutdown(fd, SHUT_WR) == 0);
	CHECK_EQ_U(recv_to_eof(fd, back, n, &err), n);
	CHECK(memcmp(data, back, n) == 0);
	CHECK(ev_wait(r, id, TCP_EV_CLOSED, 1, 5000));
	st = stats(r, id);
	CHECK_EQ_U(st.c2d.bytes_out, n);
	CHECK_EQ_U(st.d2c.bytes_out, n);
	close(fd);
	free(data);
	free(back);
	remove_ok(r, id);
}

/* The destination half-closes first: the client gets EOF and can still send. */
static void test_half_close_dest(struct tcp_relay *r)
{
	const uint64_t id = 12;
	const size_t n = 200 * 1024;
	struct greeter g = { .lfd = -1 };
	uint8_t *want = malloc(GREETING), *got = malloc(GREETING), *data = malloc(n);
	uint16_t port;
	int fd, err;
	struct tcp_stats st;

	g.lfd = tcp_listener(4, &g.port);
	pthread_create(&g.th, NULL, greeter_main, &g);
	port = add(r, id, 0, g.port);
	fd = client_connect(port);
	CHECK(fd >= 0);
	fill_random(want, GREETING, 77);
	CHECK_EQ_U(recv_to_eof(fd, got, GREETING, &err), GREETING);
	CHECK(memcmp(want, got, GREETING) == 0);
	/* after its EOF the other direction still flows */
	fill_random(data, n, 12);
	CHECK(send_all(fd, data, n) == 0);
	CHECK(shutdown(fd, SHUT_WR) == 0);
	pthread_join(g.th, NULL);
	CHECK_EQ_U(g.err, 0);
	CHECK_EQ_U(g.received, n);
	CHECK(ev_wait(r, id, TCP_EV_CLOSED, 1, 5000));
	st = stats(r, id);
	CHECK_EQ_U(st.d2c.bytes_out, GREETING);
	CHECK_EQ_U(st.c2d.bytes_out, n);
	close(fd);
	close(g.lfd);
	free(want);
	free(got);
	free(data);
	remove_ok(r, id);
}

/* Nothing listens at the destination: FAILED with the reason, the client is closed. */
static void test_refused(struct tcp_relay *r)
{
	const uint64_t id = 13;
	uint16_t dport, port;
	int dead = tcp_listener(-1, &dport), fd;   /* bound, not listening: SYN gets RST */
	uint64_t failed0 = counters(r).connect_failed;
	char want[160];

	port = add(r, id, 0, dport);
	fd = client_connect(port);
	CHECK(fd >= 0);
	CHECK(ev_wait(r, id, TCP_EV_FAILED, 1, 5000));
	snprintf(want, sizeof(want), "destination_endpoint: 127.0.0.1:%u: Connection refused",
		dport);
	CHECK(strcmp(ev_msg[id][TCP_EV_FAILED], want) == 0);
	CHECK(closed_by_peer(fd));
	CHECK(ev_wait(r, id, TCP_EV_CLOSED, 1, 5000));
	CHECK_EQ_U(ev_n[id][TCP_EV_CONNECTING], 1);
	CHECK_EQ_U(ev_n[id][TCP_EV_ESTABLISHED], 0);
	CHECK_EQ_U(counters(r).connect_failed, failed0 + 1);
	CHECK_EQ_U(stats(r, id).connections_open, 0);
	close(fd);
	close(dead);
	remove_ok(r, id);
}

/*
 * A destination that never answers: a listener with backlog 0 and one connection nobody
 * accepts has a full accept queue, and the kernel drops further SYNs (loopback only). Skipped,
 * saying so, where that does not hold.
 */
static void test_connect_timeout(struct tcp_relay *r, unsigned timeout_ms)
{
	const uint64_t id = 20;
	uint16_t bport, port;
	int bh = tcp_listener(0, &bport), filler = client_connect(bport), probe, fd;
	struct pollfd pfd;
	char want[160];
	int64_t t0, dt;

	CHECK(filler >= 0);
	probe = nb_connect(bport);
	pfd = (struct pollfd){ .fd = probe, .events = POLLOUT };
	if (poll(&pfd, 1, 200) != 0) {
		printf("  connect timeout: SKIPPED (the kernel answers a full accept queue here); "
			"the e2e lab covers it\n");
		goto out;
	}
	port = add(r, id, 0, bport);
	t0 = now_ms();
	fd = client_connect(port);
	CHECK(fd >= 0);
	CHECK(ev_wait(r, id, TCP_EV_FAILED, 1, 3000));
	dt = now_ms() - t0;
	CHECK(dt >= (int64_t)timeout_ms - 50 && dt < 2000);
	snprintf(want, sizeof(want), "destination_endpoint: 127.0.0.1:%u: connection timed out "
		"after %u ms", bport, timeout_ms);
	CHECK(strcmp(ev_msg[id][TCP_EV_FAILED], want) == 0);
	CHECK(closed_by_peer(fd));
	CHECK(ev_wait(r, id, TCP_EV_CLOSED, 1, 3000));
	CHECK_EQ_U(counters(r).connect_timeouts, 1);
	printf("  connect timeout: FAILED after %" PRId64 " ms: %s\n", dt,
		ev_msg[id][TCP_EV_FAILED]);
	close(fd);
	remove_ok(r, id);
out:
	close(probe);
	close(filler);
	close(bh);
}

/* remove while bytes flow: both sides closed, no fd left behind. */
static void test_remove_mid_transfer(struct tcp_relay *r)
{
	const uint64_t id = 14;
	int fd0 = fd_count(NULL), echo0 = __atomic_load_n(&echo.open, __ATOMIC_RELAXED);
	uint16_t port = add(r, id, 0, echo.port);
	int fd = client_connect(port);
	uint8_t *buf = malloc(65536);
	size_t sent = 0, rcvd = 0;
	int64_t end = now_ms() + 10000;
	struct tcp_stats fin, st;

	CHECK(fd >= 0);
	fill_random(buf, 65536, 14);
	while (rcvd < MIB && now_ms() < end) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN | POLLOUT };
		ssize_t k;

		poll(&pfd, 1, 100);
		k = send(fd, buf, 65536, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (k > 0)
			sent += (size_t)k;
		k = recv(fd, buf, 65536, MSG_DONTWAIT);
		if (k > 0)
			rcvd += (size_t)k;
	}
	CHECK(rcvd >= MIB);
	ev_pump(r);
	CHECK_EQ_U(ev_n[id][TCP_EV_ESTABLISHED], 1);
	CHECK(tcp_relay_remove(r, id, &fin) == 0);
	CHECK(fin.c2d.bytes_in >= rcvd && fin.d2c.bytes_out >= rcvd);
	CHECK(fin.c2d.bytes_in <= sent);
	CHECK_EQ_U(fin.connections_total, 1);
	CHECK_EQ_U(fin.connections_open, 0);
	CHECK(tcp_relay_stats(r, id, &st) == -ENOENT);
	CHECK(closed_by_peer(fd));
	CHECK(echo_settle(&echo, echo0, 3000));         /* the destination's side is gone too */
	close(fd);
	free(buf);
	CHECK_EQ_U(fd_count_settle(fd0, 3000), fd0);
	ev_pump(r);
	CHECK_EQ_U(ev_n[id][TCP_EV_CLOSED], 0);         /* remove is quiet */
	CHECK_EQ_U(counters(r).connections_open, 0);
	CHECK_EQ_U(counters(r).buffered_bytes, 0);
	CHECK_EQ_U(counters(r).buffer_memory, 0);
}

/* A destination that never reads: the relay stops reading, the client's send would block. */
static void test_back_pressure(struct tcp_relay *r, size_t buffer_bytes)
{
	const uint64_t id = 21;
	uint16_t sport, port;
	int sink = tcp_listener(8, &sport), fd, small = 65536, stalls = 0;
	uint8_t *chunk = malloc(65536);
	size_t total = 0;
	int64_t end = now_ms() + 20000;
	struct tcp_stats s1, s2;
	struct tcp_relay_counters c;
	ssize_t k;
	long cpu;

	setsockopt(sink, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
	port = add(r, id, 0, sport);
	fd = client_connect(port);
	CHECK(fd >= 0);
	setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
	CHECK(ev_wait(r, id, TCP_EV_ESTABLISHED, 1, 3000));
	fill_random(chunk, 65536, 21);
	while (total < 256u * MIB && now_ms() < end) {
		struct pollfd pfd = { .fd = fd, .events = POLLOUT };

		k = send(fd, chunk, 65536, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (k > 0) {
			total += (size_t)k;
			stalls = 0;
			continue;
		}
		if (k < 0 && errno != EAGAIN)
			break;
		if (poll(&pfd, 1, 300) == 0 && ++stalls == 3)
			break;          /* 900 ms without room: the relay holds back */
	}
	CHECK_EQ_U(stalls, 3);
	CHECK(total < 256u * MIB);
	s1 = stats(r, id);
	cpu = relay_cpu_ms();
	sleep_ms(300);
	cpu = relay_cpu_ms() - cpu;
	s2 = stats(r, id);
	CHECK(cpu >= 0 && cpu < 60);                    /* waiting, not spinning */
	c = counters(r);
	CHECK_EQ_U(s2.c2d.bytes_in, s1.c2d.bytes_in);   /* it stopped reading the client */
	CHECK(s2.c2d.bytes_in - s2.c2d.bytes_out <= buffer_bytes);
	CHECK(c.buffered_bytes <= 2 * buffer_bytes);
	CHECK_EQ_U(c.buffer_memory, 2 * buffer_bytes);
	k = send(fd, chunk, 1, MSG_DONTWAIT | MSG_NOSIGNAL);
	CHECK(k < 0 && errno == EAGAIN);
	printf("  back-pressure: client blocked after %zu KiB; relay read %" PRIu64 ", wrote %"
		PRIu64 ", holds %" PRIu64 " bytes (buffer %zu)\n", total / 1024, s2.c2d.bytes_in,
		s2.c2d.bytes_out, c.buffered_bytes, buffer_bytes);
	remove_ok(r, id);
	CHECK(closed_by_peer(fd));
	close(fd);
	close(sink);
	free(chunk);
}

/* forward_port fixed: one client at a time; a second is refused at once, a third later works. */
static void test_forward_port(struct tcp_relay *r)
{
	const uint64_t id = 15;
	uint16_t fport, port;
	int tmp = tcp_listener(-1, &fport), c1, c2, c3;
	uint64_t busy0 = counters(r).rejected_busy;
	char from[64];
	int64_t t0;

	close(tmp);     /* a port nobody uses now */
	port = add(r, id, fport, echo.port);
	c1 = client_connect(port);
	CHECK(c1 >= 0);
	CHECK(ev_wait(r, id, TCP_EV_ESTABLISHED, 1, 3000));
	snprintf(from, sizeof(from), "from 127.0.0.1:%u", fport);
	CHECK(strstr(ev_msg[id][TCP_EV_ESTABLISHED], from) != NULL);
	CHECK(echo_ok(c1, "one"));
	c2 = client_connect(port);
	CHECK(c2 >= 0);
	t0 = now_ms();
	CHECK(closed_by_peer(c2));
	CHECK(now_ms() - t0 < 2000);
	CHECK_EQ_U(counters(r).rejected_busy, busy0 + 1);
	CHECK(echo_ok(c1, "still there"));
	close(c2);
	close(c1);
	CHECK(ev_wait(r, id, TCP_EV_CLOSED, 1, 3000));
	/* the port is free again (its last 4-tuple may sit in TIME_WAIT: loopback reuses it) */
	c3 = client_connect(port);
	CHECK(c3 >= 0);
	CHECK(ev_wait(r, id, TCP_EV_ESTABLISHED, 2, 3000));
	if (ev_n[id][TCP_EV_FAILED] > 0)
		fprintf(stderr, "  forward port reuse: %s\n", ev_msg[id][TCP_EV_FAILED]);
	CHECK(echo_ok(c3, "three"));
	close(c3);
	CHECK(ev_wait(r, id, TCP_EV_CLOSED, 2, 3000));
	CHECK_EQ_U(ev_n[id][TCP_EV_CONNECTING], 2);     /* the refused one never got that far */
	remove_ok(r, id);
}

/* Out of fds: accept fails with EMFILE; the relay logs once, rests, and recovers. */
static void test_emfile(struct tcp_relay *r)
{
	const uint64_t id = 16;
	uint16_t port = add(r, id, 0, echo.port);
	struct sockaddr_in sa = sin_lo(port);
	struct tcp_relay_counters c0 = counters(r), c1;
	unsigned starved0 = LOAD(log_starved), recovered0 = LOAD(log_recovered);
	struct rlimit saved, low;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), lowest;

	CHECK(fd >= 0);
	set_timeouts(fd, 5000);
	lowest = dup(0);        /* the lowest free fd: the limit below which all are taken */
	close(lowest);
	getrlimit(RLIMIT_NOFILE, &saved);
	low = (struct rlimit){ .rlim_cur = (rlim_t)lowest, .rlim_max = saved.rlim_max };
	CHECK(setrlimit(RLIMIT_NOFILE, &low) == 0);
	CHECK(connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0);    /* into the backlog */
	sleep_ms(550);
	c1 = counters(r);
	CHECK(setrlimit(RLIMIT_NOFILE, &saved) == 0);
	CHECK(c1.accept_fd_errors > c0.accept_fd_errors);
	/* resting, not spinning: one try per pause (100 ms) */
	CHECK(c1.accept_pauses - c0.accept_pauses >= 1 && c1.accept_pauses - c0.accept_pauses <= 8);
	CHECK_EQ_U(LOAD(log_starved), starved0 + 1);
	CHECK(ev_wait(r, id, TCP_EV_ESTABLISHED, 1, 3000));
	CHECK(echo_ok(fd, "after the drought"));
	CHECK_EQ_U(LOAD(log_recovered), recovered0 + 1);
	printf("  fd exhaustion: %" PRIu64 " accept failures, %" PRIu64 " pauses in 550 ms, then "
		"recovered\n", c1.accept_fd_errors - c0.accept_fd_errors,
		c1.accept_pauses - c0.accept_pauses);
	close(fd);
	CHECK(ev_wait(r, id, TCP_EV_CLOSED, 1, 3000));
	remove_ok(r, id);
}

/* Everything sent has been acknowledged by the peer's kernel. */
static bool outq_empty(int fd, int ms)
{
	int64_t end = now_ms() + ms;
	int n = -1;

	while ((ioctl(fd, SIOCOUTQ, &n) < 0 || n > 0) && now_ms() < end)
		sleep_ms(1);
	return n == 0;
}

/* Our FIN (sent after the peer's) was acknowledged: the socket reached TCP_CLOSE. */
static bool fin_acked(int fd, int ms)
{
	int64_t end = now_ms() + ms;
	struct tcp_info ti;
	socklen_t len;

	do {
		len = sizeof(ti);
		if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) == 0 &&
				ti.tcpi_state == TCP_CLOSE)
			return true;
		sleep_ms(1);
	} while (now_ms() < end);
	return false;
}

/*
 * A leg that has hung up (both directions shut: EPOLLHUP, reported whatever the mask) while its
 * buffer is full: the destination half-closes at once and reads nothing; the client fills the
 * relay's buffer, then sends FIN. The relay must wait without spinning, then deliver it all.
 */
static void test_hup_parked(struct tcp_relay *r, size_t buffer_bytes)
{
	const uint64_t id = 22;
	struct quiet q = { .lfd = -1 };
	uint64_t parked0 = counters(r).legs_parked;
	int fd, small = 4096;
	struct sockaddr_in sa;
	char chunk[4096], c;
	size_t sent = 0;
	int64_t end;
	long cpu;

	q.lfd = tcp_listener(4, &q.port);
	setsockopt(q.lfd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
	pthread_create(&q.th, NULL, quiet_main, &q);
	sa = sin_lo(add(r, id, 0, q.port));
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	/* little in flight of our own: the relay's receive window must stay open for the FIN */
	setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
	set_timeouts(fd, 5000);
	CHECK(connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0);
	CHECK(recv(fd, &c, 1, 0) == 0);                 /* the destination's FIN came through */
	memset(chunk, 'q', sizeof(chunk));
	/*
	 * Fill in steps the relay's kernel has acknowledged, until its buffer is full and it has
	 * stopped reading: then only the last step waits in its socket, and the window stays open
	 * for our FIN.
	 */
	end = now_ms() + 10000;
	while (now_ms() < end) {
		struct tcp_stats a, b;

		tcp_relay_stats(r, id, &a);
		if (a.c2d.bytes_in - a.c2d.bytes_out == buffer_bytes) {
			sleep_ms(50);
			tcp_relay_stats(r, id, &b);
			if (b.c2d.bytes_in == a.c2d.bytes_in)
				break;
		}
		if (send_all(fd, chunk, sizeof(chunk)) < 0 || !outq_empty(fd, 2000))
			break;
		sent += sizeof(chunk);
	}
	CHECK(now_ms() < end);
	CHECK(shutdown(fd, SHUT_WR) == 0);
	CHECK(fin_acked(fd, 2000));                      /* the relay's leg has it: EPOLLHUP */
	cpu = relay_cpu_ms();
	sleep_ms(500);
	cpu = relay_cpu_ms() - cpu;
	CHECK(cpu >= 0 && cpu < 100);
	CHECK(counters(r).legs_parked > parked0);       /* the case above did happen */
	CHECK_EQ_U(ev_n[id][TCP_EV_CLOSED], 0);
	__atomic_store_n(&q.go, 1, __ATOMIC_RELEASE);
	pthread_join(q.th, NULL);
	CHECK_EQ_U(q.err, 0);
	CHECK_EQ_U(q.received, sent);
	CHECK(ev_wait(r, id, TCP_EV_CLOSED, 1, 3000));
	CHECK(strstr(ev_msg[id][TCP_EV_CLOSED], ": closed") != NULL);
	CHECK_EQ_U(stats(r, id).c2d.bytes_out, sent);
	printf("  hup: %zu bytes held while the client leg was hung up; relay CPU %ld ms in "
		"500 ms, %" PRIu64 " leg(s) parked\n", sent, cpu,
		counters(r).legs_parked - parked0);
	close(fd);
	close(q.lfd);
	remove_ok(r, id);
}

/*
 * The relay thread stuck (the log hook sleeps in it): add and remove give up after their
 * bounded wait; when the thread comes back it undoes the add and finishes the remove.
 */
static void test_cmd_timeout(struct tcp_relay *r)
{
	const uint64_t bad = 40, late = 41, live = 42;
	uint16_t dport, lport, bad_port, bp = 0;
	int dead = tcp_listener(-1, &dport), tmp = tcp_listener(-1, &lport), fd0, c_bad, c_live;
	struct tcp_sess_params p = params(late, 0, echo.port);
	char err[256] = "", want[160];
	struct tcp_stats st;
	int64_t t0, end;
	int rc;

	close(tmp);     /* lport: free now, the late add's */
	p.listen_port = lport;
	fd0 = fd_count(NULL) - 1;       /* dead is closed at the end */
	bad_port = add(r, bad, 0, dport);
	c_bad = client_connect(bad_port);
	CHECK(c_bad >= 0);
	CHECK(closed_by_peer(c_bad));
	c_live = client_connect(add(r, live, 0, echo.port));
	CHECK(c_live >= 0 && echo_ok(c_live, "alive"));
	/* the relay logs each refused connection: the next such call sleeps 2.5 s */
	__atomic_store_n(&stall_ms, 2500, __ATOMIC_RELEASE);
	close(c_bad);
	c_bad = client_connect(bad_port);
	CHECK(c_bad >= 0);
	close(c_bad);
	end = now_ms() + 3000;
	while (!__atomic_load_n(&stalling, __ATOMIC_ACQUIRE) && now_ms() < end)
		sleep_ms(5);
	CHECK(__atomic_load_n(&stalling, __ATOMIC_ACQUIRE));
	/* add: gives up after 1 s, says why */
	t0 = now_ms();
	rc = tcp_relay_add(r, &p, &bp, err, sizeof(err));
	CHECK_EQ_U(rc, -ETIMEDOUT);
	CHECK(now_ms() - t0 >= 900 && now_ms() - t0 < 1500);
	snprintf(want, sizeof(want), "listen_endpoint: 127.0.0.1:%u: the TCP relay did not answer",
		lport);
	CHECK(strncmp(err, want, strlen(want)) == 0);
	CHECK(tcp_relay_stats(r, late, &st) == -ENOENT);
	/* remove: gives up too, with the counters it had; the session is gone for the caller */
	t0 = now_ms();
	CHECK_EQ_U(tcp_relay_remove(r, live, &st), -ETIMEDOUT);
	CHECK(now_ms() - t0 >= 900 && now_ms() - t0 < 1500);
	CHECK_EQ_U(st.connections_open, 1);
	CHECK_EQ_U(st.c2d.bytes_out, 5);
	CHECK(tcp_relay_stats(r, live, &st) == -ENOENT);
	/* the relay comes back: the late add is undone, the remove done */
	CHECK(closed_by_peer(c_live));
	end = now_ms() + 3000;
	while (__atomic_load_n(&stalling, __ATOMIC_ACQUIRE) && now_ms() < end)
		sleep_ms(5);
	sleep_ms(50);
	p.id = late;
	CHECK(tcp_relay_add(r, &p, &bp, err, sizeof(err)) == 0);        /* its port is free */
	remove_ok(r, late);
	close(c_live);
	close(dead);
	remove_ok(r, bad);
	CHECK(echo_settle(&echo, 0, 3000));
	CHECK_EQ_U(fd_count_settle(fd0, 3000), fd0);
}

#define MANY_SESS 100
#define MANY_PER 10
#define MANY_CONNS (MANY_SESS * MANY_PER)
#define MANY_MSG 32

/* 1000 connections open at once across 100 sessions, each echoing its own message. */
static void test_thousand(struct tcp_relay *r, size_t buffer_bytes)
{
	const uint64_t id0 = 1000;
	static int fds[MANY_CONNS];
	static char msg[MANY_CONNS][MANY_MSG + 1], got[MANY_CONNS][MANY_MSG];
	static size_t n_got[MANY_CONNS];
	static struct pollfd pfd[MANY_CONNS];
	uint16_t ports[MANY_SESS];
	int64_t t0 = now_ms(), end = t0 + 30000;
	unsigned sent = 0, done = 0, open = 0, closed = 0, ok = 0;
	struct tcp_relay_counters c;

	for (int s = 0; s < MANY_SESS; s++)
		ports[s] = add(r, id0 + (uint64_t)s, 0, echo.port);
	for (int i = 0; i < MANY_CONNS; i++) {
		fds[i] = nb_connect(ports[i / MANY_PER]);
		CHECK(fds[i] >= 0);
		snprintf(msg[i], sizeof(msg[i]), "connection %04d of session %03d", i,
			i / MANY_PER);
		n_got[i] = 0;
	}
	/* send each message once connected, read until every echo is complete */
	while (done < MANY_CONNS && now_ms() < end) {
		for (int i = 0; i < MANY_CONNS; i++) {
			pfd[i].fd = n_got[i] == MANY_MSG ? -1 : fds[i];
			pfd[i].events = POLLIN | (msg[i][0] != 0 ? POLLOUT : 0);
		}
		if (poll(pfd, MANY_CONNS, 100) <= 0)
			continue;
		for (int i = 0; i < MANY_CONNS; i++) {
			if ((pfd[i].revents & POLLOUT) && msg[i][0] != 0) {
				if (send(fds[i], msg[i], MANY_MSG, MSG_NOSIGNAL) == MANY_MSG) {
					memcpy(got[i], msg[i], MANY_MSG);       /* to compare */
					msg[i][0] = 0;
					sent++;
				}
			}
			if (pfd[i].revents & POLLIN) {
				char buf[MANY_MSG];
				ssize_t k = recv(fds[i], buf, MANY_MSG - n_got[i], MSG_DONTWAIT);

				if (k <= 0) {
					n_got[i] = MANY_MSG;    /* closed early: done, not ok */
					got[i][0] ^= 1;
					done++;
					continue;
				}
				if (memcmp(buf, got[i] + n_got[i], (size_t)k) != 0)
					got[i][0] ^= 1;
				n_got[i] += (size_t)k;
				if (n_got[i] == MANY_MSG) {
					done++;
					ok += got[i][0] == 'c';
				}
			}
		}
	}
	CHECK_EQ_U(sent, MANY_CONNS);
	CHECK_EQ_U(done, MANY_CONNS);
	CHECK_EQ_U(ok, MANY_CONNS);
	/* all open at once */
	for (int s = 0; s < MANY_SESS; s++)
		open += stats(r, id0 + (uint64_t)s).connections_open;
	CHECK_EQ_U(open, MANY_CONNS);
	c = counters(r);
	CHECK_EQ_U(c.connections_open, MANY_CONNS);
	CHECK_EQ_U(c.buffer_memory, (uint64_t)MANY_CONNS * 2 * buffer_bytes);
	printf("  %d connections across %d sessions echoed in %" PRId64 " ms\n", MANY_CONNS,
		MANY_SESS, now_ms() - t0);
	for (int i = 0; i < MANY_CONNS; i++)
		close(fds[i]);
	for (int s = 0; s < MANY_SESS; s++) {
		struct tcp_stats st;

		closed += ev_wait(r, id0 + (uint64_t)s, TCP_EV_CLOSED, MANY_PER, 10000);
		st = stats(r, id0 + (uint64_t)s);
		CHECK_EQ_U(st.connections_total, MANY_PER);
		CHECK_EQ_U(st.c2d.bytes_out, MANY_PER * MANY_MSG);
		CHECK_EQ_U(st.d2c.bytes_out, MANY_PER * MANY_MSG);
		remove_ok(r, id0 + (uint64_t)s);
	}
	CHECK_EQ_U(closed, MANY_SESS);
	CHECK_EQ_U(counters(r).connections_open, 0);
	CHECK_EQ_U(counters(r).events_dropped, 0);
	CHECK(now_ms() - t0 < 30000);
}

/* More events than the queue holds: the excess is dropped and counted, the rest drains. */
static void test_event_overflow(struct tcp_relay *r)
{
	const uint64_t id = 30;
	uint16_t dport, port;
	int dead = tcp_listener(-1, &dport), n = 0, efd = tcp_relay_event_fd(r);
	struct pollfd pfd = { .fd = efd, .events = POLLIN };
	static struct tcp_event ev[TCP_RELAY_EVENT_QUEUE];
	int64_t end = now_ms() + 20000;
	unsigned got, rest;

	port = add(r, id, 0, dport);
	/* each refused connection makes 3 events: CONNECTING, FAILED, CLOSED */
	while (counters(r).events_dropped == 0 && n < 3000 && now_ms() < end) {
		int fd = client_connect(port);

		if (fd >= 0)
			close(fd);
		n++;
		if (n % 64 == 0)
			sleep_ms(5);    /* let the relay keep up with the backlog */
	}
	sleep_ms(200);
	CHECK(counters(r).events_dropped > 0);
	CHECK(poll(&pfd, 1, 0) == 1);
	got = tcp_relay_drain(r, ev, 100);
	CHECK_EQ_U(got, 100);
	CHECK(poll(&pfd, 1, 0) == 1);                   /* more waiting: still readable */
	rest = tcp_relay_drain(r, ev, TCP_RELAY_EVENT_QUEUE);
	CHECK_EQ_U(got + rest, TCP_RELAY_EVENT_QUEUE);
	CHECK(poll(&pfd, 1, 0) == 0);                   /* all taken: quiet */
	CHECK_EQ_U(tcp_relay_drain(r, ev, 1), 0);
	/* the queue works again */
	memset(ev_n[id], 0, sizeof(ev_n[id]));
	{
		int fd = client_connect(port);

		CHECK(ev_wait(r, id, TCP_EV_CLOSED, 1, 3000));
		if (fd >= 0)
			close(fd);
	}
	printf("  event queue: %d connections, %" PRIu64 " events dropped, %u drained\n", n,
		counters(r).events_dropped, got + rest);
	remove_ok(r, id);
	close(dead);
}

/* max_connections reached: the next client is accepted and reset at once, counted. */
static void test_max_connections(void)
{
	struct tcp_relay_config cfg = { .max_connections = 2 };
	char err[256] = "";
	struct tcp_relay *r = tcp_relay_start(&cfg, err, sizeof(err));
	uint16_t port;
	int c[3];

	CHECK(r != NULL);
	if (r == NULL)
		return;
	CHECK_EQ_U(counters(r).max_connections, 2);
	port = add(r, 60, 0, echo.port);
	for (int i = 0; i < 2; i++) {
		c[i] = client_connect(port);
		CHECK(c[i] >= 0 && echo_ok(c[i], "within the limit"));
	}
	c[2] = client_connect(port);
	CHECK(c[2] >= 0);
	CHECK(closed_by_peer(c[2]));
	CHECK_EQ_U(counters(r).rejected_limit, 1);
	CHECK_EQ_U(stats(r, 60).connections_total, 2);
	CHECK(echo_ok(c[0], "the others live on"));
	for (int i = 0; i < 3; i++)
		close(c[i]);
	CHECK(ev_wait(r, 60, TCP_EV_CLOSED, 2, 3000));
	remove_ok(r, 60);
	tcp_relay_stop(r);
}

/* Stopping a relay with a session and an open connection closes them. */
static void test_stop_live(struct tcp_relay *r)
{
	int fd = client_connect(add(r, 50, 0, echo.port));

	CHECK(fd >= 0 && echo_ok(fd, "before stop"));
	CHECK(echo_settle(&echo, 1, 1000));
	tcp_relay_stop(r);
	CHECK(closed_by_peer(fd));
	CHECK(echo_settle(&echo, 0, 3000));
	close(fd);
}

static struct tcp_relay *start(unsigned timeout_ms, size_t buffer_bytes)
{
	struct tcp_relay_config cfg = { .connect_timeout_ms = timeout_ms,
		.buffer_bytes = buffer_bytes };
	char err[256] = "";
	struct tcp_relay *r = tcp_relay_start(&cfg, err, sizeof(err));

	if (r == NULL) {
		fprintf(stderr, "tcp_relay_start: %s\n", err);
		exit(1);
	}
	return r;
}

#define RUN(call) do { \
	int64_t _t = now_ms(); \
	unsigned _f = check_failed; \
	call; \
	printf("%-44s %s (%" PRId64 " ms)\n", #call, check_failed == _f ? "ok" : "FAILED", \
		now_ms() - _t); \
	fflush(stdout); \
} while (0)

int main(void)
{
	struct tcp_relay *r, *r_small, *r_ev;
	struct tcp_relay_counters c;
	struct rlimit rl;
	int fd_start;

	setvbuf(stdout, NULL, _IOLBF, 0);
	main_thread = pthread_self();
	lo = htonl(INADDR_LOOPBACK);
	fd_start = fd_count(NULL);
	tcp_relay_set_log(test_log);
	echo_start(&echo);

	r = start(0, 0);                /* defaults: 3000 ms, 64 KiB */
	r_small = start(300, 16384);    /* short timeout, small buffers */
	c = counters(r);
	getrlimit(RLIMIT_NOFILE, &rl);
	CHECK(rl.rlim_cur == rl.rlim_max || rl.rlim_max == RLIM_INFINITY);
	CHECK_EQ_U(c.nofile_limit, rl.rlim_cur);
	CHECK(c.max_connections >= MANY_CONNS);
	printf("RLIMIT_NOFILE %llu, max_connections %u\n", (unsigned long long)rl.rlim_cur,
		c.max_connections);

	RUN(test_api(r));
	RUN(test_bulk(r));
	RUN(test_half_close_client(r));
	RUN(test_half_close_dest(r));
	RUN(test_refused(r));
	RUN(test_connect_timeout(r_small, 300));
	RUN(test_remove_mid_transfer(r));
	RUN(test_back_pressure(r_small, 16384));
	RUN(test_hup_parked(r_small, 16384));
	RUN(test_forward_port(r));
	RUN(test_emfile(r));
	RUN(test_thousand(r, TCP_RELAY_DEFAULT_BUFFER_BYTES));
	RUN(test_cmd_timeout(r));

	RUN(test_max_connections());
	r_ev = start(0, 0);
	RUN(test_event_overflow(r_ev));

	c = counters(r);
	CHECK_EQ_U(c.connections_open, 0);
	CHECK_EQ_U(c.buffered_bytes, 0);
	RUN(test_stop_live(r_ev));
	tcp_relay_stop(r_small);
	tcp_relay_stop(r);
	CHECK(echo_settle(&echo, 0, 3000));
	echo_stop(&echo);
	/* every socket, eventfd and epoll fd of the relays and of this test is gone */
	CHECK_EQ_U(fd_count_settle(fd_start, 3000), fd_start);
	return check_summary("test_tcp_relay");
}
