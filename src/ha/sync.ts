/**
 * A node of the sync protocol: this device and its peers. Pure: the caller
 * passes the clock, delivers received datagrams with `receive`, and gets
 * datagrams to send through the injected `send` (to a peer node id; the
 * caller maps ids to addresses and drops datagrams from other addresses).
 * `send` must not call back into this node synchronously.
 *
 * The device tells it about local sessions:
 *   inserted(id)  after a session is created (NAT, ports and aux set): the
 *                 insert is encoded now; returns the defer ticket, or -1;
 *   updated(id)   after a packet changed it: coalesced, encoded at flush;
 *   (removal)     Conntrack.onRemove is chained: a delete goes out;
 *   flush(now)    at the end of a batch: sends what is pending, acks, NACKs;
 *   tick(now)     timers: retransmissions, heartbeats, liveness, bulk pacing.
 * Records from peers are imported into the same Conntrack (sessions.ts).
 * A peer seen with a new epoch (restart, first contact) or back from down
 * gets a bulk of everything this node holds; a peer that gave up messages to
 * us gets asked for one.
 */
import type { Conntrack } from '../session/conntrack.js';
import { rd32, wr32 } from '../wire/bytes.js';
import { RJ_OK, SyncAuth } from './auth.js';
import { BULK_BUDGET, BULK_DONE, BULK_FULL } from './bulk.js';
import { DEFAULT_CHANNEL, PeerChannel, type ChannelConfig, type SendFn } from './channel.js';
import {
  BF_AUTHORITATIVE,
  MAX_BODY,
  MF_ACK,
  MF_BULK,
  MsgHeader,
  T_BULK_END,
  T_BULK_REQUEST,
  T_BULK_START,
  T_HEARTBEAT,
  T_NACK,
  T_SESSIONS,
} from './msg.js';
import {
  BodyWriter,
  decodeRecord,
  OP_DELETE,
  OP_INSERT,
  OP_UPDATE,
  SessionRecord,
  viewOf,
} from './msg-records.js';
import { RX_NEW } from './reliable-recv.js';
import { SyncTable } from './sessions.js';
import { PeerState, SyncStats } from './sync-state.js';

export { PeerState, SyncStats };

export interface SyncConfig {
  /** This node's id (nonzero) and boot epoch (ms; larger after every restart). */
  node: number;
  epoch: number;
  key: Uint8Array;
  peers: readonly number[];
  channel?: Partial<ChannelConfig>;
  /** Table slots a bulk or a purge visits per call (pacing). */
  bulkBudget?: number;
}

const TICKETS = 1024;

export class SyncNode {
  readonly auth: SyncAuth;
  readonly table: SyncTable;
  readonly peers: PeerState[];
  readonly stats = new SyncStats();
  readonly cfg: ChannelConfig;
  /** Every peer the message of this ticket went to acknowledged it (or it was given up): release deferred packets. */
  onTicketDone: ((ticket: number) => void) | null = null;
  /** This node's table is complete for the sessions it owns (it has had a peer's bulk, or waited deadMs alone). */
  authoritative = false;
  private startMs = NaN;
  private now = 0;
  private readonly bulkBudget: number;
  private readonly h = new MsgHeader();
  private readonly rec = new SessionRecord();
  private readonly inc = new BodyWriter(MAX_BODY);
  private readonly ctl = new Uint8Array(12);
  private viewBuf: Uint8Array | null = null;
  private view: DataView = viewOf(this.ctl);
  private bodyNo = 0;
  private readonly ticketBody = new Float64Array(TICKETS).fill(-1);
  private readonly ticketLeft = new Int32Array(TICKETS);
  private readonly dirtyQ: Int32Array;
  private readonly dirtySerial: Uint32Array;
  private readonly dirtyMark: Uint8Array;
  private dirtyN = 0;

