/**
 * Offloaded frames (src/wire/offload.ts): the virtio_net_hdr codec, NAT on a
 * partial checksum, finishing it, and cutting a GSO TCP frame into segments.
 *
 * A "partial" frame is made as Linux makes one for a TAP with TUN_F_CSUM: the
 * TCP/UDP checksum field holds the folded pseudo-header sum, uncomplemented.
 * Every check finishes the checksum the way the kernel would (sum from the
 * transport header on) and compares with a checksum computed from scratch.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { buildFrame } from '../../../src/wire/build.js';
import { rd16, rd32 } from '../../../src/wire/bytes.js';
import { fold, ipv4HeaderChecksumOk, l4ChecksumOk, pseudoSum } from '../../../src/wire/checksum.js';
import { decodeFrame } from '../../../src/wire/decode.js';
import {
  GSO_TCPV4,
  VNET_F_NEEDS_CSUM,
  finishPartial,
  partialEnter,
  partialLeave,
  readVnet,
  readVnetCsum,
  segmentTcp,
  vnetFlags,
  vnetGsoSize,
  vnetGsoType,
  writeVnet,
} from '../../../src/wire/offload.js';
import {
  Packet,
  PROTO_TCP,
  PROTO_UDP,
  TCP_ACK,
  TCP_CWR,
  TCP_FIN,
  TCP_PSH,
} from '../../../src/wire/packet.js';
import { rewriteDstAddr, rewriteDstPort, rewriteSrcAddr, rewriteSrcPort } from '../../../src/wire/rewrite.js';

function payload(n: number, seed = 7): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + seed) & 0xff;
  return b;
}

function decoded(frame: Uint8Array): Packet {
  const p = new Packet();
  expect(decodeFrame(frame, 0, frame.length, 1, p)).toBe(0);
  return p;
}

/** Replaces the transport checksum with the pseudo-header sum, as the kernel leaves it (CHECKSUM_PARTIAL). */
function partialize(p: Packet): void {
  const at = p.l4Off + (p.l4Proto === PROTO_TCP ? 16 : 6);
  const len = p.ipEnd - p.l4Off;
  const v = fold(pseudoSum(p, p.l4Proto, len));
  p.buf[at] = v >>> 8;
  p.buf[at + 1] = v & 0xff;
}

function tcpFrame(v6: boolean, data: number, flags = TCP_ACK | TCP_PSH): Uint8Array {
  return buildFrame({
    ...(v6
      ? { ipv6: { src: 'fd00:1::2', dst: 'fd00::100' } }
      : { ipv4: { src: '10.0.1.2', dst: '10.0.0.100' } }),
    tcp: { srcPort: 40000, dstPort: 80, seq: 0xfffff000, ack: 77, flags, window: 500 },
    payload: payload(data),
  });
}

const v4 = (a: number): Uint32Array => new Uint32Array([0, 0, 0xffff, a >>> 0]);
const v6 = (a: number): Uint32Array => new Uint32Array([0xfd000002, 0, a >>> 0, 0x11]);

describe('virtio_net_hdr', () => {
  it('reads back what it wrote (little-endian fields)', () => {
    const b = new Uint8Array(12);
    const vnet = VNET_F_NEEDS_CSUM | (GSO_TCPV4 << 8) | (1448 << 16);
    writeVnet(b, 1, vnet, 66, 34, 16);
    expect([...b.subarray(1, 11)]).toEqual([1, 1, 66, 0, 0xa8, 0x05, 34, 0, 16, 0]);
    const r = readVnet(b, 1);
    expect([vnetFlags(r), vnetGsoType(r), vnetGsoSize(r)]).toEqual([1, GSO_TCPV4, 1448]);
    expect(readVnetCsum(b, 1)).toBe(34 | (16 << 16));
  });
});

