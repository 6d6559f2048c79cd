/**
 * TCP connection tracking: the per-packet state machine and verdict, after
 * Linux conntrack's nf_conntrack_proto_tcp.c (tcp_new, nf_conntrack_tcp_packet,
 * tcp_in_window), written from its documented behaviour. State lives in a
 * TcpStore (typed arrays); nothing here allocates or throws.
 *
 * Use:
 *   miss:  r = tcpCanCreate(pkt, cfg); if (r) drop(r) else { create id; tcpInit(store, id, pkt, cfg) }
 *   hit:   r = tcpTrack(store, id, dir, pkt, cfg)
 *          TCP_OK     -> forward, refresh the timer with tcpTimeoutMs(store, id, timeouts)
 *          TCP_IGNORE -> forward, leave the timer alone
 *          TCP_REOPEN -> delete the session, then handle pkt as a miss (it is a SYN)
 *          otherwise  -> drop with reason tcpVerdictName(r)   (tcpIsDrop(r) is true)
 */
import type { Packet } from '../wire/packet.js';
import { TCP_SYN } from '../wire/packet.js';
import {
  TCP_IDX_ACK,
  TCP_IDX_FIN,
  TCP_IDX_RST,
  TCP_IDX_SYN,
  TCP_IDX_SYNACK,
  TCP_STATE_CLOSE,
  TCP_STATE_CLOSE_WAIT,
  TCP_STATE_ESTABLISHED,
  TCP_STATE_FIN_WAIT,
  TCP_STATE_IGNORE,
  TCP_STATE_INVALID,
  TCP_STATE_LAST_ACK,
  TCP_STATE_NONE,
  TCP_STATE_SYN_RECV,
  TCP_STATE_SYN_SENT,
  TCP_STATE_SYN_SENT2,
  TCP_STATE_TIME_WAIT,
  tcpNextState,
  tcpPacketIndex,
  tcpValidFlags,
} from './tcp-states.js';
import {
  CF_ASSURED,
  CF_LAST_RST,
  CF_LASTWIN0,
  CF_NOREPLY,
  CF_RETRANS_HIT,
  CF_SEEN_REPLY,
  LAST_DIR_SHIFT,
  LAST_INDEX_MASK,
  LAST_RETRANS_SHIFT,
  LO_CHALLENGE,
  LO_SACK_PERM,
  LO_SIMOPEN,
  LO_WSCALE,
  LO_WSCALE_MASK,
  TDF_CLOSE_INIT,
  TDF_LIBERAL,
  TDF_MAXACK_SET,
  TDF_SACK_PERM,
  TDF_WSCALE,
  TcpStore,
  seqBefore,
} from './tcp-store.js';
import {
  MAX_WSCALE,
  WIN_ACCEPT,
  WIN_IGNORE,
  tcpApplySynOptions,
  tcpInWindow,
  tcpSegmentEnd,
} from './tcp-window.js';
import {
  TCP_IGNORE,
  TCP_INVALID_FLAGS,
  TCP_INVALID_STATE,
  TCP_NO_SESSION,
  TCP_OK,
  TCP_OUT_OF_WINDOW,
  TCP_REOPEN,
  type TcpConfig,
} from './tcp-verdict.js';

export { TcpStore } from './tcp-store.js';
export * from './tcp-verdict.js';
export * from './tcp-timeouts.js';

// ---- Session creation ----
/**
 * May this packet (no session found) create one? TCP_OK for a SYN without
 * ACK, and with loose pickup for an ACK-class packet (ACK, with or without
 * data/PSH/URG, no SYN/FIN/RST) as conntrack's NONE row allows. Otherwise
 * TCP_INVALID_FLAGS or TCP_NO_SESSION.
 */
export function tcpCanCreate(pkt: Packet, cfg: TcpConfig): number {
  const flags = pkt.tcpFlags;
  if (!tcpValidFlags(flags)) return TCP_INVALID_FLAGS;
  const next = tcpNextState(0, tcpPacketIndex(flags), TCP_STATE_NONE);
  if (next === TCP_STATE_SYN_SENT) return TCP_OK;
  if (next === TCP_STATE_ESTABLISHED && cfg.loose) return TCP_OK;
  return TCP_NO_SESSION;
}

