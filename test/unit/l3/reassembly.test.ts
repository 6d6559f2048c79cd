import { describe, expect, it } from 'vitest';
import {
  FRAG_COMPLETE,
  FRAG_DUPLICATE,
  FRAG_HELD,
  FRAG_MALFORMED,
  FRAG_OVERLAP,
  FRAG_OVERSIZE,
  FRAG_TINY,
  FRAG_TOO_MANY,
  Reassembler,
  fragDropName,
} from '../../../src/l3/reassembly.js';
import {
  buildDatagram,
  bytes,
  checkWhole,
  evenPieces,
  feed,
  fragment,
  fragmentableLen,
  type Piece,
} from './frag-fixture.js';

function out(r: Reassembler): Uint8Array {
  return r.datagram.slice(0, r.datagramLen);
}

function run(r: Reassembler, frames: Uint8Array[], now = 0): number[] {
  return frames.map((f) => feed(r, f, now));
}

describe.each([4, 6] as const)('IPv%i reassembly', (v) => {
  const whole = buildDatagram({ v, payload: bytes(3000, v) });
  const pieces = evenPieces(fragmentableLen(whole), 1232);

  it('in order', () => {
    const r = new Reassembler();
    const frags = fragment(whole, pieces);
    expect(run(r, frags)).toEqual([FRAG_HELD, FRAG_HELD, FRAG_COMPLETE]);
    expect(out(r)).toEqual(whole);
    const c = checkWhole(r.datagram, r.datagramLen);
    expect(c).toMatchObject({
      ok: true,
      isFragment: false,
      l4Proto: 17,
      ipChecksumOk: true,
      l4ChecksumOk: true,
    });
    expect(r.fragCount).toBe(3);
    for (let i = 0; i < 3; i++) {
      expect(r.fragBuf.slice(r.fragOff[i], r.fragOff[i] + r.fragLen[i])).toEqual(frags[i]);
    }
    expect(r.stats).toMatchObject({ held: 0, heldFragments: 0, heldBytes: 0, completed: 1 });
  });

  it('out of order and reversed; fragments come back in arrival order', () => {
    for (const order of [
      [1, 2, 0],
      [2, 1, 0],
      [0, 2, 1],
    ]) {
      const r = new Reassembler();
      const frags = fragment(whole, pieces);
      const fed = order.map((i) => frags[i]);
      expect(run(r, fed).at(-1)).toBe(FRAG_COMPLETE);
      expect(out(r)).toEqual(whole);
      for (let i = 0; i < 3; i++) {
        expect(r.fragBuf.slice(r.fragOff[i], r.fragOff[i] + r.fragLen[i])).toEqual(fed[i]);
      }
    }
  });

  it('keeps the VLAN tag of the first fragment', () => {
    const w = buildDatagram({ v, payload: bytes(2000, 9), vlan: 42 });
    const r = new Reassembler();
    const codes = run(r, fragment(w, evenPieces(fragmentableLen(w), 1024)).reverse());
    expect(codes.at(-1)).toBe(FRAG_COMPLETE);
    expect(out(r)).toEqual(w);
  });

  it('interleaved datagrams with different ids stay apart', () => {
    const a = buildDatagram({ v, payload: bytes(2500, 3), id: 7 });
    const b = buildDatagram({ v, payload: bytes(2500, 4), id: 8 });
    const fa = fragment(a, evenPieces(fragmentableLen(a), 1024), 7);
    const fb = fragment(b, evenPieces(fragmentableLen(b), 1024), 8);
    const r = new Reassembler();
    const got: Uint8Array[] = [];
    for (let i = 0; i < 3; i++) {
      if (feed(r, fa[i]) === FRAG_COMPLETE) got.push(out(r));
      if (feed(r, fb[2 - i]) === FRAG_COMPLETE) got.push(out(r));
    }
    expect(got).toEqual([a, b]);
  });

  it('drops the whole datagram on an overlap', () => {
    const r = new Reassembler();
    const total = fragmentableLen(whole);
    const ps: Piece[] = [
      { off: 0, len: 1232, mf: true },
      { off: 1224, len: 1232, mf: true }, // overlaps the first by 8 bytes, same bytes
      { off: 2456, len: total - 2456, mf: false },
    ];
    const codes = run(r, fragment(whole, ps));
    expect(codes).toEqual([FRAG_HELD, FRAG_OVERLAP, FRAG_HELD]);
    expect(r.stats.dropped['frag-overlap']).toBe(1);
    expect(r.stats.droppedFragments).toBe(2);
    // The third fragment started a new datagram that now holds alone.
    expect(r.stats.held).toBe(1);
  });

  it('same offset and length with other bytes is an overlap, not a duplicate', () => {
    const r = new Reassembler();
    const frags = fragment(whole, [pieces[0], { ...pieces[0], xor: 0xff }]);
    expect(run(r, frags)).toEqual([FRAG_HELD, FRAG_OVERLAP]);
  });

  it('ignores an exact duplicate and still completes', () => {
    const r = new Reassembler();
    const frags = fragment(whole, pieces);
    expect(run(r, [frags[0], frags[1], frags[1], frags[0], frags[2]])).toEqual([
      FRAG_HELD,
      FRAG_HELD,
      FRAG_DUPLICATE,
      FRAG_DUPLICATE,
      FRAG_COMPLETE,
    ]);
    expect(out(r)).toEqual(whole);
    expect(r.fragCount).toBe(3);
    expect(r.stats.dropped['frag-duplicate']).toBe(2);
  });

  it('drops a datagram that would exceed 65535 bytes', () => {
    const r = new Reassembler();
    const w = buildDatagram({ v, payload: bytes(1200, 5) });
    const frags = fragment(w, [{ off: 0, len: 1200, mf: true }]);
    expect(feed(r, frags[0])).toBe(FRAG_HELD);
    // A last fragment ending past 65535 bytes of IP datagram (its bytes are zeros).
    const tail = fragment(w, [{ off: 65448, len: 100, mf: false }]);
    expect(feed(r, tail[0])).toBe(FRAG_OVERSIZE);
    expect(r.stats.dropped['frag-oversize']).toBe(1);
    expect(r.stats.held).toBe(0);
  });

  it('drops a datagram with too many fragments', () => {
    const r = new Reassembler({ maxFragmentsPerDatagram: 4 });
    const w = buildDatagram({ v, payload: bytes(100, 7) });
    const frags = fragment(w, evenPieces(fragmentableLen(w), 16));
    expect(frags.length).toBeGreaterThan(5);
    const codes = run(r, frags);
    expect(codes.slice(0, 5)).toEqual([FRAG_HELD, FRAG_HELD, FRAG_HELD, FRAG_HELD, FRAG_TOO_MANY]);
    expect(r.stats.dropped['frag-too-many']).toBe(1);
  });

  it('refuses malformed fragments', () => {
    const r = new Reassembler();
    const total = fragmentableLen(whole);
    // Non-last fragment not a multiple of 8.
    expect(run(r, fragment(whole, [{ off: 0, len: 1001, mf: true }]))).toEqual([FRAG_MALFORMED]);
    // Two last fragments with different ends.
    expect(
      run(
        r,
        fragment(whole, [
          { off: 1232, len: total - 1232, mf: false },
          { off: 1232 + 8, len: 16, mf: false },
        ]),
      ),
    ).toEqual([FRAG_HELD, FRAG_MALFORMED]);
    // Data beyond the known end.
    expect(
      run(
        r,
        fragment(whole, [
          { off: 1232, len: 16, mf: false },
          { off: 1248, len: 8, mf: true },
        ]),
      ),
    ).toEqual([FRAG_HELD, FRAG_MALFORMED]);
    // A last fragment ending before data already held.
    expect(
      run(
        r,
        fragment(whole, [
          { off: 1232, len: 16, mf: true },
          { off: 8, len: 16, mf: false },
        ]),
      ),
    ).toEqual([FRAG_HELD, FRAG_MALFORMED]);
    expect(r.stats.held).toBe(0);
    expect(r.stats.dropped['frag-malformed']).toBe(4);
  });

  it('refuses a first fragment that does not hold the UDP header, and tiny fragments when configured', () => {
    const r = new Reassembler({ minFragmentSize: 64 });
    const w = buildDatagram({ v, payload: bytes(300, 8) });
    expect(run(r, fragment(w, [{ off: 0, len: 0, mf: true }]))).toEqual([FRAG_MALFORMED]);
    expect(run(r, fragment(w, [{ off: 8, len: 32, mf: true }]))).toEqual([FRAG_TINY]);
    const r2 = new Reassembler();
    const tcp = buildDatagram({ v, proto: 6, payload: bytes(300, 8) });
    // First fragment with 16 bytes of a TCP header.
    expect(run(r2, fragment(tcp, [{ off: 0, len: 16, mf: true }]))).toEqual([FRAG_TINY]);
    expect(r2.stats.dropped['frag-tiny']).toBe(1);
  });
});

