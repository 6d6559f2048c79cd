/**
 * Health checks of the reals of one pool: the state machine only, HAProxy's
 * semantics (behaviour learned from HAProxy's documentation of `inter`, `rise`,
 * `fall` and `timeout check`; no code copied). Pure: no I/O, no timers, no
 * wall clock. The caller (the live device) asks `due(now)` which reals to
 * probe, sends the probes (TCP SYN / ICMP echo), and reports each answer with
 * `report`; unanswered probes become failures through `expire` (which `due`
 * also runs first, so a caller that forgets it still sees timeouts).
 *
 * - A real starts in the state the pool gives it (`pool.up`), and the pool's
 *   flag stays the truth: a change made by someone else (config reload,
 *   operator) is simply the state the next result is judged against.
 * - An up real goes down after `fall` consecutive failures; a down real comes
 *   up after `rise` consecutive successes. A success resets the failure count
 *   and a failure resets the success count, so alternating results never
 *   change the state (with rise, fall >= 2). As in HAProxy, a real that starts
 *   up needs the full `fall` failures to go down.
 * - Probing: a real is due `intervalMs` after its previous probe was sent
 *   (immediately when first seen), and never while a probe is in flight. A
 *   probe in flight for `timeoutMs` (default: the interval) is a failure.
 * - Results with no probe in flight (late answers after a timeout, duplicates)
 *   are ignored and counted in `staleReports`, so a late reply can never count
 *   twice.
 * - Membership: non-members (free or retired slots) are never probed and
 *   their results ignored. When a slot is handed to a new real (`pool.gen`
 *   changes) its counters restart and it is probed at once.
 * - On a transition: `pool.setUp(i, up)` (schedulers notice through the pool
 *   version), `transitions++`, then `onChange(i, up, now)`.
 * - `due`, `report` and `expire` allocate nothing, except that the per-real
 *   arrays grow once when the pool itself has grown.
 */
import type { RealPool } from './pool.js';

export interface HealthConfig {
  /** Time between probes of one real, ms (HAProxy `inter`). Default 2000. */
  intervalMs: number;
  /** Consecutive successes that bring a down real up. Default 2. */
  rise: number;
  /** Consecutive failures that take an up real down. Default 3. */
  fall: number;
  /** A probe unanswered for this long is a failure. Default = intervalMs. */
  timeoutMs?: number;
}

export const HEALTH_DEFAULTS: Readonly<Required<HealthConfig>> = Object.freeze({
  intervalMs: 2000,
  rise: 2,
  fall: 3,
  timeoutMs: 2000,
});

const MAX_COUNT = 0xffffffff;

export class HealthChecker {
  readonly intervalMs: number;
  readonly timeoutMs: number;
  readonly rise: number;
  readonly fall: number;
  /** Transitions so far: listener for logging/counting. */
  onChange: ((real: number, up: boolean, nowMs: number) => void) | null = null;
  /** Results ignored because no probe of that real was in flight. */
  staleReports = 0;

  private count = 0;
  private gen: Uint32Array;
  private seen: Uint8Array;
  private inFlight: Uint8Array;
  private nextDue: Float64Array;
  private deadline: Float64Array;
  private okRun: Uint32Array;
  private failRun: Uint32Array;

  constructor(
    private readonly pool: RealPool,
    cfg?: Partial<HealthConfig>,
  ) {
    const intervalMs = cfg?.intervalMs ?? HEALTH_DEFAULTS.intervalMs;
    const rise = cfg?.rise ?? HEALTH_DEFAULTS.rise;
    const fall = cfg?.fall ?? HEALTH_DEFAULTS.fall;
    const timeoutMs = cfg?.timeoutMs ?? intervalMs;
    if (!(intervalMs > 0) || !Number.isFinite(intervalMs))
      throw new RangeError(`health interval ${intervalMs} must be > 0 ms`);
    if (!(timeoutMs > 0) || !Number.isFinite(timeoutMs))
      throw new RangeError(`health timeout ${timeoutMs} must be > 0 ms`);
    if (!Number.isInteger(rise) || rise < 1)
      throw new RangeError(`health rise ${rise} must be an integer >= 1`);
    if (!Number.isInteger(fall) || fall < 1)
      throw new RangeError(`health fall ${fall} must be an integer >= 1`);
    this.intervalMs = intervalMs;
    this.timeoutMs = timeoutMs;
    this.rise = rise;
    this.fall = fall;
    const c = pool.capacity;
    this.gen = new Uint32Array(c);
    this.seen = new Uint8Array(c);
    this.inFlight = new Uint8Array(c);
    this.nextDue = new Float64Array(c);
    this.deadline = new Float64Array(c);
    this.okRun = new Uint32Array(c);
    this.failRun = new Uint32Array(c);
  }

  /** Number of up/down transitions so far. */
  get transitions(): number {
    return this.count;
  }

