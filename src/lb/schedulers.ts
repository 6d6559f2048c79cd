/**
 * IPVS's schedulers over a RealPool, with IPVS semantics (behaviour learned
 * from Linux net/netfilter/ipvs/ip_vs_{rr,wrr,lc,wlc,sh,mh}.c; no code copied):
 *
 * - `rr`: round robin over available reals in index order, continuing after the
 *   last pick.
 * - `wrr`: IPVS's weighted round robin: a current weight `cw` that starts at the
 *   max weight and steps down by the gcd of the weights each time the walk
 *   passes the head of the list; a real is picked when its weight >= cw. Over a
 *   cycle of (max/gcd) passes each real is picked exactly weight/gcd times
 *   (weights 1,2,3 → c b c a b c).
 * - `lc`: least connections, overhead = active*256 + inactive; ties go to the
 *   lowest index (the first in IPVS's list).
 * - `wlc`: weighted least connections: least overhead/weight, compared by
 *   cross-multiplication (no division); ties to the lowest index. Exact while
 *   active counts stay below 2^29 (products below 2^53).
 * - `sh`, `mh`: see sh.ts and maglev.ts.
 *
 * Every scheduler remembers the pool `version` it was built for and rebuilds
 * lazily on the next pick when the pool changed, so a pick never returns an
 * unavailable real even if the caller forgot `rebuild()`. `pick` allocates
 * nothing.
 */
import { MaglevScheduler, maglevSizeProblem, MAGLEV_DEFAULT_SIZE } from './maglev.js';
import { gcd } from './hash.js';
import { MEMBER, type RealPool } from './pool.js';
import { ShScheduler } from './sh.js';

export type SchedulerName = 'rr' | 'wrr' | 'lc' | 'wlc' | 'sh' | 'mh';
export const SCHEDULER_NAMES: readonly SchedulerName[] = ['rr', 'wrr', 'lc', 'wlc', 'sh', 'mh'];

export interface Scheduler {
  readonly name: SchedulerName;
  /** Real index, or -1 when none is available. Allocates nothing. */
  pick(srcAddr: Uint32Array, srcPort: number): number;
  /** Call after pool changes (weights, health, membership). Also done lazily by `pick`. */
  rebuild(): void;
  /** Non-null when the configuration is unsound for the current pool (mh: table too small for the reals). */
  readonly warning: string | null;
}

export interface SchedulerOptions {
  /** Maglev lookup table size: a prime >= 100 x reals. Default 65537. */
  mhTableSize?: number;
}

/** Throws RangeError for an unknown name or (mh) an invalid table size for the pool. */
export function createScheduler(name: SchedulerName, pool: RealPool, opts?: SchedulerOptions): Scheduler {
  switch (name) {
    case 'rr':
      return new RoundRobin(pool);
    case 'wrr':
      return new WeightedRoundRobin(pool);
    case 'lc':
      return new LeastConn(pool);
    case 'wlc':
      return new WeightedLeastConn(pool);
    case 'sh':
      return new ShScheduler(pool);
    case 'mh': {
      const m = opts?.mhTableSize ?? MAGLEV_DEFAULT_SIZE;
      const problem = maglevSizeProblem(m, pool.count);
      if (problem) throw new RangeError(problem);
      return new MaglevScheduler(pool, m);
    }
    default:
      throw new RangeError(`unknown scheduler ${String(name)}`);
  }
}

export class RoundRobin implements Scheduler {
  readonly name = 'rr';
  readonly warning = null;
  private last = -1;
  constructor(private readonly pool: RealPool) {}

  rebuild(): void {}

  pick(_srcAddr: Uint32Array, _srcPort: number): number {
    const pool = this.pool;
    const n = pool.slots;
    let i = this.last;
    for (let k = 0; k < n; k++) {
      i = i + 1 >= n ? 0 : i + 1;
      if (pool.available(i)) {
        this.last = i;
        return i;
      }
    }
    return -1;
  }
}

export class WeightedRoundRobin implements Scheduler {
  readonly name = 'wrr';
  readonly warning = null;
  /** Current position (-1 = the list head), current weight, max weight, gcd. */
  private cl = -1;
  private cw = 0;
  private mw = 0;
  private di = 0;
  private built = -1;
  constructor(private readonly pool: RealPool) {
    this.rebuild();
  }

  rebuild(): void {
    const pool = this.pool;
    let mw = 0;
    let di = 0;
    for (let i = 0; i < pool.slots; i++) {
      const w = pool.effWeight(i);
      if (w > mw) mw = w;
      if (w > 0) di = gcd(w, di);
    }
    this.mw = mw;
    this.di = di;
    this.cl = -1;
    if (this.cw > mw || di === 0) this.cw = 0;
    this.built = pool.version;
  }

  pick(_srcAddr: Uint32Array, _srcPort: number): number {
    const pool = this.pool;
    if (this.built !== pool.version) this.rebuild();
    const mw = this.mw;
    const di = this.di;
    if (mw === 0) return -1;
    const n = pool.slots;
    let cl = this.cl;
    let cw = this.cw;
    // The max-weight real qualifies at every level: at most the rest of this pass,
    // the head and one more pass (2n+2 steps) find one.
    for (let s = 0; s < 2 * n + 3; s++) {
      if (cl < 0) {
        cw -= di;
        if (cw <= 0) cw = mw;
      }
      cl++;
      if (cl >= n) {
        cl = -1;
        continue;
      }
      if (pool.effWeight(cl) >= cw) {
        this.cl = cl;
        this.cw = cw;
        return cl;
      }
    }
    this.cl = -1;
    this.cw = 0;
    return -1;
  }
}

export class LeastConn implements Scheduler {
  readonly name = 'lc';
  readonly warning = null;
  constructor(private readonly pool: RealPool) {}

  rebuild(): void {}

  pick(_srcAddr: Uint32Array, _srcPort: number): number {
    const { slots, state, weight, up, activeConns, inactiveConns } = this.pool;
    let best = -1;
    let bestOh = 0;
    for (let i = 0; i < slots; i++) {
      if (state[i] !== MEMBER || weight[i] === 0 || up[i] === 0) continue;
      const oh = activeConns[i]! * 256 + inactiveConns[i]!;
      if (best < 0 || oh < bestOh) {
        best = i;
        bestOh = oh;
      }
    }
    return best;
  }
}

export class WeightedLeastConn implements Scheduler {
  readonly name = 'wlc';
  readonly warning = null;
  constructor(private readonly pool: RealPool) {}

  rebuild(): void {}

  pick(_srcAddr: Uint32Array, _srcPort: number): number {
    const { slots, state, weight, up, activeConns, inactiveConns } = this.pool;
    let best = -1;
    let bestOh = 0;
    let bestW = 0;
    for (let i = 0; i < slots; i++) {
      const w = weight[i]!;
      if (state[i] !== MEMBER || w === 0 || up[i] === 0) continue;
      const oh = activeConns[i]! * 256 + inactiveConns[i]!;
      // oh/w < bestOh/bestW  <=>  bestOh*w > oh*bestW (weights > 0)
      if (best < 0 || bestOh * w > oh * bestW) {
        best = i;
        bestOh = oh;
        bestW = w;
      }
    }
    return best;
  }
}

export { MaglevScheduler, maglevSizeProblem, MAGLEV_DEFAULT_SIZE, ShScheduler };
