/**
 * Sessions of the local Conntrack as sync records, and records back into it.
 *
 * Alongside the table this keeps, per session slot: its owner node, the
 * version of its last synced state, and a receive stamp (for the purge after
 * an authoritative bulk). Side data belongs to the session incarnation whose
 * serial it was recorded with; a slot reused by a new session has none until
 * it is exported or imported (a session without side data is ours).
 *
 * Export reads only public fields of SessionTable / TcpStore; import uses
 * SessionTable.insert and the setters, the timing wheel and Conntrack.drop.
 * An imported session owned by a peer carries F_PEER in its table flags.
 * Versions are the owner's clock in ms times 1024, kept strictly increasing,
 * so an older update never overwrites a newer one. Nothing allocates.
 */
import type { Conntrack } from '../session/conntrack.js';
import {
  EXPIRES_OFFSET,
  EXPIRES_STRIDE,
  F_ASSURED,
  F_DNAT,
  F_PEER,
  F_SEEN_REPLY,
  F_SNAT,
  F_USED,
  F_V6,
} from '../session/table.js';
import { TCP_WORDS } from '../session/tcp-store.js';
import { OP_DELETE, settleRecord, type SessionRecord } from './msg-records.js';
import { Tombstones } from './tombstones.js';

/** The session flags a record carries. */
export const SYNC_FLAGS = F_SEEN_REPLY | F_ASSURED | F_DNAT | F_SNAT;
const PROTO_TCP = 6;

// ---- importRecord results ----
export const IMP_CREATED = 0;
export const IMP_UPDATED = 1;
export const IMP_DELETED = 2;
/** Older than (or the same as) what we hold, or a delete of it was newer. */
export const IMP_STALE = 3;
/** A delete of a session we do not hold. */
export const IMP_ABSENT = 4;
/** The tuple belongs to a session we own (or a delete names another owner's session). */
export const IMP_CONFLICT = 5;
/** The table is full and nothing could be evicted. */
export const IMP_FULL = 6;
export const IMPORT_RESULT_NAMES = [
  'created',
  'updated',
  'deleted',
  'stale',
  'absent',
  'conflict',
  'full',
] as const;

export class SyncTable {
  /** Import results by IMP_*. */
  readonly imported = new Float64Array(IMPORT_RESULT_NAMES.length);
  readonly tombstones = new Tombstones();
  private readonly ver: Float64Array;
  private readonly owner: Uint32Array;
  private readonly serialOf: Uint32Array;
  private readonly seen: Float64Array;
  private lastStamp = 0;
  private readonly tmp = new Uint32Array(4);

  constructor(
    readonly ct: Conntrack,
    /** This node's id. */
    readonly self: number,
  ) {
    const n = ct.table.capacity;
    this.ver = new Float64Array(n);
    this.owner = new Uint32Array(n);
    this.serialOf = new Uint32Array(n);
    this.seen = new Float64Array(n);
  }

  /** A new version for a change made now, above every version of ours issued or imported before. */
  stamp(nowMs: number): number {
    const s = Math.max(Math.floor(nowMs) * 1024, this.lastStamp + 1);
    this.lastStamp = s;
    return s;
  }

  /** The session has side data (it was exported or imported as it is now). */
  bound(id: number): boolean {
    const t = this.ct.table;
    return t.isUsed(id) && this.serialOf[id] === t.serial(id);
  }
  ownerOf(id: number): number {
    return this.bound(id) ? this.owner[id]! : this.self;
  }
  isLocal(id: number): boolean {
    return this.ownerOf(id) === this.self;
  }
  versionOf(id: number): number {
    return this.bound(id) ? this.ver[id]! : 0;
  }
  /** Receive stamp of the last record from its owner that refreshed this session (-1: none). */
  seenOf(id: number): number {
    return this.bound(id) ? this.seen[id]! : -1;
  }

  /** Gives a local session a new version (it changed). */
  touch(id: number, nowMs: number): void {
    // stamp() written out: versions are doubles, and a double crossing a call V8 did not inline is boxed.
    const s = Math.max(Math.floor(nowMs) * 1024, this.lastStamp + 1);
    this.lastStamp = s;
    this.serialOf[id] = this.ct.table.serial(id);
    this.owner[id] = this.self;
    this.ver[id] = s;
    this.seen[id] = -1;
  }

  /**
   * Fills `rec` with session `id` as it is now, with op `op`. A local session
   * without side data gets a version first; a delete gets a new version.
   */
  exportSession(id: number, op: number, nowMs: number, rec: SessionRecord): void {
    const t = this.ct.table;
    if (op === OP_DELETE || !this.bound(id)) this.touch(id, nowMs);
    rec.op = op;
    rec.zoneProto = t.zoneProto(id);
    rec.origPorts = t.ports(id, 0);
    rec.replyPorts = t.ports(id, 1);
    rec.version = this.ver[id]!;
    rec.owner = this.owner[id]!;
    rec.flags = t.flags(id) & SYNC_FLAGS;
    rec.state = t.state(id);
    rec.portOrig = t.port(id << 1);
    rec.portReply = t.port((id << 1) | 1);
    rec.aux = t.aux(id);
    const left = Math.ceil(t.f64[id * EXPIRES_STRIDE + EXPIRES_OFFSET]! - nowMs);
    rec.lifetimeMs = left > 0 ? left : 0;
    t.readAddr(id, 0, 0, rec.oSrc);
    t.readAddr(id, 0, 1, rec.oDst);
    t.readAddr(id, 1, 0, rec.rSrc);
    t.readAddr(id, 1, 1, rec.rDst);
    settleRecord(rec);
    if (rec.hasTcp) {
      const d = this.ct.tcp.data;
      const b = id * TCP_WORDS;
      for (let i = 0; i < TCP_WORDS; i++) rec.tcp[i] = d[b + i]!;
    }
  }

