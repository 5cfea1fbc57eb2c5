#include "pb_tel.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <rte_telemetry.h>

static int fill_dict(struct rte_tel_data *d, const ProtobufCMessage *msg);

static bool is_map_entry(const ProtobufCMessageDescriptor *d)
{
	size_t len = strlen(d->name);
	return d->n_fields == 2 && len > 5 && strcmp(d->name + len - 5, "Entry") == 0 &&
		strcmp(d->fields[0].name, "key") == 0 && strcmp(d->fields[1].name, "value") == 0;
}

/* One scalar or message value of `field` at p, under `name` in dict d. */
static int add_value(struct rte_tel_data *d, const char *name,
		const ProtobufCFieldDescriptor *field, const void *p)
{
	char buf[32];

	switch (field->type) {
	case PROTOBUF_C_TYPE_INT32:
	case PROTOBUF_C_TYPE_SINT32:
	case PROTOBUF_C_TYPE_SFIXED32:
		return rte_tel_data_add_dict_int(d, name, *(const int32_t *)p);
	case PROTOBUF_C_TYPE_UINT32:
	case PROTOBUF_C_TYPE_FIXED32:
		return rte_tel_data_add_dict_u64(d, name, *(const uint32_t *)p);
	case PROTOBUF_C_TYPE_INT64:
	case PROTOBUF_C_TYPE_SINT64:
	case PROTOBUF_C_TYPE_SFIXED64: {
		int64_t v = *(const int64_t *)p;
		if (v >= 0)
			return rte_tel_data_add_dict_u64(d, name, (uint64_t)v);
		snprintf(buf, sizeof(buf), "%lld", (long long)v);
		return rte_tel_data_add_dict_string(d, name, buf);
	}
	case PROTOBUF_C_TYPE_UINT64:
	case PROTOBUF_C_TYPE_FIXED64:
		return rte_tel_data_add_dict_u64(d, name, *(const uint64_t *)p);
	case PROTOBUF_C_TYPE_FLOAT:
		snprintf(buf, sizeof(buf), "%.9g", *(const float *)p);
		return rte_tel_data_add_dict_string(d, name, buf);
	case PROTOBUF_C_TYPE_DOUBLE:
		snprintf(buf, sizeof(buf), "%.17g", *(const double *)p);
		for (int prec = 6; prec < 17; prec++) {        /* the shortest that reads back */
			char s[32];
			snprintf(s, sizeof(s), "%.*g", prec, *(const double *)p);
			if (strtod(s, NULL) == *(const double *)p) {
				memcpy(buf, s, sizeof(buf));
				break;
			}
		}
		return rte_tel_data_add_dict_string(d, name, buf);
	case PROTOBUF_C_TYPE_BOOL:
		return rte_tel_data_add_dict_int(d, name, *(const protobuf_c_boolean *)p ? 1 : 0);
	case PROTOBUF_C_TYPE_ENUM: {
		const ProtobufCEnumValue *ev = protobuf_c_enum_descriptor_get_value(
				field->descriptor, *(const int *)p);
		if (ev == NULL)
			return rte_tel_data_add_dict_int(d, name, *(const int *)p);
		return rte_tel_data_add_dict_string(d, name, ev->name);
	}
	case PROTOBUF_C_TYPE_STRING: {
		const char *s = *(char *const *)p;
		int rc = rte_tel_data_add_dict_string(d, name, s != NULL ? s : "");
		return rc == E2BIG ? 0 : rc;    /* truncated: still there */
	}
	case PROTOBUF_C_TYPE_BYTES:
		return 0;               /* none in the API */
	case PROTOBUF_C_TYPE_MESSAGE: {
		const ProtobufCMessage *m = *(ProtobufCMessage *const *)p;
		struct rte_tel_data *c;
		if (m == NULL)
			return 0;
		c = rte_tel_data_alloc();
		if (c == NULL)
			return -ENOMEM;
		int rc = fill_dict(c, m);
		if (rc == 0)
			rc = rte_tel_data_add_dict_container(d, name, c, 0);
		if (rc != 0)
			rte_tel_data_free(c);
		return rc;
	}
	}
	return 0;
}

/* map<string, V>: a dict of its entries. */
static int add_map(struct rte_tel_data *d, const char *name,
		const ProtobufCFieldDescriptor *field, ProtobufCMessage *const *entries, size_t n)
{
	const ProtobufCMessageDescriptor *ed = field->descriptor;
	struct rte_tel_data *c = rte_tel_data_alloc();
	int rc = 0;

	if (c == NULL)
		return -ENOMEM;
	rte_tel_data_start_dict(c);
	for (size_t i = 0; i < n && rc == 0; i++) {
		const char *e = (const char *)entries[i];
		const char *key = *(char *const *)(e + ed->fields[0].offset);
		rc = add_value(c, key != NULL ? key : "", &ed->fields[1], e + ed->fields[1].offset);
		if (rc == -EINVAL)
			rc = 0;         /* a key telemetry cannot name (it allows [A-Za-z0-9_/]) */
	}
	if (rc == 0)
		rc = rte_tel_data_add_dict_container(d, name, c, 0);
	if (rc != 0)
		rte_tel_data_free(c);
	return rc;
}

/*
 * repeated message: a dict of dicts keyed by the index ("0", "1"...): DPDK 22.11 takes no array
 * of containers inside a dict (other repeated types: none in the API's replies).
 */
static int add_repeated(struct rte_tel_data *d, const char *name,
		const ProtobufCFieldDescriptor *field, const char *base)
{
	size_t n = *(const size_t *)(base + field->quantifier_offset);
	ProtobufCMessage *const *arr = *(ProtobufCMessage *const *const *)(base + field->offset);
	struct rte_tel_data *c;
	char key[24];
	int rc = 0;

	if (field->type != PROTOBUF_C_TYPE_MESSAGE)
		return 0;
	if (is_map_entry(field->descriptor))
		return add_map(d, name, field, arr, n);
	c = rte_tel_data_alloc();
	if (c == NULL)
		return -ENOMEM;
	rte_tel_data_start_dict(c);
	for (size_t i = 0; i < n && rc == 0; i++) {
		struct rte_tel_data *e = rte_tel_data_alloc();
		if (e == NULL) {
			rc = -ENOMEM;
			break;
		}
		rc = fill_dict(e, arr[i]);
		snprintf(key, sizeof(key), "%zu", i);
		if (rc == 0)
			rc = rte_tel_data_add_dict_container(c, key, e, 0);
		if (rc != 0)
			rte_tel_data_free(e);
	}
	if (rc == 0)
		rc = rte_tel_data_add_dict_container(d, name, c, 0);
	if (rc != 0)
		rte_tel_data_free(c);
	return rc;
}

static int fill_dict(struct rte_tel_data *d, const ProtobufCMessage *msg)
{
	const ProtobufCMessageDescriptor *desc = msg->descriptor;
	const char *base = (const char *)msg;
	int rc = 0;

	rte_tel_data_start_dict(d);
	for (unsigned i = 0; i < desc->n_fields && rc == 0; i++) {
		const ProtobufCFieldDescriptor *f = &desc->fields[i];
		if (f->label == PROTOBUF_C_LABEL_REPEATED)
			rc = add_repeated(d, f->name, f, base);
		else
			rc = add_value(d, f->name, f, base + f->offset);
	}
	return rc;
}

int pb_tel_message(struct rte_tel_data *d, const ProtobufCMessage *msg)
{
	return fill_dict(d, msg);
}
