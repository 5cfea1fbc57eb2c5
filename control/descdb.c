/*
 * The descriptor set behind server reflection (descdb.h). The set is parsed with the small
 * view of descriptor.proto in proto/descriptor_view.proto: the set's files are kept as the
 * bytes protoc wrote (what reflection sends), each also parsed for its names. Every name
 * goes into one table, (full name -> file), searched linearly: a few hundred names, asked
 * for by a tool now and then.
 */
#include "descdb.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "descriptor_view.pb-c.h"

typedef Rtpproxy__Descview__File File;
typedef Rtpproxy__Descview__Message Message;
typedef Rtpproxy__Descview__Enum Enum;

struct symbol {
	char *name;
	unsigned file;
};

struct descdb {
	Rtpproxy__Descview__FileSet *set;
	File **files;               /* set->file[i] parsed */
	unsigned n_files;
	struct symbol *syms;
	unsigned n_syms, cap_syms;
	char **services;            /* full names, also in syms */
	unsigned n_services;
	int failed;                 /* out of memory while building */
};

static char *join(const char *scope, const char *name)
{
	size_t ls = scope != NULL ? strlen(scope) : 0, ln = strlen(name);
	char *s = malloc(ls + ln + 2);

	if (s == NULL)
		return NULL;
	if (ls > 0) {
		memcpy(s, scope, ls);
		s[ls++] = '.';
	}
	memcpy(s + ls, name, ln + 1);
	return s;
}

/* Add scope.name as defined by file f; the full name (owned by the table), NULL on failure. */
static const char *add(struct descdb *db, const char *scope, const char *name, unsigned f)
{
	if (name == NULL || db->failed)
		return NULL;
	if (db->n_syms == db->cap_syms) {
		unsigned cap = db->cap_syms ? db->cap_syms * 2 : 64;
		struct symbol *s = realloc(db->syms, sizeof(*s) * cap);
		if (s == NULL) {
			db->failed = 1;
			return NULL;
		}
		db->syms = s;
		db->cap_syms = cap;
	}
	char *full = join(scope, name);
	if (full == NULL) {
		db->failed = 1;
		return NULL;
	}
	db->syms[db->n_syms++] = (struct symbol){ .name = full, .file = f };
	return full;
}

/* An enum and its values; the values live in the enum's scope, not inside the enum. */
static void add_enum(struct descdb *db, const char *scope, const Enum *e, unsigned f)
{
	add(db, scope, e->name, f);
	for (size_t i = 0; i < e->n_value; i++)
		add(db, scope, e->value[i]->name, f);
}

static void add_message(struct descdb *db, const char *scope, const Message *m, unsigned f)
{
	const char *full = add(db, scope, m->name, f);

	if (full == NULL)
		return;
	for (size_t i = 0; i < m->n_field; i++)
		add(db, full, m->field[i]->name, f);
	for (size_t i = 0; i < m->n_extension; i++)
		add(db, full, m->extension[i]->name, f);
	for (size_t i = 0; i < m->n_nested_type; i++)
		add_message(db, full, m->nested_type[i], f);
	for (size_t i = 0; i < m->n_enum_type; i++)
		add_enum(db, full, m->enum_type[i], f);
}

static void add_file(struct descdb *db, const File *file, unsigned f)
{
	const char *pkg = file->package;

	for (size_t i = 0; i < file->n_message_type; i++)
		add_message(db, pkg, file->message_type[i], f);
	for (size_t i = 0; i < file->n_enum_type; i++)
		add_enum(db, pkg, file->enum_type[i], f);
	for (size_t i = 0; i < file->n_extension; i++)
		add(db, pkg, file->extension[i]->name, f);
	for (size_t i = 0; i < file->n_service; i++) {
		const char *svc = add(db, pkg, file->service[i]->name, f);
		if (svc == NULL)
			continue;
		char **s = realloc(db->services, sizeof(*s) * (db->n_services + 1));
		if (s == NULL) {
			db->failed = 1;
			return;
		}
		db->services = s;
		db->services[db->n_services++] = (char *)svc;
		for (size_t j = 0; j < file->service[i]->n_method; j++)
			add(db, svc, file->service[i]->method[j]->name, f);
	}
}

