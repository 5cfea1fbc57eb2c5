#include "pb_grpc.h"

#include <grpc/byte_buffer_reader.h>

grpc_byte_buffer *pb_grpc_pack(const ProtobufCMessage *msg)
{
	size_t len = protobuf_c_message_get_packed_size(msg);
	grpc_slice slice = grpc_slice_malloc(len);
	protobuf_c_message_pack(msg, GRPC_SLICE_START_PTR(slice));
	grpc_byte_buffer *bb = grpc_raw_byte_buffer_create(&slice, 1);
	grpc_slice_unref(slice);
	return bb;
}

grpc_slice pb_grpc_slice(grpc_byte_buffer *bb)
{
	grpc_byte_buffer_reader reader;

	if (bb == NULL || !grpc_byte_buffer_reader_init(&reader, bb))
		return grpc_empty_slice();
	grpc_slice slice = grpc_byte_buffer_reader_readall(&reader);
	grpc_byte_buffer_reader_destroy(&reader);
	return slice;
}

ProtobufCMessage *pb_grpc_unpack(const ProtobufCMessageDescriptor *desc, grpc_byte_buffer *bb)
{
	if (bb == NULL)
		return NULL;
	grpc_slice slice = pb_grpc_slice(bb);
	ProtobufCMessage *msg = protobuf_c_message_unpack(desc, NULL, GRPC_SLICE_LENGTH(slice),
			GRPC_SLICE_START_PTR(slice));
	grpc_slice_unref(slice);
	return msg;
}
