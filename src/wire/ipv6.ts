/** IPv6 (RFC 8200): header view, extension-header walk, decode, emit. */
import { rd16, rd32, rdAddr6, wr16, wr32, wrAddr6 } from './bytes.js';
import { E_BAD_IPV6_EXT, E_MALFORMED_FRAGMENT, E_MALFORMED_IPV6, E_TRUNCATED_IPV6 } from './errors.js';
import { fail } from './fail.js';
import { SNAP_TRAILER_MAX } from './ipv4.js';
import type { Packet } from './packet.js';

export const IPV6_HEADER_LEN = 40;
export const IPV6_PAYLOAD_LEN = 4;
export const IPV6_NEXT_HEADER = 6;
export const IPV6_HOP_LIMIT = 7;
export const IPV6_SRC = 8;
export const IPV6_DST = 24;
export const IPV6_FRAG_HEADER_LEN = 8;

export const EXT_HOP_BY_HOP = 0;
export const EXT_ROUTING = 43;
export const EXT_FRAGMENT = 44;
export const EXT_ESP = 50;
export const EXT_AH = 51;
export const EXT_NO_NEXT = 59;
export const EXT_DEST_OPTS = 60;
/** More extension headers than this is treated as bogus. */
export const IPV6_MAX_EXT_HEADERS = 8;

export function ipv6PayloadLen(buf: Uint8Array, off: number): number {
  return rd16(buf, off + IPV6_PAYLOAD_LEN);
}
export function ipv6NextHeader(buf: Uint8Array, off: number): number {
  return buf[off + IPV6_NEXT_HEADER]!;
}

/**
 * Decodes the IPv6 header at `off` and walks its extension headers. Sets the
 * IP fields, ipEnd, fragment fields (from a Fragment header), l4Proto, l4Off,
 * l4Len. A non-first fragment stops the walk at the fragment's payload.
 * The frame ends at `end` on the wire; bytes are captured up to `cap` <= end
 * (default end: a snapped frame). Lengths are checked against the wire; the
 * fixed header and every extension header walked must be captured
 * (E_TRUNCATED_IPV6 otherwise); a snapped frame may not run more than
 * SNAP_TRAILER_MAX bytes past the datagram (E_MALFORMED_IPV6).
 */
export function decodeIpv6(buf: Uint8Array, off: number, end: number, p: Packet, cap = end): number {
  if (off + IPV6_HEADER_LEN > cap) return fail(p, E_TRUNCATED_IPV6, off);
  const w0 = rd32(buf, off);
  if (w0 >>> 28 !== 6) return fail(p, E_MALFORMED_IPV6, off);
  p.ipVersion = 6;
  p.ipHeaderLen = IPV6_HEADER_LEN;
  p.tos = (w0 >>> 20) & 0xff;
  p.ttl = buf[off + IPV6_HOP_LIMIT]!;
  rdAddr6(buf, off + IPV6_SRC, p.src);
  rdAddr6(buf, off + IPV6_DST, p.dst);
  const ipEnd = off + IPV6_HEADER_LEN + rd16(buf, off + IPV6_PAYLOAD_LEN);
  if (ipEnd > end) return fail(p, E_MALFORMED_IPV6, off + IPV6_PAYLOAD_LEN);
  p.ipEnd = ipEnd;
  let nh = buf[off + IPV6_NEXT_HEADER]!;
  let o = off + IPV6_HEADER_LEN;
  let count = 0;
  for (;;) {
    let hlen: number;
    if (nh === EXT_HOP_BY_HOP || nh === EXT_ROUTING || nh === EXT_DEST_OPTS || nh === EXT_AH) {
      if (nh === EXT_HOP_BY_HOP && count !== 0) return fail(p, E_BAD_IPV6_EXT, o);
      if (o + 2 > ipEnd) return fail(p, E_BAD_IPV6_EXT, o);
      if (o + 2 > cap) return fail(p, E_TRUNCATED_IPV6, o);
      hlen = nh === EXT_AH ? (buf[o + 1]! + 2) << 2 : (buf[o + 1]! + 1) << 3;
      if (o + hlen > ipEnd) return fail(p, E_BAD_IPV6_EXT, o);
      if (o + hlen > cap) return fail(p, E_TRUNCATED_IPV6, o);
    } else if (nh === EXT_FRAGMENT) {
      if (p.ip6FragOff >= 0) return fail(p, E_BAD_IPV6_EXT, o);
      hlen = IPV6_FRAG_HEADER_LEN;
      if (o + hlen >= ipEnd) return fail(p, E_MALFORMED_FRAGMENT, o);
      if (o + hlen > cap) return fail(p, E_TRUNCATED_IPV6, o);
      const fo = rd16(buf, o + 2);
      p.ip6FragOff = o;
      p.fragOffset = fo & 0xfff8;
      p.moreFragments = (fo & 1) !== 0;
      p.isFragment = true;
      p.ipId = rd32(buf, o + 4);
      if (p.fragOffset + (ipEnd - o - hlen) > 65535) return fail(p, E_MALFORMED_FRAGMENT, o);
      if (p.fragOffset !== 0) {
        nh = buf[o]!;
        o += hlen;
        break;
      }
    } else {
      break;
    }
    if (++count > IPV6_MAX_EXT_HEADERS) return fail(p, E_BAD_IPV6_EXT, o);
    nh = buf[o]!;
    o += hlen;
  }
  if (cap < end && end - ipEnd > SNAP_TRAILER_MAX) return fail(p, E_MALFORMED_IPV6, off + IPV6_PAYLOAD_LEN);
  p.l4Proto = nh;
  p.l4Off = o;
  p.l4Len = ipEnd - o;
  return 0;
}

