/** IPv4 (RFC 791): header view, decode, emit. */
import { rd16, rd32, setAddr4, wr16, wr32 } from './bytes.js';
import { internetChecksum } from './checksum.js';
import { E_BAD_IPV4_LENGTH, E_MALFORMED_FRAGMENT, E_MALFORMED_IPV4, E_TRUNCATED_IPV4 } from './errors.js';
import { fail } from './fail.js';
import type { Packet } from './packet.js';

export const IPV4_MIN_HEADER_LEN = 20;
export const IPV4_VER_IHL = 0;
export const IPV4_TOS = 1;
export const IPV4_TOTAL_LEN = 2;
export const IPV4_ID = 4;
export const IPV4_FLAGS_FRAG = 6;
export const IPV4_TTL = 8;
export const IPV4_PROTO = 9;
export const IPV4_CHECKSUM = 10;
export const IPV4_SRC = 12;
export const IPV4_DST = 16;
export const IPV4_FLAG_DF = 0x4000;
export const IPV4_FLAG_MF = 0x2000;
export const IPV4_FRAG_MASK = 0x1fff;
export const IPV4_MAX_LEN = 65535;
/**
 * A snapped frame (only part of it captured) may run on the wire at most this
 * many bytes past its IP datagram: link padding to the 60-byte Ethernet
 * minimum, an FCS and a short vendor trailer. More, and the claimed wire
 * length does not match the IP length: the frame is refused (bad-ipv4-length,
 * malformed-ipv6), so a bogus original length cannot inflate byte counters.
 * An unsnapped frame may have any amount of trailing bytes, as before.
 */
export const SNAP_TRAILER_MAX = 64;

// ---- accessors ----
export function ipv4Ihl(buf: Uint8Array, off: number): number {
  return buf[off]! & 0x0f;
}
export function ipv4TotalLen(buf: Uint8Array, off: number): number {
  return rd16(buf, off + IPV4_TOTAL_LEN);
}
export function ipv4Src(buf: Uint8Array, off: number): number {
  return rd32(buf, off + IPV4_SRC);
}
export function ipv4Dst(buf: Uint8Array, off: number): number {
  return rd32(buf, off + IPV4_DST);
}

/** Options between off+20 and hdrEnd: EOL/NOP single bytes, others need length >= 2 inside the header. */
function optionsOk(buf: Uint8Array, o: number, hdrEnd: number): boolean {
  while (o < hdrEnd) {
    const kind = buf[o]!;
    if (kind === 0) return true;
    if (kind === 1) {
      o++;
      continue;
    }
    if (o + 2 > hdrEnd) return false;
    const len = buf[o + 1]!;
    if (len < 2 || o + len > hdrEnd) return false;
    o += len;
  }
  return true;
}

/**
 * Decodes the IPv4 header at `off` (the frame ends at `end` on the wire;
 * bytes are captured up to `cap` <= end, default end: a snapped frame).
 * Sets the IP fields, ipEnd (trailing link padding ignored), l4Proto, l4Off,
 * l4Len. The header with its options must be captured; the total length is
 * checked against `end` (and, when snapped, must reach to within
 * SNAP_TRAILER_MAX bytes of it).
 */
