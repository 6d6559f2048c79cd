/**
 * Numeric hash of a session tuple. Direction-dependent: (a→b) and (b→a) hash
 * differently, because each session is indexed once per direction.
 */
const SEED = 0x9747b28c;

function mix(h: number, w: number): number {
  w = Math.imul(w, 0xcc9e2d51);
  w = (w << 15) | (w >>> 17);
  w = Math.imul(w, 0x1b873593);
  h ^= w;
  h = (h << 13) | (h >>> 19);
  return (Math.imul(h, 5) + 0xe6546b64) | 0;
}

function finish(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** Hash of (zone, proto, src, dst, ports) with addresses as 4 words each (IPv4-mapped for IPv4). */
export function hashTuple(
  zoneProto: number,
  src: Uint32Array,
  srcAt: number,
  dst: Uint32Array,
  dstAt: number,
  ports: number,
): number {
  if (isV4Mapped(src, srcAt) && isV4Mapped(dst, dstAt))
    return hashTuple4(zoneProto, src[srcAt + 3]!, dst[dstAt + 3]!, ports);
  let h = mix(SEED, zoneProto);
  h = mix(h, ports);
  h = mix(h, src[srcAt]!);
  h = mix(h, src[srcAt + 1]!);
  h = mix(h, src[srcAt + 2]!);
  h = mix(h, src[srcAt + 3]!);
  h = mix(h, dst[dstAt]!);
  h = mix(h, dst[dstAt + 1]!);
  h = mix(h, dst[dstAt + 2]!);
  h = mix(h, dst[dstAt + 3]!);
  return finish(h);
}

/**
 * The hash of an IPv4 tuple given as two 32-bit addresses. hashTuple gives
 * the same value for the IPv4-mapped form, so either may be used.
 */
export function hashTuple4(zoneProto: number, src: number, dst: number, ports: number): number {
  return hash4(zoneProto, src, dst, ports) >>> 0;
}

/**
 * hashTuple4 as a signed 32-bit number (the same bits): it stays a small
 * integer through calls V8 does not inline, where a value of 2^31 or more is
 * boxed in a new heap number. Arguments may be signed or unsigned words.
 * Written out in one piece (V8 stops inlining `mix` after three calls).
 */
export function hash4(zoneProto: number, src: number, dst: number, ports: number): number {
  let h = (SEED ^ 0x5bd1e995) | 0;
  let w = Math.imul(zoneProto, 0xcc9e2d51);
  w = Math.imul((w << 15) | (w >>> 17), 0x1b873593);
  h ^= w;
  h = (h << 13) | (h >>> 19);
  h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  w = Math.imul(ports, 0xcc9e2d51);
  w = Math.imul((w << 15) | (w >>> 17), 0x1b873593);
  h ^= w;
  h = (h << 13) | (h >>> 19);
  h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  w = Math.imul(src, 0xcc9e2d51);
  w = Math.imul((w << 15) | (w >>> 17), 0x1b873593);
  h ^= w;
  h = (h << 13) | (h >>> 19);
  h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  w = Math.imul(dst, 0xcc9e2d51);
  w = Math.imul((w << 15) | (w >>> 17), 0x1b873593);
  h ^= w;
  h = (h << 13) | (h >>> 19);
  h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return h ^ (h >>> 16);
}

/** True when the 4 words at `at` are an IPv4-mapped address. */
export function isV4Mapped(a: Uint32Array, at: number): boolean {
  return a[at] === 0 && a[at + 1] === 0 && a[at + 2] === 0xffff;
}
