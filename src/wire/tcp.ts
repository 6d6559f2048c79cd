/** TCP (RFC 9293) header view, options, decode, emit. */
import { rd16, rd32, wr16, wr32 } from './bytes.js';
import { E_BAD_TCP_OPTION, E_MALFORMED_TCP, E_TRUNCATED_TCP } from './errors.js';
import { fail } from './fail.js';
import type { Packet } from './packet.js';

export const TCP_MIN_HEADER_LEN = 20;
export const TCP_SRC_PORT = 0;
export const TCP_DST_PORT = 2;
export const TCP_SEQ = 4;
export const TCP_ACK_NUM = 8;
export const TCP_DATA_OFF = 12;
export const TCP_FLAGS = 13;
export const TCP_WINDOW = 14;
export const TCP_CHECKSUM = 16;
export const TCP_URGENT = 18;

export const TCPOPT_EOL = 0;
export const TCPOPT_NOP = 1;
export const TCPOPT_MSS = 2;
export const TCPOPT_WSCALE = 3;
export const TCPOPT_SACK_PERM = 4;
export const TCPOPT_SACK = 5;
export const TCPOPT_TIMESTAMP = 8;

export function tcpSeq(buf: Uint8Array, off: number): number {
  return rd32(buf, off + TCP_SEQ);
}
export function tcpAck(buf: Uint8Array, off: number): number {
  return rd32(buf, off + TCP_ACK_NUM);
}
export function tcpFlags(buf: Uint8Array, off: number): number {
  return buf[off + TCP_FLAGS]!;
}

/**
 * Walks options in [o, end); known kinds with a wrong length are skipped.
 * Returns 0 or the failing offset + 1. Only [o, cap) was captured (cap <=
 * end; a snapped segment): the walk stops without error at the first option
 * that runs past cap but not past end.
 */
function walkOptions(buf: Uint8Array, o: number, end: number, cap: number, p: Packet): number {
  while (o < cap) {
    const kind = buf[o]!;
    if (kind === TCPOPT_EOL) return 0;
    if (kind === TCPOPT_NOP) {
      o++;
      continue;
    }
    // Past cap (only when snapped: cap < end): an error when also past end, else the end of what was captured.
    if (o + 2 > cap) return o + 2 > end ? o + 1 : 0;
    const len = buf[o + 1]!;
    if (len < 2) return o + 1;
    if (o + len > cap) return o + len > end ? o + 1 : 0;
    if (kind === TCPOPT_MSS && len === 4) p.mss = rd16(buf, o + 2);
    else if (kind === TCPOPT_WSCALE && len === 3) p.wscale = buf[o + 2]!;
    else if (kind === TCPOPT_SACK_PERM && len === 2) p.sackPermitted = true;
    else if (kind === TCPOPT_TIMESTAMP && len === 10) {
      p.hasTimestamps = true;
      p.tsVal = rd32(buf, o + 2);
      p.tsEcr = rd32(buf, o + 6);
    } else if (kind === TCPOPT_SACK && len >= 10 && (len - 2) % 8 === 0) {
      for (let b = o + 2; b < o + len; b += 8) {
        const right = rd32(buf, b + 4);
        if (!p.hasSack || ((right - p.sackMaxRight) | 0) > 0) p.sackMaxRight = right;
        p.hasSack = true;
      }
    }
    o += len;
  }
  return 0;
}

/** TCP bytes a snapped segment must have captured: ports, seq, ack, data offset, flags, window. */
export const TCP_KEY_LEN = 16;

/**
 * Decodes TCP at `off`; the segment ends at `end` (the IP datagram's end).
 * Bytes are captured up to `cap` <= end (default end). In a snapped segment
 * (cap < end) the first TCP_KEY_LEN bytes must be captured; the data offset
 * is checked against `end`; options cut by the snaplen are decoded as far as
 * they are wholly captured and the rest ignored, without error.
 */
