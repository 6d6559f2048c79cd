/**
 * The session table: a struct of typed arrays indexed by session id, and one
 * open-addressing index (linear probing, backward-shift deletion) holding two
 * entries per session, one for the original tuple and one for the reply tuple
 * (which differs from the reversed original when NAT rewrote it).
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

const EMPTY = -1;
/** How many index slots an eviction looks at from the new tuple's home slot (conntrack: 8 buckets). */
const EVICT_PROBE = 8;

export class SessionTable {
  readonly capacity: number;
  count = 0;
  /** (zone << 8) | protocol. */
  readonly zoneProto: Uint32Array;
  readonly flags: Uint8Array;
  /** Protocol state (TCP: tcp-states.ts; others: 0 new, 1 replied). */
  readonly state: Uint8Array;
  /** IPv4: origSrc, origDst, replySrc, replyDst; IPv6: [0] is the slab slot. */
  readonly addr: Uint32Array;
  /** (srcPort << 16) | dstPort for orig [2id] and reply [2id+1]. */
  readonly ports: Uint32Array;
  /** Absolute expiry on the device clock (ms). */
  readonly expires: Float64Array;
  /** Creation time (ms) on the device clock. */
  readonly created: Float64Array;
  /** User-visible session number, unique for the table's life. */
  readonly serial: Uint32Array;
  /** Packets and bytes per direction [2id + dir]. Bytes wrap at 2^32 like a u32 counter. */
  readonly pkts: Uint32Array;
  readonly bytes: Uint32Array;
  /** Feature data: the real server (lb) or 0xffff. */
  readonly real: Uint16Array;

  private v6: Uint32Array;
  private v6Free: Int32Array;
  private v6Top = 0;
  private index: Int32Array;
  private slots: number;
  /** The index grows (by doubling) up to this many slots, so a lightly used table stays in cache. */
  private readonly maxSlots: number;
  /** One past the highest session id ever used (ids are handed out lowest first). */
  private highWater = 0;
  private readonly free: Int32Array;
  private freeTop: number;
  private nextSerial = 1;

