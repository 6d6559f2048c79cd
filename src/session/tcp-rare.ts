/**
 * The less common cases of TCP tracking (see tcp-track.ts): packets let
 * through untracked, resynchronising from an ignored SYN, and the RST checks.
 */
import type { Packet } from '../wire/packet.js';
import {
  TCP_IDX_ACK,
  TCP_IDX_SYN,
  TCP_STATE_CLOSE,
  TCP_STATE_CLOSE_WAIT,
  TCP_STATE_ESTABLISHED,
  TCP_STATE_FIN_WAIT,
  TCP_STATE_LAST_ACK,
  TCP_STATE_SYN_SENT,
  TCP_STATE_TIME_WAIT,
} from './tcp-states.js';
import {
  CF_ASSURED,
  CF_LASTWIN0,
  CF_SEEN_REPLY,
  LAST_DIR_SHIFT,
  LO_CHALLENGE,
  LO_SACK_PERM,
  LO_WSCALE,
  LO_WSCALE_MASK,
  TDF_LIBERAL,
  TDF_MAXACK_SET,
  TDF_SACK_PERM,
  TDF_WSCALE,
  TCP_WORDS,
  TD_END,
  TD_MAXACK,
  TD_MAXEND,
  TD_MAXWIN,
  TcpStore,
  W_LAST_AUX,
  W_LAST_END,
  getCflags,
  getLast,
  getLastOpt,
  getTdFlags,
  seqBefore,
  setCflags,
  setLast,
  setLastOpt,
  setTdFlags,
  setTdScale,
  tdBase,
} from './tcp-store.js';
import { MAX_WSCALE, tcpSegmentEnd } from './tcp-window.js';
import { type TcpConfig } from './tcp-verdict.js';

// RST pre-check results (bits).
export const RST_KEEP_STATE = 1;
export const RST_SKIP_WINDOW = 2;
export const RST_INVALID = 4;

/** Record a packet we let through without tracking it (conntrack's sIG path). */
export function recordIgnored(
  s: TcpStore,
  id: number,
  dir: number,
  index: number,
  old: number,
  pkt: Packet,
): void {
  const win = pkt.window & 0xffff;
  const b = id * TCP_WORDS;
  setLast(s, id, (getLast(s, id) & ~0x0f) | index | (dir << LAST_DIR_SHIFT));
  s.data[b + W_LAST_END] = tcpSegmentEnd(pkt);
  s.data[b + W_LAST_AUX] = win;
  const c = getCflags(s, id);
  setCflags(s, id, win === 0 ? c | CF_LASTWIN0 : c & ~CF_LASTWIN0);
  if (index === TCP_IDX_SYN && dir === 0) {
    // Keep the SYN's options: if the server answers it, we resync from them.
    let o = 0;
    if (pkt.wscale >= 0) o |= LO_WSCALE | (pkt.wscale > MAX_WSCALE ? MAX_WSCALE : pkt.wscale);
    if (pkt.sackPermitted) o |= LO_SACK_PERM;
    // In LAST_ACK a SYN may draw a challenge ACK that must not count as the last ACK.
    if (old === TCP_STATE_LAST_ACK) o |= LO_CHALLENGE;
    setLastOpt(s, id, o);
  }
  // An ACK from the responder while we wait for its SYN-ACK may be a challenge ACK;
  // keep its ack number to recognise the client's RST answering it.
  if (old === TCP_STATE_SYN_SENT && index === TCP_IDX_ACK && dir === 1)
    s.data[b + W_LAST_AUX] = pkt.ack >>> 0;
}

