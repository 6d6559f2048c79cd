/**
 * This machine's memory as a session lookup meets it: random 4-byte reads
 * over an array of a given size, two ways.
 *   - chase: each read's address comes from the read before it (a pointer
 *     chase over one random cycle), so nothing overlaps: the latency;
 *   - gather: the addresses are known in advance, so the core keeps many
 *     reads in flight: the throughput.
 * A lookup is a dependent pair (the index slot, then the session block it
 * names), so at 1M sessions it waits on the chase figures of arrays of the
 * index's and the blocks' sizes, where at 10k both live in the core's caches.
 */
import { prng } from './gen.js';
import { median } from './util.js';

export interface MemReads {
  /** ns per read, pointer chase (latency). */
  chase: number;
  /** ns per read, independent reads (throughput). */
  gather: number;
}

function chase(a: Int32Array, n: number): number {
  let i = 0;
  for (let k = 0; k < n; k++) i = a[i]!;
  return i;
}

function gather(a: Int32Array, at: Int32Array): number {
  let acc = 0;
  for (let k = 0; k < at.length; k++) acc ^= a[at[k]!]!;
  return acc;
}

/** Medians of `rounds` rounds of `reads` random reads over `bytes` bytes, 64 bytes apart (one cache line each). */
export function memReads(bytes: number, reads: number, rounds: number, seed: number): MemReads {
  const words = Math.max(16, Math.floor(bytes / 4));
  const lines = Math.floor(words / 16);
  const a = new Int32Array(words);
  const rnd = prng(seed);
  // One random cycle through every line's first word.
  const order = new Int32Array(lines);
  for (let i = 0; i < lines; i++) order[i] = i;
  for (let i = lines - 1; i > 0; i--) {
    const j = Math.floor(rnd() * (i + 1));
    const t = order[i]!;
    order[i] = order[j]!;
    order[j] = t;
  }
  for (let i = 0; i < lines; i++) a[order[i]! * 16] = order[(i + 1) % lines]! * 16;
  const at = new Int32Array(reads);
  for (let k = 0; k < reads; k++) at[k] = Math.floor(rnd() * lines) * 16;
  const c: number[] = [];
  const g: number[] = [];
  let sink = 0;
  for (let r = 0; r <= rounds; r++) {
    let t0 = process.hrtime.bigint();
    sink ^= chase(a, reads);
    const tc = Number(process.hrtime.bigint() - t0) / reads;
    t0 = process.hrtime.bigint();
    sink ^= gather(a, at);
    const tg = Number(process.hrtime.bigint() - t0) / reads;
    // Round 0 warms up (and pages the array in).
    if (r > 0) {
      c.push(tc);
      g.push(tg);
    }
  }
  if (sink === 0.5) throw new Error('unreachable');
  return { chase: median(c), gather: median(g) };
}
