/**
 * Internet checksum (RFC 1071), pseudo-header sums, verification of decoded
 * packets, and incremental updates (RFC 1624, eqn. 3: HC' = ~(~HC + ~m + m')).
 *
 * Sums are plain JS numbers (exact up to 2^53), folded to 16 bits only at the end.
 */
import { rd16 } from './bytes.js';
import { PROTO_GRE, PROTO_ICMP, PROTO_ICMPV6, PROTO_TCP, PROTO_UDP, type Packet } from './packet.js';

/** One's-complement sum of bytes [off, off+len) added to `acc` (unfolded). An odd last byte is padded with 0. */
export function onesSum(buf: Uint8Array, off: number, len: number, acc = 0): number {
  let s = acc;
  const end = off + (len & ~1);
  let i = off;
  for (; i + 8 <= end; i += 8) {
    s += ((buf[i]! << 8) | buf[i + 1]!) + ((buf[i + 2]! << 8) | buf[i + 3]!);
    s += ((buf[i + 4]! << 8) | buf[i + 5]!) + ((buf[i + 6]! << 8) | buf[i + 7]!);
  }
  for (; i < end; i += 2) s += (buf[i]! << 8) | buf[i + 1]!;
  if (len & 1) s += buf[end]! << 8;
  return s;
}

/** Folds a sum to 16 bits with end-around carry. */
export function fold(s: number): number {
  // Below 2^32 the carry is s >>> 16 (integer only); a division is ~20 cycles.
  while (s > 0xffff) s = (s & 0xffff) + (s <= 0xffffffff ? s >>> 16 : Math.floor(s / 0x10000));
  return s;
}

/**
 * fold() of a sum below 2^21 (an incremental update's: at most 17 terms of
 * 16 bits): two end-around carries always suffice, with no loop or division.
 */
function foldSmall(s: number): number {
  s = (s & 0xffff) + (s >>> 16);
  return (s & 0xffff) + (s >>> 16);
}

/** The checksum field value for a sum: ~fold(sum) & 0xffff. */
export function finish(s: number): number {
  return ~fold(s) & 0xffff;
}

/** Full Internet checksum of a byte range, with an optional initial sum (e.g. a pseudo-header). */
export function internetChecksum(buf: Uint8Array, off: number, len: number, init = 0): number {
  return finish(onesSum(buf, off, len, init));
}

function wordSum(w: number): number {
  return (w >>> 16) + (w & 0xffff);
}

/** IPv4 pseudo-header sum (addresses as host numbers). */
export function pseudoSum4(src: number, dst: number, proto: number, len: number): number {
  return wordSum(src) + wordSum(dst) + proto + len;
}

/** IPv6 pseudo-header sum (RFC 8200 §8.1); addresses as 4 words. */
export function pseudoSum6(src: Uint32Array, dst: Uint32Array, proto: number, len: number): number {
  let s = proto + wordSum(len);
  for (let i = 0; i < 4; i++) s += wordSum(src[i]!) + wordSum(dst[i]!);
  return s;
}

/** Pseudo-header sum for the decoded packet's upper layer, over `len` bytes. */
export function pseudoSum(p: Packet, proto: number, len: number): number {
  return p.ipVersion === 4
    ? pseudoSum4(p.src[3]!, p.dst[3]!, proto, len)
    : pseudoSum6(p.src, p.dst, proto, len);
}

/** True when the decoded IPv4 header's checksum is right (true for non-IPv4). */
export function ipv4HeaderChecksumOk(p: Packet): boolean {
  if (p.ipVersion !== 4) return true;
  return fold(onesSum(p.buf, p.l3Off, p.ipHeaderLen)) === 0xffff;
}

/**
 * True when the upper-layer checksum of a decoded packet is right, or cannot
 * be checked (fragments, unknown protocols, a UDP/IPv4 zero checksum, GRE
 * without C, a snapped frame whose datagram was not wholly captured).
 */
export function l4ChecksumOk(p: Packet): boolean {
  if (p.isFragment || p.error !== 0) return true;
  if (p.snapped && p.ipEnd > p.capEnd) return true;
  const proto = p.l4Proto;
  const b = p.buf;
  const len = p.l4Len;
  switch (proto) {
    case PROTO_TCP:
      return fold(onesSum(b, p.l4Off, len, pseudoSum(p, proto, len))) === 0xffff;
    case PROTO_UDP: {
      const ck = rd16(b, p.l4Off + 6);
      if (ck === 0) return p.ipVersion === 4;
      const ulen = rd16(b, p.l4Off + 4);
      return fold(onesSum(b, p.l4Off, ulen, pseudoSum(p, proto, ulen))) === 0xffff;
    }
    case PROTO_ICMP:
      return p.ipVersion !== 4 || fold(onesSum(b, p.l4Off, len)) === 0xffff;
    case PROTO_ICMPV6:
      return p.ipVersion !== 6 || fold(onesSum(b, p.l4Off, len, pseudoSum(p, proto, len))) === 0xffff;
    case PROTO_GRE:
      return !p.greHasChecksum || fold(onesSum(b, p.l4Off, len)) === 0xffff;
    default:
      return true;
  }
}

