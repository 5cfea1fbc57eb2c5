/*
 * The descriptor set behind server reflection (control/descdb.c): the embedded set (names
 * resolve to the files protoc wrote, exactly those bytes; the four services), and a set built
 * here with imports (a file and its dependencies, each once, the file first) and bad bytes.
 */
#define _GNU_SOURCE     /* memmem */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "descdb.h"
#include "descriptor_set.h"
#include "descriptor_view.pb-c.h"

static const char *file_of(const struct descdb *db, const char *symbol)
{
	int f = descdb_find_symbol(db, symbol);
	const char *name = f < 0 ? NULL : descdb_file_name(db, (unsigned)f);
	return name != NULL ? name : "(none)";
}

/* Out of line: GCC's format check (ASan build) mistook got for a possible NULL when inlined. */
static __attribute__((noinline)) void say_mismatch(const char *sym, const char *got,
		const char *want)
{
	fprintf(stderr, "%s -> %s, want %s\n", sym, got, want);
}

#define CHECK_FILE(db, sym, want) do { \
	const char *got_ = file_of(db, sym); \
	if (strcmp(got_, want) != 0) \
		say_mismatch(sym, got_, want); \
	CHECK(strcmp(got_, want) == 0); \
} while (0)

static void test_embedded(void)
{
	char err[256];
	struct descdb *db = descdb_open(rp_descriptor_set, rp_descriptor_set_len, err,
			sizeof(err));

	CHECK(db != NULL);
	if (db == NULL)
		return;
	CHECK_EQ_U(descdb_n_files(db), 4);
	CHECK(descdb_find_file(db, "rtpproxy.proto") >= 0);
	CHECK(descdb_find_file(db, "health.proto") >= 0);
	CHECK(descdb_find_file(db, "reflection_v1alpha.proto") >= 0);
	CHECK(descdb_find_file(db, "reflection_v1.proto") >= 0);
	CHECK(descdb_find_file(db, "descriptor_view.proto") == -1);   /* internal */
	CHECK(descdb_find_file(db, "rtpproxy") == -1);

	CHECK_FILE(db, "rtpproxy.RtpProxy", "rtpproxy.proto");
	CHECK_FILE(db, "rtpproxy.RtpProxy.CreateSession", "rtpproxy.proto");
	CHECK_FILE(db, "rtpproxy.Endpoint", "rtpproxy.proto");
	CHECK_FILE(db, "rtpproxy.Endpoint.address", "rtpproxy.proto");
	CHECK_FILE(db, "rtpproxy.CreateSessionRequest.LabelsEntry", "rtpproxy.proto");
	CHECK_FILE(db, "rtpproxy.Transport", "rtpproxy.proto");
	CHECK_FILE(db, "rtpproxy.TRANSPORT_TCP", "rtpproxy.proto");         /* enum value scope */
	CHECK_FILE(db, "grpc.health.v1.Health.Watch", "health.proto");
	CHECK_FILE(db, "grpc.health.v1.HealthCheckResponse.ServingStatus", "health.proto");
	CHECK_FILE(db, "grpc.health.v1.HealthCheckResponse.SERVING", "health.proto");
	CHECK_FILE(db, "grpc.reflection.v1.ServerReflectionRequest", "reflection_v1.proto");
	CHECK_FILE(db, "grpc.reflection.v1alpha.ServerReflectionRequest",
			"reflection_v1alpha.proto");
	/* not names: a package, the enum as a scope of its values, a leading dot, nothing */
	CHECK_FILE(db, "rtpproxy", "(none)");
	CHECK_FILE(db, "rtpproxy.Transport.TRANSPORT_TCP", "(none)");
	CHECK_FILE(db, ".rtpproxy.RtpProxy", "(none)");
	CHECK_FILE(db, "", "(none)");
	CHECK_FILE(db, "rtpproxy.RtpProxy.Nope", "(none)");

	const char *want[] = { "rtpproxy.RtpProxy", "grpc.health.v1.Health",
		"grpc.reflection.v1alpha.ServerReflection", "grpc.reflection.v1.ServerReflection" };
	CHECK_EQ_U(descdb_n_services(db), 4);
	for (unsigned i = 0; i < 4 && i < descdb_n_services(db); i++)
		CHECK(strcmp(descdb_service(db, i), want[i]) == 0);

	/* the bytes are a FileDescriptorProto whose name is the file's */
	int f = descdb_find_file(db, "health.proto");
	ProtobufCBinaryData b = descdb_file_bytes(db, (unsigned)f);
	Rtpproxy__Descview__File *parsed = rtpproxy__descview__file__unpack(NULL, b.len, b.data);
	CHECK(parsed != NULL && strcmp(parsed->name, "health.proto") == 0);
	CHECK(parsed != NULL && strcmp(parsed->package, "grpc.health.v1") == 0);
	/* ... exactly as protoc wrote them into the set */
	CHECK(memmem(rp_descriptor_set, rp_descriptor_set_len, b.data, b.len) != NULL);
	rtpproxy__descview__file__free_unpacked(parsed, NULL);
	unsigned ids[4];
	CHECK_EQ_U(descdb_with_deps(db, (unsigned)f, ids, 4), 1);    /* imports nothing */
	CHECK_EQ_U(ids[0], f);
	descdb_free(db);
}

