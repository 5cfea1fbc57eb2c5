/*
 * The RtpProxy handlers on a data plane of net_null ports (dp_create): request validation
 * (status codes and messages naming the field), protobuf <-> session conversion, port
 * allocation, listing, and that installing a session starts ARP resolution of its next hop.
 */
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <rte_eal.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>
#include <rte_ring.h>

#include "check.h"
#include "dp.h"         /* to look inside: the ARP request a worker was handed */
#include "rpc.h"
#include "rtpproxy.pb-c.h"
#include "sess.h"
#include "test_dp.h"

enum { M_CREATE, M_DESTROY, M_GET, M_LIST, M_EVENTS, M_STATS };

static struct rpc_ctx ctx;
static struct arena arena;
static struct rpc_error err;

static grpc_status_code call(int method, const void *req, void *resp_out)
{
	ProtobufCMessage *resp = NULL;
	memset(&err, 0, sizeof(err));
	grpc_status_code c = rpc_methods[method].unary(&ctx, req, &resp, &arena, &err);
	if (resp_out != NULL)
		*(ProtobufCMessage **)resp_out = resp;
	return c;
}

static bool starts(const char *s, const char *prefix)
{
	bool ok = strncmp(s, prefix, strlen(prefix)) == 0;
	if (!ok)
		fprintf(stderr, "  message \"%s\" does not start with \"%s\"\n", s, prefix);
	return ok;
}

static Rtpproxy__Endpoint ep_l, ep_f, ep_d;

static void request(Rtpproxy__CreateSessionRequest *r, const char *l, uint32_t lp,
		const char *f, uint32_t fp, const char *d, uint32_t dpt)
{
	rtpproxy__create_session_request__init(r);
	rtpproxy__endpoint__init(&ep_l);
	rtpproxy__endpoint__init(&ep_f);
	rtpproxy__endpoint__init(&ep_d);
	ep_l.address = (char *)l; ep_l.port = lp;
	ep_f.address = (char *)f; ep_f.port = fp;
	ep_d.address = (char *)d; ep_d.port = dpt;
	r->listen_endpoint = &ep_l;
	r->forward_endpoint = &ep_f;
	r->destination_endpoint = &ep_d;
}

static grpc_status_code create(const char *l, uint32_t lp, const char *f, uint32_t fp,
		const char *d, uint32_t dpt, Rtpproxy__SessionInfo **out)
{
	Rtpproxy__CreateSessionRequest r;
	Rtpproxy__CreateSessionResponse *resp = NULL;
	request(&r, l, lp, f, fp, d, dpt);
	grpc_status_code c = call(M_CREATE, &r, &resp);
	if (out != NULL)
		*out = resp != NULL ? resp->session : NULL;
	return c;
}

