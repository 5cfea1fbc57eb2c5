/*
 * control/validate.c and control/ids.c: every forbidden destination class (IPv4 and IPv6), the
 * label and session id limits with the values exactly at them accepted, generated ids.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>

#include "check.h"
#include "ids.h"
#include "validate.h"

static struct validate_self self;
static struct rpc_error err;

static uint32_t ip4(const char *s)
{
	struct in_addr a;
	if (inet_pton(AF_INET, s, &a) != 1)
		abort();
	return a.s_addr;
}

static bool has(const char *s, const char *part)
{
	if (strstr(s, part) != NULL)
		return true;
	fprintf(stderr, "  \"%s\" lacks \"%s\"\n", s, part);
	return false;
}

/* Refused with INVALID_ARGUMENT, the message naming the field and containing `why`. */
static void refused(const char *addr, const char *why)
{
	memset(&err, 0, sizeof(err));
	grpc_status_code c = validate_destination("destination_endpoint.address", addr, &self, &err);
	CHECK(c == GRPC_STATUS_INVALID_ARGUMENT && err.code == c);
	CHECK(strncmp(err.message, "destination_endpoint.address: ", 30) == 0);
	CHECK(has(err.message, addr) && has(err.message, why));
}

static void accepted(const char *addr)
{
	memset(&err, 0, sizeof(err));
	grpc_status_code c = validate_destination("destination_endpoint.address", addr, &self, &err);
	CHECK(c == GRPC_STATUS_OK);
	if (c != GRPC_STATUS_OK)
		fprintf(stderr, "  %s refused: %s\n", addr, err.message);
}

static void test_destinations4(void)
{
	memset(&self, 0, sizeof(self));
	validate_self_add4(&self, ip4("198.18.1.1"), 24, "port0");
	validate_self_add4(&self, ip4("198.18.2.1"), 24, "port1");
	validate_self_add4(&self, ip4("198.18.9.1"), 30, "port2");     /* broadcast .3 */
	validate_self_add4(&self, ip4("198.18.8.0"), 31, "port3");     /* no broadcast */
	validate_self_add4(&self, ip4("198.18.1.1"), 24, "again");     /* kept once */
	CHECK_EQ_U(self.n_v4, 4);

	refused("127.0.0.1", "loopback");
	refused("127.255.255.254", "loopback");
	refused("0.0.0.0", "0.0.0.0/8");
	refused("0.1.2.3", "0.0.0.0/8");
	refused("224.0.0.1", "multicast");
	refused("239.255.255.255", "multicast");
	refused("240.0.0.1", "240.0.0.0/4");
	refused("254.255.255.255", "240.0.0.0/4");
	refused("255.255.255.255", "limited broadcast");
	refused("198.18.1.255", "broadcast address of 198.18.1.0/24 (port0)");
	refused("198.18.2.255", "broadcast address of 198.18.2.0/24 (port1)");
	refused("198.18.9.3", "broadcast address of 198.18.9.0/30 (port2)");
	refused("198.18.1.1", "the appliance's own address (port0)");
	refused("198.18.2.1", "own address (port1)");
	refused("198.18.8.0", "own address (port3)");

	/* the neighbours of each class are fine */
	accepted("126.255.255.255");
	accepted("128.0.0.1");
	accepted("1.0.0.0");
	accepted("223.255.255.255");
	accepted("198.18.1.2");
	accepted("198.18.1.254");
	accepted("198.18.1.0");         /* a network address is not refused (RFC 3021 hosts) */
	accepted("198.18.9.2");
	accepted("198.18.8.1");         /* /31: both are hosts */
	accepted("198.18.3.255");       /* not a subnet of ours */
	/* not an address at all: the endpoint parser says so, not this */
	accepted("dst.example");
	accepted("");
	CHECK(validate_destination("d", NULL, &self, &err) == GRPC_STATUS_OK);
	/* without own addresses, the fixed classes still hold */
	CHECK(validate_destination("d", "127.0.0.1", NULL, &err) == GRPC_STATUS_INVALID_ARGUMENT);
	CHECK(validate_destination("d", "198.18.1.1", NULL, &err) == GRPC_STATUS_OK);
}

static void test_destinations6(void)
{
	struct in6_addr a;
	memset(&self, 0, sizeof(self));
	inet_pton(AF_INET6, "2001:db8:1::1", &a);
	validate_self_add6(&self, &a, "port0");

	refused("::1", "loopback");
	refused("::", "unspecified");
	refused("ff02::1", "multicast");
	refused("ff00::", "multicast");
	refused("fe80::1", "link-local");
	refused("febf::1", "link-local");
	refused("::ffff:127.0.0.1", "IPv4-mapped");
	refused("::ffff:198.18.2.2", "IPv4-mapped");
	refused("2001:db8:1::1", "own address (port0)");
	accepted("2001:db8:1::2");
	accepted("fec0::1");
	accepted("fe00::1");
	accepted("::2");
	accepted("64:ff9b::1");
}

