/**
 * Per-session TCP tracking state: one block of TCP_WORDS (12) 32-bit words =
 * 48 bytes per session in a single Uint32Array, so a packet touches one or two
 * cache lines of TCP state. Nothing is allocated after construction.
 *
 *   word 0..3   original direction: td_end, td_maxend, td_maxwin, td_maxack
 *   word 4..7   reply direction:    the same
 *   word 8      META: state (bits 0..7), cflags (8..15), last (16..23), lastOpt (24..31)
 *   word 9      DIRF: per direction 16 bits at dir * 16: tdFlags (bits 0..7), td_scale (8..15)
 *   word 10     LAST_END: end sequence (seq + len + SYN + FIN) of the last recorded packet
 *   word 11     LAST_AUX (see below)
 *
 * LAST_AUX: after an accepted ACK, a fingerprint of (seq, ack, window) for
 * retransmission detection; after an ignored SYN, its raw window; after an
 * ignored reply ACK in SYN_SENT, its ack number (to recognise a RST that
 * answers a challenge ACK).
 *
 * The fields mirror what conntrack keeps in struct ip_ct_tcp, packed:
 *  - per direction: td_end, td_maxend, td_maxwin, td_maxack, td_scale, flags;
 *  - per connection: state, the last packet's class/direction and a saturating
 *    retransmission counter (one byte), the options of the last ignored SYN
 *    plus the simultaneous-open / challenge-ACK marks (one byte), our own
 *    status bits (seen reply, assured, timeout inputs), the last segment's end
 *    sequence and one auxiliary word (see LAST_AUX below).
 */
import { TCP_IDX_NONE, TCP_STATE_NONE } from './tcp-states.js';

// ---- tdFlags bits (per direction), as conntrack's IP_CT_TCP_FLAG_* ----
/** This side sent the window scale option in its SYN / SYN-ACK. */
export const TDF_WSCALE = 0x01;
/** This side sent SACK-permitted. */
export const TDF_SACK_PERM = 0x02;
/** This side sent the first FIN (closing initiated here). */
export const TDF_CLOSE_INIT = 0x04;
/** Do not drop this side's packets on window-tracking failures. */
export const TDF_LIBERAL = 0x08;
/** This side has sent data the other side has not acknowledged yet. */
export const TDF_DATA_UNACK = 0x10;
/** tdMaxAck holds a value. */
export const TDF_MAXACK_SET = 0x20;

// ---- cflags bits (per connection) ----
/** A packet in the reply direction has been accepted (conntrack's IPS_SEEN_REPLY). */
export const CF_SEEN_REPLY = 0x01;
/** conntrack's IPS_ASSURED. */
export const CF_ASSURED = 0x02;
/** The last recorded window of the last-packet record was 0 (conntrack's last_win == 0). */
export const CF_LASTWIN0 = 0x04;
/** Inputs of the timeout choice for the last accepted packet: */
export const CF_RETRANS_HIT = 0x08; // retransmission count reached maxRetrans
export const CF_LAST_RST = 0x10; // it was a RST
export const CF_NOREPLY = 0x20; // it was processed before any reply was seen

// ---- lastOpt bits (per connection) ----
/** Window scale of the last ignored SYN (4 bits). */
export const LO_WSCALE_MASK = 0x0f;
export const LO_WSCALE = 0x10; // it carried the window scale option
export const LO_SACK_PERM = 0x20; // it carried SACK-permitted
/** A SYN was ignored in LAST_ACK: the next ACK may be an RFC 5961 challenge ACK. */
export const LO_CHALLENGE = 0x40;
/** Simultaneous open seen (SYN_SENT2 reached). */
export const LO_SIMOPEN = 0x80;

// ---- last byte layout ----
/** bits 0..2: class (TCP_IDX_*) of the last packet; bit 3: its direction; bits 4..7: retransmissions (saturating at 15). */
export const LAST_INDEX_MASK = 0x07;
export const LAST_DIR_SHIFT = 3;
export const LAST_RETRANS_SHIFT = 4;
export const RETRANS_MAX = 15;

// ---- Block layout (word offsets) ----
export const TCP_WORDS = 12;
/** Per-direction fields, at session base + dir * 4 + TD_*. */
export const TD_END = 0;
export const TD_MAXEND = 1;
export const TD_MAXWIN = 2;
export const TD_MAXACK = 3;
export const W_META = 8;
export const W_DIRF = 9;
export const W_LAST_END = 10;
export const W_LAST_AUX = 11;
/** Bit positions of the META bytes. */
export const M_CFLAGS = 8;
export const M_LAST = 16;
export const M_LASTOPT = 24;
/** Bit position of the td_scale byte within a direction's DIRF half. */
export const D_SCALE = 8;

