/**
 * The sending half of a peer's reliable stream. Sequenced messages are kept
 * in a bounded ring (one MAX_MSG slot each, preallocated) until the peer
 * acknowledges them: cumulatively (the header's ack), or out of order (the
 * ranges a NACK reports as received). A message not acknowledged within the
 * retransmission timeout is sent again with exponential back-off up to a cap;
 * a NACK retransmits what it names at once (at most once per round trip).
 * The timeout follows RFC 6298 (smoothed RTT and variance, samples only from
 * messages sent once: Karn). When the ring is full the oldest message is
 * given up (counted): the caller then re-syncs the peer with a bulk transfer.
 *
 * The clock is passed in; sending goes through the injected `transmit`, which
 * stamps the per-transmission header fields, signs and sends.
 */
import { MAX_MSG } from './msg.js';

export interface ReliableConfig {
  /** Messages kept for retransmission (a power of two, at most 1024). */
  ringSize: number;
  rtoInitialMs: number;
  rtoMinMs: number;
  rtoMaxMs: number;
}

export const DEFAULT_RELIABLE: ReliableConfig = {
  ringSize: 256,
  rtoInitialMs: 100,
  rtoMinMs: 20,
  rtoMaxMs: 2000,
};

const FREE = 0;
const IN_FLIGHT = 1;
const SACKED = 2;

export class SenderStats {
  sent = 0;
  retransmits = 0;
  fastRetransmits = 0;
  acked = 0;
  gaveUp = 0;
}

export class SyncSender {
  /** One MAX_MSG slot per ring entry: slot(seq) = seq & (ringSize - 1). */
  readonly slab: Uint8Array;
  readonly stats = new SenderStats();
  /** Next seq to assign. */
  nextSeq = 1;
  /** Oldest seq not yet acknowledged cumulatively or given up (the header's window field). */
  base = 1;
  rto: number;
  private srtt = -1;
  private rttvar = 0;
  private readonly mask: number;
  private readonly len: Int32Array;
  private readonly state: Uint8Array;
  private readonly tries: Uint16Array;
  private readonly firstSent: Float64Array;
  private readonly lastSent: Float64Array;
  private readonly deadline: Float64Array;
  private readonly tag: Float64Array;

  constructor(
    readonly cfg: ReliableConfig,
    /** Sends the message in slab[off, off + len) (MAC not included); ageMs: since its first transmission. */
    private readonly transmit: (off: number, len: number, retransmit: boolean, ageMs: number) => void,
    /** A message left the ring: acknowledged (true), or given up or dropped by reset (false). */
    private readonly done: (tag: number, acked: boolean) => void,
  ) {
    const n = cfg.ringSize;
    if (!Number.isInteger(n) || n < 2 || n > 1024 || (n & (n - 1)) !== 0)
      throw new RangeError(`sync ring size must be a power of two in 2..1024, got ${n}`);
    this.mask = n - 1;
    this.slab = new Uint8Array(n * MAX_MSG);
    this.len = new Int32Array(n);
    this.state = new Uint8Array(n);
    this.tries = new Uint16Array(n);
    this.firstSent = new Float64Array(n);
    this.lastSent = new Float64Array(n);
    this.deadline = new Float64Array(n);
    this.tag = new Float64Array(n);
    this.rto = cfg.rtoInitialMs;
  }

  /** Messages in the ring. */
  inFlight(): number {
    return (this.nextSeq - this.base) >>> 0;
  }
  full(): boolean {
    return this.inFlight() > this.mask;
  }
  /** Where the next message (seq nextSeq) is to be written before `push`. */
  nextOffset(): number {
    return (this.nextSeq & this.mask) * MAX_MSG;
  }

  /**
   * Sends the message the caller wrote at nextOffset() (header with seq =
   * nextSeq, and body; `len` without the MAC) and keeps it until acknowledged.
   * The ring must not be full (giveUpOldest first). Returns its seq.
   */
  push(len: number, tag: number, nowMs: number): number {
    const seq = this.nextSeq;
    const s = seq & this.mask;
    this.len[s] = len;
    this.state[s] = IN_FLIGHT;
    this.tries[s] = 1;
    this.firstSent[s] = nowMs;
    this.lastSent[s] = nowMs;
    this.deadline[s] = nowMs + this.rto;
    this.tag[s] = tag;
    this.nextSeq = (seq + 1) >>> 0;
    this.stats.sent++;
    this.transmit(s * MAX_MSG, len, false, 0);
    return seq;
  }

