import { describe, expect, it } from 'vitest';
import { buildFrame, type FrameSpec } from '../../../src/wire/build.js';
import { decodeFrame } from '../../../src/wire/decode.js';
import * as E from '../../../src/wire/errors.js';
import { Packet } from '../../../src/wire/packet.js';

const v4 = { src: '10.0.0.1', dst: '10.0.0.2' };
const v6 = { src: '2001:db8::1', dst: '2001:db8::2' };
const tcpSpec: FrameSpec = {
  ipv4: v4,
  tcp: { srcPort: 1, dstPort: 2, flags: 2 },
  payload: new Uint8Array(4),
};
const IP = 14;
const L4 = 34;

/** Builds `spec` and applies `patch` (offset -> byte) or a cut. */
function frame(spec: FrameSpec, patch: Record<number, number> = {}, cut?: number): Uint8Array {
  const f = buildFrame(spec);
  for (const [k, v] of Object.entries(patch)) f[Number(k)] = v;
  return cut === undefined ? f : f.subarray(0, cut);
}

const cases: [string, Uint8Array, number, number?][] = [
  ['empty frame', new Uint8Array(0), E.E_TRUNCATED_FRAME, 1],
  ['short Ethernet', new Uint8Array(13), E.E_TRUNCATED_FRAME],
  ['cut VLAN tag', frame({ vlans: [5], ipv4: v4 }, {}, 16), E.E_TRUNCATED_VLAN],
  ['cut inner QinQ tag', frame({ vlans: [5, 6], ipv4: v4 }, {}, 20), E.E_TRUNCATED_VLAN],
  ['IPv4 shorter than 20 bytes', frame(tcpSpec, {}, IP + 19), E.E_TRUNCATED_IPV4],
  ['IPv4 version 5', frame(tcpSpec, { [IP]: 0x55 }), E.E_MALFORMED_IPV4],
  ['IHL < 5', frame(tcpSpec, { [IP]: 0x44 }), E.E_MALFORMED_IPV4],
  ['IHL beyond the frame', frame(tcpSpec, { [IP]: 0x4f }, IP + 40), E.E_TRUNCATED_IPV4],
  [
    'IPv4 option length 0',
    frame({ ipv4: { ...v4, options: Uint8Array.of(7, 0, 0, 0) } }),
    E.E_MALFORMED_IPV4,
  ],
  [
    'IPv4 option past the header',
    frame({ ipv4: { ...v4, options: Uint8Array.of(1, 7, 9, 0) } }),
    E.E_MALFORMED_IPV4,
  ],
  ['total length beyond the frame', frame(tcpSpec, { [IP + 3]: 200 }), E.E_BAD_IPV4_LENGTH],
  ['total length < IHL*4', frame(tcpSpec, { [IP + 2]: 0, [IP + 3]: 19 }), E.E_BAD_IPV4_LENGTH],
  ['zero-length IPv4 fragment', frame({ ipv4: { ...v4, mf: true } }), E.E_MALFORMED_FRAGMENT],
  [
    'IPv4 fragment past 64 KiB',
    frame({ ipv4: { ...v4, fragOffset: 65528 }, payload: new Uint8Array(16) }),
    E.E_MALFORMED_FRAGMENT,
  ],
  ['TCP header cut', frame(tcpSpec, { [IP + 3]: 20 + 19 }, IP + 39), E.E_TRUNCATED_TCP],
  ['TCP data offset < 5', frame(tcpSpec, { [L4 + 12]: 0x40 }), E.E_MALFORMED_TCP],
  ['TCP data offset beyond the segment', frame(tcpSpec, { [L4 + 12]: 0x70 }), E.E_MALFORMED_TCP],
  [
    'TCP option length 0',
    frame({ ...tcpSpec, tcp: { srcPort: 1, dstPort: 2, flags: 2, mss: 1 } }, { [L4 + 21]: 0 }),
    E.E_BAD_TCP_OPTION,
  ],
  [
    'TCP option length 1',
    frame({ ...tcpSpec, tcp: { srcPort: 1, dstPort: 2, flags: 2, mss: 1 } }, { [L4 + 21]: 1 }),
    E.E_BAD_TCP_OPTION,
  ],
  [
    'TCP option past the header',
    frame({ ...tcpSpec, tcp: { srcPort: 1, dstPort: 2, flags: 2, mss: 1 } }, { [L4 + 21]: 5 }),
    E.E_BAD_TCP_OPTION,
  ],
  [
    'TCP option kind with no length byte',
    frame({ ...tcpSpec, tcp: { srcPort: 1, dstPort: 2, flags: 2, wscale: 1 } }, { [L4 + 23]: 2 }),
    E.E_BAD_TCP_OPTION,
  ],
  [
    'UDP header cut',
    frame({ ipv4: v4, udp: { srcPort: 1, dstPort: 2 } }, { [IP + 3]: 27 }, IP + 27),
    E.E_TRUNCATED_UDP,
  ],
  [
    'UDP length < 8',
    frame({ ipv4: v4, udp: { srcPort: 1, dstPort: 2 } }, { [L4 + 5]: 7 }),
    E.E_MALFORMED_UDP,
  ],
  [
    'UDP length beyond the datagram',
    frame({ ipv4: v4, udp: { srcPort: 1, dstPort: 2 } }, { [L4 + 5]: 9 }),
    E.E_MALFORMED_UDP,
  ],
  ['ICMP header cut', frame({ ipv4: { ...v4, proto: 1 }, payload: new Uint8Array(4) }), E.E_TRUNCATED_ICMP],
  ['ICMP error without quote', frame({ ipv4: v4, icmp: { type: 3, code: 1 } }), E.E_MALFORMED_ICMP],
  [
    'ICMP error quoting non-IP',
    frame({ ipv4: v4, icmp: { type: 11, code: 0 }, payload: new Uint8Array(28) }),
    E.E_MALFORMED_ICMP,
  ],
  ['ICMPv6 NS without target', frame({ ipv6: v6, icmpv6: { type: 135, code: 0 } }), E.E_TRUNCATED_ICMP],
  ['GRE header cut', frame({ ipv4: { ...v4, proto: 47 }, payload: new Uint8Array(3) }), E.E_TRUNCATED_GRE],
  ['GRE version 1', frame({ ipv4: v4, gre: { proto: 0x880b } }, { [L4 + 1]: 1 }), E.E_MALFORMED_GRE],
  [
    'GRE routing bit (RFC 1701)',
    frame({ ipv4: v4, gre: { proto: 0x0800 } }, { [L4]: 0x40 }),
    E.E_MALFORMED_GRE,
  ],
  ['GRE reserved0 bit', frame({ ipv4: v4, gre: { proto: 0x0800 } }, { [L4 + 1]: 0x80 }), E.E_MALFORMED_GRE],
  [
    'GRE key beyond the packet',
    frame({ ipv4: v4, gre: { proto: 0x0800 } }, { [L4]: 0x20 }),
    E.E_MALFORMED_GRE,
  ],
  ['IPv6 cut', frame({ ipv6: v6 }, {}, IP + 39), E.E_TRUNCATED_IPV6],
  ['IPv6 version 4', frame({ ipv6: v6 }, { [IP]: 0x40 }), E.E_MALFORMED_IPV6],
  ['IPv6 payload length beyond the frame', frame({ ipv6: v6 }, { [IP + 5]: 1 }), E.E_MALFORMED_IPV6],
  [
    'IPv6 ext header running past the packet',
    frame({ ipv6: { ...v6, ext: [{ type: 60, data: new Uint8Array(6) }] } }, { [IP + 41]: 3 }),
    E.E_BAD_IPV6_EXT,
  ],
  [
    'IPv6 hop-by-hop not first',
    frame({
      ipv6: {
        ...v6,
        ext: [
          { type: 60, data: new Uint8Array(6) },
          { type: 0, data: new Uint8Array(6) },
        ],
      },
    }),
    E.E_BAD_IPV6_EXT,
  ],
  [
    'IPv6 too many ext headers',
    frame({ ipv6: { ...v6, ext: Array.from({ length: 9 }, () => ({ type: 60, data: new Uint8Array(6) })) } }),
    E.E_BAD_IPV6_EXT,
  ],
  [
    'IPv6 two fragment headers',
    frame({ ipv6: { ...v6, ext: [{ type: 44 }, { type: 44 }] }, payload: new Uint8Array(8) }),
    E.E_BAD_IPV6_EXT,
  ],
  [
    'IPv6 fragment with no data',
    frame({ ipv6: { ...v6, ext: [{ type: 44, more: true }] } }),
    E.E_MALFORMED_FRAGMENT,
  ],
  ['ARP cut', frame({ arp: { op: 1, spa: '1.1.1.1', tpa: '1.1.1.2' } }, {}, 14 + 27), E.E_MALFORMED_ARP],
  [
    'ARP for IPv6 protocol',
    frame({ arp: { op: 1, spa: '1.1.1.1', tpa: '1.1.1.2' } }, { 16: 0x86, 17: 0xdd }),
    E.E_MALFORMED_ARP,
  ],
];

