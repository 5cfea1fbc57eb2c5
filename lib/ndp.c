/* Neighbour discovery messages (ndp.h): built and read over bytes. */
#include "ndp.h"

#include <string.h>

#include "pkt.h"

#define ETH_HLEN 14
#define IP6_HLEN 40
#define ND_HLEN 24              /* ICMPv6 header, reserved/flags, target */
#define OPT_SLLA 1              /* source link-layer address option */
#define OPT_TLLA 2              /* target link-layer address option */

static const uint8_t all_nodes[16] = { 0xff, 0x02, [15] = 1 };

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

void ndp_solicited_node(const uint8_t addr[16], uint8_t group[16], uint8_t mac[6])
{
	static const uint8_t prefix[13] = { 0xff, 0x02, [11] = 1, [12] = 0xff };
	memcpy(group, prefix, 13);
	memcpy(group + 13, addr + 13, 3);
	mac[0] = mac[1] = 0x33;
	memcpy(mac + 2, group + 12, 4);
}

uint16_t ndp_icmp6_csum(const uint8_t src[16], const uint8_t dst[16], const uint8_t *msg,
		uint32_t len)
{
	uint8_t tail[8] = { (uint8_t)(len >> 24), (uint8_t)(len >> 16), (uint8_t)(len >> 8),
		(uint8_t)len, 0, 0, 0, NDP_IPPROTO_ICMPV6 };
	uint32_t s = pkt_csum_partial(src, 16, 0);
	s = pkt_csum_partial(dst, 16, s);
	s = pkt_csum_partial(tail, 8, s);
	s = pkt_csum_partial(msg, len, s);
	uint16_t c = (uint16_t)~pkt_csum_fold(s);
	return htons(c);
}

static bool is_multicast(const uint8_t a[16])
{
	return a[0] == 0xff;
}

static bool is_unspecified(const uint8_t a[16])
{
	static const uint8_t zero[16];
	return memcmp(a, zero, 16) == 0;
}

/* Ethernet + IPv6 + NS/NA (flags, target) + one link-layer option, checksum filled in. */
static unsigned build(uint8_t *buf, const uint8_t dst_mac[6], const uint8_t src_mac[6],
		const uint8_t src[16], const uint8_t dst[16], uint8_t type, uint8_t flags,
		const uint8_t target[16], uint8_t opt)
{
	uint8_t *ip = buf + ETH_HLEN, *nd = ip + IP6_HLEN;
	uint16_t len = opt ? ND_HLEN + 8 : ND_HLEN;
	memset(buf, 0, ETH_HLEN + IP6_HLEN + len);
	memcpy(buf, dst_mac, 6);
	memcpy(buf + 6, src_mac, 6);
	put16(buf + 12, NDP_ETHERTYPE_IPV6);
	ip[0] = 0x60;
	put16(ip + 4, len);
	ip[6] = NDP_IPPROTO_ICMPV6;
	ip[7] = 255;                    /* neighbour discovery: never from off the link */
	memcpy(ip + 8, src, 16);
	memcpy(ip + 24, dst, 16);
	nd[0] = type;
	nd[4] = flags;
	memcpy(nd + 8, target, 16);
	if (opt) {
		nd[24] = opt;
		nd[25] = 1;             /* in units of 8 bytes */
		memcpy(nd + 26, src_mac, 6);
	}
	uint16_t ck = ndp_icmp6_csum(src, dst, nd, len);
	memcpy(nd + 2, &ck, 2);
	return ETH_HLEN + IP6_HLEN + len;
}

unsigned ndp_build_ns(uint8_t *buf, const uint8_t src_mac[6], const uint8_t src_ip[16],
		const uint8_t target[16], const uint8_t *dst_mac)
{
	uint8_t group[16], mac[6];
	/* from :: (a probe that must not make us known, RFC 4861 7.2.2): no option */
	uint8_t opt = is_unspecified(src_ip) ? 0 : OPT_SLLA;
	if (dst_mac != NULL)
		return build(buf, dst_mac, src_mac, src_ip, target, NDP_TYPE_NS, 0, target, opt);
	ndp_solicited_node(target, group, mac);
	return build(buf, mac, src_mac, src_ip, group, NDP_TYPE_NS, 0, target, opt);
}

