/**
 * `mh`: Maglev consistent hashing (Eisenbud et al., NSDI 2016), as IPVS's
 * ip_vs_mh does it.
 *
 * - Lookup table of prime size M (default 65537; must be prime and >= 100 x
 *   the number of reals, checked by `maglevSizeProblem`).
 * - Each real has a permutation of 0..M-1 from two hashes of its address and
 *   port: offset = h1 mod M, skip = h2 mod (M-1) + 1 (M prime, so every skip
 *   visits every entry); permutation[j] = (offset + j*skip) mod M.
 * - Population: rounds over the available reals in index order; in each round
 *   a real claims `weight / gcd(weights)` entries (IPVS's "turns"), each the
 *   next entry of its permutation not yet taken, until the table is full. So
 *   reals hold entries in proportion to their weights.
 * - Only available reals (weight > 0 and up) are placed: draining, failing,
 *   adding or removing a real rebuilds the table, and Maglev's permutations
 *   keep most other entries where they were (the paper measures a few percent
 *   extra disruption).
 * - A client maps to entry hash(source address, source port) mod M. The port
 *   is included (IPVS's `mh-port` flag), so one client's connections spread
 *   over the reals; use persistence to pin a client.
 */
import { gcd, hashAddr, isPrime } from './hash.js';
import type { RealPool } from './pool.js';
import type { Scheduler } from './schedulers.js';

export const MAGLEV_DEFAULT_SIZE = 65537;
export const MAGLEV_MAX_SIZE = 1 << 24;
const SEED_OFFSET = 0x2545f491;
const SEED_SKIP = 0x9e3779b9;
const SEED_LOOKUP = 0x68e31da4;

/** Why `m` is not a usable table size for `reals` reals, or null when it is. */
export function maglevSizeProblem(m: number, reals: number): string | null {
  if (!Number.isInteger(m) || m < 3 || m > MAGLEV_MAX_SIZE) {
    return `mh table size ${m} must be an integer in 3..${MAGLEV_MAX_SIZE}`;
  }
  if (!isPrime(m)) return `mh table size ${m} must be prime (e.g. 65537)`;
  if (m < 100 * reals) return `mh table size ${m} must be at least 100 x ${reals} reals = ${100 * reals}`;
  return null;
}

/** The table entry a client (4 address words, source port) maps to. */
export function maglevEntry(m: number, srcAddr: Uint32Array, srcPort: number): number {
  return hashAddr(SEED_LOOKUP, srcAddr, 0, srcPort) % m;
}

export class MaglevScheduler implements Scheduler {
  readonly name = 'mh';
  readonly m: number;
  /** Real index per entry, -1 when no real is available. */
  readonly table: Int32Array;
  private built = -1;
  private problem: string | null = null;
  // Build scratch, per slot; grown with the pool.
  private ids = new Int32Array(0);
  private pos = new Uint32Array(0);
  private skip = new Uint32Array(0);
  private turns = new Uint32Array(0);

  constructor(
    private readonly pool: RealPool,
    m = MAGLEV_DEFAULT_SIZE,
  ) {
    const p = maglevSizeProblem(m, 0);
    if (p) throw new RangeError(p);
    this.m = m;
    this.table = new Int32Array(m).fill(-1);
    this.rebuild();
  }

  get warning(): string | null {
    return this.problem;
  }

  rebuild(): void {
    const pool = this.pool;
    const m = this.m;
    this.built = pool.version;
    this.problem = maglevSizeProblem(m, pool.count);
    if (this.ids.length < pool.slots) {
      const c = Math.max(pool.capacity, pool.slots);
      this.ids = new Int32Array(c);
      this.pos = new Uint32Array(c);
      this.skip = new Uint32Array(c);
      this.turns = new Uint32Array(c);
    }
    const { ids, pos, skip, turns, table } = this;
    let n = 0;
    let g = 0;
    for (let i = 0; i < pool.slots; i++) {
      if (!pool.available(i)) continue;
      ids[n++] = i;
      g = gcd(pool.weight[i]!, g);
    }
    table.fill(-1);
    if (n === 0) return;
    for (let k = 0; k < n; k++) {
      const r = ids[k]!;
      const port = pool.port[r]!;
      pos[k] = hashAddr(SEED_OFFSET, pool.addr, r * 4, port) % m;
      skip[k] = (hashAddr(SEED_SKIP, pool.addr, r * 4, port) % (m - 1)) + 1;
      turns[k] = pool.weight[r]! / g;
    }
    let filled = 0;
    while (true) {
      for (let k = 0; k < n; k++) {
        const r = ids[k]!;
        const s = skip[k]!;
        let c = pos[k]!;
        for (let t = turns[k]!; t > 0; t--) {
          while (table[c]! >= 0) {
            c += s;
            if (c >= m) c -= m;
          }
          table[c] = r;
          if (++filled === m) return;
          c += s;
          if (c >= m) c -= m;
        }
        pos[k] = c;
      }
    }
  }

  pick(srcAddr: Uint32Array, srcPort: number): number {
    const pool = this.pool;
    if (this.built !== pool.version) this.rebuild();
    return this.table[hashAddr(SEED_LOOKUP, srcAddr, 0, srcPort) % this.m]!;
  }
}
