/*
 * The bearer-token table, method roles and peer checks of the control API (see auth.h).
 * Nothing here prints or returns a token: messages name the file and line only.
 */
#include "auth.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#define LINE_MAX_LEN 1024

/* ---- the tokens file ---- */

void auth_tokens_free(struct auth_tokens *t)
{
	if (t == NULL)
		return;
	if (t->v != NULL) {
		/* the secrets do not outlive the table in freed memory */
		memset(t->v, 0, sizeof(*t->v) * t->n);
		free(t->v);
	}
	free(t);
}

static bool printable_word(const char *s)
{
	for (; *s != '\0'; s++)
		if (!isgraph((unsigned char)*s))
			return false;
	return true;
}

/* One "TOKEN ROLE NAME" line into e; NULL on success, else what was wrong. */
static const char *parse_line(char *line, struct auth_token *e)
{
	char *save = NULL;
	char *tok = strtok_r(line, " \t", &save);
	char *role = strtok_r(NULL, " \t", &save);
	char *name = strtok_r(NULL, " \t", &save);

	if (tok == NULL || role == NULL || name == NULL || strtok_r(NULL, " \t", &save) != NULL)
		return "expected \"TOKEN ROLE NAME\" (three words)";
	size_t len = strlen(tok);
	if (len < AUTH_TOKEN_MIN || len > AUTH_TOKEN_MAX || !printable_word(tok))
		return "TOKEN: expected 16..256 printable characters";
	if (strcmp(role, "admin") == 0)
		e->role = AUTH_ROLE_ADMIN;
	else if (strcmp(role, "read") == 0)
		e->role = AUTH_ROLE_READ;
	else
		return "ROLE: expected admin or read";
	if (strlen(name) >= AUTH_NAME_MAX || !printable_word(name))
		return "NAME: expected 1..63 printable characters";
	memcpy(e->token, tok, len + 1);
	e->len = len;
	snprintf(e->name, sizeof(e->name), "%s", name);
	return NULL;
}

static int add_entry(struct auth_tokens *t, const struct auth_token *e, unsigned *cap)
{
	if (t->n == *cap) {
		unsigned ncap = *cap ? *cap * 2 : 8;
		struct auth_token *v = calloc(ncap, sizeof(*v));
		if (v == NULL)
			return -1;
		if (t->n > 0)
			memcpy(v, t->v, sizeof(*v) * t->n);
		if (t->v != NULL) {
			memset(t->v, 0, sizeof(*t->v) * t->n);
			free(t->v);
		}
		t->v = v;
		*cap = ncap;
	}
	t->v[t->n++] = *e;
	return 0;
}

struct auth_tokens *auth_tokens_load(const char *file, char *err, size_t errlen)
{
	struct auth_tokens *t = calloc(1, sizeof(*t));
	char line[LINE_MAX_LEN + 2];
	unsigned cap = 0, lineno = 0;
	FILE *f = NULL;

