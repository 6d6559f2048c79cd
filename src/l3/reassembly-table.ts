/**
 * The partial-datagram table of reassembly: a struct of typed arrays, one
 * row per slot (maxDatagrams), maxFragmentsPerDatagram fragment records per
 * slot, an open-addressing hash table (linear probing, backward-shift
 * deletion, no tombstones) keyed by (version, src, dst, id, IPv4 protocol),
 * and an age list (oldest first) for expiry and eviction. Allocation only
 * in the constructor.
 */
import type { Packet } from '../wire/packet.js';

export class FragTable {
  readonly slots: number;
  readonly maxFrags: number;

  // ---- slots ----
  readonly sAddr: Uint32Array; // 8 words: src, dst
  readonly sId: Uint32Array;
  readonly sVP: Int32Array; // version << 8 | protocol (IPv6: 0)
  readonly sHash: Uint32Array;
  readonly sBorn: Float64Array;
  /** Fragmentable length once the last fragment is in, else -1. */
  readonly sTotal: Int32Array;
  /** Payload bytes held. */
  readonly sRecv: Int32Array;
  readonly sMaxEnd: Int32Array;
  readonly sCount: Int32Array;
  readonly sFrameBytes: Int32Array;
  readonly sBlocks: Int32Array;
  /** Index of the offset-0 fragment, -1. */
  readonly sFirst: Int32Array;
  /** Of the first fragment, from its frame start: the L3 offset and the header bytes kept (IPv6: up to the Fragment header). */
  readonly sL3: Int32Array;
  readonly sHdr: Int32Array;
  /** Age list, oldest first. */
  readonly sPrev: Int32Array;
  readonly sNext: Int32Array;
  head = -1;
  tail = -1;
  private readonly freeSlots: Int32Array;
  private freeTop: number;

  // ---- fragments: slot s, fragment j at s * maxFrags + j ----
  readonly fBlock: Int32Array;
  readonly fFrame: Int32Array;
  /** Payload start within the frame. */
  readonly fPay: Int32Array;
  /** Payload offset within the datagram and its length. */
  readonly fOff: Int32Array;
  readonly fLen: Int32Array;
  readonly fMf: Uint8Array;

  // ---- hash table: slot + 1, 0 empty ----
  private readonly table: Int32Array;
  private readonly mask: number;
  private readonly seed: number;

  constructor(slots: number, maxFrags: number, seed: number) {
    const S = slots;
    this.slots = S;
    this.maxFrags = maxFrags;
    this.seed = seed | 0;
    this.sAddr = new Uint32Array(S * 8);
    this.sId = new Uint32Array(S);
    this.sVP = new Int32Array(S);
    this.sHash = new Uint32Array(S);
    this.sBorn = new Float64Array(S);
    this.sTotal = new Int32Array(S);
    this.sRecv = new Int32Array(S);
    this.sMaxEnd = new Int32Array(S);
    this.sCount = new Int32Array(S);
    this.sFrameBytes = new Int32Array(S);
    this.sBlocks = new Int32Array(S);
    this.sFirst = new Int32Array(S);
    this.sL3 = new Int32Array(S);
    this.sHdr = new Int32Array(S);
    this.sPrev = new Int32Array(S);
    this.sNext = new Int32Array(S);
    this.freeSlots = new Int32Array(S);
    for (let i = 0; i < S; i++) this.freeSlots[i] = S - 1 - i;
    this.freeTop = S;
    const n = S * maxFrags;
    this.fBlock = new Int32Array(n);
    this.fFrame = new Int32Array(n);
    this.fPay = new Int32Array(n);
    this.fOff = new Int32Array(n);
    this.fLen = new Int32Array(n);
    this.fMf = new Uint8Array(n);
    let size = 16;
    while (size < S * 2) size <<= 1;
    this.table = new Int32Array(size);
    this.mask = size - 1;
  }

  get full(): boolean {
    return this.freeTop === 0;
  }

