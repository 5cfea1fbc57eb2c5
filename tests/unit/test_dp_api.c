/*
 * lib/'s public API (rp_dp.h) as control/ uses it, and nothing else of lib/: dp_create and
 * its errors (and that a failed create leaves nothing behind), port queries, stats, and a
 * session's flows installed, read, refused (with the field named) and removed. Two net_null
 * ports with net_null kernel interfaces (tests/unit/test_dp.h); no root, no TAP.
 */
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <rte_common.h>
#include <rte_eal.h>

#include "check.h"
#include "rp_dp.h"
#include "test_dp.h"

/* An IPv4 literal as an addressable struct dp_addr. */
#define V4(s) ((struct dp_addr){ .family = DP_AF_INET, .v4 = inet_addr(s) })

static bool contains(const char *s, const char *part)
{
	bool ok = strstr(s, part) != NULL;
	if (!ok)
		fprintf(stderr, "  \"%s\" does not contain \"%s\"\n", s, part);
	return ok;
}

static void conf_two_ports(struct dp_conf *c)
{
	memset(c, 0, sizeof(*c));
	c->n_ports = 2;
	for (unsigned i = 0; i < 2; i++) {
		struct dp_port_conf *p = &c->port[i];
		snprintf(p->name, sizeof(p->name), "port%u", i);
		snprintf(p->device, sizeof(p->device), "net_null%u", i);
		snprintf(p->exception, sizeof(p->exception), "rtp%u", i);
		snprintf(p->exception_device, sizeof(p->exception_device), "net_null%u", 2 + i);
		p->addrs[0] = (struct dp_prefix){ dp_addr_v4(htonl(0xc6120001u + (i << 8))), 24 };
		p->n_addrs = 1;
	}
	c->workers = 1;
	c->workers_inline = true;
	c->mbufs = 2047;
	c->max_flows = 16;
}

static void test_create_errors(void)
{
	struct dp_conf c;
	char err[256] = "";

	conf_two_ports(&c);
	c.workers = 0;
	CHECK(dp_create(&c, err, sizeof(err)) == NULL);
	CHECK(contains(err, "[dataplane] workers: 0"));

	conf_two_ports(&c);
	c.port[1].n_addrs = 0;
	CHECK(dp_create(&c, err, sizeof(err)) == NULL);
	CHECK(contains(err, "port1: address"));

	/* addresses of either family, each key with its own: refused naming port and key */
	conf_two_ports(&c);
	CHECK(dp_addr_parse("2001:db8::1", &c.port[1].addrs[0].addr) == 0);
	c.port[1].addrs[0].len = 129;
	CHECK(dp_create(&c, err, sizeof(err)) == NULL);
	CHECK(strcmp(err, "port1: address: not an IPv4 or IPv6 prefix") == 0);
	conf_two_ports(&c);
	CHECK(dp_addr_parse("2001:db8::ff", &c.port[0].gateway6) == 0);
	CHECK(dp_create(&c, err, sizeof(err)) == NULL);
	CHECK(strcmp(err, "port0: gateway6: the port has no IPv6 address to reach it from") == 0);
	conf_two_ports(&c);
	CHECK(dp_addr_parse("ff02::1", &c.port[0].gateway6) == 0);
	CHECK(dp_create(&c, err, sizeof(err)) == NULL);
	CHECK(strcmp(err, "port0: gateway6: not a unicast IPv6 address") == 0);
	conf_two_ports(&c);
	CHECK(dp_addr_parse("198.18.1.254", &c.port[0].gateway6) == 0);
	CHECK(dp_create(&c, err, sizeof(err)) == NULL);
	CHECK(strcmp(err, "port0: gateway6: not a unicast IPv6 address") == 0);
	conf_two_ports(&c);
	CHECK(dp_addr_parse("2001:db8::fe", &c.port[0].gateway) == 0);
	CHECK(dp_create(&c, err, sizeof(err)) == NULL);
	CHECK(strcmp(err, "port0: gateway: not an IPv4 address") == 0);
	conf_two_ports(&c);
	memset(&c.port[0].addrs[0].addr, 0, sizeof(c.port[0].addrs[0].addr));
	CHECK(dp_create(&c, err, sizeof(err)) == NULL);
	CHECK(strcmp(err, "port0: address: not an IPv4 or IPv6 prefix") == 0);

	/* port0 is up when port1's device fails: everything goes again, so the same vdev
	 * names can be created once more below */
	conf_two_ports(&c);
	snprintf(c.port[1].device, sizeof(c.port[1].device), "net_nosuchpmd0");
	CHECK(dp_create(&c, err, sizeof(err)) == NULL);
	CHECK(contains(err, "port1: device \"net_nosuchpmd0\""));
}

