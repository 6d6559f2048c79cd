/**
 * `sh`: IPVS source hashing. A fixed table of 256 buckets is filled by walking
 * the members in index order, giving each real `weight` consecutive buckets and
 * starting over from the first real until all 256 are filled (IPVS's
 * reassign). Weights are bucket counts, as in IPVS. Deviation: when weights
 * sum past 256, IPVS gives the last reals fewer buckets or none; here each
 * weight is scaled to max(1, floor(w * 256 / sum)) first, so every real keeps a
 * share roughly in proportion to its weight.
 *
 * The bucket of a client is a multiplicative (golden-ratio) hash of its
 * address, IPVS's hash_32 of the address folded to 32 bits (IPv4: the address;
 * IPv6: the xor of its four words). The source port is not used (IPVS's
 * default; its `sh-port` flag is not implemented), so a client sticks to one
 * real across connections.
 *
 * Availability, as with IPVS's `sh-fallback` flag (always on here):
 * - drained (weight 0) and removed reals get no buckets: changing a weight or
 *   the membership refills the table (IPVS reassigns on every dest change);
 * - a real that is down keeps its buckets, so the clients of the other reals do
 *   not move; a client whose bucket holds a down real probes the following
 *   buckets (linearly, wrapping) and takes the first available real. When the
 *   real comes back up its clients return to it.
 * - Should no bucket hold an available real (more than 256 reals, the ones
 *   with buckets all down), the pool is scanned from a hashed start, so `pick`
 *   returns -1 only when no real at all is available.
 */
import type { RealPool } from './pool.js';
import type { Scheduler } from './schedulers.js';

export const SH_TABLE_BITS = 8;
export const SH_TABLE_SIZE = 1 << SH_TABLE_BITS;
const GOLDEN_RATIO_32 = 0x61c88647;

/** The bucket of a client address (4 words). */
export function shBucket(a: Uint32Array): number {
  const fold = a[0] === 0 && a[1] === 0 && a[2] === 0xffff ? a[3]! : a[0]! ^ a[1]! ^ a[2]! ^ a[3]!;
  return Math.imul(fold, GOLDEN_RATIO_32) >>> (32 - SH_TABLE_BITS);
}

export class ShScheduler implements Scheduler {
  readonly name = 'sh';
  readonly warning = null;
  /** Real index per bucket, -1 when the pool has no real with weight > 0. */
  readonly table = new Int32Array(SH_TABLE_SIZE).fill(-1);
  private built = -1;
  private filledFor = '';
  private share = new Uint32Array(0);

  constructor(private readonly pool: RealPool) {
    this.rebuild();
  }

  rebuild(): void {
    const pool = this.pool;
    this.built = pool.version;
    // Health changes alone must not refill the table (see module doc).
    let key = '';
    for (let i = 0; i < pool.slots; i++)
      if (pool.isMember(i) && pool.weight[i]! > 0) key += `${i}:${pool.weight[i]},`;
    if (key === this.filledFor) return;
    this.filledFor = key;
    const t = this.table;
    if (this.share.length < pool.slots) this.share = new Uint32Array(pool.capacity);
    const share = this.share;
    let sum = 0;
    for (let i = 0; i < pool.slots; i++) sum += pool.isMember(i) ? pool.weight[i]! : 0;
    for (let i = 0; i < pool.slots; i++) {
      const w = pool.isMember(i) ? pool.weight[i]! : 0;
      share[i] = sum <= SH_TABLE_SIZE || w === 0 ? w : Math.max(1, Math.floor((w * SH_TABLE_SIZE) / sum));
    }
    let r = -1;
    let given = 0;
    for (let b = 0; b < SH_TABLE_SIZE; b++) {
      if (r < 0 || given >= share[r]!) {
        r = this.nextReal(r);
        given = 0;
        if (r < 0) {
          t.fill(-1);
          return;
        }
      }
      t[b] = r;
      given++;
    }
  }

  pick(srcAddr: Uint32Array, _srcPort: number): number {
    const pool = this.pool;
    if (this.built !== pool.version) this.rebuild();
    const t = this.table;
    const h = shBucket(srcAddr);
    for (let k = 0; k < SH_TABLE_SIZE; k++) {
      const r = t[(h + k) & (SH_TABLE_SIZE - 1)]!;
      if (r < 0) return -1;
      if (pool.available(r)) return r;
    }
    const n = pool.slots;
    for (let k = 0, i = h % n; k < n; k++, i = i + 1 >= n ? 0 : i + 1) if (pool.available(i)) return i;
    return -1;
  }

  /** Next member after `r` (wrapping) with weight > 0, or -1. */
  private nextReal(r: number): number {
    const pool = this.pool;
    const n = pool.slots;
    for (let k = 0; k < n; k++) {
      r = r + 1 >= n ? 0 : r + 1;
      if (pool.isMember(r) && pool.weight[r]! > 0) return r;
    }
    return -1;
  }
}