describe('NAT on a partial checksum', () => {
  for (const [name, ipv6, proto] of [
    ['TCP over IPv4', false, PROTO_TCP],
    ['TCP over IPv6', true, PROTO_TCP],
    ['UDP over IPv4', false, PROTO_UDP],
  ] as const) {
    it(`${name}: rewritten in partial form, then finished, equals the checksum from scratch`, () => {
      fc.assert(
        fc.property(
          fc.integer({ min: 0, max: 0xffffffff }),
          fc.integer({ min: 0, max: 0xffffffff }),
          fc.integer({ min: 0, max: 0xffff }),
          fc.integer({ min: 0, max: 0xffff }),
          fc.integer({ min: 0, max: 1400 }),
          (a, b, sp, dp, n) => {
            const frame =
              proto === PROTO_TCP
                ? tcpFrame(ipv6, n)
                : buildFrame({
                    ipv4: { src: '10.0.1.2', dst: '10.0.0.100' },
                    udp: { srcPort: 5000, dstPort: 53 },
                    payload: payload(n),
                  });
            const p = decoded(frame);
            partialize(p);
            partialEnter(p);
            rewriteDstAddr(p, ipv6 ? v6(a) : v4(a));
            rewriteSrcAddr(p, ipv6 ? v6(b) : v4(b));
            rewriteDstPort(p, dp);
            rewriteSrcPort(p, sp);
            partialLeave(p);
            // The partial field now holds exactly the new pseudo-header sum (ports are not in it).
            const at = p.l4Off + (proto === PROTO_TCP ? 16 : 6);
            const want = fold(pseudoSum(p, proto, p.ipEnd - p.l4Off));
            expect(rd16(frame, at) === want || (want === 0xffff && rd16(frame, at) === 0)).toBe(true);
            finishPartial(p);
            expect(l4ChecksumOk(decoded(frame))).toBe(true);
            if (!ipv6) expect(ipv4HeaderChecksumOk(decoded(frame))).toBe(true);
          },
        ),
        { numRuns: 300 },
      );
    });
  }

  it('a checksum finished without NAT is the real one', () => {
    const frame = tcpFrame(false, 999);
    const p = decoded(frame);
    const real = rd16(frame, p.l4Off + 16);
    partialize(p);
    expect(rd16(frame, p.l4Off + 16)).not.toBe(real);
    finishPartial(p);
    expect(rd16(frame, p.l4Off + 16)).toBe(real);
  });
});

describe('segmentTcp (software GSO)', () => {
  for (const ipv6 of [false, true]) {
    it(`cuts an ${ipv6 ? 'IPv6' : 'IPv4'} GSO frame into MSS segments with their own headers and checksums`, () => {
      const data = 10_000;
      const mss = 1448;
      const frame = tcpFrame(ipv6, data, TCP_ACK | TCP_PSH | TCP_FIN | TCP_CWR);
      const p = decoded(frame);
      partialize(p);
      const segs: Uint8Array[] = [];
      const n = segmentTcp(p, 0, mss, new Uint8Array(65_600), (b, o, l) => segs.push(b.slice(o, o + l)));
      expect(n).toBe(Math.ceil(data / mss));
      expect(segs.length).toBe(n);
      const joined: number[] = [];
      segs.forEach((s, k) => {
        const q = decoded(s);
        expect(l4ChecksumOk(q)).toBe(true);
        if (!ipv6) {
          expect(ipv4HeaderChecksumOk(q)).toBe(true);
          expect(q.ipId).toBe((p.ipId + k) & 0xffff);
        }
        expect(q.payloadLen).toBe(k < n - 1 ? mss : data - mss * (n - 1));
        expect(q.seq).toBe((0xfffff000 + k * mss) >>> 0);
        expect(rd32(s, q.l4Off + 8)).toBe(77);
        const last = k === n - 1;
        expect((q.tcpFlags & TCP_FIN) !== 0).toBe(last);
        expect((q.tcpFlags & TCP_PSH) !== 0).toBe(last);
        expect((q.tcpFlags & TCP_CWR) !== 0).toBe(k === 0);
        expect(q.tcpFlags & TCP_ACK).toBe(TCP_ACK);
        joined.push(...s.subarray(q.payloadOff, q.payloadOff + q.payloadLen));
      });
      expect(Uint8Array.from(joined)).toEqual(payload(data));
    });
  }
});