// ---- incremental update (RFC 1624 eqn. 3) ----

/** New checksum after a 16-bit word of the covered data changes from `old` to `now`. */
export function csumUpdate16(hc: number, old: number, now: number): number {
  return ~foldSmall((~hc & 0xffff) + (~old & 0xffff) + (now & 0xffff)) & 0xffff;
}

/** New checksum after a 32-bit value (two aligned words) changes. */
export function csumUpdate32(hc: number, old: number, now: number): number {
  const s = (~hc & 0xffff) + (~old >>> 16) + (~old & 0xffff) + (now >>> 16) + (now & 0xffff);
  return ~foldSmall(s) & 0xffff;
}

/** New checksum after a 4-word address changes (IPv6, or the word[3] of IPv4-mapped words). */
export function csumUpdateAddr(hc: number, old: Uint32Array, now: Uint32Array): number {
  let s = ~hc & 0xffff;
  for (let i = 0; i < 4; i++) {
    const o = old[i]!;
    const n = now[i]!;
    s += (~o >>> 16) + (~o & 0xffff) + (n >>> 16) + (n & 0xffff);
  }
  return ~foldSmall(s) & 0xffff;
}

/**
 * UDP flavour of an update: a 0 checksum (none, IPv4) stays 0; a computed 0
 * is sent as 0xffff (RFC 768).
 */
export function udpCsumFix(hcOld: number, hcNew: number): number {
  if (hcOld === 0) return 0;
  return hcNew === 0 ? 0xffff : hcNew;
}

// ---- filling checksums of built / rewritten packets ----

/** Offset of the checksum field inside the upper-layer header, -1 when it has none. */
export function l4ChecksumField(proto: number): number {
  switch (proto) {
    case PROTO_TCP:
      return 16;
    case PROTO_UDP:
      return 6;
    case PROTO_ICMP:
    case PROTO_ICMPV6:
      return 2;
    case PROTO_GRE:
      return 4;
    default:
      return -1;
  }
}

/**
 * Computes and stores the upper-layer checksum over buf[off, off+len) with
 * the pseudo-header sum `pseudo` (0 for ICMPv4 and GRE). GRE only when its C bit is set.
 */
export function fillL4Checksum(
  buf: Uint8Array,
  off: number,
  len: number,
  proto: number,
  pseudo: number,
): void {
  const f = l4ChecksumField(proto);
  if (f < 0 || (proto === PROTO_GRE && (buf[off]! & 0x80) === 0)) return;
  buf[off + f] = 0;
  buf[off + f + 1] = 0;
  let ck = internetChecksum(buf, off, len, pseudo);
  if (proto === PROTO_UDP && ck === 0) ck = 0xffff;
  buf[off + f] = ck >>> 8;
  buf[off + f + 1] = ck;
}

/**
 * Recomputes the IPv4 header checksum and the upper-layer checksum of a
 * decoded, unfragmented packet (the latter not for a snapped frame whose
 * datagram was not wholly captured: the bytes to sum are missing).
 */
export function fillChecksums(p: Packet): void {
  const b = p.buf;
  if (p.ipVersion === 4) {
    b[p.l3Off + 10] = 0;
    b[p.l3Off + 11] = 0;
    const ck = internetChecksum(b, p.l3Off, p.ipHeaderLen);
    b[p.l3Off + 10] = ck >>> 8;
    b[p.l3Off + 11] = ck;
  }
  if (p.isFragment || p.ipVersion === 0) return;
  if (p.snapped && p.ipEnd > p.capEnd) return;
  const proto = p.l4Proto;
  const len = proto === PROTO_UDP ? rd16(b, p.l4Off + 4) : p.l4Len;
  const pseudo =
    proto === PROTO_TCP || proto === PROTO_UDP || proto === PROTO_ICMPV6 ? pseudoSum(p, proto, len) : 0;
  if (proto === PROTO_ICMP && p.ipVersion !== 4) return;
  fillL4Checksum(b, p.l4Off, len, proto, pseudo);
}
