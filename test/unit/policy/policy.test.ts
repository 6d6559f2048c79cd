import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../../src/config/load.js';
import { ACT_ACCEPT, ACT_DROP, ACT_REJECT, Policy } from '../../../src/policy/policy.js';
import { ipWords } from '../../../src/wire/addr.js';
import { buildFrame, type FrameSpec } from '../../../src/wire/build.js';
import { decodeFrame } from '../../../src/wire/decode.js';
import { Packet } from '../../../src/wire/packet.js';

const YAML = `
zones:
  inside:
    networks: [10.0.0.0/8, fd00::/8]
  dmz:
    networks: [192.168.50.0/24, 2001:db8:50::/48, 10.99.0.0/16]
  outside:
    default: true
policy:
  default: drop
  rules:
    - { name: ssh, from: outside, to: dmz, proto: tcp, dport: 22, action: reject }
    - name: web
      from: outside
      to: dmz
      dst: [192.168.50.10/32, 2001:db8:50::10]
      proto: tcp
      dport: [80, 443, 8000-8080]
      action: accept
    - { name: blocked-src, src: [203.0.113.0/24, 2001:db8:bad::/48], action: drop }
    - { name: ping, from: outside, proto: icmp, icmp-type: 8, action: accept }
    - { name: ping6, from: outside, proto: icmpv6, icmp-type: 128, action: accept }
    - { name: dns, from: outside, proto: udp, sport: 1024-65535, dport: 53, action: accept }
    - { name: inside-out, from: inside, action: accept }
    - { name: gre, proto: gre, action: accept }
    - { name: dmz-tcp, to: dmz, proto: tcp, action: reject }
`;

const IN = 0;
const DMZ = 1;
const OUT = 2;

function pkt(spec: FrameSpec): Packet {
  const buf = buildFrame(spec);
  const p = new Packet();
  expect(decodeFrame(buf, 0, buf.length, 1, p)).toBe(0);
  return p;
}
const ip = (src: string, dst: string): Pick<FrameSpec, 'ipv4' | 'ipv6'> =>
  src.includes(':') ? { ipv6: { src, dst } } : { ipv4: { src, dst } };
const tcp = (src: string, sp: number, dst: string, dp: number): Packet =>
  pkt({ ...ip(src, dst), tcp: { srcPort: sp, dstPort: dp, flags: 2, seq: 1 } });
const udp = (src: string, sp: number, dst: string, dp: number): Packet =>
  pkt({ ...ip(src, dst), udp: { srcPort: sp, dstPort: dp } });
const icmp = (src: string, dst: string, type: number): Packet =>
  src.includes(':')
    ? pkt({ ...ip(src, dst), icmpv6: { type, code: 0, id: 1, seq: 1 } })
    : pkt({ ...ip(src, dst), icmp: { type, code: 0, id: 1, seq: 1 } });

function policy(): Policy {
  return new Policy(parseConfig(YAML, 'policy.yaml'));
}

/** Evaluates and returns [action, rule name]. */
function decide(pol: Policy, from: number, to: number, p: Packet): [number, string] {
  const a = pol.evaluate(from, to, p);
  return [a, pol.ruleName(pol.lastRule)];
}

