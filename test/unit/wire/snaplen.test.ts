/**
 * Snapped frames: decodeFrame's wireLen (a capture record's original length)
 * larger than the captured len. Lengths are checked as on the wire, reads stay
 * within the captured bytes, and the key fields match the uncut decode.
 */
import { readdirSync } from 'node:fs';
import fc from 'fast-check';
import { port, tcpRepr, u16, u32, v4addr, v6addr as v6addrArb } from './arbitraries.js';
import { describe, expect, it } from 'vitest';
import { FRAG_MALFORMED, Reassembler } from '../../../src/l3/reassembly.js';
import { buildFrame, buildIp, type FrameSpec } from '../../../src/wire/build.js';
import { fillChecksums, l4ChecksumOk } from '../../../src/wire/checksum.js';
import { decodeFrame } from '../../../src/wire/decode.js';
import { DECODE_ERRORS, decodeErrorName } from '../../../src/wire/errors.js';
import { SNAP_TRAILER_MAX } from '../../../src/wire/ipv4.js';
import {
  LINKTYPE_ETHERNET,
  LINKTYPE_RAW,
  Packet,
  PROTO_GRE,
  PROTO_ICMP,
  PROTO_ICMPV6,
  PROTO_TCP,
  PROTO_UDP,
  TCP_ACK,
  TCP_PSH,
  TCP_SYN,
} from '../../../src/wire/packet.js';
import { writeIcmpError, writeTcpReset } from '../../../src/wire/reply.js';
import { decrementTtl, rewriteDstPort, rewriteSrcAddr, rewriteSrcPort } from '../../../src/wire/rewrite.js';
import { CAPTURES, HAVE_CAPTURES, readCapture } from './pcap-fixture.js';

// ---------- helpers ----------

const fill = (n: number, seed = 1): Uint8Array =>
  Uint8Array.from({ length: n }, (_, i) => (i * 31 + seed) & 0xff);

/** The frame's first `s` bytes in a buffer of the full length whose tail is `tail` (bytes the decoder must not read). */
function snap(frame: Uint8Array, s: number, tail: number): Uint8Array {
  const b = new Uint8Array(frame.length + 64).fill(tail);
  b.set(frame.subarray(0, s));
  return b;
}

const words = (w: Uint32Array): number[] => Array.from(w);

/** The fields the session key and tracking use. */
function keyOf(p: Packet) {
  return {
    etherType: p.etherType,
    vlan: [p.vlanCount, p.vlanOuter, p.vlanInner],
    l3Off: p.l3Off,
    ipVersion: p.ipVersion,
    ip: [p.ipHeaderLen, p.ttl, p.tos, p.ipId, p.isFragment, p.fragOffset, p.moreFragments],
    src: words(p.src),
    dst: words(p.dst),
    l4Proto: p.l4Proto,
    l4Off: p.l4Off,
    ipEnd: p.ipEnd,
    l4Len: p.l4Len,
    ports: [p.srcPort, p.dstPort],
    tcp: [p.seq, p.ack, p.tcpFlags, p.window, p.tcpHeaderLen],
    payload: [p.payloadOff, p.payloadLen],
    icmp: [p.icmpType, p.icmpCode, p.icmpId, p.icmpSeq, p.icmpIsError],
    inner: [
      p.innerL3Off,
      p.innerIpVersion,
      p.innerL4Proto,
      p.innerL4Off,
      words(p.innerSrc),
      words(p.innerDst),
      p.innerSrcPort,
      p.innerDstPort,
      p.innerIcmpId,
      p.innerIcmpType,
    ],
    gre: [p.greOff, p.greFlags, p.greProto, p.greHasKey, p.greKey, p.greHasSeq, p.greSeq, p.grePayloadOff],
  };
}