  constructor(
    readonly ct: Conntrack,
    cfg: SyncConfig,
    send: SendFn,
  ) {
    this.auth = new SyncAuth(cfg.key, cfg.node, cfg.epoch, cfg.peers);
    this.table = new SyncTable(ct, cfg.node);
    this.cfg = { ...DEFAULT_CHANNEL, ...cfg.channel };
    this.bulkBudget = cfg.bulkBudget ?? 16384;
    const done = (tag: number): void => this.ticketAcked(tag);
    this.peers = cfg.peers.map((n) => new PeerState(new PeerChannel(n, this.auth, this.cfg, send, done)));
    const n = ct.table.capacity;
    this.dirtyQ = new Int32Array(n);
    this.dirtySerial = new Uint32Array(n);
    this.dirtyMark = new Uint8Array(n);
    const prev = ct.onRemove;
    ct.onRemove = (id) => {
      if (prev) prev(id);
      this.removed(id);
    };
  }

  /** Announces this node: a heartbeat and a bulk request to every peer. */
  start(nowMs: number): void {
    this.now = nowMs;
    this.startMs = nowMs;
    for (const p of this.peers) {
      p.ch.sendControl(T_HEARTBEAT, 0, 0, nowMs);
      this.requestBulk(p, nowMs);
    }
  }

  peer(node: number): PeerState | undefined {
    return this.peers.find((p) => p.ch.node === node);
  }

  anyUp(): boolean {
    for (const p of this.peers) if (p.ch.up) return true;
    return false;
  }

  /** A local session was created: its insert is encoded now. Returns the defer ticket, or -1 (no peer up). */
  inserted(id: number, nowMs: number): number {
    this.now = nowMs;
    if (!this.anyUp() || !this.table.isLocal(id)) return -1;
    this.table.exportSession(id, OP_INSERT, nowMs, this.rec);
    this.addRecord(nowMs);
    this.stats.inserts++;
    return this.bodyNo;
  }

  /** A local session changed: its update goes out at the next flush (several changes, one record). */
  updated(id: number): void {
    const t = this.ct.table;
    if (!this.anyUp() || !t.isUsed(id) || !this.table.isLocal(id)) return;
    this.dirtySerial[id] = t.serial(id);
    if (this.dirtyMark[id] === 1) return;
    this.dirtyMark[id] = 1;
    this.dirtyQ[this.dirtyN++] = id;
  }

  /** A session is leaving the table (Conntrack.onRemove): a delete when it is ours and peers know it. */
  private removed(id: number): void {
    if (!this.anyUp() || !this.table.bound(id) || !this.table.isLocal(id)) return;
    this.table.exportSession(id, OP_DELETE, this.now, this.rec);
    this.addRecord(this.now);
    this.stats.deletes++;
  }

  /** Sends pending updates and records, then acks and NACKs. Call at the end of each batch. */
  flush(nowMs: number): void {
    this.now = nowMs;
    const t = this.ct.table;
    for (let i = 0; i < this.dirtyN; i++) {
      const id = this.dirtyQ[i]!;
      this.dirtyMark[id] = 0;
      if (!t.isUsed(id) || t.serial(id) !== this.dirtySerial[id] || !this.table.isLocal(id)) continue;
      this.table.touch(id, nowMs);
      this.table.exportSession(id, OP_UPDATE, nowMs, this.rec);
      this.addRecord(nowMs);
      this.stats.updates++;
    }
    this.dirtyN = 0;
    this.sendIncremental(nowMs);
    for (const p of this.peers) p.ch.flushAcks(nowMs);
  }

  /** Timers: retransmissions, heartbeats, liveness, bulk transfers and purges, then a flush. */
  tick(nowMs: number): void {
    this.now = nowMs;
    if (Number.isNaN(this.startMs)) this.startMs = nowMs;
    if (!this.authoritative && nowMs - this.startMs >= this.cfg.deadMs) this.authoritative = true;
    for (const p of this.peers) {
      const wasUp = p.ch.up;
      if (!p.ch.tick(nowMs) && wasUp) {
        this.stats.peersDown++;
        p.bulk.active = false;
      }
      this.runBulk(p, nowMs);
      if (p.purge.active) p.purge.step(this.table, this.bulkBudget);
    }
    this.flush(nowMs);
  }

