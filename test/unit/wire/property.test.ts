import fc from 'fast-check';
import { port, tcpRepr as tcpReprArb, u16, u32, v4addr, v6addr as v6addrArb } from './arbitraries.js';
import { describe, expect, it } from 'vitest';
import { formatIp } from '../../../src/wire/addr.js';
import { buildFrame, buildIp, type FrameSpec } from '../../../src/wire/build.js';
import {
  csumUpdate16,
  csumUpdate32,
  csumUpdateAddr,
  fillChecksums,
  fold,
  internetChecksum,
  ipv4HeaderChecksumOk,
  l4ChecksumOk,
} from '../../../src/wire/checksum.js';
import { decodeFrame } from '../../../src/wire/decode.js';
import { DECODE_ERRORS } from '../../../src/wire/errors.js';
import { Packet } from '../../../src/wire/packet.js';
import {
  rewriteDstAddr,
  rewriteDstPort,
  rewriteIcmpId,
  rewriteSrcAddr,
  rewriteSrcPort,
} from '../../../src/wire/rewrite.js';

const RUNS = { numRuns: 300 };
const v6addr = v6addrArb();
const payload = fc.uint8Array({ maxLength: 64 });
const vlans = fc.array(fc.integer({ min: 0, max: 4095 }), { maxLength: 2 });

const tcpRepr = tcpReprArb();

const ip4 = fc.record({
  src: v4addr,
  dst: v4addr,
  ttl: fc.integer({ min: 0, max: 255 }),
  tos: fc.integer({ min: 0, max: 255 }),
  id: u16,
  df: fc.boolean(),
  options: fc.constantFrom(
    undefined,
    Uint8Array.of(1, 1, 1),
    Uint8Array.of(0x94, 4, 0, 0),
    Uint8Array.of(7, 7, 4, 0, 0, 0, 0),
  ),
});
const ip6 = fc.record({
  src: v6addr,
  dst: v6addr,
  hopLimit: fc.integer({ min: 0, max: 255 }),
  trafficClass: fc.integer({ min: 0, max: 255 }),
  flowLabel: fc.integer({ min: 0, max: 0xfffff }),
  ext: fc.array(fc.record({ type: fc.constantFrom(60, 43), data: fc.uint8Array({ maxLength: 20 }) }), {
    maxLength: 3,
  }),
});
const ipLayer = fc.oneof(
  ip4.map((ipv4) => ({ ipv4 })),
  ip6.map((ipv6) => ({ ipv6 })),
);

const p = new Packet();
const decodeOk = (f: Uint8Array, link = 1): void => {
  const rc = decodeFrame(f, 0, f.length, link, p);
  expect(DECODE_ERRORS[rc]).toBe('ok');
  expect(ipv4HeaderChecksumOk(p)).toBe(true);
  expect(l4ChecksumOk(p)).toBe(true);
};
const checkIp = (s: FrameSpec): void => {
  const ip = s.ipv4 ?? s.ipv6!;
  expect(formatIp(p.src)).toBe(formatIp(ip.src as Uint32Array));
  expect(formatIp(p.dst)).toBe(formatIp(ip.dst as Uint32Array));
  if (s.ipv4)
    expect([p.ipVersion, p.ttl, p.tos, p.ipId, p.dontFragment]).toEqual([
      4,
      s.ipv4.ttl,
      s.ipv4.tos,
      s.ipv4.id,
      s.ipv4.df,
    ]);
  else expect([p.ipVersion, p.ttl, p.tos]).toEqual([6, s.ipv6!.hopLimit, s.ipv6!.trafficClass]);
};

