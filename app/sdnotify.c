/*
 * The sd_notify protocol by hand: one datagram of "KEY=VALUE" lines to the AF_UNIX socket
 * named by $NOTIFY_SOCKET (a path, or '@' and a name in the abstract namespace). The
 * appliance has no other use for libsystemd, so it does not link it.
 */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "sdnotify.h"

int sdnotify(const char *state)
{
	const char *path = getenv("NOTIFY_SOCKET");
	if (path == NULL || path[0] == '\0')
		return 0;

	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	size_t len = strlen(path);
	if ((path[0] != '/' && path[0] != '@') || len >= sizeof(sa.sun_path)) {
		errno = EINVAL;
		return -1;
	}
	memcpy(sa.sun_path, path, len);
	if (path[0] == '@')
		sa.sun_path[0] = '\0';          /* abstract: the name is the bytes after the NUL */
	socklen_t salen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len);

	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	size_t n = strlen(state);
	ssize_t sent = sendto(fd, state, n, MSG_NOSIGNAL, (struct sockaddr *)&sa, salen);
	int saved = errno;
	close(fd);
	errno = saved;
	return sent == (ssize_t)n ? 1 : -1;
}

uint64_t sdnotify_watchdog_usec(void)
{
	const char *usec = getenv("WATCHDOG_USEC");
	const char *pid = getenv("WATCHDOG_PID");
	char *end;

	if (usec == NULL || usec[0] < '0' || usec[0] > '9')
		return 0;
	/* WATCHDOG_PID, when set, says which process the watchdog is for: another's is not ours */
	if (pid != NULL && pid[0] != '\0') {
		errno = 0;
		unsigned long p = strtoul(pid, &end, 10);
		if (errno != 0 || *end != '\0' || p != (unsigned long)getpid())
			return 0;
	}
	errno = 0;
	unsigned long long v = strtoull(usec, &end, 10);
	if (errno != 0 || *end != '\0')
		return 0;
	return v;
}

static int64_t wd_period_ms = -1;      /* half of WATCHDOG_USEC; -1 not read yet, 0 none */
static int64_t wd_last_ms;

void sdnotify_watchdog_reset(void)
{
	wd_period_ms = -1;
}

void sdnotify_watchdog(int64_t now_ms)
{
	if (wd_period_ms < 0) {
		uint64_t usec = sdnotify_watchdog_usec();
		wd_period_ms = usec == 0 ? 0 : (int64_t)(usec / 2000 > 0 ? usec / 2000 : 1);
		if (wd_period_ms == 0)
			return;
		wd_last_ms = now_ms;
		sdnotify("WATCHDOG=1");
		return;
	}
	if (wd_period_ms == 0)
		return;
	if (now_ms - wd_last_ms >= wd_period_ms || now_ms < wd_last_ms) {
		wd_last_ms = now_ms;
		sdnotify("WATCHDOG=1");
	}
}