/**
 * Initialise session `id`, created by `pkt` in the original direction, like
 * conntrack's tcp_new followed by its first tcp_packet: a SYN gives SYN_SENT
 * with this side's window and options; a mid-stream packet gives ESTABLISHED
 * with windows guessed from the packet, SACK assumed and both directions
 * liberal (window scale cannot be known after the handshake, so conntrack keeps
 * such connections liberal for good). Returns TCP_OK, or the tcpCanCreate
 * reason (then the session is left cleared).
 */
export function tcpInit(store: TcpStore, id: number, pkt: Packet, cfg: TcpConfig): number {
  store.clear(id);
  const r = tcpCanCreate(pkt, cfg);
  if (r !== TCP_OK) return r;
  const i = id * 2;
  const win = pkt.window & 0xffff;
  const end = tcpSegmentEnd(pkt);
  store.tdEnd[i] = end;
  store.tdMaxWin[i] = win === 0 ? 1 : win;
  if ((pkt.tcpFlags & TCP_SYN) !== 0) {
    store.tdMaxEnd[i] = end;
    tcpApplySynOptions(store, i, pkt);
  } else {
    store.tdMaxEnd[i] = end + store.tdMaxWin[i];
    store.tdFlags[i] = TDF_SACK_PERM | TDF_LIBERAL;
    store.tdFlags[i + 1] = TDF_SACK_PERM | TDF_LIBERAL;
  }
  return track(store, id, 0, pkt, cfg);
}

/**
 * Track one packet of session `id` in direction `dir` (0 original, 1 reply).
 * Returns TCP_OK, TCP_IGNORE, TCP_REOPEN or a drop code (see the file header).
 * `_nowMs` is accepted for API symmetry; tracking does not depend on time.
 */
export function tcpTrack(
  store: TcpStore,
  id: number,
  dir: 0 | 1,
  pkt: Packet,
  cfg: TcpConfig,
  _nowMs?: number,
): number {
  if (!tcpValidFlags(pkt.tcpFlags)) return TCP_INVALID_FLAGS;
  return track(store, id, dir, pkt, cfg);
}

// RST pre-check results (bits).
const RST_KEEP_STATE = 1;
const RST_SKIP_WINDOW = 2;
const RST_INVALID = 4;

