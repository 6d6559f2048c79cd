/**
 * Session records: the body of a T_SESSIONS message is `count` of these, back
 * to back. Each carries everything a peer needs to forward the session
 * itself: zone and protocol, both tuples (so NAT sessions are complete), the
 * session flags, egress ports, the aux word (lb: (virtual server << 16) |
 * real), the remaining lifetime (never an absolute time: clocks differ), the
 * owner and a version, and for TCP the tracker's 12 words (both directions'
 * window state, state, last-packet record).
 *
 *   0  op (1 insert, 2 update, 3 delete)      1  record flags (RF_V6, RF_TCP)
 *   2  record length (bytes, this header included)
 *   4  (zone << 8) | protocol                 8  original ports word
 *  12  reply ports word                      16  version (u64)
 *  24  owner node id                         28  session flags
 *  29  state (non-TCP)                       30  egress port original   31  egress port reply
 *  32  aux                                   36  remaining lifetime (ms, u32)
 *  40  addresses: original src, dst, reply src, dst (4 bytes each, 16 with RF_V6)
 *  ..  with RF_TCP: 12 words of TCP state
 *
 * Records are written into and read from reused objects; nothing allocates.
 */
import { rd16, rd32, wr16, wr32 } from '../wire/bytes.js';

/** A u64 as two big-endian words; v is an integer below 2^53. */
export function wr64(b: Uint8Array, o: number, v: number): void {
  wr32(b, o, Math.floor(v / 4294967296));
  wr32(b, o + 4, v >>> 0);
}

export function rd64(b: Uint8Array, o: number): number {
  return rd32(b, o) * 4294967296 + rd32(b, o + 4);
}

export const OP_INSERT = 1;
export const OP_UPDATE = 2;
export const OP_DELETE = 3;
export const OP_NAMES = ['', 'insert', 'update', 'delete'] as const;

export const RF_V6 = 1;
export const RF_TCP = 2;
export const REC_FIXED = 40;
export const TCP_STATE_WORDS = 12;
const PROTO_TCP = 6;

/** Byte length of a record with these record flags. */
export function recordLenOf(rflags: number): number {
  return REC_FIXED + ((rflags & RF_V6) !== 0 ? 64 : 16) + ((rflags & RF_TCP) !== 0 ? TCP_STATE_WORDS * 4 : 0);
}

/** One session record (reused). Addresses are 4 words each (IPv4-mapped for IPv4). */
export class SessionRecord {
  op = 0;
  zoneProto = 0;
  origPorts = 0;
  replyPorts = 0;
  /** Orders the owner's changes to a session (an older version never overwrites a newer one). */
  version = 0;
  owner = 0;
  flags = 0;
  state = 0;
  portOrig = 0;
  portReply = 0;
  aux = 0;
  lifetimeMs = 0;
  /** Addresses travel as 16 bytes (some address is not IPv4-mapped). */
  v6 = false;
  /** The TCP words are present (TCP insert/update). */
  hasTcp = false;
  readonly oSrc = new Uint32Array(4);
  readonly oDst = new Uint32Array(4);
  readonly rSrc = new Uint32Array(4);
  readonly rDst = new Uint32Array(4);
  readonly tcp = new Uint32Array(TCP_STATE_WORDS);

  rflags(): number {
    return (this.v6 ? RF_V6 : 0) | (this.hasTcp ? RF_TCP : 0);
  }
  byteLength(): number {
    return recordLenOf(this.rflags());
  }
}

function mapped(a: Uint32Array): boolean {
  return a[0] === 0 && a[1] === 0 && a[2] === 0xffff;
}

/** Sets rec.v6 from its addresses and rec.hasTcp from its op and protocol. */
export function settleRecord(rec: SessionRecord): void {
  rec.v6 = !(mapped(rec.oSrc) && mapped(rec.oDst) && mapped(rec.rSrc) && mapped(rec.rDst));
  rec.hasTcp = rec.op !== OP_DELETE && (rec.zoneProto & 0xff) === PROTO_TCP;
}

function wrAddr(b: Uint8Array, o: number, a: Uint32Array, v6: boolean): number {
  if (!v6) {
    wr32(b, o, a[3]!);
    return o + 4;
  }
  wr32(b, o, a[0]!);
  wr32(b, o + 4, a[1]!);
  wr32(b, o + 8, a[2]!);
  wr32(b, o + 12, a[3]!);
  return o + 16;
}

function rdAddr(b: Uint8Array, o: number, a: Uint32Array, v6: boolean): number {
  if (!v6) {
    a[0] = 0;
    a[1] = 0;
    a[2] = 0xffff;
    a[3] = rd32(b, o);
    return o + 4;
  }
  a[0] = rd32(b, o);
  a[1] = rd32(b, o + 4);
  a[2] = rd32(b, o + 8);
  a[3] = rd32(b, o + 12);
  return o + 16;
}

