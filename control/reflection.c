/*
 * Server reflection (reflection.h) on grpc_srv's one-for-one bidi calls. Both versions are
 * the same messages under two package names: the answer is built with the v1 types, and a
 * v1alpha request and its answer pass through their bytes (a few hundred of them, now and
 * then) rather than a second copy of the code.
 */
#include "reflection.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "descriptor_set.h"
#include "reflection_v1.pb-c.h"
#include "reflection_v1alpha.pb-c.h"

typedef Grpc__Reflection__V1__ServerReflectionRequest Request;
typedef Grpc__Reflection__V1__ServerReflectionResponse Response;

/* The oneof cases, by their short names */
#define REQ(c) GRPC__REFLECTION__V1__SERVER_REFLECTION_REQUEST__MESSAGE_REQUEST_##c
#define RESP(c) GRPC__REFLECTION__V1__SERVER_REFLECTION_RESPONSE__MESSAGE_RESPONSE_##c

struct reflection {
	struct descdb *db;
};

struct reflection *reflection_create_from(const uint8_t *set, size_t len, char *err,
		size_t errlen)
{
	struct reflection *r = calloc(1, sizeof(*r));

	if (r == NULL) {
		snprintf(err, errlen, "reflection: out of memory");
		return NULL;
	}
	r->db = descdb_open(set, len, err, errlen);
	if (r->db == NULL) {
		free(r);
		return NULL;
	}
	return r;
}

struct reflection *reflection_create(char *err, size_t errlen)
{
	return reflection_create_from(rp_descriptor_set, rp_descriptor_set_len, err, errlen);
}

void reflection_free(struct reflection *r)
{
	if (r == NULL)
		return;
	descdb_free(r->db);
	free(r);
}

const struct descdb *reflection_db(const struct reflection *r)
{
	return r->db;
}

/* ---- the answer ---- */

static void error_response(Response *resp, struct arena *a, grpc_status_code code,
		const char *what, const char *name)
{
	Grpc__Reflection__V1__ErrorResponse *e = arena_alloc(a, sizeof(*e));

	if (e == NULL)
		return;
	grpc__reflection__v1__error_response__init(e);
	e->error_code = code;
	e->error_message = arena_printf(a, "%s%s%s", what, name ? ": " : "", name ? name : "");
	resp->message_response_case = RESP(ERROR_RESPONSE);
	resp->error_response = e;
}

/* File idx and what it imports, as serialized FileDescriptorProtos. */
static int file_response(const struct descdb *db, Response *resp, struct arena *a,
		unsigned idx)
{
	unsigned n_files = descdb_n_files(db);
	unsigned *ids = arena_alloc(a, sizeof(*ids) * n_files);
	Grpc__Reflection__V1__FileDescriptorResponse *f = arena_alloc(a, sizeof(*f));

	if (ids == NULL || f == NULL)
		return -1;
	grpc__reflection__v1__file_descriptor_response__init(f);
	unsigned n = descdb_with_deps(db, idx, ids, n_files);
	f->file_descriptor_proto = arena_alloc(a, sizeof(ProtobufCBinaryData) * n);
	if (f->file_descriptor_proto == NULL)
		return -1;
	for (unsigned i = 0; i < n; i++)
		f->file_descriptor_proto[i] = descdb_file_bytes(db, ids[i]);
	f->n_file_descriptor_proto = n;
	resp->message_response_case = RESP(FILE_DESCRIPTOR_RESPONSE);
	resp->file_descriptor_response = f;
	return 0;
}

static int list_services(const struct descdb *db, Response *resp, struct arena *a)
{
	unsigned n = descdb_n_services(db);
	Grpc__Reflection__V1__ListServiceResponse *l = arena_alloc(a, sizeof(*l));
	Grpc__Reflection__V1__ServiceResponse *svcs = arena_alloc(a, sizeof(*svcs) * n);
	Grpc__Reflection__V1__ServiceResponse **ptrs = arena_alloc(a, sizeof(*ptrs) * n);

	if (l == NULL || (n > 0 && (svcs == NULL || ptrs == NULL)))
		return -1;
	grpc__reflection__v1__list_service_response__init(l);
	for (unsigned i = 0; i < n; i++) {
		grpc__reflection__v1__service_response__init(&svcs[i]);
		svcs[i].name = (char *)descdb_service(db, i);
		ptrs[i] = &svcs[i];
	}
	l->service = ptrs;
	l->n_service = n;
	resp->message_response_case = RESP(LIST_SERVICES_RESPONSE);
	resp->list_services_response = l;
	return 0;
}

static grpc_status_code answer(const struct descdb *db, const Request *req, Response **out,
		struct arena *a, struct rpc_error *err)
{
	Response *resp = arena_alloc(a, sizeof(*resp));
	int idx, rc = 0;

	if (resp == NULL)
		return rpc_fail(err, GRPC_STATUS_RESOURCE_EXHAUSTED, "out of memory");
	grpc__reflection__v1__server_reflection_response__init(resp);
	resp->valid_host = req->host != NULL ? req->host : "";
	resp->original_request = (Request *)req;       /* packed before req is freed */

