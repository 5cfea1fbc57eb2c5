/*
 * rtpproxyctl's output: a session, the appliance's stats and an event as lines for people,
 * and any message as JSON (--json).
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "pb_json.h"
#include "rtpproxyctl.h"

static const char *enum_short(const ProtobufCEnumDescriptor *d, const char *prefix, int v)
{
	const ProtobufCEnumValue *ev = protobuf_c_enum_descriptor_get_value(d, v);
	size_t pl = strlen(prefix);

	if (ev == NULL)
		return "?";
	return strncmp(ev->name, prefix, pl) == 0 ? ev->name + pl : ev->name;
}

static const char *state_name(int v)
{
	return enum_short(&rtpproxy__session_state__descriptor, "SESSION_STATE_", v);
}

static const char *transport_name(int v)
{
	return v == RTPPROXY__TRANSPORT__TRANSPORT_TCP ? "tcp"
		: v == RTPPROXY__TRANSPORT__TRANSPORT_UDP ? "udp" : "?";
}

/* As --latch-mode takes it. */
static const char *latch_mode_name(int v)
{
	return v == RTPPROXY__LATCH_MODE__LATCH_MODE_SSRC ? "ssrc"
		: v == RTPPROXY__LATCH_MODE__LATCH_MODE_FIRST ? "first"
		: v == RTPPROXY__LATCH_MODE__LATCH_MODE_ANY ? "any" : "?";
}

static const char *fmt_endpoint(char *buf, size_t len, const Rtpproxy__Endpoint *ep)
{
	if (ep == NULL || (ep->address[0] == '\0' && ep->port == 0))
		snprintf(buf, len, "-");
	else if (strchr(ep->address, ':') != NULL)
		snprintf(buf, len, "[%s]:%" PRIu32, ep->address, ep->port);
	else
		snprintf(buf, len, "%s:%" PRIu32, ep->address, ep->port);
	return buf;
}

static const char *fmt_time(char *buf, size_t len, int64_t unix_ms)
{
	time_t secs = (time_t)(unix_ms / 1000);
	struct tm tm;

	if (unix_ms <= 0 || gmtime_r(&secs, &tm) == NULL) {
		snprintf(buf, len, "-");
		return buf;
	}
	size_t n = strftime(buf, len, "%Y-%m-%d %H:%M:%S", &tm);
	snprintf(buf + n, len - n, ".%03d UTC", (int)(unix_ms % 1000));
	return buf;
}

static void print_stats(const char *label, const Rtpproxy__SessionStats *s)
{
	char when[64];

	if (s == NULL) {
		printf("  %-13s -\n", label);
		return;
	}
	printf("  %-13s received %" PRIu64 " packets / %" PRIu64 " bytes, "
		"sent %" PRIu64 " packets / %" PRIu64 " bytes\n", label,
		s->packets_received, s->bytes_received, s->packets_sent, s->bytes_sent);
	printf("  %-13s dropped %" PRIu64 ", lost %" PRIu64 ", loss_rate %.4f, "
		"jitter_ms %.3f, latency_ms avg %.3f max %.3f\n", "",
		s->packets_dropped, s->packets_lost, s->loss_rate, s->jitter_ms,
		s->avg_latency_ms, s->max_latency_ms);
	if (s->last_activity_unix_ms > 0)
		printf("  %-13s last activity %s\n", "",
			fmt_time(when, sizeof(when), s->last_activity_unix_ms));
}

void print_session(const Rtpproxy__SessionInfo *si)
{
	char a[96], when[64];

	if (si == NULL) {
		printf("session -\n");
		return;
	}
	printf("session %s\n", si->session_id);
	printf("  %-13s %s\n", "state", state_name(si->state));
	printf("  %-13s %s\n", "transport", transport_name(si->transport));
	printf("  %-13s %s\n", "listen", fmt_endpoint(a, sizeof(a), si->listen_endpoint));
	printf("  %-13s %s\n", "forward", fmt_endpoint(a, sizeof(a), si->forward_endpoint));
	printf("  %-13s %s\n", "destination",
		fmt_endpoint(a, sizeof(a), si->destination_endpoint));
	if (si->latched_source != NULL)
		printf("  %-13s %s\n", "latched", fmt_endpoint(a, sizeof(a), si->latched_source));
	printf("  %-13s rtcp %s, bidirectional %s, idle timeout %" PRIu32 " s\n", "options",
		si->enable_rtcp ? "on" : "off", si->bidirectional ? "on" : "off",
		si->idle_timeout_secs);
	printf("  %-13s mode %s, strict source %s\n", "latching", latch_mode_name(si->latch_mode),
		si->strict_source ? "on" : "off");
	printf("  %-13s %s\n", "created", fmt_time(when, sizeof(when), si->created_unix_ms));
	if (si->n_labels > 0) {
		printf("  %-13s", "labels");
		for (size_t i = 0; i < si->n_labels; i++)
			printf(" %s=%s", si->labels[i]->key, si->labels[i]->value);
		printf("\n");
	}
	if (si->error_message[0] != '\0')
		printf("  %-13s %s\n", "error", si->error_message);
	print_stats("stats", si->stats);
	if (si->bidirectional || si->reverse_stats != NULL)
		print_stats("reverse", si->reverse_stats);
	if (si->enable_rtcp || si->rtcp_stats != NULL)
		print_stats("rtcp", si->rtcp_stats);
}

