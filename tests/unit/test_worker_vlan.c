/*
 * test_worker_vlan: 802.1Q port sections (lib/vlan.h) in one process, without privileges
 * (worker_rig.h's frames and checks, a rig of its own): device A carries port0 (VLAN 100,
 * the client side) and port1 (VLAN 200, the destination side), device B port2 untagged alone.
 * Tagged in -> the right section, the right tag out (software and "NIC" paths), untagged and
 * unknown tags -> unknown_vlan, VID 0 = untagged, ARP and exception traffic per section, and
 * the sections' own counters.
 */
#include "worker_rig.h"
#include "vlan.h"

#define CHECK_STR(a, b) do { \
	if (strcmp((a), (b)) != 0) \
		fprintf(stderr, "  got \"%s\"\n", (a)); \
	CHECK(strcmp((a), (b)) == 0); \
} while (0)

#define PA 0                            /* device A, VLAN 100: 198.18.1.0/24 */
#define PB 1                            /* device A, VLAN 200: 198.18.2.0/24 */
#define PC 2                            /* device B, untagged: 198.18.3.0/24 */
#define VID_A 100
#define VID_B 200

static struct rte_ring *dev_tx[2];      /* device A's and B's tx rings (queue 0) */
static struct rte_ring *dev_txq[2][RIG_MAX_WORKERS];
static struct rte_ring *sec_tap[3];     /* each section's kernel interface (tx ring) */
static uint8_t dev_mac[2][6];

static void setup_vlan(unsigned n_workers)
{
	static struct dp_conf c;
	static const char *const addr[3] = { "198.18.1.10", "198.18.2.10", "198.18.3.10" };
	static const uint16_t vlan[3] = { VID_A, VID_B, 0 };
	struct rte_ring *txq[RIG_MAX_WORKERS];
	char err[256], name[16];

	ring_port("tv_a", n_workers, dev_txq[0]);
	dev_tx[0] = dev_txq[0][0];
	ring_port("tv_b", n_workers, dev_txq[1]);
	dev_tx[1] = dev_txq[1][0];
	c.n_ports = 3;
	for (unsigned p = 0; p < 3; p++) {
		struct dp_port_conf *pc = &c.port[p];
		snprintf(pc->name, sizeof(pc->name), "port%u", p);
		snprintf(pc->device, sizeof(pc->device), "net_ring_%s", p < 2 ? "tv_a" : "tv_b");
		snprintf(pc->exception, sizeof(pc->exception), "rtp%u", p);
		snprintf(name, sizeof(name), "tv_tap%u", p);
		ring_port(name, n_workers, txq);
		sec_tap[p] = txq[0];
		snprintf(pc->exception_device, sizeof(pc->exception_device), "net_ring_%s", name);
		pc->addrs[0] = (struct dp_prefix){ dp_addr_v4(inet_addr(addr[p])), 24 };
		pc->n_addrs = 1;
		pc->vlan = vlan[p];
	}
	c.port[PB].neighbors[0].addr = dp_addr_v4(inet_addr("198.18.2.100"));
	memcpy(c.port[PB].neighbors[0].mac, dest_mac, 6);
	c.port[PB].n_neighbors = 1;
	c.workers = n_workers;
	c.workers_inline = true;
	c.mbufs = N_MBUFS;
	c.max_flows = 64;
	c.max_neighbors = 64;
	dp = dp_create(&c, err, sizeof(err));
	if (dp == NULL) {
		fprintf(stderr, "dp_create: %s\n", err);
		exit(1);
	}
	memcpy(dev_mac[0], dp->port[PA].mac.addr_bytes, 6);
	memcpy(dev_mac[1], dp->port[PC].mac.addr_bytes, 6);
	pool = dp->pool;
	w = &dp->workers[0];
	for (unsigned i = 0; i < n_workers; i++)
		rte_rcu_qsbr_thread_register(dp->qsv, i);
}

