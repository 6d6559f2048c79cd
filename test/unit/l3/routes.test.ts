import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parsePrefix, prefixContains, type Prefix } from '../../../src/config/cidr.js';
import { ADDR_OWN, ADDR_VIP, L3Ports, RouteTable } from '../../../src/l3/routes.js';
import { formatIp, ipWords, macBytes } from '../../../src/wire/addr.js';
import { isV4Mapped } from '../../../src/wire/bytes.js';

const pfx = (t: string): Prefix => {
  const p = parsePrefix(t);
  if (typeof p === 'string') throw new Error(p);
  return p;
};

describe('RouteTable', () => {
  const t = new RouteTable(64);
  const gw = ipWords('10.0.2.254');
  const rDefault = t.add(pfx('0.0.0.0/0'), 1, gw);
  const r8 = t.add(pfx('10.0.0.0/8'), 2, ipWords('10.0.3.1'));
  const r16 = t.add(pfx('10.1.0.0/16'), 3, null);
  const r24 = t.add(pfx('10.1.2.0/24'), 4, null);
  const r32 = t.add(pfx('10.1.2.3/32'), 5, null);
  const r6def = t.add(pfx('::/0'), 6, ipWords('2001:db8::1'));
  const r6 = t.add(pfx('2001:db8:1::/48'), 7, null);

  it('longest prefix wins (IPv4)', () => {
    expect(t.lookup(ipWords('10.1.2.3'))).toBe(r32);
    expect(t.lookup(ipWords('10.1.2.4'))).toBe(r24);
    expect(t.lookup(ipWords('10.1.3.4'))).toBe(r16);
    expect(t.lookup(ipWords('10.2.0.1'))).toBe(r8);
    expect(t.lookup(ipWords('192.0.2.1'))).toBe(rDefault);
    expect(t.port(r24)).toBe(4);
    expect(t.prefixLen(r24)).toBe(96 + 24);
  });

  it('families do not mix: ::/0 never matches IPv4, 0.0.0.0/0 never IPv6', () => {
    expect(t.lookup(ipWords('2001:db8:1::5'))).toBe(r6);
    expect(t.lookup(ipWords('2001:db9::5'))).toBe(r6def);
    const v4only = new RouteTable(4);
    v4only.add(pfx('::/0'), 0, null);
    expect(v4only.lookup(ipWords('10.0.0.1'))).toBe(-1);
    const v6only = new RouteTable(4);
    v6only.add(pfx('0.0.0.0/0'), 0, null);
    expect(v6only.lookup(ipWords('2001:db8::1'))).toBe(-1);
    expect(v6only.lookup(ipWords('1.2.3.4'))).toBe(0);
  });

  it('next hop: the gateway, or the destination for a connected route', () => {
    const out = new Uint32Array(4);
    const d = ipWords('10.1.2.9');
    t.nextHop(r24, d, out);
    expect(formatIp(out)).toBe('10.1.2.9');
    expect(t.hasGateway(r24)).toBe(false);
    t.nextHop(rDefault, ipWords('8.8.8.8'), out);
    expect(formatIp(out)).toBe('10.0.2.254');
    expect(t.hasGateway(rDefault)).toBe(true);
    t.nextHop(r16, d, d);
    expect(formatIp(d)).toBe('10.1.2.9');
  });

  it('adding the same prefix again replaces it; a full table throws', () => {
    const u = new RouteTable(2);
    const a = u.add(pfx('10.0.0.0/8'), 1, null);
    expect(u.add(pfx('10.9.9.9/8'), 2, ipWords('10.0.0.1'))).toBe(a);
    expect(u.size).toBe(1);
    expect(u.port(a)).toBe(2);
    u.add(pfx('10.0.0.0/9'), 3, null);
    expect(() => u.add(pfx('10.0.0.0/10'), 3, null)).toThrow(/full/);
    expect(() => u.add(pfx('11.0.0.0/8'), 3, ipWords('::1'))).toThrow(/family/);
  });

  it('an empty table finds nothing', () => {
    expect(new RouteTable(1).lookup(ipWords('1.1.1.1'))).toBe(-1);
  });
});

/** Brute-force reference: the longest containing prefix of the same family; the last added of equals. */
function reference(routes: { p: Prefix; port: number }[], dst: Uint32Array): number {
  let best = -1;
  let bestLen = -1;
  const v4 = isV4Mapped(dst);
  for (const r of routes) {
    const rv4 = r.p.len >= 96 && isV4Mapped(r.p.words);
    if (rv4 !== v4 || !prefixContains(r.p, dst)) continue;
    if (r.p.len >= bestLen) {
      best = r.port;
      bestLen = r.p.len;
    }
  }
  return best;
}

const v4Addr = fc
  .tuple(fc.constantFrom(10, 192, 172), fc.nat(3), fc.nat(255), fc.nat(255))
  .map((a) => a.join('.'));
