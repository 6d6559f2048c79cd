/**
 * Active health checks through a router-mode Device: the probes on the wire
 * (TCP SYN / ICMP echo from the device's address to the real's MAC, after
 * ARP), the answers (SYN-ACK -> up and a RST back; RST, ICMP unreachable or
 * silence -> down), rise and fall, and a down real getting no new sessions.
 */
import { describe, expect, it } from 'vitest';
import { Device } from '../../../src/device/device.js';
import { VERDICT_NAMES } from '../../../src/device/verdict.js';
import { formatIp } from '../../../src/wire/addr.js';
import { buildFrame } from '../../../src/wire/build.js';
import { l4ChecksumOk } from '../../../src/wire/checksum.js';
import { decodeFrame } from '../../../src/wire/decode.js';
import { Packet, TCP_ACK, TCP_RST, TCP_SYN } from '../../../src/wire/packet.js';
import { config } from '../../support/run.js';

const DEV_LAN = '02:00:00:00:00:01';
const DEV_SRV = '02:00:00:00:00:02';
const SRV = ['02:00:00:00:02:11', '02:00:00:00:02:12'];
const CLIENT = '02:00:00:00:01:02';

const lab = (check: string) =>
  config(`
zones:
  inside: {}
  dmz: {}
ports:
  - { name: lan, zone: inside, mac: '${DEV_LAN}', address: [10.0.1.1/24], vips: [10.0.0.100] }
  - { name: servers, zone: dmz, mac: '${DEV_SRV}', address: [10.0.2.1/24] }
virtual-servers:
  - name: web
    vip: 10.0.0.100
    proto: tcp
    port: 80
    health-check: ${check}
    reals: [ { address: 10.0.2.11, port: 8080 }, { address: 10.0.2.12, port: 8080 } ]
policy: { rules: [ { from: inside, action: accept } ] }
`);

function harness(check = '{ type: tcp, interval: 1, rise: 2, fall: 3 }') {
  const sent: { port: number; frame: Uint8Array; p: Packet }[] = [];
  const dev = new Device(lab(check), {
    send: (port, buf, off, len) => {
      const frame = buf.slice(off, off + len);
      const p = new Packet();
      expect(decodeFrame(frame, 0, len, 1, p)).toBe(0);
      sent.push({ port, frame, p });
    },
  });
  const probes = dev.enableHealthChecks(12345)!;
  const changes: string[] = [];
  probes.onChange = (v, r, up, t) => changes.push(`${t} ${v}/${r} ${up ? 'up' : 'down'}`);
  const feed = (frame: Uint8Array, port: number, t: number) =>
    VERDICT_NAMES[dev.process(frame.slice(), 0, frame.length, 1, port, t)];
  const take = () => sent.splice(0, sent.length);
  // The servers' MACs are learned from their ARP requests for the device.
  for (let i = 0; i < 2; i++)
    feed(
      buildFrame({
        srcMac: SRV[i],
        dstMac: 'ff:ff:ff:ff:ff:ff',
        arp: { op: 1, sha: SRV[i], spa: `10.0.2.1${i + 1}`, tpa: '10.0.2.1' },
      }),
      1,
      0,
    );
  take();
  return { dev, probes, changes, feed, take };
}

const mac = (f: Uint8Array, at: number) =>
  Array.from(f.subarray(at, at + 6), (b) => b.toString(16).padStart(2, '0')).join(':');

/** The server's answer to a probe SYN: SYN-ACK (listening) or RST-ACK (closed). */
function answer(syn: Packet, i: number, listening: boolean): Uint8Array {
  return buildFrame({
    srcMac: SRV[i],
    dstMac: DEV_SRV,
    ipv4: { src: syn.dst, dst: syn.src },
    tcp: {
      srcPort: syn.dstPort,
      dstPort: syn.srcPort,
      seq: 777,
      ack: (syn.seq + 1) >>> 0,
      flags: listening ? TCP_SYN | TCP_ACK : TCP_RST | TCP_ACK,
      window: 1000,
    },
  });
}