export function decodeIpv4(buf: Uint8Array, off: number, end: number, p: Packet, cap = end): number {
  if (off + IPV4_MIN_HEADER_LEN > cap) return fail(p, E_TRUNCATED_IPV4, off);
  const vi = buf[off]!;
  if (vi >> 4 !== 4) return fail(p, E_MALFORMED_IPV4, off);
  const hlen = (vi & 0x0f) << 2;
  if (hlen < IPV4_MIN_HEADER_LEN) return fail(p, E_MALFORMED_IPV4, off);
  if (off + hlen > cap) return fail(p, E_TRUNCATED_IPV4, off);
  p.ipVersion = 4;
  p.ipHeaderLen = hlen;
  p.tos = buf[off + IPV4_TOS]!;
  p.ttl = buf[off + IPV4_TTL]!;
  p.ipId = rd16(buf, off + IPV4_ID);
  p.l4Proto = buf[off + IPV4_PROTO]!;
  setAddr4(p.src, rd32(buf, off + IPV4_SRC));
  setAddr4(p.dst, rd32(buf, off + IPV4_DST));
  if (hlen > IPV4_MIN_HEADER_LEN && !optionsOk(buf, off + IPV4_MIN_HEADER_LEN, off + hlen)) {
    return fail(p, E_MALFORMED_IPV4, off + IPV4_MIN_HEADER_LEN);
  }
  const total = rd16(buf, off + IPV4_TOTAL_LEN);
  if (total < hlen || off + total > end) return fail(p, E_BAD_IPV4_LENGTH, off + IPV4_TOTAL_LEN);
  if (cap < end && end - off - total > SNAP_TRAILER_MAX)
    return fail(p, E_BAD_IPV4_LENGTH, off + IPV4_TOTAL_LEN);
  const ff = rd16(buf, off + IPV4_FLAGS_FRAG);
  const fragOff = (ff & IPV4_FRAG_MASK) << 3;
  p.fragOffset = fragOff;
  p.moreFragments = (ff & IPV4_FLAG_MF) !== 0;
  p.dontFragment = (ff & IPV4_FLAG_DF) !== 0;
  p.isFragment = fragOff !== 0 || p.moreFragments;
  p.ipEnd = off + total;
  p.l4Off = off + hlen;
  p.l4Len = total - hlen;
  if (p.isFragment && (p.l4Len === 0 || fragOff + p.l4Len > IPV4_MAX_LEN - IPV4_MIN_HEADER_LEN)) {
    return fail(p, E_MALFORMED_FRAGMENT, off + IPV4_FLAGS_FRAG);
  }
  return 0;
}

export interface Ipv4Repr {
  /** Addresses as host numbers (a.b.c.d = a<<24 | ...). */
  src: number;
  dst: number;
  proto: number;
  /** Bytes after the header (L4 header + data). */
  payloadLen: number;
  ttl?: number;
  tos?: number;
  id?: number;
  df?: boolean;
  mf?: boolean;
  /** Fragment offset in bytes (multiple of 8). */
  fragOffset?: number;
  /** Raw option bytes; padded with EOL to a multiple of 4. */
  options?: Uint8Array;
}

export function ipv4HeaderLen(r: Ipv4Repr): number {
  return IPV4_MIN_HEADER_LEN + (((r.options?.length ?? 0) + 3) & ~3);
}

/** Writes the IPv4 header (with a correct header checksum) at `off`; returns bytes written. */
export function emitIpv4(buf: Uint8Array, off: number, r: Ipv4Repr): number {
  const hlen = ipv4HeaderLen(r);
  buf[off] = 0x40 | (hlen >> 2);
  buf[off + IPV4_TOS] = r.tos ?? 0;
  wr16(buf, off + IPV4_TOTAL_LEN, hlen + r.payloadLen);
  wr16(buf, off + IPV4_ID, r.id ?? 0);
  const ff =
    (r.df ? IPV4_FLAG_DF : 0) | (r.mf ? IPV4_FLAG_MF : 0) | (((r.fragOffset ?? 0) >> 3) & IPV4_FRAG_MASK);
  wr16(buf, off + IPV4_FLAGS_FRAG, ff);
  buf[off + IPV4_TTL] = r.ttl ?? 64;
  buf[off + IPV4_PROTO] = r.proto;
  wr16(buf, off + IPV4_CHECKSUM, 0);
  wr32(buf, off + IPV4_SRC, r.src);
  wr32(buf, off + IPV4_DST, r.dst);
  const opts = r.options;
  let o = off + IPV4_MIN_HEADER_LEN;
  if (opts) {
    for (let i = 0; i < opts.length; i++) buf[o++] = opts[i]!;
    while (o < off + hlen) buf[o++] = 0;
  }
  fillIpv4Checksum(buf, off);
  return hlen;
}

/** Recomputes and stores the header checksum of the IPv4 header at `off`. */
export function fillIpv4Checksum(buf: Uint8Array, off: number): void {
  wr16(buf, off + IPV4_CHECKSUM, 0);
  wr16(buf, off + IPV4_CHECKSUM, internetChecksum(buf, off, (buf[off]! & 0x0f) << 2));
}