describe('IPv6 specifics', () => {
  it('removes the Fragment header after a Destination Options header', () => {
    const w = buildDatagram({ v: 6, payload: bytes(4000, 11), dstOpts: true });
    const r = new Reassembler();
    const codes = run(r, fragment(w, evenPieces(fragmentableLen(w), 1400)));
    expect(codes.at(-1)).toBe(FRAG_COMPLETE);
    expect(out(r)).toEqual(w);
    expect(checkWhole(r.datagram, r.datagramLen)).toMatchObject({ ok: true, l4ChecksumOk: true });
  });

  it('passes an atomic fragment on its own (RFC 6946) without touching a datagram in progress', () => {
    const w = buildDatagram({ v: 6, payload: bytes(2000, 12) });
    const r = new Reassembler();
    const frags = fragment(w, evenPieces(fragmentableLen(w), 1232), 5);
    expect(feed(r, frags[0])).toBe(FRAG_HELD);
    const small = buildDatagram({ v: 6, payload: bytes(50, 13) });
    const atomic = fragment(small, [{ off: 0, len: fragmentableLen(small), mf: false }], 5);
    expect(feed(r, atomic[0])).toBe(FRAG_COMPLETE);
    expect(out(r)).toEqual(small);
    expect(r.fragCount).toBe(1);
    expect(r.stats.atomic).toBe(1);
    expect(feed(r, frags[1])).toBe(FRAG_COMPLETE);
    expect(out(r)).toEqual(w);
  });
});

