/**
 * Window tracking after Guido van Rooij ("Real Stateful TCP Packet Filtering
 * in IP Filter"), with the boundaries and allowances Linux conntrack uses
 * (tcp_in_window). Per direction we keep
 *   end    = highest seq + len sent,
 *   maxend = highest ack + window (scaled) the receiver announced,
 *   maxwin = largest window (scaled) announced, grown when data overshoots,
 * and a segment must satisfy
 *   I.   seq <= sender.maxend                    (not beyond what the receiver allowed)
 *   II.  seq + len >= sender.end - receiver.maxwin (not older than one window)
 *   III. sack <= receiver.end                    (acks nothing unsent)
 *   IV.  sack >= receiver.end - MAXACKWINDOW     (acks nothing ancient)
 * where sack is the highest SACK right edge, or the ack number.
 * Written from the behaviour, not the code, of conntrack.
 */
import type { Packet } from '../wire/packet.js';
import { TCP_ACK, TCP_FIN, TCP_RST, TCP_SYN } from '../wire/packet.js';
import { TCP_IDX_ACK, TCP_STATE_SYN_RECV, TCP_STATE_SYN_SENT } from './tcp-states.js';
import {
  CF_LASTWIN0,
  LAST_DIR_SHIFT,
  LAST_INDEX_MASK,
  LAST_RETRANS_SHIFT,
  M_CFLAGS,
  M_LAST,
  RETRANS_MAX,
  TCP_WORDS,
  TD_END,
  TD_MAXACK,
  TD_MAXEND,
  TD_MAXWIN,
  TDF_DATA_UNACK,
  TDF_LIBERAL,
  TDF_MAXACK_SET,
  TDF_SACK_PERM,
  TDF_WSCALE,
  W_LAST_AUX,
  W_LAST_END,
  W_DIRF,
  W_META,
  D_SCALE,
  getTdFlags,
  seqAfter,
  seqBefore,
  setTdFlags,
  setTdScale,
  type TcpStore,
} from './tcp-store.js';

/** Results of tcpInWindow. */
export const WIN_ACCEPT = 0;
/** Let it through but change nothing (conntrack's NFCT_TCP_IGNORE). */
export const WIN_IGNORE = 1;
export const WIN_INVALID = 2;

/** The floor of the ack lower bound's window (conntrack's MAXACKWINCONST). */
export const MAXACKWINDOW_MIN = 66000;
/** RFC 7323 limit on the window scale shift. */
export const MAX_WSCALE = 14;

/** seq + payload length, counting SYN and FIN as one each, mod 2^32. */
export function tcpSegmentEnd(pkt: Packet): number {
  const f = pkt.tcpFlags;
  return (pkt.seq + pkt.payloadLen + (f & TCP_SYN ? 1 : 0) + (f & TCP_FIN ? 1 : 0)) >>> 0;
}

/** Record the SYN options of direction `dir` (td_scale, window-scale seen, SACK-permitted); keeps only the liberal bit. */
export function tcpApplySynOptions(s: TcpStore, id: number, dir: number, pkt: Packet): void {
  let fl = getTdFlags(s, id, dir) & TDF_LIBERAL;
  let scale = 0;
  if (pkt.wscale >= 0) {
    scale = pkt.wscale > MAX_WSCALE ? MAX_WSCALE : pkt.wscale;
    fl |= TDF_WSCALE;
  }
  if (pkt.sackPermitted) fl |= TDF_SACK_PERM;
  setTdScale(s, id, dir, scale);
  setTdFlags(s, id, dir, fl);
}

/** (Re)initialise a direction from its SYN or SYN-ACK. */
function initSender(s: TcpStore, id: number, dir: number, pkt: Packet, end: number, win: number): void {
  const si = id * TCP_WORDS + (dir << 2);
  s.data[si + TD_END] = end;
  s.data[si + TD_MAXEND] = end;
  s.data[si + TD_MAXWIN] = win === 0 ? 1 : win;
  tcpApplySynOptions(s, id, dir, pkt);
  // RFC 7323: scaling is in effect only if both sides sent the option; decided
  // when the reply direction's SYN(-ACK) is seen.
  if (dir === 1 && (getTdFlags(s, id, 0) & getTdFlags(s, id, 1) & TDF_WSCALE) === 0) {
    setTdScale(s, id, 0, 0);
    setTdScale(s, id, 1, 0);
  }
}

