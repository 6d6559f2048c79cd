import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Persistence } from '../../../src/lb/persistence.js';
import { createScheduler } from '../../../src/lb/schedulers.js';
import { ip, poolOf, v4 } from './helpers.js';

const A = ip(192, 0, 2, 1);
const B = ip(192, 0, 2, 2);

describe('Persistence', () => {
  it('sends the same client to the same real within the timeout, and anew after it', () => {
    const p = poolOf([1, 1, 1]);
    const s = createScheduler('rr', p);
    const per = new Persistence(p, 300_000);
    expect(per.pick(s, A, 1000, 0)).toBe(0);
    expect(per.pick(s, B, 1000, 0)).toBe(1);
    expect(per.pick(s, A, 1001, 100_000)).toBe(0); // refreshed: expires at 400 000
    expect(per.pick(s, A, 1002, 399_999)).toBe(0);
    expect(per.lookup(A, 699_998)).toBe(0);
    expect(per.lookup(A, 699_999)).toBe(-1); // expired and forgotten
    expect(per.count).toBe(1);
    expect(per.pick(s, A, 1003, 700_000)).toBe(2); // the scheduler's next pick
  });

  it('record at session end extends the pin (timeout counts from the last connection)', () => {
    const p = poolOf([1, 1]);
    const per = new Persistence(p, 1000);
    per.record(A, 1, 0);
    per.record(A, 1, 5000);
    expect(per.lookup(A, 5999)).toBe(1);
    expect(per.lookup(A, 6000)).toBe(-1);
  });

  it('falls back to the scheduler when the pinned real is drained, down or removed, and re-pins', () => {
    const p = poolOf([1, 1, 1]);
    const s = createScheduler('rr', p);
    const per = new Persistence(p, 60_000);
    expect(per.pick(s, A, 1, 0)).toBe(0);
    p.setWeight(0, 0);
    expect(per.lookup(A, 1)).toBe(-1);
    const r1 = per.pick(s, A, 1, 1);
    expect(r1).not.toBe(0);
    expect(per.pick(s, A, 2, 2)).toBe(r1);
    p.setUp(r1, false);
    const r2 = per.pick(s, A, 1, 3);
    expect([0, r1]).not.toContain(r2);
    p.remove(r2);
    p.setWeight(0, 1);
    expect(per.pick(s, A, 1, 4)).toBe(0);
    // A removed real's slot reused by a new real is not the pinned real.
    per.record(B, 1, 5);
    p.remove(1);
    p.add(ip(10, 9, 9, 9), 80);
    expect(p.available(1)).toBe(true);
    expect(per.lookup(B, 6)).toBe(-1);
  });

  it('all reals unavailable → -1 and nothing recorded', () => {
    const p = poolOf([0, 0]);
    const per = new Persistence(p, 1000);
    expect(per.pick(createScheduler('wlc', p), A, 1, 0)).toBe(-1);
    expect(per.count).toBe(0);
  });

  it('is bounded: evicts the oldest entries when full', () => {
    const p = poolOf([1, 1]);
    const per = new Persistence(p, 1_000_000, 100);
    for (let i = 0; i < 1000; i++) per.record(v4(0x0a000000 + i), i & 1, i);
    expect(per.count).toBe(100);
    // The newest clients are still there; the oldest were evicted.
    let newest = 0;
    for (let i = 950; i < 1000; i++) if (per.lookup(v4(0x0a000000 + i), 1000) === (i & 1)) newest++;
    expect(newest).toBeGreaterThanOrEqual(45);
    let oldest = 0;
    for (let i = 0; i < 100; i++) if (per.lookup(v4(0x0a000000 + i), 1000) >= 0) oldest++;
    expect(oldest).toBe(0);
  });

  it('sweep removes expired entries incrementally', () => {
    const p = poolOf([1]);
    const per = new Persistence(p, 10, 1000);
    for (let i = 0; i < 500; i++) per.record(v4(i), 0, i < 250 ? 0 : 100);
    let removed = 0;
    for (let k = 0; k < 10; k++) removed += per.sweep(50, 256);
    expect(removed).toBe(250);
    expect(per.count).toBe(250);
    for (let i = 250; i < 500; i++) expect(per.lookup(v4(i), 105)).toBe(0);
    expect(() => new Persistence(p, 0)).toThrow(RangeError);
  });

  it('matches a Map model under random record/lookup/forget/sweep (backward-shift deletion)', () => {
    const p = poolOf([1, 1, 1, 1]);
    const op = fc.record({
      kind: fc.constantFrom('record', 'lookup', 'forget', 'sweep'),
      client: fc.integer({ min: 0, max: 63 }),
      real: fc.integer({ min: 0, max: 3 }),
      dt: fc.integer({ min: 0, max: 30 }),
    });
    fc.assert(
      fc.property(fc.array(op, { maxLength: 300 }), (ops) => {
        const per = new Persistence(p, 100, 64); // never full: no eviction
        const model = new Map<number, { real: number; exp: number }>();
        let now = 0;
        for (const o of ops) {
          now += o.dt;
          // Clients share low bits so probe chains collide.
          const addr = o.client & 1 ? v4(o.client << 24) : Uint32Array.of(0x20010db8, 0, o.client, 0);
          const m = model.get(o.client);
          if (o.kind === 'record') {
            per.record(addr, o.real, now);
            model.set(o.client, { real: o.real, exp: now + 100 });
          } else if (o.kind === 'lookup') {
            const want = m && m.exp > now ? m.real : -1;
            if (want < 0) model.delete(o.client);
            expect(per.lookup(addr, now)).toBe(want);
          } else if (o.kind === 'forget') {
            per.forget(addr);
            model.delete(o.client);
          } else {
            per.sweep(now, 1 << 20);
            for (const [c, e] of model) if (e.exp <= now) model.delete(c);
            expect(per.count).toBe(model.size);
          }
        }
      }),
      { numRuns: 300 },
    );
  });
});