  /** Gives up the oldest message (the ring is full): it will never be sent again. */
  giveUpOldest(): void {
    if (this.inFlight() === 0) return;
    const s = this.base & this.mask;
    const inFlight = this.state[s] === IN_FLIGHT;
    this.state[s] = FREE;
    this.base = (this.base + 1) >>> 0;
    if (inFlight) {
      this.stats.gaveUp++;
      this.done(this.tag[s]!, false);
    }
  }

  /** Everything up to and including `cum` has arrived. Stale or impossible acks are ignored. */
  ack(cum: number, nowMs: number): void {
    const upto = (cum + 1) >>> 0;
    const n = (upto - this.base) | 0;
    if (n <= 0 || n > this.inFlight()) return;
    for (let i = 0; i < n; i++) {
      const s = this.base & this.mask;
      if (this.state[s] === IN_FLIGHT) this.acked(s, nowMs);
      this.state[s] = FREE;
      this.base = (this.base + 1) >>> 0;
    }
  }

  /** Seqs first..last have arrived (out of order): no more retransmissions of them. */
  sackRange(first: number, last: number, nowMs: number): void {
    for (let q = first; ((last - q) | 0) >= 0; q = (q + 1) >>> 0) {
      if (!this.holds(q)) continue;
      const s = q & this.mask;
      if (this.state[s] === IN_FLIGHT) {
        this.acked(s, nowMs);
        this.state[s] = SACKED;
      }
    }
  }

  /** Seqs first..last are missing at the peer: send them again now, unless sent within the last round trip. */
  nackRange(first: number, last: number, nowMs: number): void {
    const guard = this.srtt < 0 ? this.cfg.rtoMinMs : Math.max(1, this.srtt);
    for (let q = first; ((last - q) | 0) >= 0; q = (q + 1) >>> 0) {
      if (!this.holds(q)) continue;
      const s = q & this.mask;
      if (this.state[s] !== IN_FLIGHT || nowMs - this.lastSent[s]! < guard) continue;
      this.stats.fastRetransmits++;
      this.resend(s, nowMs);
    }
  }

  /** Retransmits every message whose timeout has passed. */
  tick(nowMs: number): void {
    const n = this.inFlight();
    for (let i = 0; i < n; i++) {
      const s = (this.base + i) & this.mask;
      if (this.state[s] === IN_FLIGHT && this.deadline[s]! <= nowMs) {
        this.stats.retransmits++;
        this.resend(s, nowMs);
      }
    }
  }

  /** The earliest retransmission deadline, or Infinity. */
  nextDeadline(): number {
    let d = Infinity;
    const n = this.inFlight();
    for (let i = 0; i < n; i++) {
      const s = (this.base + i) & this.mask;
      if (this.state[s] === IN_FLIGHT && this.deadline[s]! < d) d = this.deadline[s]!;
    }
    return d;
  }

  /** Drops everything in the ring (the peer restarted or went away); seqs continue. */
  reset(): void {
    while (this.inFlight() > 0) {
      const s = this.base & this.mask;
      if (this.state[s] === IN_FLIGHT) this.done(this.tag[s]!, false);
      this.state[s] = FREE;
      this.base = (this.base + 1) >>> 0;
    }
  }

  private holds(q: number): boolean {
    const d = (q - this.base) | 0;
    return d >= 0 && d < this.inFlight();
  }

  private resend(s: number, nowMs: number): void {
    const t = this.tries[s]!;
    if (t < 0xffff) this.tries[s] = t + 1;
    this.lastSent[s] = nowMs;
    const backoff = Math.min(this.cfg.rtoMaxMs, this.rto * 2 ** Math.min(t, 16));
    this.deadline[s] = nowMs + backoff;
    this.transmit(s * MAX_MSG, this.len[s]!, true, nowMs - this.firstSent[s]!);
  }

  private acked(s: number, nowMs: number): void {
    this.stats.acked++;
    if (this.tries[s] === 1) this.sample(nowMs - this.firstSent[s]!);
    this.done(this.tag[s]!, true);
  }

  /** RFC 6298 estimator. */
  private sample(r: number): void {
    if (this.srtt < 0) {
      this.srtt = r;
      this.rttvar = r / 2;
    } else {
      this.rttvar = 0.75 * this.rttvar + 0.25 * Math.abs(this.srtt - r);
      this.srtt = 0.875 * this.srtt + 0.125 * r;
    }
    const rto = this.srtt + Math.max(1, 4 * this.rttvar);
    this.rto = Math.min(this.cfg.rtoMaxMs, Math.max(this.cfg.rtoMinMs, rto));
  }
}
