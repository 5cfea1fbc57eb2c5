/* The appliance's own addresses, as the destination checks (validate.h) need them. */
#ifndef RTPPROXY_OWN_ADDRS_H
#define RTPPROXY_OWN_ADDRS_H

#include <stdint.h>

#include "validate.h"

struct dp;

/*
 * Every data-plane port's addresses (with their subnets) and the kernel's interface addresses
 * (the management side, the exception interfaces). Built again when older than a second, so
 * a CreateSession burst costs one getifaddrs per second. Control lcore only.
 */
const struct validate_self *own_addrs(const struct dp *dp, int64_t now_ms);

#endif
