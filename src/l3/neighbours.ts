/**
 * Neighbour cache (ARP for IPv4, ND for IPv6), as Linux's neighbour table
 * without the random jitter: an entry maps (address, port) to a MAC.
 *
 * - INCOMPLETE: a request is out; packets wait in the entry's queue (up to
 *   `queuePerEntry`, default 32, the oldest dropped first and counted in
 *   `queueDropped`, as Linux's unres_qlen_bytes: 212992 bytes, ~100 full
 *   frames; a burst of new connections to one server must not lose most). A
 *   request is retried every `retransMs` (Linux retrans_time 1 s); after
 *   `maxProbes` (Linux mcast_solicit 3) unanswered ones the entry fails: it
 *   is removed and its queue dropped (counted).
 * - REACHABLE: confirmed by a reply less than `reachableMs` ago (Linux
 *   base_reachable_time 30 s). Used as is.
 * - STALE: REACHABLE timed out. Still used; the first use schedules a unicast
 *   probe after `delayMs` (Linux delay_first_probe_time 5 s), then `maxProbes`
 *   of them `retransMs` apart (Linux DELAY/PROBE); no reply removes the entry.
 *
 * The clock is the device's (ms), passed in. Memory is fixed at construction:
 * `capacity` entries (when full, the least recently used entry is evicted and
 * its queue dropped) and a pool of `queueBytes / slotBytes` frame slots shared
 * by all queues. resolve/enqueue/learn are O(1) (hash chains over typed
 * arrays, an LRU list); tick is O(capacity). No allocation after construction.
 */
import { wr16 } from '../wire/bytes.js';

export * from './neighbour-types.js';
import {
  NEIGH_FREE,
  NEIGH_INCOMPLETE,
  NEIGH_NEW,
  NEIGH_PENDING,
  NEIGH_REACHABLE,
  NEIGH_STALE,
  type NeighbourOptions,
  type NeighbourStats,
} from './neighbour-types.js';

export class NeighbourCache {
  readonly capacity: number;
  readonly reachableMs: number;
  readonly retransMs: number;
  readonly delayMs: number;
  readonly maxProbes: number;
  readonly queuePerEntry: number;
  readonly slotBytes: number;
  readonly stats: NeighbourStats = {
    created: 0,
    learned: 0,
    failed: 0,
    evicted: 0,
    queued: 0,
    released: 0,
    queueDropped: 0,
  };
  /** MAC of entry i at macs[i*6 .. i*6+6). */
  readonly macs: Uint8Array;
  /** Queued frames: slot s at pool[s*slotBytes ..], slotLen[s] bytes. */
  readonly pool: Uint8Array;
  readonly slotLen: Int32Array;
  /** After learn(): the released slots, oldest first (valid until the next enqueue). */
  readonly released: Int32Array;
  /** After tick(): entries to send a request for (requestCount of them). */
  readonly requests: Int32Array;
  requestCount = 0;

  private count = 0;
  private readonly addr: Uint32Array;
  private readonly port: Int32Array;
  private readonly st: Uint8Array;
  private readonly expiry: Float64Array;
  private readonly nextProbe: Float64Array;
  private readonly probes: Uint8Array;
  private readonly qHead: Int32Array;
  private readonly qTail: Int32Array;
  private readonly qCount: Uint8Array;
  private readonly buckets: Int32Array;
  private readonly chain: Int32Array;
  private readonly prev: Int32Array;
  private readonly next: Int32Array;
  private lruHead = -1;
  private lruTail = -1;
  private readonly freeEntries: Int32Array;
  private nFreeEntries: number;
  private readonly slotNext: Int32Array;
  private readonly freeSlots: Int32Array;
  private nFreeSlots: number;