function track(s: TcpStore, id: number, dir: number, pkt: Packet, cfg: TcpConfig): number {
  const index = tcpPacketIndex(pkt.tcpFlags);
  const si = id * 2 + dir;
  const ri = si ^ 1;
  const storedState = s.state[id];
  let old = storedState;
  let next = tcpNextState(dir, index, old);
  const last = s.last[id];
  const lastIndex = last & LAST_INDEX_MASK;
  const lastDir = (last >> LAST_DIR_SHIFT) & 1;
  let skipWindow = false;

  let ignore = next === TCP_STATE_IGNORE;
  if (next === TCP_STATE_SYN_SENT && old >= TCP_STATE_TIME_WAIT) {
    // SYN after the connection closed (RFC 1122 4.2.2.13 allows reopening from
    // TIME-WAIT). If a close or abort really happened, start over; otherwise we
    // may be out of sync with the endpoints: let it pass as an ignored SYN.
    if (
      ((s.tdFlags[si] | s.tdFlags[ri]) & TDF_CLOSE_INIT) !== 0 ||
      (lastDir === dir && lastIndex === TCP_IDX_RST)
    ) {
      return TCP_REOPEN;
    }
    ignore = true;
  }
  if (ignore) {
    if (
      index === TCP_IDX_SYNACK &&
      lastIndex === TCP_IDX_SYN &&
      lastDir !== dir &&
      pkt.ack >>> 0 === s.lastEnd[id]
    ) {
      // This SYN-ACK answers the SYN we let through: the endpoints are in sync
      // and we were not. Rebuild the handshake from the recorded SYN.
      resyncFromIgnoredSyn(s, id, dir);
      old = TCP_STATE_SYN_SENT;
      next = TCP_STATE_SYN_RECV;
    } else {
      recordIgnored(s, id, dir, index, old, pkt);
      if (dir === 1) s.cflags[id] |= CF_SEEN_REPLY;
      return TCP_IGNORE;
    }
  } else if (next === TCP_STATE_INVALID) {
    return TCP_INVALID_STATE;
  } else if (next === TCP_STATE_TIME_WAIT) {
    if (
      old === TCP_STATE_LAST_ACK &&
      index === TCP_IDX_ACK &&
      lastDir !== dir &&
      lastIndex === TCP_IDX_SYN &&
      (s.lastOpt[id] & LO_CHALLENGE) !== 0
    ) {
      // RFC 5961 challenge ACK to a SYN we ignored in LAST_ACK: it does not
      // acknowledge the last FIN.
      s.lastOpt[id] &= ~LO_CHALLENGE;
      if (dir === 1) s.cflags[id] |= CF_SEEN_REPLY;
      return TCP_IGNORE;
    }
  } else if (next === TCP_STATE_SYN_SENT2) {
    s.lastOpt[id] |= LO_SIMOPEN;
  } else if (next === TCP_STATE_SYN_RECV) {
    // In a simultaneous open the final ACK comes from the reply side.
    if (dir === 1 && index === TCP_IDX_ACK && (s.lastOpt[id] & LO_SIMOPEN) !== 0)
      next = TCP_STATE_ESTABLISHED;
  } else if (next === TCP_STATE_CLOSE && index === TCP_IDX_RST) {
    const r = rstCheck(s, id, dir, old, lastIndex, lastDir, pkt, cfg);
    if ((r & RST_INVALID) !== 0) return TCP_OUT_OF_WINDOW;
    if ((r & RST_KEEP_STATE) !== 0) next = old;
    skipWindow = (r & RST_SKIP_WINDOW) !== 0;
  }

  if (!skipWindow) {
    const w = tcpInWindow(s, id, dir, index, storedState, pkt, cfg.liberal, cfg.strictLowerBound === true);
    if (w === WIN_IGNORE) {
      if (dir === 1) s.cflags[id] |= CF_SEEN_REPLY;
      return TCP_IGNORE;
    }
    if (w !== WIN_ACCEPT) {
      // conntrack remembers an invalid FIN/RST of an assured connection so that
      // the other side's answering FIN/RST can shorten its timeout; we only keep
      // the record (the timer is the caller's).
      if ((s.cflags[id] & CF_ASSURED) !== 0 && (index === TCP_IDX_RST || index === TCP_IDX_FIN)) {
        const answersOther = lastDir !== dir && (lastIndex === TCP_IDX_FIN || lastIndex === TCP_IDX_RST);
        if (!answersOther) s.last[id] = (s.last[id] & ~0x0f) | index | (dir << LAST_DIR_SHIFT);
      }
      return TCP_OUT_OF_WINDOW;
    }
  }

  // ---- In window: commit ----
  s.last[id] = (s.last[id] & ~0x0f) | index | (dir << LAST_DIR_SHIFT);
  s.state[id] = next;
  if (old !== next && next === TCP_STATE_FIN_WAIT) s.tdFlags[si] |= TDF_CLOSE_INIT;

  let c = s.cflags[id] & ~(CF_RETRANS_HIT | CF_LAST_RST | CF_NOREPLY);
  const maxRetrans = cfg.maxRetrans ?? 3;
  if (s.last[id] >> LAST_RETRANS_SHIFT >= maxRetrans) c |= CF_RETRANS_HIT;
  if (index === TCP_IDX_RST) c |= CF_LAST_RST;
  const seenReply = (c & CF_SEEN_REPLY) !== 0;
  if (!seenReply) {
    c |= CF_NOREPLY;
  } else if (
    (c & CF_ASSURED) === 0 &&
    (old === TCP_STATE_SYN_RECV || old === TCP_STATE_ESTABLISHED) &&
    next === TCP_STATE_ESTABLISHED
  ) {
    // A valid ACK in ESTABLISHED after SYN_RECV, or a valid answer to a picked-up connection.
    c |= CF_ASSURED;
  }
  if (dir === 1) c |= CF_SEEN_REPLY;
  s.cflags[id] = c;
  // A retransmitted SYN with no answer yet must not keep the entry alive forever.
  if (!seenReply && index === TCP_IDX_SYN && old === TCP_STATE_SYN_SENT) return TCP_IGNORE;
  return TCP_OK;
}

