/**
 * Test helpers for IP reassembly: frame builders, a fragmenter, decoding with
 * src/wire/decode.ts, checksum checks, and a tiny classic pcap reader.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ipv4HeaderChecksumOk, l4ChecksumOk } from '../../../src/wire/checksum.js';
import { decodeFrame } from '../../../src/wire/decode.js';
import { E_MALFORMED_FRAGMENT, E_TRUNCATED_TCP } from '../../../src/wire/errors.js';
import { LINKTYPE_ETHERNET, Packet } from '../../../src/wire/packet.js';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
export const capturesDir = path.resolve(repoRoot, '../shared/captures');

export function capture(rel: string): string | undefined {
  const p = path.join(capturesDir, rel);
  return existsSync(p) ? p : undefined;
}

// ---------------------------------------------------------------- checksums

export function sum16(b: Uint8Array, off: number, len: number, init = 0): number {
  let s = init;
  for (let i = 0; i + 1 < len; i += 2) s += (b[off + i] << 8) | b[off + i + 1];
  if (len & 1) s += b[off + len - 1] << 8;
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  return s;
}

export function fold(s: number): number {
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  return s;
}

/** Pseudo-header sum for UDP over IPv4 or IPv6 (builder use). */
function pseudo(b: Uint8Array, l3: number, v: number, proto: number, l4len: number): number {
  if (v === 4) return fold(sum16(b, l3 + 12, 8) + proto + l4len);
  return fold(sum16(b, l3 + 8, 32) + proto + (l4len >>> 16) + (l4len & 0xffff));
}

// ---------------------------------------------------------------- builders

export interface DgramOpts {
  v: 4 | 6;
  payload: Uint8Array;
  id?: number;
  proto?: number; // default UDP
  src?: number[]; // 4 bytes (v4) or 16 bytes (v6)
  dst?: number[];
  vlan?: number;
  df?: boolean;
  /** IPv6: a Destination Options header (8 bytes) in the unfragmentable part. */
  dstOpts?: boolean;
}

const SRC4 = [10, 0, 1, 2];
const DST4 = [10, 0, 2, 11];
const SRC6 = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
const DST6 = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2];

/** A whole Ethernet frame: IPv4/IPv6 + UDP (ports 5353 → 53, correct checksum) or raw proto payload. */
export function buildDatagram(o: DgramOpts): Uint8Array {
  const proto = o.proto ?? 17;
  const l2 = o.vlan !== undefined ? 18 : 14;
  const ext = o.v === 6 && o.dstOpts ? 8 : 0;
  const ipHl = o.v === 4 ? 20 : 40 + ext;
  const l4len = proto === 17 ? 8 + o.payload.length : o.payload.length;
  const f = new Uint8Array(l2 + ipHl + l4len);
  f.set([2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1], 0);
  if (o.vlan !== undefined) {
    f[12] = 0x81;
    f[13] = 0x00;
    f[14] = (o.vlan >>> 8) & 0x0f;
    f[15] = o.vlan & 0xff;
  }
  const et = o.v === 4 ? 0x0800 : 0x86dd;
  f[l2 - 2] = et >>> 8;
  f[l2 - 1] = et & 0xff;
  const l3 = l2;
  if (o.v === 4) {
    const tl = 20 + l4len;
    f.set([0x45, 0, tl >>> 8, tl & 0xff, ((o.id ?? 0x1234) >>> 8) & 0xff, (o.id ?? 0x1234) & 0xff], l3);
    f[l3 + 6] = o.df ? 0x40 : 0;
    f[l3 + 8] = 64;
    f[l3 + 9] = proto;
    f.set(o.src ?? SRC4, l3 + 12);
    f.set(o.dst ?? DST4, l3 + 16);
    const c = ~sum16(f, l3, 20) & 0xffff;
    f[l3 + 10] = c >>> 8;
    f[l3 + 11] = c & 0xff;
  } else {
    const pl = ext + l4len;
    f.set([0x60, 0, 0, 0, pl >>> 8, pl & 0xff, ext ? 60 : proto, 64], l3);
    f.set(o.src ?? SRC6, l3 + 8);
    f.set(o.dst ?? DST6, l3 + 24);
    if (ext) f.set([proto, 0, 1, 4, 0, 0, 0, 0], l3 + 40); // PadN
  }
  const l4 = l3 + ipHl;
  if (proto === 17) {
    f.set([0x14, 0xe9, 0, 53, l4len >>> 8, l4len & 0xff, 0, 0], l4);
    f.set(o.payload, l4 + 8);
    let c = ~fold(pseudo(f, l3, o.v, 17, l4len) + sum16(f, l4, l4len)) & 0xffff;
    if (c === 0) c = 0xffff;
    f[l4 + 6] = c >>> 8;
    f[l4 + 7] = c & 0xff;
  } else {
    f.set(o.payload, l4);
  }
  return f;
}