static void test_create_and_errors(void)
{
	Rtpproxy__SessionInfo *s;

	CHECK(create("198.18.1.1", 20000, "198.18.2.1", 30000, "198.18.2.2", 40000, &s) == 0);
	CHECK(s != NULL);
	if (s == NULL)
		return;
	CHECK_EQ_U(s->state, RTPPROXY__SESSION_STATE__SESSION_STATE_CONNECTING);
	CHECK_EQ_U(strlen(s->session_id), 36);
	CHECK(s->session_id[14] == '4');                /* UUID version 4 */
	CHECK(strcmp(s->listen_endpoint->address, "198.18.1.1") == 0);
	CHECK_EQ_U(s->listen_endpoint->port, 20000);
	CHECK_EQ_U(s->forward_endpoint->port, 30000);
	CHECK(strcmp(s->destination_endpoint->address, "198.18.2.2") == 0);
	CHECK_EQ_U(s->idle_timeout_secs, 300);          /* the configured default */
	CHECK_EQ_U(s->stats->packets_received, 0);

	/* installing it asked port1 for the destination's MAC */
	struct rte_mbuf *m = NULL;
	CHECK(rte_ring_dequeue(ctx.dp->workers[0].from_ctl, (void **)&m) == 0);
	if (m != NULL) {
		const uint8_t *fr = rte_pktmbuf_mtod(m, const uint8_t *);
		uint32_t tip = inet_addr("198.18.2.2");
		CHECK_EQ_U(m->port, 1);
		CHECK(fr[12] == 0x08 && fr[13] == 0x06 && fr[21] == 1);   /* ARP request */
		CHECK(memcmp(fr + 38, &tip, 4) == 0);
		CHECK(memcmp(fr + 6, ctx.dp->port[1].mac.addr_bytes, 6) == 0);
		rte_pktmbuf_free(m);
	}

	CHECK(create("198.18.1.1", 20000, "198.18.2.1", 30002, "198.18.2.2", 40000, NULL) ==
			GRPC_STATUS_ALREADY_EXISTS);
	CHECK(starts(err.message, "listen_endpoint: 198.18.1.1:20000 is already in use"));
	CHECK(create("198.18.1.1", 20010, "198.18.2.1", 30000, "198.18.2.2", 40000, NULL) ==
			GRPC_STATUS_ALREADY_EXISTS);
	CHECK(starts(err.message, "forward_endpoint: 198.18.2.1:30000"));
	/* the failed attempt gave its listen port back */
	CHECK(create("198.18.1.1", 20010, "198.18.2.1", 30010, "198.18.2.2", 40000, NULL) == 0);

	CHECK(create("300.1.1.1", 20000, "198.18.2.1", 30000, "198.18.2.2", 40000, NULL) ==
			GRPC_STATUS_INVALID_ARGUMENT);
	CHECK(starts(err.message, "listen_endpoint.address: \"300.1.1.1\" is not an IP address"));
	CHECK(create("198.18.1.1", 70000, "198.18.2.1", 30000, "198.18.2.2", 40000, NULL) ==
			GRPC_STATUS_INVALID_ARGUMENT);
	CHECK(starts(err.message, "listen_endpoint.port"));
	CHECK(create("198.18.1.1", 20000, "198.18.2.1", 30000, "198.18.2.2", 0, NULL) ==
			GRPC_STATUS_INVALID_ARGUMENT);
	CHECK(starts(err.message, "destination_endpoint.port"));
	CHECK(create("198.18.1.1", 20020, "198.18.9.9", 30000, "198.18.2.2", 40000, NULL) ==
			GRPC_STATUS_INVALID_ARGUMENT);
	CHECK(starts(err.message, "forward_endpoint.address: 198.18.9.9 is not an address"));
	CHECK(create("198.18.1.7", 20020, "198.18.2.1", 30020, "198.18.2.2", 40000, NULL) ==
			GRPC_STATUS_INVALID_ARGUMENT);
	CHECK(starts(err.message, "listen_endpoint.address: 198.18.1.7"));
	CHECK(create("198.18.1.1", 20020, "0.0.0.0", 30020, "198.18.2.2", 40000, NULL) ==
			GRPC_STATUS_INVALID_ARGUMENT);
	CHECK(starts(err.message, "forward_endpoint.address: the wildcard"));
	CHECK(create("198.18.1.1", 20020, "198.18.2.1", 30020, "::1", 40000, NULL) ==
			GRPC_STATUS_INVALID_ARGUMENT);
	CHECK(starts(err.message, "destination_endpoint.address: ::1 is the loopback address"));
	/* families: the forward address is of the destination's; the listen one may differ */
	CHECK(create("198.18.1.1", 20020, "198.18.2.1", 30020, "2001:db8:2::2", 40000, NULL) ==
			GRPC_STATUS_INVALID_ARGUMENT);
	CHECK(starts(err.message, "forward_endpoint.address: \"198.18.2.1\" is IPv4 but the "
				"destination is IPv6"));
	CHECK(create("2001:db8:1::1", 20020, "2001:db8:2::1", 30020, "198.18.2.2", 40000,
				NULL) == GRPC_STATUS_INVALID_ARGUMENT);
	CHECK(starts(err.message, "forward_endpoint.address: \"2001:db8:2::1\" is IPv6"));
	CHECK(create("2001:db8:1::1", 20020, "198.18.2.1", 30020, "198.18.2.2", 40000, NULL) ==
			GRPC_STATUS_INVALID_ARGUMENT);      /* parses; not an address of this one */
	CHECK(starts(err.message, "listen_endpoint.address: 2001:db8:1::1 is not an address of "
				"this appliance"));
	CHECK(create("198.18.1.1", 20020, "2001:db8:2::1", 30020, "2001:db8:2::2", 40000,
				NULL) == GRPC_STATUS_INVALID_ARGUMENT);
	CHECK(starts(err.message, "forward_endpoint.address: 2001:db8:2::1 is not an address"));
	CHECK(create("198.18.1.1", 20020, "::", 30020, "2001:db8:2::2", 40000, NULL) ==
			GRPC_STATUS_INVALID_ARGUMENT);
	CHECK(starts(err.message, "forward_endpoint.address: the wildcard"));
	CHECK(create("198.18.1.1", 20020, "2001:db8:2::1", 30020, "fe80::1", 40000, NULL) ==
			GRPC_STATUS_INVALID_ARGUMENT);
	CHECK(starts(err.message, "destination_endpoint.address: fe80::1 is a link-local"));
	/* off-subnet destination and no gateway */
	CHECK(create("198.18.1.1", 20020, "198.18.2.1", 30020, "198.18.77.5", 40000, NULL) ==
			GRPC_STATUS_INVALID_ARGUMENT);
	CHECK(starts(err.message, "destination_endpoint.address: 198.18.77.5 is not on a subnet"));
	/* outside allowed_destinations (198.18.0.0/16 in this test) */
	CHECK(create("198.18.1.1", 20020, "198.18.2.1", 30020, "198.19.2.2", 40000, NULL) ==
			GRPC_STATUS_PERMISSION_DENIED);
	CHECK(starts(err.message, "destination_endpoint.address: 198.19.2.2 is outside"));

	Rtpproxy__CreateSessionRequest r;
	request(&r, "198.18.1.1", 20020, "198.18.2.1", 30020, "198.18.2.2", 40000);
	r.forward_endpoint = NULL;
	CHECK(call(M_CREATE, &r, NULL) == GRPC_STATUS_INVALID_ARGUMENT);
	CHECK(starts(err.message, "forward_endpoint: is required"));
	request(&r, "198.18.1.1", 20020, "198.18.2.1", 30020, "198.18.2.2", 40000);
	r.transport = RTPPROXY__TRANSPORT__TRANSPORT_TCP;
	r.enable_rtcp = 1;
	CHECK(call(M_CREATE, &r, NULL) == GRPC_STATUS_INVALID_ARGUMENT);
	CHECK(starts(err.message, "enable_rtcp"));
	request(&r, "198.18.1.1", 20020, "198.18.2.1", 30020, "198.18.2.2", 40000);
	r.latch_mode = (Rtpproxy__LatchMode)7;
	CHECK(call(M_CREATE, &r, NULL) == GRPC_STATUS_INVALID_ARGUMENT);
	CHECK(starts(err.message, "latch_mode: unknown value 7"));
	request(&r, "198.18.1.1", 20020, "198.18.2.1", 30020, "198.18.2.2", 40000);
	r.transport = RTPPROXY__TRANSPORT__TRANSPORT_TCP;
	r.strict_source = 1;
	CHECK(call(M_CREATE, &r, NULL) == GRPC_STATUS_INVALID_ARGUMENT);
	CHECK(starts(err.message, "strict_source: source latching is for UDP sessions"));
	r.strict_source = 0;
	r.latch_mode = RTPPROXY__LATCH_MODE__LATCH_MODE_ANY;
	CHECK(call(M_CREATE, &r, NULL) == GRPC_STATUS_INVALID_ARGUMENT);
	CHECK(starts(err.message, "latch_mode: source latching is for UDP sessions"));
	request(&r, "198.18.1.1", 20020, "198.18.2.1", 30020, "198.18.2.2", 40000);
	r.session_id = s->session_id;
	CHECK(call(M_CREATE, &r, NULL) == GRPC_STATUS_ALREADY_EXISTS);
	CHECK(starts(err.message, "session_id: "));

	/* wildcard listen: conflicts with a specific listen on the same port, and back */
	CHECK(create("0.0.0.0", 20000, "198.18.2.1", 30030, "198.18.2.2", 40000, NULL) ==
			GRPC_STATUS_ALREADY_EXISTS);
	CHECK(create("0.0.0.0", 20100, "198.18.2.1", 30030, "198.18.2.2", 40000, NULL) == 0);
	CHECK(create("198.18.1.1", 20100, "198.18.2.1", 30040, "198.18.2.2", 40000, NULL) ==
			GRPC_STATUS_ALREADY_EXISTS);
}

