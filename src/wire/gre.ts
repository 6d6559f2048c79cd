/** GRE (RFC 2784, key and sequence number from RFC 2890): header view, decode, emit. */
import { rd16, rd32, wr16, wr32 } from './bytes.js';
import { E_MALFORMED_GRE, E_TRUNCATED_GRE } from './errors.js';
import { fail } from './fail.js';
import type { Packet } from './packet.js';

export const GRE_MIN_HEADER_LEN = 4;
export const GRE_FLAGS = 0;
export const GRE_PROTO = 2;
export const GRE_FLAG_C = 0x8000;
export const GRE_FLAG_K = 0x2000;
export const GRE_FLAG_S = 0x1000;
/** Everything in the first word except C, K, S: reserved0 (incl. RFC 1701 R, s, recursion) and version. */
export const GRE_RESERVED_MASK = 0x4fff;
/** GRE protocol type for transparent Ethernet bridging (an Ethernet frame inside). */
export const GRE_PROTO_TEB = 0x6558;

/**
 * Decodes the GRE header at `off` (packet ends at `end`). The payload is not
 * decoded: see decodeIp. Bytes are captured up to `cap` <= end (default end;
 * less in a snapped frame): the whole header must be captured
 * (E_TRUNCATED_GRE), its length is checked against `end`.
 */
export function decodeGre(buf: Uint8Array, off: number, end: number, p: Packet, cap = end): number {
  if (off + GRE_MIN_HEADER_LEN > cap) return fail(p, E_TRUNCATED_GRE, off);
  const flags = rd16(buf, off);
  p.greOff = off;
  p.greFlags = flags;
  p.greProto = rd16(buf, off + GRE_PROTO);
  if ((flags & GRE_RESERVED_MASK) !== 0) return fail(p, E_MALFORMED_GRE, off);
  let o = off + GRE_MIN_HEADER_LEN;
  const len =
    GRE_MIN_HEADER_LEN +
    (flags & GRE_FLAG_C ? 4 : 0) +
    (flags & GRE_FLAG_K ? 4 : 0) +
    (flags & GRE_FLAG_S ? 4 : 0);
  if (off + len > end) return fail(p, E_MALFORMED_GRE, o);
  if (off + len > cap) return fail(p, E_TRUNCATED_GRE, o);
  if (flags & GRE_FLAG_C) {
    p.greHasChecksum = true;
    o += 4;
  }
  if (flags & GRE_FLAG_K) {
    p.greHasKey = true;
    p.greKey = rd32(buf, o);
    o += 4;
  }
  if (flags & GRE_FLAG_S) {
    p.greHasSeq = true;
    p.greSeq = rd32(buf, o);
    o += 4;
  }
  p.grePayloadOff = o;
  p.payloadOff = o;
  p.payloadLen = end - o;
  return 0;
}

export interface GreRepr {
  /** EtherType of the payload (0x0800, 0x86dd, 0x6558). */
  proto: number;
  checksum?: boolean;
  key?: number;
  seq?: number;
}

export function greHeaderLen(r: GreRepr): number {
  return 4 + (r.checksum ? 4 : 0) + (r.key !== undefined ? 4 : 0) + (r.seq !== undefined ? 4 : 0);
}

/** Writes the GRE header. With `checksum`, the checksum word is left 0 (see fillL4Checksum / fillGreChecksum). */
export function emitGre(buf: Uint8Array, off: number, r: GreRepr): number {
  const flags =
    (r.checksum ? GRE_FLAG_C : 0) |
    (r.key !== undefined ? GRE_FLAG_K : 0) |
    (r.seq !== undefined ? GRE_FLAG_S : 0);
  wr16(buf, off, flags);
  wr16(buf, off + GRE_PROTO, r.proto);
  let o = off + 4;
  if (r.checksum) {
    wr32(buf, o, 0);
    o += 4;
  }
  if (r.key !== undefined) {
    wr32(buf, o, r.key);
    o += 4;
  }
  if (r.seq !== undefined) {
    wr32(buf, o, r.seq);
    o += 4;
  }
  return o - off;
}