static void test_ports_and_stats(struct dp *dp)
{
	struct dp_port_info pi;
	CHECK_EQ_U(dp_n_ports(dp), 2);
	CHECK(dp_port_info(dp, 1, &pi) == 0);
	CHECK(strcmp(pi.name, "port1") == 0);
	CHECK(strcmp(pi.exception, "rtp1") == 0);
	CHECK_EQ_U(pi.n_addrs, 1);
	CHECK(pi.addr[0].family == DP_AF_INET && pi.addr[0].v4 == inet_addr("198.18.2.1"));
	CHECK_EQ_U(pi.prefix_len[0], 24);
	CHECK(dp_addr_is_none(&pi.gateway) && dp_addr_is_none(&pi.gateway6));
	CHECK(dp_port_info(dp, 2, &pi) == -1);
	CHECK(dp_port_of_addr(dp, &V4("198.18.1.1")) == 0);
	CHECK(dp_port_of_addr(dp, &V4("198.18.2.1")) == 1);
	CHECK(dp_port_of_addr(dp, &V4("198.18.2.2")) == -1);
	struct dp_addr v6, none = { 0 };
	CHECK(dp_addr_parse("2001:db8::1", &v6) == 0);
	CHECK(dp_port_of_addr(dp, &v6) == -1);
	CHECK(dp_port_of_addr(dp, &none) == -1);

	struct dp_stats st;
	dp_stats_read(dp, &st);
	CHECK_EQ_U(st.n_ports, 2);
	CHECK_EQ_U(st.n_workers, 1);
	CHECK(st.tsc_hz > 0);
	uint64_t drops = 0;
	for (int d = 0; d < DROP_MAX; d++)
		drops += st.drops[d];
	CHECK_EQ_U(drops, 0);
	CHECK(strcmp(dp_drop_names[DROP_NO_NEIGHBOR], "no_neighbor") == 0);

	char err[128] = "";
	CHECK(dp_start(dp, err, sizeof(err)) == -1);      /* workers_inline */
	CHECK(contains(err, "workers_inline"));
}

static struct dp_sess_spec spec(uint16_t lport, uint16_t fport, const char *dest)
{
	return (struct dp_sess_spec){
		.listen_addr = V4("198.18.1.1"), .listen_port = lport,
		.forward_addr = V4("198.18.2.1"), .forward_port = fport,
		.dest_addr = V4(dest), .dest_port = 40000,
	};
}

