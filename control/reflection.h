/*
 * gRPC server reflection (grpc.reflection.v1alpha and grpc.reflection.v1 ServerReflection),
 * answered from the FileDescriptorSet embedded at build time (proto/descriptor_set.h), so that
 * a client with no .proto file can list the services and fetch what it needs to call them.
 */
#ifndef RTPPROXY_REFLECTION_H
#define RTPPROXY_REFLECTION_H

#include <stddef.h>

#include "descdb.h"
#include "grpc_srv.h"

struct reflection;

/* Over the embedded set; NULL and err if it does not parse (a build fault). */
struct reflection *reflection_create(char *err, size_t errlen);
/* Over any set (tests). The set's bytes must outlive the reflection. */
struct reflection *reflection_create_from(const uint8_t *set, size_t len, char *err,
		size_t errlen);
void reflection_free(struct reflection *r);
const struct descdb *reflection_db(const struct reflection *r);

/* The two services, for grpc_srv_start_services (valid while r lives). */
struct grpc_srv_service reflection_service_v1alpha(struct reflection *r);
struct grpc_srv_service reflection_service_v1(struct reflection *r);

#endif
