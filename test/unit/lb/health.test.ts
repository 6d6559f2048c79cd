import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { HealthChecker, HEALTH_DEFAULTS } from '../../../src/lb/health.js';
import { RealPool } from '../../../src/lb/pool.js';
import { createScheduler } from '../../../src/lb/schedulers.js';
import { poolOf, v4 } from './helpers.js';

const out = new Int32Array(64);

function dueList(hc: HealthChecker, now: number): number[] {
  const n = hc.due(now, out);
  return Array.from(out.subarray(0, n));
}

/** Runs one probe of real `i` at `now`: it must be due, then reports `ok`. */
function probe(hc: HealthChecker, i: number, ok: boolean, now: number): void {
  expect(dueList(hc, now)).toContain(i);
  hc.report(i, ok, now + 1);
}

describe('HealthChecker: config', () => {
  it('defaults are HAProxy-like: inter 2000, rise 2, fall 3, timeout = interval', () => {
    const hc = new HealthChecker(poolOf([1]));
    expect([hc.intervalMs, hc.rise, hc.fall, hc.timeoutMs]).toEqual([2000, 2, 3, 2000]);
    expect(HEALTH_DEFAULTS.intervalMs).toBe(2000);
    expect(new HealthChecker(poolOf([1]), { intervalMs: 500 }).timeoutMs).toBe(500);
    expect(new HealthChecker(poolOf([1]), { intervalMs: 500, timeoutMs: 100 }).timeoutMs).toBe(100);
  });

  it('rejects nonsense', () => {
    const p = poolOf([1]);
    expect(() => new HealthChecker(p, { intervalMs: 0 })).toThrow(RangeError);
    expect(() => new HealthChecker(p, { intervalMs: Infinity })).toThrow(RangeError);
    expect(() => new HealthChecker(p, { timeoutMs: -1 })).toThrow(RangeError);
    expect(() => new HealthChecker(p, { rise: 0 })).toThrow(RangeError);
    expect(() => new HealthChecker(p, { fall: 1.5 })).toThrow(RangeError);
  });
});

describe('HealthChecker: rise and fall', () => {
  it('fall 3: two failures keep an up real up, the third takes it down', () => {
    const pool = poolOf([1]);
    const hc = new HealthChecker(pool, { intervalMs: 100, rise: 2, fall: 3 });
    probe(hc, 0, false, 0);
    probe(hc, 0, false, 100);
    expect(pool.up[0]).toBe(1);
    expect(hc.failures(0)).toBe(2);
    expect(hc.status(0)).toBe('UP 2/3');
    probe(hc, 0, false, 200);
    expect(pool.up[0]).toBe(0);
    expect(hc.status(0)).toBe('DOWN');
    expect(hc.transitions).toBe(1);
  });

  it('rise 2: one success keeps a down real down, the second brings it up', () => {
    const pool = poolOf([1], [false]);
    const hc = new HealthChecker(pool, { intervalMs: 100, rise: 2, fall: 3 });
    probe(hc, 0, true, 0);
    expect(pool.up[0]).toBe(0);
    expect(hc.status(0)).toBe('DOWN 1/2');
    probe(hc, 0, true, 100);
    expect(pool.up[0]).toBe(1);
    expect(hc.status(0)).toBe('UP');
    expect(hc.successes(0)).toBe(2);
  });

  it('a success resets the failure count and a failure resets the success count', () => {
    const pool = poolOf([1]);
    const hc = new HealthChecker(pool, { intervalMs: 100, rise: 2, fall: 3 });
    const seq = [false, false, true, false, false, true, false, false];
    seq.forEach((ok, k) => probe(hc, 0, ok, k * 100));
    expect(pool.up[0]).toBe(1);
    expect(hc.failures(0)).toBe(2);
    expect(hc.successes(0)).toBe(0);
    probe(hc, 0, false, 1000);
    expect(pool.up[0]).toBe(0);
  });

  it('alternating results never flap, whichever state the real starts in', () => {
    for (const start of [true, false]) {
      const pool = poolOf([1], [start]);
      const hc = new HealthChecker(pool, { intervalMs: 10 });
      for (let k = 0; k < 50; k++) probe(hc, 0, k % 2 === 0, k * 10);
      expect(pool.up[0]).toBe(start ? 1 : 0);
      expect(hc.transitions).toBe(0);
    }
  });

  it('rise 1 / fall 1 follow every result', () => {
    const pool = poolOf([1]);
    const hc = new HealthChecker(pool, { intervalMs: 10, rise: 1, fall: 1 });
    probe(hc, 0, false, 0);
    expect(pool.up[0]).toBe(0);
    probe(hc, 0, true, 10);
    expect(pool.up[0]).toBe(1);
    expect(hc.transitions).toBe(2);
  });

  it('the pool flag is the truth: a state set from outside is kept and judged against', () => {
    const pool = poolOf([1]);
    const hc = new HealthChecker(pool, { intervalMs: 10, rise: 2, fall: 3 });
    probe(hc, 0, true, 0);
    pool.setUp(0, false); // operator
    probe(hc, 0, true, 10); // second consecutive success: comes up
    expect(pool.up[0]).toBe(1);
    expect(hc.transitions).toBe(1);
  });
});

