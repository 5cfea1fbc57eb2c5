#include "pb_json.h"

#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void print_message(FILE *f, const ProtobufCMessage *msg);

/* Bytes that are not valid UTF-8 become U+FFFD, so any JSON parser accepts the output. */
static size_t utf8_len(const unsigned char *s, size_t left)
{
	size_t n;
	uint32_t cp, min;

	if (s[0] < 0x80)
		return 1;
	if ((s[0] & 0xe0) == 0xc0)
		n = 2, cp = s[0] & 0x1f, min = 0x80;
	else if ((s[0] & 0xf0) == 0xe0)
		n = 3, cp = s[0] & 0x0f, min = 0x800;
	else if ((s[0] & 0xf8) == 0xf0)
		n = 4, cp = s[0] & 0x07, min = 0x10000;
	else
		return 0;
	if (n > left)
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n;
}

void pb_json_print_string(FILE *f, const char *s)
{
	const unsigned char *p = (const unsigned char *)(s != NULL ? s : "");
	size_t left = strlen((const char *)p);

	fputc('"', f);
	while (left > 0) {
		unsigned char c = *p;
		size_t n = 1;

		if (c == '"' || c == '\\') {
			fputc('\\', f);
			fputc(c, f);
		} else if (c == '\n') {
			fputs("\\n", f);
		} else if (c == '\t') {
			fputs("\\t", f);
		} else if (c == '\r') {
			fputs("\\r", f);
		} else if (c < 0x20 || c == 0x7f) {
			fprintf(f, "\\u%04x", c);
		} else if (c < 0x80) {
			fputc(c, f);
		} else if ((n = utf8_len(p, left)) > 0) {
			fwrite(p, 1, n, f);
		} else {
			fputs("\\ufffd", f);
			n = 1;
		}
		p += n;
		left -= n;
	}
	fputc('"', f);
}

