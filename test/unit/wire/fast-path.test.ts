/**
 * The fast path (src/wire/fast.ts) against the general decoder: decodeFrame
 * and decodeFrameGeneral must leave the same Packet and return the same code
 * for every input, including the fields a previous frame left behind.
 */
import { readdirSync } from 'node:fs';
import fc from 'fast-check';
import { tcpRepr, u16, v4addr, v6addr as v6addrArb } from './arbitraries.js';
import { describe, expect, it } from 'vitest';
import { buildFrame, type FrameSpec } from '../../../src/wire/build.js';
import { decodeFrame, decodeFrameGeneral } from '../../../src/wire/decode.js';
import { fastEthernet } from '../../../src/wire/fast.js';
import { Packet } from '../../../src/wire/packet.js';
import { CAPTURES, HAVE_CAPTURES, readCapture, type PcapFile } from './pcap-fixture.js';

const v6addr = v6addrArb(false);
const tcp = tcpRepr({ wscaleMax: 255, sackMax: 3, ports: u16 });
const ip = fc.oneof(
  fc
    .record({
      src: v4addr,
      dst: v4addr,
      ttl: fc.integer({ min: 0, max: 255 }),
      tos: fc.integer({ min: 0, max: 255 }),
      id: u16,
      df: fc.boolean(),
      mf: fc.boolean(),
      fragOffset: fc.constantFrom(0, 0, 0, 8, 1480),
      options: fc.constantFrom(undefined, undefined, Uint8Array.of(1, 1, 1), Uint8Array.of(0x94, 4, 0, 0)),
    })
    .map((ipv4) => ({ ipv4 })),
  fc
    .record({
      src: v6addr,
      dst: v6addr,
      hopLimit: fc.integer({ min: 0, max: 255 }),
      trafficClass: fc.integer({ min: 0, max: 255 }),
      flowLabel: fc.integer({ min: 0, max: 0xfffff }),
      ext: fc.array(fc.record({ type: fc.constantFrom(60, 43), data: fc.uint8Array({ maxLength: 12 }) }), {
        maxLength: 1,
      }),
    })
    .map((ipv6) => ({ ipv6 })),
);
const upper: fc.Arbitrary<Partial<FrameSpec>> = fc.oneof(
  { weight: 4, arbitrary: tcp.map((t) => ({ tcp: t })) },
  { weight: 2, arbitrary: fc.record({ srcPort: u16, dstPort: u16 }).map((udp) => ({ udp })) },
  { weight: 1, arbitrary: fc.constant({ icmp: { type: 8, code: 0, id: 7, seq: 9 } }) },
  { weight: 1, arbitrary: fc.constant({ gre: {} }) },
  { weight: 1, arbitrary: fc.constant({}) },
);
const vlanTags = fc.oneof(
  fc.constant([] as number[]),
  fc.array(fc.integer({ min: 0, max: 4095 }), { minLength: 1, maxLength: 2 }),
);
const frame = fc
  .record({ ip, upper, vlans: vlanTags, payload: fc.uint8Array({ maxLength: 40 }), arp: fc.boolean() })
  .map(({ ip, upper, vlans, payload, arp }): Uint8Array => {
    if (arp) return buildFrame({ vlans, arp: { op: 1, spa: '10.0.0.1', tpa: '10.0.0.2' } });
    const s: FrameSpec = { ...ip, ...upper, vlans, payload };
    if (upper.icmp && s.ipv6)
      return buildFrame({ ...ip, vlans, icmpv6: { type: 128, code: 0, id: 7, seq: 9 } });
    try {
      return buildFrame(s);
    } catch {
      return buildFrame({ ...ip, vlans, payload });
    }
  });
/** A frame, then random byte edits in its headers and a random cut (within the buffer or beyond it). */
const mutated = fc
  .record({
    f: frame,
    edits: fc.array(fc.tuple(fc.nat(90), fc.integer({ min: 0, max: 255 })), { maxLength: 3 }),
    cut: fc.integer({ min: -4, max: 140 }),
    lead: fc.nat(3),
    wire: fc.constantFrom(undefined, 0, 1, 60),
  })
  .map(({ f, edits, cut, lead, wire }) => {
    // Frame at `lead` in a buffer with junk after it: nothing past len may be read.
    const buf = new Uint8Array(lead + f.length + 8).fill(0xa5);
    buf.set(f, lead);
    for (const [i, v] of edits) if (i < f.length) buf[lead + i] = v;
    const len = cut < 0 ? f.length : Math.min(cut, f.length + 8);
    return { buf, base: lead, len, wireLen: wire === undefined ? undefined : len + wire };
  });