describe('HealthChecker: timeouts', () => {
  it('a probe unanswered past the timeout counts as a failure', () => {
    const pool = poolOf([1]);
    const hc = new HealthChecker(pool, { intervalMs: 1000, timeoutMs: 300, fall: 2 });
    expect(dueList(hc, 0)).toEqual([0]);
    hc.expire(299);
    expect(hc.failures(0)).toBe(0);
    expect(hc.inFlightNow(0)).toBe(true);
    hc.expire(300);
    expect(hc.failures(0)).toBe(1);
    expect(hc.inFlightNow(0)).toBe(false);
    expect(dueList(hc, 1000)).toEqual([0]);
    hc.expire(1300);
    expect(pool.up[0]).toBe(0);
  });

  it('a late answer after the timeout is ignored (counted as stale)', () => {
    const pool = poolOf([1]);
    const hc = new HealthChecker(pool, { intervalMs: 1000, timeoutMs: 300 });
    dueList(hc, 0);
    hc.expire(400);
    hc.report(0, true, 450);
    expect(hc.successes(0)).toBe(0);
    expect(hc.failures(0)).toBe(1);
    expect(hc.staleReports).toBe(1);
    hc.report(0, true, 460); // duplicate
    expect(hc.staleReports).toBe(2);
  });

  it('due() expires timed-out probes itself, so a forgotten expire() cannot block a real', () => {
    const pool = poolOf([1]);
    const hc = new HealthChecker(pool, { intervalMs: 1000, fall: 3 });
    for (let k = 0; k < 3; k++) expect(dueList(hc, k * 1000)).toEqual([0]);
    expect(hc.failures(0)).toBe(2);
    expect(dueList(hc, 3000)).toEqual([0]);
    expect(pool.up[0]).toBe(0);
  });
});

