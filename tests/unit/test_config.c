/* SPDX-License-Identifier: MIT */
/*
 * Unit test of app/config.c: the example config, the defaults, one case per kind of error
 * with its exact message, and the shared parsers. Usage: test_config [path/to/rtpproxy.conf]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>

#include "config.h"

static unsigned int passed, failed;

#define CHECK(cond) do { \
	if (cond) { \
		passed++; \
	} else { \
		failed++; \
		fprintf(stderr, "%s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, #cond); \
	} \
} while (0)

#define CHECK_STR(got, want) do { \
	const char *g_ = (got), *w_ = (want); \
	if (strcmp(g_, w_) == 0) { \
		passed++; \
	} else { \
		failed++; \
		fprintf(stderr, "%s:%d: got  \"%s\"\n%*s want \"%s\"\n", __FILE__, __LINE__, \
			g_, (int)strlen(__FILE__) + 6, "", w_); \
	} \
} while (0)

/* The smallest valid file: one port. */
#define PORT0 "[port0]\ndevice = net_tap0\naddress = 198.18.1.1/24\n"

static char tmp_path[64];

/* Writes TEXT to the scratch file and loads it; returns config_load()'s result. */
static int
load_text(const char *text, struct config *cfg, char *err, size_t errlen)
{
	FILE *f = fopen(tmp_path, "w");

	if (f == NULL || fputs(text, f) < 0 || fclose(f) != 0) {
		perror(tmp_path);
		exit(1);
	}
	err[0] = '\0';
	return config_load(tmp_path, cfg, err, errlen);
}

static const char *
ip(struct in_addr a)
{
	static char buf[4][INET_ADDRSTRLEN];
	static unsigned int i;

	return inet_ntop(AF_INET, &a, buf[i++ % 4], INET_ADDRSTRLEN);
}

/* Whether every payload type has the default clock rate but those in EXCEPT (pt, hz, ..., -1). */
static bool
clock_rates_are(const struct config *cfg, const int *except)
{
	uint32_t want[128];
	unsigned int i;

	for (i = 0; i < 128; i++)
		want[i] = CONFIG_CLOCK_RATE_DEFAULT;
	for (; except != NULL && except[0] >= 0; except += 2)
		want[except[0]] = except[1];
	for (i = 0; i < 128; i++) {
		if (cfg->clock_rate[i] != want[i]) {
			fprintf(stderr, "clock_rate[%u] = %u, want %u\n", i, cfg->clock_rate[i],
				want[i]);
			return false;
		}
	}
	return true;
}

static void
test_parsers(void)
{
	static const char *const bad_ipv4[] = {
		"256.1.1.1", "1.2.3", "1.2.3.4x", "", "300.1.1.1", "+1.2.3.4", "1.2.3.-4",
		"01.2.3.4", "1.2.3.4.5", " 1.2.3.4", "1.2.3.4 ", "1..3.4", "0x1.2.3.4",
		"1.2.3.0004",
	};
	static const char *const bad_prefix[] = {
		"1.2.3.4", "1.2.3.4/", "/24", "1.2.3.4/33", "1.2.3.4/024", "1.2.3.4/2x",
		"1.2.3/24", "1.2.3.4/-1", "1.2.3.4/+8",
	};
	static const char *const bad_mac[] = {
		"02:00:00:00:02", "02:00:00:00:02:0", "02:00:00:00:02:022", "02-00-00-00-02-02",
		"g2:00:00:00:02:02", "", "02:00:00:00:02:02:",
	};
	struct config_prefix p;
	struct in_addr a;
	uint8_t mac[6];
	unsigned int i;

	CHECK(config_parse_ipv4("1.2.3.4", &a) == 0 && a.s_addr == htonl(0x01020304));
	CHECK(config_parse_ipv4("0.0.0.0", &a) == 0 && a.s_addr == 0);
	CHECK(config_parse_ipv4("255.255.255.255", &a) == 0 && a.s_addr == 0xffffffff);
	for (i = 0; i < sizeof(bad_ipv4) / sizeof(bad_ipv4[0]); i++) {
		a.s_addr = 0x12345678;
		if (config_parse_ipv4(bad_ipv4[i], &a) == 0)
			fprintf(stderr, "config_parse_ipv4 took \"%s\"\n", bad_ipv4[i]);
		CHECK(config_parse_ipv4(bad_ipv4[i], &a) == -1 && a.s_addr == 0x12345678);
	}
	CHECK(config_parse_ipv4(NULL, &a) == -1);

	CHECK(config_parse_prefix("198.18.1.1/24", &p) == 0 &&
	      p.addr.s_addr == htonl(0xc6120101) && p.len == 24);
	CHECK(config_parse_prefix("0.0.0.0/0", &p) == 0 && p.len == 0);
	CHECK(config_parse_prefix("10.0.0.1/32", &p) == 0 && p.len == 32);
	for (i = 0; i < sizeof(bad_prefix) / sizeof(bad_prefix[0]); i++) {
		if (config_parse_prefix(bad_prefix[i], &p) == 0)
			fprintf(stderr, "config_parse_prefix took \"%s\"\n", bad_prefix[i]);
		CHECK(config_parse_prefix(bad_prefix[i], &p) == -1);
	}

	CHECK(config_parse_mac("02:00:00:00:02:0f", mac) == 0 &&
	      memcmp(mac, "\x02\x00\x00\x00\x02\x0f", 6) == 0);
	CHECK(config_parse_mac("AA:bb:Cc:dD:00:FF", mac) == 0 &&
	      memcmp(mac, "\xaa\xbb\xcc\xdd\x00\xff", 6) == 0);
	for (i = 0; i < sizeof(bad_mac) / sizeof(bad_mac[0]); i++) {
		if (config_parse_mac(bad_mac[i], mac) == 0)
			fprintf(stderr, "config_parse_mac took \"%s\"\n", bad_mac[i]);
		CHECK(config_parse_mac(bad_mac[i], mac) == -1);
	}

	config_parse_prefix("198.18.0.0/15", &p);
	config_parse_ipv4("198.19.255.255", &a);
	CHECK(config_prefix_contains(&p, a));
	config_parse_ipv4("198.20.0.0", &a);
	CHECK(!config_prefix_contains(&p, a));
	p.len = 0;
	CHECK(config_prefix_contains(&p, a));
}

