/**
 * The session table: what SessionIndex (table-index.ts) stores, seen as
 * sessions: per-session fields, insert, remove and the eviction choice. The
 * block layout is in table-layout.ts. Nothing here allocates per packet.
 */
import { hashTuple, hashTuple4, isV4Mapped } from './hash.js';
import { SessionIndex } from './table-index.js';
import {
  EMPTY,
  ENTRY,
  F_ASSURED,
  F_EXPIRES,
  F_USED,
  F_V6,
  slotOf,
  STRIDE,
  W_ADDR,
  W_AUX,
  W_BYTES,
  W_FLAGS,
  W_PKTS,
  W_PORTS,
  W_SERIAL,
  W_ZP,
} from './table-layout.js';

export {
  DIR_ORIG,
  DIR_REPLY,
  EXPIRES_OFFSET,
  EXPIRES_STRIDE,
  F_ASSURED,
  F_DNAT,
  F_PEER,
  F_SEEN_REPLY,
  F_SNAT,
  F_USED,
  F_V6,
  STRIDE,
  W_ADDR,
  W_FLAGS,
  W_PORTS,
} from './table-layout.js';

/** How many index slots an eviction looks at from the new tuple's home slot (conntrack: 8 buckets). */
const EVICT_PROBE = 8;

export class SessionTable extends SessionIndex {
  /** Head of the list of freed ids (linked through W_AUX), -1 when none: then highWater is next. */
  private freeHead = -1;
  private nextSerial = 1;

  /**
   * Ids are handed out lowest first (freed ones before new ones), so a lightly
   * used table stays compact; blocks are not written before use, so their
   * pages cost nothing until then.
   */
  constructor(capacity: number) {
    super(capacity);
  }

  // ---- per-session fields ----
  zoneProto(id: number): number {
    return this.w[id * STRIDE + W_ZP]!;
  }
  flags(id: number): number {
    return this.w[id * STRIDE + W_FLAGS]! & 0xff;
  }
  setFlags(id: number, f: number): void {
    const i = id * STRIDE + W_FLAGS;
    this.w[i] = ((this.w[i]! & 0xffffff00) | f) >>> 0;
  }
  /** Protocol state for non-TCP sessions (TCP keeps its own). */
  state(id: number): number {
    return (this.w[id * STRIDE + W_FLAGS]! >>> 8) & 0xff;
  }
  setState(id: number, st: number): void {
    const i = id * STRIDE + W_FLAGS;
    this.w[i] = ((this.w[i]! & 0xffff00ff) | (st << 8)) >>> 0;
  }
  /** Egress port of direction `dir` (entry = (id << 1) | dir). */
  port(entry: number): number {
    return (this.w[(entry >> 1) * STRIDE + W_FLAGS]! >>> (16 + (entry & 1) * 8)) & 0xff;
  }
  setPorts(id: number, orig: number, reply: number): void {
    const i = id * STRIDE + W_FLAGS;
    this.w[i] = ((this.w[i]! & 0xffff) | (orig << 16) | (reply << 24)) >>> 0;
  }
  /** (srcPort << 16) | dstPort of direction `dir`. */
  ports(id: number, dir: number): number {
    return this.w[id * STRIDE + W_PORTS + dir]!;
  }
  expires(id: number): number {
    return this.f64[id * (STRIDE / 2) + F_EXPIRES]!;
  }
  setExpires(id: number, ms: number): void {
    this.f64[id * (STRIDE / 2) + F_EXPIRES] = ms;
  }
  serial(id: number): number {
    return this.w[id * STRIDE + W_SERIAL]!;
  }
  pkts(id: number, dir: number): number {
    return this.w[id * STRIDE + W_PKTS + dir]!;
  }
  bytes(id: number, dir: number): number {
    return this.w[id * STRIDE + W_BYTES + dir]!;
  }
  /** Counts one packet of `len` bytes in direction entry & 1. */
  count1(entry: number, len: number): void {
    const b = (entry >> 1) * STRIDE + (entry & 1);
    const w = this.w;
    w[b + W_PKTS] = w[b + W_PKTS]! + 1;
    w[b + W_BYTES] = w[b + W_BYTES]! + len;
  }
  aux(id: number): number {
    return this.w[id * STRIDE + W_AUX]!;
  }
  setAux(id: number, v: number): void {
    this.w[id * STRIDE + W_AUX] = v;
  }

