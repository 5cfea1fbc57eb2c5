/*
 * The exception filter's nft script (control/exfilter.c): the whole text for a two-port config,
 * the rules each kernel_allow produces, refusals (bad names, no room). As root, nftables checks
 * the script too (dry run: parsed, evaluated and validated by the kernel, never committed), in
 * a network namespace of the test's own.
 */
#include <nftables/libnftables.h>

#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <netinet/in.h>

#include "check.h"
#include "exfilter.h"

static const char expected[] =
	"add table inet rtpproxy\n"
	"delete table inet rtpproxy\n"
	"table inet rtpproxy {\n"
	"\tcomment \"rtpproxy: what reaches the kernel from the data-plane ports (removed at exit)\"\n"
	"\tset tcp_listen {\n"
	"\t\ttype ipv4_addr . inet_service\n"
	"\t\tcomment \"TCP sessions' listen endpoints\"\n"
	"\t}\n"
	"\tset tcp_listen_any {\n"
	"\t\ttype inet_service\n"
	"\t\tcomment \"TCP sessions listening on every address\"\n"
	"\t}\n"
	"\tset tcp_listen6 {\n"
	"\t\ttype ipv6_addr . inet_service\n"
	"\t\tcomment \"TCP sessions' IPv6 listen endpoints\"\n"
	"\t}\n"
	"\tset tcp_listen_any6 {\n"
	"\t\ttype inet_service\n"
	"\t\tcomment \"TCP sessions listening on every IPv6 address (::)\"\n"
	"\t}\n"
	"\tcounter filtered {\n"
	"\t\tcomment \"dropped: GetProxyStats drops[filtered]\"\n"
	"\t}\n"
	"\tchain prerouting {\n"
	"\t\ttype filter hook prerouting priority -450; policy accept;\n"
	"\t\tiifname { \"veth-a\" } drop comment \"read raw by the data plane\"\n"
	"\t}\n"
	"\tchain input {\n"
	"\t\ttype filter hook input priority filter; policy accept;\n"
	"\t\tiifname { \"rtp0\", \"media-b\" } jump exception\n"
	"\t}\n"
	"\tchain forward {\n"
	"\t\ttype filter hook forward priority filter; policy accept;\n"
	"\t\tiifname { \"rtp0\", \"media-b\" } counter name \"filtered\" drop\n"
	"\t}\n"
	"\tchain exception {\n"
	"\t\tct state established,related accept\n"
	"\t\ticmp type { echo-request, destination-unreachable, time-exceeded, "
	"parameter-problem } accept\n"
	"\t\ticmpv6 type { echo-request, destination-unreachable, packet-too-big, "
	"time-exceeded, parameter-problem, nd-neighbor-solicit, nd-neighbor-advert } accept\n"
	"\t\tip daddr . tcp dport @tcp_listen accept\n"
	"\t\tmeta nfproto ipv4 tcp dport @tcp_listen_any accept\n"
	"\t\tip6 daddr . tcp dport @tcp_listen6 accept\n"
	"\t\tmeta nfproto ipv6 tcp dport @tcp_listen_any6 accept\n"
	"\t\tiifname \"rtp0\" tcp dport { 22, 2222 } accept comment \"kernel_allow\"\n"
	"\t\tiifname \"rtp0\" udp dport { 161 } accept comment \"kernel_allow\"\n"
	"\t\tcounter name \"filtered\" drop\n"
	"\t}\n"
	"}\n";

static void two_ports(struct exfilter_config *c)
{
	memset(c, 0, sizeof(*c));
	c->n_ports = 2;
	strcpy(c->port[0].ifname, "rtp0");
	strcpy(c->port[0].raw_ifname, "veth-a");  /* port 1: a NIC, no kernel interface */
	c->port[0].allow[0] = (struct exfilter_service){ IPPROTO_TCP, 22 };
	c->port[0].allow[1] = (struct exfilter_service){ IPPROTO_UDP, 161 };
	c->port[0].allow[2] = (struct exfilter_service){ IPPROTO_TCP, 2222 };
	c->port[0].n_allow = 3;
	strcpy(c->port[1].ifname, "media-b");      /* no services: nothing but the common rules */
}

