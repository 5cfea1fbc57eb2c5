/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for what CreateSession does with untrusted bytes before any session code:
 * protobuf-c unpacking of CreateSessionRequest (and of ListSessionsRequest, the other request
 * with labels), then control/validate.c's checks. Invariants:
 *  - a request that passes has a session_id of 0..64 bytes of [A-Za-z0-9._:-], at most 32
 *    labels with keys of 1..63 bytes, values of 0..255 bytes and no key twice, and a
 *    destination that a plain reference (written from API.md 1.3's list) does not forbid;
 *  - a refused one is INVALID_ARGUMENT, its message names one of those fields first and is
 *    printable ASCII (no byte of the input reaches it raw), and the reference agrees when it
 *    is the destination that was refused.
 * The appliance's own addresses are fixed: 198.18.1.1/24, 198.18.2.1/24, 10.0.0.1/30,
 * 192.0.2.7/32 and 2001:db8::1.
 * Build and run: tests/fuzz/run.sh create
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>

#include "validate.h"

#define FUZZ_ASSERT(c) do { \
	if (!(c)) { \
		fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, __LINE__, #c); \
		abort(); \
	} \
} while (0)

static struct validate_self self;
static const struct { const char *addr; unsigned len; } own4[] = {
	{ "198.18.1.1", 24 }, { "198.18.2.1", 24 }, { "10.0.0.1", 30 }, { "192.0.2.7", 32 },
};

static void setup(void)
{
	struct in6_addr a6;
	for (size_t i = 0; i < sizeof(own4) / sizeof(own4[0]); i++)
		validate_self_add4(&self, inet_addr(own4[i].addr), (uint8_t)own4[i].len, "port");
	inet_pton(AF_INET6, "2001:db8::1", &a6);
	validate_self_add6(&self, &a6, "port");
}

/* API.md 1.3's IPv4 list, from its words, in host byte order. */
static bool ref_forbidden4(uint32_t a)
{
	unsigned top = a >> 24;
	if (top == 127 || top == 0 || top >= 224)       /* loopback, 0/8, 224/4, 240/4, 255.255.255.255 */
		return true;
	for (size_t i = 0; i < sizeof(own4) / sizeof(own4[0]); i++) {
		uint32_t own = ntohl(inet_addr(own4[i].addr));
		uint32_t host_bits = own4[i].len >= 32 ? 0 : (1u << (32 - own4[i].len)) - 1;
		if (a == own)
			return true;
		if (own4[i].len <= 30 && a == (own | host_bits))
			return true;
	}
	return false;
}

static bool ref_forbidden6(const struct in6_addr *a)
{
	static const uint8_t zero[16];
	const uint8_t *b = a->s6_addr;
	struct in6_addr own;
	inet_pton(AF_INET6, "2001:db8::1", &own);
	if (memcmp(b, zero, 15) == 0 && (b[15] == 0 || b[15] == 1))     /* ::, ::1 */
		return true;
	if (b[0] == 0xff || (b[0] == 0xfe && (b[1] & 0xc0) == 0x80))    /* ff00::/8, fe80::/10 */
		return true;
	if (memcmp(b, zero, 10) == 0 && b[10] == 0xff && b[11] == 0xff) /* ::ffff:0:0/96 */
		return true;
	return memcmp(b, own.s6_addr, 16) == 0;
}

/* -1: not an address (the endpoint parser's business), else whether the reference forbids it */
static int ref_dest(const char *s)
{
	struct in_addr a4;
	struct in6_addr a6;
	if (inet_pton(AF_INET, s, &a4) == 1)
		return ref_forbidden4(ntohl(a4.s_addr));
	if (inet_pton(AF_INET6, s, &a6) == 1)
		return ref_forbidden6(&a6);
	return -1;
}

static bool id_ok(const char *id)
{
	size_t n = strlen(id);
	if (n > 64)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._:-",
				id[i]))
			return false;
	return true;
}

static void check_message(const struct rpc_error *err)
{
	FUZZ_ASSERT(err->code == GRPC_STATUS_INVALID_ARGUMENT);
	size_t n = strnlen(err->message, sizeof(err->message));
	FUZZ_ASSERT(n > 0 && n < sizeof(err->message));
	for (size_t i = 0; i < n; i++)
		FUZZ_ASSERT(err->message[i] >= 0x20 && err->message[i] < 0x7f);
}

#define LABELS_OK(entries, n) __extension__ ({ \
	bool ok_ = (n) <= 32; \
	for (size_t i_ = 0; ok_ && i_ < (n); i_++) { \
		size_t k_ = strlen((entries)[i_]->key), v_ = strlen((entries)[i_]->value); \
		ok_ = k_ >= 1 && k_ <= 63 && v_ <= 255; \
		for (size_t j_ = 0; ok_ && j_ < i_; j_++) \
			ok_ = strcmp((entries)[i_]->key, (entries)[j_]->key) != 0; \
	} \
	ok_; \
})

static void fuzz_create(const uint8_t *data, size_t size)
{
	Rtpproxy__CreateSessionRequest *r = rtpproxy__create_session_request__unpack(NULL, size,
			data);
	struct rpc_error err = { .code = GRPC_STATUS_OK, .message = "" };

	if (r == NULL)
		return;
	bool id = id_ok(r->session_id);
	bool labels = LABELS_OK(r->labels, r->n_labels);
	int dest = r->destination_endpoint != NULL ?
		ref_dest(r->destination_endpoint->address) : -1;
	grpc_status_code c = validate_create(r, &self, &err);

	if (c == GRPC_STATUS_OK) {
		FUZZ_ASSERT(err.code == GRPC_STATUS_OK);
		FUZZ_ASSERT(id && labels && dest != 1);
	} else {
		check_message(&err);
		if (strncmp(err.message, "session_id: ", 12) == 0) {
			FUZZ_ASSERT(!id);
		} else if (strncmp(err.message, "labels", 6) == 0) {
			FUZZ_ASSERT(id && !labels);
		} else {
			FUZZ_ASSERT(strncmp(err.message, "destination_endpoint.address: ", 30) == 0);
			FUZZ_ASSERT(id && labels && dest == 1);
		}
	}
	rtpproxy__create_session_request__free_unpacked(r, NULL);
}

static void fuzz_list(const uint8_t *data, size_t size)
{
	Rtpproxy__ListSessionsRequest *r = rtpproxy__list_sessions_request__unpack(NULL, size, data);
	struct rpc_error err = { .code = GRPC_STATUS_OK, .message = "" };

	if (r == NULL)
		return;
	bool labels = LABELS_OK(r->label_selector, r->n_label_selector);
	grpc_status_code c = validate_list(r, &err);
	if (c == GRPC_STATUS_OK) {
		FUZZ_ASSERT(labels);
	} else {
		check_message(&err);
		FUZZ_ASSERT(!labels && strncmp(err.message, "label_selector", 14) == 0);
	}
	rtpproxy__list_sessions_request__free_unpacked(r, NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool ready;
	if (!ready) {
		setup();
		ready = true;
	}
	fuzz_create(data, size);
	fuzz_list(data, size);
	return 0;
}
