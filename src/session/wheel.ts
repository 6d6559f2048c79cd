/**
 * A hashed timing wheel over session ids. Each slot is a circular doubly
 * linked list with a sentinel node, so scheduling and cancelling are O(1).
 * Refreshing a session's expiry later needs no relinking: when its slot comes
 * round and it is not yet due, it is moved to the slot of its new expiry
 * (the invariant is: scheduled time <= expiry). Expiry times are read from
 * the table's `expires` array; `advance` never scans the whole table.
 */
export class TimerWheel {
  private readonly next: Int32Array;
  private readonly prev: Int32Array;
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
    this.next = new Int32Array(nodes).fill(-1);
    this.prev = new Int32Array(nodes).fill(-1);
    this.sentinel = capacity;
    this.due = capacity + slots;
    for (let n = capacity; n < nodes; n++) {
      this.next[n] = n;
      this.prev[n] = n;
    }
  }

  /** Bytes per session this wheel costs. */
  bytesPerSession(): number {
    return (this.next.byteLength + this.prev.byteLength) / this.capacity;
  }

  /**
   * (Re)schedules `id` for the expiry now in its `expires` entry. An expiry in a
   * tick the wheel has already run (now, mid-tick, or in the past) goes on the
   * short `due` list that every `advance` checks; otherwise its slot would not
   * come round again for a whole rotation.
   */
  schedule(id: number): void {
    if (this.next[id] !== -1) this.unlink(id);
    const tick = Math.floor(this.expires[id * this.stride + this.offset]! / this.tickMs);
    const head = tick <= this.lastTick ? this.due : this.sentinel + (tick % this.slots);
    const last = this.prev[head]!;
    this.next[last] = id;
    this.prev[id] = last;
    this.next[id] = head;
    this.prev[head] = id;
  }

  cancel(id: number): void {
    if (this.next[id] !== -1) this.unlink(id);
  }

  isScheduled(id: number): boolean {
    return this.next[id] !== -1;
  }

  private unlink(id: number): void {
    const p = this.prev[id]!;
    const n = this.next[id]!;
    this.next[p] = n;
    this.prev[n] = p;
    this.next[id] = -1;
    this.prev[id] = -1;
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
    let n = this.next[head]!;
    if (n === head) return;
    // Detach the whole chain first so relinking into this slot cannot loop.
    this.prev[this.next[head]!] = -2;
    this.next[this.prev[head]!] = -2;
    this.next[head] = head;
    this.prev[head] = head;
    while (n >= 0) {
      const after = this.next[n]!;
      this.next[n] = -1;
      this.prev[n] = -1;
      if (this.expires[n * this.stride + this.offset]! <= nowMs) onExpire(n);
      else this.schedule(n);
      n = after;
    }
  }
}