/* The host's own interfaces: at least loopback, refused anyway, is listed. */
static void test_kernel_addrs(void)
{
	memset(&self, 0, sizeof(self));
	CHECK(validate_self_add_kernel(&self) == 0);
	bool lo = false;
	for (unsigned i = 0; i < self.n_v4; i++)
		lo |= self.v4[i].addr == ip4("127.0.0.1") && self.v4[i].len == 8;
	CHECK(lo);
}

static void test_session_id(void)
{
	char id[80];

	CHECK(validate_session_id("session_id", "", &err) == GRPC_STATUS_OK);
	CHECK(validate_session_id("session_id", NULL, &err) == GRPC_STATUS_OK);
	CHECK(validate_session_id("session_id", "a", &err) == GRPC_STATUS_OK);
	CHECK(validate_session_id("session_id", "AZaz09._:-", &err) == GRPC_STATUS_OK);
	CHECK(validate_session_id("session_id", "call-1:leg.a_b", &err) == GRPC_STATUS_OK);
	memset(id, 'x', 64);
	id[64] = '\0';
	CHECK(validate_session_id("session_id", id, &err) == GRPC_STATUS_OK);      /* at the limit */
	id[64] = 'x';
	id[65] = '\0';
	CHECK(validate_session_id("session_id", id, &err) == GRPC_STATUS_INVALID_ARGUMENT);
	CHECK(has(err.message, "session_id: \"xxxx") && has(err.message, "is 65 bytes, at most 64"));
	const char *bad[] = { "a b", "a/b", "a\"b", "caf\xc3\xa9", "a\nb", "a%b", "a@b", "a+b" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		CHECK(validate_session_id("session_id", bad[i], &err) ==
				GRPC_STATUS_INVALID_ARGUMENT);
		CHECK(has(err.message, "session_id: ") && has(err.message, "[A-Za-z0-9._:-]"));
	}
	CHECK(validate_session_id("session_id", "a b", &err) && has(err.message, "0x20 at 1"));
	/* the message never carries the raw bytes */
	CHECK(validate_session_id("session_id", "a\nb\"", &err) && strchr(err.message, '\n') == NULL);
}

static void test_label(void)
{
	char key[80], val[300];

	memset(key, 'k', sizeof(key));
	memset(val, 'v', sizeof(val));
	key[63] = '\0';
	val[255] = '\0';
	CHECK(validate_label("labels", key, val, &err) == GRPC_STATUS_OK);   /* both at the limit */
	CHECK(validate_label("labels", "k", "", &err) == GRPC_STATUS_OK);    /* empty value */
	CHECK(validate_label("labels", "k", NULL, &err) == GRPC_STATUS_OK);
	CHECK(validate_label("labels", "", "v", &err) == GRPC_STATUS_INVALID_ARGUMENT);
	CHECK(has(err.message, "labels[\"\"]: "));
	CHECK(validate_label("labels", NULL, "v", &err) == GRPC_STATUS_INVALID_ARGUMENT);
	key[63] = 'k';
	key[64] = '\0';
	CHECK(validate_label("labels", key, "v", &err) == GRPC_STATUS_INVALID_ARGUMENT);
	CHECK(has(err.message, "labels[\"kkkkkkkk") && has(err.message, "...\"]: key is 64 bytes, at most 63"));
	val[255] = 'v';
	val[256] = '\0';
	CHECK(validate_label("labels", "k", val, &err) == GRPC_STATUS_INVALID_ARGUMENT);
	CHECK(strcmp(err.message, "labels[\"k\"]: value is 256 bytes, at most 255") == 0);
	memset(val, 'v', sizeof(val));
	val[299] = '\0';
	CHECK(validate_label("label_selector", "k", val, &err) == GRPC_STATUS_INVALID_ARGUMENT);
	CHECK(strcmp(err.message, "label_selector[\"k\"]: value is 299 bytes, at most 255") == 0);
}

/* A CreateSessionRequest with n labels k0..k(n-1) -> "v". */
static Rtpproxy__CreateSessionRequest *create_req(unsigned n)
{
	static Rtpproxy__CreateSessionRequest r;
	static Rtpproxy__CreateSessionRequest__LabelsEntry e[40], *pe[40];
	static Rtpproxy__Endpoint dest;
	static char keys[40][8];

	rtpproxy__create_session_request__init(&r);
	rtpproxy__endpoint__init(&dest);
	dest.address = "198.18.2.2";
	dest.port = 4000;
	r.destination_endpoint = &dest;
	r.session_id = "s1";
	for (unsigned i = 0; i < n; i++) {
		rtpproxy__create_session_request__labels_entry__init(&e[i]);
		snprintf(keys[i], sizeof(keys[i]), "k%u", i);
		e[i].key = keys[i];
		e[i].value = "v";
		pe[i] = &e[i];
	}
	r.labels = pe;
	r.n_labels = n;
	return &r;
}

