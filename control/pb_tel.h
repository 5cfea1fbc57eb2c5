/*
 * A protobuf-c message as DPDK telemetry data (rte_tel_data), walked through its descriptor:
 * field names as in the .proto, integers as numbers, bools as 0/1, enums by name, doubles as
 * their shortest text (telemetry has no floating type in DPDK 22.11), strings as strings (at
 * most RTE_TEL_MAX_STRING_LEN - 1 bytes), messages and maps as nested dicts, repeated messages
 * as a dict of dicts keyed "0", "1"... (22.11 nests no array of dicts in a dict). Unset
 * submessages are left out.
 */
#ifndef RTPPROXY_PB_TEL_H
#define RTPPROXY_PB_TEL_H

#include <protobuf-c/protobuf-c.h>

struct rte_tel_data;

/* Fill d (a fresh callback reply) with msg as a dict; 0, or a negative errno. */
int pb_tel_message(struct rte_tel_data *d, const ProtobufCMessage *msg);

#endif