export function decodeTcp(buf: Uint8Array, off: number, end: number, p: Packet, cap = end): number {
  if (off + TCP_MIN_HEADER_LEN > cap && (off + TCP_MIN_HEADER_LEN > end || off + TCP_KEY_LEN > cap)) {
    return fail(p, E_TRUNCATED_TCP, off);
  }
  p.srcPort = rd16(buf, off);
  p.dstPort = rd16(buf, off + TCP_DST_PORT);
  p.seq = rd32(buf, off + TCP_SEQ);
  p.ack = rd32(buf, off + TCP_ACK_NUM);
  p.tcpFlags = buf[off + TCP_FLAGS]!;
  p.window = rd16(buf, off + TCP_WINDOW);
  const hlen = (buf[off + TCP_DATA_OFF]! >> 4) << 2;
  if (hlen < TCP_MIN_HEADER_LEN || off + hlen > end) return fail(p, E_MALFORMED_TCP, off + TCP_DATA_OFF);
  p.tcpHeaderLen = hlen;
  if (hlen > TCP_MIN_HEADER_LEN) {
    const hend = off + hlen;
    const bad = walkOptions(buf, off + TCP_MIN_HEADER_LEN, hend, hend < cap ? hend : cap, p);
    if (bad !== 0) return fail(p, E_BAD_TCP_OPTION, bad - 1);
  }
  p.payloadOff = off + hlen;
  p.payloadLen = end - off - hlen;
  return 0;
}

export interface TcpRepr {
  srcPort: number;
  dstPort: number;
  seq?: number;
  ack?: number;
  /** TCP_* flag bits (packet.ts). */
  flags: number;
  window?: number;
  urgent?: number;
  mss?: number;
  wscale?: number;
  sackPermitted?: boolean;
  /** SACK blocks as [left, right] pairs. */
  sack?: ReadonlyArray<readonly [number, number]>;
  timestamps?: readonly [number, number];
}

function optionsLen(r: TcpRepr): number {
  let n = 0;
  if (r.mss !== undefined) n += 4;
  if (r.wscale !== undefined) n += 3;
  if (r.sackPermitted) n += 2;
  if (r.sack && r.sack.length > 0) n += 2 + 8 * r.sack.length;
  if (r.timestamps) n += 10;
  return n;
}

export function tcpHeaderLen(r: TcpRepr): number {
  return TCP_MIN_HEADER_LEN + ((optionsLen(r) + 3) & ~3);
}

/** Writes the TCP header with options (checksum left 0: see fillL4Checksum). */
export function emitTcp(buf: Uint8Array, off: number, r: TcpRepr): number {
  const hlen = tcpHeaderLen(r);
  wr16(buf, off, r.srcPort);
  wr16(buf, off + TCP_DST_PORT, r.dstPort);
  wr32(buf, off + TCP_SEQ, r.seq ?? 0);
  wr32(buf, off + TCP_ACK_NUM, r.ack ?? 0);
  buf[off + TCP_DATA_OFF] = (hlen >> 2) << 4;
  buf[off + TCP_FLAGS] = r.flags;
  wr16(buf, off + TCP_WINDOW, r.window ?? 65535);
  wr16(buf, off + TCP_CHECKSUM, 0);
  wr16(buf, off + TCP_URGENT, r.urgent ?? 0);
  let o = off + TCP_MIN_HEADER_LEN;
  if (r.mss !== undefined) {
    buf[o] = TCPOPT_MSS;
    buf[o + 1] = 4;
    wr16(buf, o + 2, r.mss);
    o += 4;
  }
  if (r.wscale !== undefined) {
    buf[o] = TCPOPT_WSCALE;
    buf[o + 1] = 3;
    buf[o + 2] = r.wscale;
    o += 3;
  }
  if (r.sackPermitted) {
    buf[o] = TCPOPT_SACK_PERM;
    buf[o + 1] = 2;
    o += 2;
  }
  if (r.sack && r.sack.length > 0) {
    buf[o] = TCPOPT_SACK;
    buf[o + 1] = 2 + 8 * r.sack.length;
    o += 2;
    for (const [l, rt] of r.sack) {
      wr32(buf, o, l);
      wr32(buf, o + 4, rt);
      o += 8;
    }
  }
  if (r.timestamps) {
    buf[o] = TCPOPT_TIMESTAMP;
    buf[o + 1] = 10;
    wr32(buf, o + 2, r.timestamps[0]);
    wr32(buf, o + 6, r.timestamps[1]);
    o += 10;
  }
  while (o < off + hlen) buf[o++] = TCPOPT_EOL;
  return hlen;
}
