/**
 * Header work for IP reassembly: the first-fragment header checks (RFC 1858,
 * RFC 7112) and the fix-ups of the reassembled IPv4 / IPv6 header.
 */
import { FRAG_MALFORMED, FRAG_TINY } from './reassembly-codes.js';

const PROTO_ICMP = 1;
const PROTO_TCP = 6;
const PROTO_UDP = 17;
const PROTO_GRE = 47;
const PROTO_ESP = 50;
const PROTO_AH = 51;
const PROTO_ICMPV6 = 58;
const PROTO_SCTP = 132;
const IP6_FRAGMENT = 44;

/** IPv6 extension headers that may follow the Fragment header in the fragmentable part. */
function isIpv6ExtHeader(nh: number): boolean {
  return nh === 0 || nh === 43 || nh === 60 || nh === PROTO_AH || nh === 135 || nh === 139 || nh === 140;
}

/** Length of the IPv6 extension header at p (AH counts 4-byte units, the others 8-byte units). */
function ipv6ExtLen(buf: Uint8Array, p: number, nh: number): number {
  return nh === PROTO_AH ? (buf[p + 1] + 2) * 4 : (buf[p + 1] + 1) * 8;
}

/**
 * Does the first fragment (payload buf[p, end)) hold the whole upper-layer
 * header? `proto` is the IPv4 protocol or the Fragment header's next header;
 * for IPv6 the extension headers of the fragmentable part are walked first
 * (RFC 7112: the whole header chain must be in the first fragment).
 * Returns 0, FRAG_TINY or FRAG_MALFORMED (a nested Fragment header).
 */
export function checkFirstFragment(
  buf: Uint8Array,
  proto: number,
  ipv6: boolean,
  p: number,
  end: number,
): number {
  let nh = proto;
  if (ipv6) {
    while (isIpv6ExtHeader(nh)) {
      if (p + 2 > end) return FRAG_TINY;
      const hl = ipv6ExtLen(buf, p, nh);
      nh = buf[p];
      p += hl;
      if (p > end) return FRAG_TINY;
    }
    if (nh === IP6_FRAGMENT) return FRAG_MALFORMED;
  }
  const avail = end - p;
  switch (nh) {
    case PROTO_TCP:
      // The fixed header, then the options too (data offset), so flags and ports cannot be split off.
      return avail >= 20 && avail >= (buf[p + 12] >>> 4) * 4 ? 0 : FRAG_TINY;
    case PROTO_UDP:
    case PROTO_ICMP:
    case PROTO_ICMPV6:
    case PROTO_ESP:
      return avail >= 8 ? 0 : FRAG_TINY;
    case PROTO_SCTP:
      return avail >= 12 ? 0 : FRAG_TINY;
    case PROTO_GRE:
      return avail >= 4 ? 0 : FRAG_TINY;
    default:
      return 0;
  }
}

/** The Internet checksum of an IPv4 header (checksum field taken as it is). */
export function ipv4HeaderChecksum(b: Uint8Array, off: number, len: number): number {
  let s = 0;
  for (let i = 0; i < len; i += 2) s += (b[off + i] << 8) | b[off + i + 1];
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  return ~s & 0xffff;
}

/**
 * Make the IPv4 header at d[l3] that of the whole datagram: total length,
 * MF and fragment offset cleared (DF and the reserved bit kept as the first
 * fragment had them), header checksum recomputed.
 */
export function finishIpv4(d: Uint8Array, l3: number, ihl: number, payloadLen: number): void {
  const tl = ihl + payloadLen;
  d[l3 + 2] = tl >>> 8;
  d[l3 + 3] = tl & 0xff;
  d[l3 + 6] &= 0xc0;
  d[l3 + 7] = 0;
  d[l3 + 10] = 0;
  d[l3 + 11] = 0;
  const c = ipv4HeaderChecksum(d, l3, ihl);
  d[l3 + 10] = c >>> 8;
  d[l3 + 11] = c & 0xff;
}

/**
 * The Fragment header that was at d[fh] has been removed (the fragmentable
 * part now starts at d[fh]): point the header before it at `nextHeader` and
 * set the payload length. False when the header chain does not lead to fh.
 */
export function finishIpv6(
  d: Uint8Array,
  l3: number,
  fh: number,
  nextHeader: number,
  fragmentableLen: number,
): boolean {
  let nhPos = l3 + 6;
  let p = l3 + 40;
  while (p < fh) {
    const nh = d[nhPos];
    if (!isIpv6ExtHeader(nh)) return false;
    const hl = ipv6ExtLen(d, p, nh);
    nhPos = p;
    p += hl;
  }
  if (p !== fh) return false;
  d[nhPos] = nextHeader;
  const pl = fh - l3 - 40 + fragmentableLen;
  d[l3 + 4] = pl >>> 8;
  d[l3 + 5] = pl & 0xff;
  return true;
}