function tcpOpts(p: Packet) {
  return {
    mss: p.mss,
    wscale: p.wscale,
    sackPermitted: p.sackPermitted,
    ts: [p.hasTimestamps, p.tsVal, p.tsEcr],
    sack: [p.hasSack, p.sackMaxRight],
  };
}

/** Every field of the Packet (typed arrays as plain arrays), for "exactly as today" comparisons. */
function dump(p: Packet): Record<string, unknown> {
  const o: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(p)) {
    if (k === 'buf') continue;
    o[k] = v instanceof Uint32Array ? Array.from(v) : v;
  }
  return o;
}

/** Captured bytes the session key needs, from the uncut decode. */
function need(f: Packet): number {
  if (f.fragOffset !== 0) return f.l4Off;
  switch (f.l4Proto) {
    case PROTO_TCP:
      return f.l4Off + 16;
    case PROTO_UDP:
      return f.l4Off + 8;
    case PROTO_ICMP:
    case PROTO_ICMPV6:
      return f.icmpIsError ? f.innerL4Off + 8 : f.l4Off + 8;
    case PROTO_GRE:
      return f.grePayloadOff;
    default:
      return f.l4Off;
  }
}

/** The error a cut at `s` < need(f) must give. */
function truncError(f: Packet, s: number, link: number): string {
  if (link === LINKTYPE_RAW ? s < 1 : s < 14) return 'truncated-frame';
  if (s < f.l3Off) return 'truncated-vlan';
  if (s < f.l4Off) return f.ipVersion === 4 ? 'truncated-ipv4' : 'truncated-ipv6';
  switch (f.l4Proto) {
    case PROTO_TCP:
      return 'truncated-tcp';
    case PROTO_UDP:
      return 'truncated-udp';
    case PROTO_GRE:
      return 'truncated-gre';
    default:
      return 'truncated-icmp';
  }
}

const full = new Packet();
const p = new Packet();
const q = new Packet();

/**
 * Cuts `frame` at snap length `s` (wireLen = full length) and checks the
 * decode against the uncut one (already in `full`). Returns the error name.
 */
function checkCut(frame: Uint8Array, s: number, link = LINKTYPE_ETHERNET): string {
  const a = snap(frame, s, 0x00);
  const b = snap(frame, s, 0xff);
  const rc = decodeFrame(a, 0, s, link, p, frame.length);
  const err = DECODE_ERRORS[rc]!;
  const rcB = decodeFrame(b, 0, s, link, q, frame.length);
  // Nothing past the captured bytes was read: the tail's contents change nothing.
  expect(rcB).toBe(rc);
  expect(dump(q)).toEqual(dump(p));
  expect([p.capEnd, p.end, p.snapped]).toEqual([s, s, s < frame.length]);
  const bogus = s < frame.length && frame.length - (full.ipEnd - full.base) > SNAP_TRAILER_MAX;
  if (bogus && s >= full.l4Off) {
    // The wire length runs far past the IP datagram: not a credible snapped frame.
    expect(err).toBe(full.ipVersion === 4 ? 'bad-ipv4-length' : 'malformed-ipv6');
  } else if (s >= need(full)) {
    expect(err).toBe('ok');
    expect(keyOf(p)).toEqual(keyOf(full));
    if (full.l4Proto === PROTO_TCP) {
      const o = tcpOpts(p);
      const fo = tcpOpts(full);
      if (s >= full.l4Off + full.tcpHeaderLen) expect(o).toEqual(fo);
      // A cut option is absent, never wrong.
      expect(o.mss === fo.mss || o.mss === 0).toBe(true);
      expect(o.wscale === fo.wscale || o.wscale === -1).toBe(true);
      expect(o.sackPermitted === fo.sackPermitted || !o.sackPermitted).toBe(true);
      expect(o.ts[0] ? o.ts : fo.ts).toEqual(fo.ts);
      if (o.sack[0]) expect(fo.sack[0]).toBe(true);
    }
    // Checksums: cannot be verified unless the whole datagram was captured.
    if (p.ipEnd > s) expect(l4ChecksumOk(p)).toBe(true);
    else expect(l4ChecksumOk(p)).toBe(l4ChecksumOk(full));
  } else {
    expect(err).toBe(truncError(full, s, link));
  }
  return err;
}

