/*
 * Any protobuf-c message as JSON, walked through its descriptor: no per-message code.
 * Field names as in the .proto, enums as their names, 64-bit integers as plain numbers,
 * maps as objects, bytes as base64, non-finite doubles as "NaN"/"Infinity"/"-Infinity".
 * Scalars are printed even at their default value; unset submessages and oneof members that
 * are not chosen are left out.
 */
#ifndef RTPPROXY_PB_JSON_H
#define RTPPROXY_PB_JSON_H

#include <stdio.h>
#include <protobuf-c/protobuf-c.h>

/* One JSON object on one line, without the newline. */
void pb_json_print(FILE *f, const ProtobufCMessage *msg);
/* S as a JSON string, quotes included (NULL as ""); invalid UTF-8 becomes U+FFFD. */
void pb_json_print_string(FILE *f, const char *s);

#endif