describe('build then decode round-trips', () => {
  it('TCP over IPv4/IPv6 with VLANs and options', () => {
    fc.assert(
      fc.property(ipLayer, vlans, tcpRepr, payload, (ip, vl, tcp, data) => {
        const s: FrameSpec = { ...ip, vlans: vl, tcp, payload: data };
        decodeOk(buildFrame(s));
        checkIp(s);
        expect([p.vlanCount, p.vlanOuter, p.vlanInner]).toEqual([vl.length, vl[0] ?? 0, vl[1] ?? 0]);
        expect([p.srcPort, p.dstPort, p.seq, p.ack, p.tcpFlags, p.window, p.payloadLen]).toEqual([
          tcp.srcPort,
          tcp.dstPort,
          tcp.seq,
          tcp.ack,
          tcp.flags,
          tcp.window,
          data.length,
        ]);
        expect([p.mss, p.wscale, p.sackPermitted, p.hasTimestamps]).toEqual([
          tcp.mss ?? 0,
          tcp.wscale ?? -1,
          !!tcp.sackPermitted,
          !!tcp.timestamps,
        ]);
        if (tcp.timestamps) expect([p.tsVal, p.tsEcr]).toEqual(tcp.timestamps);
        if (tcp.sack) {
          const best = tcp.sack.map((x) => x[1]).reduce((a, b) => (((b - a) | 0) > 0 ? b : a));
          expect(p.sackMaxRight).toBe(best);
        }
      }),
      RUNS,
    );
  });

  it('UDP, link types', () => {
    fc.assert(
      fc.property(
        ipLayer,
        port,
        port,
        payload,
        fc.constantFrom(1, 101, 113, 276),
        (ip, sp, dp, data, link) => {
          const s: FrameSpec = { ...ip, link, udp: { srcPort: sp, dstPort: dp }, payload: data };
          decodeOk(buildFrame(s), link);
          checkIp(s);
          expect([p.srcPort, p.dstPort, p.payloadLen]).toEqual([sp, dp, data.length]);
        },
      ),
      RUNS,
    );
  });

  it('ICMP / ICMPv6 echo and errors quoting a TCP or UDP packet', () => {
    fc.assert(
      fc.property(
        fc.boolean(),
        fc.boolean(),
        v4addr,
        v4addr,
        v6addr,
        v6addr,
        port,
        port,
        u16,
        u16,
        (v6, useTcp, a, b, a6, b6, sp, dp, id, seq) => {
          const [src, dst] = v6 ? [a6, b6] : [a, b];
          const ip = v6 ? { ipv6: { src, dst } } : { ipv4: { src, dst } };
          const icmpKey = v6 ? 'icmpv6' : 'icmp';
          decodeOk(buildFrame({ ...ip, [icmpKey]: { type: v6 ? 128 : 8, code: 0, id, seq } }));
          expect([p.icmpId, p.icmpSeq, p.icmpIsError]).toEqual([id, seq, false]);
          const inner = buildIp({
            ...ip,
            ...(useTcp
              ? { tcp: { srcPort: sp, dstPort: dp, flags: 2 } }
              : { udp: { srcPort: sp, dstPort: dp } }),
          });
          decodeOk(
            buildFrame({
              ...(v6 ? { ipv6: { src: b6, dst: a6 } } : { ipv4: { src: b, dst: a } }),
              [icmpKey]: { type: v6 ? 1 : 3, code: 4 },
              payload: inner.subarray(0, (v6 ? 40 : 20) + 8),
            }),
          );
          expect([p.icmpIsError, p.innerIpVersion, p.innerL4Proto, p.innerSrcPort, p.innerDstPort]).toEqual([
            true,
            v6 ? 6 : 4,
            useTcp ? 6 : 17,
            sp,
            dp,
          ]);
          expect([formatIp(p.innerSrc), formatIp(p.innerDst)]).toEqual([formatIp(src), formatIp(dst)]);
        },
      ),
      RUNS,
    );
  });

  it('GRE with C/K/S carrying an inner packet', () => {
    fc.assert(
      fc.property(
        ipLayer,
        fc.boolean(),
        fc.option(u32, { nil: undefined }),
        fc.option(u32, { nil: undefined }),
        port,
        (ip, c, key, seq, sp) => {
          const inner = buildIp({
            ipv4: { src: '10.0.0.1', dst: '10.0.0.2' },
            udp: { srcPort: sp, dstPort: 53 },
          });
          decodeOk(buildFrame({ ...ip, gre: { checksum: c, key, seq }, payload: inner }));
          expect([p.greHasChecksum, p.greHasKey, p.greKey, p.greHasSeq, p.greSeq, p.greProto]).toEqual([
            c,
            key !== undefined,
            key ?? 0,
            seq !== undefined,
            seq ?? 0,
            0x0800,
          ]);
          expect(p.buf.subarray(p.grePayloadOff, p.ipEnd)).toEqual(inner);
        },
      ),
      RUNS,
    );
  });

  it('ARP', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 2 }), v4addr, v4addr, vlans, (op, spa, tpa, vl) => {
        decodeOk(buildFrame({ vlans: vl, arp: { op, spa, tpa } }));
        expect([p.arpOp, p.arpSpa, p.arpTpa]).toEqual([op, spa[3], tpa[3]]);
      }),
      RUNS,
    );
  });
});

