/**
 * In-place NAT rewrites of a decoded packet with incremental checksum fixes
 * (RFC 1624): IPv4 header checksum, and TCP/UDP/ICMPv6 checksums whose
 * pseudo-header covers the address. No allocation, no re-summing.
 * The Packet's own fields (src, dst, ports, icmpId) are updated too.
 */
import { rd16, rd32, wr16, wr32 } from './bytes.js';
import { csumUpdate16, csumUpdate32, csumUpdateAddr, udpCsumFix } from './checksum.js';
import { PROTO_ICMP, PROTO_ICMPV6, PROTO_TCP, PROTO_UDP, type Packet } from './packet.js';

/**
 * Offset of the L4 checksum that covers the pseudo-header, or -1 (absent,
 * non-first fragment, ICMPv4, header cut, or not captured in a snapped frame).
 */
function pseudoCsumOff(p: Packet): number {
  if (p.fragOffset !== 0) return -1;
  let f: number;
  if (p.l4Proto === PROTO_TCP) f = 16;
  else if (p.l4Proto === PROTO_UDP) f = 6;
  else if (p.l4Proto === PROTO_ICMPV6 && p.ipVersion === 6) f = 2;
  else return -1;
  const lim = p.snapped && p.capEnd < p.ipEnd ? p.capEnd : p.ipEnd;
  return p.l4Off + f + 2 <= lim ? p.l4Off + f : -1;
}

function fixL4(p: Packet, at: number, ck: number): void {
  const b = p.buf;
  const old = rd16(b, at);
  if (p.l4Proto === PROTO_UDP) {
    if (old === 0 && p.ipVersion === 4) return;
    wr16(b, at, udpCsumFix(old, ck));
  } else {
    wr16(b, at, ck);
  }
}

function rewriteAddr(p: Packet, dst: boolean, now: Uint32Array): void {
  const b = p.buf;
  const cur = dst ? p.dst : p.src;
  const at = pseudoCsumOff(p);
  if (p.ipVersion === 4) {
    const o = p.l3Off + (dst ? 16 : 12);
    const old = rd32(b, o);
    const n = now[3]!;
    wr32(b, o, n);
    wr16(b, p.l3Off + 10, csumUpdate32(rd16(b, p.l3Off + 10), old, n));
    if (at >= 0) fixL4(p, at, csumUpdate32(rd16(b, at), old, n));
    cur[3] = n;
    return;
  }
  if (p.ipVersion !== 6) return;
  if (at >= 0) fixL4(p, at, csumUpdateAddr(rd16(b, at), cur, now));
  const o = p.l3Off + (dst ? 24 : 8);
  for (let i = 0; i < 4; i++) {
    wr32(b, o + 4 * i, now[i]!);
    cur[i] = now[i]!;
  }
}

/** Rewrites the source address (IPv4 uses word 3 of `now`). */
export function rewriteSrcAddr(p: Packet, now: Uint32Array): void {
  rewriteAddr(p, false, now);
}

/** Rewrites the destination address (IPv4 uses word 3 of `now`). */
export function rewriteDstAddr(p: Packet, now: Uint32Array): void {
  rewriteAddr(p, true, now);
}

function rewritePort(p: Packet, dst: boolean, port: number): void {
  if (p.fragOffset !== 0 || (p.l4Proto !== PROTO_TCP && p.l4Proto !== PROTO_UDP)) return;
  const b = p.buf;
  const o = p.l4Off + (dst ? 2 : 0);
  const old = rd16(b, o);
  wr16(b, o, port);
  const at = pseudoCsumOff(p);
  if (at >= 0) fixL4(p, at, csumUpdate16(rd16(b, at), old, port));
  if (dst) p.dstPort = port;
  else p.srcPort = port;
}

export function rewriteSrcPort(p: Packet, port: number): void {
  rewritePort(p, false, port);
}

export function rewriteDstPort(p: Packet, port: number): void {
  rewritePort(p, true, port);
}

/** Rewrites the echo identifier of an ICMP/ICMPv6 echo request or reply. */
export function rewriteIcmpId(p: Packet, id: number): void {
  if (p.fragOffset !== 0 || (p.l4Proto !== PROTO_ICMP && p.l4Proto !== PROTO_ICMPV6)) return;
  const b = p.buf;
  const old = rd16(b, p.l4Off + 4);
  wr16(b, p.l4Off + 4, id);
  wr16(b, p.l4Off + 2, csumUpdate16(rd16(b, p.l4Off + 2), old, id));
  p.icmpId = id;
}

/** Decrements the TTL / hop limit in place (IPv4 checksum fixed); returns the new value. */
export function decrementTtl(p: Packet): number {
  const b = p.buf;
  if (p.ipVersion === 4) {
    const o = p.l3Off + 8;
    const oldWord = rd16(b, o);
    b[o] = b[o]! - 1;
    wr16(b, p.l3Off + 10, csumUpdate16(rd16(b, p.l3Off + 10), oldWord, rd16(b, o)));
    p.ttl = b[o]!;
  } else if (p.ipVersion === 6) {
    b[p.l3Off + 7] = b[p.l3Off + 7]! - 1;
    p.ttl = b[p.l3Off + 7]!;
  }
  return p.ttl;
}