/* One iteration of worker wi's loop on a burst from the device that dp port `owner` polls. */
static void vrx_on(unsigned wi, uint16_t owner, struct rte_mbuf **pkts, uint16_t n)
{
	struct worker *wk = &dp->workers[wi];
	uint64_t now = rte_rdtsc();
	rte_rcu_qsbr_thread_online(dp->qsv, wi);
	worker_poll_handoff(wk, now);
	if (n > 0)
		worker_rx_burst(wk, owner, pkts, n, now);
	worker_poll_ctl(wk);
	worker_end_iteration(wk, now);
	rte_rcu_qsbr_thread_offline(dp->qsv, wi);
}

static void vrx(uint16_t owner, struct rte_mbuf **pkts, uint16_t n) { vrx_on(0, owner, pkts, n); }
static void vrx1(uint16_t owner, struct rte_mbuf *m) { vrx(owner, &m, 1); }

/* The frame with an 802.1Q header (TCI: priority and VID) after its MACs. */
static struct rte_mbuf *tagged(struct rte_mbuf *m, uint16_t tci)
{
	m->vlan_tci = tci;
	CHECK(rte_vlan_insert(&m) == 0);
	m->ol_flags = 0;
	return m;
}

/* A relayed frame must carry exactly this tag (priority 0) in its bytes; it is taken off for
 * the checks of the rest. */
static void check_tag(struct rte_mbuf *m, uint16_t vid)
{
	const uint8_t *f = rte_pktmbuf_mtod(m, const uint8_t *);
	CHECK_EQ_U(pkt_rd16(f + 12), 0x8100);
	CHECK_EQ_U(pkt_rd16(f + 14), vid);
	CHECK(rte_vlan_strip(m) == 0);
}

static void check_no_tag(const struct rte_mbuf *m)
{
	CHECK(pkt_rd16(rte_pktmbuf_mtod(m, const uint8_t *) + 12) != 0x8100);
}

static void check_vquiet(void)
{
	for (unsigned d = 0; d < 2; d++)
		CHECK_EQ_U(rte_ring_count(dev_tx[d]), 0);
	for (unsigned p = 0; p < 3; p++)
		CHECK_EQ_U(rte_ring_count(sec_tap[p]), 0);
}

static struct rte_mbuf *client_pkt(const uint8_t *pl, uint16_t lport, uint16_t tci)
{
	return tagged(udp_frame(client_mac, dev_mac[0], ip("198.18.1.100"), ip("198.18.1.10"),
				40000, lport, 64, pl, PLEN), tci);
}

/* Client (VLAN 100) -> destination (VLAN 200) and back on one device, the tags in software:
 * bytes, tags, checksums, the flows' and the sections' counters. */
static void test_tagged_relay(void)
{
	uint8_t pl[PLEN];
	struct rte_mbuf *o[4];
	rtp_payload(pl, PLEN, 0x1111, 1);
	struct dp_sess_spec sp = spec("198.18.1.10", 10000, 30000, "198.18.2.100", 20000);
	sp.bidirectional = true;
	struct dp_sess *s = install(&sp);
	struct dp_stats before = totals();

	vrx1(PA, client_pkt(pl, 10000, VID_A));
	CHECK_EQ_U(out(dev_tx[0], o, 4), 1);
	check_tag(o[0], VID_B);
	check_frame(o[0], &(struct want){ dest_mac, dev_mac[0], "198.18.2.10", "198.18.2.100",
			30000, 20000, 63, pl, PLEN });
	rte_pktmbuf_free(o[0]);

	vrx1(PA, tagged(udp_frame(dest_mac, dev_mac[0], ip("198.18.2.100"), ip("198.18.2.10"),
				20000, 30000, 64, pl, PLEN), VID_B));
	CHECK_EQ_U(out(dev_tx[0], o, 4), 1);
	check_tag(o[0], VID_A);
	check_frame(o[0], &(struct want){ client_mac, dev_mac[0], "198.18.1.10", "198.18.1.100",
			10000, 40000, 63, pl, PLEN });
	rte_pktmbuf_free(o[0]);
	check_vquiet();

	struct dp_flow_read f = fwd_stats(s), r = rev_stats(s);
	CHECK_EQ_U(f.pkts_tx, 1);
	CHECK_EQ_U(r.pkts_tx, 1);
	CHECK_EQ_U(f.bytes_tx, PLEN);
	check_drops(&before, DROP_MAX, 0);
	/* a section of a shared device counts its own frames, wire bytes with the tag */
	struct dp_stats now = totals();
	unsigned wire = 4 + 14 + 20 + 8 + PLEN;
	for (unsigned p = PA; p <= PB; p++) {
		CHECK_EQ_U(now.port[p].rx_packets - before.port[p].rx_packets, 1);
		CHECK_EQ_U(now.port[p].tx_packets - before.port[p].tx_packets, 1);
		CHECK_EQ_U(now.port[p].rx_bytes - before.port[p].rx_bytes, wire);
		CHECK_EQ_U(now.port[p].tx_bytes - before.port[p].tx_bytes, wire);
		CHECK_EQ_U(now.port[p].eth_id, dp->port[PA].eth_id);
	}
	uninstall(s);
}

