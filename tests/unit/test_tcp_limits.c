/*
 * The TCP relay's limits on loopback (issue 9): max_conns_per_session (the next client is
 * accepted and reset), idle connections reset after the session's idle timeout (both legs, the
 * session and its other connections unaffected), and destination legs pinned to an interface
 * with SO_BINDTODEVICE (read back from the relay's own socket: this process holds it). The
 * deadline heap behind the idle timeout is checked against a brute-force minimum. Every wait is
 * a poll with a deadline.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "tcp_deadline.h"
#include "tcp_relay.h"

#define MAX_ID 64

static uint32_t lo;     /* 127.0.0.1, network order */
#define lo_addr dp_addr_v4(lo)

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static struct sockaddr_in sin_lo(uint16_t port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port) };

	sa.sin_addr.s_addr = lo;
	return sa;
}

static uint16_t port_of(int fd, bool peer)
{
	struct sockaddr_in sa;
	socklen_t len = sizeof(sa);
	int rc = peer ? getpeername(fd, (struct sockaddr *)&sa, &len) :
		getsockname(fd, (struct sockaddr *)&sa, &len);

	return rc == 0 && sa.sin_family == AF_INET ? ntohs(sa.sin_port) : 0;
}

static int open_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	if (d == NULL)
		return -1;
	while ((e = readdir(d)) != NULL)
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n - 1;   /* the directory's own */
}

/* Wait (bounded) for the process's fd count to be want again. */
static int fds_settle(int want, int ms)
{
	int64_t end = now_ms() + ms;
	struct pollfd none = { .fd = -1 };
	int n;

	while ((n = open_fds()) != want && now_ms() < end)
		poll(&none, 0, 10);
	return n;
}

/* A blocking client of 127.0.0.1:port, every call bounded by 5 s; -1 on failure. */
static int client(uint16_t port)
{
	struct sockaddr_in sa = sin_lo(port);
	struct timeval tv = { .tv_sec = 5 };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Send msg, expect it back. */
static bool echo_ok(int fd, const char *msg)
{
	size_t n = strlen(msg), got = 0;
	char buf[256];

	if (send(fd, msg, n, MSG_NOSIGNAL) != (ssize_t)n)
		return false;
	while (got < n) {
		ssize_t k = recv(fd, buf + got, n - got, 0);

		if (k <= 0)
			return false;
		got += (size_t)k;
	}
	return memcmp(buf, msg, n) == 0;
}

/*
 * How the peer ended fd within ms: 'R' reset (ECONNRESET), 'F' orderly EOF, 'D' data came
 * instead, 'T' nothing happened in time, 'E' another error.
 */
static char ended_how(int fd, int ms)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	char buf[64];
	ssize_t k;

	if (poll(&pfd, 1, ms) != 1)
		return 'T';
	k = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
	if (k == 0)
		return 'F';
	if (k > 0)
		return 'D';
	return errno == ECONNRESET ? 'R' : 'E';
}

/* ---- a destination: echo, one thread, counting how its connections ended ---- */

struct echo_srv {
	int lfd, epfd, stopfd;
	uint16_t port;
	pthread_t th;
	int open, resets, eofs;         /* atomics */
};

static void *echo_main(void *arg)
{
	struct echo_srv *e = arg;
	struct epoll_event evs[64];

	for (;;) {
		int n = epoll_wait(e->epfd, evs, 64, 1000);

		for (int i = 0; i < n; i++) {
			int fd = evs[i].data.fd;
			char buf[4096];
			ssize_t k;

			if (fd == e->stopfd)
				return NULL;
			if (fd == e->lfd) {
				int c = accept4(e->lfd, NULL, NULL, SOCK_CLOEXEC);
				struct epoll_event ev = { .events = EPOLLIN, .data.fd = c };

				if (c >= 0 && epoll_ctl(e->epfd, EPOLL_CTL_ADD, c, &ev) == 0)
					__atomic_fetch_add(&e->open, 1, __ATOMIC_RELAXED);
				else if (c >= 0)
					close(c);
				continue;
			}
			k = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
			if (k > 0 && send(fd, buf, (size_t)k, MSG_NOSIGNAL) == k)
				continue;       /* small messages: the socket buffer takes them */
			if (k < 0 && errno == EAGAIN)
				continue;
			if (k < 0 && errno == ECONNRESET)
				__atomic_fetch_add(&e->resets, 1, __ATOMIC_RELAXED);
			else if (k == 0)
				__atomic_fetch_add(&e->eofs, 1, __ATOMIC_RELAXED);
			close(fd);
			__atomic_fetch_sub(&e->open, 1, __ATOMIC_RELAXED);
		}
	}
}