/** Writes `rec` at `off` (settleRecord first; the caller checks room). Returns the offset after it. */
export function encodeRecord(b: Uint8Array, off: number, rec: SessionRecord): number {
  const rf = rec.rflags();
  const len = recordLenOf(rf);
  b[off] = rec.op;
  b[off + 1] = rf;
  wr16(b, off + 2, len);
  wr32(b, off + 4, rec.zoneProto);
  wr32(b, off + 8, rec.origPorts);
  wr32(b, off + 12, rec.replyPorts);
  wr64(b, off + 16, rec.version);
  wr32(b, off + 24, rec.owner);
  b[off + 28] = rec.flags;
  b[off + 29] = rec.state;
  b[off + 30] = rec.portOrig;
  b[off + 31] = rec.portReply;
  wr32(b, off + 32, rec.aux);
  wr32(b, off + 36, rec.lifetimeMs > 0xffffffff ? 0xffffffff : rec.lifetimeMs);
  let o = off + REC_FIXED;
  o = wrAddr(b, o, rec.oSrc, rec.v6);
  o = wrAddr(b, o, rec.oDst, rec.v6);
  o = wrAddr(b, o, rec.rSrc, rec.v6);
  o = wrAddr(b, o, rec.rDst, rec.v6);
  if (rec.hasTcp) {
    const t = rec.tcp;
    for (let i = 0; i < TCP_STATE_WORDS; i++, o += 4) wr32(b, o, t[i]!);
  }
  return o;
}

/** Reads the record at `off` into `rec` (the body was checked by checkRecords). Returns the offset after it. */
export function decodeRecord(b: Uint8Array, off: number, rec: SessionRecord): number {
  const rf = b[off + 1]!;
  rec.op = b[off]!;
  rec.v6 = (rf & RF_V6) !== 0;
  rec.hasTcp = (rf & RF_TCP) !== 0;
  rec.zoneProto = rd32(b, off + 4);
  rec.origPorts = rd32(b, off + 8);
  rec.replyPorts = rd32(b, off + 12);
  rec.version = rd64(b, off + 16);
  rec.owner = rd32(b, off + 24);
  rec.flags = b[off + 28]!;
  rec.state = b[off + 29]!;
  rec.portOrig = b[off + 30]!;
  rec.portReply = b[off + 31]!;
  rec.aux = rd32(b, off + 32);
  rec.lifetimeMs = rd32(b, off + 36);
  let o = off + REC_FIXED;
  o = rdAddr(b, o, rec.oSrc, rec.v6);
  o = rdAddr(b, o, rec.oDst, rec.v6);
  o = rdAddr(b, o, rec.rSrc, rec.v6);
  o = rdAddr(b, o, rec.rDst, rec.v6);
  if (rec.hasTcp) {
    const t = rec.tcp;
    for (let i = 0; i < TCP_STATE_WORDS; i++, o += 4) t[i] = rd32(b, o);
  } else rec.tcp.fill(0);
  return o;
}

/**
 * Checks that b[off, off + len) is exactly `count` well-formed records:
 * known op, known record flags, TCP words only on a TCP insert/update, the
 * length the flags call for. Returns 0 or ME_BAD_RECORD (8).
 */
export function checkRecords(b: Uint8Array, off: number, len: number, count: number): number {
  const end = off + len;
  let o = off;
  for (let i = 0; i < count; i++) {
    if (o + REC_FIXED > end) return 8;
    const op = b[o]!;
    const rf = b[o + 1]!;
    if (op < OP_INSERT || op > OP_DELETE || (rf & ~(RF_V6 | RF_TCP)) !== 0) return 8;
    const isTcp = (b[o + 7]! & 0xff) === PROTO_TCP;
    if ((rf & RF_TCP) !== 0 && (!isTcp || op === OP_DELETE)) return 8;
    if ((rf & RF_TCP) === 0 && isTcp && op !== OP_DELETE) return 8;
    const rl = rd16(b, o + 2);
    if (rl !== recordLenOf(rf) || o + rl > end) return 8;
    o += rl;
  }
  return o === end ? 0 : 8;
}

/** Appends records to a body buffer of MAX_BODY bytes (a T_SESSIONS message's body). */
export class BodyWriter {
  readonly buf: Uint8Array;
  len = 0;
  count = 0;
  constructor(capacity: number) {
    this.buf = new Uint8Array(capacity);
  }
  /** Adds the (settled) record; false when it does not fit (nothing written). */
  add(rec: SessionRecord): boolean {
    if (this.len + rec.byteLength() > this.buf.length || this.count === 0xffff) return false;
    this.len = encodeRecord(this.buf, this.len, rec);
    this.count++;
    return true;
  }
  reset(): void {
    this.len = 0;
    this.count = 0;
  }
}
