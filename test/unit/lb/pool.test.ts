import { describe, expect, it } from 'vitest';
import { RealPool } from '../../../src/lb/pool.js';
import { ip, poolOf } from './helpers.js';

describe('RealPool', () => {
  it('adds reals with address, port, weight and health; available = weight > 0 && up', () => {
    const p = new RealPool(1);
    const a = p.add(ip(10, 0, 2, 11), 8080, 3);
    const b = p.add(ip(10, 0, 2, 12), 8080, 0);
    const c = p.add(ip(10, 0, 2, 13), 8080, 1, false);
    expect([a, b, c]).toEqual([0, 1, 2]);
    expect(p.count).toBe(3);
    expect(Array.from(p.addr.subarray(0, 4))).toEqual([0, 0, 0xffff, 0x0a00020b]);
    expect(p.port[0]).toBe(8080);
    expect([p.available(a), p.available(b), p.available(c)]).toEqual([true, false, false]);
    expect(p.availableCount()).toBe(1);
    expect(p.find(ip(10, 0, 2, 12), 8080)).toBe(b);
    expect(p.find(ip(10, 0, 2, 12), 80)).toBe(-1);
    expect(() => p.add(ip(10, 0, 2, 11), 8080)).toThrow(/already/);
    expect(() => p.add(ip(10, 0, 2, 14), 8080, -1)).toThrow(RangeError);
    expect(() => p.add(ip(10, 0, 2, 14), 8080, 65536)).toThrow(RangeError);
    expect(() => p.add(ip(10, 0, 2, 14), 70000)).toThrow(RangeError);
  });

  it('counts active and inactive connections (IPVS style) and moves between them', () => {
    const p = poolOf([1]);
    p.connUp(0, false);
    p.connUp(0, false);
    p.connMove(0, false, true);
    expect([p.active(0), p.inactive(0)]).toEqual([1, 1]);
    p.connDown(0, true);
    p.connDown(0, false);
    p.connDown(0, false); // never below zero
    expect([p.active(0), p.inactive(0)]).toEqual([0, 0]);
  });

  it('bumps version on weight, health and membership changes only', () => {
    const p = poolOf([1, 1]);
    let v = p.version;
    p.setWeight(0, 1);
    expect(p.version).toBe(v);
    p.setWeight(0, 2);
    expect(p.version).toBeGreaterThan(v);
    v = p.version;
    p.setUp(1, false);
    expect(p.version).toBeGreaterThan(v);
    v = p.version;
    p.connUp(0, true);
    expect(p.version).toBe(v);
  });

  it('retires a removed real with connections; its slot is reused only after they end', () => {
    const p = poolOf([1, 1]);
    p.connUp(1, true);
    const g = p.gen(1);
    p.remove(1);
    expect(p.isMember(1)).toBe(false);
    expect(p.available(1)).toBe(false);
    expect(p.count).toBe(1);
    const c = p.add(ip(10, 0, 2, 99), 8080);
    expect(c).toBe(2); // slot 1 still retired
    p.connDown(1, true);
    const d = p.add(ip(10, 0, 2, 98), 8080);
    expect(d).toBe(1);
    expect(p.gen(1)).not.toBe(g);
    expect(p.active(1)).toBe(0);
  });

  it('sync keeps index and counters of reals that stay, removes the rest, adds new ones', () => {
    const p = poolOf([1, 2, 3]);
    p.connUp(0, true);
    p.connUp(2, false);
    const idx = p.sync([
      { addr: ip(10, 0, 2, 13), port: 8080, weight: 5 },
      { addr: ip(10, 0, 2, 11), port: 8080, weight: 1, up: false },
      { addr: ip(10, 0, 2, 50), port: 8080, weight: 2 },
    ]);
    expect(Array.from(idx)).toEqual([2, 0, 1]); // the new real reuses the freed slot 1
    expect(p.count).toBe(3);
    expect(p.weight[2]).toBe(5);
    expect(p.active(0)).toBe(1);
    expect(p.inactive(2)).toBe(1);
    expect(p.available(0)).toBe(false);
    expect(p.find(ip(10, 0, 2, 12), 8080)).toBe(-1);
    expect(() =>
      p.sync([
        { addr: ip(10, 0, 2, 13), port: 8080, weight: 1 },
        { addr: ip(10, 0, 2, 13), port: 8080, weight: 1 },
      ]),
    ).toThrow(/duplicate/);
  });

  it('grows past its initial capacity keeping data', () => {
    const p = new RealPool(2);
    for (let i = 0; i < 40; i++) p.add(ip(10, 0, 3, i), 80, i + 1);
    p.connUp(1, true);
    for (let i = 40; i < 80; i++) p.add(ip(10, 0, 3, i), 80, 1);
    expect(p.count).toBe(80);
    expect(p.weight[39]).toBe(40);
    expect(p.active(1)).toBe(1);
    expect(p.find(ip(10, 0, 3, 39), 80)).toBe(39);
  });
});
