/* SPDX-License-Identifier: MIT */
/*
 * Unit test of IPv6 in the config file (app/config_port6.c, API.md 1.5 and section 2): IPv6
 * prefixes in a port's address list beside IPv4 ones, gateway6, [IPv6]@MAC neighbours, IPv6
 * allowed_destinations; and every bad value with its exact message (file, section, key).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>

#include "check.h"
#include "config.h"

static char tmp_path[64];

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

static bool
is6(const struct in6_addr *a, const char *text)
{
	struct in6_addr want;

	return inet_pton(AF_INET6, text, &want) == 1 && memcmp(a, &want, 16) == 0;
}

static void
test_accepted(void)
{
	struct config cfg;
	char err[1024];
	struct in6_addr a;

	int rc = load_text("[port0]\ndevice = net_tap0\n"
		"address = 198.18.1.1/24, 2001:db8:1::1/64, 2001:db8:1::10/128\n"
		"gateway6 = fe80::1\n"
		"neighbors = 198.18.1.2@02:00:00:00:01:02, [2001:db8:1::2]@02:00:00:00:01:03, "
		"2001:db8:1::3@0A:00:00:00:01:04\n"
		"[port1]\ndevice = net_tap1\naddress = 2001:db8:2::1/64\n"
		"gateway6 = 2001:db8:2::fe\n"
		"[sessions]\nallowed_destinations = 198.18.0.0/15, 2001:db8::/32, ::/0, "
		"2001:db8:9::9\n", &cfg, err, sizeof(err));
	if (rc != 0)
		fprintf(stderr, "%s\n", err);
	CHECK(rc == 0);
	const struct config_port *p0 = &cfg.ports[0], *p1 = &cfg.ports[1];
	CHECK(cfg.n_ports == 2);
	CHECK(p0->n_addrs == 1 && p0->n_addrs6 == 2);
	CHECK(is6(&p0->addrs6[0].addr, "2001:db8:1::1") && p0->addrs6[0].len == 64);
	CHECK(is6(&p0->addrs6[1].addr, "2001:db8:1::10") && p0->addrs6[1].len == 128);
	CHECK(p0->has_gateway6 && is6(&p0->gateway6, "fe80::1") && !p0->has_gateway);
	CHECK(p0->n_neighbors == 1 && p0->n_neighbors6 == 2);
	CHECK(is6(&p0->neighbors6[0].addr, "2001:db8:1::2"));
	CHECK(memcmp(p0->neighbors6[0].mac, "\x02\x00\x00\x00\x01\x03", 6) == 0);
	CHECK(is6(&p0->neighbors6[1].addr, "2001:db8:1::3"));
	CHECK(memcmp(p0->neighbors6[1].mac, "\x0a\x00\x00\x00\x01\x04", 6) == 0);
	/* an IPv6-only port */
	CHECK(p1->n_addrs == 0 && p1->n_addrs6 == 1 && p1->has_gateway6);
	CHECK(is6(&p1->gateway6, "2001:db8:2::fe"));
	CHECK(cfg.n_allowed == 1 && cfg.n_allowed6 == 3);
	CHECK(cfg.allowed6[0].len == 32 && cfg.allowed6[1].len == 0 && cfg.allowed6[2].len == 128);
	inet_pton(AF_INET6, "2001:db8:77::5", &a);
	CHECK(config_dest_allowed6(&cfg, &a));

	CHECK(load_text("[port0]\ndevice = net_tap0\naddress = 198.18.1.1/24\n[sessions]\n"
		"allowed_destinations = 2001:db8:2::/48\n", &cfg, err, sizeof(err)) == 0);
	inet_pton(AF_INET6, "2001:db8:2:ffff::1", &a);
	CHECK(config_dest_allowed6(&cfg, &a));
	inet_pton(AF_INET6, "2001:db8:3::1", &a);
	CHECK(!config_dest_allowed6(&cfg, &a));
	struct in_addr a4 = { .s_addr = inet_addr("198.18.2.2") };
	CHECK(!config_dest_allowed(&cfg, a4));  /* an IPv6-only list allows no IPv4 */
	CHECK(load_text("[port0]\ndevice = net_tap0\naddress = 198.18.1.1/24\n", &cfg, err,
			sizeof(err)) == 0);
	CHECK(config_dest_allowed6(&cfg, &a));  /* no list: any */

	struct config_prefix6 p;
	CHECK(config_parse_prefix6("2001:db8::1/64", &p) == 0 && p.len == 64);
	CHECK(config_parse_prefix6("::/0", &p) == 0 && p.len == 0);
	CHECK(config_parse_prefix6("2001:db8::1/129", &p) == -1);
	CHECK(config_parse_prefix6("2001:db8::1/064", &p) == -1);
	CHECK(config_parse_prefix6("198.18.1.1/24", &p) == -1);
	CHECK(config_parse_prefix6("2001:db8::1", &p) == -1);
	CHECK(config_parse_prefix6("[2001:db8::1]/64", &p) == -1);
}

