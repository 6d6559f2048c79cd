/**
 * The session table: one 64-byte block of words per session (key, flags,
 * egress ports, counters, expiry and serial side by side, so a packet touches
 * one cache line of it), and one open-addressing index (linear probing,
 * backward-shift deletion) holding two entries per session, one for the
 * original tuple and one for the reply tuple (which differs from the reversed
 * original when NAT rewrote it).
 *
 * An index entry is (id << 1) | dir. IPv4 sessions keep their four addresses
 * inline (one word each); IPv6 sessions keep them in a growable side slab, so
 * an IPv4 session costs no IPv6-sized key. Nothing here allocates per packet.
 */
import { hashTuple, hashTuple4, isV4Mapped } from './hash.js';

export const DIR_ORIG = 0;
export const DIR_REPLY = 1;

/** Session flags (the `flags` array). */
export const F_USED = 1;
export const F_V6 = 2;
export const F_SEEN_REPLY = 4;
export const F_ASSURED = 8;
export const F_DNAT = 16;
export const F_SNAT = 32;
/** Synced from a peer that owns it (src/ha): this node holds a copy and does not send its changes. */
export const F_PEER = 64;

const EMPTY = -1;
/** How many index slots an eviction looks at from the new tuple's home slot (conntrack: 8 buckets). */
const EVICT_PROBE = 8;

/** Words of a session's block (stride 16 words = 64 bytes). */
export const STRIDE = 16;
const W_ZP = 0; // (zone << 8) | protocol
const W_FLAGS = 1; // flags | state << 8 | egress port orig << 16 | egress port reply << 24
const W_PORTS = 2; // + dir: (srcPort << 16) | dstPort
export const W_ADDR = 4; // + dir * 2 + which (0 src, 1 dst): IPv4 address, or [4] = IPv6 slab slot
const W_PKTS = 8; // + dir
const W_BYTES = 10; // + dir (wraps at 2^32 like a u32 counter)
const F_EXPIRES = 6; // Float64 index within the block's 8 doubles (words 12-13)
const W_SERIAL = 14;
/** Where the expiry time is in `f64`: f64[id * EXPIRES_STRIDE + EXPIRES_OFFSET]. */
export const EXPIRES_STRIDE = STRIDE / 2;
export const EXPIRES_OFFSET = F_EXPIRES;
const W_AUX = 15; // feature data (lb: the real server), or the free-list link of a free block

export class SessionTable {
  readonly capacity: number;
  count = 0;
  /** The session blocks (STRIDE words each). */
  readonly w: Uint32Array;
  /** The same memory as doubles (STRIDE / 2 per session), for the expiry time. */
  readonly f64: Float64Array;

  private v6: Uint32Array;
  private v6Free: Int32Array;
  private v6Top = 0;
  private index: Int32Array;
  private slots: number;
  /** The index grows (by doubling) up to this many slots, so a lightly used table stays in cache. */
  private readonly maxSlots: number;
  /** One past the highest session id ever used (ids are handed out lowest first). */
  private highWater = 0;
  /** Head of the free list (linked through W_AUX), -1 when full. */
  private freeHead: number;
  private nextSerial = 1;