describe('decodeFrame on arbitrary bytes', () => {
  const link = fc.oneof(fc.constantFrom(1, 101, 113, 228, 229, 276), fc.integer({ min: 0, max: 0xffff }));
  const check = (f: Uint8Array, lt: number): boolean => {
    const rc = decodeFrame(f, 0, f.length, lt, p);
    return Number.isInteger(rc) && rc >= 0 && rc < DECODE_ERRORS.length && rc === p.error;
  };
  it('never throws on random bytes', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 200 }), link, check), { numRuns: 3000 });
  });
  it('never throws on mutated valid frames', () => {
    const seeds = [
      buildFrame({
        vlans: [1, 2],
        ipv4: { src: '1.2.3.4', dst: '5.6.7.8' },
        tcp: { srcPort: 1, dstPort: 2, flags: 2, mss: 1, sack: [[1, 2]], timestamps: [1, 2] },
      }),
      buildFrame({
        ipv6: { src: '::1', dst: '::2', ext: [{ type: 0 }, { type: 44 }] },
        udp: { srcPort: 1, dstPort: 2 },
        payload: new Uint8Array(8),
      }),
      buildFrame({
        ipv4: { src: '1.2.3.4', dst: '5.6.7.8' },
        icmp: { type: 3, code: 3 },
        payload: buildIp({ ipv6: { src: '::1', dst: '::2' }, udp: { srcPort: 1, dstPort: 2 } }),
      }),
      buildFrame({
        ipv6: { src: '::1', dst: '::2' },
        icmpv6: { type: 1, code: 3 },
        payload: buildIp({
          ipv6: { src: '::1', dst: '::2', ext: [{ type: 60 }] },
          tcp: { srcPort: 1, dstPort: 2, flags: 2 },
        }),
      }),
      buildFrame({
        ipv4: { src: '1.2.3.4', dst: '5.6.7.8' },
        gre: { checksum: true, key: 1, seq: 2 },
        payload: new Uint8Array(20),
      }),
      buildFrame({ arp: { op: 1, spa: '1.1.1.1', tpa: '2.2.2.2' } }),
    ];
    const mutation = fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), {
      minLength: 1,
      maxLength: 6,
    });
    fc.assert(
      fc.property(fc.constantFrom(...seeds), mutation, fc.nat(), (seed, muts, cut) => {
        const f = seed.slice(0, seed.length - (cut % 8));
        for (const [i, v] of muts) f[i % f.length] = v;
        return check(f, 1);
      }),
      { numRuns: 5000 },
    );
  });
});

/** fold and finish as first written: a loop with a division (the definition the fast forms must keep). */
function foldRef(s: number): number {
  while (s > 0xffff) s = (s & 0xffff) + Math.floor(s / 0x10000);
  return s;
}
const finishRef = (s: number): number => ~foldRef(s) & 0xffff;