  constructor(o: NeighbourOptions = {}) {
    const cap = (this.capacity = o.capacity ?? 1024);
    this.reachableMs = o.reachableMs ?? 30_000;
    this.retransMs = o.retransMs ?? 1000;
    this.delayMs = o.delayMs ?? 5000;
    this.maxProbes = o.maxProbes ?? 3;
    this.queuePerEntry = o.queuePerEntry ?? 32;
    this.slotBytes = o.slotBytes ?? 2048;
    const nSlots = Math.max(1, Math.floor((o.queueBytes ?? 256 * 1024) / this.slotBytes));
    this.macs = new Uint8Array(cap * 6);
    this.addr = new Uint32Array(cap * 4);
    this.port = new Int32Array(cap);
    this.st = new Uint8Array(cap);
    this.expiry = new Float64Array(cap);
    this.nextProbe = new Float64Array(cap);
    this.probes = new Uint8Array(cap);
    this.qHead = new Int32Array(cap).fill(-1);
    this.qTail = new Int32Array(cap).fill(-1);
    this.qCount = new Uint8Array(cap);
    let nb = 16;
    while (nb < cap) nb *= 2;
    this.buckets = new Int32Array(nb).fill(-1);
    this.chain = new Int32Array(cap).fill(-1);
    this.prev = new Int32Array(cap).fill(-1);
    this.next = new Int32Array(cap).fill(-1);
    this.freeEntries = new Int32Array(cap);
    for (let i = 0; i < cap; i++) this.freeEntries[i] = cap - 1 - i;
    this.nFreeEntries = cap;
    this.pool = new Uint8Array(nSlots * this.slotBytes);
    this.slotLen = new Int32Array(nSlots);
    this.slotNext = new Int32Array(nSlots).fill(-1);
    this.freeSlots = new Int32Array(nSlots);
    for (let i = 0; i < nSlots; i++) this.freeSlots[i] = nSlots - 1 - i;
    this.nFreeSlots = nSlots;
    this.released = new Int32Array(Math.max(1, this.queuePerEntry));
    this.requests = new Int32Array(cap);
  }

  get size(): number {
    return this.count;
  }

  get freeSlotCount(): number {
    return this.nFreeSlots;
  }

  state(i: number): number {
    return this.st[i]!;
  }

  portOf(i: number): number {
    return this.port[i]!;
  }

  addrInto(i: number, out: Uint32Array): void {
    for (let k = 0; k < 4; k++) out[k] = this.addr[i * 4 + k]!;
  }

  queueLength(i: number): number {
    return this.qCount[i]!;
  }

  /** Offset of slot s's frame in `pool`. */
  slotOff(s: number): number {
    return s * this.slotBytes;
  }

  /** The entry for (addr, port), or -1. Changes nothing. */
  find(addr: Uint32Array, port: number): number {
    let i = this.buckets[this.bucket(addr, port)]!;
    const a = this.addr;
    while (i >= 0) {
      const o = i * 4;
      if (
        a[o + 3] === addr[3] &&
        this.port[i] === port &&
        a[o + 2] === addr[2] &&
        a[o] === addr[0] &&
        a[o + 1] === addr[1]
      )
        return i;
      i = this.chain[i]!;
    }
    return -1;
  }

  /**
   * The entry whose MAC to use for (addr, port), or NEIGH_PENDING /
   * NEIGH_NEW (see those). NEIGH_NEW counts as the first request sent.
   */
  resolve(addr: Uint32Array, port: number, nowMs: number): number {
    let i = this.find(addr, port);
    if (i < 0) {
      i = this.create(addr, port);
      this.st[i] = NEIGH_INCOMPLETE;
      this.probes[i] = 1;
      this.nextProbe[i] = nowMs + this.retransMs;
      return NEIGH_NEW;
    }
    const s = this.st[i]!;
    if (s === NEIGH_INCOMPLETE) return NEIGH_PENDING;
    if (i !== this.lruTail) this.touch(i);
    if (s === NEIGH_REACHABLE) {
      if (nowMs < this.expiry[i]!) return i;
      this.st[i] = NEIGH_STALE;
      this.nextProbe[i] = Infinity;
    }
    if (this.nextProbe[i] === Infinity) {
      this.nextProbe[i] = nowMs + this.delayMs;
      this.probes[i] = 0;
    }
    return i;
  }

