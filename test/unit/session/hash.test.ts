import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { hash4, hashTuple, hashTuple4 } from '../../../src/session/hash.js';

/** MurmurHash3-style reference, written independently of hash.ts's unrolled form. */
function reference(words: number[], seed: number): number {
  let h = seed | 0;
  for (const x of words) {
    let w = Math.imul(x, 0xcc9e2d51);
    w = (w << 15) | (w >>> 17);
    w = Math.imul(w, 0x1b873593);
    h ^= w;
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

const u32 = fc.integer({ min: 0, max: 0xffffffff });

describe('tuple hash', () => {
  it('hash4 is hashTuple4 as a signed word, for signed or unsigned arguments', () => {
    fc.assert(
      fc.property(u32, u32, u32, u32, (zp, s, d, p) => {
        const want = reference([zp, p, s, d], 0x9747b28c ^ 0x5bd1e995);
        expect(hashTuple4(zp, s, d, p)).toBe(want);
        expect(hash4(zp, s, d, p)).toBe(want | 0);
        expect(hash4(zp | 0, s | 0, d | 0, p | 0)).toBe(want | 0);
      }),
      { numRuns: 2000 },
    );
  });

  it('hashTuple of IPv4-mapped addresses equals hashTuple4; other addresses hash all 8 words', () => {
    fc.assert(
      fc.property(u32, u32, u32, u32, u32, (zp, s, d, p, x) => {
        const src = Uint32Array.of(0, 0, 0xffff, s);
        const dst = Uint32Array.of(0, 0, 0xffff, d);
        expect(hashTuple(zp, src, 0, dst, 0, p)).toBe(hashTuple4(zp, s, d, p));
        const v6 = Uint32Array.of(0x20010db8, x, 0, s);
        expect(hashTuple(zp, v6, 0, dst, 0, p)).toBe(
          reference([zp, p, 0x20010db8, x, 0, s, 0, 0, 0xffff, d], 0x9747b28c),
        );
      }),
      { numRuns: 500 },
    );
  });
});