export interface Ipv6Repr {
  src: Uint32Array;
  dst: Uint32Array;
  /** Next header of the fixed header (first extension header, or the upper layer). */
  nextHeader: number;
  /** Bytes after the fixed header. */
  payloadLen: number;
  hopLimit?: number;
  trafficClass?: number;
  flowLabel?: number;
}

/** Writes the 40-byte fixed header. */
export function emitIpv6(buf: Uint8Array, off: number, r: Ipv6Repr): number {
  wr32(buf, off, ((6 << 28) | ((r.trafficClass ?? 0) << 20) | ((r.flowLabel ?? 0) & 0xfffff)) >>> 0);
  wr16(buf, off + IPV6_PAYLOAD_LEN, r.payloadLen);
  buf[off + IPV6_NEXT_HEADER] = r.nextHeader;
  buf[off + IPV6_HOP_LIMIT] = r.hopLimit ?? 64;
  wrAddr6(buf, off + IPV6_SRC, r.src);
  wrAddr6(buf, off + IPV6_DST, r.dst);
  return IPV6_HEADER_LEN;
}

export interface Ipv6ExtRepr {
  /** 0 hop-by-hop, 43 routing, 60 destination options, 44 fragment, 51 AH. */
  type: number;
  /** For options/routing/AH: body after the 2 leading bytes; padded with zeros to the unit. */
  data?: Uint8Array;
  /** Fragment header fields. */
  fragOffset?: number;
  more?: boolean;
  id?: number;
}

export function ipv6ExtLen(e: Ipv6ExtRepr): number {
  if (e.type === EXT_FRAGMENT) return IPV6_FRAG_HEADER_LEN;
  const body = 2 + (e.data?.length ?? 0);
  return e.type === EXT_AH ? (body + 3) & ~3 : (body + 7) & ~7;
}

/** Writes one extension header whose next header is `next`; returns bytes written. */
export function emitIpv6Ext(buf: Uint8Array, off: number, e: Ipv6ExtRepr, next: number): number {
  const len = ipv6ExtLen(e);
  buf[off] = next;
  if (e.type === EXT_FRAGMENT) {
    buf[off + 1] = 0;
    wr16(buf, off + 2, ((e.fragOffset ?? 0) & 0xfff8) | (e.more ? 1 : 0));
    wr32(buf, off + 4, e.id ?? 0);
    return len;
  }
  buf[off + 1] = e.type === EXT_AH ? (len >> 2) - 2 : (len >> 3) - 1;
  const d = e.data;
  let o = off + 2;
  if (d) for (let i = 0; i < d.length; i++) buf[o++] = d[i]!;
  while (o < off + len) buf[o++] = 0;
  return len;
}