/* A device that strips (the tag in mbuf->vlan_tci, priority bits set) and one that inserts
 * (RTE_MBUF_F_TX_VLAN): the same relay, the tag handed to and taken from the "NIC". */
static void test_offload_paths(void)
{
	uint8_t pl[PLEN];
	struct rte_mbuf *o[4];
	rtp_payload(pl, PLEN, 0x2222, 1);
	struct dp_sess_spec sp = spec("198.18.1.10", 10002, 30002, "198.18.2.100", 20002);
	struct dp_sess *s = install(&sp);
	struct dp_stats before = totals();

	struct rte_mbuf *m = udp_frame(client_mac, dev_mac[0], ip("198.18.1.100"),
			ip("198.18.1.10"), 40000, 10002, 64, pl, PLEN);
	m->vlan_tci = (3 << 13) | VID_A;        /* priority 3: not part of the VID */
	m->ol_flags = RTE_MBUF_F_RX_VLAN | RTE_MBUF_F_RX_VLAN_STRIPPED;
	dp->port[PB].vlan_tx_offload = true;
	vrx1(PA, m);
	dp->port[PB].vlan_tx_offload = false;
	CHECK_EQ_U(out(dev_tx[0], o, 4), 1);
	check_no_tag(o[0]);                     /* the "NIC" inserts it */
	CHECK(o[0]->ol_flags & RTE_MBUF_F_TX_VLAN);
	CHECK_EQ_U(o[0]->vlan_tci, VID_B);
	check_frame(o[0], &(struct want){ dest_mac, dev_mac[0], "198.18.2.10", "198.18.2.100",
			30002, 20002, 63, pl, PLEN });
	rte_pktmbuf_free(o[0]);
	check_vquiet();
	CHECK_EQ_U(fwd_stats(s).pkts_tx, 1);
	check_drops(&before, DROP_MAX, 0);
	uninstall(s);
}

/* No section for it: untagged and priority-tagged frames on a device whose sections are all
 * tagged, a tag no section has; a tag on a device with no tagged section. VID 0 on the
 * untagged device is untagged: relayed. */
