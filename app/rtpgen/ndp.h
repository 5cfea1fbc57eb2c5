/*
 * IPv6 neighbour discovery (RFC 4861) as rtpgen needs it, the counterpart of its ARP: a
 * neighbour solicitation for one of its addresses is answered with an advertisement, and its
 * addresses are announced with unsolicited advertisements before each phase. The message
 * formats only, on plain buffers (no EAL: tests/unit/test_rtpgen_frame.c); arp.c sends them.
 */
#ifndef RTPGEN_NDP_H
#define RTPGEN_NDP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <rte_ether.h>

#define NDP_NS 135
#define NDP_NA 136
#define NDP_NA_LEN (40 + 24 + 8)        /* IPv6, NA, target link-layer address option */

/* An IPv6 header and what follows (len bytes): an NS or NA as RFC 4861 7.1.1/7.1.2 want them
 * on the wire (ICMPv6, hop limit 255, code 0, long enough). */
bool ndp_is_nd(const uint8_t *ip6, uint32_t len);

struct ndp_ns {
	uint8_t src[16];                /* the solicitor's address (:: during DAD) */
	uint8_t target[16];
	struct rte_ether_addr eth_src;  /* the frame's source MAC */
};

/* A neighbour solicitation: the Ethernet frame (len bytes), its IP header at l3. Checks the
 * ICMPv6 checksum and the payload length too; false if anything is off. */
bool ndp_parse_ns(const uint8_t *frame, uint32_t len, uint32_t l3, struct ndp_ns *ns);

/*
 * A neighbour advertisement frame into buf (at least 18 + NDP_NA_LEN bytes): from `mac` to
 * eth_dst, tagged `vlan` (GEN_VLAN_NONE: untagged), from ip_src (= the target, ours) to ip_dst,
 * flags Solicited (if solicited) and Override, with the target link-layer address option.
 * The frame's length.
 */
size_t ndp_build_na(uint8_t *buf, const struct rte_ether_addr *eth_dst,
		const struct rte_ether_addr *mac, int vlan, const uint8_t *ip_src,
		const uint8_t *ip_dst, bool solicited);

/* The all-nodes address ff02::1 and its MAC 33:33:00:00:00:01 (unsolicited NAs, DAD). */
extern const uint8_t ndp_all_nodes[16];
extern const struct rte_ether_addr ndp_all_nodes_mac;

/* The ICMPv6 checksum of a message (len bytes at msg) between src and dst (pseudo-header
 * included), as it belongs in the message's checksum field (which must hold 0 while summed). */
uint16_t ndp_icmp6_csum(const uint8_t *src, const uint8_t *dst, const uint8_t *msg,
		uint32_t len);

#endif