  /**
   * Inserts a session with its original and reply tuples. Returns the new id,
   * or -1 when the table is full (the caller may evict and retry), or -2 when
   * either tuple is already present.
   */
  insert(
    zoneProto: number,
    oSrc: Uint32Array,
    oDst: Uint32Array,
    oPorts: number,
    rSrc: Uint32Array,
    rDst: Uint32Array,
    rPorts: number,
    nowMs: number,
  ): number {
    if (this.freeHead < 0 && this.highWater >= this.capacity) return -1;
    if (this.lookup(zoneProto, oSrc, oDst, oPorts) >= 0) return -2;
    if (this.lookup(zoneProto, rSrc, rDst, rPorts) >= 0) return -2;
    if ((this.count + 1) * 2 * 4 > this.slots * 3 && this.slots < this.maxSlots) this.grow();
    const w = this.w;
    let id = this.freeHead;
    if (id >= 0) {
      const next = w[id * STRIDE + W_AUX]!;
      this.freeHead = next === 0xffffffff ? -1 : next;
    } else id = this.highWater++;
    const b = id * STRIDE;
    const v4 = isV4Mapped(oSrc, 0) && isV4Mapped(oDst, 0) && isV4Mapped(rSrc, 0) && isV4Mapped(rDst, 0);
    w.fill(0, b, b + STRIDE);
    w[b + W_ZP] = zoneProto;
    w[b + W_FLAGS] = v4 ? F_USED : F_USED | F_V6;
    w[b + W_PORTS] = oPorts;
    w[b + W_PORTS + 1] = rPorts;
    this.f64[id * (STRIDE / 2) + F_EXPIRES] = nowMs;
    w[b + W_SERIAL] = this.nextSerial++;
    if (this.nextSerial > 0xffffffff) this.nextSerial = 1;
    w[b + W_AUX] = 0xffff;
    const a = b + W_ADDR;
    if (v4) {
      w[a] = oSrc[3]!;
      w[a + 1] = oDst[3]!;
      w[a + 2] = rSrc[3]!;
      w[a + 3] = rDst[3]!;
    } else {
      const slot = this.v6Alloc();
      w[a] = slot;
      const s6 = slot * 16;
      this.v6.set(oSrc.subarray(0, 4), s6);
      this.v6.set(oDst.subarray(0, 4), s6 + 4);
      this.v6.set(rSrc.subarray(0, 4), s6 + 8);
      this.v6.set(rDst.subarray(0, 4), s6 + 12);
    }
    this.place(id << 1);
    this.place((id << 1) | 1);
    this.count++;
    return id;
  }

  /** Removes a session; its id returns to the free list. */
  remove(id: number): void {
    const b = id * STRIDE;
    const f = this.w[b + W_FLAGS]!;
    if ((f & F_USED) === 0) return;
    this.unplace(id << 1);
    this.unplace((id << 1) | 1);
    if (f & F_V6) this.v6Free[this.v6Top++] = this.w[b + W_ADDR]!;
    this.w[b + W_FLAGS] = 0;
    this.w[b + W_AUX] = this.freeHead < 0 ? 0xffffffff : this.freeHead;
    this.freeHead = id;
    this.count--;
  }

  isUsed(id: number): boolean {
    return (this.w[id * STRIDE + W_FLAGS]! & F_USED) !== 0;
  }

  /**
   * A session near the tuple's home slot that is not assured, to be evicted
   * when the table is full (conntrack's early drop), or -1.
   */
  evictionCandidate(zoneProto: number, src: Uint32Array, dst: Uint32Array, ports: number): number {
    const v4 = isV4Mapped(src, 0) && isV4Mapped(dst, 0);
    const h = v4
      ? hashTuple4(zoneProto, src[3]!, dst[3]!, ports)
      : hashTuple(zoneProto, src, 0, dst, 0, ports);
    let i = slotOf(h, this.slots);
    let seen = 0;
    for (let k = 0; k < this.slots && seen < EVICT_PROBE; k++) {
      const e = this.index[i]!;
      if (e !== EMPTY) {
        seen++;
        const id = (e & ENTRY) >> 1;
        if ((this.w[id * STRIDE + W_FLAGS]! & F_ASSURED) === 0) return id;
      }
      i = i + 1 === this.slots ? 0 : i + 1;
    }
    return -1;
  }
}
