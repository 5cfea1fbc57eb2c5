/*
 * The audit trail of the control API: one JSON line per mutating or refused call, to
 * [audit] file (appended, reopened on SIGHUP for logrotate) or, with no file, to a log
 * function (rtpproxy's rte_log type "rtpproxy.audit"). Plain C: no grpc, no DPDK.
 *
 *   {"ts":1764628800123,"peer":"127.0.0.1:40000","principal":"ops","method":"CreateSession",
 *    "session_id":"...","code":"OK"}
 */
#ifndef RTPPROXY_AUDIT_H
#define RTPPROXY_AUDIT_H

#include <stddef.h>
#include <stdint.h>

#define AUDIT_FIELD_MAX 256       /* bytes of a field written at most (longer ones are cut) */
#define AUDIT_LINE_MAX 8192       /* 4 fields of AUDIT_FIELD_MAX, each escaped up to 6x */

struct audit_record {
	int64_t ts_ms;                /* unix time, milliseconds */
	const char *peer;             /* "1.2.3.4:5", "[::1]:5", "unix" */
	const char *principal;        /* token NAME, client certificate CN, or "" */
	const char *method;           /* "CreateSession" (RtpProxy's), else the full path */
	const char *session_id;       /* "" when there is none */
	int code;                     /* a grpc_status_code */
};

/* Where lines go when there is no file: called with the line, without its newline. */
typedef void (*audit_log_fn)(const char *line);

struct audit;

/* Open PATH for appending (created 0640), or log through log_fn when PATH is "" or NULL. */
struct audit *audit_open(const char *path, audit_log_fn log_fn, char *err, size_t errlen);
/* Reopen the file (it may have been moved away): 0, or -1 with err (the old one is kept). */
int audit_reopen(struct audit *a, char *err, size_t errlen);
/* Write one record; -1 if the file write failed (counted in audit_errors). */
int audit_write(struct audit *a, const struct audit_record *r);
uint64_t audit_errors(const struct audit *a);
void audit_close(struct audit *a);

/* The JSON line of r (with "\n") into buf; its length (< len), or 0 if it does not fit. */
size_t audit_format(char *buf, size_t len, const struct audit_record *r);
/* "OK", "UNAUTHENTICATED", ... (gRPC's names); "UNKNOWN" for codes it does not know. */
const char *audit_code_name(int code);
/* Unix time in milliseconds. */
int64_t audit_now_ms(void);

#endif
