import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  FRAG_COMPLETE,
  FRAG_HELD,
  FRAG_OVERLAP,
  Reassembler,
  fragDropName,
} from '../../../src/l3/reassembly.js';
import {
  buildDatagram,
  bytes,
  checkWhole,
  feed,
  fragment,
  fragmentableLen,
  sameBytes,
  type Piece,
} from './frag-fixture.js';

/** Pieces from sorted cut points (multiples of 8). */
function piecesFrom(total: number, cuts: number[]): Piece[] {
  const pts = [
    0,
    ...[...new Set(cuts.map((c) => c * 8))].filter((c) => c > 0 && c < total).sort((a, b) => a - b),
    total,
  ];
  const out: Piece[] = [];
  for (let i = 0; i + 1 < pts.length; i++)
    out.push({ off: pts[i], len: pts[i + 1] - pts[i], mf: i + 2 < pts.length });
  return out;
}

const datagram = fc.record({
  v: fc.constantFrom(4 as const, 6 as const),
  payload: fc.uint8Array({ minLength: 1, maxLength: 6000 }),
  id: fc.integer({ min: 0, max: 0xffff }),
  cuts: fc.array(fc.integer({ min: 1, max: 760 }), { maxLength: 40 }),
  seed: fc.integer(),
});

function shuffle<T>(xs: T[], seed: number): T[] {
  const a = [...xs];
  let x = seed >>> 0 || 1;
  for (let i = a.length - 1; i > 0; i--) {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    const j = x % (i + 1);
    [a[i], a[j]] = [a[j], a[i]];
  }
  return a;
}

describe('reassembly properties', () => {
  const r = new Reassembler();

  it('random fragmentation in random order reassembles to the original bytes', () => {
    fc.assert(
      fc.property(datagram, ({ v, payload, id, cuts, seed }) => {
        const whole = buildDatagram({ v, payload, id });
        const pieces = piecesFrom(fragmentableLen(whole), cuts);
        const frames = shuffle(fragment(whole, pieces, id), seed);
        const codes = frames.map((f) => feed(r, f));
        expect(codes.slice(0, -1).every((c) => c === FRAG_HELD)).toBe(true);
        expect(codes.at(-1)).toBe(FRAG_COMPLETE);
        expect(sameBytes(r.datagram.subarray(0, r.datagramLen), whole)).toBe(true);
        expect(checkWhole(r.datagram, r.datagramLen)).toMatchObject({
          ok: true,
          isFragment: false,
          ipChecksumOk: true,
          l4ChecksumOk: true,
        });
        expect(r.fragCount).toBe(frames.length);
        for (let i = 0; i < frames.length; i++) {
          expect(sameBytes(r.fragBuf.subarray(r.fragOff[i], r.fragOff[i] + r.fragLen[i]), frames[i])).toBe(
            true,
          );
        }
        expect(r.stats.held).toBe(0);
      }),
      { numRuns: 300 },
    );
  });

  it('one overlapping fragment injected while the datagram is in progress drops it', () => {
    fc.assert(
      fc.property(
        datagram,
        fc.nat(),
        fc.nat(),
        fc.nat(),
        fc.nat(),
        ({ v, payload, id, cuts, seed }, a, b, where, flip) => {
          const whole = buildDatagram({ v, payload, id });
          const total = fragmentableLen(whole);
          const pieces = piecesFrom(total, cuts);
          // The extra piece: MF set, a multiple of 8 long, inside [0, total).
          const units = Math.floor(total / 8);
          fc.pre(units >= 1 && pieces.length >= 2);
          const off = (a % units) * 8;
          const len = (1 + (b % (units - off / 8))) * 8;
          const extra: Piece = { off, len, mf: true };
          const same = pieces.find((p) => p.off === off && p.len === len && p.mf);
          if (same || flip % 2 === 0) extra.xor = 1 + (flip % 255);
          const order = shuffle(pieces, seed);
          // After a real piece it overlaps and before the last real piece: that piece is held then.
          let pi = order.findIndex((p) => p.off < off + len && off < p.off + p.len);
          if (pi === order.length - 1) {
            [order[0], order[pi]] = [order[pi], order[0]];
            pi = 0;
          }
          order.splice(pi + 1 + (where % (order.length - 1 - pi)), 0, extra);
          const frames = fragment(whole, order, id);
          const fresh = new Reassembler();
          const codes = frames.map((f) => feed(fresh, f));
          expect(codes).toContain(FRAG_OVERLAP);
          expect(codes).not.toContain(FRAG_COMPLETE);
          expect(fresh.stats.dropped['frag-overlap']).toBeGreaterThanOrEqual(1);
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('reassembly under arbitrary fragment streams', () => {
  const frag = fc.record({
    v: fc.constantFrom(4 as const, 6 as const),
    key: fc.integer({ min: 0, max: 5 }),
    off: fc.integer({ min: 0, max: 30 }),
    len: fc.integer({ min: 1, max: 240 }),
    mf: fc.boolean(),
    dt: fc.integer({ min: 0, max: 3000 }),
  });

  it('never breaks its bounds, and every frame fed is accounted for', () => {
    fc.assert(
      fc.property(fc.array(frag, { minLength: 1, maxLength: 80 }), (stream) => {
        const r = new Reassembler({
          maxDatagrams: 4,
          maxBytes: 4096,
          maxFragmentsPerDatagram: 6,
          timeoutMs: 10000,
        });
        let now = 0;
        let passed = 0;
        let fed = 0;
        for (const { v, key, off, len, mf, dt } of stream) {
          now += dt;
          if (v === 4 && off === 0 && !mf) continue; // not an IPv4 fragment: never fed
          fed++;
          const whole = buildDatagram({ v, id: key, payload: bytes(400, key + 1) });
          const [f] = fragment(whole, [{ off: off * 8, len, mf }], key);
          const code = feed(r, f, now);
          expect(fragDropName(code)).toMatch(/^frag-/);
          if (code === FRAG_COMPLETE) {
            passed += r.fragCount;
            const d = r.datagram;
            const n = r.datagramLen;
            if (v === 4) {
              expect((d[16] << 8) | d[17]).toBe(n - 14);
              expect(d[20] & 0x3f).toBe(0);
              expect(d[21]).toBe(0);
            } else {
              expect((d[18] << 8) | d[19]).toBe(n - 54);
              expect(d[20]).toBe(17);
            }
            expect(checkWhole(d, n)).toMatchObject({ isFragment: false, ipChecksumOk: true });
          }
          const s = r.stats;
          expect(s.heldBytes).toBeLessThanOrEqual(r.capacityBytes);
          expect(r.capacityBytes).toBeLessThanOrEqual(4096);
          expect(s.held).toBeLessThanOrEqual(4);
          expect(s.heldFragments + s.droppedFragments + passed).toBe(fed);
        }
        r.expire(now + 10000);
        expect(r.stats).toMatchObject({ held: 0, heldFragments: 0, heldBytes: 0 });
      }),
      { numRuns: 300 },
    );
  });
});