describe('IPv4 specifics', () => {
  it('keeps DF, clears MF and offset, fixes the header checksum', () => {
    const w = buildDatagram({ v: 4, payload: bytes(3000, 14), df: true });
    const r = new Reassembler();
    run(r, fragment(w, evenPieces(fragmentableLen(w), 1480)).reverse());
    expect(out(r)).toEqual(w);
    expect(r.datagram[14 + 6]).toBe(0x40);
  });

  it('protocol is part of the key', () => {
    const a = buildDatagram({ v: 4, payload: bytes(2000, 15), id: 1 });
    const b = buildDatagram({ v: 4, proto: 47, payload: bytes(2008, 16), id: 1 });
    const fa = fragment(a, evenPieces(fragmentableLen(a), 1024));
    const fb = fragment(b, evenPieces(fragmentableLen(b), 1024));
    const r = new Reassembler();
    expect(run(r, [fa[0], fb[0], fa[1], fb[1]])).toEqual([
      FRAG_HELD,
      FRAG_HELD,
      FRAG_COMPLETE,
      FRAG_COMPLETE,
    ]);
    expect(out(r)).toEqual(b);
  });
});

it('names every code', () => {
  expect(fragDropName(FRAG_OVERLAP)).toBe('frag-overlap');
  expect(fragDropName(FRAG_OVERSIZE)).toBe('frag-oversize');
  expect(fragDropName(FRAG_TOO_MANY)).toBe('frag-too-many');
  expect(fragDropName(99)).toBe('frag-unknown');
});
