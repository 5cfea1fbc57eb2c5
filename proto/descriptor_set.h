/*
 * The FileDescriptorSet of the API's .proto files (rtpproxy, grpc.health.v1 and both
 * grpc.reflection versions), as protoc --descriptor_set_out --include_imports wrote it at
 * build time (proto/meson.build): what server reflection answers from.
 */
#ifndef RTPPROXY_DESCRIPTOR_SET_H
#define RTPPROXY_DESCRIPTOR_SET_H

#include <stddef.h>

extern const unsigned char rp_descriptor_set[];
extern const size_t rp_descriptor_set_len;

#endif
