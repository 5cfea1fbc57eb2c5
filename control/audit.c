/*
 * The audit trail (see audit.h). A line is written with one write(2) on an O_APPEND file, so
 * lines never interleave, and a reopen after logrotate moved the file starts a new one.
 */
#include "audit.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct audit {
	char *path;               /* NULL: lines go to log_fn */
	int fd;
	audit_log_fn log_fn;
	uint64_t errors;
};

static const char *const code_names[] = {
	"OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED", "NOT_FOUND",
	"ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION",
	"ABORTED", "OUT_OF_RANGE", "UNIMPLEMENTED", "INTERNAL", "UNAVAILABLE", "DATA_LOSS",
	"UNAUTHENTICATED",
};

const char *audit_code_name(int code)
{
	if (code >= 0 && (size_t)code < sizeof(code_names) / sizeof(code_names[0]))
		return code_names[code];
	return "UNKNOWN";
}

int64_t audit_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int open_file(const char *path, char *err, size_t errlen)
{
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, 0640);

	if (fd < 0)
		snprintf(err, errlen, "[audit] file: cannot open %s: %s", path, strerror(errno));
	return fd;
}

struct audit *audit_open(const char *path, audit_log_fn log_fn, char *err, size_t errlen)
{
	struct audit *a = calloc(1, sizeof(*a));

	if (a == NULL) {
		snprintf(err, errlen, "[audit] file: out of memory");
		return NULL;
	}
	a->fd = -1;
	a->log_fn = log_fn;
	if (path == NULL || path[0] == '\0')
		return a;
	a->path = strdup(path);
	if (a->path == NULL) {
		snprintf(err, errlen, "[audit] file: out of memory");
		free(a);
		return NULL;
	}
	a->fd = open_file(path, err, errlen);
	if (a->fd < 0) {
		audit_close(a);
		return NULL;
	}
	return a;
}

int audit_reopen(struct audit *a, char *err, size_t errlen)
{
	if (a->path == NULL)
		return 0;
	int fd = open_file(a->path, err, errlen);
	if (fd < 0)
		return -1;
	close(a->fd);
	a->fd = fd;
	return 0;
}

void audit_close(struct audit *a)
{
	if (a == NULL)
		return;
	if (a->fd >= 0)
		close(a->fd);
	free(a->path);
	free(a);
}

uint64_t audit_errors(const struct audit *a)
{
	return a->errors;
}

/* A JSON string (quotes included) of at most AUDIT_FIELD_MAX bytes of s; false if no room. */
static bool put_string(char *buf, size_t len, size_t *off, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	size_t o = *off;

	if (s == NULL)
		s = "";
	if (o + 1 >= len)
		return false;
	buf[o++] = '"';
	for (size_t i = 0; s[i] != '\0' && i < AUDIT_FIELD_MAX; i++) {
		unsigned char c = (unsigned char)s[i];
		char esc = c == '"' ? '"' : c == '\\' ? '\\' : c == '\n' ? 'n' : c == '\r' ? 'r'
				: c == '\t' ? 't' : 0;
		if (esc != 0) {
			if (o + 2 >= len)
				return false;
			buf[o++] = '\\';
			buf[o++] = esc;
		} else if (c < 0x20 || c >= 0x7f) {
			/* control bytes and anything not ASCII: \u00XX keeps the line valid JSON */
			if (o + 6 >= len)
				return false;
			memcpy(buf + o, "\\u00", 4);
			buf[o + 4] = hex[c >> 4];
			buf[o + 5] = hex[c & 15];
			o += 6;
		} else {
			if (o + 1 >= len)
				return false;
			buf[o++] = (char)c;
		}
	}
	if (o + 1 >= len)
		return false;
	buf[o++] = '"';
	*off = o;
	return true;
}

static bool put_raw(char *buf, size_t len, size_t *off, const char *s)
{
	size_t n = strlen(s);

	if (*off + n >= len)
		return false;
	memcpy(buf + *off, s, n);
	*off += n;
	return true;
}

size_t audit_format(char *buf, size_t len, const struct audit_record *r)
{
	char ts[32];
	size_t o = 0;

	snprintf(ts, sizeof(ts), "{\"ts\":%" PRId64 ",\"peer\":", r->ts_ms);
	bool ok = put_raw(buf, len, &o, ts) && put_string(buf, len, &o, r->peer)
		&& put_raw(buf, len, &o, ",\"principal\":") && put_string(buf, len, &o, r->principal)
		&& put_raw(buf, len, &o, ",\"method\":") && put_string(buf, len, &o, r->method)
		&& put_raw(buf, len, &o, ",\"session_id\":") && put_string(buf, len, &o, r->session_id)
		&& put_raw(buf, len, &o, ",\"code\":")
		&& put_string(buf, len, &o, audit_code_name(r->code))
		&& put_raw(buf, len, &o, "}\n");
	if (!ok)
		return 0;
	buf[o] = '\0';
	return o;
}

int audit_write(struct audit *a, const struct audit_record *r)
{
	char line[AUDIT_LINE_MAX];
	size_t n = audit_format(line, sizeof(line), r);

	if (n == 0) {
		a->errors++;
		return -1;
	}
	if (a->fd < 0) {
		line[n - 1] = '\0';
		if (a->log_fn != NULL)
			a->log_fn(line);
		return 0;
	}
	ssize_t w;
	do
		w = write(a->fd, line, n);
	while (w < 0 && errno == EINTR);
	if (w != (ssize_t)n) {
		a->errors++;
		return -1;
	}
	return 0;
}
