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
  CF_NOREPLY,
  CF_RETRANS_HIT,
  CF_SEEN_REPLY,
  LAST_DIR_SHIFT,
  LAST_INDEX_MASK,
  LAST_RETRANS_SHIFT,
  LO_CHALLENGE,
  LO_SIMOPEN,
  TDF_CLOSE_INIT,
  TDF_LIBERAL,
  TDF_SACK_PERM,
  TCP_WORDS,
  TD_END,
  TD_MAXEND,
  TD_MAXWIN,
  TcpStore,
  M_CFLAGS,
  M_LAST,
  M_LASTOPT,
  W_LAST_END,
  W_META,
  getCflags,
  getLast,
  getLastOpt,
  getState,
  getTdFlags,
  setCflags,
  setLast,
  setLastOpt,
  setTdFlags,
} from './tcp-store.js';
import { tcpFastAck } from './tcp-fast.js';
import {
  RST_INVALID,
  RST_KEEP_STATE,
  RST_SKIP_WINDOW,
  recordIgnored,
  resyncFromIgnoredSyn,
  rstCheck,
} from './tcp-rare.js';
import { WIN_ACCEPT, WIN_IGNORE, tcpApplySynOptions, tcpInWindow, tcpSegmentEnd } from './tcp-window.js';
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
  const d = store.data;
  const i = id * TCP_WORDS; // direction 0
  const win = pkt.window & 0xffff;
  const end = tcpSegmentEnd(pkt);
  const mw = win === 0 ? 1 : win;
  d[i + TD_END] = end;
  d[i + TD_MAXWIN] = mw;
  if ((pkt.tcpFlags & TCP_SYN) !== 0) {
    d[i + TD_MAXEND] = end;
    tcpApplySynOptions(store, id, 0, pkt);
  } else {
    d[i + TD_MAXEND] = end + mw;
    setTdFlags(store, id, 0, TDF_SACK_PERM | TDF_LIBERAL);
    setTdFlags(store, id, 1, TDF_SACK_PERM | TDF_LIBERAL);
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
  if (tcpFastAck(store, id, dir, pkt, cfg)) return TCP_OK;
  if (!tcpValidFlags(pkt.tcpFlags)) return TCP_INVALID_FLAGS;
  return track(store, id, dir, pkt, cfg);
}

/**
 * tcpTrack without the ESTABLISHED fast path (tcp-fast.ts): every packet takes
 * the general path. For tests that check the fast path changes nothing.
 */
export function tcpTrackGeneral(
  store: TcpStore,
  id: number,
  dir: 0 | 1,
  pkt: Packet,
  cfg: TcpConfig,
): number {
  if (!tcpValidFlags(pkt.tcpFlags)) return TCP_INVALID_FLAGS;
  return track(store, id, dir, pkt, cfg);
}

function track(s: TcpStore, id: number, dir: number, pkt: Packet, cfg: TcpConfig): number {
  const index = tcpPacketIndex(pkt.tcpFlags);
  const storedState = getState(s, id);
  let old = storedState;
  let next = tcpNextState(dir, index, old);
  const last = getLast(s, id);
  const lastIndex = last & LAST_INDEX_MASK;
  const lastDir = (last >> LAST_DIR_SHIFT) & 1;
  let skipWindow = false;

  if (
    cfg.asymmetric === true &&
    index === TCP_IDX_ACK &&
    ((dir === 0 && old === TCP_STATE_SYN_SENT) || (dir === 1 && old === TCP_STATE_SYN_RECV))
  ) {
    // The SYN-ACK (or the client's ACK) went through the peer: see TcpConfig.asymmetric.
    next = TCP_STATE_ESTABLISHED;
  }
  let ignore = next === TCP_STATE_IGNORE;
  if (next === TCP_STATE_SYN_SENT && old >= TCP_STATE_TIME_WAIT) {
    // SYN after the connection closed (RFC 1122 4.2.2.13 allows reopening from
    // TIME-WAIT). If a close or abort really happened, start over; otherwise we
    // may be out of sync with the endpoints: let it pass as an ignored SYN.
    if (
      ((getTdFlags(s, id, 0) | getTdFlags(s, id, 1)) & TDF_CLOSE_INIT) !== 0 ||
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
      pkt.ack >>> 0 === s.data[id * TCP_WORDS + W_LAST_END]
    ) {
      // This SYN-ACK answers the SYN we let through: the endpoints are in sync
      // and we were not. Rebuild the handshake from the recorded SYN.
      resyncFromIgnoredSyn(s, id, dir);
      old = TCP_STATE_SYN_SENT;
      next = TCP_STATE_SYN_RECV;
    } else {
      recordIgnored(s, id, dir, index, old, pkt);
      if (dir === 1) setCflags(s, id, getCflags(s, id) | CF_SEEN_REPLY);
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
      (getLastOpt(s, id) & LO_CHALLENGE) !== 0
    ) {
      // RFC 5961 challenge ACK to a SYN we ignored in LAST_ACK: it does not
      // acknowledge the last FIN.
      setLastOpt(s, id, getLastOpt(s, id) & ~LO_CHALLENGE);
      if (dir === 1) setCflags(s, id, getCflags(s, id) | CF_SEEN_REPLY);
      return TCP_IGNORE;
    }
  } else if (next === TCP_STATE_SYN_SENT2) {
    setLastOpt(s, id, getLastOpt(s, id) | LO_SIMOPEN);
  } else if (next === TCP_STATE_SYN_RECV) {
    // In a simultaneous open the final ACK comes from the reply side.
    if (dir === 1 && index === TCP_IDX_ACK && (getLastOpt(s, id) & LO_SIMOPEN) !== 0)
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
      if (dir === 1) setCflags(s, id, getCflags(s, id) | CF_SEEN_REPLY);
      return TCP_IGNORE;
    }
    if (w !== WIN_ACCEPT) {
      // conntrack remembers an invalid FIN/RST of an assured connection so that
      // the other side's answering FIN/RST can shorten its timeout; we only keep
      // the record (the timer is the caller's).
      if ((getCflags(s, id) & CF_ASSURED) !== 0 && (index === TCP_IDX_RST || index === TCP_IDX_FIN)) {
        const answersOther = lastDir !== dir && (lastIndex === TCP_IDX_FIN || lastIndex === TCP_IDX_RST);
        if (!answersOther) setLast(s, id, (getLast(s, id) & ~0x0f) | index | (dir << LAST_DIR_SHIFT));
      }
      return TCP_OUT_OF_WINDOW;
    }
  }

  // ---- In window: commit ----
  const mi = id * TCP_WORDS + W_META;
  const meta = s.data[mi];
  const newLast = ((meta >>> M_LAST) & 0xf0) | index | (dir << LAST_DIR_SHIFT);
  if (old !== next && next === TCP_STATE_FIN_WAIT)
    setTdFlags(s, id, dir, getTdFlags(s, id, dir) | TDF_CLOSE_INIT);

  let c = (meta >>> M_CFLAGS) & 0xff & ~(CF_RETRANS_HIT | CF_LAST_RST | CF_NOREPLY);
  const maxRetrans = cfg.maxRetrans ?? 3;
  if (newLast >> LAST_RETRANS_SHIFT >= maxRetrans) c |= CF_RETRANS_HIT;
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
  s.data[mi] = next | (c << M_CFLAGS) | (newLast << M_LAST) | (meta & (0xff << M_LASTOPT));
  // A retransmitted SYN with no answer yet must not keep the entry alive forever.
  if (!seenReply && index === TCP_IDX_SYN && old === TCP_STATE_SYN_SENT) return TCP_IGNORE;
  return TCP_OK;
}
