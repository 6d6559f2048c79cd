/**
 * TCP connection-tracking states, packet classes, valid flag sets and the
 * state transition table. The behaviour follows Linux conntrack
 * (net/netfilter/nf_conntrack_proto_tcp.c); the tables are written out here
 * from its documented semantics, not copied.
 */
import { TCP_ACK, TCP_CWR, TCP_ECE, TCP_FIN, TCP_PSH, TCP_RST, TCP_SYN, TCP_URG } from '../wire/packet.js';

// ---- States (numbering and names as conntrack's enum tcp_conntrack) ----
export const TCP_STATE_NONE = 0;
export const TCP_STATE_SYN_SENT = 1;
export const TCP_STATE_SYN_RECV = 2;
export const TCP_STATE_ESTABLISHED = 3;
export const TCP_STATE_FIN_WAIT = 4;
export const TCP_STATE_CLOSE_WAIT = 5;
export const TCP_STATE_LAST_ACK = 6;
export const TCP_STATE_TIME_WAIT = 7;
export const TCP_STATE_CLOSE = 8;
/** SYN seen from the reply direction too: simultaneous open. */
export const TCP_STATE_SYN_SENT2 = 9;
/** Number of real states. */
export const TCP_STATE_COUNT = 10;

/** Transition outcome (not a state): the packet is invalid in this state (conntrack's sIV). */
export const TCP_STATE_INVALID = 10;
/**
 * Transition outcome (not a state): the packet may be valid or not, and we may
 * be out of sync with the endpoints; let it through without changing state
 * (conntrack's sIG).
 */
export const TCP_STATE_IGNORE = 11;

export const TCP_STATE_NAMES: readonly string[] = [
  'NONE',
  'SYN_SENT',
  'SYN_RECV',
  'ESTABLISHED',
  'FIN_WAIT',
  'CLOSE_WAIT',
  'LAST_ACK',
  'TIME_WAIT',
  'CLOSE',
  'SYN_SENT2',
  'INVALID',
  'IGNORE',
];

// ---- Packet classes: the row index of the transition table ----
export const TCP_IDX_SYN = 0;
export const TCP_IDX_SYNACK = 1;
export const TCP_IDX_FIN = 2;
export const TCP_IDX_ACK = 3;
export const TCP_IDX_RST = 4;
export const TCP_IDX_NONE = 5;
export const TCP_IDX_NAMES: readonly string[] = ['SYN', 'SYN-ACK', 'FIN', 'ACK', 'RST', 'NONE'];

/** The class of a segment, by precedence RST > SYN(/ACK) > FIN > ACK (as conntrack's get_conntrack_index). */
export function tcpPacketIndex(flags: number): number {
  if ((flags & TCP_RST) !== 0) return TCP_IDX_RST;
  if ((flags & TCP_SYN) !== 0) return (flags & TCP_ACK) !== 0 ? TCP_IDX_SYNACK : TCP_IDX_SYN;
  if ((flags & TCP_FIN) !== 0) return TCP_IDX_FIN;
  if ((flags & TCP_ACK) !== 0) return TCP_IDX_ACK;
  return TCP_IDX_NONE;
}

// ---- Valid flag combinations ----
/**
 * PSH, ECE and CWR never make a combination invalid; of the remaining five
 * bits (FIN SYN RST ACK URG), only these nine combinations are valid. This is
 * conntrack's table: note that URG is allowed with SYN, ACK and FIN+ACK, but
 * not with SYN+ACK, RST or RST+ACK.
 */
const VALID_COMBOS = [
  TCP_SYN,
  TCP_SYN | TCP_URG,
  TCP_SYN | TCP_ACK,
  TCP_RST,
  TCP_RST | TCP_ACK,
  TCP_FIN | TCP_ACK,
  TCP_FIN | TCP_ACK | TCP_URG,
  TCP_ACK,
  TCP_ACK | TCP_URG,
];
/** Bit n set when the 5-bit combination n (FIN=1 SYN=2 RST=4 ACK=16 URG=32, compacted) is valid. */
let validMask = 0;
for (const c of VALID_COMBOS) validMask |= 1 << compact(c);
const VALID_MASK = validMask;
const IGNORED_FLAGS = TCP_PSH | TCP_ECE | TCP_CWR;

/** FIN SYN RST stay in bits 0..2, ACK (0x10) -> bit 3, URG (0x20) -> bit 4. PSH must already be masked off. */
function compact(f: number): number {
  return (f & 0x07) | ((f >> 1) & 0x18);
}