static void test_create(void)
{
	memset(&self, 0, sizeof(self));
	validate_self_add4(&self, ip4("198.18.2.1"), 24, "port1");

	Rtpproxy__CreateSessionRequest *r = create_req(32);
	CHECK(validate_create(r, &self, &err) == GRPC_STATUS_OK);   /* 32: the limit */
	r = create_req(33);
	CHECK(validate_create(r, &self, &err) == GRPC_STATUS_INVALID_ARGUMENT);
	CHECK(strcmp(err.message, "labels: 33 labels, at most 32") == 0);
	r = create_req(3);
	r->labels[2]->key = "k0";
	CHECK(validate_create(r, &self, &err) == GRPC_STATUS_INVALID_ARGUMENT);
	CHECK(strcmp(err.message, "labels[\"k0\"]: the key is given twice") == 0);
	r = create_req(0);
	r->destination_endpoint->address = "198.18.2.255";
	CHECK(validate_create(r, &self, &err) == GRPC_STATUS_INVALID_ARGUMENT);
	CHECK(has(err.message, "destination_endpoint.address: 198.18.2.255 is the broadcast"));
	r->destination_endpoint = NULL;         /* missing: parse_endpoint's to report */
	CHECK(validate_create(r, &self, &err) == GRPC_STATUS_OK);
	r = create_req(0);
	r->session_id = "no spaces";
	CHECK(validate_create(r, &self, &err) == GRPC_STATUS_INVALID_ARGUMENT);
	CHECK(has(err.message, "session_id: "));
}

static void test_list(void)
{
	Rtpproxy__ListSessionsRequest r;
	Rtpproxy__ListSessionsRequest__LabelSelectorEntry e[33], *pe[33];
	char keys[33][8];

	rtpproxy__list_sessions_request__init(&r);
	CHECK(validate_list(&r, &err) == GRPC_STATUS_OK);
	for (unsigned i = 0; i < 33; i++) {
		rtpproxy__list_sessions_request__label_selector_entry__init(&e[i]);
		snprintf(keys[i], sizeof(keys[i]), "k%u", i);
		e[i].key = keys[i];
		e[i].value = "";
		pe[i] = &e[i];
	}
	r.label_selector = pe;
	r.n_label_selector = 32;
	CHECK(validate_list(&r, &err) == GRPC_STATUS_OK);
	r.n_label_selector = 33;
	CHECK(validate_list(&r, &err) == GRPC_STATUS_INVALID_ARGUMENT);
	CHECK(strcmp(err.message, "label_selector: 33 labels, at most 32") == 0);
	r.n_label_selector = 1;
	e[0].key = "";
	CHECK(validate_list(&r, &err) == GRPC_STATUS_INVALID_ARGUMENT);
	CHECK(has(err.message, "label_selector[\"\"]: "));
}

static void test_uuid(void)
{
	char a[37], b[37];

	CHECK(ids_uuid4(a) == 0 && ids_uuid4(b) == 0);
	CHECK(strlen(a) == 36 && strcmp(a, b) != 0);
	CHECK(a[8] == '-' && a[13] == '-' && a[18] == '-' && a[23] == '-');
	CHECK(a[14] == '4');                                    /* version 4 */
	CHECK(strchr("89ab", a[19]) != NULL);                   /* RFC 4122 variant */
	CHECK(validate_session_id("session_id", a, &err) == GRPC_STATUS_OK);
	/* 1000 ids: no repeat, and every hex digit of the random part is used */
	static char seen[1000][37];
	unsigned digits = 0, dup = 0;
	for (int i = 0; i < 1000; i++) {
		CHECK(ids_uuid4(seen[i]) == 0);
		for (int j = 0; j < i; j++)
			dup += strcmp(seen[i], seen[j]) == 0;
		for (int k = 0; k < 8; k++)
			digits |= 1u << (seen[i][k] <= '9' ? seen[i][k] - '0' : seen[i][k] - 'a' + 10);
	}
	CHECK_EQ_U(dup, 0);
	CHECK_EQ_U(digits, 0xffff);
}

int main(void)
{
	test_destinations4();
	test_destinations6();
	test_kernel_addrs();
	test_session_id();
	test_label();
	test_create();
	test_list();
	test_uuid();
	return check_summary("validate");
}