  constructor(capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1 || capacity > 1 << 24) {
      throw new RangeError(`session table capacity must be 1..16777216, got ${capacity}`);
    }
    this.capacity = capacity;
    this.w = new Uint32Array(capacity * STRIDE);
    this.f64 = new Float64Array(this.w.buffer);
    // Two entries per session at a load factor of at most 3/4.
    this.maxSlots = Math.ceil((capacity * 2 * 4) / 3) + 1;
    this.slots = Math.min(this.maxSlots, 4096);
    this.index = new Int32Array(this.slots).fill(EMPTY);
    // Free blocks, lowest id first, so a lightly used table stays compact.
    for (let i = 0; i < capacity; i++) this.w[i * STRIDE + W_AUX] = i + 1 < capacity ? i + 1 : 0xffffffff;
    this.freeHead = 0;
    const v6Slots = Math.min(capacity, 1024);
    this.v6 = new Uint32Array(v6Slots * 16);
    this.v6Free = new Int32Array(v6Slots);
    for (let i = 0; i < v6Slots; i++) this.v6Free[i] = v6Slots - 1 - i;
    this.v6Top = v6Slots;
  }

  /** Bytes of typed-array memory per session slot (the index at its full size included). */
  bytesPerSession(): number {
    return (
      (this.w.byteLength + this.maxSlots * 4 + this.v6.byteLength + this.v6Free.byteLength) / this.capacity
    );
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
   * Finds the session of a tuple. Returns (id << 1) | dir, or -1.
   * `src`/`dst` are 4-word addresses starting at index 0.
   */
  lookup(zoneProto: number, src: Uint32Array, dst: Uint32Array, ports: number): number {
    const v4 = isV4Mapped(src, 0) && isV4Mapped(dst, 0);
    const h = v4
      ? hashTuple4(zoneProto, src[3]!, dst[3]!, ports)
      : hashTuple(zoneProto, src, 0, dst, 0, ports);
    const index = this.index;
    const n = this.slots;
    let i = slotOf(h, n);
    for (;;) {
      const e = index[i]!;
      if (e === EMPTY) return -1;
      const b = (e >> 1) * STRIDE;
      if (
        this.w[b + W_PORTS + (e & 1)] === ports &&
        this.w[b + W_ZP] === zoneProto &&
        this.addrMatch(b, e & 1, v4, src, dst)
      ) {
        return e;
      }
      i = i + 1 === n ? 0 : i + 1;
    }
  }

  private addrMatch(b: number, dir: number, v4: boolean, src: Uint32Array, dst: Uint32Array): boolean {
    const w0 = this.w;
    if ((w0[b + W_FLAGS]! & F_V6) === 0) {
      const a = b + W_ADDR + dir * 2;
      return v4 && w0[a] === src[3] && w0[a + 1] === dst[3];
    }
    // The slab holds all four words, so an IPv4-mapped query (one side of a
    // mixed-family, NAT64-style session) compares exactly like an IPv6 one.
    const s6 = w0[b + W_ADDR]! * 16 + dir * 8;
    const w = this.v6;
    return (
      w[s6] === src[0] &&
      w[s6 + 1] === src[1] &&
      w[s6 + 2] === src[2] &&
      w[s6 + 3] === src[3] &&
      w[s6 + 4] === dst[0] &&
      w[s6 + 5] === dst[1] &&
      w[s6 + 6] === dst[2] &&
      w[s6 + 7] === dst[3]
    );
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
    if (this.freeHead < 0) return -1;
    if (this.lookup(zoneProto, oSrc, oDst, oPorts) >= 0) return -2;
    if (this.lookup(zoneProto, rSrc, rDst, rPorts) >= 0) return -2;
    if ((this.count + 1) * 2 * 4 > this.slots * 3 && this.slots < this.maxSlots) this.grow();
    const id = this.freeHead;
    const w = this.w;
    const b = id * STRIDE;
    const next = w[b + W_AUX]!;
    this.freeHead = next === 0xffffffff ? -1 : next;
    if (id >= this.highWater) this.highWater = id + 1;
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
        const id = e >> 1;
        if ((this.w[id * STRIDE + W_FLAGS]! & F_ASSURED) === 0) return id;
      }
      i = i + 1 === this.slots ? 0 : i + 1;
    }
    return -1;
  }

  /** Writes the 4-word address (0 src, 1 dst) of a session's tuple in `dir` into `out`. */
  readAddr(id: number, dir: number, which: number, out: Uint32Array): void {
    const blk = id * STRIDE;
    if ((this.w[blk + W_FLAGS]! & F_V6) === 0) {
      out[0] = 0;
      out[1] = 0;
      out[2] = 0xffff;
      out[3] = this.w[blk + W_ADDR + dir * 2 + which]!;
      return;
    }
    const b = this.w[blk + W_ADDR]! * 16 + dir * 8 + which * 4;
    out[0] = this.v6[b]!;
    out[1] = this.v6[b + 1]!;
    out[2] = this.v6[b + 2]!;
    out[3] = this.v6[b + 3]!;
  }

  /** Doubles the index (up to maxSlots) and re-places every live session. Rare; allocates. */
  private grow(): void {
    this.slots = Math.min(this.maxSlots, this.slots * 2);
    this.index = new Int32Array(this.slots).fill(EMPTY);
    for (let id = 0; id < this.highWater; id++) {
      if ((this.w[id * STRIDE + W_FLAGS]! & F_USED) === 0) continue;
      this.place(id << 1);
      this.place((id << 1) | 1);
    }
  }

  private v6Alloc(): number {
    if (this.v6Top === 0) {
      const old = this.v6Free.length;
      const size = Math.min(this.capacity, old * 2);
      const grown = new Uint32Array(size * 16);
      grown.set(this.v6);
      this.v6 = grown;
      this.v6Free = new Int32Array(size);
      for (let i = old; i < size; i++) this.v6Free[this.v6Top++] = size - 1 - (i - old);
    }
    return this.v6Free[--this.v6Top]!;
  }

  private readonly tmpSrc = new Uint32Array(4);
  private readonly tmpDst = new Uint32Array(4);

  private homeOf(entry: number): number {
    const id = entry >> 1;
    const dir = entry & 1;
    const b = id * STRIDE;
    const w = this.w;
    const zp = w[b + W_ZP]!;
    const ports = w[b + W_PORTS + dir]!;
    if ((w[b + W_FLAGS]! & F_V6) === 0) {
      const a = b + W_ADDR + dir * 2;
      return slotOf(hashTuple4(zp, w[a]!, w[a + 1]!, ports), this.slots);
    }
    this.readAddr(id, dir, 0, this.tmpSrc);
    this.readAddr(id, dir, 1, this.tmpDst);
    return slotOf(hashTuple(zp, this.tmpSrc, 0, this.tmpDst, 0, ports), this.slots);
  }

  private place(entry: number): void {
    const n = this.slots;
    let i = this.homeOf(entry);
    while (this.index[i] !== EMPTY) i = i + 1 === n ? 0 : i + 1;
    this.index[i] = entry;
  }

  private unplace(entry: number): void {
    const n = this.slots;
    const index = this.index;
    let i = this.homeOf(entry);
    while (index[i] !== entry) {
      if (index[i] === EMPTY) return;
      i = i + 1 === n ? 0 : i + 1;
    }
    // Backward-shift deletion: pull later entries of the run into the hole
    // unless their home slot lies cyclically in (hole, j].
    let j = i;
    for (;;) {
      j = j + 1 === n ? 0 : j + 1;
      const e = index[j]!;
      if (e === EMPTY) break;
      const k = this.homeOf(e);
      const stays = i <= j ? i < k && k <= j : i < k || k <= j;
      if (stays) continue;
      index[i] = e;
      i = j;
    }
    index[i] = EMPTY;
  }
}

/** Maps a 32-bit hash onto [0, n) without a division (Lemire's multiply-shift). */
function slotOf(h: number, n: number): number {
  return Math.floor((h * n) / 4294967296);
}
