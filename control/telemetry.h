/*
 * DPDK telemetry commands (API.md 1.4), on the EAL's telemetry socket (dpdk-telemetry.py):
 *   /rtpproxy/stats         what GetProxyStats returns
 *   /rtpproxy/sessions      the session ids (at most TELEMETRY_MAX_IDS: a reply is 16 KiB)
 *   /rtpproxy/session,ID    SessionInfo (null when there is no such session)
 * The callbacks run on the telemetry thread: they ask the control loop through the ctlq.
 */
#ifndef RTPPROXY_TELEMETRY_H
#define RTPPROXY_TELEMETRY_H

#define TELEMETRY_MAX_IDS 150

struct ctlq;

/* Register the commands (once) and serve them through q. 0, or -1 if registering failed. */
int telemetry_start(struct ctlq *q, unsigned timeout_ms);
/* Stop using q (the commands then answer null); waits for the callbacks using it. */
void telemetry_stop(void);

#endif