static void test_unknown_vlan(void)
{
	uint8_t pl[PLEN];
	struct rte_mbuf *o[4], *in[4];
	rtp_payload(pl, PLEN, 0x3333, 1);
	struct dp_sess_spec sp = spec("198.18.1.10", 10004, 30004, "198.18.2.100", 20004);
	struct dp_sess *s = install(&sp);
	struct dp_stats before = totals();

	in[0] = udp_frame(client_mac, dev_mac[0], ip("198.18.1.100"), ip("198.18.1.10"), 40000,
			10004, 64, pl, PLEN);
	in[1] = client_pkt(pl, 10004, 300);
	in[2] = client_pkt(pl, 10004, 0);
	in[3] = client_pkt(pl, 10004, 7 << 13);  /* priority 7, VID 0 */
	vrx(PA, in, 4);
	check_vquiet();
	check_drops(&before, DROP_UNKNOWN_VLAN, 4);
	CHECK_EQ_U(fwd_stats(s).pkts_rx, 0);    /* the flow never saw them */
	uninstall(s);

	/* device B (untagged section alone): VID 5 is nobody's, VID 0 is untagged */
	sp = spec("198.18.3.10", 10006, 30006, "198.18.2.100", 20006);
	s = install(&sp);
	before = totals();
	vrx1(PC, tagged(udp_frame(client_mac, dev_mac[1], ip("198.18.3.100"), ip("198.18.3.10"),
				40000, 10006, 64, pl, PLEN), 5));
	check_vquiet();
	check_drops(&before, DROP_UNKNOWN_VLAN, 1);
	in[0] = tagged(udp_frame(client_mac, dev_mac[1], ip("198.18.3.100"), ip("198.18.3.10"),
				40000, 10006, 64, pl, PLEN), 0);
	in[1] = tagged(tagged(udp_frame(client_mac, dev_mac[1], ip("198.18.3.100"),
				ip("198.18.3.10"), 40000, 10006, 64, pl, PLEN), 0), 5 << 13);
	in[2] = udp_frame(client_mac, dev_mac[1], ip("198.18.3.100"), ip("198.18.3.10"), 40000,
			10006, 64, pl, PLEN);
	vrx(PC, in, 3);
	CHECK_EQ_U(out(dev_tx[0], o, 4), 3);    /* to VLAN 200 on device A */
	for (unsigned i = 0; i < 3; i++) {
		check_tag(o[i], VID_B);
		check_frame(o[i], &(struct want){ dest_mac, dev_mac[0], "198.18.2.10",
				"198.18.2.100", 30006, 20006, 63, pl, PLEN });
		rte_pktmbuf_free(o[i]);
	}
	check_vquiet();
	check_drops(&before, DROP_UNKNOWN_VLAN, 1);
	CHECK_EQ_U(fwd_stats(s).pkts_tx, 3);
	/* an unshared device's counters stay the device's (net_ring: rx_burst was not called) */
	CHECK_EQ_U(totals().port[PC].rx_packets, 0);
	uninstall(s);
}

/* ARP and the exception path per section: a tagged request reaches its section's kernel
 * interface untagged; an ICMP frame too; the data plane's own ARP request leaves tagged. */