describe('Policy.zoneOf', () => {
  const pol = policy();
  const zone = (a: string): string => pol.zoneNames[pol.zoneOf(ipWords(a))]!;

  it('names zones in config order', () => {
    expect(pol.zoneNames).toEqual(['inside', 'dmz', 'outside']);
  });

  it('finds IPv4 zones, with the first matching zone winning, else the default zone', () => {
    expect(zone('10.1.2.3')).toBe('inside');
    expect(zone('10.255.255.255')).toBe('inside');
    expect(zone('10.99.1.1')).toBe('inside'); // also in dmz's 10.99.0.0/16, but inside comes first
    expect(zone('192.168.50.1')).toBe('dmz');
    expect(zone('192.168.51.1')).toBe('outside');
    expect(zone('11.0.0.0')).toBe('outside');
    expect(zone('9.255.255.255')).toBe('outside');
    expect(zone('8.8.8.8')).toBe('outside');
  });

  it('finds IPv6 zones, else the default zone', () => {
    expect(zone('fd12:3456::1')).toBe('inside');
    expect(zone('2001:db8:50:ffff::1')).toBe('dmz');
    expect(zone('2001:db8:51::1')).toBe('outside');
    expect(zone('fe80::1')).toBe('outside');
    // An IPv4-mapped IPv6 text is the IPv4 address.
    expect(zone('::ffff:10.0.0.1')).toBe('inside');
    // The IPv4-compatible form (no ffff) is not.
    expect(zone('::10.0.0.1')).toBe('outside');
  });

  it('uses the configured default zone, wherever it is listed', () => {
    const p = new Policy(
      parseConfig('zones:\n  wan: { default: true }\n  lan: { networks: [192.168.0.0/16] }\n', 'z.yaml'),
    );
    expect(p.zoneOf(ipWords('1.1.1.1'))).toBe(0);
    expect(p.zoneOf(ipWords('192.168.3.4'))).toBe(1);
    expect(p.zoneOf(ipWords('2001:db8::1'))).toBe(0);
  });
});

