import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  checkPrefix,
  formatAddress,
  parseAddress,
  parsePrefix,
  prefixContains,
  type Prefix,
} from '../../../src/config/cidr.js';
import { formatIp, ipWords, parseIp } from '../../../src/wire/addr.js';

function prefix(text: string): Prefix {
  const p = parsePrefix(text);
  if (typeof p === 'string') throw new Error(`${text}: ${p}`);
  return p;
}
const words = (text: string): number[] => {
  const out = new Uint32Array(4);
  expect(parseAddress(text, out)).toBe(true);
  return Array.from(out);
};
const contains = (p: string, a: string): boolean => prefixContains(prefix(p), ipWords(a));
const ONES = 0xffffffff;

describe('parseAddress', () => {
  it('parses IPv4 as IPv4-mapped words', () => {
    expect(words('10.1.2.3')).toEqual([0, 0, 0xffff, 0x0a010203]);
    expect(words('255.255.255.255')).toEqual([0, 0, 0xffff, ONES]);
    expect(words('0.0.0.0')).toEqual([0, 0, 0xffff, 0]);
  });

  it('parses IPv6 forms, including embedded IPv4', () => {
    expect(words('::')).toEqual([0, 0, 0, 0]);
    expect(words('::1')).toEqual([0, 0, 0, 1]);
    expect(words('1::')).toEqual([0x00010000, 0, 0, 0]);
    expect(words('2001:db8::8:800:200c:417a')).toEqual([0x20010db8, 0, 0x00080800, 0x200c417a]);
    expect(words('2001:DB8:0:0:1:0:0:1')).toEqual([0x20010db8, 0, 0x00010000, 1]);
    expect(words('1:2:3:4:5:6:7:8')).toEqual([0x00010002, 0x00030004, 0x00050006, 0x00070008]);
    expect(words('1:2:3:4:5:6:7::')).toEqual([0x00010002, 0x00030004, 0x00050006, 0x00070000]);
    expect(words('::2:3:4:5:6:7:8')).toEqual([0x00000002, 0x00030004, 0x00050006, 0x00070008]);
    expect(words('::ffff:192.0.2.1')).toEqual([0, 0, 0xffff, 0xc0000201]);
    expect(words('::192.0.2.1')).toEqual([0, 0, 0, 0xc0000201]);
    expect(words('64:ff9b::192.0.2.33')).toEqual([0x0064ff9b, 0, 0, 0xc0000221]);
    expect(words('1:2:3:4:5:6:10.0.0.1')).toEqual([0x00010002, 0x00030004, 0x00050006, 0x0a000001]);
  });

  it('refuses what is not an address', () => {
    const out = new Uint32Array(4);
    for (const bad of [
      '',
      '10.0.0',
      '10.0.0.256',
      '1.2.3.4.5',
      ':::',
      '1::2::3',
      '12345::',
      'g::1',
      'x',
      'fe80::1%eth0',
    ]) {
      expect(parseAddress(bad, out), bad).toBe(false);
    }
  });
});