static void test_dynamic_ports_and_limits(void)
{
	Rtpproxy__CreateSessionRequest r;
	Rtpproxy__CreateSessionResponse *resp = NULL;

	request(&r, "198.18.1.1", 0, "198.18.2.1", 0, "198.18.2.2", 41000);
	r.enable_rtcp = 1;
	r.session_id = "dyn";
	Rtpproxy__CreateSessionRequest__LabelsEntry lab[2] = {
		RTPPROXY__CREATE_SESSION_REQUEST__LABELS_ENTRY__INIT,
		RTPPROXY__CREATE_SESSION_REQUEST__LABELS_ENTRY__INIT,
	};
	Rtpproxy__CreateSessionRequest__LabelsEntry *labp[2] = { &lab[0], &lab[1] };
	lab[0].key = "call";
	lab[0].value = "c-17";
	lab[1].key = "leg";
	lab[1].value = "a";
	r.n_labels = 2;
	r.labels = labp;
	CHECK(call(M_CREATE, &r, &resp) == 0);
	if (resp != NULL) {
		uint32_t lp = resp->session->listen_endpoint->port;
		uint32_t fp = resp->session->forward_endpoint->port;
		CHECK(lp % 2 == 0 && lp >= 20000 && lp <= 20999);
		CHECK(fp % 2 == 0 && fp >= 20000 && fp <= 20999);
		CHECK(resp->session->enable_rtcp);
		/* the odd port above belongs to the session too */
		CHECK(create("198.18.1.1", lp + 1, "198.18.2.1", 31000, "198.18.2.2", 40000, NULL)
				== GRPC_STATUS_ALREADY_EXISTS);
	}
	/* max_sessions (5 here): this is the fifth */
	CHECK(create("198.18.1.1", 22000, "198.18.2.1", 32000, "198.18.2.2", 40000, NULL) == 0);
	CHECK(create("198.18.1.1", 22002, "198.18.2.1", 32002, "198.18.2.2", 40000, NULL) ==
			GRPC_STATUS_RESOURCE_EXHAUSTED);
	CHECK(starts(err.message, "max_sessions"));
}

