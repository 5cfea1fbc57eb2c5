/* The exception path's nftables table (see exfilter.h): its script, its life, its counter. */
#include <nftables/libnftables.h>   /* first: it defines _GNU_SOURCE */

#include "exfilter.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>

struct exfilter {
	struct nft_ctx *nft;
};

/* An appender that remembers running out of room. */
struct text {
	char *buf;
	size_t len, used;
	bool full;
};

static void put(struct text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(struct text *t, const char *fmt, ...)
{
	va_list ap;
	if (t->full)
		return;
	va_start(ap, fmt);
	int n = vsnprintf(t->buf + t->used, t->len - t->used, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= t->len - t->used) {
		t->full = true;
		return;
	}
	t->used += (size_t)n;
}

/* What dev_valid_name() takes, narrowed as the config does: no quote can reach the script. */
static bool ifname_ok(const char *s)
{
	size_t n = strnlen(s, 16);
	if (n == 0 || n >= 16)
		return false;
	for (; *s != '\0'; s++)
		if (!isalnum((unsigned char)*s) && strchr("_.-", *s) == NULL)
			return false;
	return true;
}

/* `iifname "rtp0" tcp dport { 22, 2222 } accept` for the port's services of one protocol. */
static void put_services(struct text *t, const struct exfilter_port *p, uint8_t proto)
{
	unsigned n = 0;
	for (unsigned i = 0; i < p->n_allow; i++)
		if (p->allow[i].proto == proto)
			n++;
	if (n == 0)
		return;
	put(t, "\t\tiifname \"%s\" %s dport { ", p->ifname, proto == IPPROTO_TCP ? "tcp" : "udp");
	unsigned k = 0;
	for (unsigned i = 0; i < p->n_allow; i++)
		if (p->allow[i].proto == proto)
			put(t, "%s%u", k++ ? ", " : "", p->allow[i].port);
	put(t, " } accept comment \"kernel_allow\"\n");
}

int exfilter_script(const struct exfilter_config *c, char *buf, size_t len, char *err,
		size_t errlen)
{
	struct text t = { .buf = buf, .len = len };

	if (c->n_ports == 0 || c->n_ports > EXFILTER_MAX_PORTS) {
		snprintf(err, errlen, "exception filter: 1..%d ports, got %u", EXFILTER_MAX_PORTS,
				c->n_ports);
		return -1;
	}
	for (unsigned i = 0; i < c->n_ports; i++) {
		if (!ifname_ok(c->port[i].ifname)) {
			snprintf(err, errlen, "exception filter: bad interface name \"%.16s\"",
					c->port[i].ifname);
			return -1;
		}
		if (c->port[i].raw_ifname[0] != '\0' && !ifname_ok(c->port[i].raw_ifname)) {
			snprintf(err, errlen, "exception filter: bad interface name \"%.16s\"",
					c->port[i].raw_ifname);
			return -1;
		}
		if (c->port[i].n_allow > EXFILTER_MAX_SERVICES) {
			snprintf(err, errlen, "exception filter: %s: more than %d services",
					c->port[i].ifname, EXFILTER_MAX_SERVICES);
			return -1;
		}
	}
	if (len > 0)
		buf[0] = '\0';

	/* the set of the ports' kernel interfaces, "rtp0", "rtp1" */
	char taps[EXFILTER_MAX_PORTS * 20] = "", raws[EXFILTER_MAX_PORTS * 20] = "";
	size_t tl = 0, rl = 0;
	for (unsigned i = 0; i < c->n_ports; i++) {
		tl += (size_t)snprintf(taps + tl, sizeof(taps) - tl, "%s\"%s\"", i ? ", " : "",
				c->port[i].ifname);
		if (c->port[i].raw_ifname[0] != '\0')
			rl += (size_t)snprintf(raws + rl, sizeof(raws) - rl, "%s\"%s\"",
					rl ? ", " : "", c->port[i].raw_ifname);
	}

	/* add + delete first: a table a previous run left behind is replaced, atomically */
	put(&t, "add table inet " EXFILTER_TABLE "\n");
	put(&t, "delete table inet " EXFILTER_TABLE "\n");
	put(&t, "table inet " EXFILTER_TABLE " {\n");
	put(&t, "\tcomment \"rtpproxy: what reaches the kernel from the data-plane ports "
			"(removed at exit)\"\n");
	put(&t, "\tset tcp_listen {\n\t\ttype ipv4_addr . inet_service\n"
			"\t\tcomment \"TCP sessions' listen endpoints\"\n\t}\n");
	put(&t, "\tset tcp_listen_any {\n\t\ttype inet_service\n"
			"\t\tcomment \"TCP sessions listening on every address\"\n\t}\n");
	put(&t, "\tcounter filtered {\n\t\tcomment \"dropped: GetProxyStats drops[filtered]\"\n\t}\n");
	/* DPDK has what arrives on an af_packet port before netfilter runs; the kernel's own
	 * copy must reach neither defragmentation (-400) nor conntrack: a destination's RST
	 * would end its connection's entry there, and the same RST through the TAP would then
	 * be dropped as invalid */
	if (rl > 0) {
		put(&t, "\tchain prerouting {\n\t\ttype filter hook prerouting priority -450; "
				"policy accept;\n");
		put(&t, "\t\tiifname { %s } drop comment \"read raw by the data plane\"\n\t}\n",
				raws);
	}
	put(&t, "\tchain input {\n\t\ttype filter hook input priority filter; policy accept;\n");
	put(&t, "\t\tiifname { %s } jump exception\n\t}\n", taps);
	/* the appliance is no router between its media networks and anything else */
	put(&t, "\tchain forward {\n\t\ttype filter hook forward priority filter; policy accept;\n");
	put(&t, "\t\tiifname { %s } counter name \"filtered\" drop\n\t}\n", taps);
	put(&t, "\tchain exception {\n");
	/* replies to the kernel's own connections (TCP sessions' destination legs) and their
	 * ICMP errors; a session's accepted connections after their SYN */
	put(&t, "\t\tct state established,related accept\n");
	put(&t, "\t\ticmp type { echo-request, destination-unreachable, time-exceeded, "
			"parameter-problem } accept\n");
	/* no router advertisements or redirects: a media network must not route us */
	put(&t, "\t\ticmpv6 type { echo-request, destination-unreachable, packet-too-big, "
			"time-exceeded, parameter-problem, nd-neighbor-solicit, nd-neighbor-advert } "
			"accept\n");
	put(&t, "\t\tip daddr . tcp dport @tcp_listen accept\n");
	put(&t, "\t\ttcp dport @tcp_listen_any accept\n");
	for (unsigned i = 0; i < c->n_ports; i++) {
		put_services(&t, &c->port[i], IPPROTO_TCP);
		put_services(&t, &c->port[i], IPPROTO_UDP);
	}
	put(&t, "\t\tcounter name \"filtered\" drop\n\t}\n}\n");
	if (t.full) {
		snprintf(err, errlen, "exception filter: the nft script needs more than %zu bytes",
				len);
		return -1;
	}
	return (int)t.used;
}

/* Run one nft command; on failure, nft's own message (first line) into err. */
static int run(struct exfilter *f, const char *cmd, char *err, size_t errlen)
{
	if (nft_run_cmd_from_buffer(f->nft, cmd) == 0) {
		nft_ctx_get_error_buffer(f->nft);   /* warnings: dropped */
		return 0;
	}
	const char *msg = nft_ctx_get_error_buffer(f->nft);
	if (msg == NULL || *msg == '\0')
		msg = "(no message)";
	snprintf(err, errlen, "%.*s", (int)strcspn(msg, "\n"), msg);
	return -1;
}

struct exfilter *exfilter_start(const struct exfilter_config *c, char *err, size_t errlen)
{
	static char script[16384];
	char why[256];

	if (exfilter_script(c, script, sizeof(script), err, errlen) < 0)
		return NULL;
	struct exfilter *f = calloc(1, sizeof(*f));
	if (f == NULL || (f->nft = nft_ctx_new(NFT_CTX_DEFAULT)) == NULL) {
		snprintf(err, errlen, "exception filter: cannot create an nftables context");
		free(f);
		return NULL;
	}
	nft_ctx_buffer_output(f->nft);
	nft_ctx_buffer_error(f->nft);
	if (run(f, script, why, sizeof(why)) != 0) {
		snprintf(err, errlen, "exception filter: nftables refused table inet "
				EXFILTER_TABLE ": %s", why);
		nft_ctx_free(f->nft);
		free(f);
		return NULL;
	}
	return f;
}

void exfilter_stop(struct exfilter *f)
{
	char why[256];
	if (f == NULL)
		return;
	if (run(f, "delete table inet " EXFILTER_TABLE, why, sizeof(why)) != 0)
		fprintf(stderr, "rtpproxy: exception filter: cannot delete table inet "
				EXFILTER_TABLE ": %s\n", why);
	nft_ctx_free(f->nft);
	free(f);
}

int exfilter_tcp_listen(struct exfilter *f, const struct dp_addr *addr, uint16_t port, bool add,
		char *err, size_t errlen)
{
	char cmd[160], a[INET_ADDRSTRLEN], why[256];
	const char *verb = add ? "add" : "delete";

	if (f == NULL)
		return 0;
	if (!dp_addr_is_v4(addr)) {
		snprintf(err, errlen, "exception filter: %s", dp_addr_is_v6(addr) ?
				"IPv6 is not supported yet" : "no address");
		return -1;
	}
	if (addr->v4 == 0) {
		snprintf(cmd, sizeof(cmd), "%s element inet " EXFILTER_TABLE " tcp_listen_any "
				"{ %u }", verb, port);
	} else {
		inet_ntop(AF_INET, &addr->v4, a, sizeof(a));
		snprintf(cmd, sizeof(cmd), "%s element inet " EXFILTER_TABLE " tcp_listen "
				"{ %s . %u }", verb, a, port);
	}
	if (run(f, cmd, why, sizeof(why)) != 0) {
		snprintf(err, errlen, "exception filter: %s: %s", cmd, why);
		return -1;
	}
	return 0;
}

uint64_t exfilter_dropped(struct exfilter *f)
{
	char why[256];
	if (f == NULL)
		return 0;
	nft_ctx_output_set_flags(f->nft, NFT_CTX_OUTPUT_JSON);
	int ret = run(f, "list counter inet " EXFILTER_TABLE " filtered", why, sizeof(why));
	nft_ctx_output_set_flags(f->nft, 0);
	const char *out = nft_ctx_get_output_buffer(f->nft);
	if (ret != 0 || out == NULL)
		return 0;
	/* {"nftables": [{"metainfo": ...}, {"counter": {..., "packets": N, "bytes": M}}]} */
	const char *p = strstr(out, "\"packets\":");
	return p != NULL ? strtoull(p + strlen("\"packets\":"), NULL, 10) : 0;
}
