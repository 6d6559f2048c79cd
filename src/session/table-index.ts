/**
 * The session table's storage and index (SessionTable in table.ts adds the
 * per-session fields, insert and remove): one 64-byte block of words per
 * session (key, flags, egress ports, counters, expiry and serial side by
 * side, so a packet touches one cache line of it), and one open-addressing
 * index (linear probing, backward-shift deletion) holding two entries per
 * session, one for the original tuple and one for the reply tuple (which
 * differs from the reversed original when NAT rewrote it).
 *
 * An index entry is (id << 1) | dir with 6 bits of the tuple's hash above it
 * (a fingerprint: a probe reads a session's block only when they match, so a
 * lookup in a large table costs about one block miss rather than one per
 * entry of its probe run). IPv4 sessions keep their four addresses inline
 * (one word each); IPv6 sessions keep them in a growable side slab, so an
 * IPv4 session costs no IPv6-sized key. Nothing here allocates per packet.
 */
import { hash4, hashTuple, isV4Mapped } from './hash.js';
import {
  EMPTY,
  ENTRY,
  F_USED,
  F_V6,
  FP_MASK,
  fpOf,
  slotOf,
  STRIDE,
  W_ADDR,
  W_FLAGS,
  W_PORTS,
  W_ZP,
} from './table-layout.js';

/** Keys a lookupBatch stage works on at a time. */
const BATCH = 64;

export abstract class SessionIndex {
  readonly capacity: number;
  count = 0;
  /** The session blocks (STRIDE words each). */
  readonly w: Uint32Array;
  /** The same memory as doubles (STRIDE / 2 per session), for the expiry time. */
  readonly f64: Float64Array;

  protected v6: Uint32Array;
  protected v6Free: Int32Array;
  protected v6Top = 0;
  protected index: Int32Array;
  protected slots: number;
  /** The index grows (by doubling) up to this many slots, so a lightly used table stays in cache. */
  protected readonly maxSlots: number;
  /** One past the highest session id ever used (ids are handed out lowest first). */
  protected highWater = 0;

