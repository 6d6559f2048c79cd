/**
 * One peer's link: its epoch and liveness, the reliable stream to it
 * (SyncSender) and from it (SyncReceiver), acks and NACKs (coalesced: at most
 * one per flush, and none when an outgoing sequenced message already carried
 * the ack), heartbeats, and the stamping of every message we send it: the
 * per-transmission header fields (flags, receiver epoch, packet number,
 * window, ack) and the MAC. Output goes through the injected `out`.
 */
import type { SyncAuth } from './auth.js';
import {
  H_ACK,
  H_AGE,
  H_FLAGS,
  H_PN,
  H_RECEIVER_EPOCH,
  H_WINDOW,
  HEADER_LEN,
  MAX_MSG,
  MF_ACK,
  MF_RETRANSMIT,
  MsgHeader,
  NACK_MAX_RANGES,
  T_ACK,
  T_HEARTBEAT,
  T_NACK,
  nackHighest,
  nackRange,
  writeHeader,
} from './msg.js';
import { wr64 } from './msg-records.js';
import { SyncReceiver } from './reliable-recv.js';
import { DEFAULT_RELIABLE, SyncSender, type ReliableConfig } from './reliable-send.js';
import { rd16, wr16, wr32 } from '../wire/bytes.js';

export interface ChannelConfig extends ReliableConfig {
  heartbeatMs: number;
  /** A peer not heard from for this long is down. */
  deadMs: number;
  /** A NACK for a gap that is still open is repeated after this long. */
  nackRepeatMs: number;
}

export const DEFAULT_CHANNEL: ChannelConfig = {
  ...DEFAULT_RELIABLE,
  heartbeatMs: 1000,
  deadMs: 3000,
  nackRepeatMs: 50,
};

/** Sends a datagram to a peer node. */
export type SendFn = (peer: number, buf: Uint8Array, off: number, len: number) => void;

export class PeerChannel {
  readonly sender: SyncSender;
  readonly receiver = new SyncReceiver();
  /** The peer's boot epoch (0: not heard from). */
  epoch = 0;
  up = false;
  lastHeard = -Infinity;
  lastSent = -Infinity;
  acksSent = 0;
  nacksSent = 0;
  private lastNack = -Infinity;
  private pn = 0;
  private readonly tx = new Uint8Array(MAX_MSG);
  private readonly h = new MsgHeader();
  private readonly ranges = new Uint32Array(NACK_MAX_RANGES * 2);
  /** The clock of the call in progress (the sender's transmit callback runs inside one). */
  private nowMs = 0;

  constructor(
    readonly node: number,
    private readonly auth: SyncAuth,
    readonly cfg: ChannelConfig,
    private readonly out: SendFn,
    done: (tag: number, acked: boolean) => void,
  ) {
    this.sender = new SyncSender(
      cfg,
      (off, len, re, age) => this.stamp(this.sender.slab, off, len, re, this.nowMs, age),
      done,
    );
  }

  /** Writes the static header of a message to this peer at b[off] (the body follows). */
  header(
    b: Uint8Array,
    off: number,
    type: number,
    flags: number,
    seq: number,
    count: number,
    bodyLen: number,
  ): void {
    const h = this.h;
    h.type = type;
    h.flags = flags;
    h.sender = this.auth.node;
    h.receiver = this.node;
    h.senderEpoch = this.auth.epoch;
    h.receiverEpoch = 0;
    h.pn = 0;
    h.seq = seq;
    h.window = 0;
    h.ack = 0;
    h.count = count;
    h.bodyLen = bodyLen;
    h.age = 0;
    writeHeader(b, off, h);
  }

  /**
   * Queues a sequenced message with body[bodyOff, bodyOff + bodyLen) and sends
   * it. When the ring is full the oldest message is given up first; returns
   * true then (the caller re-syncs the peer).
   */
  sendSequenced(
    type: number,
    flags: number,
    body: Uint8Array,
    bodyOff: number,
    bodyLen: number,
    count: number,
    tag: number,
    nowMs: number,
  ): boolean {
    const s = this.sender;
    let gaveUp = false;
    if (s.full()) {
      s.giveUpOldest();
      gaveUp = true;
    }
    const off = s.nextOffset();
    this.header(s.slab, off, type, flags, s.nextSeq, count, bodyLen);
    s.slab.set(body.subarray(bodyOff, bodyOff + bodyLen), off + HEADER_LEN);
    this.nowMs = nowMs;
    s.push(HEADER_LEN + bodyLen, tag, nowMs);
    return gaveUp;
  }

