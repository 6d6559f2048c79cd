/**
 * Defer, as pfsync's: a new session's first packet is held until the peer
 * acknowledges the message carrying its insert (the ticket SyncNode.inserted
 * returned), or at most `timeoutMs` (pfsync: 20 ms), so a reply through the
 * peer can never beat the sync. At most `maxPackets` (pfsync: 128) are held;
 * when full, or for a frame larger than a slot, the packet is not held
 * (counted) and the caller sends it on. Frames are copied into a
 * preallocated slab; released frames go out through `release` in the order
 * they were held (the release callback must not call hold). Nothing
 * allocates per packet.
 */

export interface DeferConfig {
  maxPackets: number;
  timeoutMs: number;
  /** Largest frame that can be held. */
  slotBytes: number;
}

export const DEFAULT_DEFER: DeferConfig = { maxPackets: 128, timeoutMs: 20, slotBytes: 1536 };

/** Sends a released frame: buf[off, off + len) on `port`; `timedOut`: released by the timeout, not an ack. */
/** `heldAtMs`: when the packet was held (the delay defer added is the release time minus it). */
export type ReleaseFn = (
  port: number,
  buf: Uint8Array,
  off: number,
  len: number,
  timedOut: boolean,
  heldAtMs: number,
) => void;

export class DeferStats {
  held = 0;
  releasedByAck = 0;
  releasedByTimeout = 0;
  /** Not held: the queue was full. */
  full = 0;
  /** Not held: larger than a slot. */
  tooBig = 0;
}

export class DeferQueue {
  readonly stats = new DeferStats();
  private readonly slab: Uint8Array;
  private readonly len: Int32Array;
  private readonly port: Int32Array;
  private readonly ticket: Float64Array;
  private readonly until: Float64Array;
  /** Slots held, in the order they were held. */
  private readonly order: Int32Array;
  private n = 0;
  private readonly free: Int32Array;
  private nFree: number;

  constructor(
    readonly cfg: DeferConfig,
    private readonly release: ReleaseFn,
  ) {
    const m = cfg.maxPackets;
    if (!Number.isInteger(m) || m < 1) throw new RangeError(`defer: maxPackets must be >= 1, got ${m}`);
    this.slab = new Uint8Array(m * cfg.slotBytes);
    this.len = new Int32Array(m);
    this.port = new Int32Array(m);
    this.ticket = new Float64Array(m);
    this.until = new Float64Array(m);
    this.order = new Int32Array(m);
    this.free = new Int32Array(m);
    for (let i = 0; i < m; i++) this.free[i] = m - 1 - i;
    this.nFree = m;
  }

  /** Packets held now. */
  get size(): number {
    return this.n;
  }

  /**
   * Holds a copy of buf[off, off + len) for `port` until `ticket` is acknowledged
   * or the timeout. False when it was not held (the caller sends it now).
   */
  hold(ticket: number, port: number, buf: Uint8Array, off: number, len: number, nowMs: number): boolean {
    if (len > this.cfg.slotBytes) {
      this.stats.tooBig++;
      return false;
    }
    if (this.nFree === 0) {
      this.stats.full++;
      return false;
    }
    const s = this.free[--this.nFree]!;
    this.slab.set(buf.subarray(off, off + len), s * this.cfg.slotBytes);
    this.len[s] = len;
    this.port[s] = port;
    this.ticket[s] = ticket;
    this.until[s] = nowMs + this.cfg.timeoutMs;
    this.order[this.n++] = s;
    this.stats.held++;
    return true;
  }

  /** The insert of `ticket` was acknowledged: its packets go out. Returns how many. */
  acked(ticket: number): number {
    return this.releaseWhere(ticket, -Infinity);
  }

  /** Releases the packets whose timeout has passed. Returns how many. */
  expire(nowMs: number): number {
    return this.releaseWhere(NaN, nowMs);
  }

  /** When the next timeout is due (Infinity when nothing is held). */
  nextDeadline(): number {
    let d = Infinity;
    for (let i = 0; i < this.n; i++) d = Math.min(d, this.until[this.order[i]!]!);
    return d;
  }

  private releaseWhere(ticket: number, nowMs: number): number {
    let kept = 0;
    let released = 0;
    const n = this.n;
    for (let i = 0; i < n; i++) {
      const s = this.order[i]!;
      const byAck = this.ticket[s] === ticket;
      const byTime = !byAck && this.until[s]! <= nowMs;
      if (!byAck && !byTime) {
        this.order[kept++] = s;
        continue;
      }
      if (byAck) this.stats.releasedByAck++;
      else this.stats.releasedByTimeout++;
      released++;
      const heldAt = this.until[s]! - this.cfg.timeoutMs;
      this.release(this.port[s]!, this.slab, s * this.cfg.slotBytes, this.len[s]!, byTime, heldAt);
      this.free[this.nFree++] = s;
    }
    this.n = kept;
    return released;
  }
}
