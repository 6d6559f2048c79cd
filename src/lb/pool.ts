/**
 * The pool of real servers behind one virtual service, as a struct of typed
 * arrays indexed by a stable slot number ("real index").
 *
 * - Address: 4 words per real (IPv4 as ::ffff:a.b.c.d: words 0, 0, 0xffff,
 *   addr — the layout of `Packet.src`), port, weight (0..65535; 0 = drained:
 *   no new sessions, existing ones continue) and `up` (health; down = no new
 *   sessions). `available(i)` = member && weight > 0 && up.
 * - Connection counters as IPVS keeps them: active (TCP ESTABLISHED) and
 *   inactive (every other state). The device calls `connUp` / `connDown` /
 *   `connMove` as sessions are created, change state and end.
 * - Membership changes keep indices: a real that stays keeps its slot and its
 *   counters. A removed real is *retired* (like IPVS's dest trash): its slot is
 *   not reused until its last connection ends, so a late `connDown` of an old
 *   session can never hit a different real. `gen(i)` changes whenever a slot
 *   is given to a new real.
 * - `version` increases on every change of weight, health or membership;
 *   schedulers compare it to rebuild their tables lazily.
 */

export const MAX_WEIGHT = 65535;

const FREE = 0;
/** `state[i]` of a member (0 = free slot, 2 = retired: removed, connections remain). */
export const MEMBER = 1;
const RETIRED = 2;

export interface RealSpec {
  /** 4 address words (see module doc). */
  addr: Uint32Array;
  port: number;
  weight: number;
  up?: boolean;
}

export class RealPool {
  /** Number of slots ever used (members, retired and free holes): iterate `0..slots-1`. */
  slots = 0;
  /** Number of members (not retired, not free). */
  count = 0;
  /** Bumped on any weight, health or membership change. */
  version = 0;
  /** Per slot: 4 words each. */
  addr: Uint32Array;
  port: Uint16Array;
  weight: Uint32Array;
  up: Uint8Array;
  state: Uint8Array;
  activeConns: Uint32Array;
  inactiveConns: Uint32Array;
  generation: Uint32Array;

  constructor(capacity = 16) {
    const c = Math.max(1, capacity | 0);
    this.addr = new Uint32Array(c * 4);
    this.port = new Uint16Array(c);
    this.weight = new Uint32Array(c);
    this.up = new Uint8Array(c);
    this.state = new Uint8Array(c);
    this.activeConns = new Uint32Array(c);
    this.inactiveConns = new Uint32Array(c);
    this.generation = new Uint32Array(c);
  }

  get capacity(): number {
    return this.port.length;
  }

  isMember(i: number): boolean {
    return i >= 0 && i < this.slots && this.state[i] === MEMBER;
  }

  /** May receive new sessions: a member with weight > 0 that is up. */
  available(i: number): boolean {
    return i >= 0 && i < this.slots && this.state[i] === MEMBER && this.weight[i]! > 0 && this.up[i] === 1;
  }

  availableCount(): number {
    let n = 0;
    for (let i = 0; i < this.slots; i++) if (this.available(i)) n++;
    return n;
  }

  /** Weight a scheduler should use: the weight when available, else 0. */
  effWeight(i: number): number {
    return this.available(i) ? this.weight[i]! : 0;
  }

  active(i: number): number {
    return this.activeConns[i]!;
  }

  inactive(i: number): number {
    return this.inactiveConns[i]!;
  }

  /** Changes whenever slot `i` is handed to a new real. */
  gen(i: number): number {
    return this.generation[i]!;
  }

  /** Slot of the member with this address and port, or -1. */
  find(addr: Uint32Array, port: number): number {
    for (let i = 0; i < this.slots; i++) {
      if (this.state[i] !== MEMBER || this.port[i] !== port) continue;
      const o = i * 4;
      const a = this.addr;
      if (a[o] === addr[0] && a[o + 1] === addr[1] && a[o + 2] === addr[2] && a[o + 3] === addr[3]) return i;
    }
    return -1;
  }

  /** Adds a real and returns its index. Throws when it is already a member or arguments are out of range. */
  add(addr: Uint32Array, port: number, weight = 1, up = true): number {
    checkReal(addr, port, weight);
    if (this.find(addr, port) >= 0) throw new Error(`real already in pool (port ${port})`);
    let i = -1;
    for (let s = 0; s < this.slots; s++) {
      if (this.state[s] === FREE) {
        i = s;
        break;
      }
    }
    if (i < 0) {
      if (this.slots === this.capacity) this.grow(this.capacity * 2);
      i = this.slots++;
    }
    this.addr.set(addr.subarray(0, 4), i * 4);
    this.port[i] = port;
    this.weight[i] = weight;
    this.up[i] = up ? 1 : 0;
    this.state[i] = MEMBER;
    this.activeConns[i] = 0;
    this.inactiveConns[i] = 0;
    this.generation[i] = (this.generation[i]! + 1) >>> 0;
    this.count++;
    this.version++;
    return i;
  }