describe('bad input gives the named error, never a throw', () => {
  const p = new Packet();
  it.each(cases)('%s', (_name, f, code, link = 1) => {
    expect(decodeFrame(f, 0, f.length, link, p)).toBe(code);
    expect(p.error).toBe(code);
    expect(p.errorOffset).toBeGreaterThanOrEqual(0);
    expect(p.errorOffset).toBeLessThanOrEqual(f.length);
  });

  it('unsupported link type, raw IP with a bad version nibble', () => {
    const f = new Uint8Array(40);
    expect(decodeFrame(f, 0, 40, 999, p)).toBe(E.E_UNSUPPORTED_LINKTYPE);
    expect(decodeFrame(f, 0, 40, 101, p)).toBe(E.E_MALFORMED_IPV4);
    expect(decodeFrame(f, 0, 0, 101, p)).toBe(E.E_TRUNCATED_FRAME);
  });

  it('lengths and bases out of range are clamped, not thrown on', () => {
    const f = new Uint8Array(20);
    expect(() => decodeFrame(f, 10, 1000, 1, p)).not.toThrow();
    expect(() => decodeFrame(f, -5, -1, 1, p)).not.toThrow();
    expect(() => decodeFrame(f, 100, 10, 1, p)).not.toThrow();
    expect(decodeFrame(f, Number.NaN, Number.NaN, 1, p)).toBe(E.E_TRUNCATED_FRAME);
  });
});
