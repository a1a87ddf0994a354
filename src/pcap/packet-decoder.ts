/**
 * Finds the UDP datagram in a captured frame: the link layer (Ethernet with any number of
 * 802.1Q / 802.1ad / QinQ tags, Linux cooked SLL and SLL2, raw IP, BSD loopback/null), then
 * IPv4 or IPv6 (walking the IPv6 extension headers), then UDP. It never guesses: a frame whose
 * IP or UDP lengths disagree is MALFORMED, one cut by the snapshot length is TRUNCATED, a UDP
 * fragment (IPv4 MF or offset, IPv6 fragment header that is not atomic) is FRAGMENT — not
 * reassembled; the caller counts and skips them all. IPv6 jumbograms (UDP length 0) are
 * MALFORMED; ESP-encrypted payloads are NOT_UDP.
 */

export const LinkType = {
  NULL: 0,
  ETHERNET: 1,
  RAW_12: 12,
  RAW_14: 14,
  RAW: 101,
  LOOP: 108,
  LINUX_SLL: 113,
  IPV4: 228,
  IPV6: 229,
  LINUX_SLL2: 276,
} as const;

const SUPPORTED = new Set<number>(Object.values(LinkType));

export function isSupportedLinkType(linkType: number): boolean {
  return SUPPORTED.has(linkType);
}

export const Decoded = {
  UDP: 0,
  NOT_IP: 1,
  NOT_UDP: 2,
  FRAGMENT: 3,
  TRUNCATED: 4,
  MALFORMED: 5,
  UNSUPPORTED_LINK: 6,
} as const;
export type Decoded = (typeof Decoded)[keyof typeof Decoded];

/** Where the datagram's parts are in the frame's buffer (absolute offsets). */
export interface UdpView {
  family: 4 | 6;
  srcAddrOffset: number;
  dstAddrOffset: number;
  srcPort: number;
  dstPort: number;
  payloadOffset: number;
  payloadLength: number;
}

export function newUdpView(): UdpView {
  return { family: 4, srcAddrOffset: 0, dstAddrOffset: 0, srcPort: 0, dstPort: 0, payloadOffset: 0, payloadLength: 0 };
}

const ETH_IPV4 = 0x0800;
const ETH_IPV6 = 0x86dd;
const VLAN_TAGS = new Set([0x8100, 0x88a8, 0x9100, 0x9200]);
const MAX_VLAN_TAGS = 8;
const IPPROTO_UDP = 17;

/** Decodes the frame at buf[off, off+len) of link type `linkType` into `out`. */
export function decodeUdp(linkType: number, buf: Buffer, off: number, len: number, out: UdpView): Decoded {
  const end = off + len;
  switch (linkType) {
    case LinkType.ETHERNET:
      if (len < 14) return Decoded.TRUNCATED;
      return byEtherType(buf, off + 12, end, out);
    case LinkType.LINUX_SLL:
      if (len < 16) return Decoded.TRUNCATED;
      return byEtherType(buf, off + 14, end, out);
    case LinkType.LINUX_SLL2:
      if (len < 20) return Decoded.TRUNCATED;
      return byEtherType(buf, off, end, out, off + 20);
    case LinkType.RAW:
    case LinkType.RAW_12:
    case LinkType.RAW_14:
      return byVersion(buf, off, end, out);
    case LinkType.IPV4:
      return ipv4(buf, off, end, out);
    case LinkType.IPV6:
      return ipv6(buf, off, end, out);
    case LinkType.NULL:
    case LinkType.LOOP: {
      if (len < 4) return Decoded.TRUNCATED;
      // the address family in the capturing host's byte order (NULL) or network order (LOOP)
      let family = buf.readUInt32LE(off);
      if ((family & 0xffff) === 0) family = buf.readUInt32BE(off);
      if (family === 2) return ipv4(buf, off + 4, end, out);
      if (family === 10 || family === 24 || family === 28 || family === 30) return ipv6(buf, off + 4, end, out);
      return Decoded.NOT_IP;
    }
    default:
      return Decoded.UNSUPPORTED_LINK;
  }
}

/**
 * The EtherType at `typeAt`, then the network header at `payload` (default: just after the
 * type), skipping VLAN tags (each 4 bytes: TCI, then the next EtherType).
 */
function byEtherType(buf: Buffer, typeAt: number, end: number, out: UdpView, payload = typeAt + 2): Decoded {
  let type = buf.readUInt16BE(typeAt);
  let at = payload;
  for (let tags = 0; VLAN_TAGS.has(type); tags++) {
    if (tags === MAX_VLAN_TAGS) return Decoded.MALFORMED;
    if (at + 4 > end) return Decoded.TRUNCATED;
    type = buf.readUInt16BE(at + 2);
    at += 4;
  }
  if (type === ETH_IPV4) return ipv4(buf, at, end, out);
  if (type === ETH_IPV6) return ipv6(buf, at, end, out);
  return Decoded.NOT_IP;
}

