/** FlowPaths: where each direction of each flow was seen, checked against hand-built cases and a reference. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FlowPaths } from '../../../src/replay/asymmetry.js';
import { asymmetryJson, asymmetryText, flowLine } from '../../../src/replay/asymmetry-report.js';
import { buildFrame } from '../../../src/wire/build.js';
import { echoFrame, fragmentV4, icmpErrorFrame, udpFrame } from '../../support/conv.js';
import { pairScenario } from '../../support/ha-captures.js';

function see(paths: FlowPaths, device: number, frame: Uint8Array): void {
  paths.observeFrame(device, frame, 0, frame.length, 1);
}

describe('FlowPaths', () => {
  it('classifies the HA pair scenario: asymmetric, symmetric, mixed and one-way flows, listed in start order', () => {
    const sc = pairScenario();
    const all = [...sc.fw1.map((f) => ({ ...f, d: 0 })), ...sc.fw2.map((f) => ({ ...f, d: 1 }))];
    // Stable sort: at equal times fw1 first, as the merge does.
    all.sort((a, b) => a.t - b.t);
    const paths = new FlowPaths();
    for (const f of all) see(paths, f.d, f.frame);
    const j = asymmetryJson(paths, ['fw1', 'fw2'], 10);
    expect({
      flows: j.flows,
      asymmetric: j.asymmetric,
      symmetric: j.symmetric,
      mixed: j.mixed,
      oneWay: j.oneWay,
    }).toEqual(sc.counts);
    expect(j.packets).toBe(all.length);
    expect(j.otherPackets).toBe(0);
    expect(j.listed.map(flowLine)).toEqual(sc.asymmetricLines);
    // The late flow: the server's SYN-ACK came first, so the server is the originator.
    expect(j.listed[0]).toMatchObject({ src: '10.0.2.11', sport: 8080, dst: '10.0.1.4', dport: 40002 });
    expect(j.listed[0]!.packets).toEqual({ orig: 2, reply: 2 });
    expect(j.listed[1]!.packets).toEqual({ orig: 6, reply: 4 });
    const text = asymmetryText(j);
    expect(text).toContain('flows     7 over 2 devices: 3 asymmetric, 2 symmetric, 1 mixed, 1 one-way\n');
    expect(asymmetryText(asymmetryJson(paths, ['fw1', 'fw2'], 1))).toContain('asymmetric (first 1 of 3):');
  });

  it('puts both directions of an ICMP echo in one flow, keeps VLANs apart, prints IPv6 in brackets', () => {
    const paths = new FlowPaths();
    see(paths, 0, echoFrame('10.0.1.2', '10.0.2.11', 9, 1));
    see(paths, 1, echoFrame('10.0.2.11', '10.0.1.2', 9, 1, true));
    see(paths, 0, udpFrame('10.0.1.2', 1000, '10.0.2.11', 2000, 8));
    see(paths, 1, udpFrame('10.0.2.11', 2000, '10.0.1.2', 1000, 8, [10]));
    see(paths, 0, udpFrame('2001:db8::1', 1000, '2001:db8::2', 53));
    see(paths, 1, udpFrame('2001:db8::2', 53, '2001:db8::1', 1000));
    see(paths, 2, udpFrame('10.0.1.2', 1000, '10.0.2.11', 2000, 8, [10, 20]));
    see(paths, 3, udpFrame('10.0.2.11', 2000, '10.0.1.2', 1000, 8, [10, 20]));
    const j = asymmetryJson(paths, ['a', 'b', 'c', 'd'], 10);
    expect(j.flows).toBe(5);
    expect(j.oneWay).toBe(2); // the untagged UDP and the VLAN 10 UDP are different flows
    expect(j.listed.map(flowLine)).toEqual([
      'icmp 10.0.1.2 -> 10.0.2.11 id=9  orig@a reply@b',
      'udp [2001:db8::1]:1000 -> [2001:db8::2]:53  orig@a reply@b',
      'udp 10.0.1.2:1000 -> 10.0.2.11:2000 vlan=10/20  orig@c reply@d',
    ]);
    expect(j.listed[0]).toMatchObject({ proto: 'icmp', id: 9, type: 8 });
    expect(j.listed[2]!.vlan).toEqual([10, 20]);
  });

  it('counts packets in no flow: non-IP, ICMP errors, non-first fragments (the first fragment joins its flow)', () => {
    const paths = new FlowPaths();
    const arp = buildFrame({
      srcMac: '02:00:00:00:00:01',
      dstMac: 'ff:ff:ff:ff:ff:ff',
      arp: { op: 1, sha: '02:00:00:00:00:01', spa: '10.0.1.2', tha: '00:00:00:00:00:00', tpa: '10.0.1.1' },
    });
    see(paths, 0, arp);
    const dgram = udpFrame('10.0.1.2', 5000, '10.0.2.11', 6000, 300);
    see(paths, 0, icmpErrorFrame('10.0.2.1', '10.0.1.2', 3, 3, dgram));
    const frags = fragmentV4(dgram, '10.0.1.2', '10.0.2.11', 77, 128);
    expect(frags.length).toBe(3);
    for (const f of frags) see(paths, 0, f);
    see(paths, 1, udpFrame('10.0.2.11', 6000, '10.0.1.2', 5000));
    const c = paths.counts();
    expect(c).toMatchObject({ flows: 1, asymmetric: 1, packets: 2, otherPackets: 4 });
  });

  it('grows its table and stops adding flows at maxFlows (counting their packets as overflow)', () => {
    const paths = new FlowPaths(1 << 20, 16);
    const n = 5000;
    for (let i = 0; i < n; i++) see(paths, i % 3, udpFrame('10.0.1.2', 1024 + i, '10.0.2.11', 53));
    for (let i = 0; i < n; i++) see(paths, 3, udpFrame('10.0.2.11', 53, '10.0.1.2', 1024 + i));
    expect(paths.counts()).toMatchObject({ flows: n, asymmetric: n, packets: 2 * n });
    const small = new FlowPaths(5, 16);
    for (let i = 0; i < 8; i++) see(small, 0, udpFrame('10.0.1.2', 1024 + i, '10.0.2.11', 53));
    see(small, 1, udpFrame('10.0.2.11', 53, '10.0.1.2', 1024));
    expect(small.counts()).toMatchObject({ flows: 5, oneWay: 4, asymmetric: 1, overflowPackets: 3 });
  });

  it('agrees with a string-keyed reference on random packets', () => {
    const hosts = ['10.0.1.2', '10.0.1.3', '10.0.2.11', '2001:db8::1', '2001:db8::2'];
    const pkt = fc.record({
      src: fc.integer({ min: 0, max: 4 }),
      dst: fc.integer({ min: 0, max: 4 }),
      sport: fc.constantFrom(53, 1000, 2000),
      dport: fc.constantFrom(53, 1000, 2000),
      vlan: fc.constantFrom(0, 0, 7),
      device: fc.integer({ min: 0, max: 4 }),
    });
    fc.assert(
      fc.property(fc.array(pkt, { maxLength: 120 }), (pkts) => {
        const paths = new FlowPaths(1 << 20, 16);
        const ref = new Map<string, { orig: string; seen: [number, number] }>();
        for (const p of pkts) {
          const src = hosts[p.src]!;
          let dst = hosts[p.dst]!;
          if (src.includes(':') !== dst.includes(':')) dst = src.includes(':') ? '2001:db8::2' : '10.0.2.11';
          see(paths, p.device, udpFrame(src, p.sport, dst, p.dport, 8, p.vlan ? [p.vlan] : undefined));
          const a = `${src}|${p.sport}`;
          const b = `${dst}|${p.dport}`;
          const key = `${p.vlan}/${[a, b].sort().join('/')}`;
          let f = ref.get(key);
          if (!f) ref.set(key, (f = { orig: a, seen: [0, 0] }));
          f.seen[a === f.orig ? 0 : 1] |= 1 << p.device;
        }
        const want = { flows: ref.size, asymmetric: 0, symmetric: 0, mixed: 0, oneWay: 0 };
        for (const {
          seen: [o, r],
        } of ref.values()) {
          if (r === 0) want.oneWay++;
          else if ((o & r) === 0) want.asymmetric++;
          else if (o === r) want.symmetric++;
          else want.mixed++;
        }
        const c = paths.counts();
        expect({
          flows: c.flows,
          asymmetric: c.asymmetric,
          symmetric: c.symmetric,
          mixed: c.mixed,
          oneWay: c.oneWay,
        }).toEqual(want);
      }),
      { numRuns: 200 },
    );
  });

  it('refuses a device index beyond 31', () => {
    expect(() => see(new FlowPaths(), 32, udpFrame('10.0.1.2', 1, '10.0.2.11', 2))).toThrow(
      /device index 32/,
    );
  });
});
