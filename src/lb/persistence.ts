/**
 * Persistence (IPVS `-p timeout`): a client address goes to the same real for
 * `timeoutMs` after its last connection. An open-addressing table (linear
 * probing, backward-shift deletion) over typed arrays, keyed by the 4 address
 * words, storing the real, the real's slot generation and an expiry time on
 * the device clock (ms, passed in; no wall clock).
 *
 * - Bounded: at most `maxEntries` entries (the table has >= 2x as many slots).
 *   When full, a new client evicts the entry with the earliest expiry (expired
 *   ones first, since all share one timeout) among the 32 slots from its home
 *   slot; if that window holds none, the next entry after a rotating cursor.
 * - Never stale: `lookup` returns -1 (and forgets the entry) when it expired,
 *   when its real is no longer available (drained, down, removed) or when the
 *   real's slot was given to another real; `pick` then asks the scheduler and
 *   records the new real.
 * - The device calls `pick` for a new session (which refreshes the expiry), and
 *   may call `record` again when a session of the client ends, so the timeout
 *   counts from the client's last connection as in IPVS.
 * - The key is the full client address (IPVS's persistence netmask, -M, is not
 *   implemented).
 */
import { hashAddr } from './hash.js';
import type { RealPool } from './pool.js';
import type { Scheduler } from './schedulers.js';

const SEED = 0x1b56c4e9;
const EVICT_WINDOW = 32;

export class Persistence {
  /** Live entries (including expired ones not yet removed). */
  count = 0;
  readonly maxEntries: number;
  private readonly mask: number;
  private readonly keys: Uint32Array;
  private readonly hashes: Uint32Array;
  /** Real per slot, -1 = empty. */
  private readonly reals: Int32Array;
  private readonly gens: Uint32Array;
  private readonly expires: Float64Array;
  private cursor = 0;

  constructor(
    private readonly pool: RealPool,
    /** May change (config reload): applies from the next `record`. */
    public timeoutMs: number,
    maxEntries = 65536,
  ) {
    if (!(timeoutMs > 0)) throw new RangeError(`persistence timeout ${timeoutMs} must be > 0`);
    if (!Number.isInteger(maxEntries) || maxEntries < 1 || maxEntries > 1 << 24) {
      throw new RangeError(`persistence size ${maxEntries} not in 1..${1 << 24}`);
    }
    this.maxEntries = maxEntries;
    let cap = 8;
    while (cap < maxEntries * 2) cap *= 2;
    this.mask = cap - 1;
    this.keys = new Uint32Array(cap * 4);
    this.hashes = new Uint32Array(cap);
    this.reals = new Int32Array(cap).fill(-1);
    this.gens = new Uint32Array(cap);
    this.expires = new Float64Array(cap);
  }

  /** The real this client is pinned to, or -1 (none, expired, or no longer available). */
  lookup(addr: Uint32Array, nowMs: number): number {
    const i = this.find(addr, hashAddr(SEED, addr, 0, 0));
    if (i < 0) return -1;
    const r = this.reals[i]!;
    if (this.expires[i]! <= nowMs || !this.pool.available(r) || this.gens[i] !== this.pool.gen(r)) {
      this.deleteAt(i);
      return -1;
    }
    return r;
  }

  /** Pins the client to `real` until nowMs + timeoutMs (insert or refresh). */
  record(addr: Uint32Array, real: number, nowMs: number): void {
    const h = hashAddr(SEED, addr, 0, 0);
    let i = this.find(addr, h);
    if (i < 0) {
      if (this.count >= this.maxEntries) this.evict(h);
      i = h & this.mask;
      while (this.reals[i]! >= 0) i = (i + 1) & this.mask;
      this.keys[i * 4] = addr[0]!;
      this.keys[i * 4 + 1] = addr[1]!;
      this.keys[i * 4 + 2] = addr[2]!;
      this.keys[i * 4 + 3] = addr[3]!;
      this.hashes[i] = h;
      this.count++;
    }
    this.reals[i] = real;
    this.gens[i] = this.pool.gen(real);
    this.expires[i] = nowMs + this.timeoutMs;
  }

  /** New session: the pinned real if still valid, else the scheduler's pick; records it. -1 when none. */
  pick(sched: Scheduler, addr: Uint32Array, port: number, nowMs: number): number {
    let r = this.lookup(addr, nowMs);
    if (r < 0) r = sched.pick(addr, port);
    if (r >= 0) this.record(addr, r, nowMs);
    return r;
  }

  /** Forgets a client. */
  forget(addr: Uint32Array): void {
    const i = this.find(addr, hashAddr(SEED, addr, 0, 0));
    if (i >= 0) this.deleteAt(i);
  }

  /** Removes expired entries among the next `budget` slots (incremental; returns how many). */
  sweep(nowMs: number, budget = 1024): number {
    let removed = 0;
    let i = this.cursor;
    for (let k = 0; k < budget; k++) {
      // A deletion may shift a later entry into slot i: look at i again.
      while (this.reals[i]! >= 0 && this.expires[i]! <= nowMs) {
        this.deleteAt(i);
        removed++;
      }
      i = (i + 1) & this.mask;
    }
    this.cursor = i;
    return removed;
  }

  clear(): void {
    this.reals.fill(-1);
    this.count = 0;
  }

  private find(addr: Uint32Array, h: number): number {
    const k = this.keys;
    let i = h & this.mask;
    while (true) {
      if (this.reals[i]! < 0) return -1;
      const o = i * 4;
      if (
        this.hashes[i] === h &&
        k[o] === addr[0] &&
        k[o + 1] === addr[1] &&
        k[o + 2] === addr[2] &&
        k[o + 3] === addr[3]
      ) {
        return i;
      }
      i = (i + 1) & this.mask;
    }
  }

  private evict(h: number): void {
    let victim = -1;
    let i = h & this.mask;
    for (let k = 0; k < EVICT_WINDOW; k++) {
      if (this.reals[i]! >= 0 && (victim < 0 || this.expires[i]! < this.expires[victim]!)) victim = i;
      i = (i + 1) & this.mask;
    }
    if (victim < 0) {
      i = this.cursor;
      while (this.reals[i]! < 0) i = (i + 1) & this.mask;
      victim = i;
      this.cursor = (i + 1) & this.mask;
    }
    this.deleteAt(victim);
  }

  /** Backward-shift deletion: keeps every probe chain unbroken without tombstones. */
  private deleteAt(i: number): void {
    const mask = this.mask;
    let j = i;
    while (true) {
      j = (j + 1) & mask;
      if (this.reals[j]! < 0) break;
      const home = this.hashes[j]! & mask;
      // The entry at j may move to the hole at i unless its home lies cyclically in (i, j].
      const stays = i <= j ? home > i && home <= j : home > i || home <= j;
      if (stays) continue;
      this.keys.copyWithin(i * 4, j * 4, j * 4 + 4);
      this.hashes[i] = this.hashes[j]!;
      this.reals[i] = this.reals[j]!;
      this.gens[i] = this.gens[j]!;
      this.expires[i] = this.expires[j]!;
      i = j;
    }
    this.reals[i] = -1;
    this.count--;
  }
}
