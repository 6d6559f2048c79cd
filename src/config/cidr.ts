/**
 * CIDR prefixes over the 4-word address form of src/wire/packet.ts (IPv4 as
 * ::ffff:a.b.c.d, so an IPv4 /n is an IPv6 /(96+n)). Parsing is off the fast
 * path; `prefixContains` is what rules run on new sessions.
 */
import { isIPv4, isIPv6 } from 'node:net';

export interface Prefix {
  readonly words: Uint32Array; // network address, masked
  readonly mask: Uint32Array;
  readonly len: number; // 0..128 in the 4-word space
  readonly text: string;
}

/** Parses an IPv4 or IPv6 address into 4 words; returns false when it is not one. */
export function parseAddress(text: string, out: Uint32Array): boolean {
  if (isIPv4(text)) {
    const p = text.split('.').map(Number);
    out[0] = 0;
    out[1] = 0;
    out[2] = 0xffff;
    out[3] = ((p[0]! << 24) | (p[1]! << 16) | (p[2]! << 8) | p[3]!) >>> 0;
    return true;
  }
  if (!isIPv6(text)) return false;
  let s = text;
  const groups: number[] = [];
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(s);
  let tail: number[] = [];
  if (v4) {
    const q = v4[1]!.split('.').map(Number);
    tail = [(q[0]! << 8) | q[1]!, (q[2]! << 8) | q[3]!];
    s = s.slice(0, s.length - v4[1]!.length) + '0:0';
  }
  const [head, rest] = s.split('::') as [string, string | undefined];
  const h = head ? head.split(':').map((g) => parseInt(g, 16)) : [];
  const r = rest !== undefined && rest !== '' ? rest.split(':').map((g) => parseInt(g, 16)) : [];
  const fill = rest !== undefined ? 8 - h.length - r.length : 0;
  groups.push(...h, ...new Array<number>(fill).fill(0), ...r);
  if (tail.length) groups.splice(6, 2, ...tail);
  for (let i = 0; i < 4; i++) out[i] = ((groups[2 * i]! << 16) | groups[2 * i + 1]!) >>> 0;
  return true;
}

/** Formats 4 words as text: dotted quad for IPv4-mapped, RFC 5952 for IPv6. */
export function formatAddress(w: Uint32Array | readonly number[]): string {
  if (w[0] === 0 && w[1] === 0 && w[2] === 0xffff) {
    const a = w[3]!;
    return `${a >>> 24}.${(a >>> 16) & 255}.${(a >>> 8) & 255}.${a & 255}`;
  }
  const g: number[] = [];
  for (let i = 0; i < 4; i++) g.push(w[i]! >>> 16, w[i]! & 0xffff);
  let bestAt = -1;
  let bestLen = 1;
  for (let i = 0; i < 8;) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) {
      bestAt = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = g.map((x) => x.toString(16));
  if (bestAt < 0) return hex.join(':');
  return `${hex.slice(0, bestAt).join(':')}::${hex.slice(bestAt + bestLen).join(':')}`;
}

/** Parses "a.b.c.d/n", "x::y/n" or a bare address (a host prefix). Returns an error text or the prefix. */
export function parsePrefix(text: string): Prefix | string {
  const slash = text.indexOf('/');
  const addrText = slash < 0 ? text : text.slice(0, slash);
  const words = new Uint32Array(4);
  if (!parseAddress(addrText, words)) return `"${addrText}" is not an IPv4 or IPv6 address`;
  const v4 = isIPv4(addrText);
  const max = v4 ? 32 : 128;
  let n = max;
  if (slash >= 0) {
    const lenText = text.slice(slash + 1);
    if (!/^\d+$/.test(lenText) || Number(lenText) > max) return `prefix length must be 0..${max}`;
    n = Number(lenText);
  }
  const len = v4 ? n + 96 : n;
  const mask = new Uint32Array(4);
  for (let i = 0; i < 4; i++) {
    const bits = Math.max(0, Math.min(32, len - i * 32));
    mask[i] = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
    words[i] = (words[i]! & mask[i]!) >>> 0;
  }
  return { words, mask, len, text };
}

export function prefixContains(p: Prefix, a: Uint32Array): boolean {
  const w = p.words;
  const m = p.mask;
  return (
    (a[0]! & m[0]!) >>> 0 === w[0] &&
    (a[1]! & m[1]!) >>> 0 === w[1] &&
    (a[2]! & m[2]!) >>> 0 === w[2] &&
    (a[3]! & m[3]!) >>> 0 === w[3]
  );
}

/** Schema check for a CIDR string. */
export function checkPrefix(v: string): string | null {
  const p = parsePrefix(v);
  return typeof p === 'string' ? p : null;
}