static void echo_start(struct echo_srv *e)
{
	struct sockaddr_in sa = sin_lo(0);
	struct epoll_event ev = { .events = EPOLLIN };

	memset(e, 0, sizeof(*e));
	e->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (e->lfd < 0 || bind(e->lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
			listen(e->lfd, 256) < 0) {
		perror("echo listener");
		exit(2);
	}
	e->port = port_of(e->lfd, false);
	e->epfd = epoll_create1(EPOLL_CLOEXEC);
	e->stopfd = eventfd(0, EFD_CLOEXEC);
	ev.data.fd = e->lfd;
	epoll_ctl(e->epfd, EPOLL_CTL_ADD, e->lfd, &ev);
	ev.data.fd = e->stopfd;
	epoll_ctl(e->epfd, EPOLL_CTL_ADD, e->stopfd, &ev);
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
	struct pollfd none = { .fd = -1 };

	while (__atomic_load_n(&e->open, __ATOMIC_RELAXED) != want && now_ms() < end)
		poll(&none, 0, 10);
	return __atomic_load_n(&e->open, __ATOMIC_RELAXED) == want;
}

static struct echo_srv echo;

/* ---- the relay ---- */

static unsigned ev_n[MAX_ID][4];
static char ev_msg[MAX_ID][4][160];

static void quiet_log(int level, const char *msg)
{
	if (level <= LOG_WARNING || getenv("TCP_RELAY_TEST_VERBOSE") != NULL)
		fprintf(stderr, "  [relay %d] %s\n", level, msg);
}

static bool ev_wait(struct tcp_relay *r, uint64_t id, enum tcp_event_kind kind, unsigned count,
		int ms)
{
	struct pollfd pfd = { .fd = tcp_relay_event_fd(r), .events = POLLIN };
	int64_t end = now_ms() + ms;
	struct tcp_event ev[64];
	unsigned n;

	for (;;) {
		while ((n = tcp_relay_drain(r, ev, 64)) > 0)
			for (unsigned i = 0; i < n; i++)
				if (ev[i].id < MAX_ID) {
					ev_n[ev[i].id][ev[i].kind]++;
					memcpy(ev_msg[ev[i].id][ev[i].kind], ev[i].message,
						sizeof(ev[i].message));
				}
		if (ev_n[id][kind] >= count)
			return true;
		if (now_ms() >= end)
			return false;
		poll(&pfd, 1, 50);
	}
}

static struct tcp_relay *start(unsigned per_session)
{
	struct tcp_relay_config cfg = { .max_conns_per_session = per_session };
	char err[256] = "";
	struct tcp_relay *r = tcp_relay_start(&cfg, err, sizeof(err));

	if (r == NULL) {
		fprintf(stderr, "tcp_relay_start: %s\n", err);
		exit(1);
	}
	return r;
}

static uint16_t add(struct tcp_relay *r, uint64_t id, uint32_t idle_ms, const char *dev)
{
	struct tcp_sess_params p = {
		.id = id, .listen_addr = lo_addr, .forward_addr = lo_addr,
		.dest_addr = lo_addr, .dest_port = echo.port, .idle_timeout_ms = idle_ms,
		.bind_dev = dev,
	};
	char err[256] = "";
	uint16_t port = 0;
	int rc;

	rc = tcp_relay_add(r, &p, &port, err, sizeof(err));
	if (rc != 0)
		fprintf(stderr, "add %" PRIu64 ": %d %s\n", id, rc, err);
	CHECK(rc == 0 && port != 0);
	return port;
}

static struct tcp_stats stats(struct tcp_relay *r, uint64_t id)
{
	struct tcp_stats st;

	memset(&st, 0, sizeof(st));
	CHECK(tcp_relay_stats(r, id, &st) == 0);
	return st;
}

static struct tcp_relay_counters counters(struct tcp_relay *r)
{
	struct tcp_relay_counters c;

	tcp_relay_counters(r, &c);
	return c;
}

/*
 * The relay's destination legs open now: this process holds every socket of the relay, and
 * those are the only ones whose peer is the echo server (its own accepted sockets have the echo
 * port as their local port). Up to max fds into fds; how many there are.
 */
static int relay_dest_legs(int *fds, int max)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	if (d == NULL)
		return -1;
	while ((e = readdir(d)) != NULL) {
		int fd = atoi(e->d_name);

		if (e->d_name[0] == '.' || fd == dirfd(d) || port_of(fd, true) != echo.port)
			continue;
		if (n < max)
			fds[n] = fd;
		n++;
	}
	closedir(d);
	return n;
}

