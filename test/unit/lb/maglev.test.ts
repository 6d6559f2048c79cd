import { describe, expect, it } from 'vitest';
import { MaglevScheduler, maglevSizeProblem } from '../../../src/lb/maglev.js';
import { createScheduler } from '../../../src/lb/schedulers.js';
import { RealPool } from '../../../src/lb/pool.js';
import { clients, ip, poolOf } from './helpers.js';

const M = 65537;
const KEYS = 100_000;

function counts(s: MaglevScheduler, n: number): number[] {
  const c = new Array<number>(n).fill(0);
  for (const r of s.table) c[r]!++;
  return c;
}

function mh(pool: RealPool, m = M): MaglevScheduler {
  return createScheduler('mh', pool, { mhTableSize: m }) as MaglevScheduler;
}

function picks(s: MaglevScheduler, k: { addrs: Uint32Array; ports: Uint16Array }): Int32Array {
  const out = new Int32Array(KEYS);
  for (let i = 0; i < KEYS; i++) out[i] = s.pick(k.addrs.subarray(i * 4, i * 4 + 4), k.ports[i]!);
  return out;
}

describe('mh: table size', () => {
  it('must be prime and at least 100 x reals', () => {
    expect(maglevSizeProblem(65537, 8)).toBeNull();
    expect(maglevSizeProblem(65536, 8)).toMatch(/prime/);
    expect(maglevSizeProblem(1021, 11)).toMatch(/at least 100 x 11/);
    expect(maglevSizeProblem(1.5, 1)).toMatch(/integer/);
    expect(maglevSizeProblem(2 ** 25 + 1, 1)).toMatch(/integer/);
    expect(() => mh(poolOf([1, 1]), 65535)).toThrow(RangeError);
    expect(() => mh(poolOf(new Array<number>(700).fill(1)))).toThrow(/at least 100 x 700/);
    expect(mh(poolOf([1, 1]), 251).m).toBe(251);
  });

  it('reports (does not throw) when the pool outgrows the table later', () => {
    const p = poolOf([1, 1]);
    const s = mh(p, 251);
    expect(s.warning).toBeNull();
    p.add(ip(10, 0, 9, 1), 80);
    expect(s.pick(ip(1, 2, 3, 4), 5)).toBeGreaterThanOrEqual(0);
    expect(s.warning).toMatch(/at least 100 x 3/);
  });
});

describe('mh: balance', () => {
  it('gives every real about M/N entries', () => {
    const s = mh(poolOf(new Array<number>(8).fill(1)));
    expect(s.table.every((r) => r >= 0)).toBe(true);
    for (const c of counts(s, 8)) expect(Math.abs(c - M / 8) / (M / 8)).toBeLessThan(0.03);
    const s100 = mh(poolOf(new Array<number>(100).fill(7)));
    for (const c of counts(s100, 100)) expect(Math.abs(c - M / 100) / (M / 100)).toBeLessThan(0.03);
  });

  it('gives entries in proportion to weights', () => {
    const w = [1, 2, 3, 0, 4];
    const s = mh(poolOf(w));
    const c = counts(s, 5);
    expect(c[3]).toBe(0);
    for (let i = 0; i < 5; i++) expect(Math.abs(c[i]! - (M * w[i]!) / 10)).toBeLessThan(M * 0.01);
  });

  it('maps client tuples evenly and deterministically', () => {
    const p = poolOf([1, 1, 1, 1]);
    const s = mh(p);
    const k = clients(KEYS, 5);
    const a = picks(s, k);
    const c = [0, 0, 0, 0];
    for (const r of a) c[r]!++;
    for (const x of c) expect(Math.abs(x - KEYS / 4) / (KEYS / 4)).toBeLessThan(0.03);
    expect(picks(mh(p), k)).toEqual(a);
  });
});

describe('mh: disruption', () => {
  for (const how of ['remove', 'drain', 'down'] as const) {
    it(`${how} one of 8 reals moves its keys, and at most 2% of the others`, () => {
      const p = poolOf(new Array<number>(8).fill(1));
      const s = mh(p);
      const k = clients(KEYS, 9);
      const before = picks(s, k);
      const gone = 5;
      if (how === 'remove') p.remove(gone);
      else if (how === 'drain') p.setWeight(gone, 0);
      else p.setUp(gone, false);
      s.rebuild();
      const after = picks(s, k);
      let onGone = 0;
      let otherMoved = 0;
      for (let i = 0; i < KEYS; i++) {
        if (before[i] === gone) {
          onGone++;
          expect(after[i]).not.toBe(gone);
        } else if (after[i] !== before[i]) otherMoved++;
      }
      expect(Math.abs(onGone / KEYS - 1 / 8)).toBeLessThan(0.01);
      expect(otherMoved / (KEYS - onGone)).toBeLessThanOrEqual(0.02);
      if (process.env.LB_REPORT) console.log(how, onGone / KEYS, otherMoved / (KEYS - onGone));
      // Bringing it back restores (nearly) every key.
      if (how === 'remove') expect(p.add(ip(10, 0, 2, 11 + gone), 8080)).toBe(gone);
      else if (how === 'drain') p.setWeight(gone, 1);
      else p.setUp(gone, true);
      const back = picks(s, k);
      let same = 0;
      for (let i = 0; i < KEYS; i++) if (back[i] === before[i]) same++;
      expect(same / KEYS).toBeGreaterThanOrEqual(0.98);
    });
  }

  it('adding a 9th real takes about 1/9 of keys, from every real, and moves few others', () => {
    const p = poolOf(new Array<number>(8).fill(1));
    const s = mh(p);
    const k = clients(KEYS, 13);
    const before = picks(s, k);
    const added = p.add(ip(10, 0, 2, 200), 8080);
    const after = picks(s, k);
    let toNew = 0;
    let otherMoved = 0;
    for (let i = 0; i < KEYS; i++) {
      if (after[i] === added) toNew++;
      else if (after[i] !== before[i]) otherMoved++;
    }
    expect(Math.abs(toNew / KEYS - 1 / 9)).toBeLessThan(0.01);
    expect(otherMoved / KEYS).toBeLessThanOrEqual(0.02);
    if (process.env.LB_REPORT) console.log('add', toNew / KEYS, otherMoved / KEYS);
  });
});