/* workers is 1..RTE_MAX_LCORE-1: the messages below spell out Debian's 128. */
static void
test_example(const char *path)
{
	struct config cfg;
	char err[512] = "";
	const struct config_port *p0 = &cfg.ports[0], *p1 = &cfg.ports[1];
	struct in_addr a;

	CHECK(config_load(path, &cfg, err, sizeof(err)) == 0);
	CHECK_STR(err, "");
	CHECK_STR(cfg.path, path);
	CHECK_STR(cfg.eal_args,
		  "-l 0-1 --no-huge -m 512 --no-pci --no-shconf --file-prefix rtpproxy");
	CHECK(cfg.workers == 1 && cfg.mbufs == 16383 && cfg.idle_sleep_us == 0);
	CHECK(cfg.n_ports == 2);

	CHECK_STR(p0->name, "port0");
	CHECK_STR(p0->device, "net_af_packet0,iface=veth-dut0");
	CHECK(!p0->is_pci);
	CHECK(p0->n_addrs == 1 && p0->addrs[0].len == 24);
	CHECK_STR(ip(p0->addrs[0].addr), "198.18.1.1");
	CHECK(p0->has_gateway);
	CHECK_STR(ip(p0->gateway), "198.18.1.254");
	CHECK_STR(p0->exception, "rtp0");
	CHECK(p0->n_neighbors == 0);

	CHECK_STR(p1->name, "port1");
	CHECK_STR(p1->device, "net_af_packet1,iface=veth-dut1");
	CHECK(p1->n_addrs == 1 && p1->addrs[0].len == 24);
	CHECK_STR(ip(p1->addrs[0].addr), "198.18.2.1");
	CHECK(p1->has_gateway);
	CHECK_STR(ip(p1->gateway), "198.18.2.254");
	CHECK_STR(p1->exception, "rtp1");
	CHECK(p1->n_neighbors == 0);

	CHECK_STR(cfg.grpc_listen, "[::]:50051");
	CHECK(cfg.max_sessions == 65536 && cfg.port_min == 20000 && cfg.port_max == 59999);
	CHECK(cfg.idle_timeout_secs == 300 && cfg.closed_retention_secs == 60);
	CHECK(cfg.n_allowed == 1 && cfg.allowed[0].len == 15);
	CHECK_STR(ip(cfg.allowed[0].addr), "198.18.0.0");
	config_parse_ipv4("198.18.2.2", &a);
	CHECK(config_dest_allowed(&cfg, a));
	config_parse_ipv4("192.0.2.1", &a);
	CHECK(!config_dest_allowed(&cfg, a));
	CHECK(clock_rates_are(&cfg, NULL));
}

static void
test_defaults(void)
{
	struct config cfg, def;
	char err[512];
	struct in_addr a;

	config_defaults(&def);
	CHECK(def.workers == 1 && def.mbufs == 16383 && def.idle_sleep_us == 0);
	CHECK(def.n_ports == 0 && def.eal_args[0] == '\0');
	CHECK_STR(def.grpc_listen, "[::]:50051");
	CHECK_STR(def.http_listen, "127.0.0.1:9464");
	CHECK(def.max_sessions == 65536 && def.port_min == 20000 && def.port_max == 59999);
	CHECK(def.idle_timeout_secs == 300 && def.closed_retention_secs == 60);
	CHECK(def.n_allowed == 0);
	CHECK(CONFIG_CLOCK_RATE_DEFAULT == 8000 && clock_rates_are(&def, NULL));

	CHECK(load_text("[port0]\ndevice = net_tap0\naddress = 10.0.0.1/24\n",
			&cfg, err, sizeof(err)) == 0);
	CHECK_STR(err, "");
	CHECK(cfg.workers == 1 && cfg.mbufs == 16383 && cfg.idle_sleep_us == 0);
	CHECK(cfg.eal_args[0] == '\0');
	CHECK_STR(cfg.grpc_listen, "[::]:50051");
	CHECK(cfg.max_sessions == 65536 && cfg.port_min == 20000 && cfg.port_max == 59999);
	CHECK(cfg.idle_timeout_secs == 300 && cfg.closed_retention_secs == 60);
	CHECK(cfg.n_allowed == 0);
	config_parse_ipv4("8.8.8.8", &a);
	CHECK(config_dest_allowed(&cfg, a));
	CHECK(cfg.n_ports == 1);
	CHECK(clock_rates_are(&cfg, NULL));
	CHECK_STR(cfg.ports[0].exception, "rtp0");
	CHECK(!cfg.ports[0].has_gateway && cfg.ports[0].n_neighbors == 0);
}

/* The example of API.md section 2, verbatim: the contract's own file must load. */
static const char api_example[] =
	"[eal]\n"
	"args = -l 0-1 --no-huge -m 512 --no-pci   "
		"; EAL arguments, used when none are given on the command line\n"
	"\n"
	"[dataplane]\n"
	"workers = 1              "
		"; worker lcores polling the ports (RSS spreads queues across them)\n"
	"mbufs = 16383            ; mbufs per NUMA socket\n"
	"\n"
	"[port0]                   ; port1, port2 ... for multi-homed appliances\n"
	"device = net_af_packet0,iface=veth-dut0   "
		"; a DPDK vdev spec, or a PCI address such as 0000:03:00.0\n"
	"address = 198.18.1.1/24  "
		"; address(es) the appliance owns on this port, comma separated "
		"(IPv4; IPv6 when supported)\n"
	"gateway = 198.18.1.254   ; optional next hop for destinations off this subnet\n"
	"exception = rtp0         "
		"; name of the kernel (TAP) interface for this port's exception path "
		"(default rtp<N>)\n"
	"neighbors = 198.18.2.2@02:00:00:00:02:02   "
		"; optional static ARP entries (never expire), comma separated;\n"
	"                         "
		"; benchmark rigs whose peers do not answer ARP (testpmd, rtpgen) need them\n"
	"\n"
	"[grpc]\n"
	"listen = [::]:50051\n"
	"\n"
	"[sessions]\n"
	"max_sessions = 65536\n"
	"port_min = 20000\n"
	"port_max = 59999\n"
	"idle_timeout_secs = 300\n"
	"allowed_destinations = 198.18.0.0/15   ; optional CIDR allowlist; empty = any\n"
	"closed_retention_secs = 60             ; how long CLOSED/ERROR sessions stay visible\n";