static struct descdb *fail(struct descdb *db, char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	descdb_free(db);
	return NULL;
}

struct descdb *descdb_open(const uint8_t *set, size_t len, char *err, size_t errlen)
{
	struct descdb *db = calloc(1, sizeof(*db));

	if (db == NULL)
		return fail(db, err, errlen, "descriptor set: out of memory");
	db->set = rtpproxy__descview__file_set__unpack(NULL, len, set);
	if (db->set == NULL)
		return fail(db, err, errlen, "descriptor set: not a FileDescriptorSet (%zu bytes)",
				len);
	db->files = calloc(db->set->n_file ? db->set->n_file : 1, sizeof(*db->files));
	if (db->files == NULL)
		return fail(db, err, errlen, "descriptor set: out of memory");
	for (size_t i = 0; i < db->set->n_file; i++) {
		ProtobufCBinaryData b = db->set->file[i];
		db->files[i] = rtpproxy__descview__file__unpack(NULL, b.len, b.data);
		if (db->files[i] != NULL)
			db->n_files++;          /* descdb_free frees it */
		if (db->files[i] == NULL || db->files[i]->name == NULL)
			return fail(db, err, errlen, "descriptor set: file %zu does not parse as "
					"a FileDescriptorProto with a name", i);
		add_file(db, db->files[i], (unsigned)i);
	}
	if (db->failed)
		return fail(db, err, errlen, "descriptor set: out of memory");
	return db;
}

void descdb_free(struct descdb *db)
{
	if (db == NULL)
		return;
	for (unsigned i = 0; i < db->n_syms; i++)
		free(db->syms[i].name);
	free(db->syms);
	free(db->services);
	for (unsigned i = 0; i < db->n_files; i++)
		rtpproxy__descview__file__free_unpacked(db->files[i], NULL);
	free(db->files);
	if (db->set != NULL)
		rtpproxy__descview__file_set__free_unpacked(db->set, NULL);
	free(db);
}

unsigned descdb_n_files(const struct descdb *db)
{
	return db->n_files;
}

const char *descdb_file_name(const struct descdb *db, unsigned idx)
{
	return db->files[idx]->name;
}

ProtobufCBinaryData descdb_file_bytes(const struct descdb *db, unsigned idx)
{
	return db->set->file[idx];
}

int descdb_find_file(const struct descdb *db, const char *name)
{
	for (unsigned i = 0; i < db->n_files; i++)
		if (strcmp(db->files[i]->name, name) == 0)
			return (int)i;
	return -1;
}

int descdb_find_symbol(const struct descdb *db, const char *symbol)
{
	for (unsigned i = 0; i < db->n_syms; i++)
		if (strcmp(db->syms[i].name, symbol) == 0)
			return (int)db->syms[i].file;
	return -1;
}

static int listed(const unsigned *out, unsigned n, unsigned idx)
{
	for (unsigned i = 0; i < n; i++)
		if (out[i] == idx)
			return 1;
	return 0;
}

unsigned descdb_with_deps(const struct descdb *db, unsigned idx, unsigned *out, unsigned max)
{
	unsigned n = 0;

	if (max == 0 || idx >= db->n_files)
		return 0;
	out[n++] = idx;
	/* breadth first over out itself: each listed file's imports not yet listed */
	for (unsigned i = 0; i < n; i++) {
		const File *f = db->files[out[i]];
		for (size_t d = 0; d < f->n_dependency; d++) {
			int dep = descdb_find_file(db, f->dependency[d]);
			if (dep >= 0 && !listed(out, n, (unsigned)dep) && n < max)
				out[n++] = (unsigned)dep;
		}
	}
	return n;
}

unsigned descdb_n_services(const struct descdb *db)
{
	return db->n_services;
}

const char *descdb_service(const struct descdb *db, unsigned i)
{
	return db->services[i];
}