	switch (req->message_request_case) {
	case REQ(LIST_SERVICES):
		rc = list_services(db, resp, a);
		break;
	case REQ(FILE_BY_FILENAME):
		idx = descdb_find_file(db, req->file_by_filename);
		if (idx < 0)
			error_response(resp, a, GRPC_STATUS_NOT_FOUND, "file not found",
					req->file_by_filename);
		else
			rc = file_response(db, resp, a, (unsigned)idx);
		break;
	case REQ(FILE_CONTAINING_SYMBOL):
		idx = descdb_find_symbol(db, req->file_containing_symbol);
		if (idx < 0)
			error_response(resp, a, GRPC_STATUS_NOT_FOUND, "symbol not found",
					req->file_containing_symbol);
		else
			rc = file_response(db, resp, a, (unsigned)idx);
		break;
	case REQ(FILE_CONTAINING_EXTENSION):
		/* the API's files declare no extensions */
		error_response(resp, a, GRPC_STATUS_NOT_FOUND, "extension not found",
				req->file_containing_extension != NULL
				? req->file_containing_extension->containing_type : NULL);
		break;
	case REQ(ALL_EXTENSION_NUMBERS_OF_TYPE):
		error_response(resp, a, GRPC_STATUS_NOT_FOUND, "type not found or has no "
				"extensions", req->all_extension_numbers_of_type);
		break;
	default:
		error_response(resp, a, GRPC_STATUS_UNIMPLEMENTED, "message_request: none of "
				"list_services, file_by_filename, file_containing_symbol, "
				"file_containing_extension, all_extension_numbers_of_type is set", NULL);
		break;
	}
	if (rc != 0 || resp->message_response_case == RESP(_NOT_SET))
		return rpc_fail(err, GRPC_STATUS_RESOURCE_EXHAUSTED, "out of memory");
	*out = resp;
	return GRPC_STATUS_OK;
}

static grpc_status_code info_v1(void *ctx, const ProtobufCMessage *m, ProtobufCMessage **out,
		struct arena *a, struct rpc_error *err)
{
	struct reflection *r = ctx;
	Response *resp;
	grpc_status_code code = answer(r->db, (const Request *)m, &resp, a, err);

	if (code == GRPC_STATUS_OK)
		*out = &resp->base;
	return code;
}

/* ---- v1alpha through the bytes ---- */

static void *arena_alloc_cb(void *data, size_t size)
{
	return arena_alloc(data, size);
}

static void arena_free_cb(void *data, void *p)
{
	(void)data;
	(void)p;        /* the arena frees everything at once */
}

/* m as the same message of another package (same fields, same numbers); NULL on failure. */
static ProtobufCMessage *convert(const ProtobufCMessage *m, const ProtobufCMessageDescriptor *to,
		struct arena *a)
{
	ProtobufCAllocator alloc = { .alloc = arena_alloc_cb, .free = arena_free_cb,
		.allocator_data = a };
	size_t len = protobuf_c_message_get_packed_size(m);
	uint8_t *buf = arena_alloc(a, len ? len : 1);

	if (buf == NULL)
		return NULL;
	protobuf_c_message_pack(m, buf);
	return protobuf_c_message_unpack(to, &alloc, len, buf);
}

static grpc_status_code info_v1alpha(void *ctx, const ProtobufCMessage *m,
		ProtobufCMessage **out, struct arena *a, struct rpc_error *err)
{
	ProtobufCMessage *req = convert(m,
			&grpc__reflection__v1__server_reflection_request__descriptor, a), *resp;

	if (req == NULL)
		return rpc_fail(err, GRPC_STATUS_RESOURCE_EXHAUSTED, "out of memory");
	grpc_status_code code = info_v1(ctx, req, &resp, a, err);
	if (code != GRPC_STATUS_OK)
		return code;
	*out = convert(resp, &grpc__reflection__v1alpha__server_reflection_response__descriptor,
			a);
	if (*out == NULL)
		return rpc_fail(err, GRPC_STATUS_RESOURCE_EXHAUSTED, "out of memory");
	return GRPC_STATUS_OK;
}

/* ServerReflection has one method: ServerReflectionInfo. */
static const struct grpc_srv_method methods_v1[] = { { .bidi = info_v1 } };
static const struct grpc_srv_method methods_v1alpha[] = { { .bidi = info_v1alpha } };

struct grpc_srv_service reflection_service_v1(struct reflection *r)
{
	return (struct grpc_srv_service){
		.svc = &grpc__reflection__v1__server_reflection__descriptor,
		.methods = methods_v1, .ctx = r,
	};
}

struct grpc_srv_service reflection_service_v1alpha(struct reflection *r)
{
	return (struct grpc_srv_service){
		.svc = &grpc__reflection__v1alpha__server_reflection__descriptor,
		.methods = methods_v1alpha, .ctx = r,
	};
}
