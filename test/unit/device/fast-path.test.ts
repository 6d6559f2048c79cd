/**
 * The session fast path (Device.fast) against the general path: the same
 * frames through two devices, one with `fastPath` off, must give the same
 * verdict, reason, session and egress port for every frame, send the same
 * frames and leave the same counters and byte-identical session state (table
 * blocks, index, TCP state, timer wheel). Random TCP conversations (IPv4 and
 * IPv6) with bad sequence numbers, odd flags, options, VLAN tags, NAT and
 * expiry, random UDP flows with bent lengths, and every third-party capture.
 */
import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { DeviceConfig } from '../../../src/config/types.js';
import { Device } from '../../../src/device/device.js';
import { Tracer } from '../../../src/device/trace.js';
import { V_FORWARDED, V_HELD } from '../../../src/device/verdict.js';
import { CaptureBatch, openCapture, recordTimeMs } from '../../../src/io/capture-reader.js';
import { buildFrame } from '../../../src/wire/build.js';
import { decodeFrame } from '../../../src/wire/decode.js';
import { Packet, TCP_ACK, TCP_FIN, TCP_PSH, TCP_RST, TCP_SYN } from '../../../src/wire/packet.js';
import { CAPTURES } from '../../support/captures.js';
import { config } from '../../support/run.js';

interface Side {
  dev: Device;
  sent: string[];
}

function side(cfg: DeviceConfig, fast: boolean): Side {
  const sent: string[] = [];
  const dev = new Device(cfg, {
    send: (port, buf, off, len) =>
      sent.push(`${port} ${Buffer.from(buf.subarray(off, off + len)).toString('hex')}`),
  });
  dev.fastPath = fast;
  return { dev, sent };
}

/** The fast-path device and the general-path one. */
function pair(cfg: () => DeviceConfig): [Side, Side] {
  return [side(cfg(), true), side(cfg(), false)];
}

function feed(
  a: Side,
  b: Side,
  frame: Uint8Array,
  tMs: number,
  linkType = 1,
  iface = 0,
  wireLen?: number,
): void {
  const len = frame.length;
  const va = a.dev.process(frame.slice(), 0, len, linkType, iface, tMs, wireLen ?? len);
  const vb = b.dev.process(frame.slice(), 0, len, linkType, iface, tMs, wireLen ?? len);
  expect([va, a.dev.reason, a.dev.session, a.dev.outPort]).toEqual([
    vb,
    b.dev.reason,
    b.dev.session,
    b.dev.outPort,
  ]);
}

function bytes(a: ArrayBufferView): Buffer {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength);
}

/** Everything the two devices hold must be the same. */
function same(a: Side, b: Side): void {
  expect(a.sent).toEqual(b.sent);
  expect(JSON.stringify(a.dev.stats)).toBe(JSON.stringify(b.dev.stats));
  // Private arrays, compared whole.
  const ta = a.dev.ct.table as unknown as { w: Uint32Array; index: Int32Array; count: number };
  const tb = b.dev.ct.table as unknown as { w: Uint32Array; index: Int32Array; count: number };
  expect(ta.count).toBe(tb.count);
  expect(bytes(ta.w).equals(bytes(tb.w))).toBe(true);
  expect(bytes(ta.index).equals(bytes(tb.index))).toBe(true);
  expect(bytes(a.dev.ct.tcp.data).equals(bytes(b.dev.ct.tcp.data))).toBe(true);
  const wa = a.dev.ct.wheel as unknown as { nextBits: Uint32Array; prevBits: Uint32Array };
  const wb = b.dev.ct.wheel as unknown as { nextBits: Uint32Array; prevBits: Uint32Array };
  expect(bytes(wa.nextBits).equals(bytes(wb.nextBits))).toBe(true);
  expect(bytes(wa.prevBits).equals(bytes(wb.prevBits))).toBe(true);
  expect(b.dev.fastFrames).toBe(0);
}

const LB = () =>
  config(`
sessions: { zone-by-vlan: true }
zones:
  inside: { networks: [10.0.1.0/24, 'fd00:1::/64'] }
  dmz: { networks: [10.0.2.0/24, 'fd00:2::/64'] }
  outside: { default: true }
virtual-servers:
  - { name: web, vip: 10.0.0.100, proto: tcp, port: 80, reals: [ { address: 10.0.2.11 } ] }
  - { name: dns, vip: 10.0.0.53, proto: udp, port: 53, mode: fullnat, snat: 10.0.2.1, reals: [ { address: 10.0.2.12 } ] }
masquerade:
  - { from: inside, to: outside, address: 198.51.100.1, ports: 2000-2100 }
policy: { rules: [ { from: inside, action: accept } ] }
`);