/* SO_BINDTODEVICE of fd ("" when unbound); false when getsockopt fails. */
static bool bound_dev(int fd, char *dev, size_t n)
{
	socklen_t len = (socklen_t)n - 1;

	memset(dev, 0, n);
	return getsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, dev, &len) == 0;
}

/* ---- the tests ---- */

#define PER_SESSION 3

/* The (N+1)th client of a session is accepted and reset; N relay; other sessions unaffected. */
static void test_per_session_limit(void)
{
	struct tcp_relay *r = start(PER_SESSION);
	uint16_t pa = add(r, 1, 0, ""), pb = add(r, 2, 0, "");
	int a[PER_SESSION + 1], b[PER_SESSION], late;
	struct tcp_stats st;

	for (int i = 0; i < PER_SESSION; i++) {
		a[i] = client(pa);
		CHECK(a[i] >= 0 && echo_ok(a[i], "within the session's limit"));
	}
	a[PER_SESSION] = client(pa);    /* the kernel completes the handshake, the relay resets */
	CHECK(a[PER_SESSION] >= 0);
	CHECK(ended_how(a[PER_SESSION], 3000) == 'R');
	st = stats(r, 1);
	CHECK_EQ_U(st.conns_rejected, 1);
	CHECK_EQ_U(st.connections_total, PER_SESSION);
	CHECK_EQ_U(st.connections_open, PER_SESSION);
	CHECK_EQ_U(counters(r).rejected_session_limit, 1);
	CHECK_EQ_U(counters(r).rejected_limit, 0);
	for (int i = 0; i < PER_SESSION; i++)
		CHECK(echo_ok(a[i], "the others live on"));
	/* the limit is per session: another session takes its own PER_SESSION */
	for (int i = 0; i < PER_SESSION; i++) {
		b[i] = client(pb);
		CHECK(b[i] >= 0 && echo_ok(b[i], "another session"));
	}
	CHECK_EQ_U(stats(r, 2).conns_rejected, 0);
	/* one of the first session's clients leaves: the next one is served */
	close(a[0]);
	CHECK(ev_wait(r, 1, TCP_EV_CLOSED, 1, 3000));
	late = client(pa);
	CHECK(late >= 0 && echo_ok(late, "room again"));
	CHECK_EQ_U(stats(r, 1).connections_total, PER_SESSION + 1);
	CHECK_EQ_U(stats(r, 1).conns_rejected, 1);
	for (int i = 1; i <= PER_SESSION; i++)
		close(a[i]);
	for (int i = 0; i < PER_SESSION; i++)
		close(b[i]);
	close(late);
	CHECK(tcp_relay_remove(r, 1, &st) == 0);
	CHECK_EQ_U(st.conns_rejected, 1);       /* the final counters keep it */
	CHECK(tcp_relay_remove(r, 2, &st) == 0);
	tcp_relay_stop(r);
	CHECK(echo_settle(&echo, 0, 3000));
}

#define IDLE_MS 400

/*
 * A connection idle for the session's timeout is reset (client and destination legs), while a
 * busy one on the same session and an idle one on a session without a timeout go on.
 */
