#include "ndp.h"

#include <string.h>
#include <netinet/in.h>

#include <rte_byteorder.h>

#include "frame.h"

#define ND_HOP_LIMIT 255        /* RFC 4861: anything else was forwarded, so is not for us */
#define NA_SOLICITED 0x40
#define NA_OVERRIDE 0x20
#define OPT_TLLA 2              /* target link-layer address */

const uint8_t ndp_all_nodes[16] = { 0xff, 0x02, [15] = 0x01 };
const struct rte_ether_addr ndp_all_nodes_mac = {
	.addr_bytes = { 0x33, 0x33, 0x00, 0x00, 0x00, 0x01 } };

uint16_t ndp_icmp6_csum(const uint8_t *src, const uint8_t *dst, const uint8_t *msg,
		uint32_t len)
{
	uint32_t len_be = rte_cpu_to_be_32(len), nh_be = rte_cpu_to_be_32(IPPROTO_ICMPV6);
	uint32_t sum = 0;

	sum = gen_sum(src, 16, sum);
	sum = gen_sum(dst, 16, sum);
	sum = gen_sum(&len_be, 4, sum);
	sum = gen_sum(&nh_be, 4, sum);
	sum = gen_sum(msg, len, sum);
	return (uint16_t)~gen_fold(sum);
}

bool ndp_is_nd(const uint8_t *ip6, uint32_t len)
{
	const uint8_t *icmp = ip6 + 40;

	return len >= 40 + 24 && ip6[6] == IPPROTO_ICMPV6 && ip6[7] == ND_HOP_LIMIT &&
			(icmp[0] == NDP_NS || icmp[0] == NDP_NA) && icmp[1] == 0;
}

bool ndp_parse_ns(const uint8_t *frame, uint32_t len, uint32_t l3, struct ndp_ns *ns)
{
	const uint8_t *ip = frame + l3;
	const uint8_t *icmp = ip + 40;
	uint32_t plen;

	if (l3 < RTE_ETHER_HDR_LEN || len < l3 + 40 || !ndp_is_nd(ip, len - l3) ||
			icmp[0] != NDP_NS)
		return false;
	plen = (uint32_t)(ip[4] << 8 | ip[5]);
	/* the frame may be padded, never short of the payload length */
	if (plen < 24 || l3 + 40 + plen > len)
		return false;
	if (ndp_icmp6_csum(ip + 8, ip + 24, icmp, plen) != 0)
		return false;   /* (summed with its own checksum in place: 0 when right) */
	memcpy(ns->src, ip + 8, 16);
	memcpy(ns->target, icmp + 8, 16);
	memcpy(&ns->eth_src, frame + 6, RTE_ETHER_ADDR_LEN);
	/* a multicast target is no neighbour's address (RFC 4861 7.1.1) */
	return ns->target[0] != 0xff;
}

size_t ndp_build_na(uint8_t *buf, const struct rte_ether_addr *eth_dst,
		const struct rte_ether_addr *mac, int vlan, const uint8_t *ip_src,
		const uint8_t *ip_dst, bool solicited)
{
	size_t l3 = frame_eth(buf, eth_dst, mac, vlan, RTE_ETHER_TYPE_IPV6);
	uint8_t *ip = buf + l3, *icmp = ip + 40;
	uint16_t csum;

	memset(ip, 0, NDP_NA_LEN);
	ip[0] = 0x60;
	ip[5] = NDP_NA_LEN - 40;
	ip[6] = IPPROTO_ICMPV6;
	ip[7] = ND_HOP_LIMIT;
	memcpy(ip + 8, ip_src, 16);
	memcpy(ip + 24, ip_dst, 16);
	icmp[0] = NDP_NA;
	icmp[4] = (uint8_t)((solicited ? NA_SOLICITED : 0) | NA_OVERRIDE);
	memcpy(icmp + 8, ip_src, 16);   /* the target: the address answered for */
	icmp[24] = OPT_TLLA;
	icmp[25] = 1;                   /* in units of 8 bytes */
	memcpy(icmp + 26, mac, RTE_ETHER_ADDR_LEN);
	csum = ndp_icmp6_csum(ip + 8, ip + 24, icmp, NDP_NA_LEN - 40);
	memcpy(icmp + 2, &csum, 2);
	return l3 + NDP_NA_LEN;
}