/** The addresses and ports of the last frame a side sent, as the server of a flow sees them. */
function lastSent(a: Side): { c: string; cp: number; s: string; sp: number } {
  const hex = a.sent.at(-1)!.split(' ')[1]!;
  const f = Uint8Array.from(Buffer.from(hex, 'hex'));
  const p = new Packet();
  expect(decodeFrame(f, 0, f.length, 1, p)).toBe(0);
  const text = (a: Uint32Array): string =>
    p.ipVersion === 4
      ? [a[3]! >>> 24, (a[3]! >>> 16) & 255, (a[3]! >>> 8) & 255, a[3]! & 255].join('.')
      : Array.from(a, (w) => `${(w >>> 16).toString(16)}:${(w & 0xffff).toString(16)}`).join(':');
  return { c: text(p.src), cp: p.srcPort, s: text(p.dst), sp: p.dstPort };
}

/** The IP part of a frame spec, IPv6 when the addresses are. */
function ip(
  src: string,
  dst: string,
): { ipv4: { src: string; dst: string } } | { ipv6: { src: string; dst: string } } {
  return src.includes(':') ? { ipv6: { src, dst } } : { ipv4: { src, dst } };
}

/** A TCP flow's two ends, their next sequence numbers and the frame of one segment. */
class Flow {
  seq: [number, number];
  /** How the server sees the flow, when the device translates it (read from the SYN it sent). */
  seen?: { c: string; cp: number; s: string; sp: number };
  constructor(
    readonly c: string,
    readonly cp: number,
    readonly s: string,
    readonly sp: number,
    readonly vlan: number | undefined,
    isn: number,
  ) {
    this.seq = [isn >>> 0, (isn * 7 + 12345) >>> 0];
  }

  frame(
    fromClient: boolean,
    flags: number,
    data: number,
    o: {
      seqOff?: number;
      ackOff?: number;
      window?: number;
      ts?: boolean;
      sack?: boolean;
      advance?: boolean;
    } = {},
  ): Uint8Array {
    const me = fromClient ? 0 : 1;
    const v = this.seen ?? this;
    const seq = (this.seq[me] + (o.seqOff ?? 0)) >>> 0;
    const ack = (this.seq[me ^ 1] + (o.ackOff ?? 0)) >>> 0;
    const f = buildFrame({
      vlans: this.vlan === undefined ? undefined : [this.vlan],
      ...ip(fromClient ? this.c : v.s, fromClient ? this.s : v.c),
      tcp: {
        srcPort: fromClient ? this.cp : v.sp,
        dstPort: fromClient ? this.sp : v.cp,
        seq,
        ack: flags & TCP_ACK ? ack : 0,
        flags,
        window: o.window ?? 502,
        ...(flags & TCP_SYN ? { mss: 1460, wscale: 7, sackPermitted: true } : {}),
        ...(o.ts ? { timestamps: [seq, ack] as const } : {}),
        ...(o.sack ? { sack: [[(ack + 100) >>> 0, (ack + 200) >>> 0]] as const } : {}),
      },
      payload: data ? new Uint8Array(data).fill(0x61) : undefined,
    });
    if (o.advance !== false && o.seqOff === undefined) {
      let adv = data;
      if (flags & (TCP_SYN | TCP_FIN)) adv += 1;
      this.seq[me] = (this.seq[me] + adv) >>> 0;
    }
    return f;
  }
}

/** A UDP flow; `frame` builds one datagram (its UDP length field bent by `lenOff`). */
class UdpFlow {
  seen?: { c: string; cp: number; s: string; sp: number };
  constructor(
    readonly c: string,
    readonly cp: number,
    readonly s: string,
    readonly sp: number,
    readonly vlan: number | undefined,
  ) {}