describe('active health checks', () => {
  it('probes each real with a SYN from the device address to its MAC, and resets a SYN-ACK', () => {
    const h = harness();
    h.dev.tick(0);
    const syns = h.take();
    expect(syns).toHaveLength(2);
    syns.forEach((s, i) => {
      expect(s.port).toBe(1);
      expect([mac(s.frame, 0), mac(s.frame, 6)]).toEqual([SRV[i], DEV_SRV]);
      expect([formatIp(s.p.src), formatIp(s.p.dst), s.p.dstPort]).toEqual([
        '10.0.2.1',
        `10.0.2.1${i + 1}`,
        8080,
      ]);
      expect(s.p.tcpFlags).toBe(TCP_SYN);
      expect(s.p.srcPort).toBeGreaterThanOrEqual(61000);
      expect(l4ChecksumOk(s.p)).toBe(true);
    });
    expect(h.feed(answer(syns[0]!.p, 0, true), 1, 10)).toBe('consumed');
    const rst = h.take();
    expect(rst).toHaveLength(1);
    expect(rst[0]!.p.tcpFlags & TCP_RST).toBe(TCP_RST);
    expect(rst[0]!.p.seq).toBe((syns[0]!.p.seq + 1) >>> 0);
    expect([rst[0]!.p.srcPort, rst[0]!.p.dstPort]).toEqual([syns[0]!.p.srcPort, 8080]);
    expect(mac(rst[0]!.frame, 0)).toBe(SRV[0]);
    expect(h.probes.counters.ok).toBe(1);
  });

  it('takes a real down after `fall` refused probes and brings it back after `rise` answers', () => {
    const h = harness();
    const pool = h.dev.lb.vs.pools[0]!;
    let t = 0;
    const round = (listening: [boolean, boolean]) => {
      h.dev.tick(t);
      for (const s of h.take()) {
        if (s.p.tcpFlags !== TCP_SYN) continue;
        const i = s.p.dst[3] === ((10 << 24) | (2 << 8) | 11) >>> 0 ? 0 : 1;
        h.feed(answer(s.p, i, listening[i]!), 1, t + 5);
      }
      h.take();
      t += 1000;
    };
    round([true, false]);
    round([true, false]);
    expect(pool.up[1]).toBe(1); // two failures of three
    round([true, false]);
    expect(pool.up[1]).toBe(0);
    expect(h.changes).toEqual(['2005 0/1 down']);
    round([true, true]);
    expect(pool.up[1]).toBe(0); // one success of two
    round([true, true]);
    expect(pool.up[1]).toBe(1);
    expect(h.changes).toEqual(['2005 0/1 down', '4005 0/1 up']);
    expect(pool.up[0]).toBe(1);
  });

  it('counts an unanswered probe as a failure at its timeout, and ignores a late answer', () => {
    const h = harness('{ type: tcp, interval: 1, rise: 1, fall: 1, timeout: 0.5 }');
    h.dev.tick(0);
    const syns = h.take();
    h.dev.tick(600);
    expect(h.changes.sort()).toEqual(['600 0/0 down', '600 0/1 down']);
    expect(h.feed(answer(syns[0]!.p, 0, true), 1, 700)).toBe('consumed');
    expect(h.probes.counters.late).toBe(1);
    expect(h.dev.lb.vs.pools[0]!.up[0]).toBe(0);
  });

  it('gives a down real no new sessions: clients go to the other one', () => {
    const h = harness('{ type: tcp, interval: 1, rise: 1, fall: 1 }');
    h.dev.tick(0);
    for (const s of h.take())
      h.feed(answer(s.p, s.p.dst[3]! & 1 ? 0 : 1, s.p.dst[3]! & 1 ? true : false), 1, 5);
    // 10.0.2.11 (odd) answers, 10.0.2.12 refuses.
    expect(Array.from(h.dev.lb.vs.pools[0]!.up.subarray(0, 2))).toEqual([1, 0]);
    h.feed(
      buildFrame({
        srcMac: CLIENT,
        dstMac: 'ff:ff:ff:ff:ff:ff',
        arp: { op: 1, sha: CLIENT, spa: '10.0.1.2', tpa: '10.0.1.1' },
      }),
      0,
      10,
    );
    h.take();
    for (let k = 0; k < 6; k++) {
      const syn = buildFrame({
        srcMac: CLIENT,
        dstMac: DEV_LAN,
        ipv4: { src: '10.0.1.2', dst: '10.0.0.100' },
        tcp: { srcPort: 40000 + k, dstPort: 80, seq: 1, flags: TCP_SYN, window: 1000 },
      });
      expect(h.feed(syn, 0, 20 + k)).toBe('forwarded');
    }
    const out = h.take().filter((s) => s.p.dstPort === 8080);
    expect(out.map((s) => formatIp(s.p.dst))).toEqual(Array(6).fill('10.0.2.11'));
  });

  it('probes by ICMP echo when asked, and an echo reply counts as up', () => {
    const h = harness('{ type: icmp, interval: 1, rise: 1, fall: 1 }');
    h.dev.tick(0);
    const pings = h.take();
    expect(pings.map((s) => [s.p.icmpType, formatIp(s.p.dst)])).toEqual([
      [8, '10.0.2.11'],
      [8, '10.0.2.12'],
    ]);
    const reply = (s: Packet, i: number) =>
      buildFrame({
        srcMac: SRV[i],
        dstMac: DEV_SRV,
        ipv4: { src: s.dst, dst: s.src },
        icmp: { type: 0, code: 0, id: s.icmpId, seq: s.icmpSeq },
      });
    expect(h.feed(reply(pings[0]!.p, 0), 1, 5)).toBe('consumed');
    h.dev.tick(1100);
    expect(h.changes).toEqual(['1100 0/1 down']);
    expect(h.probes.counters.ok).toBe(1);
  });

  it('takes a real down at once on an ICMP port unreachable quoting the probe', () => {
    const h = harness('{ type: tcp, interval: 1, rise: 1, fall: 1 }');
    h.dev.tick(0);
    const syn = h.take()[0]!;
    const quote = syn.frame.subarray(14, 14 + 28);
    const unreach = buildFrame({
      srcMac: SRV[0],
      dstMac: DEV_SRV,
      ipv4: { src: '10.0.2.11', dst: '10.0.2.1' },
      icmp: { type: 3, code: 3 },
      payload: quote,
    });
    expect(h.feed(unreach, 1, 5)).toBe('consumed');
    expect(h.changes).toEqual(['5 0/0 down']);
  });

  it('sends nothing in replay (probes only once enabled) and refuses a tcp check without a port', () => {
    const cfg = lab('{ type: tcp }');
    const sent: number[] = [];
    const dev = new Device(cfg, { send: (port) => sent.push(port) });
    dev.tick(0);
    dev.tick(5000);
    expect(sent).toEqual([]);
    expect(cfg.virtualServers[0]!.health).toMatchObject({
      intervalMs: 2000,
      rise: 2,
      fall: 3,
      timeoutMs: 2000,
    });
    expect(() =>
      config(`
virtual-servers:
  - { name: any, vip: 10.0.0.100, proto: tcp, port: 0, health-check: { type: tcp }, reals: [ { address: 10.0.2.11 } ] }
`),
    ).toThrow(/health-check.*needs a port/s);
  });
});