static void test_idle_reset(void)
{
	struct tcp_relay *r = start(0);
	uint16_t pi = add(r, 3, IDLE_MS, ""), pn = add(r, 4, 0, "");
	int idle = client(pi), busy = client(pi), forever = client(pn);
	int resets0 = __atomic_load_n(&echo.resets, __ATOMIC_RELAXED);
	int64_t t_send, t0, end, waited;
	char how = 'T';
	unsigned rounds = 0;

	CHECK(idle >= 0 && busy >= 0 && forever >= 0);
	CHECK(echo_ok(busy, "up") && echo_ok(forever, "up"));
	t_send = now_ms();      /* the idle connection's last byte moves after this... */
	CHECK(echo_ok(idle, "up"));
	t0 = now_ms();          /* ...and before this */
	end = t0 + IDLE_MS * 10;
	/* keep the busy one busy (a byte each way every 50 ms) until the idle one is reset */
	while (now_ms() < end && (how = ended_how(idle, 50)) == 'T') {
		CHECK(echo_ok(busy, "x"));
		rounds++;
	}
	waited = now_ms() - t0;
	CHECK(how == 'R');
	CHECK(now_ms() - t_send >= IDLE_MS - 1);        /* never early (ms clocks: a tick off) */
	CHECK(waited < IDLE_MS * 5);
	printf("  idle connection reset after %" PRId64 " ms (timeout %d ms), busy one: %u "
		"exchanges meanwhile\n", waited, IDLE_MS, rounds);
	CHECK(echo_ok(busy, "still relayed"));
	CHECK(echo_ok(forever, "no timeout, no reset"));
	/* its destination leg was reset too */
	end = now_ms() + 3000;
	while (__atomic_load_n(&echo.resets, __ATOMIC_RELAXED) == resets0 && now_ms() < end)
		poll(NULL, 0, 10);
	CHECK_EQ_U(__atomic_load_n(&echo.resets, __ATOMIC_RELAXED) - resets0, 1);
	CHECK_EQ_U(stats(r, 3).idle_resets, 1);
	CHECK_EQ_U(stats(r, 3).connections_open, 1);
	CHECK_EQ_U(stats(r, 4).idle_resets, 0);
	CHECK_EQ_U(counters(r).idle_resets, 1);
	CHECK(ev_wait(r, 3, TCP_EV_CLOSED, 1, 1000));
	CHECK(strstr(ev_msg[3][TCP_EV_CLOSED], "idle") != NULL);
	/* left alone, the busy one goes the same way; the session (its listener) stays */
	CHECK(ended_how(busy, IDLE_MS * 10) == 'R');
	CHECK_EQ_U(stats(r, 3).idle_resets, 2);
	close(idle);
	close(busy);
	idle = client(pi);
	CHECK(idle >= 0 && echo_ok(idle, "the session still takes clients"));
	close(idle);
	close(forever);
	CHECK(tcp_relay_remove(r, 3, NULL) == 0);
	CHECK(tcp_relay_remove(r, 4, NULL) == 0);
	tcp_relay_stop(r);
	CHECK(echo_settle(&echo, 0, 3000));
}

/*
 * Destination legs carry SO_BINDTODEVICE = the session's bind_dev ("lo" on loopback), none
 * without one; an interface that does not exist fails the connection with a message naming
 * it, and nothing leaks.
 */