unsigned ndp_build_unsolicited_na(uint8_t *buf, const uint8_t mac[6], const uint8_t addr[16])
{
	static const uint8_t all_nodes_mac[6] = { 0x33, 0x33, 0, 0, 0, 1 };
	return build(buf, all_nodes_mac, mac, addr, all_nodes, NDP_TYPE_NA, NDP_NA_OVERRIDE,
			addr, OPT_TLLA);
}

/* The options after the fixed part: every one of non-zero length and within the message; the
 * link-layer address option of kind `want` (an Ethernet one: 8 bytes) into out. */
static int parse_options(const uint8_t *opt, uint32_t len, uint8_t want, struct ndp_msg *out)
{
	while (len > 0) {
		if (len < 2 || opt[1] == 0 || (uint32_t)opt[1] * 8 > len)
			return -1;
		uint32_t olen = (uint32_t)opt[1] * 8;
		if (opt[0] == want && olen == 8) {
			out->has_lladdr = true;
			memcpy(out->lladdr, opt + 2, 6);
		}
		opt += olen;
		len -= olen;
	}
	return 0;
}

int ndp_parse(const uint8_t *frame, uint32_t len, struct ndp_msg *out)
{
	if (len < ETH_HLEN + IP6_HLEN + ND_HLEN || pkt_rd16(frame + 12) != NDP_ETHERTYPE_IPV6)
		return -1;
	const uint8_t *ip = frame + ETH_HLEN, *nd = ip + IP6_HLEN;
	uint32_t plen = pkt_rd16(ip + 4);
	if ((ip[0] >> 4) != 6 || ip[6] != NDP_IPPROTO_ICMPV6 || ip[7] != 255 ||
			plen < ND_HLEN || plen > len - ETH_HLEN - IP6_HLEN)
		return -1;
	if ((nd[0] != NDP_TYPE_NS && nd[0] != NDP_TYPE_NA) || nd[1] != 0)
		return -1;
	/* the sum over the message with its own checksum in it is all ones */
	uint32_t s = pkt_csum_partial(ip + 8, 32, 0);
	uint8_t tail[8] = { (uint8_t)(plen >> 24), (uint8_t)(plen >> 16), (uint8_t)(plen >> 8),
		(uint8_t)plen, 0, 0, 0, NDP_IPPROTO_ICMPV6 };
	s = pkt_csum_partial(tail, 8, s);
	s = pkt_csum_partial(nd, plen, s);
	if (pkt_csum_fold(s) != 0xffff)
		return -1;

	memset(out, 0, sizeof(*out));
	out->type = nd[0];
	out->flags = nd[0] == NDP_TYPE_NA ? nd[4] : 0;
	memcpy(out->src, ip + 8, 16);
	memcpy(out->dst, ip + 24, 16);
	memcpy(out->target, nd + 8, 16);
	/* a multicast address is never a source (RFC 4291 2.7) nor a neighbour */
	if (is_multicast(out->target) || is_multicast(out->src))
		return -1;
	if (parse_options(nd + ND_HLEN, plen - ND_HLEN,
				out->type == NDP_TYPE_NS ? OPT_SLLA : OPT_TLLA, out) != 0)
		return -1;
	if (out->type == NDP_TYPE_NA && is_multicast(out->dst) && (out->flags & NDP_NA_SOLICITED))
		return -1;
	if (out->type == NDP_TYPE_NS && is_unspecified(out->src)) {
		/* duplicate address detection: only to a solicited-node group, no source option */
		if (out->has_lladdr || !(out->dst[0] == 0xff && out->dst[1] == 0x02 &&
					out->dst[11] == 1 && out->dst[12] == 0xff))
			return -1;
	}
	return 0;
}