/** META of a fresh session: state NONE, last class NONE. */
const META_CLEAR = TCP_STATE_NONE | (TCP_IDX_NONE << M_LAST);

export class TcpStore {
  static readonly BYTES_PER_SESSION = TCP_WORDS * 4;
  readonly capacity: number;
  /** TCP_WORDS words per session (see the file header). */
  readonly data: Uint32Array;

  /**
   * A block holds a session's state from its clear() on (tcpInit clears it);
   * the store is not written here, so its pages cost nothing until used.
   */
  constructor(capacity: number) {
    this.capacity = capacity;
    this.data = new Uint32Array(capacity * TCP_WORDS);
  }

  /** Forget session `id` (state NONE, no window data). */
  clear(id: number): void {
    const d = this.data;
    const b = id * TCP_WORDS;
    for (let i = b; i < b + TCP_WORDS; i++) d[i] = 0;
    d[b + W_META] = META_CLEAR;
  }
}

// ---- Field access (for the general paths, printing and tests; all inline-sized) ----
/** Word index of direction `dir`'s fields of session `id` (add TD_*). */
export function tdBase(id: number, dir: number): number {
  return id * TCP_WORDS + (dir << 2);
}
export function getState(s: TcpStore, id: number): number {
  return s.data[id * TCP_WORDS + W_META] & 0xff;
}
export function getCflags(s: TcpStore, id: number): number {
  return (s.data[id * TCP_WORDS + W_META] >>> M_CFLAGS) & 0xff;
}
export function getLast(s: TcpStore, id: number): number {
  return (s.data[id * TCP_WORDS + W_META] >>> M_LAST) & 0xff;
}
export function getLastOpt(s: TcpStore, id: number): number {
  return s.data[id * TCP_WORDS + W_META] >>> M_LASTOPT;
}
/** Set one META byte (`shift` 0 = state, M_CFLAGS, M_LAST, M_LASTOPT) to v (0..255). */
export function setMeta(s: TcpStore, id: number, shift: number, v: number): void {
  const i = id * TCP_WORDS + W_META;
  s.data[i] = (s.data[i] & ~(0xff << shift)) | (v << shift);
}
export function setState(s: TcpStore, id: number, v: number): void {
  setMeta(s, id, 0, v);
}
export function setCflags(s: TcpStore, id: number, v: number): void {
  setMeta(s, id, M_CFLAGS, v);
}
export function setLast(s: TcpStore, id: number, v: number): void {
  setMeta(s, id, M_LAST, v);
}
export function setLastOpt(s: TcpStore, id: number, v: number): void {
  setMeta(s, id, M_LASTOPT, v);
}
/** TDF_* of direction dir. */
export function getTdFlags(s: TcpStore, id: number, dir: number): number {
  return (s.data[id * TCP_WORDS + W_DIRF] >>> (dir << 4)) & 0xff;
}
export function setTdFlags(s: TcpStore, id: number, dir: number, v: number): void {
  const i = id * TCP_WORDS + W_DIRF;
  const sh = dir << 4;
  s.data[i] = (s.data[i] & ~(0xff << sh)) | (v << sh);
}
/** td_scale of direction dir. */
export function getTdScale(s: TcpStore, id: number, dir: number): number {
  return (s.data[id * TCP_WORDS + W_DIRF] >>> ((dir << 4) + D_SCALE)) & 0xff;
}
export function setTdScale(s: TcpStore, id: number, dir: number, v: number): void {
  const i = id * TCP_WORDS + W_DIRF;
  const sh = (dir << 4) + D_SCALE;
  s.data[i] = (s.data[i] & ~(0xff << sh)) | (v << sh);
}
/** td_end of direction dir: the sequence number that side sends next (highest seq + len seen). */
export function tcpNextSeq(s: TcpStore, id: number, dir: number): number {
  return s.data[tdBase(id, dir) + TD_END];
}
/** td_maxend of direction dir. */
export function tcpMaxEnd(s: TcpStore, id: number, dir: number): number {
  return s.data[tdBase(id, dir) + TD_MAXEND];
}
/** td_maxwin of direction dir (0 = direction not seen yet). */
export function tcpMaxWin(s: TcpStore, id: number, dir: number): number {
  return s.data[tdBase(id, dir) + TD_MAXWIN];
}
/** td_maxack of direction dir. */
export function tcpMaxAck(s: TcpStore, id: number, dir: number): number {
  return s.data[tdBase(id, dir) + TD_MAXACK];
}

// ---- Sequence-number arithmetic, mod 2^32 (RFC 1982 style) ----
/** a comes before b. Arguments may be any integers within +-2^52; the difference is taken mod 2^32. */
export function seqBefore(a: number, b: number): boolean {
  return ((a - b) | 0) < 0;
}
/** a comes after b. */
export function seqAfter(a: number, b: number): boolean {
  return ((b - a) | 0) < 0;
}