/* A set of files named names[i], file i importing deps[i] (a NULL-ended list). */
static uint8_t *make_set(const char *const *names, const char *const *const *deps, unsigned n,
		size_t *len)
{
	Rtpproxy__Descview__FileSet set = RTPPROXY__DESCVIEW__FILE_SET__INIT;
	ProtobufCBinaryData files[8];

	for (unsigned i = 0; i < n; i++) {
		Rtpproxy__Descview__File f = RTPPROXY__DESCVIEW__FILE__INIT;
		f.name = (char *)names[i];
		f.package = "p";
		while (deps[i][f.n_dependency] != NULL)
			f.n_dependency++;
		f.dependency = (char **)deps[i];
		files[i].len = protobuf_c_message_get_packed_size(&f.base);
		files[i].data = malloc(files[i].len);
		protobuf_c_message_pack(&f.base, files[i].data);
	}
	set.n_file = n;
	set.file = files;
	*len = protobuf_c_message_get_packed_size(&set.base);
	uint8_t *out = malloc(*len);
	protobuf_c_message_pack(&set.base, out);
	for (unsigned i = 0; i < n; i++)
		free(files[i].data);
	return out;
}

static void test_deps(void)
{
	/* d imports a and c; a imports b; b imports c; c imports nothing; e imports a missing x */
	static const char *const names[] = { "a.proto", "b.proto", "c.proto", "d.proto", "e.proto" };
	static const char *const da[] = { "b.proto", NULL }, *const db_[] = { "c.proto", NULL },
		*const dc[] = { NULL }, *const dd[] = { "a.proto", "c.proto", NULL },
		*const de[] = { "x.proto", "a.proto", NULL };
	static const char *const *const deps[] = { da, db_, dc, dd, de };
	char err[256];
	size_t len;
	uint8_t *bytes = make_set(names, deps, 5, &len);
	struct descdb *db = descdb_open(bytes, len, err, sizeof(err));
	unsigned ids[5];

	CHECK(db != NULL);
	if (db == NULL) {
		free(bytes);
		return;
	}
	CHECK_EQ_U(descdb_n_services(db), 0);
	/* d first, then its imports, then theirs: d a c b, each once */
	CHECK_EQ_U(descdb_with_deps(db, 3, ids, 5), 4);
	CHECK(ids[0] == 3 && ids[1] == 0 && ids[2] == 2 && ids[3] == 1);
	/* a missing import is skipped */
	CHECK_EQ_U(descdb_with_deps(db, 4, ids, 5), 4);
	CHECK(ids[0] == 4 && ids[1] == 0 && ids[2] == 1 && ids[3] == 2);
	/* bounded by max */
	CHECK_EQ_U(descdb_with_deps(db, 3, ids, 2), 2);
	CHECK_EQ_U(descdb_with_deps(db, 9, ids, 5), 0);
	descdb_free(db);
	free(bytes);
}

static void test_bad(void)
{
	static const uint8_t garbage[] = { 0x0a, 0x40, 0x01 };     /* a length past the end */
	static const uint8_t no_name[] = { 0x0a, 0x02, 0x12, 0x00 }; /* a file without a name */
	char err[256] = "";

	CHECK(descdb_open(garbage, sizeof(garbage), err, sizeof(err)) == NULL);
	CHECK(strstr(err, "not a FileDescriptorSet") != NULL);
	CHECK(descdb_open(no_name, sizeof(no_name), err, sizeof(err)) == NULL);
	CHECK(strstr(err, "file 0") != NULL);
	/* an empty set is a set */
	struct descdb *db = descdb_open(garbage, 0, err, sizeof(err));
	CHECK(db != NULL && descdb_n_files(db) == 0 && descdb_find_symbol(db, "x") == -1);
	descdb_free(db);
}

int main(void)
{
	test_embedded();
	test_deps();
	test_bad();
	return check_summary("descdb");
}