  frame(fromClient: boolean, data: number, lenOff = 0): Uint8Array {
    const v = this.seen ?? this;
    const f = buildFrame({
      vlans: this.vlan === undefined ? undefined : [this.vlan],
      ...ip(fromClient ? this.c : v.s, fromClient ? this.s : v.c),
      udp: { srcPort: fromClient ? this.cp : v.sp, dstPort: fromClient ? this.sp : v.cp },
      payload: data ? new Uint8Array(data).fill(0x62) : undefined,
    });
    if (lenOff !== 0) {
      const at = 14 + (this.vlan === undefined ? 0 : 4) + (this.c.includes(':') ? 40 : 20) + 4;
      const l = (((f[at]! << 8) | f[at + 1]!) + lenOff) & 0xffff;
      f[at] = l >> 8;
      f[at + 1] = l & 0xff;
    }
    return f;
  }
}

type UdpStepT = { flow: number; fromClient: boolean; data: number; lenOff: number; dt: number };

const udpStep: fc.Arbitrary<UdpStepT> = fc.record({
  flow: fc.nat(3),
  fromClient: fc.boolean(),
  data: fc.constantFrom(0, 1, 100, 1400),
  lenOff: fc.constantFrom(0, 0, 0, 0, 0, 0, -1, 1, -8, 4000),
  dt: fc.constantFrom(0, 1, 10, 1000, 31_000, 130_000),
});

/** Four UDP flows (one on VLAN 7, one to the UDP VIP of the LB config, one IPv6), then the steps. */
function udpScenario(cfg: () => DeviceConfig, steps: UdpStepT[]): [Side, Side] {
  const [a, b] = pair(cfg);
  const flows = [
    new UdpFlow('10.0.1.2', 5353, '192.0.2.53', 53, undefined),
    new UdpFlow('10.0.1.3', 5354, '10.0.2.53', 53, 7),
    new UdpFlow('10.0.1.4', 5355, '10.0.0.53', 53, undefined),
    new UdpFlow('fd00:1::4', 5356, 'fd00:2::53', 53, 7),
  ];
  let t = 1000;
  for (const f of flows) {
    feed(a, b, f.frame(true, 40), (t += 1));
    f.seen = lastSent(a);
    for (let i = 0; i < 3; i++) {
      feed(a, b, f.frame(false, 200), (t += 1));
      feed(a, b, f.frame(true, 40), (t += 1));
    }
  }
  for (const s of steps) {
    t += s.dt;
    feed(a, b, flows[s.flow]!.frame(s.fromClient, s.data, s.lenOff), t);
  }
  return [a, b];
}

type StepT = {
  flow: number;
  fromClient: boolean;
  flags: number;
  data: number;
  seqOff: number | undefined;
  ackOff: number | undefined;
  window: number;
  ts: boolean;
  sack: boolean;
  dt: number;
};

const FLAGS = [
  TCP_ACK,
  TCP_ACK | TCP_PSH,
  TCP_ACK,
  TCP_ACK | TCP_PSH,
  TCP_ACK | TCP_FIN,
  TCP_RST,
  TCP_SYN,
  TCP_ACK | 0x20,
  TCP_ACK | 0x40,
  0,
];

const step: fc.Arbitrary<StepT> = fc.record({
  flow: fc.nat(4),
  fromClient: fc.boolean(),
  flags: fc.constantFrom(...FLAGS),
  data: fc.constantFrom(0, 0, 1, 100, 1448, 70000),
  seqOff: fc.option(fc.constantFrom(-1, 1, -70000, 70000, 0x40000000, -0x7fffffff), {
    nil: undefined,
    freq: 8,
  }),
  ackOff: fc.option(fc.constantFrom(-1, 1, 70000, -0x40000000), { nil: undefined, freq: 8 }),
  window: fc.constantFrom(0, 1, 502, 65535),
  ts: fc.boolean(),
  sack: fc.constantFrom(false, false, false, true),
  dt: fc.constantFrom(0, 1, 10, 1000, 130_000, 500_000),
});