function sweep(frame: Uint8Array, link = LINKTYPE_ETHERNET): void {
  expect(decodeErrorName(decodeFrame(frame, 0, frame.length, link, full))).toBe('ok');
  expect(full.snapped).toBe(false);
  for (let s = 0; s <= frame.length; s++) expect(() => checkCut(frame, s, link)).not.toThrow();
  for (let s = 0; s <= frame.length; s++) checkCut(frame, s, link);
}

// ---------- frames ----------

const v4 = { src: '10.0.1.2', dst: '192.0.2.80' };
const v6 = { src: '2001:db8::1', dst: '2001:db8::2' };
const tcpWithOptions = {
  srcPort: 40000,
  dstPort: 443,
  seq: 0x01020304,
  ack: 0xa0b0c0d0,
  flags: TCP_ACK | TCP_PSH,
  window: 1234,
  mss: 1460,
  wscale: 7,
  sackPermitted: true,
  sack: [
    [100, 200],
    [300, 400],
  ] as [number, number][],
  timestamps: [0x11111111, 0x22222222] as [number, number],
};
const innerTcp = buildIp({
  ipv4: { src: '192.0.2.80', dst: '10.0.1.2' },
  tcp: { srcPort: 443, dstPort: 40000, seq: 9, flags: TCP_ACK },
  payload: fill(40),
});

const FRAMES: Record<string, FrameSpec> = {
  'IPv4 TCP with options': { ipv4: v4, tcp: tcpWithOptions, payload: fill(300) },
  'IPv4 (options) UDP in a VLAN': {
    vlans: [42],
    ipv4: { ...v4, options: Uint8Array.of(0x94, 4, 0, 0) },
    udp: { srcPort: 5353, dstPort: 53 },
    payload: fill(200, 7),
  },
  'ICMP echo': { ipv4: v4, icmp: { type: 8, code: 0, id: 77, seq: 3 }, payload: fill(56) },
  'ICMP error quoting TCP': { ipv4: v4, icmp: { type: 3, code: 3 }, payload: innerTcp },
  'IPv6 TCP with extension headers': {
    ipv6: {
      ...v6,
      ext: [
        { type: 0, data: fill(4) },
        { type: 43, data: fill(14, 3) },
        { type: 60, data: fill(10, 5) },
      ],
    },
    tcp: { ...tcpWithOptions, flags: TCP_SYN },
    payload: fill(120),
  },
  'ICMPv6 packet too big quoting UDP': {
    ipv6: v6,
    icmpv6: { type: 2, code: 0, rest: 1280 },
    payload: buildIp({
      ipv6: { src: v6.dst, dst: v6.src },
      udp: { srcPort: 9, dstPort: 10 },
      payload: fill(90),
    }),
  },
  'GRE with checksum, key and sequence': {
    ipv4: v4,
    gre: { checksum: true, key: 0x1234, seq: 99 },
    payload: innerTcp,
  },
  'short UDP padded to 60': { ipv4: v4, udp: { srcPort: 1, dstPort: 2 }, payload: fill(4), padTo: 60 },
  'UDP with a long trailer (not credible when snapped)': {
    ipv4: v4,
    udp: { srcPort: 1, dstPort: 2 },
    payload: fill(4),
    padTo: 200,
  },
};