	if (t == NULL) {
		snprintf(err, errlen, "%s: out of memory", file);
		return NULL;
	}
	f = fopen(file, "re");
	if (f == NULL) {
		snprintf(err, errlen, "%s: cannot open: %s", file, strerror(errno));
		goto fail;
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		struct auth_token e;
		size_t n = strlen(line);

		lineno++;
		if (n > LINE_MAX_LEN) {
			snprintf(err, errlen, "%s:%u: line longer than %d characters", file,
					lineno, LINE_MAX_LEN);
			goto fail;
		}
		while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
			line[--n] = '\0';
		char *p = line + strspn(line, " \t");
		if (*p == '\0' || *p == '#')
			continue;
		memset(&e, 0, sizeof(e));
		e.line = lineno;
		const char *why = parse_line(p, &e);
		if (why != NULL) {
			snprintf(err, errlen, "%s:%u: %s", file, lineno, why);
			goto fail;
		}
		for (unsigned i = 0; i < t->n; i++)
			if (auth_const_eq(t->v[i].token, t->v[i].len, e.token, e.len)) {
				snprintf(err, errlen, "%s:%u: the same token as line %u",
						file, lineno, t->v[i].line);
				memset(&e, 0, sizeof(e));
				goto fail;
			}
		int rc = add_entry(t, &e, &cap);
		memset(&e, 0, sizeof(e));
		if (rc != 0) {
			snprintf(err, errlen, "%s: out of memory", file);
			goto fail;
		}
	}
	if (ferror(f)) {
		snprintf(err, errlen, "%s: read error", file);
		goto fail;
	}
	if (t->n == 0) {
		snprintf(err, errlen, "%s: no tokens (every call would be refused)", file);
		goto fail;
	}
	fclose(f);
	memset(line, 0, sizeof(line));
	return t;

fail:
	if (f != NULL)
		fclose(f);
	memset(line, 0, sizeof(line));
	auth_tokens_free(t);
	return NULL;
}

bool auth_const_eq(const char *a, size_t la, const char *b, size_t lb)
{
	/* Walk all of a; b is read where it has bytes, and its length joins the difference. */
	unsigned char diff = la != lb;

	for (size_t i = 0; i < la; i++)
		diff |= (unsigned char)a[i] ^ (unsigned char)(i < lb ? b[i] : 0);
	return diff == 0;
}

const struct auth_token *auth_tokens_find(const struct auth_tokens *t, const char *presented,
		size_t len)
{
	const struct auth_token *found = NULL;

	if (t == NULL)
		return NULL;
	for (unsigned i = 0; i < t->n; i++)
		if (auth_const_eq(t->v[i].token, t->v[i].len, presented, len) && found == NULL)
			found = &t->v[i];
	return found;
}

bool auth_bearer(const char *value, size_t vlen, const char **tok, size_t *len)
{
	static const char scheme[] = "Bearer ";
	size_t sl = sizeof(scheme) - 1;

	if (vlen <= sl || strncasecmp(value, scheme, sl) != 0)
		return false;
	*tok = value + sl;
	*len = vlen - sl;
	while (*len > 0 && **tok == ' ') {
		(*tok)++;
		(*len)--;
	}
	return *len > 0;
}

/* ---- roles ---- */

/* Methods a read token may call; everything else (incl. methods added later) needs admin. */
static const char *const read_paths[] = {
	"/rtpproxy.RtpProxy/GetSessionStatus",
	"/rtpproxy.RtpProxy/ListSessions",
	"/rtpproxy.RtpProxy/StreamSessionEvents",
	"/rtpproxy.RtpProxy/GetProxyStats",
};

static const char *const read_prefixes[] = {
	"/grpc.health.v1.Health/",
	"/grpc.reflection.v1alpha.ServerReflection/",
	"/grpc.reflection.v1.ServerReflection/",
};

enum auth_role auth_role_needed(const char *path)
{
	for (size_t i = 0; i < sizeof(read_paths) / sizeof(read_paths[0]); i++)
		if (strcmp(path, read_paths[i]) == 0)
			return AUTH_ROLE_READ;
	for (size_t i = 0; i < sizeof(read_prefixes) / sizeof(read_prefixes[0]); i++)
		if (strncmp(path, read_prefixes[i], strlen(read_prefixes[i])) == 0)
			return AUTH_ROLE_READ;
	return AUTH_ROLE_ADMIN;
}

const char *auth_role_name(enum auth_role r)
{
	return r == AUTH_ROLE_ADMIN ? "admin" : "read";
}

/* ---- peers ---- */