/** Record a packet we let through without tracking it (conntrack's sIG path). */
function recordIgnored(s: TcpStore, id: number, dir: number, index: number, old: number, pkt: Packet): void {
  const win = pkt.window & 0xffff;
  s.last[id] = (s.last[id] & ~0x0f) | index | (dir << LAST_DIR_SHIFT);
  s.lastEnd[id] = tcpSegmentEnd(pkt);
  s.lastAux[id] = win;
  if (win === 0) s.cflags[id] |= CF_LASTWIN0;
  else s.cflags[id] &= ~CF_LASTWIN0;
  if (index === TCP_IDX_SYN && dir === 0) {
    // Keep the SYN's options: if the server answers it, we resync from them.
    let o = 0;
    if (pkt.wscale >= 0) o |= LO_WSCALE | (pkt.wscale > MAX_WSCALE ? MAX_WSCALE : pkt.wscale);
    if (pkt.sackPermitted) o |= LO_SACK_PERM;
    // In LAST_ACK a SYN may draw a challenge ACK that must not count as the last ACK.
    if (old === TCP_STATE_LAST_ACK) o |= LO_CHALLENGE;
    s.lastOpt[id] = o;
  }
  // An ACK from the responder while we wait for its SYN-ACK may be a challenge ACK;
  // keep its ack number to recognise the client's RST answering it.
  if (old === TCP_STATE_SYN_SENT && index === TCP_IDX_ACK && dir === 1) s.lastAux[id] = pkt.ack >>> 0;
}

/** A SYN-ACK in `dir` answered the SYN we ignored from the other direction: restart the handshake from it. */
function resyncFromIgnoredSyn(s: TcpStore, id: number, dir: number): void {
  const ci = id * 2 + (dir ^ 1); // the SYN's direction
  const si = id * 2 + dir;
  const o = s.lastOpt[id];
  const win = s.lastAux[id];
  s.tdEnd[ci] = s.lastEnd[id];
  s.tdMaxEnd[ci] = s.lastEnd[id];
  s.tdMaxWin[ci] = win === 0 ? 1 : win;
  s.tdMaxAck[ci] = 0;
  s.tdScale[ci] = o & LO_WSCALE_MASK;
  s.tdFlags[ci] =
    (s.tdFlags[ci] & TDF_LIBERAL) | (o & LO_WSCALE ? TDF_WSCALE : 0) | (o & LO_SACK_PERM ? TDF_SACK_PERM : 0);
  s.lastOpt[id] = o & ~LO_CHALLENGE;
  // The answering side starts afresh.
  s.tdEnd[si] = 0;
  s.tdMaxEnd[si] = 0;
  s.tdMaxWin[si] = 0;
  s.tdMaxAck[si] = 0;
  s.tdScale[si] = 0;
  s.tdFlags[si] &= TDF_LIBERAL;
}

/** Is the connection established and assured (conntrack's nf_conntrack_tcp_established)? */
function established(s: TcpStore, id: number, state: number): boolean {
  return state === TCP_STATE_ESTABLISHED && (s.cflags[id] & CF_ASSURED) !== 0;
}

/**
 * Extra checks for a RST before the window check (conntrack's CLOSE case):
 * in closing states skip the window (the tuple may already be reused); else a
 * RST below the highest ack the peer sent is invalid; in an established
 * connection only a RST at exactly that sequence (or right after our last
 * segment) closes, others keep the state so a challenge ACK can follow; a RST
 * answering a SYN or ACK we let through skips the window check.
 */
function rstCheck(
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
  const ri = id * 2 + (dir ^ 1);
  const seq = pkt.seq >>> 0;
  let r = 0;
  if ((s.tdFlags[ri] & TDF_MAXACK_SET) !== 0 && lastIndex !== TCP_IDX_SYN) {
    const est = established(s, id, old);
    if (seq === 0 && !est) return 0;
    const maxAck = s.tdMaxAck[ri];
    if (seqBefore(seq, maxAck) && cfg.ignoreInvalidRst !== true) return RST_INVALID;
    if (!est || seq === maxAck) return 0;
    if (lastIndex === TCP_IDX_ACK && lastDir === dir && seq === s.lastEnd[id]) return 0;
    r = RST_KEEP_STATE;
  }
  const c = s.cflags[id];
  const ackNo = pkt.ack >>> 0;
  if (
    (((c & CF_SEEN_REPLY) !== 0 && lastIndex === TCP_IDX_SYN) ||
      ((c & CF_ASSURED) === 0 && lastIndex === TCP_IDX_ACK)) &&
    ackNo === s.lastEnd[id]
  ) {
    return r | RST_SKIP_WINDOW; // RST to a SYN or half-open ACK we let through
  }
  if (old === TCP_STATE_SYN_SENT && lastIndex === TCP_IDX_ACK && lastDir === 1 && seq === s.lastAux[id]) {
    return r | RST_SKIP_WINDOW; // RST answering a challenge ACK
  }
  return r;
}