export interface Piece {
  off: number; // bytes, multiple of 8
  len: number;
  mf: boolean;
  /** Overwrite the piece's bytes (e.g. to make an overlap disagree). */
  xor?: number;
}

/** Split a datagram from buildDatagram at byte boundaries: pieces of `size` bytes (multiple of 8). */
export function evenPieces(total: number, size: number): Piece[] {
  const out: Piece[] = [];
  for (let off = 0; off < total; off += size) {
    const len = Math.min(size, total - off);
    out.push({ off, len, mf: off + len < total });
  }
  return out;
}

/** Fragmentable length (IPv4: after the header; IPv6: after the unfragmentable part). */
export function fragmentableLen(frame: Uint8Array): number {
  const { l3, v, hdrEnd } = layout(frame);
  const ipEnd =
    v === 4 ? l3 + ((frame[l3 + 2] << 8) | frame[l3 + 3]) : l3 + 40 + ((frame[l3 + 4] << 8) | frame[l3 + 5]);
  return ipEnd - hdrEnd;
}

/**
 * Where the unfragmentable part of a whole IP datagram frame ends: after the
 * IPv4 header (options are copied into every fragment), or after the IPv6
 * Hop-by-Hop / Routing / Destination Options headers at the front; nhPos is
 * the next-header byte that will name the Fragment header.
 */
function layout(frame: Uint8Array): { l3: number; v: number; hdrEnd: number; nhPos: number } {
  const pkt = new Packet();
  decodeFrame(frame, 0, frame.length, LINKTYPE_ETHERNET, pkt);
  const l3 = pkt.l3Off;
  const v = frame[l3] >>> 4;
  if (v === 4) return { l3, v, hdrEnd: l3 + (frame[l3] & 15) * 4, nhPos: -1 };
  let nhPos = l3 + 6;
  let q = l3 + 40;
  while (frame[nhPos] === 0 || frame[nhPos] === 43 || frame[nhPos] === 60) {
    nhPos = q;
    q += (frame[q + 1] + 1) * 8;
  }
  return { l3, v, hdrEnd: q, nhPos };
}

/** Make the fragment frames of a whole datagram frame. IPv6 Fragment id = `id6`. */
export function fragment(frame: Uint8Array, pieces: Piece[], id6 = 0xabcd0001): Uint8Array[] {
  const { l3, v, hdrEnd, nhPos } = layout(frame);
  const data = frame.subarray(hdrEnd, hdrEnd + fragmentableLen(frame));
  return pieces.map((p) => {
    const part = new Uint8Array(p.len);
    part.set(data.subarray(p.off, p.off + p.len));
    if (p.xor !== undefined) for (let i = 0; i < part.length; i++) part[i] ^= p.xor;
    if (v === 4) {
      const ihl = hdrEnd - l3;
      const f = new Uint8Array(hdrEnd + p.len);
      f.set(frame.subarray(0, hdrEnd), 0);
      f.set(part, hdrEnd);
      const tl = ihl + p.len;
      f[l3 + 2] = tl >>> 8;
      f[l3 + 3] = tl & 0xff;
      const fo = (p.off >>> 3) | (p.mf ? 0x2000 : 0) | (frame[l3 + 6] & 0x40 ? 0x4000 : 0);
      f[l3 + 6] = fo >>> 8;
      f[l3 + 7] = fo & 0xff;
      f[l3 + 10] = 0;
      f[l3 + 11] = 0;
      const c = ~sum16(f, l3, ihl) & 0xffff;
      f[l3 + 10] = c >>> 8;
      f[l3 + 11] = c & 0xff;
      return f;
    }
    const fh = hdrEnd;
    const f = new Uint8Array(fh + 8 + p.len);
    f.set(frame.subarray(0, fh), 0);
    const nh = frame[nhPos];
    f[nhPos] = 44;
    const fo = p.off | (p.mf ? 1 : 0);
    f.set([nh, 0, fo >>> 8, fo & 0xff, id6 >>> 24, (id6 >>> 16) & 0xff, (id6 >>> 8) & 0xff, id6 & 0xff], fh);
    f.set(part, fh + 8);
    const pl = f.length - l3 - 40;
    f[l3 + 4] = pl >>> 8;
    f[l3 + 5] = pl & 0xff;
    return f;
  });
}