/* As root: does nftables accept the script? (dry run, nothing is committed) */
static int nft_accepts(const char *script)
{
	struct nft_ctx *nft = nft_ctx_new(NFT_CTX_DEFAULT);
	nft_ctx_buffer_error(nft);
	nft_ctx_set_dry_run(nft, true);
	int ret = nft_run_cmd_from_buffer(nft, script);
	if (ret != 0)
		fprintf(stderr, "nft: %s\n", nft_ctx_get_error_buffer(nft));
	nft_ctx_free(nft);
	return ret == 0;
}

/* In the test's namespace: the table for real, and a TCP listen endpoint of each kind admitted
 * and withdrawn (IPv4, IPv6, and the wildcard of each family in its own set). */
static void listen_elements(const struct exfilter_config *c)
{
	static const char *const eps[] = { "198.18.1.1", "0.0.0.0", "2001:db8:1::1", "::" };
	char err[256] = "";
	struct exfilter *f = exfilter_start(c, err, sizeof(err));

	CHECK(f != NULL);
	if (f == NULL) {
		fprintf(stderr, "exfilter_start: %s\n", err);
		return;
	}
	for (unsigned i = 0; i < 4; i++) {
		struct dp_addr a;
		CHECK(dp_addr_parse(eps[i], &a) == 0);
		CHECK(exfilter_tcp_listen(f, &a, 4000, true, err, sizeof(err)) == 0);
	}
	struct nft_ctx *nft = nft_ctx_new(NFT_CTX_DEFAULT);
	nft_ctx_buffer_output(nft);
	CHECK(nft_run_cmd_from_buffer(nft, "list table inet rtpproxy") == 0);
	const char *out = nft_ctx_get_output_buffer(nft);
	CHECK(out != NULL && strstr(out, "198.18.1.1 . 4000") != NULL);
	CHECK(out != NULL && strstr(out, "2001:db8:1::1 . 4000") != NULL);
	CHECK(out != NULL && strstr(out, "set tcp_listen_any6 {") != NULL);
	if (out != NULL) {
		const char *any6 = strstr(out, "set tcp_listen_any6 {");
		CHECK(any6 != NULL && strstr(any6, "elements = { 4000 }") != NULL);
	}
	nft_ctx_free(nft);
	for (unsigned i = 0; i < 4; i++) {
		struct dp_addr a;
		dp_addr_parse(eps[i], &a);
		CHECK(exfilter_tcp_listen(f, &a, 4000, false, err, sizeof(err)) == 0);
	}
	struct dp_addr none;
	memset(&none, 0, sizeof(none));
	CHECK(exfilter_tcp_listen(f, &none, 4000, true, err, sizeof(err)) == -1);
	CHECK(strstr(err, "no address") != NULL);
	exfilter_stop(f);
}