describe('snapped frames: sweep over every snap length', () => {
  for (const [name, spec] of Object.entries(FRAMES)) {
    it(name, () => sweep(buildFrame(spec)));
  }

  it('raw IPv4 link type', () => {
    sweep(buildFrame({ link: LINKTYPE_RAW, ipv4: v4, tcp: tcpWithOptions, payload: fill(50) }), LINKTYPE_RAW);
  });

  it('TCP options cut by the snaplen: the wholly captured ones are decoded, the rest ignored', () => {
    const f = buildFrame(FRAMES['IPv4 TCP with options']!);
    decodeFrame(f, 0, f.length, LINKTYPE_ETHERNET, full);
    const t = full.l4Off;
    // Layout written by emitTcp: MSS at 20, WS at 24, SACK-permitted at 27, SACK (18) at 29, TS at 47.
    for (let s = t + 16; s <= t + full.tcpHeaderLen; s++) {
      expect(checkCut(f, s)).toBe('ok');
      expect(p.mss).toBe(s >= t + 24 ? 1460 : 0);
      expect(p.wscale).toBe(s >= t + 27 ? 7 : -1);
      expect(p.sackPermitted).toBe(s >= t + 29);
      expect([p.hasSack, p.sackMaxRight]).toEqual(s >= t + 47 ? [true, 400] : [false, 0]);
      expect([p.hasTimestamps, p.tsVal]).toEqual(s >= t + 57 ? [true, 0x11111111] : [false, 0]);
      expect(p.payloadLen).toBe(300);
    }
  });

  it('a wire length far beyond the IP datagram is not credible (fuzzed records)', () => {
    const f = buildFrame({ ipv4: v4, udp: { srcPort: 1, dstPort: 2 }, payload: fill(100) });
    const ipLen = f.length - 14;
    expect(decodeErrorName(decodeFrame(f, 0, 60, 1, p, f.length + SNAP_TRAILER_MAX))).toBe('ok');
    expect(p.ipEnd).toBe(14 + ipLen);
    expect(decodeErrorName(decodeFrame(f, 0, 60, 1, p, f.length + SNAP_TRAILER_MAX + 1))).toBe(
      'bad-ipv4-length',
    );
    expect(decodeErrorName(decodeFrame(f, 0, 60, 1, p, 262144))).toBe('bad-ipv4-length');
    const g = buildFrame({ ipv6: v6, udp: { srcPort: 1, dstPort: 2 }, payload: fill(100) });
    expect(decodeErrorName(decodeFrame(g, 0, 80, 1, p, g.length + SNAP_TRAILER_MAX))).toBe('ok');
    expect(decodeErrorName(decodeFrame(g, 0, 80, 1, p, g.length + SNAP_TRAILER_MAX + 1))).toBe(
      'malformed-ipv6',
    );
    // Unsnapped: trailing bytes are allowed, as before.
    const h = buildFrame({ ipv4: v4, udp: { srcPort: 1, dstPort: 2 }, padTo: 400 });
    expect(decodeErrorName(decodeFrame(h, 0, h.length, 1, p, h.length))).toBe('ok');
  });

  it('a frame invalid on the wire is still an error when snapped', () => {
    const f = buildFrame({ ipv4: v4, udp: { srcPort: 1, dstPort: 2 }, payload: fill(100) });
    // The wire frame is shorter than the IPv4 total length claims.
    expect(decodeErrorName(decodeFrame(f, 0, 60, 1, p, f.length - 1))).toBe('bad-ipv4-length');
    // UDP length beyond the datagram.
    const g = f.slice();
    g[14 + 20 + 4] = 0xff;
    expect(decodeErrorName(decodeFrame(g, 0, 60, 1, p, g.length))).toBe('malformed-udp');
    // TCP data offset beyond the segment.
    const h = buildFrame({ ipv4: v4, tcp: { srcPort: 1, dstPort: 2, flags: TCP_ACK } });
    h[14 + 20 + 12] = 0xf0;
    expect(decodeErrorName(decodeFrame(h, 0, 14 + 20 + 16, 1, p, h.length))).toBe('malformed-tcp');
  });
});

