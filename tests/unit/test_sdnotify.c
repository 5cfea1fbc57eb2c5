/*
 * app/sdnotify.c against real AF_UNIX datagram sockets standing in for systemd: the exact
 * bytes of READY=1/STOPPING=1 on a path socket and an abstract one, nothing outside systemd,
 * bad $NOTIFY_SOCKET values, $WATCHDOG_USEC/$WATCHDOG_PID, and WATCHDOG=1's cadence.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "check.h"
#include "sdnotify.h"

/* A datagram socket bound to NAME ('@' = abstract), as systemd's notify socket is. */
static int listener(const char *name)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	size_t len = strlen(name);
	memcpy(sa.sun_path, name, len);
	if (name[0] == '@')
		sa.sun_path[0] = '\0';
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa,
			(socklen_t)(offsetof(struct sockaddr_un, sun_path) + len)) != 0) {
		perror("listener");
		exit(1);
	}
	return fd;
}

/* The next datagram, or "" when none is waiting (never blocks). */
static const char *next_msg(int fd)
{
	static char buf[256];
	ssize_t n = recv(fd, buf, sizeof(buf) - 1, MSG_DONTWAIT);
	buf[n > 0 ? n : 0] = '\0';
	return buf;
}

static unsigned pending(int fd)
{
	unsigned n = 0;
	while (next_msg(fd)[0] != '\0')
		n++;
	return n;
}

static void test_outside_systemd(void)
{
	unsetenv("NOTIFY_SOCKET");
	CHECK(sdnotify("READY=1") == 0);
	setenv("NOTIFY_SOCKET", "", 1);
	CHECK(sdnotify("READY=1") == 0);
}

static void test_path_socket(const char *path)
{
	int fd = listener(path);
	setenv("NOTIFY_SOCKET", path, 1);
	CHECK(sdnotify("READY=1") == 1);
	CHECK(strcmp(next_msg(fd), "READY=1") == 0);
	CHECK(sdnotify("STOPPING=1\nSTATUS=shutting down") == 1);
	CHECK(strcmp(next_msg(fd), "STOPPING=1\nSTATUS=shutting down") == 0);
	CHECK_EQ_U(pending(fd), 0);
	close(fd);
	unlink(path);
	/* the socket is gone: an error, not a crash or a hang */
	errno = 0;
	CHECK(sdnotify("READY=1") == -1);
	CHECK(errno == ENOENT || errno == ECONNREFUSED);
}

static void test_abstract_socket(void)
{
	char name[64];
	snprintf(name, sizeof(name), "@rtpproxy-test-sdnotify-%d", (int)getpid());
	int fd = listener(name);
	setenv("NOTIFY_SOCKET", name, 1);
	CHECK(sdnotify("READY=1") == 1);
	CHECK(strcmp(next_msg(fd), "READY=1") == 0);
	close(fd);
	errno = 0;
	CHECK(sdnotify("READY=1") == -1);
	CHECK(errno == ECONNREFUSED);
}

static void test_bad_socket_names(void)
{
	char longname[200];
	memset(longname, 'x', sizeof(longname) - 1);
	longname[0] = '/';
	longname[sizeof(longname) - 1] = '\0';
	const char *bad[] = { "relative/path", "vsock:2:1234", longname };
	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		setenv("NOTIFY_SOCKET", bad[i], 1);
		errno = 0;
		CHECK(sdnotify("READY=1") == -1);
		CHECK(errno == EINVAL);
	}
}

static void test_watchdog_usec(void)
{
	char pid[32];
	snprintf(pid, sizeof(pid), "%d", (int)getpid());
	unsetenv("WATCHDOG_PID");
	unsetenv("WATCHDOG_USEC");
	CHECK_EQ_U(sdnotify_watchdog_usec(), 0);
	setenv("WATCHDOG_USEC", "30000000", 1);
	CHECK_EQ_U(sdnotify_watchdog_usec(), 30000000);
	setenv("WATCHDOG_PID", pid, 1);
	CHECK_EQ_U(sdnotify_watchdog_usec(), 30000000);
	setenv("WATCHDOG_PID", "1", 1);                 /* another process's watchdog */
	CHECK_EQ_U(sdnotify_watchdog_usec(), 0);
	unsetenv("WATCHDOG_PID");
	const char *bad[] = { "", "-5", "12x", "x", "99999999999999999999999" };
	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		setenv("WATCHDOG_USEC", bad[i], 1);
		CHECK_EQ_U(sdnotify_watchdog_usec(), 0);
	}
}

/* WATCHDOG=1 at once, then every half period: exact counts for a known clock. */
static void test_watchdog_cadence(const char *path)
{
	int fd = listener(path);
	setenv("NOTIFY_SOCKET", path, 1);
	unsetenv("WATCHDOG_PID");

	unsetenv("WATCHDOG_USEC");              /* no watchdog asked: never a message */
	sdnotify_watchdog_reset();
	for (int64_t t = 0; t < 10000; t += 10)
		sdnotify_watchdog(t);
	CHECK_EQ_U(pending(fd), 0);

	setenv("WATCHDOG_USEC", "200000", 1);   /* 200 ms: one every 100 ms */
	sdnotify_watchdog_reset();
	sdnotify_watchdog(1000);
	CHECK(strcmp(next_msg(fd), "WATCHDOG=1") == 0);
	sdnotify_watchdog(1050);
	sdnotify_watchdog(1099);
	CHECK_EQ_U(pending(fd), 0);
	sdnotify_watchdog(1100);
	CHECK(strcmp(next_msg(fd), "WATCHDOG=1") == 0);
	for (int64_t t = 1110; t <= 2100; t += 10)      /* 1200, 1300 ... 2100 */
		sdnotify_watchdog(t);
	CHECK_EQ_U(pending(fd), 10);
	sdnotify_watchdog(500);                         /* the clock went back: send, restart */
	CHECK_EQ_U(pending(fd), 1);
	sdnotify_watchdog(599);
	CHECK_EQ_U(pending(fd), 0);

	setenv("WATCHDOG_USEC", "1000", 1);     /* below 2 ms: every millisecond, not a busy 0 */
	sdnotify_watchdog_reset();
	for (int64_t t = 0; t < 5; t++)
		sdnotify_watchdog(t);
	CHECK_EQ_U(pending(fd), 5);
	close(fd);
	unlink(path);
}

int main(void)
{
	char dir[] = "/tmp/test_sdnotify.XXXXXX", path[128];
	if (mkdtemp(dir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	snprintf(path, sizeof(path), "%s/notify", dir);

	test_outside_systemd();
	test_path_socket(path);
	test_abstract_socket();
	test_bad_socket_names();
	test_watchdog_usec();
	test_watchdog_cadence(path);
	rmdir(dir);
	return check_summary("sdnotify");
}
