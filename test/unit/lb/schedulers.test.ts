import { describe, expect, it } from 'vitest';
import { createScheduler, SCHEDULER_NAMES, type SchedulerName } from '../../../src/lb/schedulers.js';
import { SH_TABLE_SIZE, ShScheduler, shBucket } from '../../../src/lb/sh.js';
import { RealPool } from '../../../src/lb/pool.js';
import { clients, ip, poolOf, v4 } from './helpers.js';

const C = ip(192, 0, 2, 1);

function seq(name: SchedulerName, pool: RealPool, n: number): number[] {
  const s = createScheduler(name, pool);
  const out: number[] = [];
  for (let i = 0; i < n; i++) out.push(s.pick(C, 40000 + i));
  return out;
}

describe('rr', () => {
  it('cycles over available reals in order, skipping unavailable ones', () => {
    expect(seq('rr', poolOf([1, 5, 1]), 7)).toEqual([0, 1, 2, 0, 1, 2, 0]);
    expect(seq('rr', poolOf([1, 0, 1, 1], [true, true, true, false]), 5)).toEqual([0, 2, 0, 2, 0]);
  });

  it('continues after the last pick when the pool changes', () => {
    const p = poolOf([1, 1, 1]);
    const s = createScheduler('rr', p);
    expect([s.pick(C, 1), s.pick(C, 1)]).toEqual([0, 1]);
    p.setUp(2, false);
    expect([s.pick(C, 1), s.pick(C, 1)]).toEqual([0, 1]);
    p.add(ip(10, 0, 2, 40), 8080);
    expect([s.pick(C, 1), s.pick(C, 1)]).toEqual([3, 0]);
  });
});

describe('wrr', () => {
  it('follows IPVS stepping: weights 1,2,3 → c b c a b c, repeated', () => {
    expect(seq('wrr', poolOf([1, 2, 3]), 12)).toEqual([2, 1, 2, 0, 1, 2, 2, 1, 2, 0, 1, 2]);
  });

  it('is exactly proportional over each cycle (gcd-reduced) and smooth-ish', () => {
    const weights = [4, 2, 6, 0, 10];
    const p = poolOf(weights);
    const s = createScheduler('wrr', p);
    const cycle = (4 + 2 + 6 + 10) / 2; // gcd 2
    const counts = new Array<number>(weights.length).fill(0);
    let run = 0;
    let maxRun = 0;
    let prev = -1;
    for (let i = 0; i < cycle * 100; i++) {
      const r = s.pick(C, 1);
      counts[r]!++;
      run = r === prev ? run + 1 : 1;
      maxRun = Math.max(maxRun, run);
      prev = r;
      if ((i + 1) % cycle === 0) expect(counts.map((c) => c / ((i + 1) / cycle))).toEqual([2, 1, 3, 0, 5]);
    }
    // The heaviest real repeats at most (max-second)/gcd + 1 times in a row.
    expect(maxRun).toBeLessThanOrEqual(3);
  });

  it('recomputes after weight changes and returns -1 when every weight is 0', () => {
    const p = poolOf([1, 1]);
    const s = createScheduler('wrr', p);
    s.pick(C, 1);
    p.setWeight(0, 3);
    const got: number[] = [];
    for (let i = 0; i < 8; i++) got.push(s.pick(C, 1));
    expect(got.filter((r) => r === 0).length).toBe(6);
    p.setWeight(0, 0);
    p.setWeight(1, 0);
    expect(s.pick(C, 1)).toBe(-1);
  });
});

describe('lc and wlc', () => {
  it('lc picks the least overhead (active*256 + inactive), ties to the lowest index', () => {
    const p = poolOf([1, 1, 1]);
    const s = createScheduler('lc', p);
    expect(s.pick(C, 1)).toBe(0);
    p.connUp(0, false);
    expect(s.pick(C, 1)).toBe(1);
    p.connUp(1, true); // 256
    p.connUp(2, false);
    p.connUp(2, false); // 2
    expect(s.pick(C, 1)).toBe(0); // 1
    for (let i = 0; i < 300; i++) p.connUp(0, false); // 301 > 256
    expect(s.pick(C, 1)).toBe(2);
    for (let i = 0; i < 300; i++) p.connUp(2, false);
    expect(s.pick(C, 1)).toBe(1);
  });

  it('lc balances connections when counters are updated between picks', () => {
    const p = poolOf([1, 1, 1, 1]);
    const s = createScheduler('lc', p);
    for (let i = 0; i < 400; i++) p.connUp(s.pick(C, 1), true);
    expect([0, 1, 2, 3].map((i) => p.active(i))).toEqual([100, 100, 100, 100]);
    // Ending sessions on real 2 makes it the target.
    for (let i = 0; i < 10; i++) p.connDown(2, true);
    for (let i = 0; i < 10; i++) {
      expect(s.pick(C, 1)).toBe(2);
      p.connUp(2, true);
    }
  });

  it('wlc spreads connections in proportion to weight', () => {
    const p = poolOf([1, 2, 5]);
    const s = createScheduler('wlc', p);
    for (let i = 0; i < 800; i++) p.connUp(s.pick(C, 1), true);
    expect([0, 1, 2].map((i) => p.active(i))).toEqual([100, 200, 500]);
  });

  it('wlc compares overhead/weight by cross-multiplication', () => {
    const p = poolOf([3, 2]);
    const s = createScheduler('wlc', p);
    for (let i = 0; i < 3; i++) p.connUp(0, true); // 768/3 = 256
    for (let i = 0; i < 2; i++) p.connUp(1, true); // 512/2 = 256: tie → first
    expect(s.pick(C, 1)).toBe(0);
    p.connUp(0, false); // 769/3 > 256
    expect(s.pick(C, 1)).toBe(1);
  });
});

