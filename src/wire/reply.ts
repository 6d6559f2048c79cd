/**
 * Replies the device generates about a decoded packet, written in place into
 * a preallocated buffer (no allocation): TCP RST and ICMP/ICMPv6 errors.
 * The link header mirrors the received frame (MACs swapped, VLAN tags kept)
 * when it had an Ethernet header; otherwise the reply starts at the IP header.
 * Each returns the reply's length, or 0 when it does not apply or does not fit.
 */
import { rd16, wr16, wr32, wrAddr6 } from './bytes.js';
import { fillL4Checksum, pseudoSum4, pseudoSum6 } from './checksum.js';
import { IPV4_MIN_HEADER_LEN } from './ipv4.js';
import { IPV6_HEADER_LEN } from './ipv6.js';
import {
  PROTO_ICMP,
  PROTO_ICMPV6,
  PROTO_TCP,
  TCP_ACK,
  TCP_FIN,
  TCP_RST,
  TCP_SYN,
  type Packet,
} from './packet.js';

/** Largest IPv4 ICMP error (RFC 1812 4.3.2.3) and IPv6 one (RFC 4443 2.4(c)). */
export const ICMP4_ERROR_MAX = 576;
export const ICMP6_ERROR_MAX = 1280;

/** Mirrors the link header of `p` into buf[off]; returns its length. */
function mirrorLink(p: Packet, buf: Uint8Array, off: number): number {
  if (p.ethOff < 0) return 0;
  const s = p.buf;
  const e = p.ethOff;
  const n = p.l3Off - e;
  for (let i = 0; i < 6; i++) {
    buf[off + i] = s[e + 6 + i]!;
    buf[off + 6 + i] = s[e + i]!;
  }
  for (let i = 12; i < n; i++) buf[off + i] = s[e + i]!;
  return n;
}

/** Writes an IP header from p's dst (or `from`) back to p's src; returns its length. */
function ipHeader(
  p: Packet,
  buf: Uint8Array,
  o: number,
  proto: number,
  payloadLen: number,
  from: Uint32Array | null,
): number {
  const src = from ?? p.dst;
  if (p.ipVersion === 4) {
    buf[o] = 0x45;
    buf[o + 1] = 0;
    wr16(buf, o + 2, IPV4_MIN_HEADER_LEN + payloadLen);
    wr32(buf, o + 4, 0x4000); // id 0, DF
    buf[o + 8] = 64;
    buf[o + 9] = proto;
    wr16(buf, o + 10, 0);
    wr32(buf, o + 12, src[3]!);
    wr32(buf, o + 16, p.src[3]!);
    let s = 0;
    for (let i = 0; i < 20; i += 2) s += rd16(buf, o + i);
    while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
    wr16(buf, o + 10, ~s & 0xffff);
    return IPV4_MIN_HEADER_LEN;
  }
  wr32(buf, o, 0x60000000);
  wr16(buf, o + 4, payloadLen);
  buf[o + 6] = proto;
  buf[o + 7] = 64;
  wrAddr6(buf, o + 8, src);
  wrAddr6(buf, o + 24, p.src);
  return IPV6_HEADER_LEN;
}

function pseudo(p: Packet, proto: number, len: number, from: Uint32Array | null): number {
  const src = from ?? p.dst;
  return p.ipVersion === 4 ? pseudoSum4(src[3]!, p.src[3]!, proto, len) : pseudoSum6(src, p.src, proto, len);
}

/**
 * TCP RST answering the segment in `p` (RFC 9293 3.10.7.1): with ACK set the
 * reset takes seq = its ack; otherwise seq 0 and ACK = its seq + data (+SYN, +FIN).
 * No reset is sent for a RST.
 */
export function writeTcpReset(p: Packet, buf: Uint8Array, off: number): number {
  if (p.error !== 0 || p.l4Proto !== PROTO_TCP || p.isFragment || p.tcpFlags & TCP_RST) return 0;
  const need = p.l3Off - (p.ethOff < 0 ? p.l3Off : p.ethOff) + (p.ipVersion === 4 ? 20 : 40) + 20;
  if (off + need > buf.length) return 0;
  let o = off + mirrorLink(p, buf, off);
  o += ipHeader(p, buf, o, PROTO_TCP, 20, null);
  const t = o;
  wr16(buf, t, p.dstPort);
  wr16(buf, t + 2, p.srcPort);
  if (p.tcpFlags & TCP_ACK) {
    wr32(buf, t + 4, p.ack);
    wr32(buf, t + 8, 0);
    buf[t + 13] = TCP_RST;
  } else {
    const len = p.payloadLen + (p.tcpFlags & TCP_SYN ? 1 : 0) + (p.tcpFlags & TCP_FIN ? 1 : 0);
    wr32(buf, t + 4, 0);
    wr32(buf, t + 8, (p.seq + len) >>> 0);
    buf[t + 13] = TCP_RST | TCP_ACK;
  }
  buf[t + 12] = 0x50;
  wr16(buf, t + 14, 0);
  wr16(buf, t + 18, 0);
  fillL4Checksum(buf, t, 20, PROTO_TCP, pseudo(p, PROTO_TCP, 20, null));
  return t + 20 - off;
}

/**
 * ICMP (IPv4) or ICMPv6 error about `p`, from `from` (the device's address;
 * null: p's destination), quoting as much of p's datagram as the size limit
 * allows (and, for a snapped frame, as was captured). `rest` fills bytes 4..7 (MTU for frag-needed / packet-too-big).
 */
export function writeIcmpError(
  p: Packet,
  buf: Uint8Array,
  off: number,
  type: number,
  code: number,
  rest: number,
  from: Uint32Array | null,
): number {
  if (p.ipVersion === 0 || (p.error !== 0 && p.ipEnd === 0)) return 0;
  const v4 = p.ipVersion === 4;
  const ipLen = v4 ? 20 : 40;
  const max = (v4 ? ICMP4_ERROR_MAX : ICMP6_ERROR_MAX) - ipLen - 8;
  let qEnd = p.ipEnd > 0 ? p.ipEnd : p.end;
  // A snapped frame: quote only the captured bytes (the quote's lengths stay as on the wire).
  if (p.snapped && qEnd > p.capEnd) qEnd = p.capEnd;
  const avail = qEnd - p.l3Off;
  const quote = avail < max ? avail : max;
  const link = p.ethOff < 0 ? 0 : p.l3Off - p.ethOff;
  if (off + link + ipLen + 8 + quote > buf.length) return 0;
  const proto = v4 ? PROTO_ICMP : PROTO_ICMPV6;
  let o = off + mirrorLink(p, buf, off);
  o += ipHeader(p, buf, o, proto, 8 + quote, from);
  const ic = o;
  buf[ic] = type;
  buf[ic + 1] = code;
  wr16(buf, ic + 2, 0);
  wr32(buf, ic + 4, rest);
  const src = p.buf;
  for (let i = 0; i < quote; i++) buf[ic + 8 + i] = src[p.l3Off + i]!;
  fillL4Checksum(buf, ic, 8 + quote, proto, v4 ? 0 : pseudo(p, proto, 8 + quote, from));
  return ic + 8 + quote - off;
}