static void test_get_destroy_list(void)
{
	Rtpproxy__GetSessionStatusRequest g = RTPPROXY__GET_SESSION_STATUS_REQUEST__INIT;
	Rtpproxy__DestroySessionRequest d = RTPPROXY__DESTROY_SESSION_REQUEST__INIT;
	Rtpproxy__GetSessionStatusResponse *gr = NULL;
	Rtpproxy__DestroySessionResponse *dr = NULL;

	g.session_id = "nope";
	CHECK(call(M_GET, &g, NULL) == GRPC_STATUS_NOT_FOUND);
	CHECK(starts(err.message, "session_id: no session \"nope\""));
	g.session_id = "dyn";
	CHECK(call(M_GET, &g, &gr) == 0);
	CHECK(gr != NULL && strcmp(gr->session->session_id, "dyn") == 0);

	/* list everything, two per page, in creation order */
	Rtpproxy__ListSessionsRequest l = RTPPROXY__LIST_SESSIONS_REQUEST__INIT;
	Rtpproxy__ListSessionsResponse *lr = NULL;
	l.page_size = 2;
	unsigned total = 0, pages = 0;
	char token[32] = "";
	do {
		l.page_token = token;
		CHECK(call(M_LIST, &l, &lr) == 0);
		if (lr == NULL)
			break;
		total += (unsigned)lr->n_sessions;
		pages++;
		snprintf(token, sizeof(token), "%s", lr->next_page_token);
	} while (token[0] != '\0' && pages < 10);
	CHECK_EQ_U(total, 5);
	CHECK_EQ_U(pages, 3);
	l.page_token = "garbage";
	CHECK(call(M_LIST, &l, NULL) == GRPC_STATUS_INVALID_ARGUMENT);
	CHECK(starts(err.message, "page_token"));

	/* filters: a state nobody is in, a transport */
	Rtpproxy__SessionState closed = RTPPROXY__SESSION_STATE__SESSION_STATE_CLOSED;
	l = (Rtpproxy__ListSessionsRequest)RTPPROXY__LIST_SESSIONS_REQUEST__INIT;
	l.n_states = 1;
	l.states = &closed;
	CHECK(call(M_LIST, &l, &lr) == 0);
	CHECK(lr != NULL && lr->n_sessions == 0);
	Rtpproxy__SessionState connecting = RTPPROXY__SESSION_STATE__SESSION_STATE_CONNECTING;
	l.states = &connecting;
	CHECK(call(M_LIST, &l, &lr) == 0);
	CHECK(lr != NULL && lr->n_sessions == 5);
	Rtpproxy__Transport tcp = RTPPROXY__TRANSPORT__TRANSPORT_TCP;
	l = (Rtpproxy__ListSessionsRequest)RTPPROXY__LIST_SESSIONS_REQUEST__INIT;
	l.n_transports = 1;
	l.transports = &tcp;
	CHECK(call(M_LIST, &l, &lr) == 0);
	CHECK(lr != NULL && lr->n_sessions == 0);

	/* labels: stored, returned, and every selector pair must match */
	Rtpproxy__ListSessionsRequest__LabelSelectorEntry sel[2] = {
		RTPPROXY__LIST_SESSIONS_REQUEST__LABEL_SELECTOR_ENTRY__INIT,
		RTPPROXY__LIST_SESSIONS_REQUEST__LABEL_SELECTOR_ENTRY__INIT,
	};
	Rtpproxy__ListSessionsRequest__LabelSelectorEntry *selp[2] = { &sel[0], &sel[1] };
	sel[0].key = "call";
	sel[0].value = "c-17";
	sel[1].key = "leg";
	sel[1].value = "a";
	l = (Rtpproxy__ListSessionsRequest)RTPPROXY__LIST_SESSIONS_REQUEST__INIT;
	l.n_label_selector = 1;
	l.label_selector = selp;
	CHECK(call(M_LIST, &l, &lr) == 0);
	CHECK(lr != NULL && lr->n_sessions == 1 && strcmp(lr->sessions[0]->session_id, "dyn") == 0);
	if (lr != NULL && lr->n_sessions == 1)
		CHECK(lr->sessions[0]->n_labels == 2);
	l.n_label_selector = 2;
	CHECK(call(M_LIST, &l, &lr) == 0);
	CHECK(lr != NULL && lr->n_sessions == 1);
	sel[1].value = "b";
	CHECK(call(M_LIST, &l, &lr) == 0);
	CHECK(lr != NULL && lr->n_sessions == 0);

	d.session_id = "dyn";
	CHECK(call(M_DESTROY, &d, &dr) == 0);
	CHECK(dr != NULL && dr->session->state == RTPPROXY__SESSION_STATE__SESSION_STATE_CLOSED);
	CHECK(call(M_DESTROY, &d, NULL) == GRPC_STATUS_NOT_FOUND);
	CHECK(call(M_GET, &g, NULL) == GRPC_STATUS_NOT_FOUND);
	/* its slot and ports are free again */
	CHECK(create("198.18.1.1", 22002, "198.18.2.1", 32002, "198.18.2.2", 40000, NULL) == 0);

	Rtpproxy__GetProxyStatsRequest ps = RTPPROXY__GET_PROXY_STATS_REQUEST__INIT;
	Rtpproxy__GetProxyStatsResponse *pr = NULL;
	CHECK(call(M_STATS, &ps, &pr) == 0);
	if (pr != NULL) {
		CHECK_EQ_U(pr->sessions_active, 5);
		CHECK_EQ_U(pr->sessions_created_total, 6);
		CHECK_EQ_U(pr->sessions_closed_total, 1);
		CHECK_EQ_U(pr->n_ports, 2);
		CHECK_EQ_U(pr->n_drops, DROP_MAX);
		CHECK(strcmp(pr->drops[0]->key, "malformed") == 0);
	}
}

