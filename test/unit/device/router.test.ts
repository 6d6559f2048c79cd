/** Router mode: the device owns addresses on its ports, answers ARP and ping, routes, and load-balances. */
import { describe, expect, it } from 'vitest';
import { formatIp } from '../../../src/wire/addr.js';
import { buildFrame } from '../../../src/wire/build.js';
import { l4ChecksumOk } from '../../../src/wire/checksum.js';
import { decodeFrame } from '../../../src/wire/decode.js';
import { Packet } from '../../../src/wire/packet.js';
import { Device } from '../../../src/device/device.js';
import { VERDICT_NAMES } from '../../../src/device/verdict.js';
import { reasonName } from '../../../src/session/reasons.js';
import { config } from '../../support/run.js';

const DEV_LAN = '02:00:00:00:00:01';
const DEV_SRV = '02:00:00:00:00:02';
const CLIENT = '02:00:00:00:01:02';
const SRV1 = '02:00:00:00:02:11';

const lab = () =>
  config(`
zones:
  inside: {}
  dmz: {}
  outside: { default: true }
ports:
  - { name: lan, zone: inside, mac: '${DEV_LAN}', address: [10.0.1.1/24], vips: [10.0.0.100] }
  - { name: servers, zone: dmz, mac: '${DEV_SRV}', address: [10.0.2.1/24] }
virtual-servers:
  - { name: web, vip: 10.0.0.100, proto: tcp, port: 80, reals: [ { address: 10.0.2.11, port: 8080 } ] }
policy: { rules: [ { from: inside, action: accept } ] }
`);

function harness() {
  const sent: { port: number; frame: Uint8Array }[] = [];
  const dev = new Device(lab(), {
    send: (port, buf, off, len) => sent.push({ port, frame: buf.slice(off, off + len) }),
  });
  const feed = (frame: Uint8Array, port: number, t = 0) => {
    const v = dev.process(frame.slice(), 0, frame.length, 1, port, t);
    return `${VERDICT_NAMES[v]}${v === 1 ? ` ${reasonName(dev.reason)}` : ''}`;
  };
  return { dev, sent, feed };
}
const pkt = (f: Uint8Array) => {
  const p = new Packet();
  expect(decodeFrame(f, 0, f.length, 1, p)).toBe(0);
  return p;
};
const mac = (f: Uint8Array, at: number) =>
  Array.from(f.subarray(at, at + 6), (b) => b.toString(16).padStart(2, '0')).join(':');
const arpRequest = (from: string, fromMac: string, target: string) =>
  buildFrame({
    srcMac: fromMac,
    dstMac: 'ff:ff:ff:ff:ff:ff',
    arp: { op: 1, sha: fromMac, spa: from, tpa: target },
  });
const arpReply = (from: string, fromMac: string, to: string, toMac: string) =>
  buildFrame({
    srcMac: fromMac,
    dstMac: toMac,
    arp: { op: 2, sha: fromMac, spa: from, tha: toMac, tpa: to },
  });

describe('router mode', () => {
  it('answers ARP for its own address and for a VIP on the port that faces the clients', () => {
    const h = harness();
    expect(h.feed(arpRequest('10.0.1.2', CLIENT, '10.0.1.1'), 0)).toBe('consumed');
    expect(h.feed(arpRequest('10.0.1.2', CLIENT, '10.0.0.100'), 0)).toBe('consumed');
    expect(h.sent).toHaveLength(2);
    for (const s of h.sent) {
      const p = pkt(s.frame);
      expect([s.port, p.arpOp, mac(s.frame, 6)]).toEqual([0, 2, DEV_LAN]);
    }
    // The VIP is not answered on the server side.
    h.feed(arpRequest('10.0.2.11', SRV1, '10.0.0.100'), 1);
    expect(h.sent).toHaveLength(2);
  });

  it('drops a unicast frame for another MAC (a bridge floods those), as a router NIC would', () => {
    const h = harness();
    const to = (dstMac: string) =>
      buildFrame({
        srcMac: CLIENT,
        dstMac,
        ipv4: { src: '10.0.1.2', dst: '10.0.2.11' },
        udp: { srcPort: 5000, dstPort: 53 },
        payload: new Uint8Array(8),
      });
    expect(h.feed(to('02:00:00:00:00:99'), 0)).toBe('dropped not-our-mac');
    expect(h.sent).toEqual([]);
    expect(h.feed(to(DEV_LAN), 0)).not.toBe('dropped not-our-mac');
  });

  it('answers a ping to its own address', () => {
    const h = harness();
    const ping = buildFrame({
      srcMac: CLIENT,
      dstMac: DEV_LAN,
      ipv4: { src: '10.0.1.2', dst: '10.0.1.1' },
      icmp: { type: 8, code: 0, id: 5, seq: 1 },
    });
    expect(h.feed(ping, 0)).toBe('consumed');
    const r = pkt(h.sent[0]!.frame);
    expect([formatIp(r.src), formatIp(r.dst), r.icmpType, r.icmpId]).toEqual(['10.0.1.1', '10.0.1.2', 0, 5]);
    expect(l4ChecksumOk(r)).toBe(true);
  });

  it('load-balances a SYN to the VIP: resolves the real by ARP, then sends it with the right MACs and TTL - 1', () => {
    const h = harness();
    const syn = buildFrame({
      srcMac: CLIENT,
      dstMac: DEV_LAN,
      ipv4: { src: '10.0.1.2', dst: '10.0.0.100', ttl: 64 },
      tcp: { srcPort: 40000, dstPort: 80, seq: 1, flags: 0x02, window: 65535 },
    });
    expect(h.feed(syn, 0, 1)).toBe('held');
    // An ARP request for the real went out on the server port.
    const req = pkt(h.sent[0]!.frame);
    expect([h.sent[0]!.port, req.arpOp, req.arpTpa >>> 0]).toEqual([1, 1, (10 << 24) | (2 << 8) | 11]);
    expect(h.feed(arpReply('10.0.2.11', SRV1, '10.0.2.1', DEV_SRV), 1, 2)).toBe('consumed');
    const out = h.sent[1]!;
    const p = pkt(out.frame);
    expect(out.port).toBe(1);
    expect([mac(out.frame, 0), mac(out.frame, 6)]).toEqual([SRV1, DEV_SRV]);
    expect([formatIp(p.dst), p.dstPort, p.ttl]).toEqual(['10.0.2.11', 8080, 63]);
    expect(l4ChecksumOk(p)).toBe(true);
  });

  it('drops TTL 1 as ttl-exceeded and sends time exceeded back', () => {
    const h = harness();
    h.feed(arpReply('10.0.2.11', SRV1, '10.0.2.1', DEV_SRV), 1);
    const f = buildFrame({
      srcMac: CLIENT,
      dstMac: DEV_LAN,
      ipv4: { src: '10.0.1.2', dst: '10.0.2.11', ttl: 1 },
      udp: { srcPort: 1, dstPort: 2 },
    });
    expect(h.feed(f, 0)).toBe('dropped ttl-exceeded');
    const e = pkt(h.sent.at(-1)!.frame);
    expect([h.sent.at(-1)!.port, e.icmpType, formatIp(e.src)]).toEqual([0, 11, '10.0.1.1']);
  });
});