int main(void)
{
	static struct exfilter_config c;
	static char buf[16384];
	char err[256];

	/* the whole script, exactly */
	two_ports(&c);
	int n = exfilter_script(&c, buf, sizeof(buf), err, sizeof(err));
	CHECK_EQ_U(n, strlen(expected));
	CHECK(strcmp(buf, expected) == 0);
	if (strcmp(buf, expected) != 0)
		fprintf(stderr, "got:\n%s\n", buf);

	/* one port without services: its name in the sets, no kernel_allow rule at all */
	c.n_ports = 1;
	c.port[0].n_allow = 0;
	n = exfilter_script(&c, buf, sizeof(buf), err, sizeof(err));
	CHECK(n > 0);
	CHECK(strstr(buf, "iifname { \"rtp0\" } jump exception\n") != NULL);
	CHECK(strstr(buf, "kernel_allow") == NULL);
	CHECK(strstr(buf, "media-b") == NULL);
	CHECK(strstr(buf, "iifname { \"veth-a\" } drop") != NULL);
	c.port[0].raw_ifname[0] = '\0';
	n = exfilter_script(&c, buf, sizeof(buf), err, sizeof(err));
	CHECK(strstr(buf, "prerouting") == NULL);      /* no raw interface, no such chain */

	/* UDP only: no TCP services rule */
	c.port[0].allow[0] = (struct exfilter_service){ IPPROTO_UDP, 5353 };
	c.port[0].n_allow = 1;
	n = exfilter_script(&c, buf, sizeof(buf), err, sizeof(err));
	CHECK(strstr(buf, "iifname \"rtp0\" udp dport { 5353 } accept") != NULL);
	CHECK(strstr(buf, "tcp dport {") == NULL);

	/* a name that could break out of its quotes is refused, with the name in the message */
	two_ports(&c);
	strcpy(c.port[1].ifname, "x\" accept");
	CHECK(exfilter_script(&c, buf, sizeof(buf), err, sizeof(err)) == -1);
	CHECK(strstr(err, "bad interface name") != NULL);
	CHECK(strstr(err, "x\\\" accept") == NULL && strstr(err, "x\" accept") != NULL);
	two_ports(&c);
	c.port[0].ifname[0] = '\0';
	CHECK(exfilter_script(&c, buf, sizeof(buf), err, sizeof(err)) == -1);
	two_ports(&c);
	strcpy(c.port[0].raw_ifname, "a b");
	CHECK(exfilter_script(&c, buf, sizeof(buf), err, sizeof(err)) == -1);
	CHECK(strstr(err, "\"a b\"") != NULL);

	/* no ports, too many ports */
	two_ports(&c);
	c.n_ports = 0;
	CHECK(exfilter_script(&c, buf, sizeof(buf), err, sizeof(err)) == -1);
	c.n_ports = EXFILTER_MAX_PORTS + 1;
	CHECK(exfilter_script(&c, buf, sizeof(buf), err, sizeof(err)) == -1);

	/* no room: -1 and a message, never a truncated script */
	two_ports(&c);
	CHECK(exfilter_script(&c, buf, 200, err, sizeof(err)) == -1);
	CHECK(strstr(err, "more than 200 bytes") != NULL);
	CHECK(exfilter_script(&c, buf, strlen(expected), err, sizeof(err)) == -1);
	CHECK_EQ_U(exfilter_script(&c, buf, strlen(expected) + 1, err, sizeof(err)),
			strlen(expected));

	/* the most a config can ask for fits the appliance's buffer (16 KiB) */
	memset(&c, 0, sizeof(c));
	c.n_ports = EXFILTER_MAX_PORTS;
	for (unsigned p = 0; p < c.n_ports; p++) {
		snprintf(c.port[p].ifname, sizeof(c.port[p].ifname), "exception-if%u", p % 8);
		snprintf(c.port[p].raw_ifname, sizeof(c.port[p].raw_ifname), "raw-interface%u", p % 8);
		for (unsigned s = 0; s < EXFILTER_MAX_SERVICES; s++)
			c.port[p].allow[s] = (struct exfilter_service){
				s & 1 ? IPPROTO_UDP : IPPROTO_TCP, (uint16_t)(60000 + s) };
		c.port[p].n_allow = EXFILTER_MAX_SERVICES;
	}
	n = exfilter_script(&c, buf, sizeof(buf), err, sizeof(err));
	CHECK(n > 0 && (size_t)n < sizeof(buf));

	if (geteuid() == 0) {
		CHECK(unshare(CLONE_NEWNET) == 0);      /* the host's tables are never involved */
		CHECK(nft_accepts(buf));
		two_ports(&c);
		exfilter_script(&c, buf, sizeof(buf), err, sizeof(err));
		CHECK(nft_accepts(buf));
		listen_elements(&c);
	} else {
		printf("test_exfilter: not root: nftables' own check of the script skipped\n");
	}
	return check_summary("test_exfilter");
}