describe('sh', () => {
  it('fills 256 buckets by weight, cycling over reals in order', () => {
    const s = new ShScheduler(poolOf([1, 2, 0, 3]));
    expect(Array.from(s.table.subarray(0, 12))).toEqual([0, 1, 1, 3, 3, 3, 0, 1, 1, 3, 3, 3]);
    const counts = [0, 0, 0, 0];
    for (const r of s.table) counts[r]!++;
    expect(counts).toEqual([43, 86, 0, 127]); // 42 cycles of 6, then 0,1,1,3
  });

  it('scales weights summing past 256 so that every real keeps buckets (IPVS would starve the last)', () => {
    const count = (w: number[]): number[] => {
      const c = new Array<number>(w.length).fill(0);
      for (const r of new ShScheduler(poolOf(w)).table) c[r]!++;
      return c;
    };
    expect(count([200, 200])).toEqual([128, 128]);
    expect(count([1000, 1, 3000])).toEqual([64, 1, 191]);
    const p = poolOf([256, 1], [false, true]);
    expect(createScheduler('sh', p).pick(C, 1)).toBe(1);
  });

  it('is stable per source (ignores the port) and spreads sources', () => {
    const p = poolOf([1, 1, 1, 1]);
    const s = createScheduler('sh', p);
    const { addrs } = clients(20000, 7);
    const counts = [0, 0, 0, 0];
    for (let i = 0; i < 20000; i++) {
      const a = addrs.subarray(i * 4, i * 4 + 4);
      const r = s.pick(a, 1000);
      expect(s.pick(a, 2000)).toBe(r);
      counts[r]!++;
    }
    for (const c of counts) expect(Math.abs(c - 5000)).toBeLessThan(500);
    // Sequential IPv4 clients spread too (multiplicative hash).
    const seen = new Set<number>();
    for (let i = 0; i < 8; i++) seen.add(shBucket(v4(0xc0000200 + i)));
    expect(seen.size).toBe(8);
  });

  it('a down real keeps its buckets: its clients fall back to the next buckets, others stay', () => {
    const p = poolOf([1, 1, 1]);
    const s = createScheduler('sh', p);
    const { addrs } = clients(3000, 3);
    const before = Array.from({ length: 3000 }, (_, i) => s.pick(addrs.subarray(i * 4, i * 4 + 4), 1));
    p.setUp(1, false);
    for (let i = 0; i < 3000; i++) {
      const r = s.pick(addrs.subarray(i * 4, i * 4 + 4), 1);
      if (before[i] === 1) expect(r).not.toBe(1);
      else expect(r).toBe(before[i]);
    }
    p.setUp(1, true);
    for (let i = 0; i < 3000; i++) expect(s.pick(addrs.subarray(i * 4, i * 4 + 4), 1)).toBe(before[i]);
    expect(SH_TABLE_SIZE).toBe(256);
  });
});

describe('every scheduler', () => {
  it.each(SCHEDULER_NAMES)('%s: drained and down reals get no new picks; none available → -1', (name) => {
    const p = poolOf([2, 0, 3, 1], [true, true, false, true]);
    const s = createScheduler(name, p);
    const { addrs, ports } = clients(2000, 11);
    const seen = new Set<number>();
    for (let i = 0; i < 2000; i++) {
      const r = s.pick(addrs.subarray(i * 4, i * 4 + 4), ports[i]!);
      if (name === 'lc' || name === 'wlc') p.connUp(r, true);
      seen.add(r);
    }
    expect([...seen].sort()).toEqual([0, 3]);
    p.setWeight(0, 0);
    p.setUp(3, false);
    expect(s.pick(C, 1)).toBe(-1);
    p.setUp(2, true);
    expect(s.pick(C, 1)).toBe(2);
    s.rebuild();
    expect(s.pick(C, 1)).toBe(2);
    expect(createScheduler(name, new RealPool()).pick(C, 1)).toBe(-1);
    expect(s.warning).toBeNull();
  });

  it('rejects unknown names', () => {
    expect(() => createScheduler('dh' as SchedulerName, poolOf([1]))).toThrow(RangeError);
  });
});