function byVersion(buf: Buffer, at: number, end: number, out: UdpView): Decoded {
  if (at >= end) return Decoded.TRUNCATED;
  const v = buf[at]! >> 4;
  if (v === 4) return ipv4(buf, at, end, out);
  if (v === 6) return ipv6(buf, at, end, out);
  return Decoded.NOT_IP;
}

function ipv4(buf: Buffer, at: number, end: number, out: UdpView): Decoded {
  if (at + 20 > end) return Decoded.TRUNCATED;
  const vihl = buf[at]!;
  if (vihl >> 4 !== 4) return Decoded.MALFORMED;
  const ihl = (vihl & 0x0f) * 4;
  const total = buf.readUInt16BE(at + 2);
  if (ihl < 20 || total < ihl) return Decoded.MALFORMED;
  if (buf[at + 9] !== IPPROTO_UDP) return Decoded.NOT_UDP;
  const frag = buf.readUInt16BE(at + 6);
  if ((frag & 0x2000) !== 0 || (frag & 0x1fff) !== 0) return Decoded.FRAGMENT;
  if (at + ihl > end) return Decoded.TRUNCATED;
  out.family = 4;
  out.srcAddrOffset = at + 12;
  out.dstAddrOffset = at + 16;
  return udp(buf, at + ihl, at + total, end, out);
}

function ipv6(buf: Buffer, at: number, end: number, out: UdpView): Decoded {
  if (at + 40 > end) return Decoded.TRUNCATED;
  if (buf[at]! >> 4 !== 6) return Decoded.MALFORMED;
  const payloadLength = buf.readUInt16BE(at + 4);
  if (payloadLength === 0) return Decoded.MALFORMED; // jumbogram (or nothing): refused
  const ipEnd = at + 40 + payloadLength;
  out.family = 6;
  out.srcAddrOffset = at + 8;
  out.dstAddrOffset = at + 24;
  let next = buf[at + 6]!;
  let h = at + 40;
  for (;;) {
    switch (next) {
      case IPPROTO_UDP:
        return udp(buf, h, ipEnd, end, out);
      case 0: // hop-by-hop options
      case 43: // routing
      case 60: // destination options
      case 135: // mobility
      case 139: // HIP
      case 140: // shim6
        if (h + 8 > ipEnd) return Decoded.MALFORMED;
        if (h + 8 > end) return Decoded.TRUNCATED;
        next = buf[h]!;
        h += (buf[h + 1]! + 1) * 8;
        break;
      case 51: // authentication header: length in 4-byte units, minus 2
        if (h + 8 > ipEnd) return Decoded.MALFORMED;
        if (h + 8 > end) return Decoded.TRUNCATED;
        next = buf[h]!;
        h += (buf[h + 1]! + 2) * 4;
        break;
      case 44: {
        if (h + 8 > ipEnd) return Decoded.MALFORMED;
        if (h + 8 > end) return Decoded.TRUNCATED;
        const fo = buf.readUInt16BE(h + 2);
        // an atomic fragment (offset 0, no more fragments) is the whole packet
        if ((fo & 0xfff8) !== 0 || (fo & 1) !== 0) return buf[h] === IPPROTO_UDP ? Decoded.FRAGMENT : Decoded.NOT_UDP;
        next = buf[h]!;
        h += 8;
        break;
      }
      default: // ESP (50), no next header (59), TCP, ICMPv6, ...
        return Decoded.NOT_UDP;
    }
    if (h > ipEnd) return Decoded.MALFORMED;
  }
}

/** UDP at `at`; the IP packet says it ends at ipEnd; the capture holds bytes up to `end`. */
function udp(buf: Buffer, at: number, ipEnd: number, end: number, out: UdpView): Decoded {
  if (at + 8 > ipEnd) return Decoded.MALFORMED;
  if (at + 8 > end) return Decoded.TRUNCATED;
  const udpLength = buf.readUInt16BE(at + 4);
  if (udpLength < 8 || at + udpLength > ipEnd) return Decoded.MALFORMED;
  if (at + udpLength > end) return Decoded.TRUNCATED;
  out.srcPort = buf.readUInt16BE(at);
  out.dstPort = buf.readUInt16BE(at + 2);
  out.payloadOffset = at + 8;
  out.payloadLength = udpLength - 8;
  return Decoded.UDP;
}