static void print_base64(FILE *f, const ProtobufCBinaryData *b)
{
	static const char tbl[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

	fputc('"', f);
	for (size_t i = 0; i < b->len; i += 3) {
		uint32_t v = (uint32_t)b->data[i] << 16;
		size_t n = b->len - i;
		if (n > 1)
			v |= (uint32_t)b->data[i + 1] << 8;
		if (n > 2)
			v |= b->data[i + 2];
		fputc(tbl[(v >> 18) & 63], f);
		fputc(tbl[(v >> 12) & 63], f);
		fputc(n > 1 ? tbl[(v >> 6) & 63] : '=', f);
		fputc(n > 2 ? tbl[v & 63] : '=', f);
	}
	fputc('"', f);
}

/* The shortest text that reads back as the same double; JSON has no NaN or infinities. */
static void print_double(FILE *f, double d, bool single)
{
	int max_digits = single ? 9 : 17;

	char buf[64];

	if (isnan(d)) {
		fputs("\"NaN\"", f);
		return;
	}
	if (isinf(d)) {
		fputs(d > 0 ? "\"Infinity\"" : "\"-Infinity\"", f);
		return;
	}
	for (int prec = single ? 6 : 15; prec <= max_digits; prec++) {
		snprintf(buf, sizeof(buf), "%.*g", prec, d);
		if (single ? strtof(buf, NULL) == (float)d : strtod(buf, NULL) == d)
			break;
	}
	fputs(buf, f);
}

static void print_enum(FILE *f, const ProtobufCEnumDescriptor *desc, int v)
{
	const ProtobufCEnumValue *ev = protobuf_c_enum_descriptor_get_value(desc, v);

	if (ev != NULL)
		pb_json_print_string(f, ev->name);
	else
		fprintf(f, "%d", v);    /* a value newer than our .proto */
}

/* One value of `field` stored at p. */
static void print_value(FILE *f, const ProtobufCFieldDescriptor *field, const void *p)
{
	switch (field->type) {
	case PROTOBUF_C_TYPE_INT32:
	case PROTOBUF_C_TYPE_SINT32:
	case PROTOBUF_C_TYPE_SFIXED32:
		fprintf(f, "%d", *(const int32_t *)p);
		break;
	case PROTOBUF_C_TYPE_UINT32:
	case PROTOBUF_C_TYPE_FIXED32:
		fprintf(f, "%u", *(const uint32_t *)p);
		break;
	case PROTOBUF_C_TYPE_INT64:
	case PROTOBUF_C_TYPE_SINT64:
	case PROTOBUF_C_TYPE_SFIXED64:
		fprintf(f, "%lld", (long long)*(const int64_t *)p);
		break;
	case PROTOBUF_C_TYPE_UINT64:
	case PROTOBUF_C_TYPE_FIXED64:
		fprintf(f, "%llu", (unsigned long long)*(const uint64_t *)p);
		break;
	case PROTOBUF_C_TYPE_FLOAT:
		print_double(f, *(const float *)p, true);
		break;
	case PROTOBUF_C_TYPE_DOUBLE:
		print_double(f, *(const double *)p, false);
		break;
	case PROTOBUF_C_TYPE_BOOL:
		fputs(*(const protobuf_c_boolean *)p ? "true" : "false", f);
		break;
	case PROTOBUF_C_TYPE_ENUM:
		print_enum(f, field->descriptor, *(const int *)p);
		break;
	case PROTOBUF_C_TYPE_STRING:
		pb_json_print_string(f, *(char *const *)p);
		break;
	case PROTOBUF_C_TYPE_BYTES:
		print_base64(f, p);
		break;
	case PROTOBUF_C_TYPE_MESSAGE: {
		const ProtobufCMessage *m = *(ProtobufCMessage *const *)p;
		if (m != NULL)
			print_message(f, m);
		else
			fputs("null", f);
		break;
	}
	}
}

static size_t value_size(const ProtobufCFieldDescriptor *field)
{
	switch (field->type) {
	case PROTOBUF_C_TYPE_INT32:
	case PROTOBUF_C_TYPE_SINT32:
	case PROTOBUF_C_TYPE_SFIXED32:
	case PROTOBUF_C_TYPE_UINT32:
	case PROTOBUF_C_TYPE_FIXED32:
		return 4;
	case PROTOBUF_C_TYPE_INT64:
	case PROTOBUF_C_TYPE_SINT64:
	case PROTOBUF_C_TYPE_SFIXED64:
	case PROTOBUF_C_TYPE_UINT64:
	case PROTOBUF_C_TYPE_FIXED64:
		return 8;
	case PROTOBUF_C_TYPE_FLOAT:
		return sizeof(float);
	case PROTOBUF_C_TYPE_DOUBLE:
		return sizeof(double);
	case PROTOBUF_C_TYPE_BOOL:
		return sizeof(protobuf_c_boolean);
	case PROTOBUF_C_TYPE_ENUM:
		return sizeof(int);
	case PROTOBUF_C_TYPE_STRING:
		return sizeof(char *);
	case PROTOBUF_C_TYPE_BYTES:
		return sizeof(ProtobufCBinaryData);
	case PROTOBUF_C_TYPE_MESSAGE:
		return sizeof(ProtobufCMessage *);
	}
	return 0;
}

/* protoc-c turns map<K,V> into a repeated "...Entry" message of fields key = 1, value = 2. */
static bool is_map_entry(const ProtobufCMessageDescriptor *d)
{
	size_t len = strlen(d->name);

	return d->n_fields == 2 && len > 5 && strcmp(d->name + len - 5, "Entry") == 0 &&
		d->fields[0].id == 1 && strcmp(d->fields[0].name, "key") == 0 &&
		d->fields[1].id == 2 && strcmp(d->fields[1].name, "value") == 0;
}

static void print_map(FILE *f, const ProtobufCMessageDescriptor *entry_desc,
		ProtobufCMessage *const *entries, size_t n)
{
	const ProtobufCFieldDescriptor *kf = &entry_desc->fields[0], *vf = &entry_desc->fields[1];

	fputc('{', f);
	for (size_t i = 0; i < n; i++) {
		const char *e = (const char *)entries[i];
		if (i > 0)
			fputc(',', f);
		/* JSON keys are strings: other key types are quoted. */
		if (kf->type == PROTOBUF_C_TYPE_STRING) {
			print_value(f, kf, e + kf->offset);
		} else {
			fputc('"', f);
			print_value(f, kf, e + kf->offset);
			fputc('"', f);
		}
		fputc(':', f);
		print_value(f, vf, e + vf->offset);
	}
	fputc('}', f);
}

static void print_repeated(FILE *f, const ProtobufCFieldDescriptor *field, const char *base)
{
	size_t n = *(const size_t *)(base + field->quantifier_offset);
	const char *arr = *(char *const *)(base + field->offset);

	if (field->type == PROTOBUF_C_TYPE_MESSAGE && is_map_entry(field->descriptor)) {
		print_map(f, field->descriptor, (ProtobufCMessage *const *)arr, n);
		return;
	}
	fputc('[', f);
	for (size_t i = 0; i < n; i++) {
		if (i > 0)
			fputc(',', f);
		print_value(f, field, arr + i * value_size(field));
	}
	fputc(']', f);
}

/* Whether a singular field is there to print. */
static bool field_present(const ProtobufCFieldDescriptor *field, const char *base)
{
	const void *member = base + field->offset;

	if (field->flags & PROTOBUF_C_FIELD_FLAG_ONEOF)
		return *(const uint32_t *)(base + field->quantifier_offset) == field->id;
	if (field->type == PROTOBUF_C_TYPE_MESSAGE)
		return *(void *const *)member != NULL;
	if (field->label == PROTOBUF_C_LABEL_OPTIONAL) {
		/* proto2: strings are pointers, the rest have a has_ flag. */
		if (field->type == PROTOBUF_C_TYPE_STRING)
			return *(char *const *)member != NULL;
		return *(const protobuf_c_boolean *)(base + field->quantifier_offset);
	}
	return true;
}

static void print_message(FILE *f, const ProtobufCMessage *msg)
{
	const ProtobufCMessageDescriptor *d = msg->descriptor;
	const char *base = (const char *)msg;
	bool first = true;

	fputc('{', f);
	for (unsigned i = 0; i < d->n_fields; i++) {
		const ProtobufCFieldDescriptor *field = &d->fields[i];
		bool repeated = field->label == PROTOBUF_C_LABEL_REPEATED;

		if (!repeated && !field_present(field, base))
			continue;
		if (!first)
			fputc(',', f);
		first = false;
		pb_json_print_string(f, field->name);
		fputc(':', f);
		if (repeated)
			print_repeated(f, field, base);
		else
			print_value(f, field, base + field->offset);
	}
	fputc('}', f);
}

void pb_json_print(FILE *f, const ProtobufCMessage *msg)
{
	print_message(f, msg);
}
