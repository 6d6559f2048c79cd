/**
 * Router helpers over a decoded Packet: which packets a router may forward,
 * about which it may send ICMP errors (RFC 1812 4.3.2.7, RFC 4443 2.4(e)),
 * the ICMP error rate limit (a token bucket on the device clock, as Linux's
 * icmp_msgs_per_sec / icmp_msgs_burst), echo replies and the in-place
 * Ethernet rewrite. No allocation.
 */
import { isV4Mapped, wr16, wr32, wrAddr6 } from '../wire/bytes.js';
import { fillL4Checksum, pseudoSum6 } from '../wire/checksum.js';
import { isIcmpError } from '../wire/icmp.js';
import { PROTO_ICMP, PROTO_ICMPV6, type Packet } from '../wire/packet.js';

/** Token bucket on the device clock: `rate` tokens a second, at most `burst`. */
export class TokenBucket {
  private tokens: number;
  private last = -Infinity;

  constructor(
    readonly rate: number,
    readonly burst: number,
  ) {
    this.tokens = burst;
  }

  take(nowMs: number): boolean {
    if (nowMs > this.last) {
      if (this.last !== -Infinity)
        this.tokens = Math.min(this.burst, this.tokens + ((nowMs - this.last) * this.rate) / 1000);
      this.last = nowMs;
    }
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}

/** IPv4 source / destination no router forwards or answers: 0/8, 127/8, 224/4 and above. */
export function v4Martian(a: number): boolean {
  const b = a >>> 24;
  return b === 0 || b === 127 || b >= 224;
}

function linkMulticast(p: Packet): boolean {
  return p.ethOff >= 0 && (p.buf[p.ethOff]! & 1) === 1;
}

export function v6Unspecified(a: Uint32Array): boolean {
  return a[0] === 0 && a[1] === 0 && a[2] === 0 && a[3] === 0;
}

export function v6LinkLocal(a: Uint32Array): boolean {
  return a[0]! >>> 22 === 0x3fa;
}

/** True when a router may forward p: unicast, routable source and destination, not link-scoped. */
export function forwardable(p: Packet): boolean {
  if (linkMulticast(p)) return false;
  if (p.ipVersion === 4) return !v4Martian(p.src[3]!) && !v4Martian(p.dst[3]!);
  const s = p.src;
  const d = p.dst;
  if (d[0]! >>> 24 === 0xff || s[0]! >>> 24 === 0xff || v6LinkLocal(d) || v6LinkLocal(s)) return false;
  if (v6Unspecified(s) || v6Unspecified(d) || isV4Mapped(s) || isV4Mapped(d)) return false;
  return (
    !(s[0] === 0 && s[1] === 0 && s[2] === 0 && s[3] === 1) &&
    !(d[0] === 0 && d[1] === 0 && d[2] === 0 && d[3] === 1)
  );
}

/**
 * RFC 1812 4.3.2.7 / RFC 4443 2.4(e): may an ICMP error be sent about p? Not
 * about an ICMP error, a non-first fragment, a link-layer or IP multicast /
 * broadcast (IPv6 Packet Too Big excepted: `tooBig`), or an invalid source.
 */
export function icmpErrorAllowed(p: Packet, tooBig = false): boolean {
  if (p.ipVersion === 0 || p.fragOffset !== 0) return false;
  const cap = p.capEnd < p.ipEnd ? p.capEnd : p.ipEnd;
  if (p.l4Off < cap) {
    const t = p.buf[p.l4Off]!;
    if (p.ipVersion === 4 && p.l4Proto === PROTO_ICMP && isIcmpError(t)) return false;
    if (p.ipVersion === 6 && p.l4Proto === PROTO_ICMPV6 && t < 128) return false;
  }
  if (p.ipVersion === 4) return !linkMulticast(p) && !v4Martian(p.src[3]!) && p.dst[3]! >>> 28 < 14;
  const s = p.src;
  if (v6Unspecified(s) || s[0]! >>> 24 === 0xff) return false;
  return tooBig || (!linkMulticast(p) && p.dst[0]! >>> 24 !== 0xff);
}

/**
 * Echo reply to the echo request p (ICMP 8 / ICMPv6 128) from p's destination:
 * link header mirrored, a fresh IP header (no options / extension headers),
 * the request's identifier, sequence and data. Returns the length, 0 when it
 * does not apply (not an echo request, a fragment, not wholly captured) or does not fit.
 */
export function writeEchoReply(p: Packet, buf: Uint8Array, off: number): number {
  const v4 = p.ipVersion === 4;
  if (p.error !== 0 || p.isFragment || (p.snapped && p.ipEnd > p.capEnd)) return 0;
  if (!(v4 ? p.l4Proto === PROTO_ICMP && p.icmpType === 8 : p.l4Proto === PROTO_ICMPV6 && p.icmpType === 128))
    return 0;
  const link = p.ethOff < 0 ? 0 : p.l3Off - p.ethOff;
  const ipLen = v4 ? 20 : 40;
  const len = p.l4Len;
  if (off + link + ipLen + len > buf.length || len < 8) return 0;
  const s = p.buf;
  if (link > 0) {
    for (let i = 0; i < 6; i++) {
      buf[off + i] = s[p.ethOff + 6 + i]!;
      buf[off + 6 + i] = s[p.ethOff + i]!;
    }
    for (let i = 12; i < link; i++) buf[off + i] = s[p.ethOff + i]!;
  }
  const o = off + link;
  if (v4) {
    buf[o] = 0x45;
    buf[o + 1] = p.tos;
    wr16(buf, o + 2, 20 + len);
    wr32(buf, o + 4, 0x4000);
    buf[o + 8] = 64;
    buf[o + 9] = PROTO_ICMP;
    wr16(buf, o + 10, 0);
    wr32(buf, o + 12, p.dst[3]!);
    wr32(buf, o + 16, p.src[3]!);
    fillIpv4Header(buf, o);
  } else {
    wr32(buf, o, 0x60000000);
    wr16(buf, o + 4, len);
    buf[o + 6] = PROTO_ICMPV6;
    buf[o + 7] = 64;
    wrAddr6(buf, o + 8, p.dst);
    wrAddr6(buf, o + 24, p.src);
  }
  const ic = o + ipLen;
  for (let i = 0; i < len; i++) buf[ic + i] = s[p.l4Off + i]!;
  buf[ic] = v4 ? 0 : 129;
  buf[ic + 1] = 0;
  const proto = v4 ? PROTO_ICMP : PROTO_ICMPV6;
  fillL4Checksum(buf, ic, len, proto, v4 ? 0 : pseudoSum6(p.dst, p.src, proto, len));
  return ic + len - off;
}

function fillIpv4Header(buf: Uint8Array, o: number): void {
  let s = 0;
  for (let i = 0; i < 20; i += 2) s += (buf[o + i]! << 8) | buf[o + i + 1]!;
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  wr16(buf, o + 10, ~s & 0xffff);
}

/** Sets the Ethernet source and destination MACs of p's frame in place. */
export function rewriteEthernet(
  p: Packet,
  src: Uint8Array,
  srcOff: number,
  dst: Uint8Array,
  dstOff: number,
): void {
  const b = p.buf;
  const e = p.ethOff;
  if (e < 0) return;
  for (let i = 0; i < 6; i++) {
    b[e + i] = dst[dstOff + i]!;
    b[e + 6 + i] = src[srcOff + i]!;
  }
}
