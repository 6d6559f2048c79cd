/**
 * CIDR prefixes over the 4-word address form of src/wire/packet.ts (IPv4 as
 * ::ffff:a.b.c.d, so an IPv4 /n is an IPv6 /(96+n)). Parsing is off the fast
 * path; `prefixContains` is what rules run on new sessions.
 */
import { isIPv4, isIPv6 } from 'node:net';
import { formatIp, parseIp } from '../wire/addr.js';

export interface Prefix {
  readonly words: Uint32Array; // network address, masked
  readonly mask: Uint32Array;
  readonly len: number; // 0..128 in the 4-word space
  readonly text: string;
}

/** Parses an IPv4 or IPv6 address into 4 words (the wire layer's parser); false when it is not one. */
export function parseAddress(text: string, out: Uint32Array): boolean {
  return (isIPv4(text) || isIPv6(text)) && parseIp(text, out);
}

/** Formats 4 words: dotted quad for IPv4-mapped, RFC 5952 for IPv6. */
export const formatAddress: (w: Uint32Array) => string = formatIp;

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
