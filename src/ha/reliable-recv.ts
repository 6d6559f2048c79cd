/**
 * The receiving half of a peer's reliable stream. Each sequenced message is
 * delivered once, as soon as it arrives (records are idempotent by version,
 * so order does not matter to them); duplicates and retransmissions of what
 * was delivered are dropped but acknowledged again. A bitmap over the window
 * ahead of the next expected seq tracks what arrived out of order, for the
 * cumulative ack and for the missing ranges a NACK lists. The sender's window
 * field says what it gave up: the receiver skips it (counted as lost) and
 * reports it, so the caller can ask for a bulk transfer.
 *
 * `expectedAbs` is the next expected seq unwrapped (it keeps counting across
 * seq wrap-around and sender restarts), for stamps that must stay ordered.
 */

/** Seqs the receiver can hold ahead of the next expected one (>= the sender's ring). */
export const RECV_WINDOW = 1024;

export const RX_NEW = 0;
export const RX_DUP = 1;
export const RX_BEYOND = 2;

export class ReceiverStats {
  delivered = 0;
  duplicates = 0;
  beyondWindow = 0;
  lost = 0;
}

export class SyncReceiver {
  readonly stats = new ReceiverStats();
  started = false;
  /** Next seq expected in order: everything before it arrived or was given up. */
  expected = 0;
  expectedAbs = 0;
  /** Highest seq that arrived. */
  highest = 0;
  /** See missing(). */
  missingHigh = 0;
  /** Something arrived since the last ack went out. */
  ackDue = false;
  /** A new gap opened since the last NACK went out. */
  gapNew = false;
  /** The sender gave up messages we never got since the last `takeLost()`. */
  private lostNew = false;
  private readonly bits = new Uint32Array(RECV_WINDOW / 32);

  /** Forget the stream (the sender restarted); unwrapped numbering continues above what was used. */
  reset(): void {
    this.started = false;
    this.ackDue = false;
    this.gapNew = false;
    this.expectedAbs += RECV_WINDOW + 1;
  }

  /** The unwrapped number of a seq within the window. */
  unwrap(seq: number): number {
    return this.expectedAbs + ((seq - this.expected) | 0);
  }

  /** Cumulative ack: the last seq before which everything arrived. */
  cumAck(): number {
    return (this.expected - 1) >>> 0;
  }

  hasGap(): boolean {
    return this.started && ((this.highest - this.expected) | 0) >= 0;
  }

  /** True once after the sender gave up messages that never arrived. */
  takeLost(): boolean {
    const l = this.lostNew;
    this.lostNew = false;
    return l;
  }

  /** A sequenced message `seq`, sent with window start `window`. RX_NEW: deliver it. */
  accept(seq: number, window: number): number {
    if (!this.started) {
      this.started = true;
      this.expected = window >>> 0;
      this.highest = (window - 1) >>> 0;
      this.bits.fill(0);
    }
    if (((window - this.expected) | 0) > 0) this.skipTo(window);
    this.ackDue = true;
    const d = (seq - this.expected) | 0;
    if (d >= RECV_WINDOW) {
      this.stats.beyondWindow++;
      return RX_BEYOND;
    }
    if (d < 0 || this.has(seq)) {
      this.stats.duplicates++;
      return RX_DUP;
    }
    this.set(seq);
    if (((seq - this.highest) | 0) > 0) this.highest = seq;
    this.advance();
    if (this.hasGap()) this.gapNew = true;
    this.stats.delivered++;
    return RX_NEW;
  }

  /**
   * Writes the missing ranges between the cumulative ack and the highest seq
   * received into `out` as (first, last) pairs, at most `max` of them. Returns
   * how many; `missingHigh` is then the highest seq the list covers (everything
   * after the ack up to it that is not listed has arrived).
   */
  missing(out: Uint32Array, max: number): number {
    let n = 0;
    let q = this.expected;
    let runStart = -1;
    this.missingHigh = this.highest;
    while (((this.highest - q) | 0) >= 0) {
      if (!this.has(q)) {
        if (runStart < 0) runStart = q;
      } else if (runStart >= 0) {
        out[n * 2] = runStart;
        out[n * 2 + 1] = (q - 1) >>> 0;
        n++;
        runStart = -1;
        if (n === max) {
          // More gaps than fit: claim only what is known, up to this received seq.
          this.missingHigh = q;
          break;
        }
      }
      q = (q + 1) >>> 0;
    }
    return n;
  }

  /** The sender gave up everything before `window`. */
  private skipTo(window: number): void {
    const n = (window - this.expected) >>> 0;
    let lost = 0;
    if (n >= RECV_WINDOW) {
      let got = 0;
      for (let q = 0; q < RECV_WINDOW; q++) if (this.has(q)) got++;
      lost = n - got;
      this.bits.fill(0);
      this.expected = window >>> 0;
      this.expectedAbs += n;
    } else {
      for (let i = 0; i < n; i++) {
        if (this.has(this.expected)) this.clear(this.expected);
        else lost++;
        this.expected = (this.expected + 1) >>> 0;
        this.expectedAbs++;
      }
    }
    if (lost > 0) {
      this.stats.lost += lost;
      this.lostNew = true;
    }
    if (((this.highest - this.expected + 1) | 0) < 0) this.highest = (this.expected - 1) >>> 0;
    this.advance();
  }

  private advance(): void {
    while (this.has(this.expected)) {
      this.clear(this.expected);
      this.expected = (this.expected + 1) >>> 0;
      this.expectedAbs++;
    }
  }

  private has(q: number): boolean {
    const i = q & (RECV_WINDOW - 1);
    return (this.bits[i >>> 5]! & (1 << (i & 31))) !== 0;
  }
  private set(q: number): void {
    const i = q & (RECV_WINDOW - 1);
    this.bits[i >>> 5]! |= 1 << (i & 31);
  }
  private clear(q: number): void {
    const i = q & (RECV_WINDOW - 1);
    this.bits[i >>> 5]! &= ~(1 << (i & 31));
  }
}