describe('checksum folding without division', () => {
  it('fold equals the division-based fold for sums up to 2^53 (edges included)', () => {
    const edges = [0, 1, 0xfffe, 0xffff, 0x10000, 0x1fffe, 0xfffeffff, 0xffffffff, 2 ** 32, 2 ** 32 + 1];
    for (const s of edges) expect(fold(s)).toBe(foldRef(s));
    fc.assert(
      fc.property(fc.maxSafeNat(), fc.nat({ max: 0xffffffff }), (big, small) => {
        expect(fold(big)).toBe(foldRef(big));
        expect(fold(small)).toBe(foldRef(small));
      }),
      { numRuns: 5000 },
    );
  });

  it('updates equal RFC 1624 with the reference fold, also for words given as signed numbers', () => {
    fc.assert(
      fc.property(u16, u32, u32, u16, u16, (hc, old, now, o16, n16) => {
        const ref32 = finishRef(
          (~hc & 0xffff) + (~old >>> 16) + (~old & 0xffff) + (now >>> 16) + (now & 0xffff),
        );
        expect(csumUpdate32(hc, old, now)).toBe(ref32);
        expect(csumUpdate32(hc, old | 0, now | 0)).toBe(ref32);
        expect(csumUpdate16(hc, o16, n16)).toBe(finishRef((~hc & 0xffff) + (~o16 & 0xffff) + n16));
        const a = Uint32Array.of(old, now, old ^ now, 0xffff);
        const b = Uint32Array.of(now, old, 0, old);
        let s = ~hc & 0xffff;
        for (let i = 0; i < 4; i++)
          s += (~a[i]! >>> 16) + (~a[i]! & 0xffff) + (b[i]! >>> 16) + (b[i]! & 0xffff);
        expect(csumUpdateAddr(hc, a, b)).toBe(finishRef(s));
      }),
      { numRuns: 5000 },
    );
  });
});

describe('incremental checksum updates equal full recomputation', () => {
  it('16- and 32-bit word changes on random data', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 8, maxLength: 80 }), fc.nat(), u32, (data, at, v) => {
        const d = data.slice(0, data.length & ~1);
        const o = (at % (d.length >> 2)) * 4;
        const ck = internetChecksum(d, 0, d.length);
        const old16 = (d[o]! << 8) | d[o + 1]!;
        const old32 = ((old16 << 16) | (d[o + 2]! << 8) | d[o + 3]!) >>> 0;
        const e = d.slice();
        e[o] = v >>> 24;
        e[o + 1] = v >>> 16;
        expect(csumUpdate16(ck, old16, (v >>> 16) & 0xffff)).toBe(internetChecksum(e, 0, e.length));
        e[o + 2] = v >>> 8;
        e[o + 3] = v;
        expect(csumUpdate32(ck, old32, v)).toBe(internetChecksum(e, 0, e.length));
      }),
      { numRuns: 1000 },
    );
  });

  it('NAT rewrites of addresses, ports and ICMP ids (v4 and v6; TCP, UDP, ICMP)', () => {
    const l4 = fc.constantFrom('tcp', 'udp', 'udp0', 'icmp');
    fc.assert(
      fc.property(
        fc.boolean(),
        l4,
        v4addr,
        v4addr,
        v6addr,
        v6addr,
        port,
        port,
        payload,
        (v6, kind, a, b, c, d, np, nq, data) => {
          const ip = v6
            ? { ipv6: { src: '2001:db8::1', dst: '2001:db8::2' } }
            : { ipv4: { src: '192.0.2.1', dst: '198.51.100.2' } };
          const up =
            kind === 'tcp'
              ? { tcp: { srcPort: 1000, dstPort: 80, flags: 0x18, seq: 1, ack: 2 } }
              : kind === 'icmp'
                ? { [v6 ? 'icmpv6' : 'icmp']: { type: v6 ? 128 : 8, code: 0, id: 99, seq: 1 } }
                : { udp: { srcPort: 1000, dstPort: 53, noChecksum: kind === 'udp0' } };
          const f = buildFrame({ ...ip, ...up, payload: data });
          expect(decodeFrame(f, 0, f.length, 1, p)).toBe(0);
          rewriteSrcAddr(p, v6 ? c : a);
          rewriteDstAddr(p, v6 ? d : b);
          if (kind === 'icmp') rewriteIcmpId(p, np);
          else {
            rewriteSrcPort(p, np);
            rewriteDstPort(p, nq);
          }
          const full = f.slice();
          const q = new Packet();
          decodeFrame(full, 0, full.length, 1, q);
          fillChecksums(q);
          if (kind === 'udp0' && !v6) full[p.l4Off + 6] = full[p.l4Off + 7] = 0;
          expect(Array.from(f)).toEqual(Array.from(full));
          expect(ipv4HeaderChecksumOk(q) && l4ChecksumOk(q)).toBe(true);
          expect([formatIp(q.src), q.srcPort || q.icmpId]).toEqual([formatIp(v6 ? c : a), np]);
        },
      ),
      { numRuns: 1000 },
    );
  });
});
