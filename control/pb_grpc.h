/* protobuf-c messages in and out of grpc byte buffers: shared by the server and the client. */
#ifndef RTPPROXY_PB_GRPC_H
#define RTPPROXY_PB_GRPC_H

#include <grpc/byte_buffer.h>
#include <grpc/slice.h>
#include <protobuf-c/protobuf-c.h>

/* msg packed into a new byte buffer (destroy it with grpc_byte_buffer_destroy). */
grpc_byte_buffer *pb_grpc_pack(const ProtobufCMessage *msg);
/* The whole payload as one slice (unref it); empty when bb is NULL or unreadable. */
grpc_slice pb_grpc_slice(grpc_byte_buffer *bb);
/* The payload unpacked as desc; NULL when it does not parse (or bb is NULL). */
ProtobufCMessage *pb_grpc_unpack(const ProtobufCMessageDescriptor *desc, grpc_byte_buffer *bb);

#endif
