/*
 * rtpproxyctl's command line: the usage text, the options every command shares, and the
 * parsers of option values (numbers, ADDR:PORT, enum names, KEY=VALUE lists).
 */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <grpc/grpc.h>

#include "rtpproxyctl.h"

const char usage_text[] =
"Usage: rtpproxyctl [--server HOST:PORT] [--json] [--timeout MS]\n"
"                   [--tls-ca FILE [--tls-cert FILE --tls-key FILE]] [--token-file FILE]\n"
"                   COMMAND [ARGS]\n"
"\n"
"Commands:\n"
"  create --listen ADDR:PORT --forward ADDR:PORT --destination ADDR:PORT\n"
"         [--id ID] [--tcp] [--rtcp] [--bidirectional] [--idle-timeout S]\n"
"         [--rate-pps N] [--rate-bps N] [--validate-rtp] [--label K=V ...]\n"
"         [--latch-mode ssrc|first|any] [--strict-source]\n"
"  destroy ID\n"
"  get ID\n"
"  list [--state S ...] [--transport udp|tcp ...] [--label K=V ...]\n"
"       [--page-size N] [--page-token T] [--all-pages]\n"
"  stats\n"
"  watch [--session ID] [--interval MS]\n"
"  health [--service NAME]   the grpc.health.v1 status: exit 0 if SERVING, else 1\n"
"\n"
"Options (also accepted after the command):\n"
"  --server HOST:PORT  the rtpproxy gRPC address (default " DEFAULT_SERVER ")\n"
"  --json              one JSON object per response or event (proto field names)\n"
"  --timeout MS        deadline of each call but watch (default 5000)\n"
"  --tls-ca FILE       speak TLS; the server's certificate must be signed by this CA (PEM)\n"
"  --tls-cert FILE, --tls-key FILE\n"
"                      the client's certificate and key (PEM), for mutual TLS\n"
"  --token-file FILE   send its token as \"authorization: Bearer TOKEN\" (the first word\n"
"                      of its first line that is not a comment); without it the token is\n"
"                      taken from the environment variable RTPPROXY_TOKEN, if set\n"
"  --help, --version\n"
"\n"
"Latching (where replies go when the client's source moves): ssrc (default) follows a\n"
"new source that carries the client's RTP SSRC, first never moves, any follows every one;\n"
"--strict-source drops listen-side packets from anyone but the latched source.\n"
"ADDR:PORT is 1.2.3.4:5 or [2001:db8::1]:5. States: created, connecting, active, error,\n"
"closed. Exit status: 0 ok, 1 the server (or grpc) answered an error, 2 usage error.\n";

int usage_error(const char *fmt, ...)
{
	va_list ap;

	fputs("rtpproxyctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("\nTry 'rtpproxyctl --help' for more information.\n", stderr);
	return EXIT_USAGE;
}

bool parse_u64(const char *s, uint64_t max, uint64_t *out)
{
	char *end;

	if (s[0] < '0' || s[0] > '9')
		return false;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno != 0 || *end != '\0' || v > max)
		return false;
	*out = v;
	return true;
}

/* "1.2.3.4:5" or "[::1]:5": the host without brackets, and the port. */
bool parse_hostport(const char *text, char *host, size_t hostlen, uint32_t *port)
{
	const char *colon = strrchr(text, ':');
	const char *h = text;
	size_t hl;
	uint64_t p;

	if (colon == NULL)
		return false;
	hl = (size_t)(colon - text);
	if (hl >= 2 && text[0] == '[' && text[hl - 1] == ']') {
		h++;
		hl -= 2;
	} else if (memchr(text, ':', hl) != NULL || memchr(text, '[', hl) != NULL) {
		return false;   /* IPv6 needs brackets */
	}
	if (hl == 0 || hl >= hostlen || !parse_u64(colon + 1, 65535, &p))
		return false;
	memcpy(host, h, hl);
	host[hl] = '\0';
	*port = (uint32_t)p;
	return true;
}