describe('Policy.evaluate', () => {
  it('first match wins: ssh to the dmz is rejected before the later dmz-tcp rule', () => {
    const pol = policy();
    expect(decide(pol, OUT, DMZ, tcp('198.51.100.1', 40000, '192.168.50.10', 22))).toEqual([
      ACT_REJECT,
      'ssh',
    ]);
    expect(pol.lastRule).toBe(0);
  });

  it('matches from and to zones', () => {
    const pol = policy();
    const web = tcp('198.51.100.1', 40000, '192.168.50.10', 443);
    expect(decide(pol, OUT, DMZ, web)).toEqual([ACT_ACCEPT, 'web']);
    // Same packet between other zones: not web; inside -> inside-out.
    expect(decide(pol, IN, DMZ, web)).toEqual([ACT_ACCEPT, 'inside-out']);
    // dmz -> outside: no rule (from: inside / outside), the default.
    expect(decide(pol, DMZ, OUT, web)).toEqual([ACT_DROP, 'default']);
    expect(pol.lastRule).toBe(-1);
  });

  it('matches dst prefixes (IPv4 host, IPv6 bare address)', () => {
    const pol = policy();
    expect(decide(pol, OUT, DMZ, tcp('198.51.100.1', 40000, '192.168.50.11', 443))).toEqual([
      ACT_REJECT,
      'dmz-tcp',
    ]);
    expect(decide(pol, OUT, DMZ, tcp('2001:db8::1', 40000, '2001:db8:50::10', 80))).toEqual([
      ACT_ACCEPT,
      'web',
    ]);
    expect(decide(pol, OUT, DMZ, tcp('2001:db8::1', 40000, '2001:db8:50::11', 80))).toEqual([
      ACT_REJECT,
      'dmz-tcp',
    ]);
  });

  it('matches dport lists and ranges at their edges', () => {
    const pol = policy();
    const to = (port: number): string =>
      decide(pol, OUT, DMZ, tcp('198.51.100.1', 40000, '192.168.50.10', port))[1];
    expect([80, 443, 8000, 8040, 8080].map(to)).toEqual(['web', 'web', 'web', 'web', 'web']);
    expect([79, 81, 442, 444, 7999, 8081].map(to)).toEqual(new Array(6).fill('dmz-tcp'));
  });

  it('matches sport ranges', () => {
    const pol = policy();
    expect(decide(pol, OUT, IN, udp('198.51.100.1', 1024, '10.0.0.53', 53))).toEqual([ACT_ACCEPT, 'dns']);
    expect(decide(pol, OUT, IN, udp('198.51.100.1', 65535, '10.0.0.53', 53))).toEqual([ACT_ACCEPT, 'dns']);
    expect(decide(pol, OUT, IN, udp('198.51.100.1', 1023, '10.0.0.53', 53))).toEqual([ACT_DROP, 'default']);
    expect(decide(pol, OUT, IN, udp('198.51.100.1', 5000, '10.0.0.53', 54))).toEqual([ACT_DROP, 'default']);
  });

  it('matches src prefixes, IPv4 and IPv6', () => {
    const pol = policy();
    expect(decide(pol, OUT, IN, udp('203.0.113.77', 5000, '10.0.0.53', 53))).toEqual([
      ACT_DROP,
      'blocked-src',
    ]);
    expect(decide(pol, OUT, IN, udp('2001:db8:bad:1::1', 5000, 'fd00::53', 53))).toEqual([
      ACT_DROP,
      'blocked-src',
    ]);
    expect(decide(pol, OUT, IN, udp('2001:db8:bae::1', 5000, 'fd00::53', 53))).toEqual([ACT_ACCEPT, 'dns']);
  });

  it('matches proto: a UDP packet to port 22 is not the tcp ssh rule', () => {
    const pol = policy();
    expect(decide(pol, OUT, DMZ, udp('198.51.100.1', 40000, '192.168.50.10', 22))).toEqual([
      ACT_DROP,
      'default',
    ]);
    expect(
      decide(
        pol,
        OUT,
        OUT,
        pkt({ ipv4: { src: '1.1.1.1', dst: '2.2.2.2' }, gre: {}, payload: new Uint8Array(0) }),
      ),
    ).toEqual([ACT_ACCEPT, 'gre']);
  });

  it('matches icmp-type for ICMP and ICMPv6', () => {
    const pol = policy();
    expect(decide(pol, OUT, IN, icmp('198.51.100.1', '10.0.0.1', 8))).toEqual([ACT_ACCEPT, 'ping']);
    expect(decide(pol, OUT, IN, icmp('198.51.100.1', '10.0.0.1', 13))).toEqual([ACT_DROP, 'default']);
    expect(decide(pol, OUT, IN, icmp('2001:db8::1', 'fd00::1', 128))).toEqual([ACT_ACCEPT, 'ping6']);
    expect(decide(pol, OUT, IN, icmp('2001:db8::1', 'fd00::1', 8))).toEqual([ACT_DROP, 'default']);
  });

  it('counts hits per rule, with the default last', () => {
    const pol = policy();
    expect(pol.hits).toHaveLength(10);
    const web = tcp('198.51.100.1', 40000, '192.168.50.10', 80);
    const ssh = tcp('198.51.100.1', 40000, '192.168.50.10', 22);
    const none = udp('198.51.100.1', 1, '192.168.50.10', 9);
    for (const [p, n] of [
      [web, 3],
      [ssh, 2],
      [none, 4],
    ] as const) {
      for (let i = 0; i < n; i++) pol.evaluate(OUT, DMZ, p);
    }
    expect(Array.from(pol.hits)).toEqual([2, 3, 0, 0, 0, 0, 0, 0, 0, 4]);
    expect(pol.lastRule).toBe(-1);
    expect(pol.ruleName(-1)).toBe('default');
    expect(pol.ruleName(1)).toBe('web');
  });

  it('uses the default action: accept and reject too', () => {
    for (const [d, act] of [
      ['accept', ACT_ACCEPT],
      ['reject', ACT_REJECT],
      ['drop', ACT_DROP],
    ] as const) {
      const pol = new Policy(parseConfig(`policy:\n  default: ${d}\n`, 'd.yaml'));
      expect(decide(pol, 0, 1, udp('10.0.0.1', 1, '10.0.0.2', 2))).toEqual([act, 'default']);
      expect(Array.from(pol.hits)).toEqual([1]);
    }
  });
});