/* Syntax rte_cfgfile and our parsers take, and what it parses to. */
static void
test_accepted(void)
{
	struct config cfg;
	char err[512];
	const struct config_port *p0 = &cfg.ports[0], *p1 = &cfg.ports[1];

	CHECK(load_text("  ; a comment line\n"
			"\n"
			"[ dataplane ]   ; spaces inside the brackets\n"
			"\tworkers\t=\t" "127" "\t\r\n"
			"mbufs=1023\n"
			"idle_sleep_us = 100000 ; max\n"
			"[port1]\n"
			"device = 0000:03:00.1\n"
			"address = 10.0.1.1/24\n"
			"exception = Eth_1.x-2\n"
			"[port0]\n"
			"device = 03:00.0,txq_inline=128\n"
			"address = 10.0.0.1/24 , 192.0.2.5/32,10.9.0.1/31\n"
			"gateway = 10.9.0.0\n"
			"neighbors = 10.0.0.2@02:00:00:00:00:02, 10.0.0.3@0a:BB:cc:dd:ee:ff\n"
			"[grpc]\nlisten = 127.0.0.1:1\n"
			"[eal]\nargs =\n"
			"[sessions]\n"
			"max_sessions = 16777216\nport_min = 65535\nport_max = 65535\n"
			"idle_timeout_secs = 86400\nclosed_retention_secs = 0\n"
			"allowed_destinations = 10.0.0.0/8, 192.0.2.7 ,0.0.0.0/0\n",
			&cfg, err, sizeof(err)) == 0);
	CHECK_STR(err, "");
	CHECK(cfg.workers == 127 && cfg.mbufs == 1023);
	CHECK(cfg.idle_sleep_us == 100000 && cfg.eal_args[0] == '\0');
	CHECK(cfg.n_ports == 2);
	CHECK_STR(p0->device, "03:00.0,txq_inline=128");
	CHECK(p0->is_pci && p1->is_pci);
	CHECK(p0->n_addrs == 3);
	CHECK_STR(ip(p0->addrs[1].addr), "192.0.2.5");
	CHECK(p0->addrs[1].len == 32 && p0->addrs[2].len == 31);
	CHECK(p0->has_gateway);
	CHECK_STR(ip(p0->gateway), "10.9.0.0");
	CHECK_STR(p0->exception, "rtp0");
	CHECK(p0->n_neighbors == 2);
	CHECK_STR(ip(p0->neighbors[1].addr), "10.0.0.3");
	CHECK(memcmp(p0->neighbors[1].mac, "\x0a\xbb\xcc\xdd\xee\xff", 6) == 0);
	CHECK_STR(p1->exception, "Eth_1.x-2");
	CHECK(!p1->has_gateway);
	CHECK_STR(cfg.grpc_listen, "127.0.0.1:1");
	CHECK(cfg.max_sessions == 16777216 && cfg.port_min == 65535 && cfg.port_max == 65535);
	CHECK(cfg.idle_timeout_secs == 86400 && cfg.closed_retention_secs == 0);
	CHECK(cfg.n_allowed == 3 && cfg.allowed[1].len == 32 && cfg.allowed[2].len == 0);

	/* one device, three sections: untagged, VLAN 100, VLAN 4094 */
	CHECK(load_text(PORT0 "[port1]\ndevice = net_tap0\naddress = 198.18.2.1/24\nvlan = 100\n"
			"[port2]\ndevice = net_tap0\naddress = 198.18.3.1/24\nvlan = 4094\n",
			&cfg, err, sizeof(err)) == 0);
	CHECK_STR(err, "");
	CHECK(cfg.n_ports == 3 && p0->vlan == 0 && p1->vlan == 100 && cfg.ports[2].vlan == 4094);
	CHECK_STR(p1->device, "net_tap0");
	CHECK_STR(p1->exception, "rtp1");

	CHECK(load_text(api_example, &cfg, err, sizeof(err)) == 0);
	CHECK_STR(err, "");
	CHECK(cfg.n_ports == 1 && p0->n_neighbors == 1 && p0->has_gateway);
	CHECK(memcmp(p0->neighbors[0].mac, "\x02\x00\x00\x00\x02\x02", 6) == 0);
	CHECK_STR(cfg.eal_args, "-l 0-1 --no-huge -m 512 --no-pci");

	CHECK(load_text(PORT0 "[grpc]\nlisten = localhost:50051\n", &cfg, err, sizeof(err)) == 0);
	CHECK(load_text(PORT0 "[grpc]\nlisten = [::1]:65535\n", &cfg, err, sizeof(err)) == 0);
	CHECK(load_text(PORT0 "[sessions]\nallowed_destinations =\n", &cfg, err, sizeof(err)) == 0);
	/* [http] listen: a v4 or v6 literal and a port, or empty for off */
	CHECK(load_text(PORT0, &cfg, err, sizeof(err)) == 0);
	CHECK_STR(cfg.http_listen, "127.0.0.1:9464");
	CHECK(load_text(PORT0 "[http]\nlisten = [::1]:65535\n", &cfg, err, sizeof(err)) == 0);
	CHECK_STR(cfg.http_listen, "[::1]:65535");
	CHECK(load_text(PORT0 "[http]\nlisten = 0.0.0.0:1\n", &cfg, err, sizeof(err)) == 0);
	CHECK_STR(cfg.http_listen, "0.0.0.0:1");
	CHECK(load_text(PORT0 "[http]\nlisten =\n", &cfg, err, sizeof(err)) == 0);
	CHECK_STR(cfg.http_listen, "");
	CHECK(cfg.n_allowed == 0);

	/* the security keys and their defaults */
	CHECK(load_text(PORT0, &cfg, err, sizeof(err)) == 0);
	CHECK(p0->exception_rate_pps == 10000 && p0->n_kernel_allow == 0);
	CHECK(cfg.max_message_bytes == 65536 && cfg.max_streams == 64 && cfg.stream_queue == 4096);
	CHECK(cfg.tcp_max_conns_per_session == 64 && cfg.n_allowed_peers == 0);
	CHECK(cfg.tls_cert[0] == '\0' && cfg.tokens_file[0] == '\0' && cfg.audit_file[0] == '\0');
	CHECK(load_text(PORT0 "kernel_allow = tcp/22, udp/161\nexception_rate_pps = 0\n"
			"[grpc]\ntls_cert = /dev/null\ntls_key = /dev/null\n"
			"tls_client_ca = /dev/null\ntokens_file = /dev/null\n"
			"allowed_peers = 127.0.0.0/8, ::1, 2001:db8::/32\n"
			"max_message_bytes = 1024\nmax_streams = 1\nstream_queue = 16\n"
			"[audit]\nfile = /tmp/rtpproxy-audit.log\n"
			"[tcp]\nmax_connections_per_session = 1\n", &cfg, err, sizeof(err)) == 0);
	CHECK_STR(err, "");
	CHECK(p0->n_kernel_allow == 2 && p0->kernel_allow[0].proto == 6 &&
	      p0->kernel_allow[0].port == 22 && p0->kernel_allow[1].proto == 17 &&
	      p0->kernel_allow[1].port == 161 && p0->exception_rate_pps == 0);
	CHECK_STR(cfg.tls_client_ca, "/dev/null");
	CHECK(cfg.n_allowed_peers == 3 && cfg.allowed_peers[0].len == 8 &&
	      cfg.allowed_peers[1].family == AF_INET6 && cfg.allowed_peers[1].len == 128 &&
	      cfg.allowed_peers[2].len == 32);
	{
		struct in_addr lo = { htonl(0x7f000005) }, other = { htonl(0xc6120101) };
		uint8_t v6[16] = { 0x20, 0x01, 0x0d, 0xb8, 0, 1 };
		CHECK(config_cidr_contains(&cfg.allowed_peers[0], AF_INET, &lo));
		CHECK(!config_cidr_contains(&cfg.allowed_peers[0], AF_INET, &other));
		CHECK(!config_cidr_contains(&cfg.allowed_peers[0], AF_INET6, v6));
		CHECK(config_cidr_contains(&cfg.allowed_peers[2], AF_INET6, v6));
		v6[3] = 0xb9;
		CHECK(!config_cidr_contains(&cfg.allowed_peers[2], AF_INET6, v6));
	}
	CHECK(cfg.max_message_bytes == 1024 && cfg.max_streams == 1 && cfg.stream_queue == 16);
	CHECK_STR(cfg.audit_file, "/tmp/rtpproxy-audit.log");
	CHECK(cfg.tcp_max_conns_per_session == 1);

	/* a range of addresses with one prefix length, next to single ones */
	CHECK(load_text("[port0]\ndevice = net_tap0\n"
			"address = 198.18.1.1/24, 198.18.1.10-198.18.1.40/24\n",
			&cfg, err, sizeof(err)) == 0);
	CHECK_STR(err, "");
	CHECK(p0->n_addrs == 32);
	CHECK_STR(ip(p0->addrs[1].addr), "198.18.1.10");
	CHECK_STR(ip(p0->addrs[31].addr), "198.18.1.40");
	CHECK(p0->addrs[31].len == 24);
	CHECK(load_text("[port0]\ndevice = net_tap0\naddress = 10.0.0.255-10.0.1.1/16\n",
			&cfg, err, sizeof(err)) == 0);
	CHECK(p0->n_addrs == 3);
	CHECK_STR(ip(p0->addrs[1].addr), "10.0.1.0");

	/* [rtp] clock_rates: listed payload types get their rate, the others keep 8000 Hz */
	static const int rates[] = { 96, 90000, 111, 48000, 0, 8000, 127, 1000000, 13, 1, 9, 16000,
				     -1 };

	CHECK(load_text(PORT0 "[rtp]\nclock_rates = 96:90000, 111:48000,0:8000 ,\t127:1000000, "
			"13:1,9:16000\n", &cfg, err, sizeof(err)) == 0);
	CHECK_STR(err, "");
	CHECK(clock_rates_are(&cfg, rates));
	CHECK(load_text(PORT0 "[rtp]\nclock_rates =\n", &cfg, err, sizeof(err)) == 0);
	CHECK(clock_rates_are(&cfg, NULL));
	CHECK(load_text("[rtp]\n" PORT0, &cfg, err, sizeof(err)) == 0);
	CHECK(clock_rates_are(&cfg, NULL));
}