  /** When tick should run next at the latest. */
  nextDeadline(): number {
    let d = Infinity;
    for (const p of this.peers) {
      const ch = p.ch;
      d = Math.min(d, ch.sender.nextDeadline(), ch.lastSent + this.cfg.heartbeatMs);
      if (ch.up) d = Math.min(d, ch.lastHeard + this.cfg.deadMs);
      if (p.bulk.active || p.purge.active) d = Math.min(d, this.now);
    }
    return d;
  }

  /** A datagram from the sync port. Returns RJ_OK or the rejection reason (counted in auth.rejected). */
  receive(buf: Uint8Array, off: number, len: number, nowMs: number): number {
    this.now = nowMs;
    const h = this.h;
    const r = this.auth.verify(buf, off, len, h);
    if (r !== RJ_OK) return r;
    const p = this.peer(h.sender)!;
    const ch = p.ch;
    if (this.auth.newEpoch) {
      if (this.auth.previousEpoch >= 0) this.stats.peerRestarts++;
      ch.epoch = h.senderEpoch;
      ch.receiver.reset();
      ch.sender.reset();
      ch.up = true;
      p.endAbs = -1;
      p.purge.active = false;
      this.startBulk(p);
    } else if (!ch.up) {
      ch.up = true;
      ch.sender.reset();
      this.startBulk(p);
    }
    ch.lastHeard = nowMs;
    if ((h.flags & MF_ACK) !== 0 && h.receiverEpoch === this.auth.epoch) ch.sender.ack(h.ack, nowMs);
    if (h.type === T_NACK) ch.onNack(buf, h, nowMs);
    else if (h.type === T_BULK_REQUEST) {
      this.stats.bulkRequestsReceived++;
      if (!p.bulk.active) this.startBulk(p);
    } else if (h.type === T_SESSIONS || h.type === T_BULK_START || h.type === T_BULK_END) {
      this.sequenced(p, buf, h, nowMs);
    }
    return RJ_OK;
  }

  private sequenced(p: PeerState, buf: Uint8Array, h: MsgHeader, nowMs: number): void {
    const rx = p.ch.receiver;
    const res = rx.accept(h.seq, h.window);
    if (rx.takeLost()) this.requestBulk(p, nowMs);
    if (res === RX_NEW) {
      if (h.type === T_SESSIONS) {
        const stamp = rx.unwrap(h.seq);
        const view = this.viewFor(buf);
        let o = h.bodyOff;
        for (let i = 0; i < h.count; i++) {
          o = decodeRecord(view, o, this.rec);
          // A retransmission carries lifetimes as they were at the first transmission.
          this.rec.lifetimeMs = this.rec.lifetimeMs > h.age ? this.rec.lifetimeMs - h.age : 0;
          this.table.importRecord(this.rec, nowMs, this.rec.owner === h.sender ? stamp : -1);
        }
        this.stats.recordsReceived += h.count;
      } else if (h.type === T_BULK_END) {
        p.endAbs = rx.unwrap(h.seq);
        p.endFrom = rx.unwrap(rd32(buf, h.bodyOff));
        p.endAuthoritative = (rd32(buf, h.bodyOff + 8) & BF_AUTHORITATIVE) !== 0;
      }
    }
    if (p.endAbs >= 0 && rx.expectedAbs > p.endAbs) {
      // Everything up to the BULK_END has arrived: the bulk is complete.
      p.endAbs = -1;
      this.stats.bulksReceived++;
      this.authoritative = true;
      if (p.endAuthoritative) p.purge.begin(p.ch.node, p.endFrom);
    }
  }

  /** A DataView of a receive buffer, kept while the caller keeps passing the same buffer. */
  private viewFor(buf: Uint8Array): DataView {
    if (buf !== this.viewBuf) {
      this.viewBuf = buf;
      this.view = viewOf(buf);
    }
    return this.view;
  }

