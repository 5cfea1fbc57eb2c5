/*
 * sess_restore on a data plane of net_null ports (test_dp.h): a stored session comes back with
 * its id, ports, state, created time, counters (its checkpoint as a base) and its client's
 * latch preloaded, counted as nothing and told to no observer; what no longer fits comes back
 * as ERROR with the reason, or is refused when the caller asks; ERROR stays ERROR.
 */
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <rte_common.h>
#include <rte_eal.h>

#include "check.h"
#include "rp_dp.h"
#include "sess_int.h"     /* sess_idle_since */
#include "test_dp.h"

static unsigned observed;

static void obs_created(void *ctx, const struct session *s)
{
	(void)ctx;
	(void)s;
	observed++;
}

static void obs_state(void *ctx, const struct session *s, enum sess_state o, enum sess_state n)
{
	(void)ctx;
	(void)s;
	(void)o;
	(void)n;
	observed++;
}

static struct dp_addr ip(const char *s)
{
	struct dp_addr a;
	dp_addr_parse(s, &a);
	return a;
}

static struct sess_label labels[] = { { "call", "c1" } };

static struct sess_params params(const char *id, uint16_t lport, const char *faddr,
		uint16_t fport)
{
	return (struct sess_params){ .id = id, .listen = { ip("198.18.1.1"), lport },
		.forward = { ip(faddr), fport }, .dest = { ip("198.18.2.2"), 30000 },
		.bidir = true, .labels = labels, .n_labels = 1 };
}

static bool starts(const char *s, const char *prefix)
{
	bool ok = strncmp(s, prefix, strlen(prefix)) == 0;
	if (!ok)
		fprintf(stderr, "  \"%s\" does not start with \"%s\"\n", s, prefix);
	return ok;
}