struct bad_case {
	int line;
	const char *text;
	const char *want;
};

#define L __LINE__
#define P0 "[port0]\ndevice = net_tap0\n"
#define P0V6 P0 "address = 198.18.1.1/24, 2001:db8:1::1/64\n"
#define WANT_A6 "expected an IPv6 address with its prefix length 1..128, such as 2001:db8:1::1/64"
#define WANT_NB6 "expected [IPv6]@MAC such as [2001:db8:2::2]@02:00:00:00:02:02"
#define WANT_GW6 "expected an IPv6 address such as 2001:db8:1::fe or fe80::1"

static const struct bad_case bad_cases[] = {
	{ L, P0 "address = 2001:db8:1::1/129\n",
	  "[port0] address: " WANT_A6 ", got \"2001:db8:1::1/129\"" },
	{ L, P0 "address = 2001:db8:1::1/0\n",
	  "[port0] address: " WANT_A6 ", got \"2001:db8:1::1/0\"" },
	{ L, P0 "address = 2001:db8:1::g/64\n",
	  "[port0] address: " WANT_A6 ", got \"2001:db8:1::g/64\"" },
	{ L, P0 "address = ::1/128\n",
	  "[port0] address: expected a unicast IPv6 address (not :: or ::1), got \"::1/128\"" },
	{ L, P0 "address = ff02::1/64\n",
	  "[port0] address: expected a unicast IPv6 address (not multicast ff00::/8), "
	  "got \"ff02::1/64\"" },
	{ L, P0 "address = fe80::1/64\n",
	  "[port0] address: expected a global or unique-local IPv6 address (the interface has "
	  "its own link-local one), got \"fe80::1/64\"" },
	{ L, P0 "address = ::ffff:198.18.1.1/120\n",
	  "[port0] address: expected a native IPv6 address (not IPv4-mapped ::ffff:0:0/96; IPv4 "
	  "as such), got \"::ffff:198.18.1.1/120\"" },
	{ L, P0 "address = 2001:db8:1::/64\n",
	  "[port0] address: expected a host address, not the subnet-router anycast address, "
	  "got \"2001:db8:1::/64\"" },
	{ L, P0 "address = 2001:db8:1::1/64, 2001:db8:1::1/96\n",
	  "[port0] address: expected each address once, got \"2001:db8:1::1/96\"" },
	{ L, P0V6 "[port1]\ndevice = net_tap1\naddress = 2001:db8:1::1/64\n",
	  "[port1] address: expected addresses no other port owns, got \"2001:db8:1::1/64\" "
	  "(also on [port0])" },
	/* gateway6 */
	{ L, P0V6 "gateway6 = 198.18.1.254\n",
	  "[port0] gateway6: " WANT_GW6 ", got \"198.18.1.254\"" },
	{ L, P0V6 "gateway6 = ff02::2\n",
	  "[port0] gateway6: expected a unicast IPv6 address (not multicast ff00::/8), "
	  "got \"ff02::2\"" },
	{ L, P0V6 "gateway6 = ::\n",
	  "[port0] gateway6: expected a unicast IPv6 address (not :: or ::1), got \"::\"" },
	{ L, P0V6 "gateway6 = 2001:db8:1::1\n",
	  "[port0] gateway6: expected a next hop other than the port's own address, "
	  "got \"2001:db8:1::1\"" },
	{ L, P0V6 "gateway6 = 2001:db8:9::1\n",
	  "[port0] gateway6: expected a link-local address or one inside 2001:db8:1::/64, "
	  "got \"2001:db8:9::1\"" },
	{ L, P0 "address = 198.18.1.1/24\ngateway6 = fe80::1\n",
	  "[port0] gateway6: expected an IPv6 address on the port first (its address list has "
	  "none), got \"fe80::1\"" },
	{ L, P0 "address = 198.18.1.1/24\ngateway = 2001:db8:1::fe\n",
	  "[port0] gateway: expected an IPv4 address (an IPv6 next hop goes in gateway6), "
	  "got \"2001:db8:1::fe\"" },
	/* neighbours */
	{ L, P0V6 "neighbors = [2001:db8:1::2]@02:00:00:00:01\n",
	  "[port0] neighbors: " WANT_NB6 ", got \"[2001:db8:1::2]@02:00:00:00:01\"" },
	{ L, P0V6 "neighbors = [2001:db8:1::2@02:00:00:00:01:02\n",
	  "[port0] neighbors: " WANT_NB6 ", got \"[2001:db8:1::2@02:00:00:00:01:02\"" },
	{ L, P0V6 "neighbors = [2001:db8:1::zz]@02:00:00:00:01:02\n",
	  "[port0] neighbors: " WANT_NB6 ", got \"[2001:db8:1::zz]@02:00:00:00:01:02\"" },
	{ L, P0V6 "neighbors = [ff02::1]@02:00:00:00:01:02\n",
	  "[port0] neighbors: expected a unicast IPv6 address (not multicast ff00::/8), "
	  "got \"[ff02::1]@02:00:00:00:01:02\"" },
	{ L, P0V6 "neighbors = [2001:db8:1::2]@01:00:00:00:01:02\n",
	  "[port0] neighbors: expected a unicast MAC address, "
	  "got \"[2001:db8:1::2]@01:00:00:00:01:02\"" },
	{ L, P0V6 "neighbors = [2001:db8:1::2]@02:00:00:00:01:02, 2001:db8:1::2@02:00:00:00:01:03\n",
	  "[port0] neighbors: expected each neighbor address once, "
	  "got \"2001:db8:1::2@02:00:00:00:01:03\"" },
	/* allowed_destinations */
	{ L, P0V6 "[sessions]\nallowed_destinations = 2001:db8::1/32\n",
	  "[sessions] allowed_destinations: expected a network prefix without host bits, such as "
	  "2001:db8::/32, got \"2001:db8::1/32\"" },
	{ L, P0V6 "[sessions]\nallowed_destinations = 2001:db8::/200\n",
	  "[sessions] allowed_destinations: expected IPv4 or IPv6 prefixes such as "
	  "198.18.0.0/15, 2001:db8::/32, got \"2001:db8::/200\"" },
	{ L, P0V6 "[sessions]\nallowed_destinations = [2001:db8::]/32\n",
	  "[sessions] allowed_destinations: expected IPv4 or IPv6 prefixes such as "
	  "198.18.0.0/15, 2001:db8::/32, got \"[2001:db8::]/32\"" },
};

static void
test_errors(void)
{
	char err[1024], want[1024];
	struct config cfg;

	for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
		const struct bad_case *c = &bad_cases[i];
		int rc = load_text(c->text, &cfg, err, sizeof(err));

		snprintf(want, sizeof(want), "%s: %s", tmp_path, c->want);
		if (rc != -1 || strcmp(err, want) != 0)
			fprintf(stderr, "case at line %d:\n  got  %s\n  want %s\n", c->line, err,
				want);
		CHECK(rc == -1 && strcmp(err, want) == 0);
	}
}

int
main(void)
{
	snprintf(tmp_path, sizeof(tmp_path), "/tmp/test_config_v6.XXXXXX");
	int fd = mkstemp(tmp_path);
	if (fd < 0) {
		perror("mkstemp");
		return 1;
	}
	close(fd);
	test_accepted();
	test_errors();
	unlink(tmp_path);
	return check_summary("test_config_v6");
}