const a = new Packet();
const b = new Packet();
const dump = (p: Packet): Record<string, unknown> =>
  Object.fromEntries(
    Object.entries(p)
      .filter(([k]) => k !== 'buf')
      .map(([k, v]) => [k, v instanceof Uint32Array ? [...v] : v]),
  );
function same(buf: Uint8Array, base: number, len: number, link = 1, wireLen?: number): void {
  const ra = decodeFrame(buf, base, len, link, a, wireLen);
  const rb = decodeFrameGeneral(buf, base, len, link, b, wireLen);
  expect(ra).toBe(rb);
  expect(a.buf).toBe(b.buf);
  expect(dump(a)).toEqual(dump(b));
}

describe('fast path = general path', () => {
  it('is taken for the common shapes', () => {
    const v4 = { src: '10.0.1.2', dst: '10.0.2.11', df: true };
    const v6 = { src: '2001:db8::1', dst: '2001:db8::2' };
    const t = { srcPort: 1, dstPort: 80, flags: 0x10, timestamps: [5, 6] as const };
    const syn = {
      srcPort: 1,
      dstPort: 80,
      flags: 2,
      mss: 1460,
      wscale: 7,
      sackPermitted: true,
      timestamps: [1, 2] as const,
    };
    const specs: FrameSpec[] = [
      { ipv4: v4, tcp: t },
      { ipv4: v4, tcp: syn },
      { ipv4: v4, tcp: { srcPort: 1, dstPort: 80, flags: 0x10, sack: [[1, 2]] } },
      { ipv4: v4, udp: { srcPort: 1, dstPort: 53 }, payload: new Uint8Array(40) },
      { ipv6: v6, tcp: t, payload: new Uint8Array(20) },
      { ipv6: v6, udp: { srcPort: 1, dstPort: 53 } },
      { vlans: [42], ipv4: v4, tcp: { srcPort: 1, dstPort: 8080, flags: 0x10 } },
      { vlans: [42], ipv6: v6, tcp: syn, padTo: 120 },
      { ipv4: v4, udp: { srcPort: 1, dstPort: 53 }, padTo: 60 },
    ];
    for (const s of specs) {
      const f = buildFrame(s);
      expect(fastEthernet(f, 0, f.length, a)).toBe(0);
      same(f, 0, f.length);
    }
  });

  it('random frames, in sequence (state left by the previous frame)', () => {
    fc.assert(
      fc.property(fc.array(frame, { minLength: 1, maxLength: 6 }), (fs) => {
        for (const f of fs) same(f, 0, f.length);
      }),
      { numRuns: 400 },
    );
  });

  it('random frames with edited bytes, cuts, offsets and wire lengths', () => {
    fc.assert(
      fc.property(fc.array(mutated, { minLength: 1, maxLength: 6 }), (ms) => {
        for (const m of ms) same(m.buf, m.base, m.len, 1, m.wireLen);
      }),
      { numRuns: 600 },
    );
  });

  it.skipIf(!HAVE_CAPTURES)('every record of the real captures, in order', () => {
    let n = 0;
    for (const dir of readdirSync(CAPTURES, { withFileTypes: true })) {
      if (!dir.isDirectory()) continue;
      for (const file of readdirSync(CAPTURES + dir.name)) {
        let cap: PcapFile;
        try {
          cap = readCapture(`${dir.name}/${file}`);
        } catch {
          continue; // not a classic pcap (pcapng, a directory, a text file)
        }
        for (const r of cap.records) {
          same(r.data, r.off, r.caplen, cap.linkType);
          same(r.data, r.off, r.caplen, cap.linkType, r.origLen);
          n++;
        }
      }
    }
    expect(n).toBeGreaterThan(1000);
  });
});