/** A SYN-ACK in `dir` answered the SYN we ignored from the other direction: restart the handshake from it. */
export function resyncFromIgnoredSyn(s: TcpStore, id: number, dir: number): void {
  const d = s.data;
  const cdir = dir ^ 1; // the SYN's direction
  const ci = tdBase(id, cdir);
  const si = tdBase(id, dir);
  const o = getLastOpt(s, id);
  const win = d[id * TCP_WORDS + W_LAST_AUX];
  const lastEnd = d[id * TCP_WORDS + W_LAST_END];
  d[ci + TD_END] = lastEnd;
  d[ci + TD_MAXEND] = lastEnd;
  d[ci + TD_MAXWIN] = win === 0 ? 1 : win;
  d[ci + TD_MAXACK] = 0;
  setTdScale(s, id, cdir, o & LO_WSCALE_MASK);
  setTdFlags(
    s,
    id,
    cdir,
    (getTdFlags(s, id, cdir) & TDF_LIBERAL) |
      (o & LO_WSCALE ? TDF_WSCALE : 0) |
      (o & LO_SACK_PERM ? TDF_SACK_PERM : 0),
  );
  setLastOpt(s, id, o & ~LO_CHALLENGE);
  // The answering side starts afresh.
  d[si + TD_END] = 0;
  d[si + TD_MAXEND] = 0;
  d[si + TD_MAXWIN] = 0;
  d[si + TD_MAXACK] = 0;
  setTdScale(s, id, dir, 0);
  setTdFlags(s, id, dir, getTdFlags(s, id, dir) & TDF_LIBERAL);
}

/** Is the connection established and assured (conntrack's nf_conntrack_tcp_established)? */
function established(s: TcpStore, id: number, state: number): boolean {
  return state === TCP_STATE_ESTABLISHED && (getCflags(s, id) & CF_ASSURED) !== 0;
}

/**
 * Extra checks for a RST before the window check (conntrack's CLOSE case):
 * in closing states skip the window (the tuple may already be reused); else a
 * RST below the highest ack the peer sent is invalid; in an established
 * connection only a RST at exactly that sequence (or right after our last
 * segment) closes, others keep the state so a challenge ACK can follow; a RST
 * answering a SYN or ACK we let through skips the window check.
 */
export function rstCheck(
  s: TcpStore,
  id: number,
  dir: number,
  old: number,
  lastIndex: number,
  lastDir: number,
  pkt: Packet,
  cfg: TcpConfig,
): number {
  if (
    old === TCP_STATE_FIN_WAIT ||
    old === TCP_STATE_CLOSE_WAIT ||
    old === TCP_STATE_LAST_ACK ||
    old === TCP_STATE_TIME_WAIT ||
    old === TCP_STATE_CLOSE
  ) {
    return RST_SKIP_WINDOW;
  }
  const b = id * TCP_WORDS;
  const seq = pkt.seq >>> 0;
  let r = 0;
  if ((getTdFlags(s, id, dir ^ 1) & TDF_MAXACK_SET) !== 0 && lastIndex !== TCP_IDX_SYN) {
    const est = established(s, id, old);
    if (seq === 0 && !est) return 0;
    const maxAck = s.data[tdBase(id, dir ^ 1) + TD_MAXACK];
    if (seqBefore(seq, maxAck) && cfg.ignoreInvalidRst !== true) return RST_INVALID;
    if (!est || seq === maxAck) return 0;
    if (lastIndex === TCP_IDX_ACK && lastDir === dir && seq === s.data[b + W_LAST_END]) return 0;
    r = RST_KEEP_STATE;
  }
  const c = getCflags(s, id);
  const ackNo = pkt.ack >>> 0;
  if (
    (((c & CF_SEEN_REPLY) !== 0 && lastIndex === TCP_IDX_SYN) ||
      ((c & CF_ASSURED) === 0 && lastIndex === TCP_IDX_ACK)) &&
    ackNo === s.data[b + W_LAST_END]
  ) {
    return r | RST_SKIP_WINDOW; // RST to a SYN or half-open ACK we let through
  }
  if (
    old === TCP_STATE_SYN_SENT &&
    lastIndex === TCP_IDX_ACK &&
    lastDir === 1 &&
    seq === s.data[b + W_LAST_AUX]
  ) {
    return r | RST_SKIP_WINDOW; // RST answering a challenge ACK
  }
  return r;
}