describe('parsePrefix and prefixContains', () => {
  it('IPv4 /8 is an IPv4-mapped /104 with the host bits masked', () => {
    const p = prefix('10.1.2.3/8');
    expect(p.len).toBe(104);
    expect(p.text).toBe('10.1.2.3/8');
    expect(Array.from(p.words)).toEqual([0, 0, 0xffff, 0x0a000000]);
    expect(Array.from(p.mask)).toEqual([ONES, ONES, ONES, 0xff000000]);
    expect(contains('10.0.0.0/8', '10.0.0.0')).toBe(true);
    expect(contains('10.0.0.0/8', '10.255.255.255')).toBe(true);
    expect(contains('10.0.0.0/8', '11.0.0.0')).toBe(false);
    expect(contains('10.0.0.0/8', '9.255.255.255')).toBe(false);
    expect(contains('172.16.0.0/12', '172.31.255.255')).toBe(true);
    expect(contains('172.16.0.0/12', '172.32.0.0')).toBe(false);
    // An IPv4 prefix never contains an IPv6 address with the same low bits.
    expect(contains('10.0.0.0/8', '::10.0.0.1')).toBe(false);
  });

  it('IPv4 /0 and /32, bare address', () => {
    expect(prefix('0.0.0.0/0').len).toBe(96);
    expect(contains('0.0.0.0/0', '1.2.3.4')).toBe(true);
    expect(contains('0.0.0.0/0', '255.255.255.255')).toBe(true);
    expect(contains('0.0.0.0/0', '2001:db8::1')).toBe(false);
    expect(prefix('192.0.2.1/32').len).toBe(128);
    expect(contains('192.0.2.1/32', '192.0.2.1')).toBe(true);
    expect(contains('192.0.2.1/32', '192.0.2.0')).toBe(false);
    expect(contains('192.0.2.1/32', '192.0.2.2')).toBe(false);
    expect(prefix('192.0.2.1').len).toBe(128);
    expect(contains('192.0.2.1', '192.0.2.1')).toBe(true);
    expect(contains('192.0.2.1', '192.0.2.3')).toBe(false);
    // /31 and /25 boundaries.
    expect(contains('192.0.2.0/31', '192.0.2.1')).toBe(true);
    expect(contains('192.0.2.0/31', '192.0.2.2')).toBe(false);
    expect(contains('192.0.2.128/25', '192.0.2.127')).toBe(false);
    expect(contains('192.0.2.128/25', '192.0.2.255')).toBe(true);
  });

  it('IPv6 /0, /32, /48, /64, /127, /128', () => {
    expect(prefix('::/0').len).toBe(0);
    expect(Array.from(prefix('::/0').mask)).toEqual([0, 0, 0, 0]);
    expect(contains('::/0', '2001:db8::1')).toBe(true);
    expect(contains('::/0', '10.0.0.1')).toBe(true); // everything, IPv4-mapped included
    expect(contains('2001:db8::/32', '2001:db8:ffff:ffff::1')).toBe(true);
    expect(contains('2001:db8::/32', '2001:db9::')).toBe(false);
    expect(contains('2001:db8:50::/48', '2001:db8:50:ffff::')).toBe(true);
    expect(contains('2001:db8:50::/48', '2001:db8:51::')).toBe(false);
    expect(Array.from(prefix('2001:db8:1:2::/64').mask)).toEqual([ONES, ONES, 0, 0]);
    expect(contains('2001:db8:1:2::/64', '2001:db8:1:2:ffff:ffff:ffff:ffff')).toBe(true);
    expect(contains('2001:db8:1:2::/64', '2001:db8:1:3::')).toBe(false);
    expect(contains('fe80::/127', 'fe80::1')).toBe(true);
    expect(contains('fe80::/127', 'fe80::2')).toBe(false);
    expect(prefix('::1/128').len).toBe(128);
    expect(contains('::1/128', '::1')).toBe(true);
    expect(contains('::1/128', '::')).toBe(false);
    expect(contains('fc00::/7', 'fdff::1')).toBe(true);
    expect(contains('fc00::/7', 'fe00::1')).toBe(false);
  });

  it('::ffff:a.b.c.d prefixes are IPv4 prefixes in the 4-word space', () => {
    const p = prefix('::ffff:10.0.0.0/104');
    expect(p.len).toBe(104);
    expect(Array.from(p.words)).toEqual(Array.from(prefix('10.0.0.0/8').words));
    expect(Array.from(p.mask)).toEqual(Array.from(prefix('10.0.0.0/8').mask));
    expect(contains('::ffff:10.0.0.0/104', '10.20.30.40')).toBe(true);
    expect(contains('::ffff:0.0.0.0/96', '8.8.8.8')).toBe(true);
    expect(contains('::ffff:0.0.0.0/96', '2001:db8::')).toBe(false);
    expect(contains('64:ff9b::/96', '64:ff9b::192.0.2.1')).toBe(true);
    expect(contains('64:ff9b::192.0.2.0/120', '64:ff9b::c000:2ff')).toBe(true);
    expect(contains('64:ff9b::192.0.2.0/120', '64:ff9b::c000:300')).toBe(false);
  });

  it('reports bad prefixes', () => {
    expect(parsePrefix('10.0.0.0/33')).toBe('prefix length must be 0..32');
    expect(parsePrefix('::/129')).toBe('prefix length must be 0..128');
    expect(parsePrefix('::ffff:1.2.3.4/129')).toBe('prefix length must be 0..128');
    expect(parsePrefix('10.0.0.0/')).toBe('prefix length must be 0..32');
    expect(parsePrefix('10.0.0.0/-1')).toBe('prefix length must be 0..32');
    expect(parsePrefix('10.0.0.0/8/9')).toBe('prefix length must be 0..32');
    expect(parsePrefix('10.0.0.0/ 8')).toBe('prefix length must be 0..32');
    expect(parsePrefix('10.0.0.300/8')).toBe('"10.0.0.300" is not an IPv4 or IPv6 address');
    expect(parsePrefix('inside')).toBe('"inside" is not an IPv4 or IPv6 address');
    expect(checkPrefix('10.0.0.0/8')).toBeNull();
    expect(checkPrefix('2001:db8::/32')).toBeNull();
    expect(checkPrefix('10/8')).toBe('"10" is not an IPv4 or IPv6 address');
  });
});