  /** The slot of pkt's datagram, or -1. `h` = hashKey(pkt). */
  lookup(pkt: Packet, h: number): number {
    const mask = this.mask;
    const t = this.table;
    const id = keyId(pkt);
    const vp = keyVP(pkt);
    const src = pkt.src;
    const dst = pkt.dst;
    const a = this.sAddr;
    for (let i = h & mask; t[i] !== 0; i = (i + 1) & mask) {
      const s = t[i] - 1;
      if (this.sHash[s] !== h || this.sId[s] !== id || this.sVP[s] !== vp) continue;
      const o = s * 8;
      if (
        a[o] === src[0] &&
        a[o + 1] === src[1] &&
        a[o + 2] === src[2] &&
        a[o + 3] === src[3] &&
        a[o + 4] === dst[0] &&
        a[o + 5] === dst[1] &&
        a[o + 6] === dst[2] &&
        a[o + 7] === dst[3]
      ) {
        return s;
      }
    }
    return -1;
  }

  hashKey(pkt: Packet): number {
    let h = mix(this.seed, keyVP(pkt));
    h = mix(h, keyId(pkt));
    const src = pkt.src;
    const dst = pkt.dst;
    h = mix(h, src[0]);
    h = mix(h, src[1]);
    h = mix(h, src[2]);
    h = mix(h, src[3]);
    h = mix(h, dst[0]);
    h = mix(h, dst[1]);
    h = mix(h, dst[2]);
    h = mix(h, dst[3]);
    h ^= h >>> 16;
    h = Math.imul(h, 0x85ebca6b);
    h ^= h >>> 13;
    return h >>> 0;
  }

  /** Take a free slot (the caller made sure one is free) for pkt's datagram, youngest in the age list. */
  create(pkt: Packet, h: number, nowMs: number): number {
    const s = this.freeSlots[--this.freeTop];
    const a = s * 8;
    for (let k = 0; k < 4; k++) {
      this.sAddr[a + k] = pkt.src[k];
      this.sAddr[a + 4 + k] = pkt.dst[k];
    }
    this.sId[s] = keyId(pkt);
    this.sVP[s] = keyVP(pkt);
    this.sHash[s] = h;
    this.sBorn[s] = nowMs;
    this.sTotal[s] = -1;
    this.sRecv[s] = 0;
    this.sMaxEnd[s] = 0;
    this.sCount[s] = 0;
    this.sFrameBytes[s] = 0;
    this.sBlocks[s] = 0;
    this.sFirst[s] = -1;
    this.sPrev[s] = this.tail;
    this.sNext[s] = -1;
    if (this.tail >= 0) this.sNext[this.tail] = s;
    else this.head = s;
    this.tail = s;
    let i = h & this.mask;
    while (this.table[i] !== 0) i = (i + 1) & this.mask;
    this.table[i] = s + 1;
    return s;
  }

  /** Free slot s: its bucket (later cluster members shift back), its place in the age list. */
  remove(s: number): void {
    const mask = this.mask;
    const t = this.table;
    let i = this.sHash[s] & mask;
    while (t[i] !== s + 1) i = (i + 1) & mask;
    let j = i;
    for (;;) {
      j = (j + 1) & mask;
      if (t[j] === 0) break;
      const k = this.sHash[t[j] - 1] & mask;
      // t[j] stays unless the hole at i lies cyclically between its home k and j.
      if (i <= j ? i < k && k <= j : i < k || k <= j) continue;
      t[i] = t[j];
      i = j;
    }
    t[i] = 0;
    const p = this.sPrev[s];
    const q = this.sNext[s];
    if (p >= 0) this.sNext[p] = q;
    else this.head = q;
    if (q >= 0) this.sPrev[q] = p;
    else this.tail = p;
    this.sCount[s] = 0;
    this.freeSlots[this.freeTop++] = s;
  }
}

function keyId(pkt: Packet): number {
  return pkt.ipVersion === 4 ? pkt.ipId & 0xffff : pkt.ipId >>> 0;
}

function keyVP(pkt: Packet): number {
  return pkt.ipVersion === 4 ? (4 << 8) | (pkt.l4Proto & 0xff) : 6 << 8;
}

function mix(h: number, w: number): number {
  h = Math.imul(h ^ w, 0x9e3779b1);
  return h ^ (h >>> 15);
}