static void test_arp_exception(void)
{
	struct rte_mbuf *o[4];
	struct dp_stats before = totals();

	struct rte_mbuf *m = rte_pktmbuf_alloc(pool);
	uint8_t *f = (uint8_t *)rte_pktmbuf_append(m, 60);
	uint32_t sip = ip("198.18.2.100"), tip = ip("198.18.2.10");
	memset(f, 0, 60);
	memset(f, 0xff, 6);
	memcpy(f + 6, dest_mac, 6);
	put16(f + 12, 0x0806);
	put16(f + 14, 1);
	put16(f + 16, 0x0800);
	f[18] = 6;
	f[19] = 4;
	put16(f + 20, 1);
	memcpy(f + 22, dest_mac, 6);
	memcpy(f + 28, &sip, 4);
	memcpy(f + 38, &tip, 4);
	vrx1(PA, tagged(m, VID_B));
	slowpath_poll(dp, dp_now_ms());
	ctl_turn();
	CHECK_EQ_U(out(sec_tap[PB], o, 4), 1);
	check_no_tag(o[0]);
	CHECK_EQ_U(o[0]->pkt_len, 60);
	CHECK_EQ_U(pkt_rd16(rte_pktmbuf_mtod(o[0], const uint8_t *) + 12), 0x0806);
	rte_pktmbuf_free(o[0]);
	check_vquiet();

	/* ICMP (anything not ours to relay) on VLAN 100: port0's kernel interface, untagged */
	uint8_t pl[PLEN];
	rtp_payload(pl, PLEN, 0x4444, 1);
	m = udp_frame(client_mac, dev_mac[0], ip("198.18.1.100"), ip("198.18.1.10"), 1, 1, 64,
			pl, PLEN);
	uint8_t *iph = rte_pktmbuf_mtod_offset(m, uint8_t *, 14);
	iph[9] = 1;
	put16(iph + 10, 0);
	put16(iph + 10, (uint16_t)~fold(sum16(iph, 20, 0)));
	vrx1(PA, tagged(m, VID_A));
	CHECK_EQ_U(out(sec_tap[PA], o, 4), 1);
	check_no_tag(o[0]);
	CHECK_EQ_U(o[0]->pkt_len, 14u + 20 + 8 + PLEN);
	rte_pktmbuf_free(o[0]);
	check_vquiet();
	struct dp_stats now = totals();
	CHECK_EQ_U(now.port[PA].exception - before.port[PA].exception, 1);
	CHECK_EQ_U(now.port[PB].exception - before.port[PB].exception, 0);
	check_drops(&before, DROP_MAX, 0);

	/* a next hop nobody told us of: the request for it leaves on VLAN 200 */
	struct dp_sess_spec sp = spec("198.18.1.10", 10008, 30008, "198.18.2.50", 20008);
	struct dp_sess *s = install(&sp);
	ctl_turn();
	CHECK_EQ_U(out(dev_tx[0], o, 4), 1);
	check_tag(o[0], VID_B);
	f = rte_pktmbuf_mtod(o[0], uint8_t *);
	uint32_t want = ip("198.18.2.50");
	CHECK_EQ_U(pkt_rd16(f + 12), 0x0806);
	CHECK_EQ_U(pkt_rd16(f + 20), 1);
	CHECK(memcmp(f + 38, &want, 4) == 0);
	rte_pktmbuf_free(o[0]);
	check_vquiet();
	uninstall(s);
}

/* Two workers, a device without destination-only RSS: a frame of a flow worker 1 owns,
 * received by worker 0 on VLAN 100, is handed over with its section and leaves by worker 1's
 * queue with tag 200. */
static void test_handoff(void)
{
	uint8_t pl[PLEN];
	struct rte_mbuf *o[4];
	rtp_payload(pl, PLEN, 0x5555, 1);
	/* owner: (listen port / 2) mod 2 = 1 */
	struct dp_sess_spec sp = spec("198.18.1.10", 10002, 30002, "198.18.2.100", 20002);
	struct dp_sess *s = install(&sp);
	struct dp_stats before = totals();

	vrx_on(0, PA, (struct rte_mbuf *[]){ client_pkt(pl, 10002, VID_A) }, 1);
	CHECK_EQ_U(rte_ring_count(dev_txq[0][0]) + rte_ring_count(dev_txq[0][1]), 0);
	CHECK_EQ_U(totals().worker[0].handed_off - before.worker[0].handed_off, 1);
	vrx_on(1, PA, NULL, 0);
	CHECK_EQ_U(rte_ring_count(dev_txq[0][0]), 0);
	CHECK_EQ_U(out(dev_txq[0][1], o, 4), 1);
	check_tag(o[0], VID_B);
	check_frame(o[0], &(struct want){ dest_mac, dev_mac[0], "198.18.2.10", "198.18.2.100",
			30002, 20002, 63, pl, PLEN });
	rte_pktmbuf_free(o[0]);
	CHECK_EQ_U(fwd_stats(s).pkts_tx, 1);
	check_drops(&before, DROP_MAX, 0);
	struct dp_stats now = totals();
	CHECK_EQ_U(now.port[PA].rx_packets - before.port[PA].rx_packets, 1);
	CHECK_EQ_U(now.port[PB].tx_packets - before.port[PB].tx_packets, 1);
	uninstall(s);
}

