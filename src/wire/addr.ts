/** Address text helpers (off the fast path): IPv4/IPv6 to and from the 4-word form, MACs. */
import { setAddr4 } from './bytes.js';

/** Parses dotted IPv4 text to a host number, or -1. */
export function parseIpv4(text: string): number {
  const parts = text.split('.');
  if (parts.length !== 4) return -1;
  let v = 0;
  for (const s of parts) {
    if (!/^\d{1,3}$/.test(s)) return -1;
    const n = Number(s);
    if (n > 255) return -1;
    v = v * 256 + n;
  }
  return v;
}

export function formatIpv4(v: number): string {
  return `${v >>> 24}.${(v >>> 16) & 255}.${(v >>> 8) & 255}.${v & 255}`;
}

function parseIpv6(text: string, out: Uint32Array): boolean {
  const h = new Array<number>(8).fill(0);
  let tail = text;
  let v4 = -1;
  const lastColon = text.lastIndexOf(':');
  if (text.indexOf('.', lastColon) > 0) {
    v4 = parseIpv4(text.slice(lastColon + 1));
    if (v4 < 0) return false;
    tail = text.slice(0, lastColon + 1) + '0:0';
  }
  const dbl = tail.indexOf('::');
  if (dbl !== tail.lastIndexOf('::')) return false;
  const groups = (s: string): number[] | null => {
    if (s === '') return [];
    const out: number[] = [];
    for (const g of s.split(':')) {
      if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return null;
      out.push(parseInt(g, 16));
    }
    return out;
  };
  if (dbl >= 0) {
    const a = groups(tail.slice(0, dbl));
    const b = groups(tail.slice(dbl + 2));
    if (!a || !b || a.length + b.length > 7) return false;
    a.forEach((g, i) => (h[i] = g));
    b.forEach((g, i) => (h[8 - b.length + i] = g));
  } else {
    const a = groups(tail);
    if (!a || a.length !== 8) return false;
    a.forEach((g, i) => (h[i] = g));
  }
  if (v4 >= 0) {
    h[6] = v4 >>> 16;
    h[7] = v4 & 0xffff;
  }
  for (let i = 0; i < 4; i++) out[i] = ((h[2 * i]! << 16) | h[2 * i + 1]!) >>> 0;
  return true;
}

/** Parses IPv4 (stored IPv4-mapped) or IPv6 text into four words. Returns false (out untouched) when invalid. */
export function parseIp(text: string, out: Uint32Array): boolean {
  if (text.includes(':')) return parseIpv6(text, out);
  const v = parseIpv4(text);
  if (v < 0) return false;
  setAddr4(out, v);
  return true;
}

/** parseIp that returns new words and throws on bad text. */
export function ipWords(text: string): Uint32Array {
  const w = new Uint32Array(4);
  if (!parseIp(text, w)) throw new Error(`bad IP address: ${text}`);
  return w;
}

/** Formats four words: IPv4-mapped as dotted quad, else RFC 5952 IPv6 text. */
export function formatIp(w: Uint32Array): string {
  if (w[0] === 0 && w[1] === 0 && w[2] === 0xffff) return formatIpv4(w[3]!);
  const h: number[] = [];
  for (let i = 0; i < 4; i++) h.push(w[i]! >>> 16, w[i]! & 0xffff);
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8;) {
    if (h[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && h[j] === 0) j++;
    if (j - i > bestLen) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (a: number[]): string => a.map((x) => x.toString(16)).join(':');
  if (best < 0) return hex(h);
  return `${hex(h.slice(0, best))}::${hex(h.slice(best + bestLen))}`;
}

/** Parses "aa:bb:cc:dd:ee:ff" (or '-' separated) into out[off..off+6). */
export function parseMac(text: string, out: Uint8Array, off = 0): boolean {
  const parts = text.split(/[:-]/);
  if (parts.length !== 6 || !parts.every((s) => /^[0-9a-fA-F]{1,2}$/.test(s))) return false;
  parts.forEach((s, i) => (out[off + i] = parseInt(s, 16)));
  return true;
}

export function macBytes(text: string): Uint8Array {
  const m = new Uint8Array(6);
  if (!parseMac(text, m)) throw new Error(`bad MAC address: ${text}`);
  return m;
}

export function formatMac(buf: Uint8Array, off = 0): string {
  const s: string[] = [];
  for (let i = 0; i < 6; i++) s.push(buf[off + i]!.toString(16).padStart(2, '0'));
  return s.join(':');
}