describe('wireLen <= len: exactly as before', () => {
  it('same Packet as without wireLen, for every cut of every frame', () => {
    const r = new Packet();
    for (const spec of Object.values(FRAMES)) {
      const f = buildFrame(spec);
      for (let s = 0; s <= f.length; s++) {
        const rc = decodeFrame(f, 0, s, 1, r);
        const want = dump(r);
        for (const w of [undefined, s, s - 1, 0, -5, Number.NaN]) {
          expect(decodeFrame(f, 0, s, 1, p, w)).toBe(rc);
          expect(dump(p)).toEqual(want);
          expect(p.snapped).toBe(false);
        }
      }
    }
  });
});

// ---------- users of decoded offsets ----------

describe('checksums, replies and rewrites of snapped packets', () => {
  const spec = FRAMES['IPv4 TCP with options']!;
  const f = buildFrame({ ...spec, tcp: { ...spec.tcp!, flags: TCP_PSH } });

  it('l4ChecksumOk cannot verify a cut datagram; fillChecksums writes nothing past the capture', () => {
    const bad = f.slice();
    bad[bad.length - 1] ^= 0xff;
    expect(decodeFrame(bad, 0, bad.length, 1, p)).toBe(0);
    expect(l4ChecksumOk(p)).toBe(false);
    const s = 96;
    const b = snap(bad, s, 0xee);
    expect(decodeFrame(b, 0, s, 1, p, bad.length)).toBe(0);
    expect(l4ChecksumOk(p)).toBe(true);
    const before = b.slice();
    fillChecksums(p);
    expect(b.subarray(s)).toEqual(before.subarray(s));
    expect(b.subarray(p.l4Off, s)).toEqual(before.subarray(p.l4Off, s));
  });

  it('writeIcmpError quotes only the captured bytes; writeTcpReset uses the wire length', () => {
    expect(decodeFrame(f, 0, f.length, 1, full)).toBe(0);
    const outFull = new Uint8Array(2000);
    const nFull = writeTcpReset(full, outFull, 0);
    for (const s of [full.l4Off + 16, 96, 200, f.length - 1]) {
      const b = snap(f, s, 0xee);
      expect(decodeFrame(b, 0, s, 1, p, f.length)).toBe(0);
      const out = new Uint8Array(2000);
      const n = writeIcmpError(p, out, 0, 3, 13, 0, null);
      const quote = s - p.l3Off;
      expect(n).toBe(14 + 20 + 8 + quote);
      expect(out.subarray(14 + 28, n)).toEqual(f.subarray(p.l3Off, s));
      expect(decodeFrame(out, 0, n, 1, q)).toBe(0);
      expect([q.icmpIsError, q.innerSrcPort, q.innerDstPort, l4ChecksumOk(q)]).toEqual([
        true,
        40000,
        443,
        true,
      ]);
      // RST (no ACK in the segment): ack = seq + the segment's length on the wire.
      const m = writeTcpReset(p, out, 0);
      expect(m).toBe(nFull);
      expect(out.subarray(0, m)).toEqual(outFull.subarray(0, nFull));
    }
  });

  it('rewrites touch only captured bytes and agree with the uncut rewrite there', () => {
    const addr = Uint32Array.of(0, 0, 0xffff, 0xc6336401);
    const apply = (x: Packet): void => {
      rewriteSrcAddr(x, addr);
      rewriteSrcPort(x, 1111);
      rewriteDstPort(x, 2222);
      decrementTtl(x);
    };
    const ref = f.slice();
    expect(decodeFrame(ref, 0, ref.length, 1, full)).toBe(0);
    apply(full);
    expect(l4ChecksumOk(full)).toBe(true);
    const ck = full.l4Off + 16;
    for (let s = full.l4Off + 16; s <= f.length; s++) {
      const b = snap(f, s, 0xee);
      expect(decodeFrame(b, 0, s, 1, p, f.length)).toBe(0);
      apply(p);
      expect(b.subarray(s).every((x) => x === 0xee)).toBe(true);
      // A checksum field cut in half is left alone; everything else matches.
      const upTo = s < ck + 2 ? Math.min(s, ck) : s;
      expect(b.subarray(0, upTo)).toEqual(ref.subarray(0, upTo));
    }
  });

  it('a snapped fragment is refused by reassembly (frag-malformed)', () => {
    const frags = [
      buildFrame({ ipv4: { ...v4, id: 7, mf: true }, udp: { srcPort: 1, dstPort: 2 }, payload: fill(200) }),
      buildFrame({
        ipv6: { ...v6, ext: [{ type: 44, fragOffset: 0, more: true, id: 9 }] },
        udp: { srcPort: 1, dstPort: 2 },
        payload: fill(200),
      }),
    ];
    for (const frag of frags) {
      const r = new Reassembler();
      const s = 96;
      const b = snap(frag, s, 0);
      expect(decodeFrame(b, 0, s, 1, p, frag.length)).toBe(0);
      expect([p.isFragment, p.snapped]).toEqual([true, true]);
      expect(r.add(p, s, 0)).toBe(FRAG_MALFORMED);
    }
  });
});

