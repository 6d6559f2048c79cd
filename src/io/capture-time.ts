/**
 * Exact 64-bit timestamp arithmetic without BigInt on the fast path: pcapng
 * stores a timestamp as two 32-bit halves counting units of a per-interface
 * resolution. Results go into module-level scratch numbers (no allocation).
 */

/** Output of `splitTimestamp`: whole seconds and nanoseconds. */
export const tsOut = { sec: 0, nsec: 0 };

/**
 * Per-interface timestamp resolution, from the pcapng `if_tsresol` byte: MSB clear means
 * 10^-n seconds, MSB set means 2^-n seconds. Default (option absent) is 6 (microseconds).
 */
export class TsResolution {
  /** Units per second. */
  readonly unitsPerSec: number;
  /** Exact multiplier from a remainder to nanoseconds (10^(9-n)) or 0 when not a whole number. */
  readonly nsMul: number;
  /** Divisor fits the 16-bit long division (<= 2^32). */
  readonly small: boolean;
  private readonly big: bigint;

  constructor(tsresol = 6) {
    const pow2 = (tsresol & 0x80) !== 0;
    const n = tsresol & 0x7f;
    this.big = pow2 ? 1n << BigInt(n) : 10n ** BigInt(n);
    this.unitsPerSec = Number(this.big);
    this.nsMul = !pow2 && n <= 9 ? 10 ** (9 - n) : 0;
    this.small = this.unitsPerSec <= 2 ** 32;
  }

  /** Splits the unit count `hi * 2^32 + lo` into `tsOut.sec` and `tsOut.nsec`. */
  split(hi: number, lo: number): void {
    if (!this.small) {
      const t = (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0);
      tsOut.sec = Number(t / this.big);
      tsOut.nsec = Number(((t % this.big) * 1_000_000_000n) / this.big);
      return;
    }
    const r = this.unitsPerSec;
    // Long division in base 2^16: every intermediate stays below 2^48, so doubles are exact.
    let v = hi >>> 16;
    let q = Math.floor(v / r);
    let rem = v - q * r;
    let sec = q;
    v = rem * 65536 + (hi & 0xffff);
    q = Math.floor(v / r);
    rem = v - q * r;
    sec = sec * 65536 + q;
    v = rem * 65536 + (lo >>> 16);
    q = Math.floor(v / r);
    rem = v - q * r;
    sec = sec * 65536 + q;
    v = rem * 65536 + (lo & 0xffff);
    q = Math.floor(v / r);
    rem = v - q * r;
    sec = sec * 65536 + q;
    tsOut.sec = sec;
    tsOut.nsec = this.nsMul !== 0 ? rem * this.nsMul : Math.floor((rem * 1e9) / r);
  }
}

/** Output of `joinTimestamp`: the 64-bit unit count as two unsigned 32-bit halves. */
export const tsParts = { hi: 0, lo: 0 };

/** Computes `sec * unitsPerSec + frac` (unitsPerSec <= 1e9, sec < 2^36) exactly as hi/lo halves. */
export function joinTimestamp(sec: number, frac: number, unitsPerSec: number): void {
  const sh = Math.floor(sec / 65536);
  const sl = sec - sh * 65536;
  const a = sh * unitsPerSec; // times 2^16
  const b = sl * unitsPerSec + frac;
  const bq = Math.floor(b / 65536);
  const c = a + bq; // times 2^16, below 2^53
  const ch = Math.floor(c / 65536);
  tsParts.hi = ch >>> 0;
  tsParts.lo = ((c - ch * 65536) * 65536 + (b - bq * 65536)) >>> 0;
}