  /**
   * Copies a frame (whose destination MAC learn() will fill in) into the
   * queue of the INCOMPLETE entry for (addr, port). False (counted) when it
   * could not be queued. A full queue drops its oldest frame to make room.
   */
  enqueue(addr: Uint32Array, port: number, buf: Uint8Array, off: number, len: number): boolean {
    const i = this.find(addr, port);
    if (i < 0 || this.st[i] !== NEIGH_INCOMPLETE || len > this.slotBytes || this.queuePerEntry === 0) {
      this.stats.queueDropped++;
      return false;
    }
    if (this.qCount[i]! >= this.queuePerEntry) this.dropHead(i);
    if (this.nFreeSlots === 0) {
      this.stats.queueDropped++;
      return false;
    }
    const s = this.freeSlots[--this.nFreeSlots]!;
    const pool = this.pool;
    const d = s * this.slotBytes;
    for (let k = 0; k < len; k++) pool[d + k] = buf[off + k]!;
    this.slotLen[s] = len;
    this.slotNext[s] = -1;
    if (this.qTail[i]! >= 0) this.slotNext[this.qTail[i]!] = s;
    else this.qHead[i] = s;
    this.qTail[i] = s;
    this.qCount[i]++;
    this.stats.queued++;
    return true;
  }

  /**
   * A reply (or another trustworthy sighting) says `addr` on `port` is at
   * mac[macOff..]: the entry becomes REACHABLE (created only when `create`).
   * Returns how many queued frames it releases: their slots are in
   * `released`, oldest first, with the MAC written as their destination
   * (bytes 0..5); send them on `port`.
   */
  learn(
    addr: Uint32Array,
    mac: Uint8Array,
    macOff: number,
    port: number,
    nowMs: number,
    create = true,
  ): number {
    let i = this.find(addr, port);
    if (i < 0) {
      if (!create) return 0;
      i = this.create(addr, port);
    } else if (i !== this.lruTail) this.touch(i);
    for (let k = 0; k < 6; k++) this.macs[i * 6 + k] = mac[macOff + k]!;
    this.st[i] = NEIGH_REACHABLE;
    this.expiry[i] = nowMs + this.reachableMs;
    this.nextProbe[i] = Infinity;
    this.probes[i] = 0;
    this.stats.learned++;
    let n = 0;
    let s = this.qHead[i]!;
    while (s >= 0) {
      const d = s * this.slotBytes;
      for (let k = 0; k < 6; k++) this.pool[d + k] = mac[macOff + k]!;
      this.released[n++] = s;
      const nx = this.slotNext[s]!;
      this.freeSlots[this.nFreeSlots++] = s;
      s = nx;
    }
    this.qHead[i] = -1;
    this.qTail[i] = -1;
    this.qCount[i] = 0;
    this.stats.released += n;
    return n;
  }

  /**
   * Timers: fills `requests` with the entries whose request is due now
   * (returns their count; an entry in NEIGH_STALE wants a unicast probe to its
   * MAC, an INCOMPLETE one a broadcast / multicast request) and removes the
   * entries whose probes ran out, dropping their queues.
   */
  tick(nowMs: number): number {
    let n = 0;
    for (let i = 0; i < this.capacity; i++) {
      const s = this.st[i]!;
      if (s !== NEIGH_INCOMPLETE && s !== NEIGH_STALE) continue;
      if (nowMs < this.nextProbe[i]!) continue;
      if (this.probes[i]! >= this.maxProbes) {
        this.stats.failed++;
        this.remove(i);
        continue;
      }
      this.probes[i]++;
      this.nextProbe[i] = nowMs + this.retransMs;
      this.requests[n++] = i;
    }
    this.requestCount = n;
    return n;
  }

