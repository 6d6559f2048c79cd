import { describe, expect, it } from 'vitest';
import {
  forwardable,
  icmpErrorAllowed,
  R_FORWARD,
  R_FRAGMENT,
  R_LOCAL,
  R_NO_ROUTE,
  R_NOT_ROUTABLE,
  R_QUEUED,
  R_REPLY,
  R_TOO_BIG,
  R_TTL_EXCEEDED,
  Router,
  TokenBucket,
} from '../../../src/l3/router.js';
import { formatIp, ipWords } from '../../../src/wire/addr.js';
import { buildIp } from '../../../src/wire/build.js';
import { ipv4HeaderChecksumOk, l4ChecksumOk } from '../../../src/wire/checksum.js';
import { rd16, rd32 } from '../../../src/wire/bytes.js';
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

function learnSrv1(r: Router): void {
  r.neighbours.learn(ipWords('10.0.2.11'), new Uint8Array([2, 0, 0, 0, 2, 0x0b]), 0, SERVER_PORT, 0);
  r.neighbours.learn(ipWords('2001:db8:2::11'), new Uint8Array([2, 0, 0, 0, 2, 0x0b]), 0, SERVER_PORT, 0);
}

describe('router: forwarding', () => {
  it('isForUs: own addresses and VIPs', () => {
    const { r } = lab();
    expect(r.isForUs(udp4('10.0.1.2', '10.0.1.1'))).toBe(true);
    expect(r.isForUs(udp4('10.0.1.2', '10.0.2.1'))).toBe(true);
    expect(r.isForUs(udp4('10.0.1.2', '10.0.0.100'))).toBe(true);
    expect(r.isForUs(udp6('2001:db8:1::2', '2001:db8:2::1'))).toBe(true);
    expect(r.isForUs(udp4('10.0.1.2', '10.0.2.11'))).toBe(false);
    expect(r.route(udp4('10.0.1.2', '10.0.1.1'), CLIENT_PORT, 0)).toBe(R_LOCAL);
  });

  it('resolved next hop: TTL decremented (checksum fixed), MACs rewritten, in place', () => {
    const { r, sent } = lab();
    learnSrv1(r);
    const p = udp4('10.0.1.2', '10.0.2.11', 64);
    expect(r.route(p, CLIENT_PORT, 1)).toBe(R_FORWARD);
    expect(r.egressPort).toBe(SERVER_PORT);
    expect(sent).toHaveLength(0);
    const q = decode(p.buf);
    expect(q.ttl).toBe(63);
    expect(ipv4HeaderChecksumOk(q) && l4ChecksumOk(q)).toBe(true);
    expect(mac(p.buf, 0)).toBe(MAC_SRV1);
    expect(mac(p.buf, 6)).toBe(MAC_P1);
    const p6 = udp6('2001:db8:1::2', '2001:db8:2::11', 2);
    expect(r.route(p6, CLIENT_PORT, 1)).toBe(R_FORWARD);
    expect(decode(p6.buf).ttl).toBe(1);
    expect(l4ChecksumOk(decode(p6.buf))).toBe(true);
    expect(r.stats.forwarded).toBe(2);
  });

  it('unresolved next hop: queued and an ARP request sent; the gateway for off-net destinations', () => {
    const { r, sent } = lab();
    expect(r.route(udp4('10.0.1.2', '8.8.8.8'), CLIENT_PORT, 0)).toBe(R_QUEUED);
    expect(r.egressPort).toBe(SERVER_PORT);
    expect(sent).toHaveLength(1);
    const a = decode(sent[0]!.frame);
    expect(sent[0]!.port).toBe(SERVER_PORT);
    expect(a.arpOp).toBe(1);
    expect(formatIp(new Uint32Array([0, 0, 0xffff, a.arpTpa]))).toBe('10.0.2.254');
    expect(formatIp(new Uint32Array([0, 0, 0xffff, a.arpSpa]))).toBe('10.0.2.1');
    // a second packet: queued, no second request
    expect(r.route(udp4('10.0.1.2', '8.8.4.4'), CLIENT_PORT, 10)).toBe(R_QUEUED);
    expect(sent).toHaveLength(1);
  });

  it('not forwarded: link-layer broadcast, multicast, martians, link-local IPv6', () => {
    const { r, sent } = lab();
    const bc = udp4('10.0.1.2', '10.0.2.11', 1, 20, { dstMac: 'ff:ff:ff:ff:ff:ff' });
    expect(r.route(bc, CLIENT_PORT, 0)).toBe(R_NOT_ROUTABLE);
    expect(r.route(udp4('10.0.1.2', '224.0.0.5', 1), CLIENT_PORT, 0)).toBe(R_NOT_ROUTABLE);
    expect(r.route(udp4('10.0.1.2', '127.0.0.1'), CLIENT_PORT, 0)).toBe(R_NOT_ROUTABLE);
    expect(r.route(udp4('127.0.0.1', '10.0.2.11'), CLIENT_PORT, 0)).toBe(R_NOT_ROUTABLE);
    expect(r.route(udp6('fe80::2', '2001:db8:2::11'), CLIENT_PORT, 0)).toBe(R_NOT_ROUTABLE);
    expect(r.route(udp6('2001:db8:1::2', 'ff0e::1'), CLIENT_PORT, 0)).toBe(R_NOT_ROUTABLE);
    expect(sent).toHaveLength(0);
    expect(forwardable(udp6('2001:db8:1::2', '2001:db8:2::11'))).toBe(true);
  });
});

