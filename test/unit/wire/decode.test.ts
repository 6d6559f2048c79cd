import { describe, expect, it } from 'vitest';
import { formatIp, ipWords } from '../../../src/wire/addr.js';
import { buildFrame, buildIp } from '../../../src/wire/build.js';
import { ipv4HeaderChecksumOk, l4ChecksumOk } from '../../../src/wire/checksum.js';
import { decodeFrame, decodeIp } from '../../../src/wire/decode.js';
import {
  ETH_ARP,
  ETH_IPV4,
  ETH_IPV6,
  LINKTYPE_ETHERNET,
  LINKTYPE_IPV4,
  LINKTYPE_IPV6,
  LINKTYPE_LINUX_SLL,
  LINKTYPE_LINUX_SLL2,
  LINKTYPE_RAW,
  Packet,
  PROTO_GRE,
  PROTO_TCP,
  PROTO_UDP,
  TCP_ACK,
  TCP_SYN,
} from '../../../src/wire/packet.js';

const hex = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s.replace(/\s+/g, ''), 'hex'));
const p = new Packet();
const decode = (f: Uint8Array, link = LINKTYPE_ETHERNET): number => decodeFrame(f, 0, f.length, link, p);

describe('decodeFrame on hand-written bytes', () => {
  it('IPv4 TCP SYN with MSS, SACK-permitted, timestamps, NOP, window scale', () => {
    const f = hex(`
      020000000002 020000000001 0800
      4500 003c 1234 4000 4006 0000 0a000102 0a000b0c
      c350 0050 00000064 00000000 a002 faf0 0000 0000
      020405b4 0402 080a 00000001 00000000 01 030307`);
    expect(decode(f)).toBe(0);
    expect(p.etherType).toBe(ETH_IPV4);
    expect(p.ethOff).toBe(0);
    expect(p.l3Off).toBe(14);
    expect(p.ipVersion).toBe(4);
    expect(p.ipId).toBe(0x1234);
    expect(p.dontFragment).toBe(true);
    expect(p.isFragment).toBe(false);
    expect(p.ttl).toBe(64);
    expect(formatIp(p.src)).toBe('10.0.1.2');
    expect(formatIp(p.dst)).toBe('10.0.11.12');
    expect(p.l4Proto).toBe(PROTO_TCP);
    expect(p.l4Off).toBe(34);
    expect([p.srcPort, p.dstPort, p.seq, p.ack]).toEqual([50000, 80, 100, 0]);
    expect(p.tcpFlags).toBe(TCP_SYN);
    expect(p.window).toBe(64240);
    expect(p.tcpHeaderLen).toBe(40);
    expect([p.mss, p.wscale, p.sackPermitted, p.hasTimestamps, p.tsVal, p.tsEcr]).toEqual([
      1460,
      7,
      true,
      true,
      1,
      0,
    ]);
    expect([p.payloadOff, p.payloadLen]).toEqual([74, 0]);
    expect(ipv4HeaderChecksumOk(p)).toBe(false); // checksum left 0 above
  });

  it('ignores Ethernet padding after the IP datagram', () => {
    const f = hex(`ffffffffffff 020000000001 0800 4500 001c 0001 0000 4011 0000 01020304 05060708
      1000 2000 0008 0000 000000000000000000000000000000000000`);
    expect(decode(f)).toBe(0);
    expect(p.ipEnd).toBe(14 + 28);
    expect([p.srcPort, p.dstPort, p.payloadLen]).toEqual([0x1000, 0x2000, 0]);
  });

  it('resets fields between packets', () => {
    decode(
      buildFrame({
        ipv4: { src: '1.1.1.1', dst: '2.2.2.2' },
        tcp: { srcPort: 1, dstPort: 2, flags: 2, mss: 1 },
      }),
    );
    expect(p.mss).toBe(1);
    decode(buildFrame({ arp: { op: 1, spa: '1.1.1.1', tpa: '1.1.1.2' } }));
    expect([p.mss, p.ipVersion, p.srcPort, p.l4Proto, p.src[3]]).toEqual([0, 0, 0, 0, 0]);
  });
});

