import { describe, expect, it } from 'vitest';
import {
  FRAG_COMPLETE,
  FRAG_HELD,
  FRAG_NO_MEMORY,
  Reassembler,
  type ReassemblyStats,
} from '../../../src/l3/reassembly.js';
import {
  buildDatagram,
  bytes,
  evenPieces,
  feed,
  fragment,
  fragmentableLen,
  sameBytes,
} from './frag-fixture.js';

function twoPart(v: 4 | 6, id: number, size = 1000): Uint8Array[] {
  const w = buildDatagram({ v, id, payload: bytes(size, id + 1) });
  return fragment(w, evenPieces(fragmentableLen(w), 512), id);
}

function totalDrops(s: ReassemblyStats): number {
  return Object.values(s.dropped).reduce((a, b) => a + b, 0);
}

describe('timeouts (device time)', () => {
  it('expires a partial datagram timeoutMs after its first fragment', () => {
    const r = new Reassembler({ timeoutMs: 30000 });
    const [a, b] = twoPart(4, 1);
    expect(feed(r, a, 1000)).toBe(FRAG_HELD);
    expect(r.expire(30999)).toBe(0);
    expect(r.stats.held).toBe(1);
    expect(r.expire(31000)).toBe(1);
    expect(r.stats).toMatchObject({ held: 0, heldFragments: 0, heldBytes: 0, droppedFragments: 1 });
    expect(r.stats.dropped['frag-timeout']).toBe(1);
    // The late second half starts a new datagram that does not complete.
    expect(feed(r, b, 31001)).toBe(FRAG_HELD);
  });

  it('add() expires stale datagrams itself, and later fragments do not refresh the timer', () => {
    const r = new Reassembler({ timeoutMs: 1000 });
    const w = buildDatagram({ v: 6, payload: bytes(3000, 2) });
    const f = fragment(w, evenPieces(fragmentableLen(w), 1024));
    expect(feed(r, f[0], 0)).toBe(FRAG_HELD);
    expect(feed(r, f[1], 900)).toBe(FRAG_HELD);
    expect(feed(r, f[2], 1000)).toBe(FRAG_HELD); // the first two expired just before
    expect(r.stats.dropped['frag-timeout']).toBe(1);
    expect(r.stats.droppedFragments).toBe(2);
    expect(r.stats.held).toBe(1);
  });

  it('expires in age order and stops at the first young one', () => {
    const r = new Reassembler({ timeoutMs: 100 });
    for (let i = 0; i < 10; i++) feed(r, twoPart(4, i)[0], i * 10);
    expect(r.expire(145)).toBe(5); // born at 0..40
    expect(r.stats.held).toBe(5);
    expect(r.expire(1e9)).toBe(5);
  });
});