describe('router: ICMP errors', () => {
  it('TTL 1 -> time exceeded back to the sender, quoting the packet as received', () => {
    const { r, sent } = lab();
    const p = udp4('10.0.1.2', '10.0.2.11', 1, 100);
    const orig = p.buf.slice();
    expect(r.route(p, CLIENT_PORT, 0)).toBe(R_TTL_EXCEEDED);
    expect([...p.buf]).toEqual([...orig]);
    expect(sent).toHaveLength(1);
    expect(sent[0]!.port).toBe(CLIENT_PORT);
    const e = decode(sent[0]!.frame);
    expect(mac(e.buf, 0)).toBe(MAC_CLIENT);
    expect(mac(e.buf, 6)).toBe(MAC_P0);
    expect([e.icmpType, e.icmpCode]).toEqual([11, 0]);
    expect(formatIp(e.src)).toBe('10.0.1.1');
    expect(formatIp(e.dst)).toBe('10.0.1.2');
    expect(ipv4HeaderChecksumOk(e) && l4ChecksumOk(e)).toBe(true);
    expect(e.icmpIsError).toBe(true);
    expect(formatIp(e.innerSrc)).toBe('10.0.1.2');
    expect(formatIp(e.innerDst)).toBe('10.0.2.11');
    expect([e.innerSrcPort, e.innerDstPort]).toEqual([40000, 53]);
    // the whole datagram is quoted (128 bytes < 548), TTL 1 inside
    expect(e.l4Len).toBe(8 + 128);
    expect(e.buf[e.innerL3Off + 8]).toBe(1);
    expect([...e.buf.subarray(e.innerL3Off, e.innerL3Off + 128)]).toEqual([...orig.subarray(14, 142)]);
  });

  it('IPv6 hop limit 1 -> ICMPv6 time exceeded (3/0) from the ingress port address', () => {
    const { r, sent } = lab();
    expect(r.route(udp6('2001:db8:1::2', '2001:db8:2::11', 1), CLIENT_PORT, 0)).toBe(R_TTL_EXCEEDED);
    const e = decode(sent[0]!.frame);
    expect([e.icmpType, e.icmpCode]).toEqual([3, 0]);
    expect(formatIp(e.src)).toBe('2001:db8:1::1');
    expect(formatIp(e.innerDst)).toBe('2001:db8:2::11');
    expect(l4ChecksumOk(e)).toBe(true);
  });

  it('no route -> net unreachable (3/0, ICMPv6 1/0)', () => {
    const sent: { port: number; frame: Uint8Array }[] = [];
    const r = new Router((port, b, o, n) => sent.push({ port, frame: b.slice(o, o + n) }));
    r.addPort(0, MAC_P0);
    r.addAddress(0, '10.0.1.1/24');
    r.addAddress(0, '2001:db8:1::1/64');
    expect(r.route(udp4('10.0.1.2', '192.0.2.1'), 0, 0)).toBe(R_NO_ROUTE);
    expect(r.route(udp6('2001:db8:1::2', '2001:db8:99::1'), 0, 0)).toBe(R_NO_ROUTE);
    const [e4, e6] = sent.map((s) => decode(s.frame));
    expect([e4!.icmpType, e4!.icmpCode, e6!.icmpType, e6!.icmpCode]).toEqual([3, 0, 1, 0]);
    expect(ipv4HeaderChecksumOk(e4!) && l4ChecksumOk(e4!) && l4ChecksumOk(e6!)).toBe(true);
    expect(r.stats.noRoute).toBe(2);
  });

  it('DF over the egress MTU -> frag needed with the next-hop MTU; no DF -> R_FRAGMENT; IPv6 -> packet too big', () => {
    const { r, sent } = lab({}, 1400);
    learnSrv1(r);
    const df = udp4('10.0.1.2', '10.0.2.11', 64, 1472, {
      ipv4: { src: '10.0.1.2', dst: '10.0.2.11', df: true },
    });
    expect(df.ipEnd - df.l3Off).toBe(1500);
    expect(r.route(df, CLIENT_PORT, 0)).toBe(R_TOO_BIG);
    const e = decode(sent[0]!.frame);
    expect([e.icmpType, e.icmpCode]).toEqual([3, 4]);
    expect(rd16(e.buf, e.l4Off + 4)).toBe(0);
    expect(rd16(e.buf, e.l4Off + 6)).toBe(1400);
    expect(e.l4Len).toBe(576 - 20);
    expect(l4ChecksumOk(e)).toBe(true);
    const fits = udp4('10.0.1.2', '10.0.2.11', 64, 1372, {
      ipv4: { src: '10.0.1.2', dst: '10.0.2.11', df: true },
    });
    expect(r.route(fits, CLIENT_PORT, 0)).toBe(R_FORWARD);
    const nodf = udp4('10.0.1.2', '10.0.2.11', 64, 1472);
    expect(r.route(nodf, CLIENT_PORT, 0)).toBe(R_FRAGMENT);
    expect(r.egressPort).toBe(SERVER_PORT);
    expect(nodf.ttl).toBe(64);
    const big6 = udp6('2001:db8:1::2', '2001:db8:2::11', 64, 1452);
    expect(r.route(big6, CLIENT_PORT, 0)).toBe(R_TOO_BIG);
    const e6 = decode(sent[1]!.frame);
    expect([e6.icmpType, e6.icmpCode]).toEqual([2, 0]);
    expect(rd32(e6.buf, e6.l4Off + 4)).toBe(1400);
    expect(e6.ipEnd - e6.l3Off).toBe(1280);
    expect(l4ChecksumOk(e6)).toBe(true);
  });

  it('no error about an ICMP error, a broadcast / multicast, or a non-first fragment', () => {
    const { r, sent } = lab();
    const quote = buildIp({ ipv4: { src: '10.0.2.11', dst: '10.0.1.2' }, udp: { srcPort: 1, dstPort: 2 } });
    const err = pkt({
      srcMac: MAC_CLIENT,
      dstMac: MAC_P0,
      ipv4: { src: '10.0.1.2', dst: '10.0.2.11', ttl: 1 },
      icmp: { type: 3, code: 3, rest: 0 },
      payload: quote,
    });
    expect(r.route(err, CLIENT_PORT, 0)).toBe(R_TTL_EXCEEDED);
    const frag = pkt({
      srcMac: MAC_CLIENT,
      dstMac: MAC_P0,
      ipv4: { src: '10.0.1.2', dst: '10.0.2.11', ttl: 1, fragOffset: 1480 },
      payload: new Uint8Array(40),
    });
    expect(r.route(frag, CLIENT_PORT, 0)).toBe(R_TTL_EXCEEDED);
    expect(sent).toHaveLength(0);
    expect(r.stats.icmpSuppressed).toBe(2);
    expect(icmpErrorAllowed(udp4('10.0.1.2', '10.0.2.255', 1, 20, { dstMac: 'ff:ff:ff:ff:ff:ff' }))).toBe(
      false,
    );
    expect(icmpErrorAllowed(udp4('10.0.1.2', '239.1.1.1'))).toBe(false);
    expect(icmpErrorAllowed(udp4('0.0.0.0', '10.0.2.11'))).toBe(false);
    expect(icmpErrorAllowed(udp6('2001:db8:1::2', 'ff05::2'))).toBe(false);
    expect(icmpErrorAllowed(udp6('2001:db8:1::2', 'ff05::2'), true)).toBe(true);
    expect(icmpErrorAllowed(udp4('10.0.1.2', '10.0.2.11'))).toBe(true);
    // an echo request is not an error: errors about it are fine
    const echo = pkt({
      ipv4: { src: '10.0.1.2', dst: '10.0.2.11', ttl: 1 },
      icmp: { type: 8, code: 0, id: 1, seq: 1 },
    });
    expect(icmpErrorAllowed(echo)).toBe(true);
  });

  it("an error toward a source behind another port goes to that route's next hop, once resolved", () => {
    const { r, sent } = lab();
    const p = udp4('192.0.2.5', '10.0.2.11', 1);
    expect(r.route(p, CLIENT_PORT, 0)).toBe(R_TTL_EXCEEDED);
    expect(sent).toHaveLength(1); // no error yet: an ARP request for the gateway instead
    expect([sent[0]!.port, decode(sent[0]!.frame).arpOp]).toEqual([SERVER_PORT, 1]);
    expect(r.stats.noReturnPath).toBe(1);
    r.neighbours.learn(ipWords('10.0.2.254'), new Uint8Array([2, 0, 0, 0, 2, 0xfe]), 0, SERVER_PORT, 1);
    expect(r.route(udp4('192.0.2.5', '10.0.2.11', 1), CLIENT_PORT, 2)).toBe(R_TTL_EXCEEDED);
    const e = decode(sent[1]!.frame);
    expect(sent[1]!.port).toBe(SERVER_PORT);
    expect([mac(e.buf, 0), mac(e.buf, 6), formatIp(e.src), formatIp(e.dst)]).toEqual([
      '02:00:00:00:02:fe',
      MAC_P1,
      '10.0.2.1',
      '192.0.2.5',
    ]);
  });

  it('rate limit: burst 50, then 1 per ms', () => {
    const { r, sent } = lab();
    for (let k = 0; k < 60; k++) r.route(udp4('10.0.1.2', '10.0.2.11', 1), CLIENT_PORT, 1000);
    expect(sent).toHaveLength(50);
    expect(r.stats.icmpRateLimited).toBe(10);
    for (let k = 0; k < 20; k++) r.route(udp4('10.0.1.2', '10.0.2.11', 1), CLIENT_PORT, 1010);
    expect(sent).toHaveLength(60);
    const b = new TokenBucket(10, 2);
    expect([b.take(0), b.take(0), b.take(0), b.take(99), b.take(100), b.take(100)]).toEqual([
      true,
      true,
      false,
      false,
      true,
      false,
    ]);
    expect(b.take(10_000) && b.take(10_000) && !b.take(10_000)).toBe(true);
  });
});