describe('decodeFrame on built frames', () => {
  it('ARP request', () => {
    expect(
      decode(buildFrame({ arp: { op: 1, sha: '02:00:00:00:00:09', spa: '10.0.1.2', tpa: '10.0.1.1' } })),
    ).toBe(0);
    expect([p.etherType, p.arpOp, p.arpSpa, p.arpTpa]).toEqual([ETH_ARP, 1, 0x0a000102, 0x0a000101]);
  });

  it('802.1Q and QinQ store outer and inner VLAN ids', () => {
    const one = buildFrame({
      vlans: [42],
      ipv4: { src: '1.2.3.4', dst: '5.6.7.8' },
      udp: { srcPort: 1, dstPort: 2 },
    });
    expect(decode(one)).toBe(0);
    expect([p.vlanCount, p.vlanOuter, p.vlanInner, p.l3Off, p.dstPort]).toEqual([1, 42, 0, 18, 2]);
    const two = buildFrame({
      vlans: [10, 20],
      ipv6: { src: 'fe80::1', dst: 'fe80::2' },
      udp: { srcPort: 3, dstPort: 4 },
    });
    expect(decode(two)).toBe(0);
    expect([p.vlanCount, p.vlanOuter, p.vlanInner, p.l3Off, p.etherType]).toEqual([2, 10, 20, 22, ETH_IPV6]);
    expect(two[12]! * 256 + two[13]!).toBe(0x88a8);
  });

  it('IPv4 options are skipped', () => {
    const f = buildFrame({
      ipv4: { src: '1.2.3.4', dst: '5.6.7.8', options: Uint8Array.of(0x94, 4, 0, 0, 1, 1, 7, 3, 4, 0) },
      udp: { srcPort: 53, dstPort: 1053 },
      payload: Uint8Array.of(1, 2, 3),
    });
    expect(decode(f)).toBe(0);
    expect([p.ipHeaderLen, p.l4Off, p.srcPort, p.payloadLen]).toEqual([32, 46, 53, 3]);
    expect(ipv4HeaderChecksumOk(p) && l4ChecksumOk(p)).toBe(true);
  });

  it('IPv4 fragments: first decodes L4, later ones do not', () => {
    const first = buildFrame({
      ipv4: { src: '1.2.3.4', dst: '5.6.7.8', id: 7, mf: true },
      udp: { srcPort: 1, dstPort: 2 },
      payload: new Uint8Array(16),
    });
    expect(decode(first)).toBe(0);
    expect([p.isFragment, p.moreFragments, p.fragOffset, p.srcPort]).toEqual([true, true, 0, 1]);
    const later = buildFrame({
      ipv4: { src: '1.2.3.4', dst: '5.6.7.8', proto: 17, fragOffset: 1480 },
      payload: new Uint8Array(8),
    });
    expect(decode(later)).toBe(0);
    expect([p.isFragment, p.moreFragments, p.fragOffset, p.l4Proto, p.l4Off, p.srcPort]).toEqual([
      true,
      false,
      1480,
      PROTO_UDP,
      34,
      0,
    ]);
  });

  it('IPv6 extension headers and fragment header', () => {
    const f = buildFrame({
      ipv6: {
        src: '2001:db8::1',
        dst: '2001:db8::2',
        ext: [
          { type: 0, data: new Uint8Array(4) },
          { type: 60, data: new Uint8Array(12) },
          { type: 44, id: 0xabcdef, more: true },
        ],
      },
      tcp: {
        srcPort: 1000,
        dstPort: 443,
        flags: TCP_SYN | TCP_ACK,
        seq: 5,
        ack: 6,
        sack: [
          [10, 20],
          [30, 40],
        ],
      },
    });
    expect(decode(f)).toBe(0);
    expect(formatIp(p.src)).toBe('2001:db8::1');
    expect([p.l4Proto, p.l4Off, p.ip6FragOff, p.ipId, p.isFragment, p.moreFragments]).toEqual([
      PROTO_TCP,
      14 + 40 + 8 + 16 + 8,
      14 + 40 + 8 + 16,
      0xabcdef,
      true,
      true,
    ]);
    expect([p.srcPort, p.tcpFlags, p.hasSack, p.sackMaxRight]).toEqual([1000, TCP_SYN | TCP_ACK, true, 40]);
  });

  it('ICMP echo and ICMP error quoting UDP', () => {
    expect(
      decode(
        buildFrame({ ipv4: { src: '1.1.1.1', dst: '2.2.2.2' }, icmp: { type: 8, code: 0, id: 77, seq: 3 } }),
      ),
    ).toBe(0);
    expect([p.icmpType, p.icmpId, p.icmpSeq, p.icmpIsError]).toEqual([8, 77, 3, false]);
    expect(l4ChecksumOk(p)).toBe(true);
    const inner = buildIp({
      ipv4: { src: '2.2.2.2', dst: '9.9.9.9' },
      udp: { srcPort: 5353, dstPort: 53 },
      payload: new Uint8Array(40),
    });
    const err = buildFrame({
      ipv4: { src: '3.3.3.3', dst: '2.2.2.2' },
      icmp: { type: 3, code: 3 },
      payload: inner.subarray(0, 28),
    });
    expect(decode(err)).toBe(0);
    expect([p.icmpIsError, p.innerIpVersion, p.innerL4Proto, p.innerSrcPort, p.innerDstPort]).toEqual([
      true,
      4,
      17,
      5353,
      53,
    ]);
    expect([formatIp(p.innerSrc), formatIp(p.innerDst), p.innerL3Off]).toEqual(['2.2.2.2', '9.9.9.9', 42]);
  });

  it('ICMPv6 echo, NS target, and packet-too-big quoting an ICMPv6 echo', () => {
    expect(
      decode(buildFrame({ ipv6: { src: '::1', dst: '::2' }, icmpv6: { type: 128, code: 0, id: 9, seq: 1 } })),
    ).toBe(0);
    expect([p.icmpType, p.icmpId, l4ChecksumOk(p)]).toEqual([128, 9, true]);
    const ns = new Uint8Array(16);
    ns.set([0xfe, 0x80], 0);
    ns[15] = 5;
    expect(
      decode(
        buildFrame({
          ipv6: { src: '::1', dst: 'ff02::1:ff00:5' },
          icmpv6: { type: 135, code: 0 },
          payload: ns,
        }),
      ),
    ).toBe(0);
    expect(formatIp(p.ndTarget)).toBe('fe80::5');
    const inner = buildIp({
      ipv6: { src: '2001:db8::5', dst: '2001:db8::6' },
      icmpv6: { type: 128, code: 0, id: 4242 },
    });
    expect(
      decode(
        buildFrame({
          ipv6: { src: '::9', dst: '2001:db8::5' },
          icmpv6: { type: 2, code: 0, rest: 1280 },
          payload: inner,
        }),
      ),
    ).toBe(0);
    expect([p.icmpIsError, p.innerIpVersion, p.innerL4Proto, p.innerIcmpType, p.innerIcmpId]).toEqual([
      true,
      6,
      58,
      128,
      4242,
    ]);
  });

  it('GRE with checksum, key and sequence; payload decodes with decodeIp', () => {
    const inner = buildIp({
      ipv4: { src: '10.0.0.1', dst: '10.0.0.2' },
      tcp: { srcPort: 22, dstPort: 4000, flags: TCP_ACK },
    });
    const f = buildFrame({
      ipv4: { src: '192.0.2.1', dst: '192.0.2.2' },
      gre: { checksum: true, key: 0x1234, seq: 99 },
      payload: inner,
    });
    expect(decode(f)).toBe(0);
    expect([
      p.l4Proto,
      p.greOff,
      p.greProto,
      p.greHasChecksum,
      p.greHasKey,
      p.greKey,
      p.greHasSeq,
      p.greSeq,
    ]).toEqual([PROTO_GRE, 34, ETH_IPV4, true, true, 0x1234, true, 99]);
    expect(p.grePayloadOff).toBe(34 + 16);
    expect(l4ChecksumOk(p)).toBe(true);
    const q = new Packet();
    expect(decodeIp(f, p.grePayloadOff, p.ipEnd, q)).toBe(0);
    expect([formatIp(q.src), q.srcPort, q.dstPort, q.l3Off, q.linkType]).toEqual([
      '10.0.0.1',
      22,
      4000,
      50,
      LINKTYPE_RAW,
    ]);
  });

  it('link types: raw (both versions), IPv4, IPv6, SLL, SLL2', () => {
    const spec = { ipv4: { src: '1.2.3.4', dst: ipWords('4.3.2.1') }, udp: { srcPort: 7, dstPort: 8 } };
    for (const link of [LINKTYPE_RAW, LINKTYPE_IPV4, LINKTYPE_LINUX_SLL, LINKTYPE_LINUX_SLL2]) {
      expect(decode(buildFrame({ ...spec, link }), link)).toBe(0);
      expect([p.ethOff, p.etherType, p.dstPort, formatIp(p.dst)]).toEqual([-1, ETH_IPV4, 8, '4.3.2.1']);
    }
    const v6 = { ipv6: { src: '::1', dst: '::2' }, udp: { srcPort: 7, dstPort: 9 } };
    for (const link of [LINKTYPE_RAW, LINKTYPE_IPV6, LINKTYPE_LINUX_SLL2]) {
      expect(decode(buildFrame({ ...v6, link }), link)).toBe(0);
      expect([p.etherType, p.dstPort]).toEqual([ETH_IPV6, 9]);
    }
  });

  it('honours base and len inside a larger buffer', () => {
    const f = buildFrame({ ipv4: { src: '1.2.3.4', dst: '5.6.7.8' }, udp: { srcPort: 1, dstPort: 2 } });
    const big = new Uint8Array(f.length + 100).fill(0xee);
    big.set(f, 50);
    expect(decodeFrame(big, 50, f.length, LINKTYPE_ETHERNET, p)).toBe(0);
    expect([p.base, p.end, p.l3Off, p.l4Off]).toEqual([50, 50 + f.length, 64, 84]);
    expect(decodeFrame(big, 50, f.length - 1, LINKTYPE_ETHERNET, p)).not.toBe(0);
    expect(p.errorOffset).toBe(16);
  });
});
