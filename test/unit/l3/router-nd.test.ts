import { describe, expect, it } from 'vitest';
import {
  ND_OPT_SLLA,
  ND_OPT_TLLA,
  ndOptionMac,
  solicitedNode,
  writeArpReply,
  writeArpRequest,
  writeNa,
  writeNs,
} from '../../../src/l3/ndp.js';
import { NEIGH_REACHABLE } from '../../../src/l3/neighbours.js';
import { R_FORWARD, R_QUEUED } from '../../../src/l3/router.js';
import { formatIp, ipWords, macBytes } from '../../../src/wire/addr.js';
import { rd32 } from '../../../src/wire/bytes.js';
import { ipv4HeaderChecksumOk, l4ChecksumOk } from '../../../src/wire/checksum.js';
import type { Packet } from '../../../src/wire/packet.js';
import {
  CLIENT_PORT,
  decode,
  lab,
  mac,
  MAC_CLIENT,
  MAC_P0,
  MAC_P1,
  MAC_SRV1,
  pkt,
  SERVER_PORT,
  udp4,
  udp6,
} from './router-fixture.js';

const v4 = (n: number): string => formatIp(new Uint32Array([0, 0, 0xffff, n]));
const slla = (m: string): Uint8Array => new Uint8Array([1, 1, ...macBytes(m)]);

function arpRequest(spa: string, tpa: string, from = MAC_CLIENT): Packet {
  return pkt({ srcMac: from, dstMac: 'ff:ff:ff:ff:ff:ff', arp: { op: 1, sha: from, spa, tpa } });
}

function ns(
  src: string,
  target: string,
  opts: { hop?: number; dst?: string; option?: boolean } = {},
): Packet {
  const t = ipWords(target);
  const group = new Uint32Array(4);
  solicitedNode(t, group);
  const body = new Uint8Array(20 + (opts.option === false ? 0 : 8));
  for (let i = 0; i < 4; i++) new DataView(body.buffer).setUint32(4 + 4 * i, t[i]!);
  if (opts.option !== false) body.set(slla(MAC_CLIENT), 20);
  return pkt({
    srcMac: MAC_CLIENT,
    dstMac: '33:33:ff:00:00:01',
    ipv6: { src, dst: opts.dst ?? formatIp(group), hopLimit: opts.hop ?? 255 },
    icmpv6: { type: 135, code: 0, rest: 0 },
    payload: body.subarray(4),
  });
}