  /**
   * Reals whose probe is due at `nowMs`: fills `out` (at most `out.length`;
   * the rest stay due for the next call), marks them in flight and returns the
   * count. Runs `expire(nowMs)` first.
   */
  due(nowMs: number, out: Int32Array): number {
    this.expire(nowMs);
    const pool = this.pool;
    let n = 0;
    for (let i = 0; i < pool.slots && n < out.length; i++) {
      if (!pool.isMember(i)) continue;
      this.track(i, nowMs);
      if (this.inFlight[i] === 1 || this.nextDue[i]! > nowMs) continue;
      this.inFlight[i] = 1;
      this.deadline[i] = nowMs + this.timeoutMs;
      this.nextDue[i] = nowMs + this.intervalMs;
      out[n++] = i;
    }
    return n;
  }

  /** A probe answered (TCP SYN-ACK / ICMP echo reply: ok) or failed (RST, unreachable, timeout). */
  report(real: number, ok: boolean, nowMs: number): void {
    if (!this.pool.isMember(real) || real >= this.seen.length) return;
    if (this.seen[real] !== 1 || this.gen[real] !== this.pool.gen(real) || this.inFlight[real] !== 1) {
      this.staleReports++;
      return;
    }
    this.inFlight[real] = 0;
    this.result(real, ok, nowMs);
  }

  /** Probes in flight past their timeout count as failures. */
  expire(nowMs: number): void {
    const pool = this.pool;
    const n = Math.min(pool.slots, this.inFlight.length);
    for (let i = 0; i < n; i++) {
      if (this.inFlight[i] !== 1) continue;
      if (!pool.isMember(i) || this.gen[i] !== pool.gen(i)) {
        this.inFlight[i] = 0;
        continue;
      }
      if (nowMs >= this.deadline[i]!) {
        this.inFlight[i] = 0;
        this.result(i, false, nowMs);
      }
    }
  }

  /** Consecutive successful probes of real `i` (0 after a failure). */
  successes(i: number): number {
    return this.known(i) ? this.okRun[i]! : 0;
  }

  /** Consecutive failed probes of real `i` (0 after a success). */
  failures(i: number): number {
    return this.known(i) ? this.failRun[i]! : 0;
  }

  /** Whether a probe of real `i` is awaiting its result. */
  inFlightNow(i: number): boolean {
    return this.known(i) && this.inFlight[i] === 1;
  }

  /**
   * HAProxy-style status for display: "UP", "DOWN", or while a transition is
   * under way "UP 1/3" (up, 1 of the 3 failures that take it down) and
   * "DOWN 1/2" (down, 1 of the 2 successes that bring it up). "" for a
   * non-member.
   */
  status(i: number): string {
    if (!this.pool.isMember(i)) return '';
    if (this.pool.up[i] === 1) {
      const f = this.failures(i);
      return f > 0 ? `UP ${f}/${this.fall}` : 'UP';
    }
    const s = this.successes(i);
    return s > 0 ? `DOWN ${s}/${this.rise}` : 'DOWN';
  }

  private known(i: number): boolean {
    return (
      this.pool.isMember(i) && i < this.seen.length && this.seen[i] === 1 && this.gen[i] === this.pool.gen(i)
    );
  }

  /** Starts tracking slot `i` when it is new (first sight or handed to a new real). */
  private track(i: number, nowMs: number): void {
    if (i >= this.seen.length) this.grow(this.pool.capacity);
    const g = this.pool.gen(i);
    if (this.seen[i] === 1 && this.gen[i] === g) return;
    this.seen[i] = 1;
    this.gen[i] = g;
    this.inFlight[i] = 0;
    this.nextDue[i] = nowMs;
    this.deadline[i] = 0;
    this.okRun[i] = 0;
    this.failRun[i] = 0;
  }

  private result(i: number, ok: boolean, nowMs: number): void {
    const pool = this.pool;
    const up = pool.up[i] === 1;
    if (ok) {
      this.failRun[i] = 0;
      if (this.okRun[i]! < MAX_COUNT) this.okRun[i]!++;
      if (!up && this.okRun[i]! >= this.rise) this.transition(i, true, nowMs);
    } else {
      this.okRun[i] = 0;
      if (this.failRun[i]! < MAX_COUNT) this.failRun[i]!++;
      if (up && this.failRun[i]! >= this.fall) this.transition(i, false, nowMs);
    }
  }

  private transition(i: number, up: boolean, nowMs: number): void {
    this.pool.setUp(i, up);
    this.count++;
    this.onChange?.(i, up, nowMs);
  }

  private grow(cap: number): void {
    const g = <T extends Uint8Array | Uint32Array | Float64Array>(a: T): T => {
      const b = new (a.constructor as new (n: number) => T)(cap);
      b.set(a);
      return b;
    };
    this.gen = g(this.gen);
    this.seen = g(this.seen);
    this.inFlight = g(this.inFlight);
    this.nextDue = g(this.nextDue);
    this.deadline = g(this.deadline);
    this.okRun = g(this.okRun);
    this.failRun = g(this.failRun);
  }
}