describe('router: echo', () => {
  it('echo request to the device -> echo reply (IPv4, IPv6, VIP)', () => {
    const { r, sent } = lab();
    const data = new Uint8Array(56).map((_, i) => i);
    const cases = [
      { ipv4: { src: '10.0.1.2', dst: '10.0.1.1' }, icmp: { type: 8, code: 0, id: 0x1234, seq: 7 } },
      { ipv4: { src: '10.0.1.2', dst: '10.0.0.100' }, icmp: { type: 8, code: 0, id: 1, seq: 2 } },
      { ipv6: { src: '2001:db8:1::2', dst: '2001:db8:2::1' }, icmpv6: { type: 128, code: 0, id: 9, seq: 3 } },
    ];
    for (const c of cases) {
      const p = pkt({ srcMac: MAC_CLIENT, dstMac: MAC_P0, payload: data, ...c });
      expect(r.route(p, CLIENT_PORT, 0)).toBe(R_REPLY);
      const e = decode(sent.at(-1)!.frame);
      expect(sent.at(-1)!.port).toBe(CLIENT_PORT);
      expect(e.icmpType).toBe(p.ipVersion === 4 ? 0 : 129);
      expect([e.icmpId, e.icmpSeq]).toEqual([p.icmpId, p.icmpSeq]);
      expect(formatIp(e.src)).toBe(formatIp(p.dst));
      expect(formatIp(e.dst)).toBe(formatIp(p.src));
      expect([...e.buf.subarray(e.payloadOff, e.payloadOff + 56)]).toEqual([...data]);
      expect(ipv4HeaderChecksumOk(e) && l4ChecksumOk(e)).toBe(true);
      expect(mac(e.buf, 0)).toBe(MAC_CLIENT);
      expect(mac(e.buf, 6)).toBe(MAC_P0);
    }
    expect(r.stats.echoReplies).toBe(3);
  });

  it('no reply without a way back; a fragmented echo is left to the caller', () => {
    const { r, sent } = lab();
    const far = pkt({
      srcMac: MAC_CLIENT,
      dstMac: MAC_P0,
      ipv6: { src: '2001:db8:77::2', dst: '2001:db8:1::1' },
      icmpv6: { type: 128, code: 0, id: 1, seq: 1 },
    });
    expect(r.route(far, CLIENT_PORT, 0)).toBe(R_LOCAL);
    expect(r.stats.noReturnPath).toBe(1);
    const frag = pkt({
      srcMac: MAC_CLIENT,
      dstMac: MAC_P0,
      ipv4: { src: '10.0.1.2', dst: '10.0.1.1', mf: true },
      icmp: { type: 8, code: 0, id: 1, seq: 1 },
      payload: new Uint8Array(16),
    });
    expect(r.route(frag, CLIENT_PORT, 0)).toBe(R_LOCAL);
    expect(sent).toHaveLength(0);
  });
});