/* Two sections of one device with one tag: dp_create refuses, naming both (before the real
 * data plane exists: its rings' names are taken while it lives). */
static void test_plan_refused(void)
{
	static struct dp_conf c;
	struct rte_ring *txq[RIG_MAX_WORKERS];
	char err[256] = "";
	ring_port("tv_x", 1, txq);
	ring_port("tv_xt0", 1, txq);
	ring_port("tv_xt1", 1, txq);
	c.n_ports = 2;
	for (unsigned p = 0; p < 2; p++) {
		struct dp_port_conf *pc = &c.port[p];
		snprintf(pc->name, sizeof(pc->name), "port%u", p);
		snprintf(pc->device, sizeof(pc->device), "net_ring_tv_x");
		snprintf(pc->exception, sizeof(pc->exception), "rtp%u", p);
		snprintf(pc->exception_device, sizeof(pc->exception_device), "net_ring_tv_xt%u", p);
		pc->addrs[0] = (struct dp_prefix){ dp_addr_v4(inet_addr(p ? "198.18.2.10" :
				"198.18.1.10")), 24 };
		pc->n_addrs = 1;
		pc->vlan = 7;
	}
	c.workers = 1;
	c.workers_inline = true;
	c.mbufs = N_MBUFS;
	c.max_flows = 64;
	CHECK(dp_create(&c, err, sizeof(err)) == NULL);
	CHECK_STR(err, "port1: vlan: VLAN 7 on device \"net_ring_tv_x\" is port0's already");
	c.port[1].vlan = 4095;
	CHECK(dp_create(&c, err, sizeof(err)) == NULL);
	CHECK_STR(err, "port1: vlan: 4095, expected 0..4094");
}

/* How the sections were grouped. */
static void test_plan(void)
{
	CHECK(dp->port[PA].dev_owner == PA && dp->port[PB].dev_owner == PA);
	CHECK(dp->port[PC].dev_owner == PC && !dp->port[PC].dev_shared);
	CHECK(dp->port[PA].vlan_demux && !dp->port[PC].vlan_demux);
	CHECK(dp->port[PA].vid_port[VID_A] == PA && dp->port[PA].vid_port[VID_B] == PB);
	CHECK(dp->port[PA].vid_port[0] == -1 && dp->port[PC].vid_port[0] == PC);
}

/* test_worker_vlan [handoff]: the cases with one worker, or the hand-off with two. */
int main(int argc, char **argv)
{
	char prefix[64];
	snprintf(prefix, sizeof(prefix), "--file-prefix=tvlan%d", (int)getpid());
	char *eal[] = { argv[0], "-l", "0", "--no-huge", "-m", "256", "--no-pci", "--no-shconf",
		prefix, "--log-level=error", NULL };
	if (rte_eal_init((int)RTE_DIM(eal) - 1, eal) < 0) {
		fprintf(stderr, "EAL init failed\n");
		return 1;
	}
	if (argc > 1 && strcmp(argv[1], "handoff") == 0) {
		setup_vlan(2);
		test_handoff();
	} else {
		test_plan_refused();
		setup_vlan(1);
		test_plan();
		test_tagged_relay();
		test_offload_paths();
		test_unknown_vlan();
		test_arp_exception();
	}
	check_vquiet();
	for (unsigned q = 0; q < dp->n_workers; q++)
		for (unsigned d = 0; d < 2; d++)
			CHECK_EQ_U(rte_ring_count(dev_txq[d][q]), 0);
	CHECK_EQ_U(rte_ring_count(dp->pending_ring), 0);
	CHECK_EQ_U(rte_ring_count(dp->arp_ring), 0);
	for (unsigned i = 0; i < dp->n_workers; i++)
		CHECK_EQ_U(rte_ring_count(dp->workers[i].from_ctl), 0);
	CHECK_EQ_U(rte_mempool_avail_count(pool), N_MBUFS);
	return check_summary("test_worker_vlan");
}