struct bad_case {
	int line;
	const char *text;   /* the file */
	const char *want;   /* the message after "<file>: " */
};

#define L __LINE__
#define PORTS PORT0 "[port1]\ndevice = net_tap1\naddress = 198.18.2.1/24\n"
#define DP "[dataplane]\n"
#define SESS PORT0 "[sessions]\n"
#define WANT_ADDR "expected IPv4 addresses with their prefix length, such as 198.18.1.1/24 or " \
	"198.18.1.10-198.18.1.41/24"
#define WANT_NB "expected IPv4@MAC such as 198.18.2.2@02:00:00:00:02:02"
#define WANT_HTTP "expected IPv4:port or [IPv6]:port (address literals), or empty for no " \
	"HTTP server, such as 127.0.0.1:9464"
#define WANT_LISTEN "expected host:port, [IPv6]:port or unix:/absolute/path, such as [::]:50051"
#define WANT_CLOCK "expected PT:HZ with a payload type 0..127 and a clock rate 1..1000000, " \
	"such as 96:90000"
#define WANT_LINE "expected \"key = value\" or \"[section]\" (comments start with ';')"

static const struct bad_case bad_cases[] = {
	/* sections */
	{ L, PORT0 "[foo]\n",
	  "[foo]: unknown section (expected eal, dataplane, portN, grpc, audit, http, sessions, rtp, tcp, state)" },
	{ L, PORT0 "[Port1]\n",
	  "[Port1]: unknown section (expected eal, dataplane, portN, grpc, audit, http, sessions, rtp, tcp, state)" },
	{ L, PORT0 "[port01]\n",
	  "[port01]: unknown section (expected eal, dataplane, portN, grpc, audit, http, sessions, rtp, tcp, state)" },
	{ L, PORT0 "[port8]\n", "[port8]: expected a port section port0..port7, got \"port8\"" },
	{ L, PORT0 "[port0]\n", "[port0]: expected each section once, got a second [port0]" },
	{ L, DP DP PORT0, "[dataplane]: expected each section once, got a second [dataplane]" },
	{ L, "", "[port0]: expected at least one port section, got none" },
	{ L, DP "workers = 1\n", "[port0]: expected at least one port section, got none" },
	{ L, PORT0 "[port2]\ndevice = net_tap2\naddress = 198.18.3.1/24\n",
	  "[port2]: expected port sections numbered from port0 without gaps, got no [port1]" },
	{ L, "[port1]\ndevice = net_tap1\naddress = 198.18.3.1/24\n",
	  "[port1]: expected port sections numbered from port0 without gaps, got no [port0]" },
	/* keys */
	{ L, DP "worker = 2\n" PORT0,
	  "[dataplane] worker: unknown key (expected one of: workers, mbufs, idle_sleep_us)" },
	{ L, "[port0]\ndevice = net_tap0\naddress = 198.18.1.1/24\nmac = 1\n",
	  "[port0] mac: unknown key (expected one of: device, vlan, address, gateway, exception, "
	  "neighbors, kernel_allow, exception_rate_pps)" },
	{ L, SESS "port-min = 1\n",
	  "[sessions] port-min: unknown key (expected one of: max_sessions, port_min, port_max, "
	  "idle_timeout_secs, allowed_destinations, closed_retention_secs)" },
	{ L, "[eal]\nargv = -l 0\n" PORT0, "[eal] argv: unknown key (expected one of: args)" },
	{ L, "[grpc]\nport = 1\n" PORT0, "[grpc] port: unknown key (expected one of: listen, tls_cert, tls_key, "
	  "tls_client_ca, tokens_file, allowed_peers, max_message_bytes, max_streams, stream_queue)" },
	/* security keys (API.md 1.3) */
	{ L, PORT0 "kernel_allow = tcp/22, sctp/1\n",
	  "[port0] kernel_allow: expected services as tcp/PORT or udp/PORT, such as tcp/22, "
	  "udp/161, got \"sctp/1\"" },
	{ L, PORT0 "kernel_allow = tcp/0\n",
	  "[port0] kernel_allow: expected services as tcp/PORT or udp/PORT, such as tcp/22, "
	  "udp/161, got \"tcp/0\"" },
	{ L, PORT0 "kernel_allow = udp/161, udp/161\n",
	  "[port0] kernel_allow: expected each service once, got \"udp/161\"" },
	{ L, PORT0 "exception_rate_pps = -1\n",
	  "[port0] exception_rate_pps: expected an integer 0..100000000, got \"-1\"" },
	{ L, PORT0 "[grpc]\ntls_cert = /nonexistent/cert.pem\ntls_key = /nonexistent/key.pem\n",
	  "[grpc] tls_cert: expected a readable PEM certificate chain, "
	  "got \"/nonexistent/cert.pem\"" },
	{ L, PORT0 "[grpc]\ntls_cert = /dev/null\n",
	  "[grpc] tls_key: expected tls_cert and tls_key together, got only tls_cert" },
	{ L, PORT0 "[grpc]\ntls_client_ca = /dev/null\n",
	  "[grpc] tls_client_ca: expected with tls_cert and tls_key (mutual TLS is TLS first), "
	  "got it alone" },
	{ L, PORT0 "[grpc]\nallowed_peers = 127.0.0.0/8, 198.18.1.1/24\n",
	  "[grpc] allowed_peers: expected IPv4 or IPv6 networks such as 198.18.0.0/15, ::1/128, "
	  "got \"198.18.1.1/24\"" },
	{ L, PORT0 "[grpc]\nallowed_peers = 2001:db8::/129\n",
	  "[grpc] allowed_peers: expected IPv4 or IPv6 networks such as 198.18.0.0/15, ::1/128, "
	  "got \"2001:db8::/129\"" },
	{ L, PORT0 "[grpc]\nmax_message_bytes = 100\n",
	  "[grpc] max_message_bytes: expected an integer 1024..67108864, got \"100\"" },
	{ L, PORT0 "[grpc]\nmax_streams = 0\n",
	  "[grpc] max_streams: expected an integer 1..100000, got \"0\"" },
	{ L, PORT0 "[audit]\nfile = /nonexistent-dir/audit.log\n",
	  "[audit] file: expected a file path in an existing directory, "
	  "got \"/nonexistent-dir/audit.log\"" },
	{ L, PORT0 "[tcp]\nmax_connections_per_session = 0\n",
	  "[tcp] max_connections_per_session: expected an integer 1..1000000, got \"0\"" },
	{ L, DP "workers = 1\nmbufs = 2047\nworkers = 2\n" PORT0,
	  "[dataplane] workers: expected the key only once, got \"2\" after \"1\"" },
	{ L, "[port0]\ndevice = net_tap0\n",
	  "[port0] address: " WANT_ADDR ", got nothing (the key is required)" },
	{ L, "[port0]\naddress = 198.18.1.1/24\n",
	  "[port0] device: expected a DPDK vdev spec or a PCI address such as 0000:03:00.0, "
	  "got nothing (the key is required)" },
	/* integers */
	{ L, DP "workers = two\n", "[dataplane] workers: expected an integer 1..127, got \"two\"" },
	{ L, PORT0 "[tcp]\nconnect_timeout_ms = 5\n",
	  "[tcp] connect_timeout_ms: expected an integer 100..600000, got \"5\"" },
	{ L, PORT0 "[tcp]\nbuffer_kib = 0\n",
	  "[tcp] buffer_kib: expected an integer 4..4096, got \"0\"" },
	{ L, DP "workers = 0\n", "[dataplane] workers: expected an integer 1..127, got \"0\"" },
	{ L, DP "workers = 128\n", "[dataplane] workers: expected an integer 1..127, got \"128\"" },
	{ L, DP "workers = +1\n", "[dataplane] workers: expected an integer 1..127, got \"+1\"" },
	{ L, DP "workers = -1\n", "[dataplane] workers: expected an integer 1..127, got \"-1\"" },
	{ L, DP "workers = 0x1\n", "[dataplane] workers: expected an integer 1..127, got \"0x1\"" },
	{ L, DP "workers = 1 2\n", "[dataplane] workers: expected an integer 1..127, got \"1 2\"" },
	{ L, DP "workers =\n", "[dataplane] workers: expected an integer 1..127, got \"\"" },
	{ L, DP "workers = 99999999999999999999999\n",
	  "[dataplane] workers: expected an integer 1..127, got \"99999999999999999999999\"" },
	{ L, DP "mbufs = 1022\n",
	  "[dataplane] mbufs: expected an integer 1023..16777215, got \"1022\"" },
	{ L, DP "mbufs = 16777216\n",
	  "[dataplane] mbufs: expected an integer 1023..16777215, got \"16777216\"" },
	{ L, DP "idle_sleep_us = 100001\n",
	  "[dataplane] idle_sleep_us: expected an integer 0..100000, got \"100001\"" },
	{ L, SESS "max_sessions = 0\n",
	  "[sessions] max_sessions: expected an integer 1..16777216, got \"0\"" },
	{ L, SESS "max_sessions = 16777217\n",
	  "[sessions] max_sessions: expected an integer 1..16777216, got \"16777217\"" },
	{ L, SESS "port_min = 0\n",
	  "[sessions] port_min: expected an integer 1..65535, got \"0\"" },
	{ L, SESS "port_max = 65536\n",
	  "[sessions] port_max: expected an integer 1..65535, got \"65536\"" },
	{ L, SESS "idle_timeout_secs = 0\n",
	  "[sessions] idle_timeout_secs: expected an integer 1..86400, got \"0\"" },
	{ L, SESS "closed_retention_secs = 86401\n",
	  "[sessions] closed_retention_secs: expected an integer 0..86400, got \"86401\"" },
	{ L, SESS "port_min = 30000\nport_max = 20000\n",
	  "[sessions] port_max: expected a port >= port_min (30000), got \"20000\"" },
	{ L, SESS "port_min = 60000\n",
	  "[sessions] port_max: expected a port >= port_min (60000), got \"59999\" (the default)" },
	/* port addresses */
	{ L, "[port0]\ndevice = net_tap0\naddress = 198.18.1.1\n",
	  "[port0] address: " WANT_ADDR ", got \"198.18.1.1\"" },
	{ L, "[port0]\ndevice = net_tap0\naddress =\n",
	  "[port0] address: " WANT_ADDR ", got \"\"" },
	{ L, "[port0]\ndevice = net_tap0\naddress = 198.18.1.1/24, 198.18.1.300/24\n",
	  "[port0] address: " WANT_ADDR ", got \"198.18.1.300/24\"" },
	{ L, "[port0]\ndevice = net_tap0\naddress = 198.18.1.1/24,\n",
	  "[port0] address: " WANT_ADDR ", got \"\"" },
	{ L, "[port0]\ndevice = net_tap0\naddress = 198.18.1.1/33\n",
	  "[port0] address: " WANT_ADDR ", got \"198.18.1.1/33\"" },
	{ L, "[port0]\ndevice = net_tap0\naddress = 198.18.1.1/0\n",
	  "[port0] address: " WANT_ADDR ", got \"198.18.1.1/0\"" },
	{ L, "[port0]\ndevice = net_tap0\naddress = 2001:db8::1/64\n",
	  "[port0] address: expected an IPv4 prefix (IPv6 is not supported yet), "
	  "got \"2001:db8::1/64\"" },
	{ L, "[port0]\ndevice = net_tap0\naddress = 198.18.1.0/24\n",
	  "[port0] address: expected a host address, not the network or broadcast address, "
	  "got \"198.18.1.0/24\"" },
	{ L, "[port0]\ndevice = net_tap0\naddress = 198.18.1.255/24\n",
	  "[port0] address: expected a host address, not the network or broadcast address, "
	  "got \"198.18.1.255/24\"" },
	{ L, "[port0]\ndevice = net_tap0\naddress = 224.0.0.1/24\n",
	  "[port0] address: expected a unicast IPv4 address, got \"224.0.0.1/24\"" },
	{ L, "[port0]\ndevice = net_tap0\naddress = 198.18.1.12-198.18.1.10/24\n",
	  "[port0] address: expected a range of at most 32 addresses, lowest first, "
	  "got \"198.18.1.12-198.18.1.10/24\"" },
	{ L, "[port0]\ndevice = net_tap0\naddress = 198.18.1.10-198.18.1.42/24\n",
	  "[port0] address: expected a range of at most 32 addresses, lowest first, "
	  "got \"198.18.1.10-198.18.1.42/24\"" },
	{ L, "[port0]\ndevice = net_tap0\naddress = 198.18.1.10-198.18.1.12\n",
	  "[port0] address: " WANT_ADDR ", got \"198.18.1.10-198.18.1.12\"" },
	{ L, "[port0]\ndevice = net_tap0\naddress = 198.18.1.10-x/24\n",
	  "[port0] address: " WANT_ADDR ", got \"198.18.1.10-x/24\"" },
	{ L, "[port0]\ndevice = net_tap0\naddress = 198.18.1.250-198.18.1.255/24\n",
	  "[port0] address: expected a host address, not the network or broadcast address, "
	  "got \"198.18.1.250-198.18.1.255/24\"" },
	{ L, "[port0]\ndevice = net_tap0\naddress = 198.18.1.1/24, 198.18.1.0-198.18.1.31/24\n",
	  "[port0] address: expected a host address, not the network or broadcast address, "
	  "got \"198.18.1.0-198.18.1.31/24\"" },
	{ L, "[port0]\ndevice = net_tap0\naddress = 10.0.0.1/8, 10.0.0.1/16\n",
	  "[port0] address: expected each address once, got \"10.0.0.1/16\"" },
	{ L, PORT0 "[port1]\ndevice = net_tap1\naddress = 198.18.2.1/24, 198.18.1.1/24\n",
	  "[port1] address: expected addresses no other port owns, got \"198.18.1.1/24\" "
	  "(also on [port0])" },
	/* gateway */
	{ L, PORT0 "gateway = 198.18.2.254\n",
	  "[port0] gateway: expected an address inside 198.18.1.0/24, got \"198.18.2.254\"" },
	{ L, "[port0]\ngateway = 10.0.0.1\ndevice = net_tap0\n"
	  "address = 198.18.1.1/24, 198.18.7.9/16\n",
	  "[port0] gateway: expected an address inside one of 198.18.1.0/24, 198.18.0.0/16, "
	  "got \"10.0.0.1\"" },
	{ L, PORT0 "gateway = 198.18.1.1\n",
	  "[port0] gateway: expected a next hop other than the port's own address, "
	  "got \"198.18.1.1\"" },
	{ L, PORT0 "gateway = 198.18.1\n",
	  "[port0] gateway: expected an IPv4 address, got \"198.18.1\"" },
	{ L, PORT0 "gateway = fe80::1\n",
	  "[port0] gateway: expected an IPv4 address (IPv6 is not supported yet), "
	  "got \"fe80::1\"" },
	/* neighbors */
	{ L, PORT0 "neighbors = 198.18.1.2@02:00:00:00:02\n",
	  "[port0] neighbors: " WANT_NB ", got \"198.18.1.2@02:00:00:00:02\"" },
	{ L, PORT0 "neighbors = 198.18.1.2@02:00:00:00:02:02, 198.18.1.3\n",
	  "[port0] neighbors: " WANT_NB ", got \"198.18.1.3\"" },
	{ L, PORT0 "neighbors = 198.18.1.2 @ 02:00:00:00:02:02\n",
	  "[port0] neighbors: " WANT_NB ", got \"198.18.1.2 @ 02:00:00:00:02:02\"" },
	{ L, PORT0 "neighbors = 198.18.1.2@01:00:5e:00:00:01\n",
	  "[port0] neighbors: expected a unicast MAC address, "
	  "got \"198.18.1.2@01:00:5e:00:00:01\"" },
	{ L, PORT0 "neighbors = 198.18.1.2@02:00:00:00:00:01,198.18.1.2@02:00:00:00:00:02\n",
	  "[port0] neighbors: expected each neighbor address once, "
	  "got \"198.18.1.2@02:00:00:00:00:02\"" },
	{ L, PORT0 "neighbors = fe80::2@02:00:00:00:00:01\n",
	  "[port0] neighbors: expected an IPv4 address@MAC (IPv6 is not supported yet), "
	  "got \"fe80::2@02:00:00:00:00:01\"" },
	/* device, exception */
	{ L, "[port0]\ndevice =\naddress = 198.18.1.1/24\n",
	  "[port0] device: expected a DPDK vdev spec or a PCI address such as 0000:03:00.0, "
	  "got \"\"" },
	{ L, "[port0]\ndevice = net tap0\naddress = 198.18.1.1/24\n",
	  "[port0] device: expected a DPDK vdev spec or a PCI address such as 0000:03:00.0, "
	  "got \"net tap0\"" },
	{ L, PORT0 "[port1]\ndevice = net_tap0,iface=x\naddress = 198.18.2.1/24\nvlan = 7\n",
	  "[port1] device: expected the same spec as [port0] for a device both use "
	  "(\"net_tap0\"), got \"net_tap0,iface=x\"" },
	{ L, "[port0]\ndevice = 03:00.0\naddress = 198.18.1.1/24\n"
	  "[port1]\ndevice = 0000:03:00.0\naddress = 198.18.2.1/24\n",
	  "[port1] device: expected the same spec as [port0] for a device both use "
	  "(\"03:00.0\"), got \"0000:03:00.0\"" },
	/* vlan: one device, several sections with different tags (API.md 1.5) */
	{ L, PORT0 "[port1]\ndevice = net_tap0\naddress = 198.18.2.1/24\n",
	  "[port1] vlan: expected a VLAN no other section of device \"net_tap0\" uses, got 0, "
	  "untagged (also on [port0])" },
	{ L, PORT0 "vlan = 100\n[port1]\ndevice = net_tap1\naddress = 198.18.2.1/24\n"
	  "[port2]\ndevice = net_tap0\naddress = 198.18.3.1/24\nvlan = 100\n",
	  "[port2] vlan: expected a VLAN no other section of device \"net_tap0\" uses, got 100 "
	  "(also on [port0])" },
	{ L, PORT0 "vlan = 4095\n", "[port0] vlan: expected an integer 0..4094, got \"4095\"" },
	{ L, PORT0 "vlan = -1\n", "[port0] vlan: expected an integer 0..4094, got \"-1\"" },
	{ L, PORT0 "vlan = 0x10\n", "[port0] vlan: expected an integer 0..4094, got \"0x10\"" },
	{ L, PORT0 "exception = a-very-long-name\n",
	  "[port0] exception: expected an interface name of 1..15 characters [A-Za-z0-9_.-], "
	  "got \"a-very-long-name\"" },
	{ L, PORT0 "exception = rtp/0\n",
	  "[port0] exception: expected an interface name of 1..15 characters [A-Za-z0-9_.-], "
	  "got \"rtp/0\"" },
	{ L, PORTS "exception = rtp0\n",
	  "[port1] exception: expected a name no other port uses, got \"rtp0\" (also on [port0])" },
	/* http */
	{ L, PORT0 "[http]\nlisten = localhost:9464\n",
	  "[http] listen: " WANT_HTTP ", got \"localhost:9464\"" },
	{ L, PORT0 "[http]\nlisten = 127.0.0.1\n", "[http] listen: " WANT_HTTP ", got \"127.0.0.1\"" },
	{ L, PORT0 "[http]\nlisten = 127.0.0.1:0\n",
	  "[http] listen: " WANT_HTTP ", got \"127.0.0.1:0\"" },
	{ L, PORT0 "[http]\nlisten = 127.0.0.1:65536\n",
	  "[http] listen: " WANT_HTTP ", got \"127.0.0.1:65536\"" },
	{ L, PORT0 "[http]\nlisten = ::1:9464\n", "[http] listen: " WANT_HTTP ", got \"::1:9464\"" },
	{ L, PORT0 "[http]\nlisten = [1.2.3.4]:1\n",
	  "[http] listen: " WANT_HTTP ", got \"[1.2.3.4]:1\"" },
	{ L, PORT0 "[http]\nlisten = unix:/tmp/x.sock\n",
	  "[http] listen: " WANT_HTTP ", got \"unix:/tmp/x.sock\"" },
	{ L, PORT0 "[http]\nport = 1\n", "[http] port: unknown key (expected one of: listen)" },
	/* grpc */
	{ L, PORT0 "[grpc]\nlisten = 50051\n", "[grpc] listen: " WANT_LISTEN ", got \"50051\"" },
	{ L, PORT0 "[grpc]\nlisten = :50051\n", "[grpc] listen: " WANT_LISTEN ", got \":50051\"" },
	{ L, PORT0 "[grpc]\nlisten = unix:rel.sock\n",
	  "[grpc] listen: " WANT_LISTEN ", got \"unix:rel.sock\"" },
	{ L, PORT0 "[grpc]\nlisten = ::1:50051\n",
	  "[grpc] listen: " WANT_LISTEN ", got \"::1:50051\"" },
	{ L, PORT0 "[grpc]\nlisten = [::1]50051\n",
	  "[grpc] listen: " WANT_LISTEN ", got \"[::1]50051\"" },
	{ L, PORT0 "[grpc]\nlisten = [1.2.3.4]:1\n",
	  "[grpc] listen: " WANT_LISTEN ", got \"[1.2.3.4]:1\"" },
	{ L, PORT0 "[grpc]\nlisten = localhost:0\n",
	  "[grpc] listen: " WANT_LISTEN ", got \"localhost:0\"" },
	{ L, PORT0 "[grpc]\nlisten = localhost:65536\n",
	  "[grpc] listen: " WANT_LISTEN ", got \"localhost:65536\"" },
	{ L, PORT0 "[grpc]\nlisten = 300.1.1.1:1\n",
	  "[grpc] listen: " WANT_LISTEN ", got \"300.1.1.1:1\"" },
	/* allowed_destinations */
	{ L, SESS "allowed_destinations = 198.18.1.1/15\n",
	  "[sessions] allowed_destinations: expected a network prefix without host bits, such as "
	  "198.18.0.0/15, got \"198.18.1.1/15\"" },
	{ L, SESS "allowed_destinations = 10.0.0.0/8, 2001:db8::/32\n",
	  "[sessions] allowed_destinations: expected an IPv4 prefix (IPv6 is not supported yet), "
	  "got \"2001:db8::/32\"" },
	{ L, SESS "allowed_destinations = 10.0.0.0/8 192.168.0.0/16\n",
	  "[sessions] allowed_destinations: expected an IPv4 prefix such as 198.18.0.0/15, "
	  "got \"10.0.0.0/8 192.168.0.0/16\"" },
	/* [rtp] clock_rates */
	{ L, PORT0 "[rtp]\nclock_rate = 96:90000\n",
	  "[rtp] clock_rate: unknown key (expected one of: clock_rates)" },
	{ L, PORT0 "[rtp]\nclock_rates = 96:90000, 128:8000\n",
	  "[rtp] clock_rates: " WANT_CLOCK ", got \"128:8000\"" },
	{ L, PORT0 "[rtp]\nclock_rates = 96:0\n",
	  "[rtp] clock_rates: " WANT_CLOCK ", got \"96:0\"" },
	{ L, PORT0 "[rtp]\nclock_rates = 96:1000001\n",
	  "[rtp] clock_rates: " WANT_CLOCK ", got \"96:1000001\"" },
	{ L, PORT0 "[rtp]\nclock_rates = 96-90000\n",
	  "[rtp] clock_rates: " WANT_CLOCK ", got \"96-90000\"" },
	{ L, PORT0 "[rtp]\nclock_rates = 96:90000 111:48000\n",
	  "[rtp] clock_rates: " WANT_CLOCK ", got \"96:90000 111:48000\"" },
	{ L, PORT0 "[rtp]\nclock_rates = 96 : 90000\n",
	  "[rtp] clock_rates: " WANT_CLOCK ", got \"96 : 90000\"" },
	{ L, PORT0 "[rtp]\nclock_rates = 096:90000\n",
	  "[rtp] clock_rates: " WANT_CLOCK ", got \"096:90000\"" },
	{ L, PORT0 "[rtp]\nclock_rates = 96:+90000\n",
	  "[rtp] clock_rates: " WANT_CLOCK ", got \"96:+90000\"" },
	{ L, PORT0 "[rtp]\nclock_rates = -1:8000\n",
	  "[rtp] clock_rates: " WANT_CLOCK ", got \"-1:8000\"" },
	{ L, PORT0 "[rtp]\nclock_rates = 96:\n",
	  "[rtp] clock_rates: " WANT_CLOCK ", got \"96:\"" },
	{ L, PORT0 "[rtp]\nclock_rates = :8000\n",
	  "[rtp] clock_rates: " WANT_CLOCK ", got \":8000\"" },
	{ L, PORT0 "[rtp]\nclock_rates = 96:90000,\n",
	  "[rtp] clock_rates: " WANT_CLOCK ", got \"\"" },
	{ L, PORT0 "[rtp]\nclock_rates = 99999999999999999999:1\n",
	  "[rtp] clock_rates: " WANT_CLOCK ", got \"99999999999999999999:1\"" },
	{ L, PORT0 "[rtp]\nclock_rates = 96:99999999999999999999\n",
	  "[rtp] clock_rates: " WANT_CLOCK ", got \"96:99999999999999999999\"" },
	{ L, PORT0 "[rtp]\nclock_rates = 96:90000, 0:8000, 96:48000\n",
	  "[rtp] clock_rates: expected each payload type once, got \"96:48000\"" },
	{ L, PORT0 "[rtp]\nclock_rates = 96:90000, 96:90000\n",
	  "[rtp] clock_rates: expected each payload type once, got \"96:90000\"" },
	{ L, PORT0 "[rtp]\nclock_rates = 96:90000\nclock_rates = 0:8000\n",
	  "[rtp] clock_rates: expected the key only once, got \"0:8000\" after \"96:90000\"" },
	{ L, PORT0 "[rtp]\n[rtp]\n", "[rtp]: expected each section once, got a second [rtp]" },
	/* lines rte_cfgfile would take silently, or refuse without saying where */
	{ L, DP "workers 4\n" PORT0, "cannot read: line 2: " WANT_LINE ", got \"workers 4\"" },
	{ L, "# a comment\n" PORT0, "cannot read: line 1: " WANT_LINE ", got \"# a comment\"" },
	{ L, "[port0] x\n", "cannot read: line 1: expected \"[section]\", got \"[port0] x\"" },
	{ L, "[port0\n", "cannot read: line 1: expected \"[section]\", got \"[port0\"" },
	{ L, "[ ]\n", "cannot read: line 1: expected \"[section]\", got \"[ ]\"" },
	{ L, "workers = 1\n" PORT0,
	  "cannot read: line 1: \"workers = 1\" before any [section]" },
	{ L, PORT0 "= 1\n", "cannot read: line 4: " WANT_LINE ", got \"= 1\"" },
	{ L, "[eal]\nargs = a\\;b ; c\n", "cannot read: line 2: \"\\;\" is not supported" },
	{ L, "[eal]\nargs = -l 0-1 "
	  "-------------------------------------------------------------------------------------"
	  "-------------------------------------------------------------------------------------"
	  "-------------------------------------------------------------------------------------\n",
	  "cannot read: line 2: value longer than 255 characters" },
	{ L, "[eal]\nargs = -l 0-1 ; "
	  "-------------------------------------------------------------------------------------"
	  "-------------------------------------------------------------------------------------"
	  "-------------------------------------------------------------------------------------"
	  "-------------------------------------------------------------------------------------\n",
	  "cannot read: line 2: longer than 322 characters" },
};

