/* What the data plane and the session manager see of the configuration. */
#ifndef RTPPROXY_CONFIG_VIEWS_H
#define RTPPROXY_CONFIG_VIEWS_H

#include "config.h"
#include "rp_dp.h"
#include "sess.h"

/* The data plane's view: ports (IPv4 then IPv6 addresses and neighbours), workers, tables. */
void dp_conf_from(struct dp_conf *dc, const struct config *cfg);
/* The session manager's: limits, port range, timers, allowed_destinations of both families. */
void sess_config_from(struct sess_config *sc, const struct config *cfg);

#endif
