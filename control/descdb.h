/*
 * A FileDescriptorSet (protoc --descriptor_set_out) as server reflection needs it: each file's
 * serialized FileDescriptorProto, which file defines a fully qualified name, what a file
 * imports, and the services. Built once from the bytes; read-only afterwards.
 */
#ifndef RTPPROXY_DESCDB_H
#define RTPPROXY_DESCDB_H

#include <stddef.h>
#include <stdint.h>
#include <protobuf-c/protobuf-c.h>

struct descdb;

/* NULL and a message in err when the bytes are not a FileDescriptorSet. */
struct descdb *descdb_open(const uint8_t *set, size_t len, char *err, size_t errlen);
void descdb_free(struct descdb *db);

unsigned descdb_n_files(const struct descdb *db);
/* The file's name ("rtpproxy.proto") and its serialized FileDescriptorProto (in the set). */
const char *descdb_file_name(const struct descdb *db, unsigned idx);
ProtobufCBinaryData descdb_file_bytes(const struct descdb *db, unsigned idx);

/* The file of that name, or -1. */
int descdb_find_file(const struct descdb *db, const char *name);
/*
 * The file that defines `symbol`, fully qualified without a leading dot: a message (nested
 * ones too: "pkg.Outer.Inner"), a field ("pkg.Msg.field"), an enum, an enum value (in the
 * enum's scope, as protobuf scopes them: "pkg.VALUE" or "pkg.Msg.VALUE"), a service or a
 * method ("pkg.Svc.Method"). -1 if none.
 */
int descdb_find_symbol(const struct descdb *db, const char *symbol);
/*
 * The file idx, then every file it imports, directly or not, each once: into out (at most
 * max; the set's own files, so descdb_n_files is always enough). The count.
 */
unsigned descdb_with_deps(const struct descdb *db, unsigned idx, unsigned *out, unsigned max);

/* The services the set defines, fully qualified ("rtpproxy.RtpProxy"), in file order. */
unsigned descdb_n_services(const struct descdb *db);
const char *descdb_service(const struct descdb *db, unsigned i);

#endif
