/**
 * Seeded 32-bit hashes for the load balancer (murmur3-style mixing). Pure,
 * allocation-free. Kept local to `src/lb/` so the schedulers depend on no
 * sibling feature folder.
 */

export function mix(h: number, w: number): number {
  w = Math.imul(w, 0xcc9e2d51);
  w = (w << 15) | (w >>> 17);
  w = Math.imul(w, 0x1b873593);
  h ^= w;
  h = (h << 13) | (h >>> 19);
  return (Math.imul(h, 5) + 0xe6546b64) | 0;
}

export function finish(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** Hash of the 4 address words at `a[at..at+3]` and one extra word (a port, or 0). */
export function hashAddr(seed: number, a: Uint32Array, at: number, extra: number): number {
  let h = mix(seed, extra);
  h = mix(h, a[at]!);
  h = mix(h, a[at + 1]!);
  h = mix(h, a[at + 2]!);
  h = mix(h, a[at + 3]!);
  return finish(h);
}

/** True when `n` is prime (trial division; n is a table size, at most ~2^24). */
export function isPrime(n: number): boolean {
  if (!Number.isInteger(n) || n < 2) return false;
  if (n % 2 === 0) return n === 2;
  for (let d = 3; d * d <= n; d += 2) if (n % d === 0) return false;
  return true;
}

export function gcd(a: number, b: number): number {
  while (b !== 0) {
    const t = a % b;
    a = b;
    b = t;
  }
  return a;
}