  protected constructor(capacity: number) {
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

  /**
   * Finds the session of a tuple. Returns (id << 1) | dir, or -1.
   * `src`/`dst` are 4-word addresses starting at index 0; `ports` a word,
   * signed or unsigned.
   */
  lookup(zoneProto: number, src: Uint32Array, dst: Uint32Array, ports: number): number {
    if (isV4Mapped(src, 0) && isV4Mapped(dst, 0)) return this.lookup4(zoneProto, src[3]!, dst[3]!, ports);
    const h = hashTuple(zoneProto, src, 0, dst, 0, ports);
    const index = this.index;
    const n = this.slots;
    const fp = fpOf(h);
    const pp = ports | 0;
    let i = slotOf(h, n);
    for (;;) {
      const e = index[i]!;
      if (e === EMPTY) return -1;
      if ((e & FP_MASK) === fp) {
        const b = ((e & ENTRY) >> 1) * STRIDE;
        if (
          (this.w[b + W_PORTS + (e & 1)]! | 0) === pp &&
          this.w[b + W_ZP] === zoneProto &&
          this.addrMatch(b, e & 1, src, dst)
        ) {
          return e & ENTRY;
        }
      }
      i = i + 1 === n ? 0 : i + 1;
    }
  }

  /**
   * lookup() of an IPv4 tuple with its addresses as 32-bit words (signed or
   * unsigned: as a signed word a value stays a small integer through calls).
   */
  lookup4(zoneProto: number, src: number, dst: number, ports: number): number {
    const h = hash4(zoneProto, src, dst, ports);
    return this.probe4(slotOf(h >>> 0, this.slots), fpOf(h), zoneProto, src, dst, ports);
  }

  /**
   * Looks up `count` IPv4 tuples (zone/protocol `zoneProto[k]`, addresses
   * `src[k]`/`dst[k]` as 32-bit numbers, `ports[k]`) into out[k]: the same
   * result as lookup() for each. In stages over groups of keys (hash and read
   * every home slot, then touch every first candidate's block, then compare),
   * so the cache misses of different keys overlap instead of queueing.
   */
  lookupBatch(
    zoneProto: Uint32Array,
    src: Uint32Array,
    dst: Uint32Array,
    ports: Uint32Array,
    count: number,
    out: Int32Array,
  ): void {
    const slot = this.bSlot;
    const hash = this.bHash;
    const first = this.bFirst;
    const w = this.w;
    let touched = 0;
    for (let at = 0; at < count; at += BATCH) {
      const m = Math.min(BATCH, count - at);
      const index = this.index;
      const n = this.slots;
      for (let k = 0; k < m; k++) {
        const h = hash4(zoneProto[at + k]!, src[at + k]!, dst[at + k]!, ports[at + k]!);
        hash[k] = h;
        slot[k] = slotOf(h >>> 0, n);
      }
      for (let k = 0; k < m; k++) first[k] = index[slot[k]!]!;
      for (let k = 0; k < m; k++) {
        const e = first[k]!;
        if (e !== EMPTY && (e & FP_MASK) === fpOf(hash[k]!))
          touched ^= w[((e & ENTRY) >> 1) * STRIDE + W_PORTS]!;
      }
      for (let k = 0; k < m; k++) {
        const j = at + k;
        out[j] = this.probe4(slot[k]!, fpOf(hash[k]!), zoneProto[j]!, src[j]!, dst[j]!, ports[j]!);
      }
    }
    this.bTouched = touched;
  }

  /** Scratch of lookupBatch (one group of keys). */
  private readonly bSlot = new Int32Array(BATCH);
  private readonly bHash = new Int32Array(BATCH);
  private readonly bFirst = new Int32Array(BATCH);
  /** Keeps the touching loads of lookupBatch from being optimised away. */
  bTouched = 0;

  /** lookup4() from the tuple's home slot and fingerprint (words signed or unsigned). */
  private probe4(i: number, fp: number, zoneProto: number, src: number, dst: number, ports: number): number {
    const index = this.index;
    const n = this.slots;
    const w = this.w;
    const zp = zoneProto | 0;
    const s = src | 0;
    const d = dst | 0;
    const pp = ports | 0;
    for (;;) {
      const e = index[i]!;
      if (e === EMPTY) return -1;
      if ((e & FP_MASK) === fp) {
        const dir = e & 1;
        const b = ((e & ENTRY) >> 1) * STRIDE;
        if ((w[b + W_PORTS + dir]! | 0) === pp && (w[b + W_ZP]! | 0) === zp) {
          if ((w[b + W_FLAGS]! & F_V6) === 0) {
            const a = b + W_ADDR + dir * 2;
            if ((w[a]! | 0) === s && (w[a + 1]! | 0) === d) return e & ENTRY;
          } else if (this.mappedMatch(w[b + W_ADDR]! * 16 + dir * 8, s, d)) return e & ENTRY;
        }
      }
      i = i + 1 === n ? 0 : i + 1;
    }
  }

  /** Whether the slab's tuple at `s6` is IPv4-mapped src -> dst (signed words). */
  private mappedMatch(s6: number, src: number, dst: number): boolean {
    const v = this.v6;
    return (
      v[s6] === 0 &&
      v[s6 + 1] === 0 &&
      v[s6 + 2] === 0xffff &&
      (v[s6 + 3]! | 0) === src &&
      v[s6 + 4] === 0 &&
      v[s6 + 5] === 0 &&
      v[s6 + 6] === 0xffff &&
      (v[s6 + 7]! | 0) === dst
    );
  }

  /** Whether the tuple of `dir` at block `b` has the (not IPv4-mapped) addresses src -> dst. */
  private addrMatch(b: number, dir: number, src: Uint32Array, dst: Uint32Array): boolean {
    const w0 = this.w;
    // An IPv4 session keeps IPv4 addresses only.
    if ((w0[b + W_FLAGS]! & F_V6) === 0) return false;
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
  protected grow(): void {
    this.slots = Math.min(this.maxSlots, this.slots * 2);
    this.index = new Int32Array(this.slots).fill(EMPTY);
    for (let id = 0; id < this.highWater; id++) {
      if ((this.w[id * STRIDE + W_FLAGS]! & F_USED) === 0) continue;
      this.place(id << 1);
      this.place((id << 1) | 1);
    }
  }

  protected v6Alloc(): number {
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

  /** The hash of an entry's tuple (entry = (id << 1) | dir). */
  protected hashOf(entry: number): number {
    const id = entry >> 1;
    const dir = entry & 1;
    const b = id * STRIDE;
    const w = this.w;
    const zp = w[b + W_ZP]!;
    const ports = w[b + W_PORTS + dir]!;
    if ((w[b + W_FLAGS]! & F_V6) === 0) {
      const a = b + W_ADDR + dir * 2;
      return hash4(zp, w[a]!, w[a + 1]!, ports) >>> 0;
    }
    this.readAddr(id, dir, 0, this.tmpSrc);
    this.readAddr(id, dir, 1, this.tmpDst);
    return hashTuple(zp, this.tmpSrc, 0, this.tmpDst, 0, ports);
  }

  protected place(entry: number): void {
    const n = this.slots;
    const h = this.hashOf(entry);
    let i = slotOf(h, n);
    while (this.index[i] !== EMPTY) i = i + 1 === n ? 0 : i + 1;
    this.index[i] = entry | fpOf(h);
  }

  protected unplace(entry: number): void {
    const n = this.slots;
    const index = this.index;
    let i = slotOf(this.hashOf(entry), n);
    while ((index[i]! & ENTRY) !== entry) {
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
      const k = slotOf(this.hashOf(e & ENTRY), n);
      const stays = i <= j ? i < k && k <= j : i < k || k <= j;
      if (stays) continue;
      index[i] = e;
      i = j;
    }
    index[i] = EMPTY;
  }
}