describe('ARP', () => {
  it('request for our address on the port -> reply; the requester is learned', () => {
    const { r, sent } = lab();
    expect(r.neighbour(arpRequest('10.0.1.2', '10.0.1.1'), CLIENT_PORT, 0)).toBe(true);
    expect(sent).toHaveLength(1);
    const a = decode(sent[0]!.frame);
    expect(sent[0]!.port).toBe(CLIENT_PORT);
    expect(sent[0]!.frame.length).toBe(42);
    expect(a.arpOp).toBe(2);
    expect([v4(a.arpSpa), v4(a.arpTpa)]).toEqual(['10.0.1.1', '10.0.1.2']);
    expect(mac(a.buf, 0)).toBe(MAC_CLIENT);
    expect(mac(a.buf, 6)).toBe(MAC_P0);
    expect(mac(a.buf, 14 + 8)).toBe(MAC_P0);
    expect(mac(a.buf, 14 + 18)).toBe(MAC_CLIENT);
    const i = r.neighbours.find(ipWords('10.0.1.2'), CLIENT_PORT);
    expect(r.neighbours.state(i)).toBe(NEIGH_REACHABLE);
  });

  it('VIP answered on its port; not on another port, not for other addresses (and nothing learned)', () => {
    const { r, sent } = lab();
    r.neighbour(arpRequest('10.0.1.2', '10.0.0.100'), CLIENT_PORT, 0);
    expect(sent).toHaveLength(1);
    expect(v4(decode(sent[0]!.frame).arpSpa)).toBe('10.0.0.100');
    r.neighbour(arpRequest('10.0.2.11', '10.0.1.1', MAC_SRV1), SERVER_PORT, 0);
    r.neighbour(arpRequest('10.0.1.2', '10.0.1.77'), CLIENT_PORT, 0);
    expect(sent).toHaveLength(1);
    expect(r.neighbours.find(ipWords('10.0.2.11'), SERVER_PORT)).toBe(-1);
  });

  it('VLAN-tagged request: the reply keeps the tag', () => {
    const { r, sent } = lab();
    const p = pkt({
      srcMac: MAC_CLIENT,
      dstMac: 'ff:ff:ff:ff:ff:ff',
      vlans: [42],
      arp: { op: 1, sha: MAC_CLIENT, spa: '10.0.1.2', tpa: '10.0.1.1' },
    });
    r.neighbour(p, CLIENT_PORT, 0);
    const a = decode(sent[0]!.frame);
    expect([a.vlanOuter, a.arpOp, v4(a.arpSpa)]).toEqual([42, 2, '10.0.1.1']);
  });

  it('queued packets leave when the reply arrives; later packets go straight out', () => {
    const { r, sent } = lab();
    const p1 = udp4('10.0.1.2', '10.0.2.11', 64);
    const p2 = udp4('10.0.1.2', '10.0.2.11', 30);
    expect(r.route(p1, CLIENT_PORT, 0)).toBe(R_QUEUED);
    expect(r.route(p2, CLIENT_PORT, 1)).toBe(R_QUEUED);
    expect(sent).toHaveLength(1); // the ARP request
    const reply = pkt({
      srcMac: MAC_SRV1,
      dstMac: MAC_P1,
      arp: { op: 2, sha: MAC_SRV1, spa: '10.0.2.11', tha: MAC_P1, tpa: '10.0.2.1' },
    });
    expect(r.neighbour(reply, SERVER_PORT, 5)).toBe(true);
    expect(sent).toHaveLength(3);
    for (const [k, ttl] of [
      [1, 63],
      [2, 29],
    ] as const) {
      expect(sent[k]!.port).toBe(SERVER_PORT);
      const f = decode(sent[k]!.frame);
      expect(mac(f.buf, 0)).toBe(MAC_SRV1);
      expect(mac(f.buf, 6)).toBe(MAC_P1);
      expect(f.ttl).toBe(ttl);
      expect(ipv4HeaderChecksumOk(f) && l4ChecksumOk(f)).toBe(true);
    }
    expect(r.route(udp4('10.0.1.2', '10.0.2.11'), CLIENT_PORT, 6)).toBe(R_FORWARD);
  });

  it('an unanswered request is retried from tick(), then the queue is dropped', () => {
    const { r, sent } = lab();
    r.route(udp4('10.0.1.2', '10.0.2.99'), CLIENT_PORT, 0);
    r.tick(500);
    r.tick(1000);
    r.tick(2000);
    r.tick(3000);
    expect(sent.map((s) => decode(s.frame).arpOp)).toEqual([1, 1, 1]);
    expect(r.neighbours.stats.failed).toBe(1);
    expect(r.neighbours.stats.queueDropped).toBe(1);
  });

  it('a stale entry in use is probed by unicast', () => {
    const { r, sent } = lab();
    r.neighbours.learn(ipWords('10.0.2.11'), macBytes(MAC_SRV1), 0, SERVER_PORT, 0);
    expect(r.route(udp4('10.0.1.2', '10.0.2.11'), CLIENT_PORT, 40_000)).toBe(R_FORWARD);
    r.tick(45_000);
    expect(sent).toHaveLength(1);
    const a = decode(sent[0]!.frame);
    expect([a.arpOp, mac(a.buf, 0), v4(a.arpTpa)]).toEqual([1, MAC_SRV1, '10.0.2.11']);
  });

  it('builders: request and reply fields', () => {
    const b = new Uint8Array(64);
    const m = macBytes(MAC_P1);
    expect(writeArpRequest(b, 0, m, 0, 0x0a000201, 0x0a00020b)).toBe(42);
    let a = decode(b.slice(0, 42));
    expect([mac(a.buf, 0), a.arpOp, v4(a.arpSpa), v4(a.arpTpa), mac(a.buf, 32)]).toEqual([
      'ff:ff:ff:ff:ff:ff',
      1,
      '10.0.2.1',
      '10.0.2.11',
      '00:00:00:00:00:00',
    ]);
    writeArpReply(b, 0, m, 0, 0x0a000201, macBytes(MAC_SRV1), 0, 0x0a00020b);
    a = decode(b.slice(0, 42));
    expect([mac(a.buf, 0), a.arpOp, mac(a.buf, 22), mac(a.buf, 32)]).toEqual([MAC_SRV1, 2, MAC_P1, MAC_SRV1]);
  });
});

