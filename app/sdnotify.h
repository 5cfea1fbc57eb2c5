/*
 * systemd's readiness and watchdog notifications (sd_notify(3)), without libsystemd.
 * Outside systemd ($NOTIFY_SOCKET unset) every call does nothing.
 */
#ifndef RTPPROXY_SDNOTIFY_H
#define RTPPROXY_SDNOTIFY_H

#include <stdint.h>

/*
 * Send STATE ("READY=1", "STOPPING=1", "WATCHDOG=1", newline-separated KEY=VALUE lines) to
 * $NOTIFY_SOCKET. 1 sent, 0 not under a service manager, -1 failed (errno set).
 */
int sdnotify(const char *state);

/* The watchdog period the service manager asks for, in microseconds; 0 = none. */
uint64_t sdnotify_watchdog_usec(void);

/*
 * From the control loop, with a monotonic NOW_MS: WATCHDOG=1 when half the period has passed
 * since the last one (the first call sends at once). Nothing without a watchdog.
 */
void sdnotify_watchdog(int64_t now_ms);

/* Forget the watchdog period read from the environment (tests change it). */
void sdnotify_watchdog_reset(void);

#endif