  /** Removes an entry (dropping its queue). */
  remove(i: number): void {
    while (this.qCount[i]! > 0) this.dropHead(i);
    const a = this.addr;
    const b = this.bucketOf(a[i * 4]!, a[i * 4 + 1]!, a[i * 4 + 2]!, a[i * 4 + 3]!, this.port[i]!);
    let j = this.buckets[b]!;
    if (j === i) this.buckets[b] = this.chain[i]!;
    else {
      while (this.chain[j]! !== i) j = this.chain[j]!;
      this.chain[j] = this.chain[i]!;
    }
    const p = this.prev[i]!;
    const nx = this.next[i]!;
    if (p >= 0) this.next[p] = nx;
    else this.lruHead = nx;
    if (nx >= 0) this.prev[nx] = p;
    else this.lruTail = p;
    this.st[i] = NEIGH_FREE;
    this.freeEntries[this.nFreeEntries++] = i;
    this.count--;
  }

  private create(addr: Uint32Array, port: number): number {
    if (this.nFreeEntries === 0) {
      this.stats.evicted++;
      this.remove(this.lruHead);
    }
    const i = this.freeEntries[--this.nFreeEntries]!;
    for (let k = 0; k < 4; k++) this.addr[i * 4 + k] = addr[k]!;
    this.port[i] = port;
    const b = this.bucket(addr, port);
    this.chain[i] = this.buckets[b]!;
    this.buckets[b] = i;
    this.prev[i] = this.lruTail;
    this.next[i] = -1;
    if (this.lruTail >= 0) this.next[this.lruTail] = i;
    else this.lruHead = i;
    this.lruTail = i;
    this.qHead[i] = -1;
    this.qTail[i] = -1;
    this.qCount[i] = 0;
    this.probes[i] = 0;
    this.nextProbe[i] = Infinity;
    this.count++;
    this.stats.created++;
    return i;
  }

  /** Moves entry i to the most recently used end. */
  private touch(i: number): void {
    const p = this.prev[i]!;
    const nx = this.next[i]!;
    if (nx < 0) return;
    if (p >= 0) this.next[p] = nx;
    else this.lruHead = nx;
    this.prev[nx] = p;
    this.prev[i] = this.lruTail;
    this.next[i] = -1;
    this.next[this.lruTail] = i;
    this.lruTail = i;
  }

  private dropHead(i: number): void {
    const s = this.qHead[i]!;
    this.qHead[i] = this.slotNext[s]!;
    if (this.qHead[i]! < 0) this.qTail[i] = -1;
    this.qCount[i]--;
    this.freeSlots[this.nFreeSlots++] = s;
    this.stats.queueDropped++;
  }

  private bucket(addr: Uint32Array, port: number): number {
    return this.bucketOf(addr[0]!, addr[1]!, addr[2]!, addr[3]!, port);
  }

  private bucketOf(a0: number, a1: number, a2: number, a3: number, port: number): number {
    let h = Math.imul(a3 ^ port, 0x9e3779b1);
    h = Math.imul(h ^ a2 ^ (h >>> 15), 0x85ebca6b);
    h = Math.imul(h ^ a1 ^ a0 ^ (h >>> 13), 0xc2b2ae35);
    return (h ^ (h >>> 16)) & (this.buckets.length - 1);
  }
}

/** Writes entry i's MAC into buf[off..off+6) (e.g. an Ethernet destination). */
export function writeNeighbourMac(n: NeighbourCache, i: number, buf: Uint8Array, off: number): void {
  const m = n.macs;
  const o = i * 6;
  wr16(buf, off, (m[o]! << 8) | m[o + 1]!);
  wr16(buf, off + 2, (m[o + 2]! << 8) | m[o + 3]!);
  wr16(buf, off + 4, (m[o + 4]! << 8) | m[o + 5]!);
}
