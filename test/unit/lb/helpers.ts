import { RealPool } from '../../../src/lb/pool.js';

/** IPv4 as 4 words (::ffff:a.b.c.d). */
export function v4(addr: number): Uint32Array {
  return Uint32Array.of(0, 0, 0xffff, addr >>> 0);
}

export function ip(a: number, b: number, c: number, d: number): Uint32Array {
  return v4(((a << 24) | (b << 16) | (c << 8) | d) >>> 0);
}

/** Pool of reals 10.0.2.(11+i):8080 (carrying into the third byte past 255) with the given weights. */
export function poolOf(weights: number[], up?: boolean[]): RealPool {
  const p = new RealPool(4);
  weights.forEach((w, i) => p.add(v4(0x0a00020b + i), 8080, w, up ? up[i]! : true));
  return p;
}

/** Deterministic xorshift32 PRNG. */
export function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s;
  };
}

/** `n` random client tuples: addresses (4 words each, IPv4-mapped or IPv6) and ports. */
export function clients(n: number, seed = 1, v6Share = 0.25): { addrs: Uint32Array; ports: Uint16Array } {
  const r = rng(seed);
  const addrs = new Uint32Array(n * 4);
  const ports = new Uint16Array(n);
  for (let i = 0; i < n; i++) {
    if (r() / 2 ** 32 < v6Share) {
      addrs.set([0x20010db8, r(), r(), r()], i * 4);
    } else {
      addrs.set([0, 0, 0xffff, r()], i * 4);
    }
    ports[i] = 1024 + (r() % 64000);
  }
  return { addrs, ports };
}