const v6Addr = fc
  .tuple(fc.constantFrom('2001:db8', 'fd00', '2001:db9'), fc.nat(3), fc.nat(0xffff), fc.nat(3))
  .map(([h, a, b, c]) => `${h}:${a.toString(16)}:${b.toString(16)}::${c.toString(16)}`);
const route4 = fc.tuple(v4Addr, fc.integer({ min: 0, max: 32 })).map(([a, l]) => `${a}/${l}`);
const route6 = fc.tuple(v6Addr, fc.integer({ min: 0, max: 128 })).map(([a, l]) => `${a}/${l}`);

describe('RouteTable property: matches a brute-force longest-prefix search', () => {
  it('random IPv4 and IPv6 tables and destinations', () => {
    fc.assert(
      fc.property(
        fc.array(fc.oneof(route4, route6), { maxLength: 40 }),
        fc.array(fc.oneof(v4Addr, v6Addr), { minLength: 1, maxLength: 30 }),
        (texts, dsts) => {
          const t = new RouteTable(64);
          const routes = texts.map((x, i) => ({ p: pfx(x), port: i }));
          for (const r of routes) t.add(r.p, r.port, null);
          for (const d of dsts) {
            const w = ipWords(d);
            const i = t.lookup(w);
            expect(i < 0 ? -1 : t.port(i)).toBe(reference(routes, w));
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('L3Ports', () => {
  const ports = new L3Ports(4, 16);
  ports.addPort(0, macBytes('02:00:00:00:01:01'), 1500);
  ports.addPort(1, macBytes('02:00:00:00:02:01'), 1400);
  ports.addAddress(0, ipWords('10.0.1.1'), 96 + 24, ADDR_OWN);
  ports.addAddress(0, ipWords('2001:db8:1::1'), 64, ADDR_OWN);
  ports.addAddress(1, ipWords('10.0.2.1'), 96 + 24, ADDR_OWN);
  ports.addAddress(1, ipWords('10.0.2.2'), 96 + 24, ADDR_OWN);
  ports.addAddress(0, ipWords('10.0.0.100'), 128, ADDR_VIP);

  it('link-local address from the MAC (modified EUI-64)', () => {
    expect(ports.kindOf(ipWords('fe80::ff:fe00:101'))).toBe(ADDR_OWN);
    expect(ports.localOn(ipWords('fe80::ff:fe00:201'), 1)).toBe(true);
    expect(ports.localOn(ipWords('fe80::ff:fe00:201'), 0)).toBe(false);
  });

  it('kinds, ports, MTU', () => {
    expect(ports.kindOf(ipWords('10.0.0.100'))).toBe(ADDR_VIP);
    expect(ports.kindOf(ipWords('10.0.1.1'))).toBe(ADDR_OWN);
    expect(ports.kindOf(ipWords('10.0.1.2'))).toBe(0);
    expect(ports.localOn(ipWords('10.0.0.100'), 0)).toBe(true);
    expect(ports.localOn(ipWords('10.0.0.100'), 1)).toBe(false);
    expect(ports.mtu(1)).toBe(1400);
    expect(ports.hasPort(1)).toBe(true);
    expect(ports.hasPort(2)).toBe(false);
    expect(() => ports.addAddress(1, ipWords('10.0.1.1'), 120, ADDR_OWN)).toThrow();
  });

  it('source address selection', () => {
    const out = new Uint32Array(4);
    expect(ports.source(1, ipWords('10.0.2.11'), out)).toBe(true);
    expect(formatIp(out)).toBe('10.0.2.1');
    expect(ports.source(0, ipWords('192.0.2.9'), out)).toBe(true);
    expect(formatIp(out)).toBe('10.0.1.1');
    expect(ports.source(0, ipWords('2001:db8:1::9'), out)).toBe(true);
    expect(formatIp(out)).toBe('2001:db8:1::1');
    // port 1 has no global IPv6 address: another port's global one, or (on the port only) its link-local
    expect(ports.source(1, ipWords('2001:db8:7::9'), out)).toBe(true);
    expect(formatIp(out)).toBe('2001:db8:1::1');
    expect(ports.source(1, ipWords('2001:db8:7::9'), out, true)).toBe(true);
    expect(formatIp(out)).toBe('fe80::ff:fe00:201');
    expect(ports.source(1, ipWords('fe80::9'), out)).toBe(true);
    expect(formatIp(out)).toBe('fe80::ff:fe00:201');
    // a port without IPv4: another port's address
    const p2 = new L3Ports(4, 4);
    p2.addAddress(3, ipWords('192.0.2.1'), 120, ADDR_OWN);
    expect(p2.source(0, ipWords('10.0.0.1'), out)).toBe(true);
    expect(formatIp(out)).toBe('192.0.2.1');
    expect(p2.source(0, ipWords('10.0.0.1'), out, true)).toBe(false);
    expect(p2.source(0, ipWords('2001:db8::1'), out)).toBe(false);
  });
});
