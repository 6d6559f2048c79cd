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
import { rd16, rd32, wr32 } from '../wire/bytes.js';

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

/** A DataView over exactly the bytes of `b` (offsets into it are offsets into `b`). */
export function viewOf(b: Uint8Array): DataView {
  return new DataView(b.buffer, b.byteOffset, b.byteLength);
}

function wrAddr(v: DataView, o: number, a: Uint32Array, v6: boolean): number {
  if (!v6) {
    v.setUint32(o, a[3]!);
    return o + 4;
  }
  v.setUint32(o, a[0]!);
  v.setUint32(o + 4, a[1]!);
  v.setUint32(o + 8, a[2]!);
  v.setUint32(o + 12, a[3]!);
  return o + 16;
}

function rdAddr(v: DataView, o: number, a: Uint32Array, v6: boolean): number {
  if (!v6) {
    a[0] = 0;
    a[1] = 0;
    a[2] = 0xffff;
    a[3] = v.getUint32(o);
    return o + 4;
  }
  a[0] = v.getUint32(o);
  a[1] = v.getUint32(o + 4);
  a[2] = v.getUint32(o + 8);
  a[3] = v.getUint32(o + 12);
  return o + 16;
}

/*
 * Encoding and decoding go through a DataView: its accessors compile to plain
 * loads and stores, so 32-bit values never cross a call boundary (where V8
 * would box those above 2^31) and nothing is allocated per record.
 */

/** Writes `rec` at `off` of the view (settleRecord first; the caller checks room). Returns the offset after it. */
export function encodeRecord(v: DataView, off: number, rec: SessionRecord): number {
  const rf = rec.rflags();
  v.setUint8(off, rec.op);
  v.setUint8(off + 1, rf);
  v.setUint16(off + 2, recordLenOf(rf));
  v.setUint32(off + 4, rec.zoneProto);
  v.setUint32(off + 8, rec.origPorts);
  v.setUint32(off + 12, rec.replyPorts);
  v.setUint32(off + 16, Math.floor(rec.version / 4294967296));
  v.setUint32(off + 20, rec.version >>> 0);
  v.setUint32(off + 24, rec.owner);
  v.setUint8(off + 28, rec.flags);
  v.setUint8(off + 29, rec.state);
  v.setUint8(off + 30, rec.portOrig);
  v.setUint8(off + 31, rec.portReply);
  v.setUint32(off + 32, rec.aux);
  v.setUint32(off + 36, rec.lifetimeMs > 0xffffffff ? 0xffffffff : rec.lifetimeMs);
  let o = off + REC_FIXED;
  o = wrAddr(v, o, rec.oSrc, rec.v6);
  o = wrAddr(v, o, rec.oDst, rec.v6);
  o = wrAddr(v, o, rec.rSrc, rec.v6);
  o = wrAddr(v, o, rec.rDst, rec.v6);
  if (rec.hasTcp) {
    const t = rec.tcp;
    for (let i = 0; i < TCP_STATE_WORDS; i++, o += 4) v.setUint32(o, t[i]!);
  }
  return o;
}

/** Reads the record at `off` of the view into `rec` (checked by checkRecords). Returns the offset after it. */
export function decodeRecord(v: DataView, off: number, rec: SessionRecord): number {
  const rf = v.getUint8(off + 1);
  rec.op = v.getUint8(off);
  rec.v6 = (rf & RF_V6) !== 0;
  rec.hasTcp = (rf & RF_TCP) !== 0;
  rec.zoneProto = v.getUint32(off + 4);
  rec.origPorts = v.getUint32(off + 8);
  rec.replyPorts = v.getUint32(off + 12);
  rec.version = v.getUint32(off + 16) * 4294967296 + v.getUint32(off + 20);
  rec.owner = v.getUint32(off + 24);
  rec.flags = v.getUint8(off + 28);
  rec.state = v.getUint8(off + 29);
  rec.portOrig = v.getUint8(off + 30);
  rec.portReply = v.getUint8(off + 31);
  rec.aux = v.getUint32(off + 32);
  rec.lifetimeMs = v.getUint32(off + 36);
  let o = off + REC_FIXED;
  o = rdAddr(v, o, rec.oSrc, rec.v6);
  o = rdAddr(v, o, rec.oDst, rec.v6);
  o = rdAddr(v, o, rec.rSrc, rec.v6);
  o = rdAddr(v, o, rec.rDst, rec.v6);
  if (rec.hasTcp) {
    const t = rec.tcp;
    for (let i = 0; i < TCP_STATE_WORDS; i++, o += 4) t[i] = v.getUint32(o);
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
  readonly view: DataView;
  len = 0;
  count = 0;
  constructor(capacity: number) {
    this.buf = new Uint8Array(capacity);
    this.view = viewOf(this.buf);
  }
  /** Adds the (settled) record; false when it does not fit (nothing written). */
  add(rec: SessionRecord): boolean {
    if (this.len + rec.byteLength() > this.buf.length || this.count === 0xffff) return false;
    this.len = encodeRecord(this.view, this.len, rec);
    this.count++;
    return true;
  }
  reset(): void {
    this.len = 0;
    this.count = 0;
  }
}