/* An enum value by its name, its name without `prefix`, or its number; case does not matter. */
bool parse_enum(const ProtobufCEnumDescriptor *d, const char *prefix, const char *text,
		int *out)
{
	size_t pl = strlen(prefix);
	uint64_t v;

	for (unsigned i = 0; i < d->n_values; i++) {
		const char *name = d->values[i].name;
		const char *short_name = strncmp(name, prefix, pl) == 0 ? name + pl : name;
		if (strcasecmp(name, text) == 0 || strcasecmp(short_name, text) == 0) {
			*out = d->values[i].value;
			return true;
		}
	}
	if (parse_u64(text, INT32_MAX, &v) && protobuf_c_enum_descriptor_get_value(d, (int)v)) {
		*out = (int)v;
		return true;
	}
	return false;
}

/* Add "K=V" (split in place) as an entry of entry_desc, a map<string, string> entry. */
bool kv_add(struct kv_list *l, const ProtobufCMessageDescriptor *entry_desc, char *text)
{
	char *eq = strchr(text, '=');

	if (eq == NULL || eq == text)
		return false;
	ProtobufCMessage **grown = realloc(l->entries, (l->n + 1) * sizeof(*grown));
	if (grown == NULL)
		return false;
	l->entries = grown;
	ProtobufCMessage *e = calloc(1, entry_desc->sizeof_message);
	if (e == NULL)
		return false;
	protobuf_c_message_init(entry_desc, e);
	*eq = '\0';
	*(char **)((char *)e + entry_desc->fields[0].offset) = text;
	*(char **)((char *)e + entry_desc->fields[1].offset) = eq + 1;
	l->entries[l->n++] = e;
	return true;
}

void kv_free(struct kv_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->entries[i]);
	free(l->entries);
}

enum opt_result common_option(struct ctl *ctl, int opt, const char *arg)
{
	uint64_t v;

	switch (opt) {
	case OPT_SERVER:
		ctl->server = arg;
		return OPT_DONE;
	case OPT_JSON:
		ctl->json = true;
		return OPT_DONE;
	case OPT_TLS_CA:
		ctl->copts.tls_ca = arg;
		return OPT_DONE;
	case OPT_TLS_CERT:
		ctl->copts.tls_cert = arg;
		return OPT_DONE;
	case OPT_TLS_KEY:
		ctl->copts.tls_key = arg;
		return OPT_DONE;
	case OPT_TOKEN_FILE:
		ctl->token_file = arg;
		return OPT_DONE;
	case OPT_TIMEOUT:
		if (!parse_u64(arg, INT32_MAX, &v) || v == 0) {
			usage_error("--timeout: '%s' is not a number of milliseconds > 0", arg);
			return OPT_USAGE;
		}
		ctl->timeout_ms = (int)v;
		return OPT_DONE;
	case OPT_HELP:
		fputs(usage_text, stdout);
		return OPT_EXIT_OK;
	case OPT_VERSION:
		printf("rtpproxyctl %s (grpc core %s)\n", RTPPROXY_VERSION, grpc_version_string());
		return OPT_EXIT_OK;
	}
	return OPT_NOT_MINE;
}

int next_option(struct ctl *ctl, int argc, char **argv, const struct option *opts, int *rc)
{
	int c;

	while ((c = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
		enum opt_result r = common_option(ctl, c, optarg);
		if (r == OPT_DONE)
			continue;
		if (r == OPT_USAGE || r == OPT_EXIT_OK) {
			*rc = r == OPT_USAGE ? EXIT_USAGE : -1;
			return -1;
		}
		return c;
	}
	return -1;
}

/* getopt's complaints in our words; argv[optind - 1] is the option at fault. */
int bad_option(const char *cmd, int c, char **argv)
{
	const char *what = argv[optind - 1];

	if (c == ':')
		return usage_error("%s: option '%s' needs a value", cmd, what);
	return usage_error("%s: unknown option '%s'", cmd, what);
}