static int hexval(char c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
		: c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* grpc gives the peer as a URI: "ipv6:%5B::1%5D:5". Decode %XX into out; -1 if malformed. */
static int percent_decode(const char *s, char *out, size_t outlen)
{
	size_t o = 0;

	for (; *s != '\0'; s++) {
		char c = *s;
		if (c == '%') {
			int hi = hexval(s[1]), lo = hi >= 0 ? hexval(s[2]) : -1;
			if (lo < 0 || (hi == 0 && lo == 0))
				return -1;
			c = (char)(hi << 4 | lo);
			s += 2;
		}
		if (o + 1 >= outlen)
			return -1;
		out[o++] = c;
	}
	out[o] = '\0';
	return 0;
}

int auth_peer_parse(const char *uri, struct auth_peer *p)
{
	char host[INET6_ADDRSTRLEN + 1], s[128];
	const char *h, *colon;
	char *end;

	memset(p, 0, sizeof(*p));
	if (strncmp(uri, "unix", 4) != 0 && percent_decode(uri, s, sizeof(s)) != 0)
		return -1;
	if (strncmp(uri, "unix", 4) == 0)
		snprintf(s, sizeof(s), "%.*s", 16, uri);      /* only its scheme matters */
	if (strncmp(s, "unix:", 5) == 0 || strncmp(s, "unix-abstract:", 14) == 0) {
		p->local = true;
		snprintf(p->text, sizeof(p->text), "unix");
		return 0;
	}
	if (strncmp(s, "ipv4:", 5) == 0) {
		h = s + 5;
		colon = strrchr(h, ':');
		if (colon == NULL || (size_t)(colon - h) >= sizeof(host))
			return -1;
		memcpy(host, h, (size_t)(colon - h));
		host[colon - h] = '\0';
		if (inet_pton(AF_INET, host, p->addr) != 1)
			return -1;
		p->family = AF_INET;
	} else if (strncmp(s, "ipv6:[", 6) == 0) {
		h = s + 6;
		const char *rb = strchr(h, ']');
		if (rb == NULL || rb[1] != ':' || (size_t)(rb - h) >= sizeof(host))
			return -1;
		memcpy(host, h, (size_t)(rb - h));
		host[rb - h] = '\0';
		char *pct = strchr(host, '%');         /* a link-local scope: not part of the address */
		if (pct != NULL)
			*pct = '\0';
		if (inet_pton(AF_INET6, host, p->addr) != 1)
			return -1;
		colon = rb + 1;
		static const uint8_t mapped[12] = { [10] = 0xff, [11] = 0xff };
		if (memcmp(p->addr, mapped, sizeof(mapped)) == 0) {
			memmove(p->addr, p->addr + 12, 4);
			memset(p->addr + 4, 0, 12);
			p->family = AF_INET;
		} else {
			p->family = AF_INET6;
		}
	} else {
		return -1;
	}
	errno = 0;
	unsigned long port = strtoul(colon + 1, &end, 10);
	if (colon[1] == '\0' || *end != '\0' || port > 65535 || errno != 0)
		return -1;
	p->port = (uint16_t)port;
	inet_ntop(p->family, p->addr, host, sizeof(host));
	if (p->family == AF_INET)
		snprintf(p->text, sizeof(p->text), "%s:%u", host, p->port);
	else
		snprintf(p->text, sizeof(p->text), "[%s]:%u", host, p->port);
	return 0;
}

static bool net_contains(const struct auth_net *n, int family, const uint8_t *addr)
{
	if (n->family != family)
		return false;
	unsigned bytes = n->len / 8, bits = n->len % 8;
	if (memcmp(n->addr, addr, bytes) != 0)
		return false;
	if (bits == 0)
		return true;
	uint8_t mask = (uint8_t)(0xff << (8 - bits));
	return (n->addr[bytes] & mask) == (addr[bytes] & mask);
}

bool auth_peer_allowed(const struct auth_peer *p, const struct auth_net *nets, unsigned n)
{
	if (p->local || n == 0)
		return true;
	for (unsigned i = 0; i < n; i++)
		if (net_contains(&nets[i], p->family, p->addr))
			return true;
	return false;
}