static void test_bind_dev(void)
{
	struct tcp_relay *r = start(0);
	char dev[IFNAMSIZ + 1], want[200];
	int fds[4], c, fd_base;
	uint16_t port;

	port = add(r, 5, 0, "lo");
	c = client(port);
	CHECK(c >= 0 && echo_ok(c, "through lo"));
	CHECK_EQ_U(relay_dest_legs(fds, 4), 1);
	CHECK(bound_dev(fds[0], dev, sizeof(dev)));
	CHECK(strcmp(dev, "lo") == 0);
	close(c);
	CHECK(ev_wait(r, 5, TCP_EV_CLOSED, 1, 3000));
	CHECK(tcp_relay_remove(r, 5, NULL) == 0);

	port = add(r, 6, 0, "");
	c = client(port);
	CHECK(c >= 0 && echo_ok(c, "unbound"));
	CHECK_EQ_U(relay_dest_legs(fds, 4), 1);
	CHECK(bound_dev(fds[0], dev, sizeof(dev)));
	CHECK(strcmp(dev, "") == 0);
	close(c);
	CHECK(ev_wait(r, 6, TCP_EV_CLOSED, 1, 3000));
	CHECK(tcp_relay_remove(r, 6, NULL) == 0);

	/* a name the kernel could not hold is refused up front, naming the field */
	{
		struct tcp_sess_params p = { .id = 8, .listen_addr = lo_addr, .forward_addr = lo_addr,
			.dest_addr = lo_addr, .dest_port = echo.port, .bind_dev = "sixteen-bytes-xx" };
		char err[200] = "";
		struct tcp_stats st;
		uint16_t bp;

		CHECK(tcp_relay_add(r, &p, &bp, err, sizeof(err)) == -EINVAL);
		CHECK(strcmp(err, "forward_endpoint: interface name \"sixteen-bytes-xx\" is longer "
			"than 15 bytes") == 0);
		CHECK(tcp_relay_stats(r, 8, &st) == -ENOENT);
	}

	/* no such interface: the client is reset, FAILED names the field and the interface */
	CHECK(echo_settle(&echo, 0, 3000));
	port = add(r, 7, 0, "rtpnone9");
	fd_base = open_fds();   /* with its listener */
	c = client(port);
	CHECK(c >= 0);
	CHECK(ended_how(c, 3000) == 'R');
	CHECK(ev_wait(r, 7, TCP_EV_FAILED, 1, 3000));
	snprintf(want, sizeof(want), "forward_endpoint: 127.0.0.1:0: interface \"rtpnone9\": %s",
		strerror(ENODEV));
	if (strcmp(ev_msg[7][TCP_EV_FAILED], want) != 0)
		fprintf(stderr, "got \"%s\", want \"%s\"\n", ev_msg[7][TCP_EV_FAILED], want);
	CHECK(strcmp(ev_msg[7][TCP_EV_FAILED], want) == 0);
	CHECK(ev_wait(r, 7, TCP_EV_CLOSED, 1, 3000));
	CHECK_EQ_U(counters(r).connect_failed, 1);
	CHECK_EQ_U(counters(r).connections_open, 0);
	CHECK_EQ_U(echo.open, 0);               /* nothing reached the destination */
	close(c);
	CHECK_EQ_U(fds_settle(fd_base, 3000), fd_base);
	CHECK(tcp_relay_remove(r, 7, NULL) == 0);
	tcp_relay_stop(r);
}

/* The deadline heap against a brute-force minimum: adds, moves and removes in random order. */
static void test_deadline_heap(void)
{
	enum { N = 500 };
	static struct dl_node node[N];
	struct dl_heap h = { 0 };
	uint64_t x = 88172645463325252ULL;
	unsigned bad = 0;

	for (int i = 0; i < N; i++)
		dl_node_init(&node[i]);
	for (int step = 0; step < 20000; step++) {
		struct dl_node *n, *min = NULL;
		int64_t at;

		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		n = &node[x % N];
		at = (int64_t)((x >> 20) % 100000);
		if (n->idx == DL_NONE)
			CHECK(dl_heap_add(&h, n, at) == 0);
		else if ((x >> 40) % 3 == 0)
			dl_heap_remove(&h, n);
		else
			dl_heap_move(&h, n, at);
		for (int i = 0; i < N; i++)
			if (node[i].idx != DL_NONE && (min == NULL || node[i].at < min->at))
				min = &node[i];
		if (min == NULL ? dl_heap_top(&h) != NULL : dl_heap_top(&h)->at != min->at)
			bad++;
	}
	CHECK_EQ_U(bad, 0);
	/* emptied in deadline order */
	for (int64_t last = INT64_MIN; dl_heap_top(&h) != NULL; ) {
		struct dl_node *t = dl_heap_top(&h);

		CHECK(t->at >= last);
		last = t->at;
		dl_heap_remove(&h, t);
		CHECK(t->idx == DL_NONE);
	}
	CHECK_EQ_U(h.n, 0);
	dl_heap_free(&h);
}

#define RUN(call) do { \
	int64_t _t = now_ms(); \
	unsigned _f = check_failed; \
	call; \
	printf("%-32s %s (%" PRId64 " ms)\n", #call, check_failed == _f ? "ok" : "FAILED", \
		now_ms() - _t); \
	fflush(stdout); \
} while (0)

int main(void)
{
	int fd_start;

	setvbuf(stdout, NULL, _IOLBF, 0);
	lo = htonl(INADDR_LOOPBACK);
	tcp_relay_set_log(quiet_log);
	echo_start(&echo);
	fd_start = open_fds();
	RUN(test_deadline_heap());
	RUN(test_per_session_limit());
	RUN(test_idle_reset());
	RUN(test_bind_dev());
	CHECK_EQ_U(fds_settle(fd_start, 3000), fd_start);
	echo_stop(&echo);
	return check_summary("test_tcp_limits");
}
