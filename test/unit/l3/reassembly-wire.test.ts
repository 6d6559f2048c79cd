/**
 * Reassembly of datagrams made with the project's builders (src/wire/build.ts):
 * IPv4 options, TCP options, IPv6 extension headers in the unfragmentable part.
 */
import { describe, expect, it } from 'vitest';
import {
  FRAG_COMPLETE,
  FRAG_HELD,
  FRAG_OVERSIZE,
  FRAG_TINY,
  Reassembler,
} from '../../../src/l3/reassembly.js';
import { buildFrame } from '../../../src/wire/build.js';
import { TCP_ACK, TCP_PSH } from '../../../src/wire/packet.js';
import {
  buildDatagram,
  bytes,
  checkWhole,
  evenPieces,
  feed,
  fragment,
  fragmentableLen,
  sameBytes,
} from './frag-fixture.js';

const tcp = {
  srcPort: 40000,
  dstPort: 80,
  flags: TCP_ACK | TCP_PSH,
  seq: 1,
  ack: 2,
  mss: 1460,
  timestamps: [7, 8] as const,
};

function tcp4(payload: Uint8Array): Uint8Array {
  return buildFrame({
    ipv4: { src: '10.0.1.2', dst: '10.0.2.11', id: 0x4242, options: new Uint8Array([1, 1, 1, 1]) },
    tcp,
    payload,
  });
}

function tcp6(payload: Uint8Array): Uint8Array {
  return buildFrame({
    ipv6: {
      src: '2001:db8::1',
      dst: '2001:db8::2',
      ext: [
        { type: 0, data: new Uint8Array(6) },
        { type: 43, data: new Uint8Array(6) },
      ],
    },
    tcp,
    payload,
  });
}

describe('datagrams from src/wire/build', () => {
  it('IPv4 with options carrying TCP with options, reversed', () => {
    const w = tcp4(bytes(4000, 21));
    expect(checkWhole(w, w.length)).toMatchObject({ ok: true, l4ChecksumOk: true });
    const r = new Reassembler();
    const codes = fragment(w, evenPieces(fragmentableLen(w), 1480))
      .reverse()
      .map((f) => feed(r, f));
    expect(codes.at(-1)).toBe(FRAG_COMPLETE);
    expect(sameBytes(r.datagram.subarray(0, r.datagramLen), w)).toBe(true);
    expect(checkWhole(r.datagram, r.datagramLen)).toMatchObject({
      ok: true,
      isFragment: false,
      l4Proto: 6,
      ipChecksumOk: true,
      l4ChecksumOk: true,
    });
  });

  it('IPv6 with Hop-by-Hop and Routing headers carrying TCP, out of order', () => {
    const w = tcp6(bytes(5000, 22));
    expect(checkWhole(w, w.length)).toMatchObject({ ok: true, l4ChecksumOk: true });
    const r = new Reassembler();
    const f = fragment(w, evenPieces(fragmentableLen(w), 1232), 99);
    const codes = [f[2], f[0], f[4], f[1], f[3]].map((x) => feed(r, x));
    expect(codes).toEqual([FRAG_HELD, FRAG_HELD, FRAG_HELD, FRAG_HELD, FRAG_COMPLETE]);
    expect(sameBytes(r.datagram.subarray(0, r.datagramLen), w)).toBe(true);
    expect(checkWhole(r.datagram, r.datagramLen)).toMatchObject({ ok: true, l4Proto: 6, l4ChecksumOk: true });
  });

  it('a first fragment that cuts the TCP options off is tiny', () => {
    for (const w of [tcp4(bytes(500, 23)), tcp6(bytes(500, 24))]) {
      // The TCP header is 20 + 12 (MSS, timestamps) = 32 bytes; the first fragment holds 24.
      const r = new Reassembler();
      const f = fragment(w, [
        { off: 0, len: 24, mf: true },
        { off: 24, len: fragmentableLen(w) - 24, mf: false },
      ]);
      expect(feed(r, f[1])).toBe(FRAG_HELD);
      expect(feed(r, f[0])).toBe(FRAG_TINY);
      expect(r.stats).toMatchObject({ held: 0, droppedFragments: 2 });
    }
  });
});

describe('the first fragment decides the final length', () => {
  it.each([4, 6] as const)(
    'IPv%i: a longer first-fragment header pushes the datagram past 65535: oversize',
    (v) => {
      // The rest: a 65535-byte datagram with a plain header. The first fragment: same id,
      // with 4 bytes of IPv4 options / an 8-byte Destination Options header.
      const rest = buildDatagram({ v, id: 5, payload: bytes(65535 - (v === 4 ? 28 : 8), 25) });
      const head =
        v === 4
          ? buildFrame({
              ipv4: {
                src: '10.0.1.2',
                dst: '10.0.2.11',
                id: 5,
                proto: 17,
                options: new Uint8Array([1, 1, 1, 1]),
              },
              payload: bytes(1500, 26),
            })
          : buildDatagram({ v, id: 5, payload: bytes(1500, 26), dstOpts: true });
      const size = v === 4 ? 1480 : 1232;
      const pieces = evenPieces(fragmentableLen(rest), size);
      expect(pieces.length).toBeLessThanOrEqual(64);
      const frames = [fragment(head, [pieces[0]], 5)[0], ...fragment(rest, pieces.slice(1), 5)];
      const r = new Reassembler();
      const codes = frames.map((f) => feed(r, f));
      expect(codes.slice(0, -1).every((c) => c === FRAG_HELD)).toBe(true);
      expect(codes.at(-1)).toBe(FRAG_OVERSIZE);
      expect(r.stats.dropped['frag-oversize']).toBe(1);
      expect(r.stats.droppedFragments).toBe(frames.length);
      expect(r.stats).toMatchObject({ held: 0, heldBytes: 0, completed: 0 });
    },
  );
});