int main(int argc, char **argv)
{
	char prefix[64];
	snprintf(prefix, sizeof(prefix), "--file-prefix=trpc%d", (int)getpid());
	char *eal[] = { argv[0], "-l", "0", "--no-huge", "-m", "256", "--no-pci", "--no-shconf",
		prefix, "--log-level=error", NULL };
	(void)argc;
	if (rte_eal_init((int)RTE_DIM(eal) - 1, eal) < 0) {
		fprintf(stderr, "EAL init failed\n");
		return 1;
	}
	struct dp *dp = test_dp_create(64, NULL);
	CHECK(dp != NULL);
	if (dp == NULL)
		return check_summary("test_rpc");
	struct sess_config sc = {
		.max_sessions = 5, .port_min = 20000, .port_max = 20999,
		.idle_timeout_secs = 300, .closed_retention_secs = 60, .n_allowed = 1,
	};
	CHECK(dp_addr_parse("198.18.0.0", &sc.allowed[0].net) == 0);
	sc.allowed[0].len = 16;
	char e[256];
	ctx.dp = dp;
	ctx.sessions = sess_mgr_create(dp, &sc, e, sizeof(e));
	CHECK(ctx.sessions != NULL);
	if (ctx.sessions == NULL)
		return check_summary("test_rpc");

	test_create_and_errors();
	arena_reset(&arena);
	test_dynamic_ports_and_limits();
	arena_reset(&arena);
	test_get_destroy_list();
	arena_reset(&arena);

	sess_mgr_free(ctx.sessions);
	dp_destroy(dp);
	rte_eal_cleanup();
	return check_summary("test_rpc");
}