/** Five flows (one on VLAN 7, one to the VIP, one IPv6 on VLAN 7) opened, then the steps. */
function scenario(cfg: () => DeviceConfig, steps: StepT[]): [Side, Side] {
  const [a, b] = pair(cfg);
  const flows = [
    new Flow('10.0.1.2', 40001, '192.0.2.10', 443, undefined, 1000),
    new Flow('10.0.1.3', 40002, '192.0.2.11', 80, 7, 0xfffffff0),
    new Flow('10.0.1.4', 40003, '10.0.0.100', 80, undefined, 0x7ffffff0),
    new Flow('10.0.1.5', 40004, '10.0.2.20', 22, undefined, 5),
    new Flow('fd00:1::5', 40005, 'fd00:2::20', 22, 7, 0xfffffff0),
  ];
  let t = 1000;
  for (const f of flows) {
    feed(a, b, f.frame(true, TCP_SYN, 0), t);
    f.seen = lastSent(a);
    feed(a, b, f.frame(false, TCP_SYN | TCP_ACK, 0), (t += 1));
    feed(a, b, f.frame(true, TCP_ACK, 0), (t += 1));
    for (let i = 0; i < 4; i++) {
      feed(a, b, f.frame(true, TCP_ACK | TCP_PSH, 100), (t += 1));
      feed(a, b, f.frame(false, TCP_ACK, 0), (t += 1));
    }
  }
  for (const s of steps) {
    t += s.dt;
    const f = flows[s.flow]!;
    feed(a, b, f.frame(s.fromClient, s.flags, s.data, s), t);
  }
  return [a, b];
}

/** Random steps through a scenario, with the default and the LB/NAT config: the same both ways. */
function bothWays<T>(
  steps: fc.Arbitrary<T[]>,
  run: (cfg: () => DeviceConfig, steps: T[]) => [Side, Side],
  numRuns: number,
): void {
  for (const cfg of [config, LB]) {
    fc.assert(
      fc.property(steps, (xs) => {
        const [a, b] = run(cfg, xs);
        same(a, b);
      }),
      { numRuns },
    );
  }
}

describe('session fast path', () => {
  it('takes the ordinary segments of established flows, and only when nothing needs the general path', () => {
    const [a, b] = scenario(config, []);
    same(a, b);
    // Per flow, the 4 data segments and 4 acks after the handshake (the VLAN-tagged flow too; the
    // flow to 10.0.0.100 is plain here, with no virtual server).
    expect(a.dev.fastFrames).toBe(5 * 8);
    // With the LB config the flow to the VIP is DNATed and the inside flows to outside are
    // masqueraded: the fast path rewrites them as the general path does.
    const [c, d] = scenario(LB, []);
    same(c, d);
    expect(c.dev.fastFrames).toBe(5 * 8);
    // All five flows got established, and everything was forwarded.
    expect(c.dev.ct.table.count).toBe(5);
    expect(c.dev.stats.verdicts[0]).toBe(c.dev.stats.packetsIn);
  });

  it('leaves everything as the general path would, on random conversations (default and LB/NAT configs)', () => {
    bothWays(fc.array(step, { maxLength: 60 }), scenario, 150);
  });

  it('takes UDP datagrams of existing sessions, the same way as the general path', () => {
    const [a, b] = udpScenario(config, []);
    same(a, b);
    // All but each flow's first datagram (which creates the session).
    expect(a.dev.fastFrames).toBe(4 * 6);
    const [c, d] = udpScenario(LB, []);
    same(c, d);
    // Masqueraded, to the VIP, or plain: all the same to the fast path.
    expect(c.dev.fastFrames).toBe(4 * 6);
    bothWays(fc.array(udpStep, { maxLength: 40 }), udpScenario, 100);
  });

  it('keys tagged frames by the whole VLAN ID, and leaves fragments of established flows to reassembly', () => {
    const [a, b] = pair(LB);
    // The same tuple on VLANs 300 and 44 (300 & 0xff): two sessions, zones by VLAN.
    const flows = [300, 44].map((vlan) => new Flow('10.0.1.2', 40001, '10.0.2.20', 22, vlan, 1000));
    let t = 1000;
    for (const f of flows) {
      feed(a, b, f.frame(true, TCP_SYN, 0), (t += 1));
      feed(a, b, f.frame(false, TCP_SYN | TCP_ACK, 0), (t += 1));
      feed(a, b, f.frame(true, TCP_ACK, 0), (t += 1));
    }
    // Their data segments interleaved: each finds its own session.
    for (let i = 0; i < 3; i++) {
      for (const f of flows) feed(a, b, f.frame(true, TCP_ACK | TCP_PSH, 100 + i), (t += 1));
      for (const f of flows) feed(a, b, f.frame(false, TCP_ACK, 0), (t += 1));
    }
    same(a, b);
    expect(a.dev.ct.table.count).toBe(2);
    expect(a.dev.fastFrames).toBe(2 * 6);
    // A data segment of the VLAN 300 flow in two IPv4 fragments: the first (MF, offset 0)
    // carries a whole TCP header, but is held for reassembly, not forwarded on its own.
    const whole = flows[0]!.frame(true, TCP_ACK | TCP_PSH, 200);
    const tcp = whole.subarray(14 + 4 + 20);
    const frag = (from: number, to: number, mf: boolean): Uint8Array =>
      buildFrame({
        vlans: [300],
        ipv4: { src: '10.0.1.2', dst: '10.0.2.20', proto: 6, id: 0x77, mf, fragOffset: from },
        payload: tcp.subarray(from, to),
      });
    const fast = a.dev.fastFrames;
    feed(a, b, frag(0, 48, true), (t += 1));
    expect(a.dev.stats.verdicts[V_HELD]).toBe(1);
    feed(a, b, frag(48, tcp.length, false), (t += 1));
    same(a, b);
    expect(a.dev.fastFrames).toBe(fast);
    expect(a.dev.stats.verdicts[V_FORWARDED]).toBe(a.dev.stats.packetsIn - 1);
  });

  it('is off with checksum verification and while a trace runs', () => {
    const frames = (): Uint8Array[] => {
      const f = new Flow('10.0.1.2', 40001, '192.0.2.10', 443, undefined, 1000);
      const out = [
        f.frame(true, TCP_SYN, 0),
        f.frame(false, TCP_SYN | TCP_ACK, 0),
        f.frame(true, TCP_ACK, 0),
      ];
      for (let i = 0; i < 5; i++) out.push(f.frame(true, TCP_ACK | TCP_PSH, 10));
      return out;
    };
    const [a, b] = pair(() => config('sessions: { verify-checksums: true }\n'));
    let t = 1000;
    for (const fr of frames()) feed(a, b, fr, (t += 1));
    same(a, b);
    expect(a.dev.fastFrames).toBe(0);
    const [c, d] = pair(config);
    const lines: string[] = [];
    c.dev.tracer = new Tracer('', (l) => lines.push(l));
    d.dev.tracer = new Tracer('', () => {});
    for (const fr of frames()) feed(c, d, fr, (t += 1));
    same(c, d);
    expect(c.dev.fastFrames).toBe(0);
    expect(lines.length).toBeGreaterThan(0);
    // On again once the trace is off.
    c.dev.tracer = null;
    d.dev.tracer = null;
    const g = new Flow('10.0.1.9', 40009, '192.0.2.10', 443, undefined, 77);
    feed(c, d, g.frame(true, TCP_SYN, 0), (t += 1));
    feed(c, d, g.frame(false, TCP_SYN | TCP_ACK, 0), (t += 1));
    feed(c, d, g.frame(true, TCP_ACK, 0), (t += 1));
    feed(c, d, g.frame(true, TCP_ACK | TCP_PSH, 10), (t += 1));
    feed(c, d, g.frame(false, TCP_ACK, 0), (t += 1));
    same(c, d);
    expect(c.dev.fastFrames).toBe(2);
  });
});