/** Fingerprint of (seq, ack, window) for retransmission detection. */
export function retransKey(seq: number, ack: number, win: number): number {
  let h = Math.imul(seq ^ 0x5bd1e995, 0x9e3779b1);
  h = Math.imul(h ^ ack ^ (h >>> 15), 0x85ebca6b);
  h = Math.imul(h ^ win ^ (h >>> 13), 0xc2b2ae35);
  // Signed: it stays a small integer through a call V8 does not inline (stored, it is the same word).
  return h ^ (h >>> 16);
}

/**
 * Check one segment against the windows and update them. `state` is the
 * connection's state before this packet, `index` its class (TCP_IDX_*).
 * `liberal` = the configuration's be-liberal; a direction's own liberal flag
 * is honoured too. In liberal mode a failing segment is accepted and still
 * updates the windows. `strictLowerBound` makes failures of checks II and IV
 * invalid (conntrack before Linux 5.19) instead of ignored (current conntrack).
 */
export function tcpInWindow(
  s: TcpStore,
  id: number,
  dir: number,
  index: number,
  state: number,
  pkt: Packet,
  liberal: boolean,
  strictLowerBound: boolean,
): number {
  const d = s.data;
  const base = id * TCP_WORDS;
  const si = base + (dir << 2);
  const ri = base + ((dir ^ 1) << 2);
  const fi = base + W_DIRF;
  const sh = dir << 4;
  const rsh = sh ^ 16;
  const flags = pkt.tcpFlags;
  const syn = (flags & TCP_SYN) !== 0;
  const hasAck = (flags & TCP_ACK) !== 0;
  const rst = (flags & TCP_RST) !== 0;
  let seq = pkt.seq >>> 0;
  let ack = pkt.ack >>> 0;
  let sack = ack;
  const winRaw = pkt.window & 0xffff;
  let win = winRaw;
  let end = tcpSegmentEnd(pkt);

  // SACK blocks count only when the receiver allowed SACK.
  if (((d[fi] >>> rsh) & TDF_SACK_PERM) !== 0 && pkt.hasSack && seqAfter(pkt.sackMaxRight >>> 0, sack)) {
    sack = pkt.sackMaxRight >>> 0;
  }

  if (d[si + TD_MAXWIN] === 0) {
    // First packet seen from this direction.
    if (syn) {
      initSender(s, id, dir, pkt, end, win);
      // A bare SYN from the reply side (simultaneous open): nothing to check yet.
      if (!hasAck) return WIN_ACCEPT;
    } else {
      // Mid-stream: we lost the history, take what the packet tells us.
      d[si + TD_END] = end;
      const swin = win << ((d[fi] >>> (sh + D_SCALE)) & 0xff);
      const mw = swin === 0 ? 1 : swin;
      d[si + TD_MAXWIN] = mw;
      d[si + TD_MAXEND] = end + mw;
      if (d[ri + TD_MAXWIN] === 0) {
        // Other direction not seen either: make checks III and IV pass.
        d[ri + TD_END] = sack;
        d[ri + TD_MAXEND] = sack;
      } else if (sack === (d[ri + TD_END] + 1) >>> 0) {
        // Probably the answer to a keepalive (which resends the last byte).
        d[ri + TD_END] = d[ri + TD_END] + 1;
      }
    }
  } else if (
    syn &&
    seqAfter(end, d[si + TD_END]) &&
    (state === TCP_STATE_SYN_SENT || state === TCP_STATE_SYN_RECV)
  ) {
    // A new SYN (or SYN-ACK) with a higher sequence during the handshake: the
    // endpoint restarted; re-initialise this direction from it (RFC 793).
    initSender(s, id, dir, pkt, end, win);
    if (dir === 1 && !hasAck) return WIN_ACCEPT;
  }

  if (!hasAck) {
    // No ACK: pretend it acknowledged exactly what we have seen.
    ack = sack = d[ri + TD_END];
  } else if (rst && ack === 0) {
    // Stacks that send RST+ACK with ack 0.
    ack = sack = d[ri + TD_END];
  }
  if (rst && seq === 0 && state === TCP_STATE_SYN_SENT) {
    // RST answering our SYN with seq 0.
    seq = end = d[si + TD_END];
  }

  const sEnd = d[si + TD_END];
  const sMaxEnd = d[si + TD_MAXEND];
  const rEnd = d[ri + TD_END];
  const rMaxWin = d[ri + TD_MAXWIN];
  const sMaxWin = d[si + TD_MAXWIN];
  const maxAckWin = sMaxWin > MAXACKWINDOW_MIN ? sMaxWin : MAXACKWINDOW_MIN;
  const lowerFail = strictLowerBound ? WIN_INVALID : WIN_IGNORE;
  const lib = liberal || ((d[fi] >>> sh) & TDF_LIBERAL) !== 0;

  let verdict = WIN_ACCEPT;
  if (!seqBefore(seq, sMaxEnd + 1)) {
    // I failed. Tolerate senders that overrun the receive window a little:
    // if all else is fine, remember the data (so its ACK will pass III) but
    // let the packet through unchanged otherwise.
    const overshot = (end - sMaxEnd + 1) >>> 0;
    const ackOk = seqAfter(sack, rEnd - maxAckWin - 1);
    const inRecvWin = rMaxWin !== 0 && seqAfter(end, sEnd - rMaxWin - 1);
    if (inRecvWin && ackOk && overshot <= rMaxWin && seqBefore(sack, rEnd + 1)) {
      if (!lib) {
        d[si + TD_END] = end;
        d[fi] |= TDF_DATA_UNACK << sh;
        return WIN_IGNORE;
      }
    } else {
      verdict = WIN_INVALID;
    }
  } else if (!seqBefore(sack, rEnd + 1)) {
    verdict = WIN_INVALID; // III: acks data not seen yet
  } else if (rMaxWin !== 0 && !seqAfter(end, sEnd - rMaxWin - 1)) {
    verdict = lowerFail; // II: already acknowledged data retransmitted
  } else if (!seqAfter(sack, rEnd - maxAckWin - 1)) {
    verdict = lowerFail; // IV: overly delayed ACK
  }
  if (verdict !== WIN_ACCEPT && !lib) return verdict;

  // ---- Accepted: update ----
  if (!syn) win = win << ((d[fi] >>> (sh + D_SCALE)) & 0xff); // <= 2^30, stays a positive int
  const swin = (win + ((sack - ack) >>> 0)) >>> 0;
  if (d[si + TD_MAXWIN] < swin) d[si + TD_MAXWIN] = swin;
  if (seqAfter(end, d[si + TD_END])) {
    d[si + TD_END] = end;
    d[fi] |= TDF_DATA_UNACK << sh;
  }
  if (hasAck) {
    if (((d[fi] >>> sh) & TDF_MAXACK_SET) === 0) {
      d[si + TD_MAXACK] = ack;
      d[fi] |= TDF_MAXACK_SET << sh;
    } else if (seqAfter(ack, d[si + TD_MAXACK])) {
      d[si + TD_MAXACK] = ack;
    }
  }
  // Receiver: a sender overrunning its maxend widens the receiver's window.
  if (d[ri + TD_MAXWIN] !== 0 && seqAfter(end, d[si + TD_MAXEND])) {
    d[ri + TD_MAXWIN] = d[ri + TD_MAXWIN] + ((end - d[si + TD_MAXEND]) >>> 0);
  }
  if (seqAfter(sack + win, d[ri + TD_MAXEND] - 1)) {
    d[ri + TD_MAXEND] = sack + win + (win === 0 ? 1 : 0);
  }
  if (ack === d[ri + TD_END]) d[fi] &= ~(TDF_DATA_UNACK << rsh);

  // Retransmission detection on ACK-class segments (same dir, seq, ack, end, window).
  if (index === TCP_IDX_ACK) {
    const key = retransKey(seq, ack, winRaw);
    const mi = base + W_META;
    const meta = d[mi];
    const last = (meta >>> M_LAST) & 0xff;
    if (
      ((last >> LAST_DIR_SHIFT) & 1) === dir &&
      d[base + W_LAST_END] === end &&
      (d[base + W_LAST_AUX] | 0) === key
    ) {
      const n = last >> LAST_RETRANS_SHIFT;
      if (n < RETRANS_MAX) d[mi] = meta + (1 << (LAST_RETRANS_SHIFT + M_LAST));
    } else {
      const nl = (last & LAST_INDEX_MASK) | (dir << LAST_DIR_SHIFT);
      let m = (meta & ~(0xff << M_LAST)) | (nl << M_LAST);
      if (winRaw === 0) m |= CF_LASTWIN0 << M_CFLAGS;
      else m &= ~(CF_LASTWIN0 << M_CFLAGS);
      d[mi] = m;
      d[base + W_LAST_END] = end;
      d[base + W_LAST_AUX] = key;
    }
  }
  return WIN_ACCEPT;
}