static void test_restore(struct sess_mgr *m, struct dp *dp)
{
	struct sess_base base = { .rtp = { .pkts_rx = 100, .pkts_tx = 99, .bytes_rx = 17200,
		.dropped = 1, .last_activity_ms = 1000 }, .rev = { .pkts_tx = 7 } };
	struct dp_latch_state l = { .addr = ip("198.18.1.2"), .port = 4000,
		.mac = { 2, 0, 0, 0, 1, 2 }, .rx_port = 0, .local_addr = ip("198.18.1.1"),
		.has_ssrc = true, .ssrc = 0x1234 };
	struct sess_restore r = { .state = SESS_ACTIVE, .created_ms = 123, .error = "",
		.base = &base, .latch = &l };
	struct sess_params p = params("r1", 20000, "198.18.2.1", 20002);
	struct sess_error err;
	struct sess_counters c;

	observed = 0;
	struct session *s = sess_restore(m, &p, &r, &err);
	CHECK(s != NULL);
	if (s == NULL)
		return;
	CHECK(sess_find(m, "r1") == s);
	CHECK_EQ_U(s->state, SESS_ACTIVE);
	CHECK_EQ_U(s->created_ms, 123);
	CHECK_EQ_U(s->listen.port, 20000);
	CHECK_EQ_U(s->forward.port, 20002);
	CHECK(s->n_labels == 1 && strcmp(s->labels[0].value, "c1") == 0);
	CHECK(s->flows != NULL && s->ports_held);
	CHECK_EQ_U(observed, 0);
	sess_counters(m, &c);
	CHECK_EQ_U(c.active, 1);
	CHECK_EQ_U(c.created_total, 0);

	struct sess_stats rtp, rev, rtcp;
	sess_read_stats(m, s, &rtp, &rev, &rtcp);
	CHECK_EQ_U(rtp.pkts_rx, 100);
	CHECK_EQ_U(rtp.pkts_tx, 99);
	CHECK_EQ_U(rtp.dropped, 1);
	CHECK_EQ_U(rtp.last_activity_ms, 1000);
	CHECK_EQ_U(rev.pkts_tx, 7);

	struct sess_ep latched;
	CHECK(sess_latched(m, s, &latched));
	CHECK(dp_addr_eq(&latched.addr, &l.addr) && latched.port == 4000);
	struct dp_latch_state got;
	CHECK(dp_sess_get_latch(dp, s->flows, DP_FLOW_RTP, &got));
	CHECK(memcmp(got.mac, l.mac, 6) == 0 && got.rx_port == 0 && got.has_ssrc &&
			got.ssrc == 0x1234 && dp_addr_eq(&got.local_addr, &l.local_addr));
	/* once latched, a second preload is refused (the worker's latch wins) */
	CHECK(dp_sess_set_latch(dp, s->flows, DP_FLOW_RTP, &l) == -1);
	CHECK(!dp_sess_get_latch(dp, s->flows, DP_FLOW_RTCP, &got));   /* no RTCP flow */
	/* idle since the restore at the earliest, not since its creation long ago */
	CHECK(sess_idle_since(s, s->created_ms) >= sess_now_ms() - 1000);

	/* the same id again */
	CHECK(sess_restore(m, &p, &r, &err) == NULL);
	CHECK_EQ_U(err.code, SESS_EXISTS);

	/* its listen port taken: ERROR with the reason, or refused */
	p = params("r2", 20000, "198.18.2.1", 20010);
	r.refuse_conflicts = true;
	CHECK(sess_restore(m, &p, &r, &err) == NULL);
	CHECK_EQ_U(err.code, SESS_EXISTS);
	CHECK(starts(err.message, "listen_endpoint: 198.18.1.1:20000 is already in use"));
	CHECK(sess_find(m, "r2") == NULL);
	r.refuse_conflicts = false;
	s = sess_restore(m, &p, &r, &err);
	CHECK(s != NULL && s->state == SESS_ERROR && s->flows == NULL && !s->ports_held);
	CHECK(s != NULL && starts(sess_error(s), "listen_endpoint: 198.18.1.1:20000 is already"));
	/* the forward port it did not get stays free */
	struct sess_params q = params("fresh", 20020, "198.18.2.1", 20010);
	struct session *fresh = sess_create(m, &q, &err);
	CHECK(fresh != NULL);

	/* an address this appliance no longer has */
	p = params("r3", 20030, "198.18.3.1", 20032);
	s = sess_restore(m, &p, &r, &err);
	CHECK(s != NULL && s->state == SESS_ERROR);
	CHECK(s != NULL && starts(sess_error(s), "forward_endpoint.address: 198.18.3.1 is not"));

	/* stored as ERROR: stays ERROR, its reason kept, nothing installed */
	struct sess_restore re = { .state = SESS_ERROR, .created_ms = 5,
		.error = "destination_endpoint: next hop 198.18.2.9 does not answer ARP" };
	p = params("r4", 20040, "198.18.2.1", 20042);
	s = sess_restore(m, &p, &re, &err);
	CHECK(s != NULL && s->state == SESS_ERROR && s->flows == NULL);
	CHECK(s != NULL && strcmp(sess_error(s), re.error) == 0);
	sess_counters(m, &c);
	CHECK_EQ_U(c.active, 5);                /* r1, r2, fresh, r3, r4: ERROR counts */
	CHECK_EQ_U(c.created_total, 1);         /* fresh only */
	CHECK_EQ_U(observed, 2);                /* fresh: created, CONNECTING */

	/* destroying a restored session frees its ports like any other */
	struct session final;
	CHECK(sess_destroy(m, "r1", &final, &err) == SESS_OK);
	sess_read_stats(m, &final, &rtp, &rev, &rtcp);  /* what DestroySession answers */
	CHECK_EQ_U(rtp.pkts_rx, 100);
	CHECK_EQ_U(rev.pkts_tx, 7);
	sess_final_free(&final);
	q = params("again", 20000, "198.18.2.1", 20002);
	CHECK(sess_create(m, &q, &err) != NULL);
}

int main(int argc, char **argv)
{
	char prefix[64];
	snprintf(prefix, sizeof(prefix), "--file-prefix=tsr%d", (int)getpid());
	char *eal[] = { argv[0], "-l", "0", "--no-huge", "-m", "256", "--no-pci", "--no-shconf",
		prefix, "--log-level=error", NULL };
	(void)argc;
	if (rte_eal_init((int)RTE_DIM(eal) - 1, eal) < 0) {
		fprintf(stderr, "EAL init failed\n");
		return 1;
	}
	struct dp *dp = test_dp_create(256, NULL);
	CHECK(dp != NULL);
	if (dp == NULL)
		return check_summary("sess_restore");
	struct sess_config sc = { .max_sessions = 16, .port_min = 20000, .port_max = 20999,
		.idle_timeout_secs = 300, .closed_retention_secs = 60 };
	char e[256];
	struct sess_mgr *m = sess_mgr_create(dp, &sc, e, sizeof(e));
	CHECK(m != NULL);
	if (m == NULL)
		return check_summary("sess_restore");
	struct sess_observer o = { .created = obs_created, .state_changed = obs_state };
	sess_set_observer(m, &o);
	test_restore(m, dp);
	sess_set_observer(m, &(struct sess_observer){ 0 });
	sess_mgr_free(m);
	dp_destroy(dp);
	rte_eal_cleanup();
	return check_summary("sess_restore");
}
