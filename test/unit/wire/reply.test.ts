import { describe, expect, it } from 'vitest';
import { formatIp, ipWords } from '../../../src/wire/addr.js';
import { buildFrame } from '../../../src/wire/build.js';
import { ipv4HeaderChecksumOk, l4ChecksumOk } from '../../../src/wire/checksum.js';
import { decodeFrame } from '../../../src/wire/decode.js';
import { Packet, TCP_ACK, TCP_PSH, TCP_RST, TCP_SYN } from '../../../src/wire/packet.js';
import { writeIcmpError, writeTcpReset } from '../../../src/wire/reply.js';

const p = new Packet();
const r = new Packet();
const out = new Uint8Array(2048);

function reply(n: number): Packet {
  expect(n).toBeGreaterThan(0);
  expect(decodeFrame(out, 0, n, 1, r)).toBe(0);
  expect(ipv4HeaderChecksumOk(r) && l4ChecksumOk(r)).toBe(true);
  return r;
}

describe('generated replies', () => {
  it('RST for a SYN acks seq+1 and keeps the VLAN tags, MACs swapped', () => {
    const f = buildFrame({
      vlans: [10, 20],
      srcMac: '02:00:00:00:00:aa',
      dstMac: '02:00:00:00:00:bb',
      ipv4: { src: '10.0.1.2', dst: '10.0.0.100' },
      tcp: { srcPort: 40000, dstPort: 81, flags: TCP_SYN, seq: 0xffffffff, mss: 1460 },
    });
    decodeFrame(f, 0, f.length, 1, p);
    reply(writeTcpReset(p, out, 0));
    expect([r.vlanOuter, r.vlanInner, formatIp(r.src), formatIp(r.dst), r.srcPort, r.dstPort]).toEqual([
      10,
      20,
      '10.0.0.100',
      '10.0.1.2',
      81,
      40000,
    ]);
    expect([r.tcpFlags, r.seq, r.ack]).toEqual([TCP_RST | TCP_ACK, 0, 0]);
    expect(Array.from(out.subarray(0, 12))).toEqual([2, 0, 0, 0, 0, 0xaa, 2, 0, 0, 0, 0, 0xbb]);
  });

  it('RST for an ACK segment takes its ack number; none for a RST', () => {
    const f = buildFrame({
      ipv6: { src: '2001:db8::1', dst: '2001:db8::2' },
      tcp: { srcPort: 1, dstPort: 2, flags: TCP_ACK | TCP_PSH, seq: 5, ack: 999 },
      payload: new Uint8Array(10),
    });
    decodeFrame(f, 0, f.length, 1, p);
    reply(writeTcpReset(p, out, 0));
    expect([r.ipVersion, r.tcpFlags, r.seq, r.dstPort]).toEqual([6, TCP_RST, 999, 1]);
    const rst = buildFrame({
      ipv4: { src: '1.1.1.1', dst: '2.2.2.2' },
      tcp: { srcPort: 1, dstPort: 2, flags: TCP_RST },
    });
    decodeFrame(rst, 0, rst.length, 1, p);
    expect(writeTcpReset(p, out, 0)).toBe(0);
  });

  it('ICMP port unreachable quotes the datagram; ICMPv6 too, from a given address', () => {
    const f = buildFrame({
      ipv4: { src: '10.0.1.2', dst: '10.0.2.11' },
      udp: { srcPort: 5000, dstPort: 9 },
      payload: new Uint8Array(1000),
    });
    decodeFrame(f, 0, f.length, 1, p);
    const n = writeIcmpError(p, out, 0, 3, 3, 0, null);
    expect(n).toBe(14 + 576);
    reply(n);
    expect([
      r.icmpType,
      r.icmpCode,
      r.icmpIsError,
      formatIp(r.innerSrc),
      r.innerSrcPort,
      r.innerDstPort,
    ]).toEqual([3, 3, true, '10.0.1.2', 5000, 9]);
    const g = buildFrame({
      ipv6: { src: '2001:db8::1', dst: '2001:db8::2' },
      tcp: { srcPort: 7, dstPort: 8, flags: TCP_SYN },
    });
    decodeFrame(g, 0, g.length, 1, p);
    reply(writeIcmpError(p, out, 0, 1, 4, 0, ipWords('2001:db8::fe')));
    expect([formatIp(r.src), r.icmpType, r.innerL4Proto, r.innerSrcPort]).toEqual(['2001:db8::fe', 1, 6, 7]);
  });
});
