/*
 * What rtpproxyctl's files share: the state of one run, the exit codes, the options every
 * command takes (ctl_args.c) and the human-readable output (ctl_print.c). The commands and
 * main are rtpproxyctl.c; the bench command is ctl_bench.c.
 */
#ifndef RTPPROXY_RTPPROXYCTL_H
#define RTPPROXY_RTPPROXYCTL_H

#include <getopt.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rpc_client.h"
#include "rtpproxy.pb-c.h"

#define DEFAULT_SERVER "127.0.0.1:50051"
#define DEFAULT_TIMEOUT_MS 5000
#define WATCH_TICK_MS 200           /* how often watch looks at SIGINT while idle */
#define METHOD(name) "/rtpproxy.RtpProxy/" name

#define EXIT_RPC 1
#define EXIT_USAGE 2

struct ctl {
	const char *server;
	bool json;
	int timeout_ms;
	struct rpc_client *client;
	struct rpc_client_opts copts;   /* --tls-*, and the token of --token-file/RTPPROXY_TOKEN */
	const char *token_file;
	char token[300];
};

/* Key=value pairs collected from repeated options, as string-map entries of one type. */
struct kv_list {
	size_t n;
	ProtobufCMessage **entries;
};

/* ---- the command line (ctl_args.c) ---- */

extern const char usage_text[];

enum {
	OPT_SERVER = 0x100, OPT_JSON, OPT_TIMEOUT, OPT_HELP, OPT_VERSION,
	OPT_LISTEN, OPT_FORWARD, OPT_DESTINATION, OPT_ID, OPT_TCP, OPT_RTCP, OPT_BIDIR,
	OPT_IDLE, OPT_PPS, OPT_BPS, OPT_VALIDATE, OPT_LABEL,
	OPT_STATE, OPT_TRANSPORT, OPT_PAGE_SIZE, OPT_PAGE_TOKEN, OPT_ALL_PAGES,
	OPT_SESSION, OPT_INTERVAL,
	OPT_LATCH_MODE, OPT_STRICT,
	OPT_TLS_CA, OPT_TLS_CERT, OPT_TLS_KEY, OPT_TOKEN_FILE,
	OPT_SERVICE,
};

#define COMMON_OPTIONS \
	{ "server", required_argument, NULL, OPT_SERVER }, \
	{ "json", no_argument, NULL, OPT_JSON }, \
	{ "timeout", required_argument, NULL, OPT_TIMEOUT }, \
	{ "tls-ca", required_argument, NULL, OPT_TLS_CA }, \
	{ "tls-cert", required_argument, NULL, OPT_TLS_CERT }, \
	{ "tls-key", required_argument, NULL, OPT_TLS_KEY }, \
	{ "token-file", required_argument, NULL, OPT_TOKEN_FILE }, \
	{ "help", no_argument, NULL, OPT_HELP }

enum opt_result { OPT_NOT_MINE, OPT_DONE, OPT_EXIT_OK, OPT_USAGE };

/* "rtpproxyctl: MESSAGE" and a hint on stderr; returns EXIT_USAGE. */
int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* A decimal number 0..max, all of s. */
bool parse_u64(const char *s, uint64_t max, uint64_t *out);
/* "1.2.3.4:5" or "[::1]:5": the host without brackets, and the port. */
bool parse_hostport(const char *text, char *host, size_t hostlen, uint32_t *port);
/* An enum value by its name, its name without `prefix`, or its number; case does not matter. */
bool parse_enum(const ProtobufCEnumDescriptor *d, const char *prefix, const char *text,
		int *out);
/* Add "K=V" (split in place) as an entry of entry_desc, a map<string, string> entry. */
bool kv_add(struct kv_list *l, const ProtobufCMessageDescriptor *entry_desc, char *text);
void kv_free(struct kv_list *l);
/* One of COMMON_OPTIONS into ctl (or --help / --version printed); OPT_NOT_MINE for others. */
enum opt_result common_option(struct ctl *ctl, int opt, const char *arg);
/*
 * A command's next option that is not one of COMMON_OPTIONS (those go into ctl): its getopt
 * code, or -1 at the end or when parsing must stop (*rc then EXIT_USAGE, or -1 after --help).
 */
int next_option(struct ctl *ctl, int argc, char **argv, const struct option *opts, int *rc);
/* getopt's complaint about an option of command cmd, in our words; returns EXIT_USAGE. */
int bad_option(const char *cmd, int c, char **argv);

/* ---- human output (ctl_print.c) ---- */

void print_session(const Rtpproxy__SessionInfo *si);
void print_proxy_stats(const Rtpproxy__GetProxyStatsResponse *r);
void print_event(const Rtpproxy__SessionEvent *ev);
/* One message as one line of JSON (--json). */
void print_json(const ProtobufCMessage *msg);

#endif