function captures(dir: string, out: string[]): string[] {
  for (const n of readdirSync(dir)) {
    const p = path.join(dir, n);
    if (statSync(p).isDirectory()) captures(p, out);
    else if (/\.(pcap|pcapng)$/.test(n)) out.push(p);
  }
  return out;
}

describe.skipIf(CAPTURES === null)('session fast path on the third-party captures', () => {
  it('gives what the general path gives on every capture, default and LB configs', () => {
    let fast = 0;
    let frames = 0;
    for (const file of captures(CAPTURES!, [])) {
      for (const cfg of [config, LB]) {
        const [a, b] = pair(cfg);
        let r;
        try {
          r = openCapture(file);
        } catch {
          continue; // unreadable on purpose (libpcap's error cases): the reader's tests
        }
        const batch = new CaptureBatch(64);
        let n;
        while ((n = r.next(batch)) > 0) {
          for (let i = 0; i < n; i++) {
            const frame = batch.buf.slice(batch.off[i]!, batch.off[i]! + batch.caplen[i]!);
            feed(
              a,
              b,
              frame,
              recordTimeMs(batch, i),
              batch.linkType[i]!,
              batch.ifIndex[i]!,
              batch.origlen[i]!,
            );
            frames++;
          }
        }
        r.close();
        same(a, b);
        fast += a.dev.fastFrames;
      }
    }
    expect(frames).toBeGreaterThan(1000);
    expect(fast).toBeGreaterThan(50);
  });
});