void print_proxy_stats(const Rtpproxy__GetProxyStatsResponse *r)
{
	uint64_t ms = r->uptime_ms;

	printf("%-16s %s\n", "version", r->version);
	printf("%-16s %" PRIu64 "d %02" PRIu64 ":%02" PRIu64 ":%02" PRIu64 ".%03" PRIu64 "\n",
		"uptime", ms / 86400000, ms / 3600000 % 24, ms / 60000 % 60, ms / 1000 % 60,
		ms % 1000);
	printf("%-16s active %" PRIu64 ", created %" PRIu64 ", closed %" PRIu64 "\n",
		"sessions", r->sessions_active, r->sessions_created_total,
		r->sessions_closed_total);
	for (size_t i = 0; i < r->n_ports; i++) {
		const Rtpproxy__PortStats *p = r->ports[i];
		char name[64];

		snprintf(name, sizeof(name), "port %" PRIu32 " %s", p->port_id, p->name);
		printf("%-16s rx %" PRIu64 " packets / %" PRIu64 " bytes, tx %" PRIu64
			" packets / %" PRIu64 " bytes\n", name, p->rx_packets, p->rx_bytes,
			p->tx_packets, p->tx_bytes);
		printf("%-16s rx_missed %" PRIu64 ", tx_failed %" PRIu64
			", exception_packets %" PRIu64 "\n", "", p->rx_missed, p->tx_failed,
			p->exception_packets);
	}
	for (size_t i = 0; i < r->n_workers; i++) {
		const Rtpproxy__WorkerStats *w = r->workers[i];
		char name[32];

		snprintf(name, sizeof(name), "worker %" PRIu32, w->index);
		printf("%-16s lcore %" PRIu32 ", relayed %" PRIu64 ", busy %.1f%% of iterations",
			name, w->lcore, w->relayed, w->iterations ?
			100.0 * (double)w->busy_iterations / (double)w->iterations : 0.0);
		if (w->relayed > 0)
			printf(", %.1f cycles/packet", (double)w->busy_cycles / (double)w->relayed);
		printf("\n");
	}
	if (r->state != NULL) {
		const Rtpproxy__StateBackendStats *st = r->state;
		printf("%-16s %s %s, %s %s of %s, lease epoch %" PRIu64 "\n", "state",
			st->backend, st->up ? "up" : "DOWN", st->role, st->instance,
			st->store_instance, st->lease_epoch);
		printf("%-16s queue %" PRIu64 ", last checkpoint ", "", st->queue_depth);
		if (st->last_checkpoint_age_ms < 0)
			printf("none yet");
		else
			printf("%.1f s ago", (double)st->last_checkpoint_age_ms / 1000.0);
		printf(", writes %" PRIu64 ", resyncs %" PRIu64 ", restored %" PRIu64 "\n",
			st->writes_total, st->resyncs_total, st->restored_sessions);
	}
	printf("%-16s", "drops");
	if (r->n_drops == 0)
		printf(" none");
	for (size_t i = 0; i < r->n_drops; i++)
		printf(" %s=%" PRIu64, r->drops[i]->key, r->drops[i]->value);
	printf("\n");
}

void print_event(const Rtpproxy__SessionEvent *ev)
{
	char when[64], a[96], b[96];
	const Rtpproxy__SessionStats *s = NULL;

	printf("%s  %s  ", fmt_time(when, sizeof(when), ev->timestamp_unix_ms), ev->session_id);
	switch (ev->event_case) {
	case RTPPROXY__SESSION_EVENT__EVENT_CREATED: {
		const Rtpproxy__SessionInfo *si = ev->created->session;
		if (si == NULL) {
			printf("created\n");
			break;
		}
		printf("created %s %s, listen %s, destination %s\n", transport_name(si->transport),
			state_name(si->state), fmt_endpoint(a, sizeof(a), si->listen_endpoint),
			fmt_endpoint(b, sizeof(b), si->destination_endpoint));
		break;
	}
	case RTPPROXY__SESSION_EVENT__EVENT_STATE_CHANGED:
		printf("state %s -> %s\n", state_name(ev->state_changed->old_state),
			state_name(ev->state_changed->new_state));
		break;
	case RTPPROXY__SESSION_EVENT__EVENT_STATS_UPDATE:
		s = ev->stats_update->stats;
		printf("stats");
		goto stats;
	case RTPPROXY__SESSION_EVENT__EVENT_ERROR:
		printf("error %s\n", ev->error->message);
		break;
	case RTPPROXY__SESSION_EVENT__EVENT_CLOSED:
		s = ev->closed->final_stats;
		printf("closed reason %s;", ev->closed->reason);
		goto stats;
	default:
		printf("(unknown event)\n");
		break;
	}
	return;
stats:
	if (s == NULL) {
		printf("\n");
		return;
	}
	printf(" received %" PRIu64 "/%" PRIu64 " B, sent %" PRIu64 "/%" PRIu64
		" B, dropped %" PRIu64 ", lost %" PRIu64 ", jitter_ms %.3f\n",
		s->packets_received, s->bytes_received, s->packets_sent, s->bytes_sent,
		s->packets_dropped, s->packets_lost, s->jitter_ms);
}

void print_json(const ProtobufCMessage *msg)
{
	pb_json_print(stdout, msg);
	fputc('\n', stdout);
}