  /** Sends an unsequenced message with an optional body already in tx() after the header. */
  sendControl(type: number, count: number, bodyLen: number, nowMs: number): void {
    this.header(this.tx, 0, type, 0, 0, count, bodyLen);
    this.stamp(this.tx, 0, HEADER_LEN + bodyLen, false, nowMs);
  }

  /** The control-message buffer (write a body at HEADER_LEN before sendControl). */
  get txBuf(): Uint8Array {
    return this.tx;
  }

  /** Sends an ACK or NACK if one is due (called once per flush). */
  flushAcks(nowMs: number): void {
    const r = this.receiver;
    if (!r.started || !this.up) return;
    if (r.hasGap() && (r.gapNew || nowMs - this.lastNack >= this.cfg.nackRepeatMs)) {
      const n = r.missing(this.ranges, NACK_MAX_RANGES);
      if (n > 0) {
        const b = this.tx;
        wr32(b, HEADER_LEN, r.missingHigh);
        for (let i = 0; i < n * 2; i++) wr32(b, HEADER_LEN + 4 + i * 4, this.ranges[i]!);
        r.gapNew = false;
        this.lastNack = nowMs;
        this.nacksSent++;
        this.sendControl(T_NACK, n, 4 + 8 * n, nowMs);
        return;
      }
    }
    if (r.ackDue) {
      this.acksSent++;
      this.sendControl(T_ACK, 0, 0, nowMs);
    }
  }

  /** A NACK from the peer: its cumulative ack is applied by the caller; here the ranges. */
  onNack(b: Uint8Array, h: MsgHeader, nowMs: number): void {
    const s = this.sender;
    this.nowMs = nowMs;
    let prev = h.ack;
    for (let i = 0; i < h.count; i++) {
      const first = nackRange(b, h, i, false);
      const last = nackRange(b, h, i, true);
      if (((first - prev) | 0) > 1) s.sackRange((prev + 1) >>> 0, (first - 1) >>> 0, nowMs);
      s.nackRange(first, last, nowMs);
      prev = last;
    }
    const high = nackHighest(b, h);
    if (((high - prev) | 0) > 0) s.sackRange((prev + 1) >>> 0, high, nowMs);
  }

  /** Timers: retransmissions and heartbeats. Returns false when the peer has just gone down. */
  tick(nowMs: number): boolean {
    this.nowMs = nowMs;
    this.sender.tick(nowMs);
    if (nowMs - this.lastSent >= this.cfg.heartbeatMs) this.sendControl(T_HEARTBEAT, 0, 0, nowMs);
    if (this.up && nowMs - this.lastHeard > this.cfg.deadMs) {
      this.up = false;
      this.sender.reset();
      return false;
    }
    return true;
  }

  /** Stamps the per-transmission fields of the message at b[off], signs it and sends it. */
  private stamp(
    b: Uint8Array,
    off: number,
    len: number,
    retransmit: boolean,
    nowMs: number,
    ageMs = 0,
  ): void {
    const r = this.receiver;
    let flags = rd16(b, off + H_FLAGS) & ~(MF_ACK | MF_RETRANSMIT);
    if (r.started) flags |= MF_ACK;
    if (retransmit) flags |= MF_RETRANSMIT;
    wr16(b, off + H_FLAGS, flags);
    wr64(b, off + H_RECEIVER_EPOCH, this.epoch);
    wr64(b, off + H_PN, ++this.pn);
    wr32(b, off + H_WINDOW, this.sender.base);
    wr32(b, off + H_ACK, r.started ? r.cumAck() : 0);
    wr32(b, off + H_AGE, ageMs > 0 ? Math.min(0xffffffff, Math.round(ageMs)) : 0);
    if (r.started) r.ackDue = false;
    const total = this.auth.sign(b, off, len);
    this.lastSent = nowMs;
    this.out(this.node, b, off, total);
  }
}