  constructor(capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1 || capacity > 1 << 24) {
      throw new RangeError(`session table capacity must be 1..16777216, got ${capacity}`);
    }
    this.capacity = capacity;
    this.zoneProto = new Uint32Array(capacity);
    this.flags = new Uint8Array(capacity);
    this.state = new Uint8Array(capacity);
    this.addr = new Uint32Array(capacity * 4);
    this.ports = new Uint32Array(capacity * 2);
    this.expires = new Float64Array(capacity);
    this.created = new Float64Array(capacity);
    this.serial = new Uint32Array(capacity);
    this.pkts = new Uint32Array(capacity * 2);
    this.bytes = new Uint32Array(capacity * 2);
    this.real = new Uint16Array(capacity);
    // Two entries per session at a load factor of at most 3/4.
    this.maxSlots = Math.ceil((capacity * 2 * 4) / 3) + 1;
    this.slots = Math.min(this.maxSlots, 4096);
    this.index = new Int32Array(this.slots).fill(EMPTY);
    this.free = new Int32Array(capacity);
    for (let i = 0; i < capacity; i++) this.free[i] = capacity - 1 - i;
    this.freeTop = capacity;
    const v6Slots = Math.min(capacity, 1024);
    this.v6 = new Uint32Array(v6Slots * 16);
    this.v6Free = new Int32Array(v6Slots);
    for (let i = 0; i < v6Slots; i++) this.v6Free[i] = v6Slots - 1 - i;
    this.v6Top = v6Slots;
  }

  /** Bytes of typed-array memory per session slot (index included). */
  bytesPerSession(): number {
    // The index at its full size: what a full table costs.
    let total = this.maxSlots * 4 + this.free.byteLength + this.v6.byteLength + this.v6Free.byteLength;
    for (const a of [
      this.zoneProto,
      this.flags,
      this.state,
      this.addr,
      this.ports,
      this.expires,
      this.created,
      this.serial,
      this.pkts,
      this.bytes,
      this.real,
    ]) {
      total += a.byteLength;
    }
    return total / this.capacity;
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
      const id = e >> 1;
      if (
        this.zoneProto[id] === zoneProto &&
        this.ports[e] === ports &&
        this.addrMatch(id, e & 1, v4, src, dst)
      ) {
        return e;
      }
      i = i + 1 === n ? 0 : i + 1;
    }
  }

  private addrMatch(id: number, dir: number, v4: boolean, src: Uint32Array, dst: Uint32Array): boolean {
    if ((this.flags[id]! & F_V6) === 0) {
      const a = id * 4 + dir * 2;
      return v4 && this.addr[a] === src[3] && this.addr[a + 1] === dst[3];
    }
    // The slab holds all four words, so an IPv4-mapped query (one side of a
    // mixed-family, NAT64-style session) compares exactly like an IPv6 one.
    const b = this.addr[id * 4]! * 16 + dir * 8;
    const w = this.v6;
    return (
      w[b] === src[0] &&
      w[b + 1] === src[1] &&
      w[b + 2] === src[2] &&
      w[b + 3] === src[3] &&
      w[b + 4] === dst[0] &&
      w[b + 5] === dst[1] &&
      w[b + 6] === dst[2] &&
      w[b + 7] === dst[3]
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
    if (this.freeTop === 0) return -1;
    if (this.lookup(zoneProto, oSrc, oDst, oPorts) >= 0) return -2;
    if (this.lookup(zoneProto, rSrc, rDst, rPorts) >= 0) return -2;
    if ((this.count + 1) * 2 * 4 > this.slots * 3 && this.slots < this.maxSlots) this.grow();
    const id = this.free[--this.freeTop]!;
    if (id >= this.highWater) this.highWater = id + 1;
    const v4 = isV4Mapped(oSrc, 0) && isV4Mapped(oDst, 0) && isV4Mapped(rSrc, 0) && isV4Mapped(rDst, 0);
    this.zoneProto[id] = zoneProto;
    this.flags[id] = v4 ? F_USED : F_USED | F_V6;
    this.state[id] = 0;
    this.ports[id * 2] = oPorts;
    this.ports[id * 2 + 1] = rPorts;
    this.expires[id] = nowMs;
    this.created[id] = nowMs;
    this.serial[id] = this.nextSerial++;
    if (this.nextSerial > 0xffffffff) this.nextSerial = 1;
    this.pkts[id * 2] = 0;
    this.pkts[id * 2 + 1] = 0;
    this.bytes[id * 2] = 0;
    this.bytes[id * 2 + 1] = 0;
    this.real[id] = 0xffff;
    const a = id * 4;
    if (v4) {
      this.addr[a] = oSrc[3]!;
      this.addr[a + 1] = oDst[3]!;
      this.addr[a + 2] = rSrc[3]!;
      this.addr[a + 3] = rDst[3]!;
    } else {
      const slot = this.v6Alloc();
      this.addr[a] = slot;
      const b = slot * 16;
      this.v6.set(oSrc.subarray(0, 4), b);
      this.v6.set(oDst.subarray(0, 4), b + 4);
      this.v6.set(rSrc.subarray(0, 4), b + 8);
      this.v6.set(rDst.subarray(0, 4), b + 12);
    }
    this.place(id << 1);
    this.place((id << 1) | 1);
    this.count++;
    return id;
  }

  /** Removes a session; its id returns to the free list. */
  remove(id: number): void {
    if ((this.flags[id]! & F_USED) === 0) return;
    this.unplace(id << 1);
    this.unplace((id << 1) | 1);
    if (this.flags[id]! & F_V6) this.v6Free[this.v6Top++] = this.addr[id * 4]!;
    this.flags[id] = 0;
    this.free[this.freeTop++] = id;
    this.count--;
  }

  isUsed(id: number): boolean {
    return (this.flags[id]! & F_USED) !== 0;
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
        if ((this.flags[id]! & F_ASSURED) === 0) return id;
      }
      i = i + 1 === this.slots ? 0 : i + 1;
    }
    return -1;
  }

  /** Writes the 4-word address (0 src, 1 dst) of a session's tuple in `dir` into `out`. */
  readAddr(id: number, dir: number, which: number, out: Uint32Array): void {
    if ((this.flags[id]! & F_V6) === 0) {
      out[0] = 0;
      out[1] = 0;
      out[2] = 0xffff;
      out[3] = this.addr[id * 4 + dir * 2 + which]!;
      return;
    }
    const b = this.addr[id * 4]! * 16 + dir * 8 + which * 4;
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
      if ((this.flags[id]! & F_USED) === 0) continue;
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
    if ((this.flags[id]! & F_V6) === 0) {
      const a = id * 4 + dir * 2;
      return slotOf(
        hashTuple4(this.zoneProto[id]!, this.addr[a]!, this.addr[a + 1]!, this.ports[entry]!),
        this.slots,
      );
    }
    this.readAddr(id, dir, 0, this.tmpSrc);
    this.readAddr(id, dir, 1, this.tmpDst);
    return slotOf(
      hashTuple(this.zoneProto[id]!, this.tmpSrc, 0, this.tmpDst, 0, this.ports[entry]!),
      this.slots,
    );
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