describe('HealthChecker: scheduling', () => {
  it('due returns each real once per interval', () => {
    const pool = poolOf([1, 1, 1]);
    const hc = new HealthChecker(pool, { intervalMs: 2000 });
    expect(dueList(hc, 0)).toEqual([0, 1, 2]);
    [0, 1, 2].forEach((i) => hc.report(i, true, 5));
    expect(dueList(hc, 5)).toEqual([]);
    expect(dueList(hc, 1999)).toEqual([]);
    expect(dueList(hc, 2000)).toEqual([0, 1, 2]);
    [0, 1, 2].forEach((i) => hc.report(i, true, 2005));
    expect(dueList(hc, 3000)).toEqual([]);
    expect(dueList(hc, 4000)).toEqual([0, 1, 2]);
  });

  it('a real is not probed again while its probe is in flight', () => {
    const pool = poolOf([1, 1]);
    const hc = new HealthChecker(pool, { intervalMs: 100, timeoutMs: 1000 });
    expect(dueList(hc, 0)).toEqual([0, 1]);
    hc.report(1, true, 10);
    expect(dueList(hc, 100)).toEqual([1]); // 0 still in flight
    expect(dueList(hc, 500)).toEqual([]); // 1 in flight now too
    hc.report(0, true, 600);
    expect(dueList(hc, 600)).toEqual([0]); // overdue: probed at once
    expect(dueList(hc, 1100)).toEqual([1]); // 1's probe from t=100 timed out at 1100, and it is due
    expect(hc.failures(1)).toBe(1);
  });

  it('fills at most out.length; the rest stay due', () => {
    const pool = poolOf([1, 1, 1]);
    const hc = new HealthChecker(pool);
    const small = new Int32Array(2);
    expect(hc.due(0, small)).toBe(2);
    expect(Array.from(small)).toEqual([0, 1]);
    expect(hc.due(0, small)).toBe(1);
    expect(small[0]).toBe(2);
  });

  it('removed reals are ignored; a reused slot starts afresh', () => {
    const pool = poolOf([1, 1]);
    const hc = new HealthChecker(pool, { intervalMs: 100, fall: 2 });
    probe(hc, 1, false, 0);
    expect(hc.failures(1)).toBe(1);
    dueList(hc, 100); // both in flight
    pool.remove(1);
    hc.report(1, false, 110);
    expect(hc.transitions).toBe(0);
    expect(hc.status(1)).toBe('');
    hc.report(0, true, 110);
    expect(dueList(hc, 200)).toEqual([0]);
    hc.report(0, true, 210);
    const j = pool.add(v4(0x0a000263), 80);
    expect(j).toBe(1); // slot reused (no connections were open)
    expect(hc.failures(1)).toBe(0);
    expect(dueList(hc, 250)).toEqual([1]); // new real: probed at once
    hc.report(1, false, 260);
    expect(pool.up[1]).toBe(1); // one failure of two
  });

  it('follows the pool when it grows', () => {
    const pool = new RealPool(1);
    pool.add(v4(0x0a000001), 80);
    const hc = new HealthChecker(pool, { intervalMs: 100, rise: 1, fall: 1 });
    expect(dueList(hc, 0)).toEqual([0]);
    for (let k = 2; k <= 9; k++) pool.add(v4(0x0a000000 + k), 80);
    expect(dueList(hc, 10)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    hc.report(8, false, 20);
    expect(pool.up[8]).toBe(0);
  });
});

describe('HealthChecker: transitions and schedulers', () => {
  it('counts transitions and reports them to onChange', () => {
    const pool = poolOf([1, 1]);
    const hc = new HealthChecker(pool, { intervalMs: 100, rise: 2, fall: 2 });
    const seen: [number, boolean, number][] = [];
    hc.onChange = (i, up, now) => seen.push([i, up, now]);
    const round = (now: number, ok1: boolean): void => {
      for (const i of dueList(hc, now)) hc.report(i, i === 1 ? ok1 : true, now + 1);
    };
    round(0, false);
    round(100, false);
    round(200, true);
    round(300, true);
    expect(seen).toEqual([
      [1, false, 101],
      [1, true, 301],
    ]);
    expect(hc.transitions).toBe(2);
  });

  it('bumps the pool version on a transition; a scheduler stops and resumes picking the real', () => {
    const pool = poolOf([1, 1, 1]);
    const rr = createScheduler('rr', pool);
    const hc = new HealthChecker(pool, { intervalMs: 100, rise: 2, fall: 3 });
    const src = v4(0xc0000201);
    const picks = (n: number): Set<number> => {
      const s = new Set<number>();
      for (let k = 0; k < n; k++) s.add(rr.pick(src, 1000 + k));
      return s;
    };
    expect(picks(6)).toEqual(new Set([0, 1, 2]));
    const v0 = pool.version;
    for (let k = 0; k < 3; k++) {
      const now = k * 100;
      for (const i of dueList(hc, now)) hc.report(i, i !== 1, now + 1);
    }
    expect(pool.up[1]).toBe(0);
    expect(pool.version).toBeGreaterThan(v0);
    expect(picks(12)).toEqual(new Set([0, 2]));
    for (let k = 3; k < 5; k++) {
      const now = k * 100;
      for (const i of dueList(hc, now)) hc.report(i, true, now + 1);
    }
    expect(pool.up[1]).toBe(1);
    expect(picks(6)).toEqual(new Set([0, 1, 2]));
  });
});

describe('HealthChecker: allocation', () => {
  it('due / report / expire keep working over many rounds with one out buffer', () => {
    const pool = poolOf(Array.from({ length: 16 }, () => 1));
    const hc = new HealthChecker(pool, { intervalMs: 10 });
    const buf = new Int32Array(16);
    let total = 0;
    for (let t = 0; t < 10000; t += 10) {
      const n = hc.due(t, buf);
      total += n;
      for (let k = 0; k < n; k++) if (((buf[k]! + t) & 7) !== 0) hc.report(buf[k]!, true, t + 1);
      hc.expire(t + 5);
    }
    expect(total).toBe(16 * 1000);
  });
});

describe('HealthChecker: property', () => {
  it('state equals a simple reference model for random result sequences', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 5 }),
        fc.integer({ min: 1, max: 5 }),
        fc.array(fc.boolean(), { minLength: 1, maxLength: 4 }),
        fc.array(
          fc.record({
            real: fc.nat(),
            result: fc.constantFrom<'ok' | 'fail' | 'timeout'>('ok', 'fail', 'timeout'),
          }),
          { maxLength: 60 },
        ),
        (rise, fall, start, steps) => {
          const n = start.length;
          const pool = poolOf(
            start.map(() => 1),
            start,
          );
          const interval = 100;
          const hc = new HealthChecker(pool, { intervalMs: interval, timeoutMs: 50, rise, fall });
          let changes = 0;
          hc.onChange = () => changes++;
          // reference model
          const up = [...start];
          const okRun = start.map(() => 0);
          const failRun = start.map(() => 0);
          let transitions = 0;
          const buf = new Int32Array(n);
          steps.forEach((s, k) => {
            const now = k * interval;
            const r = s.real % n;
            const got = hc.due(now, buf);
            expect(got).toBe(n); // every real once per interval
            for (let i = 0; i < n; i++) {
              if (i === r) continue;
              hc.report(i, true, now + 1); // others: answered, judged below
              okRun[i]!++;
              failRun[i] = 0;
              if (!up[i] && okRun[i]! >= rise) {
                up[i] = true;
                transitions++;
              }
            }
            if (s.result === 'timeout') hc.expire(now + 50);
            else hc.report(r, s.result === 'ok', now + 10);
            if (s.result === 'ok') {
              okRun[r]!++;
              failRun[r] = 0;
              if (!up[r] && okRun[r]! >= rise) {
                up[r] = true;
                transitions++;
              }
            } else {
              failRun[r]!++;
              okRun[r] = 0;
              if (up[r] && failRun[r]! >= fall) {
                up[r] = false;
                transitions++;
              }
            }
            for (let i = 0; i < n; i++) {
              expect(pool.up[i] === 1).toBe(up[i]);
              expect(hc.successes(i)).toBe(okRun[i]);
              expect(hc.failures(i)).toBe(failRun[i]);
            }
          });
          expect(hc.transitions).toBe(transitions);
          expect(changes).toBe(transitions);
        },
      ),
    );
  });
});
