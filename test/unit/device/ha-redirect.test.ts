/**
 * Asymmetric paths through a pair of Devices wired back to back in memory:
 * the client's gateway is fw1, the servers' is fw2, so the SYN-ACK reaches
 * fw2, which has no session. `off`: dropped. `mac-rewrite`: fw2 sends it to
 * fw1's MAC on the server segment; `gre`: fw2 tunnels it to fw1 over the ha
 * link; either way fw1 forwards it to the client. A redirected packet is
 * never redirected again, and GRE or sync from a non-peer is refused.
 */
import { describe, expect, it } from 'vitest';
import { Device } from '../../../src/device/device.js';
import { VERDICT_NAMES } from '../../../src/device/verdict.js';
import { reasonName } from '../../../src/session/reasons.js';
import { formatIp } from '../../../src/wire/addr.js';
import { buildFrame } from '../../../src/wire/build.js';
import { decodeFrame } from '../../../src/wire/decode.js';
import { Packet, TCP_ACK, TCP_SYN } from '../../../src/wire/packet.js';
import { CLIENT_MAC, FW_MACS, SRV_MAC, fwConfig } from '../../support/ha-pair.js';

const CLIENT = CLIENT_MAC;
const SRV = SRV_MAC;
const FW = FW_MACS;

interface Out {
  port: number;
  frame: Uint8Array;
  p: Packet;
}

function fw(n: 1 | 2, mode: string) {
  const sent: Out[] = [];
  const dev = new Device(fwConfig(n, mode), {
    send: (port, buf, off, len) => {
      const frame = buf.slice(off, off + len);
      const p = new Packet();
      decodeFrame(frame, 0, len, 1, p);
      sent.push({ port, frame, p });
    },
  });
  const feed = (frame: Uint8Array, port: number, t = 0) => {
    const v = dev.process(frame.slice(), 0, frame.length, 1, port, t);
    return `${VERDICT_NAMES[v]}${v === 1 ? ` ${reasonName(dev.reason)}` : ''}`;
  };
  const arp = (spa: string, sha: string, tpa: string, port: number) =>
    feed(buildFrame({ srcMac: sha, dstMac: 'ff:ff:ff:ff:ff:ff', arp: { op: 1, sha, spa, tpa } }), port);
  // Neighbours: the client on lan, the server on servers.
  arp('10.0.1.2', CLIENT, n === 1 ? '10.0.1.1' : '10.0.1.3', 0);
  arp('10.0.2.11', SRV, n === 1 ? '10.0.2.2' : '10.0.2.1', 1);
  sent.length = 0;
  return { dev, sent, feed, take: () => sent.splice(0, sent.length) };
}

const mac = (f: Uint8Array, at: number) =>
  Array.from(f.subarray(at, at + 6), (b) => b.toString(16).padStart(2, '0')).join(':');

const syn = () =>
  buildFrame({
    srcMac: CLIENT,
    dstMac: FW[0]!.lan,
    ipv4: { src: '10.0.1.2', dst: '10.0.2.11' },
    tcp: { srcPort: 40000, dstPort: 8080, seq: 1000, flags: TCP_SYN, window: 65535 },
  });
const synAck = () =>
  buildFrame({
    srcMac: SRV,
    dstMac: FW[1]!.servers, // the servers' gateway is fw2
    ipv4: { src: '10.0.2.11', dst: '10.0.1.2' },
    tcp: { srcPort: 8080, dstPort: 40000, seq: 5000, ack: 1001, flags: TCP_SYN | TCP_ACK, window: 65535 },
  });