// ---------- property ----------

const v6addr = v6addrArb();
const tcpArb = tcpRepr();

const ipArb = fc.oneof(
  fc
    .record({
      src: v4addr,
      dst: v4addr,
      options: fc.constantFrom(undefined, Uint8Array.of(1, 1, 1), Uint8Array.of(7, 7, 4, 0, 0, 0, 0)),
    })
    .map((ipv4) => ({ ipv4 }) as Pick<FrameSpec, 'ipv4' | 'ipv6'>),
  fc
    .record({
      src: v6addr,
      dst: v6addr,
      ext: fc.array(fc.record({ type: fc.constantFrom(60, 43), data: fc.uint8Array({ maxLength: 20 }) }), {
        maxLength: 3,
      }),
    })
    .map((ipv6) => ({ ipv6 }) as Pick<FrameSpec, 'ipv4' | 'ipv6'>),
);

type Upper = Omit<FrameSpec, 'ipv4' | 'ipv6'>;
const upperArb = (ip: Pick<FrameSpec, 'ipv4' | 'ipv6'>): fc.Arbitrary<Upper> => {
  const isV6 = !!ip.ipv6;
  const data = fc.uint8Array({ maxLength: 300 });
  const back = isV6
    ? { ipv6: { src: ip.ipv6!.dst, dst: ip.ipv6!.src } }
    : { ipv4: { src: ip.ipv4!.dst, dst: ip.ipv4!.src } };
  const icmpKey = isV6 ? 'icmpv6' : 'icmp';
  return fc.oneof(
    fc.record({ tcp: tcpArb, payload: data }),
    fc.record({ udp: fc.record({ srcPort: port, dstPort: port }), payload: data }),
    fc
      .tuple(u16, u16, data)
      .map(([id, seq, payload]) => ({ [icmpKey]: { type: isV6 ? 128 : 8, code: 0, id, seq }, payload })),
    fc.tuple(port, port, fc.boolean(), data).map(([sp, dp, tcp, payload]) => ({
      [icmpKey]: { type: isV6 ? 1 : 3, code: 3 },
      payload: buildIp({
        ...back,
        ...(tcp
          ? { tcp: { srcPort: sp, dstPort: dp, flags: TCP_SYN } }
          : { udp: { srcPort: sp, dstPort: dp } }),
        payload,
      }),
    })),
    fc.record({ checksum: fc.boolean(), key: u32, seq: u32 }, { requiredKeys: [] }).chain((gre) =>
      fc.tuple(port, port, data).map(([sp, dp, payload]) => ({
        gre,
        payload: buildIp({ ...back, udp: { srcPort: sp, dstPort: dp }, payload }),
      })),
    ),
  );
};