static void
test_errors(void)
{
	char err[1024], want[1024];
	struct config cfg;
	unsigned int i;

	for (i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
		const struct bad_case *c = &bad_cases[i];
		int rc = load_text(c->text, &cfg, err, sizeof(err));

		snprintf(want, sizeof(want), "%s: %s", tmp_path, c->want);
		if (rc != -1 || strcmp(err, want) != 0)
			fprintf(stderr, "case at line %d:\n", c->line);
		CHECK(rc == -1);
		CHECK_STR(err, want);
		CHECK(strchr(err, '\n') == NULL);
	}

	CHECK(config_load("/nonexistent/rtpproxy.conf", &cfg, err, sizeof(err)) == -1);
	CHECK_STR(err, "/nonexistent/rtpproxy.conf: cannot read: No such file or directory");
	CHECK(config_load("/", &cfg, err, sizeof(err)) == -1);
	CHECK_STR(err, "/: cannot read: Is a directory");

	/* A short buffer truncates the message, never overruns it. */
	memset(err, 'x', sizeof(err));
	CHECK(config_load("/nonexistent/rtpproxy.conf", &cfg, err, 8) == -1);
	CHECK_STR(err, "/nonexi");
	CHECK(err[8] == 'x');
	CHECK(config_load("/nonexistent/rtpproxy.conf", &cfg, NULL, 0) == -1);
}

int
main(int argc, char **argv)
{
	const char *example = argc > 1 ? argv[1] : "config/rtpproxy.conf";
	int fd;

	snprintf(tmp_path, sizeof(tmp_path), "/tmp/test_config.XXXXXX");
	fd = mkstemp(tmp_path);
	if (fd < 0) {
		perror("mkstemp");
		return 1;
	}
	close(fd);

	test_parsers();
	test_example(example);
	test_defaults();
	test_accepted();
	test_errors();

	unlink(tmp_path);
	printf("test_config: %u passed, %u failed\n", passed, failed);
	return failed == 0 ? 0 : 1;
}