describe('HA: asymmetric paths', () => {
  it('off: fw2 drops the SYN-ACK of a session it never saw', () => {
    const f1 = fw(1, 'off');
    const f2 = fw(2, 'off');
    expect(f1.feed(syn(), 0)).toBe('forwarded');
    expect(f2.feed(synAck(), 1)).toBe('dropped no-session');
    expect(f2.take()).toEqual([]);
  });

  it('mac-rewrite: fw2 sends the SYN-ACK to fw1 on the server segment; fw1 forwards it to the client', () => {
    const f1 = fw(1, 'mac-rewrite');
    const f2 = fw(2, 'mac-rewrite');
    expect(f1.feed(syn(), 0)).toBe('forwarded');
    f1.take();
    expect(f2.feed(synAck(), 1)).toBe('redirected');
    const [r] = f2.take();
    expect(r!.port).toBe(1);
    expect([mac(r!.frame, 0), mac(r!.frame, 6)]).toEqual([FW[0]!.servers, FW[1]!.servers]);
    expect(f2.dev.ha!.counters.redirectedMac).toBe(1);
    expect(f1.feed(r!.frame, 1)).toBe('forwarded');
    const [c] = f1.take();
    expect(c!.port).toBe(0);
    expect([mac(c!.frame, 0), formatIp(c!.p.dst), c!.p.tcpFlags]).toEqual([
      CLIENT,
      '10.0.1.2',
      TCP_SYN | TCP_ACK,
    ]);
  });

  it('gre: fw2 tunnels the SYN-ACK to fw1 over the ha link; fw1 decapsulates and forwards it', () => {
    const f1 = fw(1, 'gre');
    const f2 = fw(2, 'gre');
    expect(f1.feed(syn(), 0)).toBe('forwarded');
    f1.take();
    const original = synAck();
    expect(f2.feed(original, 1)).toBe('redirected');
    const [g] = f2.take();
    expect(g!.port).toBe(2);
    expect([formatIp(g!.p.src), formatIp(g!.p.dst), g!.p.l4Proto, g!.p.greProto]).toEqual([
      '10.0.3.2',
      '10.0.3.1',
      47,
      0x6558,
    ]);
    expect(mac(g!.frame, 0)).toBe(FW[0]!.ha);
    expect(g!.frame.subarray(42)).toEqual(original);
    const before = f1.dev.stats.packetsIn;
    expect(f1.feed(g!.frame, 2)).toBe('forwarded');
    expect(f1.dev.stats.packetsIn).toBe(before + 1);
    expect(f1.dev.ha!.counters.decapsulated).toBe(1);
    const [c] = f1.take();
    expect([c!.port, formatIp(c!.p.dst), c!.p.tcpFlags]).toEqual([0, '10.0.1.2', TCP_SYN | TCP_ACK]);
  });

  it('never redirects a redirected packet again: a miss at the owner is dropped', () => {
    const f1 = fw(1, 'gre');
    const f2 = fw(2, 'gre');
    f2.feed(synAck(), 1); // no session anywhere
    const [g] = f2.take();
    expect(f1.feed(g!.frame, 2)).toMatch(/^dropped /);
    expect(f1.take()).toEqual([]);
    expect(f1.dev.ha!.counters.secondMiss).toBe(1);
    const m1 = fw(1, 'mac-rewrite');
    const m2 = fw(2, 'mac-rewrite');
    m2.feed(synAck(), 1);
    const [r] = m2.take();
    expect(m1.feed(r!.frame, 1)).toMatch(/^dropped /);
    expect(m1.take()).toEqual([]);
  });

  it('a SYN is never redirected: new sessions start where they arrive', () => {
    const f2 = fw(2, 'gre');
    const s = buildFrame({
      srcMac: SRV,
      dstMac: FW[1]!.servers,
      ipv4: { src: '10.0.2.11', dst: '10.0.1.2' },
      tcp: { srcPort: 5000, dstPort: 22, seq: 1, flags: TCP_SYN, window: 1000 },
    });
    expect(f2.feed(s, 1)).toBe('dropped policy-deny');
  });

  it('refuses GRE and sync traffic to the device from a non-peer', () => {
    const f1 = fw(1, 'gre');
    const gre = buildFrame({
      srcMac: '02:66:66:66:66:66',
      dstMac: FW[0]!.ha,
      ipv4: { src: '10.0.3.9', dst: '10.0.3.1' },
      gre: { proto: 0x6558, key: 0x5d000001 },
      payload: synAck(),
    });
    expect(f1.feed(gre, 2)).toBe('dropped peer-not-trusted');
    const sync = buildFrame({
      srcMac: '02:66:66:66:66:66',
      dstMac: FW[0]!.ha,
      ipv4: { src: '10.0.3.9', dst: '10.0.3.1' },
      udp: { srcPort: 3780, dstPort: 3780 },
      payload: new Uint8Array(64),
    });
    expect(f1.feed(sync, 2)).toBe('dropped peer-not-trusted');
    expect(f1.dev.ha!.counters.untrusted).toBe(2);
  });
});