describe('property: random frames, random snap lengths', () => {
  it('never throws; key as uncut when enough was captured, else the truncated-* error', () => {
    const frameArb = fc
      .tuple(
        ipArb,
        fc.array(fc.integer({ min: 0, max: 4095 }), { maxLength: 2 }),
        fc.constantFrom(0, 60, 128),
      )
      .chain(([ip, vlans, padTo]) => upperArb(ip).map((up) => ({ ...ip, ...up, vlans, padTo }) as FrameSpec));
    fc.assert(
      fc.property(frameArb, fc.double({ min: 0, max: 1, noNaN: true }), (spec, frac) => {
        const f = buildFrame(spec);
        expect(decodeFrame(f, 0, f.length, 1, full)).toBe(0);
        const s = Math.min(f.length, Math.floor(frac * (f.length + 1)));
        checkCut(f, s);
      }),
      { numRuns: 1000 },
    );
  });
});

// ---------- real captures ----------

describe.skipIf(!HAVE_CAPTURES)('real captures', () => {
  it('tcpdump/tcp_rst_data-trunc.pcap: caplen < len decodes with error 0 given the original length', () => {
    const cap = readCapture('tcpdump/tcp_rst_data-trunc.pcap');
    const snapped = cap.records.filter((r) => r.caplen < r.origLen);
    expect(snapped.length).toBeGreaterThan(0);
    for (const r of snapped) {
      expect(decodeErrorName(decodeFrame(r.data, r.off, r.caplen, cap.linkType, p))).toBe('bad-ipv4-length');
      expect(decodeErrorName(decodeFrame(r.data, r.off, r.caplen, cap.linkType, p, r.origLen))).toBe('ok');
      expect(p.snapped).toBe(true);
      expect(p.capEnd).toBe(r.off + r.caplen);
      expect(p.ipEnd - p.base).toBe(r.origLen);
      // tcpdump: "Flags [R.], seq 1617159969:1617160027, ack 1936660873, win 5785, length 58"
      expect([p.srcPort, p.dstPort, p.tcpFlags, p.seq, p.ack, p.window, p.payloadLen]).toEqual([
        80, 52875, 0x14, 1617159969, 1936660873, 5785, 58,
      ]);
      expect(l4ChecksumOk(p)).toBe(true);
    }
  });

  it('every classic pcap, each record cut to 96 bytes: never throws, key as uncut or a truncated-* error', () => {
    let compared = 0;
    for (const dir of ['tcpdump', 'zeek', 'tcpreplay', 'libpcap']) {
      let names: string[];
      try {
        names = readdirSync(CAPTURES + dir).filter((n) => n.endsWith('.pcap'));
      } catch {
        continue;
      }
      for (const name of names) {
        let cap;
        try {
          cap = readCapture(`${dir}/${name}`);
        } catch {
          continue;
        }
        for (const r of cap.records.slice(0, 2000)) {
          const frame = r.data.subarray(r.off, r.off + r.caplen);
          const rc0 = decodeFrame(frame, 0, frame.length, cap.linkType, full, r.origLen);
          if (r.caplen >= r.origLen) {
            const again = new Packet();
            expect(decodeFrame(frame, 0, frame.length, cap.linkType, again)).toBe(rc0);
            expect(dump(again)).toEqual(dump(full));
          }
          if (rc0 !== 0 || frame.length <= 96) continue;
          const s = 96;
          const b = snap(frame, s, 0xa5);
          const rc = decodeFrame(b, 0, s, cap.linkType, p, r.origLen);
          if (rc === 0) {
            expect(keyOf(p)).toEqual(keyOf(full));
            compared++;
          } else {
            expect(decodeErrorName(rc)).toMatch(/^truncated-/);
            if (full.ipVersion !== 0 && full.fragOffset === 0 && !full.icmpIsError)
              expect(s).toBeLessThan(need(full));
          }
        }
      }
    }
    expect(compared).toBeGreaterThan(50);
  });
});