describe('IPv6 neighbour discovery', () => {
  it('NS for our address -> solicited NA with R, S, O and the target link-layer address', () => {
    const { r, sent } = lab();
    expect(r.neighbour(ns('2001:db8:1::2', '2001:db8:1::1'), CLIENT_PORT, 0)).toBe(true);
    expect(sent).toHaveLength(1);
    const na = decode(sent[0]!.frame);
    expect(na.icmpType).toBe(136);
    expect(na.ttl).toBe(255);
    expect(formatIp(na.ndTarget)).toBe('2001:db8:1::1');
    expect(formatIp(na.src)).toBe('2001:db8:1::1');
    expect(formatIp(na.dst)).toBe('2001:db8:1::2');
    expect(rd32(na.buf, na.l4Off + 4) >>> 0).toBe(0xe0000000);
    const o = ndOptionMac(na, ND_OPT_TLLA);
    expect(mac(na.buf, o)).toBe(MAC_P0);
    expect(mac(na.buf, 0)).toBe(MAC_CLIENT);
    expect(mac(na.buf, 6)).toBe(MAC_P0);
    expect(l4ChecksumOk(na)).toBe(true);
    const i = r.neighbours.find(ipWords('2001:db8:1::2'), CLIENT_PORT);
    expect(r.neighbours.state(i)).toBe(NEIGH_REACHABLE);
  });

  it('link-local target; DAD probe answered to all-nodes without S; invalid NS ignored', () => {
    const { r, sent } = lab();
    r.neighbour(ns('fe80::2', 'fe80::ff:fe00:101'), CLIENT_PORT, 0);
    expect(formatIp(decode(sent[0]!.frame).src)).toBe('fe80::ff:fe00:101');
    r.neighbour(ns('::', '2001:db8:1::1', { option: false }), CLIENT_PORT, 0);
    const dad = decode(sent[1]!.frame);
    expect(formatIp(dad.dst)).toBe('ff02::1');
    expect(mac(dad.buf, 0)).toBe('33:33:00:00:00:01');
    expect(rd32(dad.buf, dad.l4Off + 4) >>> 0).toBe(0xa0000000);
    expect(l4ChecksumOk(dad)).toBe(true);
    r.neighbour(ns('2001:db8:1::2', '2001:db8:1::1', { hop: 64 }), CLIENT_PORT, 0);
    r.neighbour(ns('::', '2001:db8:1::1'), CLIENT_PORT, 0); // DAD with an SLLA: invalid
    r.neighbour(ns('2001:db8:1::2', '2001:db8:2::1'), CLIENT_PORT, 0); // other port's address
    const bad = ns('2001:db8:1::2', '2001:db8:1::1');
    bad.buf[bad.l4Off + 2] ^= 1; // checksum
    r.neighbour(bad, CLIENT_PORT, 0);
    expect(sent).toHaveLength(2);
  });

  it('forwarding to an unknown IPv6 neighbour: NS to the solicited-node group; the NA releases the queue', () => {
    const { r, sent } = lab();
    expect(r.route(udp6('2001:db8:1::2', '2001:db8:2::11'), CLIENT_PORT, 0)).toBe(R_QUEUED);
    const s = decode(sent[0]!.frame);
    expect(sent[0]!.port).toBe(SERVER_PORT);
    expect(s.icmpType).toBe(135);
    expect(formatIp(s.dst)).toBe('ff02::1:ff00:11');
    expect(mac(s.buf, 0)).toBe('33:33:ff:00:00:11');
    expect(formatIp(s.src)).toBe('2001:db8:2::1');
    expect(formatIp(s.ndTarget)).toBe('2001:db8:2::11');
    expect(mac(s.buf, ndOptionMac(s, ND_OPT_SLLA))).toBe(MAC_P1);
    expect([s.ttl, l4ChecksumOk(s)]).toEqual([255, true]);
    const b = new Uint8Array(100);
    const n = writeNa(
      b,
      0,
      macBytes(MAC_SRV1),
      0,
      ipWords('2001:db8:2::11'),
      ipWords('2001:db8:2::1'),
      macBytes(MAC_P1),
      0,
      0x60000000,
    );
    expect(r.neighbour(decode(b.slice(0, n)), SERVER_PORT, 3)).toBe(true);
    expect(sent).toHaveLength(2);
    const f = decode(sent[1]!.frame);
    expect([mac(f.buf, 0), mac(f.buf, 6), f.ttl, l4ChecksumOk(f)]).toEqual([MAC_SRV1, MAC_P1, 63, true]);
  });

  it('writeNs unicast probe', () => {
    const b = new Uint8Array(100);
    const n = writeNs(
      b,
      0,
      macBytes(MAC_P1),
      0,
      ipWords('fe80::1'),
      ipWords('2001:db8:2::11'),
      macBytes(MAC_SRV1),
      0,
    );
    const s = decode(b.slice(0, n));
    expect([n, mac(s.buf, 0), formatIp(s.dst), l4ChecksumOk(s)]).toEqual([
      86,
      MAC_SRV1,
      '2001:db8:2::11',
      true,
    ]);
  });
});