  private addRecord(nowMs: number): void {
    if (this.inc.add(this.rec)) return;
    this.sendIncremental(nowMs);
    this.inc.add(this.rec);
  }

  /** Sends the pending records to every peer that is up, as one message each. */
  private sendIncremental(nowMs: number): void {
    const inc = this.inc;
    if (inc.count === 0) return;
    const tag = this.bodyNo++;
    let n = 0;
    for (const p of this.peers) if (p.ch.up) n++;
    const slot = tag & (TICKETS - 1);
    this.ticketBody[slot] = tag;
    this.ticketLeft[slot] = n;
    for (const p of this.peers) {
      if (!p.ch.up) continue;
      if (p.ch.sendSequenced(T_SESSIONS, 0, inc.buf, 0, inc.len, inc.count, tag, nowMs)) this.resync(p);
    }
    this.stats.recordsSent += inc.count * n;
    inc.reset();
    if (n === 0) this.ticketAcked(tag);
  }

  private ticketAcked(tag: number): void {
    if (tag < 0) return;
    const slot = tag & (TICKETS - 1);
    if (this.ticketBody[slot] !== tag) return;
    if (--this.ticketLeft[slot]! > 0) return;
    this.ticketBody[slot] = -1;
    if (this.onTicketDone) this.onTicketDone(tag);
  }

  private startBulk(p: PeerState): void {
    p.bulk.begin();
    this.stats.bulksStarted++;
  }

  /** Messages to `p` were given up: send it everything again. */
  private resync(p: PeerState): void {
    this.stats.resyncs++;
    this.startBulk(p);
  }

  private requestBulk(p: PeerState, nowMs: number): void {
    if (nowMs - p.lastBulkRequest < this.cfg.rtoMaxMs) return;
    p.lastBulkRequest = nowMs;
    this.stats.bulkRequestsSent++;
    p.ch.sendControl(T_BULK_REQUEST, 0, 0, nowMs);
  }

  /** Advances `p`'s bulk while the ring has room (half of it; the rest stays for live changes). */
  private runBulk(p: PeerState, nowMs: number): void {
    const b = p.bulk;
    const s = p.ch.sender;
    const room = this.cfg.ringSize >> 1;
    let budget = this.bulkBudget;
    while (b.active && p.ch.up && s.inFlight() < room && budget > 0) {
      if (!b.started) {
        b.startSeq = s.nextSeq;
        b.started = true;
        wr32(this.ctl, 0, b.startSeq);
        wr32(this.ctl, 4, this.ct.table.count);
        this.sendSeq(p, T_BULK_START, 0, this.ctl, 8, 0, nowMs);
        continue;
      }
      const r = b.fill(this.table, this.rec, nowMs, budget);
      budget -= b.visited;
      const body = b.body;
      if (r === BULK_FULL || (r === BULK_DONE && body.count > 0)) {
        const { len, count } = body;
        body.reset();
        if (this.sendSeq(p, T_SESSIONS, MF_BULK, body.buf, len, count, nowMs)) continue;
      }
      if (r === BULK_DONE) {
        wr32(this.ctl, 0, b.startSeq);
        wr32(this.ctl, 4, b.records);
        wr32(this.ctl, 8, this.authoritative ? BF_AUTHORITATIVE : 0);
        b.active = false;
        b.completed++;
        this.stats.bulksSent++;
        this.sendSeq(p, T_BULK_END, 0, this.ctl, 12, 0, nowMs);
      } else if (r === BULK_BUDGET) break;
    }
  }

  /** Sends a sequenced message of `p`'s own (bulk); true when that gave up a message (the bulk restarts). */
  private sendSeq(
    p: PeerState,
    type: number,
    flags: number,
    body: Uint8Array,
    len: number,
    count: number,
    nowMs: number,
  ): boolean {
    if (!p.ch.sendSequenced(type, flags, body, 0, len, count, -1, nowMs)) return false;
    this.resync(p);
    return true;
  }
}