  /** Removes a member: no new sessions; the slot is reused only after its connections end. */
  remove(i: number): void {
    if (!this.isMember(i)) return;
    this.state[i] = this.activeConns[i] === 0 && this.inactiveConns[i] === 0 ? FREE : RETIRED;
    this.count--;
    this.version++;
  }

  setWeight(i: number, weight: number): void {
    if (!this.isMember(i)) throw new RangeError(`no real ${i}`);
    checkWeight(weight);
    if (this.weight[i] === weight) return;
    this.weight[i] = weight;
    this.version++;
  }

  setUp(i: number, up: boolean): void {
    if (!this.isMember(i)) throw new RangeError(`no real ${i}`);
    const v = up ? 1 : 0;
    if (this.up[i] === v) return;
    this.up[i] = v;
    this.version++;
  }

  /**
   * Config reload: makes the members exactly `specs` (matched by address and
   * port). Reals that stay keep their index and counters (weight updated; `up`
   * updated only when the spec gives it); others are removed; new ones added.
   * Returns the index of each spec, in order. Throws on duplicates.
   */
  sync(specs: readonly RealSpec[]): Int32Array {
    for (const s of specs) checkReal(s.addr, s.port, s.weight);
    const out = new Int32Array(specs.length).fill(-1);
    const keep = new Uint8Array(this.slots);
    specs.forEach((s, k) => {
      const i = this.find(s.addr, s.port);
      if (i >= 0) {
        if (keep[i]) throw new Error(`duplicate real in config (port ${s.port})`);
        keep[i] = 1;
        out[k] = i;
      }
    });
    for (let i = 0; i < keep.length; i++) if (!keep[i] && this.state[i] === MEMBER) this.remove(i);
    specs.forEach((s, k) => {
      const i = out[k]!;
      if (i >= 0) {
        this.setWeight(i, s.weight);
        if (s.up !== undefined) this.setUp(i, s.up);
      } else {
        out[k] = this.add(s.addr, s.port, s.weight, s.up ?? true);
      }
    });
    return out;
  }

  /** A session to real `i` was created, in the active (ESTABLISHED) or inactive state. */
  connUp(i: number, active: boolean): void {
    if (active) this.activeConns[i]!++;
    else this.inactiveConns[i]!++;
  }

  /** A session to real `i` ended. Counters never go below 0. */
  connDown(i: number, active: boolean): void {
    const c = active ? this.activeConns : this.inactiveConns;
    if (c[i]! > 0) c[i]!--;
    if (this.state[i] === RETIRED && this.activeConns[i] === 0 && this.inactiveConns[i] === 0) {
      this.state[i] = FREE;
    }
  }

  /** A session to real `i` moved between the active and inactive states. */
  connMove(i: number, fromActive: boolean, toActive: boolean): void {
    if (fromActive === toActive) return;
    const from = fromActive ? this.activeConns : this.inactiveConns;
    if (from[i]! > 0) from[i]!--;
    (toActive ? this.activeConns : this.inactiveConns)[i]!++;
  }

  private grow(cap: number): void {
    const g = <T extends Uint8Array | Uint16Array | Uint32Array>(a: T, n: number): T => {
      const b = new (a.constructor as new (n: number) => T)(n);
      b.set(a);
      return b;
    };
    this.addr = g(this.addr, cap * 4);
    this.port = g(this.port, cap);
    this.weight = g(this.weight, cap);
    this.up = g(this.up, cap);
    this.state = g(this.state, cap);
    this.activeConns = g(this.activeConns, cap);
    this.inactiveConns = g(this.inactiveConns, cap);
    this.generation = g(this.generation, cap);
  }
}

function checkWeight(w: number): void {
  if (!Number.isInteger(w) || w < 0 || w > MAX_WEIGHT)
    throw new RangeError(`weight ${w} not in 0..${MAX_WEIGHT}`);
}

function checkReal(addr: Uint32Array, port: number, weight: number): void {
  if (addr.length < 4) throw new RangeError('address needs 4 words');
  if (!Number.isInteger(port) || port < 0 || port > 0xffff) throw new RangeError(`port ${port} out of range`);
  checkWeight(weight);
}