static void test_sessions(struct dp *dp)
{
	struct dp_sess *a = NULL, *b = NULL;
	struct dp_sess_read r;
	char msg[256];

	struct dp_sess_spec sp = spec(20000, 30000, "198.18.2.2");
	sp.listen_addr = V4("198.18.1.9");
	CHECK(dp_sess_install(dp, &sp, &a, msg, sizeof(msg)) == DP_SESS_NOT_OURS);
	CHECK(contains(msg, "listen_endpoint.address: 198.18.1.9 is not an address"));
	sp = spec(20000, 30000, "198.18.2.2");
	sp.forward_addr = V4("198.18.2.9");
	CHECK(dp_sess_install(dp, &sp, &a, msg, sizeof(msg)) == DP_SESS_NOT_OURS);
	CHECK(contains(msg, "forward_endpoint.address: 198.18.2.9"));
	/* IPv6 endpoints: ours or not, and the forward address of the destination's family */
	sp = spec(20000, 30000, "198.18.2.2");
	CHECK(dp_addr_parse("2001:db8::1", &sp.listen_addr) == 0);
	CHECK(dp_sess_install(dp, &sp, &a, msg, sizeof(msg)) == DP_SESS_NOT_OURS);
	CHECK(strcmp(msg, "listen_endpoint.address: 2001:db8::1 is not an address of this "
				"appliance") == 0);
	sp = spec(20000, 30000, "198.18.2.2");
	CHECK(dp_addr_parse("2001:db8::1", &sp.forward_addr) == 0);
	CHECK(dp_sess_install(dp, &sp, &a, msg, sizeof(msg)) == DP_SESS_NOT_OURS);
	CHECK(strcmp(msg, "forward_endpoint.address: 2001:db8::1 is not an address of this "
				"appliance") == 0);
	sp = spec(20000, 30000, "198.18.2.2");
	CHECK(dp_addr_parse("64:ff9b::c612:202", &sp.dest_addr) == 0);
	CHECK(dp_sess_install(dp, &sp, &a, msg, sizeof(msg)) == DP_SESS_NO_ROUTE);
	CHECK(strcmp(msg, "destination_endpoint.address: an IPv6 destination needs an IPv6 "
				"forward_endpoint.address") == 0);
	sp = spec(20000, 30000, "10.0.0.1");
	CHECK(dp_sess_install(dp, &sp, &a, msg, sizeof(msg)) == DP_SESS_NO_ROUTE);
	CHECK(contains(msg, "destination_endpoint.address: 10.0.0.1 is not on a subnet of port1"));

	/* bidirectional with RTCP: four flows, nothing counted, nothing latched */
	sp = spec(20000, 30000, "198.18.2.2");
	sp.rtcp = sp.bidirectional = true;
	CHECK(dp_sess_install(dp, &sp, &a, msg, sizeof(msg)) == 0);
	CHECK(a != NULL);
	if (a == NULL)
		return;
	dp_sess_read(dp, a, &r);
	for (int i = 0; i < DP_FLOW_ROLES; i++) {
		CHECK(r.flow[i].present);
		CHECK_EQ_U(r.flow[i].pkts_rx + r.flow[i].pkts_tx + r.flow[i].dropped, 0);
	}
	CHECK(r.flow[DP_FLOW_RTP].has_rtp && !r.flow[DP_FLOW_RTCP].has_rtp);
	CHECK(!r.latch.latched);
	CHECK(!r.next_hop_failed);
	CHECK(dp_addr_eq(&r.next_hop, &V4("198.18.2.2")));

	/* a second session on the same forward endpoint: its reverse flows collide */
	sp = spec(20010, 30000, "198.18.2.2");
	sp.bidirectional = true;
	CHECK(dp_sess_install(dp, &sp, &b, msg, sizeof(msg)) == DP_SESS_IN_USE);
	CHECK(contains(msg, "forward_endpoint: 198.18.2.1:30000 already receives"));
	/* unidirectional, no RTCP: one flow */
	sp.bidirectional = false;
	CHECK(dp_sess_install(dp, &sp, &b, msg, sizeof(msg)) == 0);
	if (b != NULL) {
		struct dp_sess_status st;
		dp_sess_read(dp, b, &r);
		CHECK(r.flow[DP_FLOW_RTP].present);
		CHECK(!r.flow[DP_FLOW_RTCP].present && !r.flow[DP_FLOW_REV_RTP].present &&
				!r.flow[DP_FLOW_REV_RTCP].present);
		dp_sess_status(dp, b, &st);
		CHECK_EQ_U(st.last_tsc, 0);
		CHECK(!st.latch.latched && !st.next_hop_failed);
		dp_sess_remove(dp, b, NULL);
	}
	memset(&r, 0xff, sizeof(r));
	dp_sess_remove(dp, a, &r);                      /* the final counters */
	CHECK(r.flow[DP_FLOW_REV_RTCP].present);
	CHECK_EQ_U(r.flow[DP_FLOW_RTP].pkts_rx, 0);
	CHECK(!r.latch.latched);
}

/* The flow table is full: the refusal says so, and a removal makes room again. */
static void test_full(struct dp *dp)
{
	enum { MAX = 8192 };
	static struct dp_sess *h[MAX];
	char msg[256] = "";
	unsigned n = 0;
	int ret = 0;

	while (n < MAX) {
		struct dp_sess_spec sp = spec((uint16_t)(1024 + n), (uint16_t)(1024 + n),
				"198.18.2.2");
		ret = dp_sess_install(dp, &sp, &h[n], msg, sizeof(msg));
		if (ret != 0)
			break;
		n++;
	}
	CHECK(n >= 16 && n < MAX);                      /* at least max_flows fitted */
	CHECK(ret == DP_SESS_FULL);
	CHECK(contains(msg, "the flow table is full"));
	if (n == 0)
		return;
	dp_sess_remove(dp, h[--n], NULL);
	struct dp_sess_spec sp = spec(60000, 60000, "198.18.2.2");
	CHECK(dp_sess_install(dp, &sp, &h[n], msg, sizeof(msg)) == 0);
	n++;
	while (n > 0)
		dp_sess_remove(dp, h[--n], NULL);
}

int main(int argc, char **argv)
{
	char prefix[64];
	snprintf(prefix, sizeof(prefix), "--file-prefix=tdpapi%d", (int)getpid());
	char *eal[] = { argv[0], "-l", "0", "--no-huge", "-m", "256", "--no-pci", "--no-shconf",
		prefix, "--log-level=error", NULL };
	(void)argc;
	if (rte_eal_init((int)RTE_DIM(eal) - 1, eal) < 0) {
		fprintf(stderr, "EAL init failed\n");
		return 1;
	}
	test_create_errors();
	struct dp *dp = test_dp_create(16, NULL);
	CHECK(dp != NULL);
	if (dp != NULL) {
		test_ports_and_stats(dp);
		test_sessions(dp);
		test_full(dp);
		dp_destroy(dp);
	}
	rte_eal_cleanup();
	return check_summary("test_dp_api");
}
