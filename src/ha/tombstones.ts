/**
 * Recently deleted sessions, so that an older insert or update of the same
 * tuple that arrives after its delete (a retransmission overtaken by the
 * delete) does not bring the session back. A direct-mapped cache keyed by the
 * original tuple's hash: a collision overwrites an older entry (then the
 * stale record is accepted and the session lingers until its lifetime ends,
 * as it would without this cache). Entries expire after `ttlMs`, longer than
 * any retransmission takes. Versions are compared only between records of
 * the same owner (different owners' clocks are not comparable).
 */
import { hashTuple } from '../session/hash.js';

export class Tombstones {
  private readonly mask: number;
  /** Per slot: hash, zoneProto, ports, owner. */
  private readonly key: Uint32Array;
  private readonly version: Float64Array;
  private readonly until: Float64Array;

  constructor(
    size = 4096,
    readonly ttlMs = 60_000,
  ) {
    if ((size & (size - 1)) !== 0 || size < 1)
      throw new RangeError('tombstone cache size must be a power of two');
    this.mask = size - 1;
    this.key = new Uint32Array(size * 4);
    this.version = new Float64Array(size);
    this.until = new Float64Array(size).fill(-Infinity);
  }

  /** Remembers that the session with this original tuple was deleted at `version`. */
  add(
    zoneProto: number,
    src: Uint32Array,
    dst: Uint32Array,
    ports: number,
    owner: number,
    version: number,
    nowMs: number,
  ): void {
    const h = hashTuple(zoneProto, src, 0, dst, 0, ports);
    const i = h & this.mask;
    const k = i * 4;
    if (this.matches(k, h, zoneProto, ports, owner) && this.until[i]! > nowMs && this.version[i]! > version)
      return;
    this.key[k] = h;
    this.key[k + 1] = zoneProto;
    this.key[k + 2] = ports;
    this.key[k + 3] = owner;
    this.version[i] = version;
    this.until[i] = nowMs + this.ttlMs;
  }

  /** The owner's delete of this tuple at or after `version` is remembered: its record of that version is stale. */
  blocks(
    zoneProto: number,
    src: Uint32Array,
    dst: Uint32Array,
    ports: number,
    owner: number,
    version: number,
    nowMs: number,
  ): boolean {
    const h = hashTuple(zoneProto, src, 0, dst, 0, ports);
    const i = h & this.mask;
    const k = i * 4;
    return (
      this.matches(k, h, zoneProto, ports, owner) && this.until[i]! > nowMs && this.version[i]! >= version
    );
  }

  private matches(k: number, h: number, zoneProto: number, ports: number, owner: number): boolean {
    const key = this.key;
    return key[k] === h && key[k + 1] === zoneProto && key[k + 2] === ports && key[k + 3] === owner;
  }
}