// ---------------------------------------------------------------- decoding

/**
 * Decode an Ethernet frame with the project's decoder. Some fragments fail
 * to decode yet leave the IP fields filled in: an L4 error of a first
 * fragment (too short for its TCP header), or 'malformed-fragment' (zero
 * length, beyond 65535). The device drops the latter at decode already;
 * tests feed both to reassembly to check its own judgement. Returns false
 * when the IP layer did not decode.
 */
export function decodeForReassembly(buf: Uint8Array, base: number, len: number, pkt: Packet): boolean {
  const rc = decodeFrame(buf, base, len, LINKTYPE_ETHERNET, pkt);
  return (
    rc === 0 ||
    (pkt.ipVersion !== 0 && (rc === E_MALFORMED_FRAGMENT || (pkt.isFragment && rc >= E_TRUNCATED_TCP)))
  );
}

/** Decode a reassembled frame and check it: not a fragment, lengths consistent, checksums right. */
export function checkWhole(
  buf: Uint8Array,
  len: number,
): {
  ok: boolean;
  error: number;
  isFragment: boolean;
  version: number;
  l4Proto: number;
  l4Len: number;
  ipChecksumOk: boolean;
  l4ChecksumOk: boolean;
} {
  const pkt = new Packet();
  const error = decodeFrame(buf, 0, len, LINKTYPE_ETHERNET, pkt);
  return {
    ok: error === 0 && pkt.ipEnd === len,
    error,
    isFragment: pkt.isFragment,
    version: pkt.ipVersion,
    l4Proto: pkt.l4Proto,
    l4Len: pkt.l4Len,
    ipChecksumOk: ipv4HeaderChecksumOk(pkt),
    l4ChecksumOk: error === 0 && l4ChecksumOk(pkt),
  };
}

// ---------------------------------------------------------------- pcap

export interface PcapRecord {
  tsMs: number;
  data: Uint8Array;
}

/** Classic pcap (either byte order, usec or nsec), records only. */
export function readPcap(file: string): { linkType: number; records: PcapRecord[] } {
  const b = readFileSync(file);
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const magic = dv.getUint32(0, true);
  let le: boolean;
  let nano = false;
  if (magic === 0xa1b2c3d4 || magic === 0xa1b23c4d) le = true;
  else if (magic === 0xd4c3b2a1 || magic === 0x4d3cb2a1) le = false;
  else throw new Error(`not a pcap file: ${file}`);
  nano = magic === 0xa1b23c4d || magic === 0x4d3cb2a1;
  const linkType = dv.getUint32(20, le) & 0xffff;
  const records: PcapRecord[] = [];
  let o = 24;
  while (o + 16 <= b.length) {
    const sec = dv.getUint32(o, le);
    const frac = dv.getUint32(o + 4, le);
    const incl = dv.getUint32(o + 8, le);
    if (o + 16 + incl > b.length) break;
    records.push({
      tsMs: sec * 1000 + (nano ? frac / 1e6 : frac / 1e3),
      data: new Uint8Array(b.buffer, b.byteOffset + o + 16, incl),
    });
    o += 16 + incl;
  }
  return { linkType, records };
}

// ---------------------------------------------------------------- feeding

const shared = new Packet();

/** Decode `frame` (must be an IP fragment) and add it. */
export function feed(
  r: { add(p: Packet, len: number, now: number): number },
  frame: Uint8Array,
  now = 0,
): number {
  if (!decodeForReassembly(frame, 0, frame.length, shared)) throw new Error('fixture frame does not decode');
  return r.add(shared, frame.length, now);
}

/** Random payload bytes from a seed (deterministic). */
export function bytes(n: number, seed = 1): Uint8Array {
  const out = new Uint8Array(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

/** Byte equality, fast (vitest's deep equality is slow on big arrays in loops). */
export function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(b);
}
