/**
 * Big-endian byte access by index arithmetic. No DataView, no allocation.
 * Callers check bounds first; out-of-range reads yield 0 bits, never throw.
 */
export function rd16(b: Uint8Array, o: number): number {
  return (b[o]! << 8) | b[o + 1]!;
}

export function rd32(b: Uint8Array, o: number): number {
  return ((b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!) >>> 0;
}

export function wr16(b: Uint8Array, o: number, v: number): void {
  b[o] = v >>> 8;
  b[o + 1] = v;
}

export function wr32(b: Uint8Array, o: number, v: number): void {
  b[o] = v >>> 24;
  b[o + 1] = v >>> 16;
  b[o + 2] = v >>> 8;
  b[o + 3] = v;
}

/** Reads 16 bytes at `o` into four address words. */
export function rdAddr6(b: Uint8Array, o: number, w: Uint32Array): void {
  w[0] = rd32(b, o);
  w[1] = rd32(b, o + 4);
  w[2] = rd32(b, o + 8);
  w[3] = rd32(b, o + 12);
}

/** Stores an IPv4 address (host number) as IPv4-mapped words. */
export function setAddr4(w: Uint32Array, v4: number): void {
  w[0] = 0;
  w[1] = 0;
  w[2] = 0xffff;
  w[3] = v4;
}

export function wrAddr6(b: Uint8Array, o: number, w: Uint32Array): void {
  wr32(b, o, w[0]!);
  wr32(b, o + 4, w[1]!);
  wr32(b, o + 8, w[2]!);
  wr32(b, o + 12, w[3]!);
}

export function clearAddr(w: Uint32Array): void {
  w[0] = 0;
  w[1] = 0;
  w[2] = 0;
  w[3] = 0;
}

/** True when the four words are an IPv4-mapped address (::ffff:a.b.c.d). */
export function isV4Mapped(w: Uint32Array): boolean {
  return w[0] === 0 && w[1] === 0 && w[2] === 0xffff;
}

/** Copies `n` bytes without allocating a view for short frames. */
export function copyBytes(src: Uint8Array, so: number, dst: Uint8Array, d: number, n: number): void {
  if (n <= 128) {
    for (let i = 0; i < n; i++) dst[d + i] = src[so + i]!;
  } else {
    dst.set(src.subarray(so, so + n), d);
  }
}