describe('formatAddress (RFC 5952)', () => {
  const fmt = (text: string): string => formatAddress(ipWords(text));

  it('compresses the longest zero run, the first of equal runs, never a single zero group', () => {
    expect(fmt('2001:0db8:0000:0000:0000:0000:0000:0001')).toBe('2001:db8::1');
    expect(fmt('2001:db8:0:0:1:0:0:1')).toBe('2001:db8::1:0:0:1');
    expect(fmt('2001:db8:0:0:0:1:0:0')).toBe('2001:db8::1:0:0');
    expect(fmt('2001:0:0:1:0:0:0:1')).toBe('2001:0:0:1::1');
    expect(fmt('2001:db8:0:1:1:1:1:1')).toBe('2001:db8:0:1:1:1:1:1');
    expect(fmt('2001:db8::1:1:1:1:1')).toBe('2001:db8:0:1:1:1:1:1');
    expect(fmt('0:0:0:0:0:0:0:0')).toBe('::');
    expect(fmt('0:0:0:0:0:0:0:1')).toBe('::1');
    expect(fmt('1:0:0:0:0:0:0:0')).toBe('1::');
    expect(fmt('0:1:0:1:0:1:0:1')).toBe('0:1:0:1:0:1:0:1');
    expect(fmt('FE80::ABCD')).toBe('fe80::abcd');
    expect(fmt('::192.0.2.1')).toBe('::c000:201');
  });

  it('prints IPv4-mapped addresses as a dotted quad', () => {
    expect(fmt('10.0.0.1')).toBe('10.0.0.1');
    expect(fmt('::ffff:192.0.2.128')).toBe('192.0.2.128');
    expect(formatAddress(Uint32Array.from([0, 0, 0xffff, 0xffffffff]))).toBe('255.255.255.255');
  });
});

const group = fc.oneof(
  fc.constant(0),
  fc.constant(0),
  fc.constant(0xffff),
  fc.integer({ min: 0, max: 0xffff }),
);
const wordsArb = fc.oneof(
  fc.array(group, { minLength: 8, maxLength: 8 }).map((g) => {
    const w = new Uint32Array(4);
    for (let i = 0; i < 4; i++) w[i] = ((g[2 * i]! << 16) | g[2 * i + 1]!) >>> 0;
    return w;
  }),
  fc.nat({ max: 0xffffffff }).map((a) => Uint32Array.from([0, 0, 0xffff, a])),
);

describe('cidr.ts and wire/addr.ts agree', () => {
  it('formatAddress equals formatIp, and both texts parse back to the same words', () => {
    fc.assert(
      fc.property(wordsArb, (w) => {
        const text = formatAddress(w);
        expect(formatIp(w)).toBe(text);
        const a = new Uint32Array(4);
        const b = new Uint32Array(4);
        expect(parseAddress(text, a)).toBe(true);
        expect(parseIp(text, b)).toBe(true);
        expect(Array.from(a)).toEqual(Array.from(w));
        expect(Array.from(b)).toEqual(Array.from(w));
      }),
      { numRuns: 3000 },
    );
  });

  it('parseAddress and parseIp read any IPv4/IPv6 text the same way', () => {
    fc.assert(
      fc.property(fc.oneof(fc.ipV4(), fc.ipV6()), (text) => {
        const a = new Uint32Array(4);
        const b = new Uint32Array(4);
        expect(parseAddress(text, a)).toBe(true);
        expect(parseIp(text, b)).toBe(true);
        expect(Array.from(a)).toEqual(Array.from(b));
        // And a host prefix of it contains exactly that address.
        expect(prefixContains(prefix(text), b)).toBe(true);
      }),
      { numRuns: 3000 },
    );
  });
});
