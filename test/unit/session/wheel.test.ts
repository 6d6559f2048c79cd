import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { TimerWheel } from '../../../src/session/wheel.js';

function setup(capacity = 8, slots?: number, tickMs?: number) {
  const expires = new Float64Array(capacity);
  const wheel = new TimerWheel(capacity, expires, slots, tickMs);
  const fired: number[] = [];
  const advance = (now: number): number[] => {
    const before = fired.length;
    wheel.advance(now, (id) => fired.push(id));
    return fired.slice(before);
  };
  const at = (id: number, ms: number): void => {
    expires[id] = ms;
    wheel.schedule(id);
  };
  return { expires, wheel, fired, advance, at };
}

const DAY = 86_400_000;

describe('TimerWheel', () => {
  it('expires a session at the first advance at or after its expiry, not before', () => {
    const w = setup();
    expect(w.advance(0)).toEqual([]);
    w.at(1, 1000);
    w.at(2, 1050);
    w.at(3, 1099.5);
    expect(w.advance(500)).toEqual([]);
    expect(w.advance(999)).toEqual([]);
    expect(w.advance(1000)).toEqual([1]);
    expect(w.advance(1000)).toEqual([]);
    expect(w.advance(1049)).toEqual([]);
    expect(w.advance(1050)).toEqual([2]);
    expect(w.advance(1099)).toEqual([]);
    expect(w.advance(1099.5)).toEqual([3]);
    expect(w.advance(5000)).toEqual([]);
    expect(w.fired).toEqual([1, 2, 3]);
    expect([1, 2, 3].map((id) => w.wheel.isScheduled(id))).toEqual([false, false, false]);
  });

  it('expires sessions due in the tick of the last advance (mid-tick scheduling)', () => {
    const w = setup();
    w.advance(1010); // the tick [1000, 1100) has been run
    w.at(1, 1010); // due now: expires at the next advance, even in the same tick
    w.at(2, 1080); // later in the same tick
    w.at(3, 900); // already in the past
    expect(w.advance(1010).sort()).toEqual([1, 3]);
    expect(w.advance(1079)).toEqual([]);
    expect(w.advance(1085)).toEqual([2]);
  });

  it('sessions scheduled before the first advance are not missed', () => {
    const w = setup(8, 16, 10);
    w.at(0, 5);
    w.at(1, 75);
    w.at(2, 170); // beyond the first rotation (16 x 10 ms)
    w.at(3, 1000);
    expect(w.advance(100).sort()).toEqual([0, 1]);
    expect(w.advance(169)).toEqual([]);
    expect(w.advance(170)).toEqual([2]);
    expect(w.advance(999)).toEqual([]);
    expect(w.advance(1000)).toEqual([3]);
  });

  it('a later expiry written without rescheduling delays expiry (lazy refresh)', () => {
    const w = setup();
    w.advance(0);
    w.at(4, 1000);
    w.expires[4] = 30_000; // refreshed in place, no schedule()
    expect(w.advance(1000)).toEqual([]);
    expect(w.wheel.isScheduled(4)).toBe(true);
    w.expires[4] = 45_050; // refreshed again
    expect(w.advance(30_000)).toEqual([]);
    expect(w.advance(45_049)).toEqual([]);
    expect(w.advance(45_050)).toEqual([4]);
    expect(w.wheel.isScheduled(4)).toBe(false);
  });

  it('a shorter expiry needs schedule() again, and then fires early', () => {
    const w = setup();
    w.advance(0);
    w.at(5, 60_000);
    w.at(6, 60_000);
    w.expires[5] = 2000;
    w.wheel.schedule(5); // shortened properly
    w.expires[6] = 2000; // shortened without rescheduling: breaks the invariant, fires late
    expect(w.advance(1999)).toEqual([]);
    expect(w.advance(2000)).toEqual([5]);
    expect(w.advance(59_999)).toEqual([]);
    expect(w.advance(60_000)).toEqual([6]);
  });

  it('schedule() twice keeps one entry; cancel() removes it', () => {
    const w = setup();
    w.advance(0);
    w.at(1, 500);
    w.at(1, 700);
    w.at(2, 500);
    w.wheel.cancel(2);
    w.wheel.cancel(2);
    w.wheel.cancel(3); // never scheduled
    expect(w.wheel.isScheduled(2)).toBe(false);
    expect(w.wheel.isScheduled(1)).toBe(true);
    expect(w.advance(600)).toEqual([]);
    expect(w.advance(10_000)).toEqual([1]);
    expect(w.fired).toEqual([1]);
  });

  it('an expired id may be scheduled again', () => {
    const w = setup();
    w.advance(0);
    w.at(1, 100);
    expect(w.advance(100)).toEqual([1]);
    w.at(1, 300);
    expect(w.advance(299)).toEqual([]);
    expect(w.advance(300)).toEqual([1]);
  });

  it('handles expiries far beyond one rotation (5 days with 4096 x 100 ms)', () => {
    const w = setup(4);
    w.advance(0);
    const exp = 5 * DAY + 123;
    w.at(0, exp);
    w.at(1, 409_600); // exactly one rotation
    w.at(2, 409_500);
    let now = 0;
    const seen: number[] = [];
    // Advance in 7 s steps (70 ticks) across the whole 5 days.
    while (now + 7000 < exp) {
      now += 7000;
      for (const id of w.advance(now)) seen.push(id, now);
    }
    expect(seen).toEqual([2, 413_000, 1, 413_000]);
    expect(w.advance(exp - 1)).toEqual([]);
    expect(w.wheel.isScheduled(0)).toBe(true);
    expect(w.advance(exp)).toEqual([0]);
  });

  it('a huge clock jump expires everything due exactly once, and nothing that is not due', () => {
    const n = 5000;
    const w = setup(n);
    w.advance(0);
    let rnd = 12345;
    const next = (): number => (rnd = (Math.imul(rnd, 1103515245) + 12345) >>> 0);
    for (let id = 0; id < n; id++) w.at(id, next() % (20 * DAY));
    const target = 10 * DAY;
    const fired = w.advance(target);
    const due = [...Array(n).keys()].filter((id) => w.expires[id]! <= target);
    expect(fired.length).toBe(due.length);
    expect([...fired].sort((a, b) => a - b)).toEqual(due);
    expect(due.length).toBeGreaterThan(2000);
    expect(due.length).toBeLessThan(3000);
    for (let id = 0; id < n; id++) expect(w.wheel.isScheduled(id)).toBe(w.expires[id]! > target);
    // The rest expire exactly once later.
    const rest = w.advance(30 * DAY);
    expect(rest.length + fired.length).toBe(n);
    expect(new Set([...fired, ...rest]).size).toBe(n);
  });

  it('ignores a clock that goes backwards', () => {
    const w = setup();
    w.advance(10_000);
    w.at(1, 10_500);
    expect(w.advance(5000)).toEqual([]);
    expect(w.advance(10_499)).toEqual([]);
    expect(w.advance(10_500)).toEqual([1]);
  });

  it('bytesPerSession counts the link arrays: two links of log2(nodes) bits per node', () => {
    const w = setup(1000, 4096, 100);
    // 1000 sessions + 4096 slot sentinels + the due list = 5097 nodes: 13-bit links.
    const words = Math.ceil((5097 * 13) / 32) + 1;
    expect(w.wheel.bytesPerSession()).toBe((2 * words * 4) / 1000);
  });

  it('a million sessions: 20-bit links (5 bytes a session), the highest ids link and expire', () => {
    const cap = 1_000_000;
    const expires = new Float64Array(cap);
    const wheel = new TimerWheel(cap, expires);
    expect(wheel.bytesPerSession()).toBeGreaterThan(5);
    expect(wheel.bytesPerSession()).toBeLessThan(5.03);
    const fired: number[] = [];
    wheel.advance(0, () => {});
    const ids = [0, 1, 31, 32, 524_287, 524_288, cap - 2, cap - 1];
    ids.forEach((id, k) => {
      expires[id] = 1000 + k * 100;
      wheel.schedule(id);
    });
    wheel.cancel(32);
    expect(ids.map((id) => wheel.isScheduled(id))).toEqual(ids.map((id) => id !== 32));
    wheel.advance(1000 + 4 * 100, (id) => fired.push(id));
    expect(fired).toEqual([0, 1, 31, 524_287]);
    wheel.advance(10_000, (id) => fired.push(id));
    expect(fired).toEqual([0, 1, 31, 524_287, 524_288, cap - 2, cap - 1]);
    expect(ids.some((id) => wheel.isScheduled(id))).toBe(false);
  });
});

