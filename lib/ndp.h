/*
 * IPv6 neighbour discovery (RFC 4861) messages the data plane builds and reads itself:
 * neighbour solicitations to resolve a next hop, the advertisements that answer them, and
 * unsolicited advertisements of our own addresses (a standby taking over). Pure functions
 * over bytes (Ethernet frames, no VLAN tag), so the unit tests need no EAL.
 * Everything the appliance answers (NS for its addresses, echo) is the kernel's, on the TAP.
 */
#ifndef RTPPROXY_NDP_H
#define RTPPROXY_NDP_H

#include <stdbool.h>
#include <stdint.h>

#define NDP_ETHERTYPE_IPV6 0x86dd
#define NDP_IPPROTO_ICMPV6 58
#define NDP_TYPE_RS 133
#define NDP_TYPE_RA 134
#define NDP_TYPE_NS 135
#define NDP_TYPE_NA 136
#define NDP_TYPE_REDIRECT 137

/* NS and NA with one link-layer address option: Ethernet + IPv6 + 24 + 8 bytes. */
#define NDP_FRAME_LEN (14 + 40 + 24 + 8)

/* NA flags (the first byte after the ICMPv6 checksum). */
#define NDP_NA_ROUTER 0x80
#define NDP_NA_SOLICITED 0x40
#define NDP_NA_OVERRIDE 0x20

/* The solicited-node multicast group of addr (ff02::1:ffXX:XXXX) and its MAC
 * (33:33:ff:XX:XX:XX). */
void ndp_solicited_node(const uint8_t addr[16], uint8_t group[16], uint8_t mac[6]);

/* The ICMPv6 checksum of msg (its checksum field zero) under the pseudo-header (RFC 8200 8.1),
 * in network byte order, ready to store. */
uint16_t ndp_icmp6_csum(const uint8_t src[16], const uint8_t dst[16], const uint8_t *msg,
		uint32_t len);

/*
 * A neighbour solicitation for target from src_mac/src_ip, with the source link-layer address
 * option, into buf (NDP_FRAME_LEN bytes). dst_mac NULL: to target's solicited-node group
 * (resolution); else unicast to target at dst_mac (re-confirming a known neighbour, RFC 4861
 * 7.3.3). src_ip :: (a standby's probe, which must not make it known): no option, as RFC
 * 4861 7.2.2 requires; the answer then goes to all nodes. Returns the frame's length.
 */
unsigned ndp_build_ns(uint8_t *buf, const uint8_t src_mac[6], const uint8_t src_ip[16],
		const uint8_t target[16], const uint8_t *dst_mac);

/*
 * An unsolicited neighbour advertisement of our address `addr` at `mac` to all nodes
 * (ff02::1, 33:33:00:00:00:01), Override set, Solicited clear, with the target link-layer
 * address option (RFC 4861 7.2.6), into buf (NDP_FRAME_LEN bytes). Returns the length.
 */
unsigned ndp_build_unsolicited_na(uint8_t *buf, const uint8_t mac[6], const uint8_t addr[16]);

/* Is this Ethernet frame an NS or NA (ICMPv6 right after the IPv6 header)? A cheap look, no
 * validation (ndp_parse does that): for a standby's workers, which pass on only these (and
 * ARP) to keep the neighbour table warm. */
static inline bool ndp_is_ns_na(const uint8_t *frame, uint32_t len)
{
	return len >= 14 + 40 + 1 && frame[12] == 0x86 && frame[13] == 0xdd &&
		frame[14 + 6] == NDP_IPPROTO_ICMPV6 &&
		(frame[54] == NDP_TYPE_NS || frame[54] == NDP_TYPE_NA);
}

/* What an NS or NA said (ndp_parse). */
struct ndp_msg {
	uint8_t type;                   /* NDP_TYPE_NS or NDP_TYPE_NA */
	uint8_t flags;                  /* NA: NDP_NA_* */
	uint8_t src[16], dst[16];       /* the IPv6 header's */
	uint8_t target[16];
	bool has_lladdr;                /* NS: source, NA: target link-layer address option */
	uint8_t lladdr[6];
};

/*
 * Read an NS or NA from an Ethernet frame of len bytes, validated as RFC 4861 7.1.1/7.1.2
 * require: ICMPv6 directly after the IPv6 header, hop limit 255, code 0, the checksum, the
 * message's length, a unicast target, options of non-zero length within the message; an NA
 * to a multicast address must not be solicited, an NS from :: must go to a solicited-node
 * group and carry no link-layer option. 0 and *out, or -1 (not a valid NS/NA).
 */
int ndp_parse(const uint8_t *frame, uint32_t len, struct ndp_msg *out);

#endif