  /**
   * Applies a record from a peer: create-or-update by original tuple, or
   * delete. `seenStamp` >= 0 marks the session as refreshed by its owner at
   * that receive stamp. Returns an IMP_* result (also counted).
   */
  importRecord(rec: SessionRecord, nowMs: number, seenStamp: number): number {
    const r = this.apply(rec, nowMs, seenStamp);
    this.imported[r]!++;
    return r;
  }

  private apply(rec: SessionRecord, nowMs: number, seenStamp: number): number {
    const t = this.ct.table;
    const zp = rec.zoneProto;
    const e = t.lookup(zp, rec.oSrc, rec.oDst, rec.origPorts);
    if (rec.op === OP_DELETE) {
      this.tombstones.add(zp, rec.oSrc, rec.oDst, rec.origPorts, rec.owner, rec.version, nowMs);
      if (e < 0 || (e & 1) !== 0) return IMP_ABSENT;
      const id = e >> 1;
      if (rec.owner === this.self || this.ownerOf(id) !== rec.owner) return IMP_CONFLICT;
      if (this.ver[id]! > rec.version) return IMP_STALE;
      this.ct.drop(id);
      return IMP_DELETED;
    }
    if (e >= 0) {
      const id = e >> 1;
      const local = this.isLocal(id);
      if ((e & 1) === 0 && this.replyMatches(id, rec)) {
        if (local) return rec.owner === this.self ? IMP_STALE : IMP_CONFLICT;
        if (this.owner[id] === rec.owner && rec.version <= this.ver[id]!) {
          if (rec.version === this.ver[id] && seenStamp >= 0) this.seen[id] = seenStamp;
          return IMP_STALE;
        }
        this.write(id, rec, nowMs, seenStamp);
        return IMP_UPDATED;
      }
      // The tuple belongs to another session (or the reply tuple changed).
      if (!this.yields(id, rec)) return local ? IMP_CONFLICT : IMP_STALE;
      this.ct.drop(id);
    }
    if (this.tombstones.blocks(zp, rec.oSrc, rec.oDst, rec.origPorts, rec.owner, rec.version, nowMs))
      return IMP_STALE;
    let id = this.insert(rec, nowMs);
    if (id === -2) {
      // Only the reply tuple is taken.
      const e2 = t.lookup(zp, rec.rSrc, rec.rDst, rec.replyPorts);
      if (e2 < 0 || !this.yields(e2 >> 1, rec)) return IMP_CONFLICT;
      this.ct.drop(e2 >> 1);
      id = this.insert(rec, nowMs);
    }
    if (id < 0) return id === -2 ? IMP_CONFLICT : IMP_FULL;
    this.write(id, rec, nowMs, seenStamp);
    return IMP_CREATED;
  }

  /** Whether session `id`, clashing with the record's tuples, gives way to it. */
  private yields(id: number, rec: SessionRecord): boolean {
    if (this.isLocal(id)) return false;
    return this.owner[id] !== rec.owner || this.ver[id]! < rec.version;
  }

  /** table.insert, evicting a session that is not assured when full. Returns the id, -1 (full) or -2 (taken). */
  private insert(rec: SessionRecord, nowMs: number): number {
    const t = this.ct.table;
    const zp = rec.zoneProto;
    let id = t.insert(zp, rec.oSrc, rec.oDst, rec.origPorts, rec.rSrc, rec.rDst, rec.replyPorts, nowMs);
    if (id === -1) {
      const victim = t.evictionCandidate(zp, rec.oSrc, rec.oDst, rec.origPorts);
      if (victim < 0) return -1;
      this.ct.stats.evicted++;
      this.ct.drop(victim);
      id = t.insert(zp, rec.oSrc, rec.oDst, rec.origPorts, rec.rSrc, rec.rDst, rec.replyPorts, nowMs);
    }
    return id;
  }

  private write(id: number, rec: SessionRecord, nowMs: number, seenStamp: number): void {
    const t = this.ct.table;
    const peer = rec.owner !== this.self;
    t.setFlags(id, (t.flags(id) & (F_USED | F_V6)) | (rec.flags & SYNC_FLAGS) | (peer ? F_PEER : 0));
    t.setState(id, rec.state);
    t.setPorts(id, rec.portOrig, rec.portReply);
    t.setAux(id, rec.aux);
    t.f64[id * EXPIRES_STRIDE + EXPIRES_OFFSET] = nowMs + rec.lifetimeMs; // setExpires, without boxing
    this.ct.wheel.schedule(id);
    if ((rec.zoneProto & 0xff) === PROTO_TCP) this.ct.tcp.data.set(rec.tcp, id * TCP_WORDS);
    if (!peer && rec.version > this.lastStamp) this.lastStamp = rec.version;
    // A record relayed by a node that is not its owner does not count as the owner's refresh.
    if (seenStamp >= 0 || !this.bound(id) || this.owner[id] !== rec.owner) this.seen[id] = seenStamp;
    this.serialOf[id] = t.serial(id);
    this.owner[id] = rec.owner;
    this.ver[id] = rec.version;
  }

  private replyMatches(id: number, rec: SessionRecord): boolean {
    const t = this.ct.table;
    if (t.ports(id, 1) !== rec.replyPorts) return false;
    t.readAddr(id, 1, 0, this.tmp);
    if (!eq4(this.tmp, rec.rSrc)) return false;
    t.readAddr(id, 1, 1, this.tmp);
    return eq4(this.tmp, rec.rDst);
  }
}

function eq4(a: Uint32Array, b: Uint32Array): boolean {
  return a[0] === b[0] && a[1] === b[1] && a[2] === b[2] && a[3] === b[3];
}