// ---------- property ----------

type Op =
  | { op: 'schedule'; id: number; delta: number }
  | { op: 'refresh'; id: number; delta: number }
  | { op: 'cancel'; id: number }
  | { op: 'advance'; dt: number };

const N = 12;
const deltaArb = fc.oneof(
  fc.integer({ min: 0, max: 50 }),
  fc.integer({ min: 0, max: 5000 }),
  fc.double({ min: 0, max: 1e6, noNaN: true }),
);
const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({ op: fc.constant('schedule' as const), id: fc.nat(N - 1), delta: deltaArb }),
  },
  {
    weight: 2,
    arbitrary: fc.record({ op: fc.constant('refresh' as const), id: fc.nat(N - 1), delta: deltaArb }),
  },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('cancel' as const), id: fc.nat(N - 1) }) },
  {
    weight: 4,
    arbitrary: fc.record({
      op: fc.constant('advance' as const),
      dt: fc.oneof(
        fc.constant(0),
        fc.integer({ min: 0, max: 30 }),
        fc.integer({ min: 0, max: 3000 }),
        deltaArb,
      ),
    }),
  },
);

describe('TimerWheel property', () => {
  it('random schedule/refresh/cancel/advance: due sessions expire exactly once, others never', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(1, 4, 16, 4096),
        fc.constantFrom(1, 10, 100),
        fc.integer({ min: 0, max: 1e7 }),
        fc.array(opArb, { maxLength: 200 }),
        (slots, tickMs, start, ops) => {
          const expires = new Float64Array(N);
          const wheel = new TimerWheel(N, expires, slots, tickMs);
          const scheduled = new Set<number>();
          let now = start;
          const check = (): void => {
            const expired: number[] = [];
            wheel.advance(now, (id) => {
              // Exactly once: it must still be scheduled, and due.
              expect(scheduled.has(id)).toBe(true);
              expect(expires[id]!).toBeLessThanOrEqual(now);
              scheduled.delete(id);
              expired.push(id);
            });
            for (const id of scheduled) {
              expect(expires[id]! > now, `session ${id} due at ${expires[id]} still pending at ${now}`).toBe(
                true,
              );
            }
            for (let id = 0; id < N; id++) expect(wheel.isScheduled(id)).toBe(scheduled.has(id));
          };
          for (const op of ops) {
            if (op.op === 'schedule') {
              expires[op.id] = now + op.delta;
              wheel.schedule(op.id);
              scheduled.add(op.id);
            } else if (op.op === 'refresh') {
              // Lazy: only later, never rescheduled.
              if (scheduled.has(op.id)) expires[op.id] = Math.max(expires[op.id]!, now + op.delta);
            } else if (op.op === 'cancel') {
              wheel.cancel(op.id);
              scheduled.delete(op.id);
            } else {
              now += op.dt;
              check();
            }
          }
          now += 2e6;
          check();
          expect(scheduled.size).toBe(0);
        },
      ),
      { numRuns: 500 },
    );
  });
});
