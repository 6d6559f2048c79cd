/**
 * A hashed timing wheel over session ids. Each slot is a circular doubly
 * linked list with a sentinel node, so scheduling and cancelling are O(1).
 * Refreshing a session's expiry later needs no relinking: when its slot comes
 * round and it is not yet due, it is moved to the slot of its new expiry
 * (the invariant is: scheduled time <= expiry). Expiry times are read from
 * the table's `expires` array; `advance` never scans the whole table.
 *
 * The links are packed: each is as many bits as the node count needs (20 bits
 * for a million sessions), so the wheel costs 2 x that per session rather
 * than two 32-bit words.
 */
export class TimerWheel {
  /** Bits of one link: every node index (sessions, slot sentinels, the due list) plus two markers. */
  private readonly bits: number;
  private readonly mask: number;
  /** Link value of a node that is on no list. */
  private readonly none: number;
  /** Link value that ends a chain being run (see runList). */
  private readonly end: number;
  /** Packed `next` and `prev` links, `bits` bits per node. */
  private readonly nextBits: Uint32Array;
  private readonly prevBits: Uint32Array;
  private readonly sentinel: number;
  /** List head of sessions scheduled for a tick the wheel has already run (see `schedule`). */
  private readonly due: number;
  private lastTick = -1;

  constructor(
    private readonly capacity: number,
    private readonly expires: Float64Array,
    private readonly slots = 4096,
    private readonly tickMs = 100,
    /** Where session id's expiry is in `expires`: expires[id * stride + offset]. */
    private readonly stride = 1,
    private readonly offset = 0,
  ) {
    const nodes = capacity + slots + 1;
    this.bits = Math.max(1, Math.ceil(Math.log2(nodes + 2)));
    this.mask = (1 << this.bits) - 1; // bits <= 25: capacity <= 2^24
    this.none = this.mask;
    this.end = this.mask - 1;
    // One spare word: a link may straddle two words, and the last one reads the next.
    const words = Math.ceil((nodes * this.bits) / 32) + 1;
    this.nextBits = new Uint32Array(words).fill(0xffffffff);
    this.prevBits = new Uint32Array(words).fill(0xffffffff);
    this.sentinel = capacity;
    this.due = capacity + slots;
    for (let n = capacity; n < nodes; n++) {
      this.setNext(n, n);
      this.setPrev(n, n);
    }
  }

  /** Bytes per session this wheel costs. */
  bytesPerSession(): number {
    return (this.nextBits.byteLength + this.prevBits.byteLength) / this.capacity;
  }

  private next(n: number): number {
    return readLink(this.nextBits, n * this.bits, this.bits, this.mask);
  }
  private prev(n: number): number {
    return readLink(this.prevBits, n * this.bits, this.bits, this.mask);
  }
  private setNext(n: number, v: number): void {
    writeLink(this.nextBits, n * this.bits, this.bits, this.mask, v);
  }
  private setPrev(n: number, v: number): void {
    writeLink(this.prevBits, n * this.bits, this.bits, this.mask, v);
  }

  /**
   * (Re)schedules `id` for the expiry now in its `expires` entry. An expiry in a
   * tick the wheel has already run (now, mid-tick, or in the past) goes on the
   * short `due` list that every `advance` checks; otherwise its slot would not
   * come round again for a whole rotation.
   */
  schedule(id: number): void {
    if (this.next(id) !== this.none) this.unlink(id);
    const tick = Math.floor(this.expires[id * this.stride + this.offset]! / this.tickMs);
    const head = tick <= this.lastTick ? this.due : this.sentinel + (tick % this.slots);
    const last = this.prev(head);
    this.setNext(last, id);
    this.setPrev(id, last);
    this.setNext(id, head);
    this.setPrev(head, id);
  }

  cancel(id: number): void {
    if (this.next(id) !== this.none) this.unlink(id);
  }

  isScheduled(id: number): boolean {
    return this.next(id) !== this.none;
  }

  private unlink(id: number): void {
    const p = this.prev(id);
    const n = this.next(id);
    this.setNext(p, n);
    this.setPrev(n, p);
    this.setNext(id, this.none);
    this.setPrev(id, this.none);
  }

  /**
   * Moves the clock to `nowMs`, calling `onExpire(id)` for every session whose
   * expiry is at or before it (in slot order). The callback must not schedule
   * the expired id again before returning, but may remove it from the table.
   */
  advance(nowMs: number, onExpire: (id: number) => void): void {
    const nowTick = Math.floor(nowMs / this.tickMs);
    if (nowTick < this.lastTick) return;
    // The first advance visits every slot once: sessions may have been
    // scheduled before it, for any tick.
    const first =
      this.lastTick < 0 ? nowTick - this.slots + 1 : Math.max(this.lastTick + 1, nowTick - this.slots + 1);
    // Set first, so a session found not yet due within nowTick goes on the due list.
    this.lastTick = nowTick;
    this.runList(this.due, nowMs, onExpire);
    for (let t = first; t <= nowTick; t++) {
      const s = t % this.slots;
      this.runList(this.sentinel + (s < 0 ? s + this.slots : s), nowMs, onExpire);
    }
  }

  private runList(head: number, nowMs: number, onExpire: (id: number) => void): void {
    let n = this.next(head);
    if (n === head) return;
    // Detach the whole chain first so relinking into this slot cannot loop.
    this.setNext(this.prev(head), this.end);
    this.setNext(head, head);
    this.setPrev(head, head);
    const none = this.none;
    // Node indices are below `end`; `none` (above it) would mean the callback unlinked the next one.
    while (n < this.end) {
      const after = this.next(n);
      this.setNext(n, none);
      this.setPrev(n, none);
      if (this.expires[n * this.stride + this.offset]! <= nowMs) onExpire(n);
      else this.schedule(n);
      n = after;
    }
  }
}

/** The `bits`-bit link at bit offset `o` of `a` (it may straddle two words). */
function readLink(a: Uint32Array, o: number, bits: number, mask: number): number {
  const w = o >>> 5;
  const s = o & 31;
  let v = a[w]! >>> s;
  if (s + bits > 32) v |= a[w + 1]! << (32 - s);
  return v & mask;
}

function writeLink(a: Uint32Array, o: number, bits: number, mask: number, v: number): void {
  const w = o >>> 5;
  const s = o & 31;
  a[w] = (a[w]! & ~(mask << s)) | (v << s);
  if (s + bits > 32) {
    const r = 32 - s;
    a[w + 1] = (a[w + 1]! & ~(mask >>> r)) | (v >>> r);
  }
}