/** True when the TCP flag byte is a combination conntrack accepts. */
export function tcpValidFlags(flags: number): boolean {
  const f = flags & 0xff & ~IGNORED_FLAGS;
  return ((VALID_MASK >>> compact(f)) & 1) === 1;
}

// ---- Transition table ----
// Abbreviations local to this table.
const SS = TCP_STATE_SYN_SENT;
const SR = TCP_STATE_SYN_RECV;
const ES = TCP_STATE_ESTABLISHED;
const FW = TCP_STATE_FIN_WAIT;
const CW = TCP_STATE_CLOSE_WAIT;
const LA = TCP_STATE_LAST_ACK;
const TW = TCP_STATE_TIME_WAIT;
const CL = TCP_STATE_CLOSE;
const S2 = TCP_STATE_SYN_SENT2;
const IV = TCP_STATE_INVALID;
const IG = TCP_STATE_IGNORE;

/*
 * Rows: packet class; columns: current state in the order
 *   NONE  SYN_SENT SYN_RECV ESTAB FIN_WAIT CLOSE_WAIT LAST_ACK TIME_WAIT CLOSE SYN_SENT2
 *
 * Original direction (the initiator's packets):
 *  - SYN opens from NONE, is a retransmission in SYN_SENT / SYN_SENT2, reopens
 *    from TIME_WAIT / CLOSE; in a live connection it is suspect (the receiver
 *    will answer with RST or a challenge ACK), so it is ignored.
 *  - SYN-ACK from the initiator only makes sense in a simultaneous open.
 *  - FIN needs a SYN-ACK seen first; FIN after FIN -> LAST_ACK.
 *  - ACK: picks up a connection from NONE (loose), completes the handshake from
 *    SYN_RECV, answers the other side's FIN, and after both FINs -> TIME_WAIT.
 *    An ACK from the initiator before any SYN-ACK is invalid.
 *  - RST closes from any state except NONE.
 * Reply direction (the responder's packets):
 *  - SYN: simultaneous open from SYN_SENT; in TIME_WAIT a reopen with roles
 *    switched; otherwise invalid.
 *  - SYN-ACK: the normal answer in SYN_SENT / SYN_SENT2; a retransmission or
 *    an answer to a SYN we ignored in any later state: ignored.
 *  - ACK in SYN_SENT / SYN_SENT2 may belong to a half-open connection we do
 *    not know: ignored. ACK in SYN_RECV may answer a late retransmitted SYN.
 */
const ROWS: readonly (readonly number[])[] = [
  // ORIGINAL   NO  SS  SR  ES  FW  CW  LA  TW  CL  S2
  /* syn    */ [SS, SS, IG, IG, IG, IG, IG, SS, SS, S2],
  /* synack */ [IV, IV, SR, IV, IV, IV, IV, IV, IV, SR],
  /* fin    */ [IV, IV, FW, FW, LA, LA, LA, TW, CL, IV],
  /* ack    */ [ES, IV, ES, ES, CW, CW, TW, TW, CL, IV],
  /* rst    */ [IV, CL, CL, CL, CL, CL, CL, CL, CL, CL],
  /* none   */ [IV, IV, IV, IV, IV, IV, IV, IV, IV, IV],
  // REPLY      NO  SS  SR  ES  FW  CW  LA  TW  CL  S2
  /* syn    */ [IV, S2, IV, IV, IV, IV, IV, SS, IV, S2],
  /* synack */ [IV, SR, IG, IG, IG, IG, IG, IG, IG, SR],
  /* fin    */ [IV, IV, FW, FW, LA, LA, LA, TW, CL, IV],
  /* ack    */ [IV, IG, SR, ES, CW, CW, TW, TW, CL, IG],
  /* rst    */ [IV, CL, CL, CL, CL, CL, CL, CL, CL, CL],
  /* none   */ [IV, IV, IV, IV, IV, IV, IV, IV, IV, IV],
];

/** Flat table: [dir * 60 + index * 10 + state]. */
const TRANSITIONS = new Uint8Array(2 * 6 * TCP_STATE_COUNT);
ROWS.forEach((row, r) => row.forEach((s, c) => (TRANSITIONS[r * TCP_STATE_COUNT + c] = s)));

/**
 * The table's outcome for a packet of class `index` in direction `dir`
 * (0 original, 1 reply) in state `state`: a state, TCP_STATE_INVALID or
 * TCP_STATE_IGNORE. Further rules (reopen, challenge ACKs, RST checks,
 * simultaneous open) are applied by tcpTrack on top of this.
 */
export function tcpNextState(dir: number, index: number, state: number): number {
  return TRANSITIONS[dir * 60 + index * TCP_STATE_COUNT + state];
}