describe('limits', () => {
  it('evicts the oldest partial datagram when all slots are busy', () => {
    const r = new Reassembler({ maxDatagrams: 4 });
    const parts = Array.from({ length: 6 }, (_, i) => twoPart(4, i));
    for (const p of parts) expect(feed(r, p[0])).toBe(FRAG_HELD);
    expect(r.stats.held).toBe(4);
    expect(r.stats.dropped['frag-no-memory']).toBe(2);
    // 0 and 1 were evicted; their second halves start new datagrams.
    expect(feed(r, parts[0][1])).toBe(FRAG_HELD);
    expect(feed(r, parts[5][1])).toBe(FRAG_COMPLETE);
    expect(feed(r, parts[4][1])).toBe(FRAG_COMPLETE);
  });

  it('refuses a datagram that cannot fit even alone', () => {
    const r = new Reassembler({ maxBytes: 4096 });
    const w = buildDatagram({ v: 4, payload: bytes(6000, 3) });
    const f = fragment(w, evenPieces(fragmentableLen(w), 1480));
    expect(feed(r, f[0])).toBe(FRAG_HELD);
    expect(feed(r, f[1])).toBe(FRAG_HELD);
    expect(feed(r, f[2])).toBe(FRAG_NO_MEMORY); // 3 x 1536 pool bytes > 4096
    expect(r.stats).toMatchObject({ held: 0, heldBytes: 0, droppedFragments: 3 });
  });

  it('holds at most maxBytes under a flood of incomplete datagrams, and still reassembles', () => {
    const maxBytes = 64 * 1024;
    const r = new Reassembler({ maxBytes, maxDatagrams: 256 });
    let seed = 7;
    const rnd = (n: number) => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return (seed >>> 8) % n;
    };
    let max = 0;
    let fed = 0;
    for (let i = 0; i < 5000; i++) {
      const v = rnd(2) ? 4 : 6;
      const size = 64 + rnd(1400);
      const w = buildDatagram({
        v,
        id: i,
        payload: bytes(size, i + 1),
        src: v === 4 ? [10, 9, i >>> 8, i & 255] : undefined,
      });
      const f = fragment(w, evenPieces(fragmentableLen(w), 8 * (8 + rnd(100))), i);
      // All but the last piece: never completes.
      for (let k = 0; k < f.length - 1; k++) {
        const code = feed(r, f[k], i);
        expect(code).toBe(FRAG_HELD);
        fed++;
        max = Math.max(max, r.stats.heldBytes);
        expect(r.stats.heldBytes).toBeLessThanOrEqual(maxBytes);
        expect(r.stats.held).toBeLessThanOrEqual(256);
      }
    }
    expect(max).toBeGreaterThan(maxBytes - 2048);
    expect(r.stats.dropped['frag-no-memory']).toBeGreaterThan(0);
    // Every frame fed is either still held or was dropped.
    expect(r.stats.heldFragments + r.stats.droppedFragments).toBe(fed);
    expect(totalDrops(r.stats)).toBe(r.stats.dropped['frag-no-memory']);
    // A legitimate datagram still gets through.
    const w = buildDatagram({ v: 4, id: 0xffff, payload: bytes(3000, 99) });
    const codes = fragment(w, evenPieces(fragmentableLen(w), 1480)).map((f) => feed(r, f, 6000));
    expect(codes.at(-1)).toBe(FRAG_COMPLETE);
    expect(r.datagram.slice(0, r.datagramLen)).toEqual(w);
  });

  it('many interleaved datagrams through a small table all come out right', () => {
    const n = 300;
    const r = new Reassembler({ maxDatagrams: 64, hashSeed: 3 });
    const all = Array.from({ length: n }, (_, i) => {
      const w = buildDatagram({ v: i % 2 ? 4 : 6, id: i, payload: bytes(200 + ((i * 37) % 2000), i + 5) });
      return { w, f: fragment(w, evenPieces(fragmentableLen(w), 256), i) };
    });
    // Feed in waves of 50 datagrams, round robin over their fragments, last fragments first.
    let done = 0;
    for (let wave = 0; wave < n; wave += 50) {
      const group = all.slice(wave, wave + 50).map((d) => ({ ...d, f: [...d.f].reverse() }));
      for (let k = 0; group.some((d) => k < d.f.length); k++) {
        for (const d of group) {
          if (k >= d.f.length) continue;
          const code = feed(r, d.f[k]);
          if (code === FRAG_COMPLETE) {
            expect(sameBytes(r.datagram.subarray(0, r.datagramLen), d.w)).toBe(true);
            done++;
          } else {
            expect(code).toBe(FRAG_HELD);
          }
        }
      }
    }
    expect(done).toBe(n);
    expect(r.stats).toMatchObject({ held: 0, heldBytes: 0, completed: n });
  });

  it('rejects bad configuration', () => {
    expect(() => new Reassembler({ maxDatagrams: 0 })).toThrow(RangeError);
    expect(() => new Reassembler({ maxBytes: 100 })).toThrow(RangeError);
    expect(() => new Reassembler({ timeoutMs: 0 })).toThrow(RangeError);
    expect(() => new Reassembler({ maxFragmentsPerDatagram: 1.5 })).toThrow(RangeError);
  });
});
