/**
 * The common case of TCP tracking in one pass over the session's block: an
 * ACK-class segment (ACK with or without data/PSH/URG; no SYN, FIN or RST) of
 * an ESTABLISHED connection whose both directions have been seen, that passes
 * all four window checks. It does exactly what the general path (tcp-track.ts
 * track + tcp-window.ts tcpInWindow + the commit) does for such a segment:
 *  - window update: td_maxwin, td_end (+ data-unacked), td_maxack of the
 *    sender; td_maxwin (overrun) and td_maxend of the receiver; the
 *    receiver's data-unacked cleared when all its data is acked;
 *  - retransmission detection (last / last_end / last_aux, last_win == 0);
 *  - commit: the last packet's class and direction, timeout inputs, assured,
 *    seen-reply. The state stays ESTABLISHED.
 * Anything else, or a failed check, returns false before writing anything,
 * and the caller takes the general path.
 */
import type { Packet } from '../wire/packet.js';
import { TCP_ACK, TCP_FIN, TCP_RST, TCP_SYN } from '../wire/packet.js';

/** The fields of a segment the fast case reads: a decoded Packet's, or the session fast path's FastSegment. */
export type TcpSegmentFields = Pick<
  Packet,
  'tcpFlags' | 'seq' | 'ack' | 'window' | 'payloadLen' | 'hasSack' | 'sackMaxRight'
>;
import { TCP_IDX_ACK, TCP_STATE_ESTABLISHED } from './tcp-states.js';
import {
  CF_ASSURED,
  CF_LAST_RST,
  CF_LASTWIN0,
  CF_NOREPLY,
  CF_RETRANS_HIT,
  CF_SEEN_REPLY,
  D_SCALE,
  LAST_DIR_SHIFT,
  LAST_INDEX_MASK,
  LAST_RETRANS_SHIFT,
  M_CFLAGS,
  M_LAST,
  M_LASTOPT,
  RETRANS_MAX,
  TCP_WORDS,
  TD_END,
  TD_MAXACK,
  TD_MAXEND,
  TD_MAXWIN,
  TDF_DATA_UNACK,
  TDF_MAXACK_SET,
  TDF_SACK_PERM,
  W_DIRF,
  W_LAST_AUX,
  W_LAST_END,
  W_META,
  type TcpStore,
} from './tcp-store.js';
import type { TcpConfig } from './tcp-verdict.js';
import { MAXACKWINDOW_MIN } from './tcp-window.js';

const ACK_CLASS_MASK = TCP_FIN | TCP_SYN | TCP_RST | TCP_ACK;
const TIMEOUT_INPUTS = CF_RETRANS_HIT | CF_LAST_RST | CF_NOREPLY;

/** Track an in-window ESTABLISHED ACK/data segment; false (nothing written) when it is not one. */
export function tcpFastAck(
  s: TcpStore,
  id: number,
  dir: number,
  pkt: TcpSegmentFields,
  cfg: TcpConfig,
): boolean {
  if ((pkt.tcpFlags & ACK_CLASS_MASK) !== TCP_ACK) return false;
  const d = s.data;
  const b = id * TCP_WORDS;
  const meta = d[b + W_META];
  if ((meta & 0xff) !== TCP_STATE_ESTABLISHED) return false;
  const si = b + (dir << 2);
  const ri = b + ((dir ^ 1) << 2);
  const sMaxWin = d[si + TD_MAXWIN];
  const rMaxWin = d[ri + TD_MAXWIN];
  if (sMaxWin === 0 || rMaxWin === 0) return false;

  const dirf = d[b + W_DIRF];
  const sh = dir << 4;
  const rsh = sh ^ 16;
  const seq = pkt.seq >>> 0;
  const ack = pkt.ack >>> 0;
  let sack = ack;
  if (((dirf >>> rsh) & TDF_SACK_PERM) !== 0 && pkt.hasSack) {
    const right = pkt.sackMaxRight >>> 0;
    if (((sack - right) | 0) < 0) sack = right;
  }
  const end = (seq + pkt.payloadLen) >>> 0;
  const sEnd = d[si + TD_END];
  const sMaxEnd = d[si + TD_MAXEND];
  const rEnd = d[ri + TD_END];
  const maxAckWin = sMaxWin > MAXACKWINDOW_MIN ? sMaxWin : MAXACKWINDOW_MIN;
  // I: seq <= sender.maxend; III: sack <= receiver.end;
  // II: end > sender.end - receiver.maxwin - 1; IV: sack > receiver.end - maxackwin - 1.
  if (((seq - sMaxEnd - 1) | 0) >= 0) return false;
  if (((sack - rEnd - 1) | 0) >= 0) return false;
  if (((sEnd - rMaxWin - 1 - end) | 0) >= 0) return false;
  if (((rEnd - maxAckWin - 1 - sack) | 0) >= 0) return false;

  // ---- Window update (tcpInWindow's accepted path) ----
  const winRaw = pkt.window & 0xffff;
  const win = winRaw << ((dirf >>> (sh + D_SCALE)) & 0xff);
  const swin = (win + ((sack - ack) >>> 0)) >>> 0;
  if (sMaxWin < swin) d[si + TD_MAXWIN] = swin;
  let sFlags = (dirf >>> sh) & 0xff;
  let rFlags = (dirf >>> rsh) & 0xff;
  if (((sEnd - end) | 0) < 0) {
    d[si + TD_END] = end;
    sFlags |= TDF_DATA_UNACK;
  }
  if ((sFlags & TDF_MAXACK_SET) === 0) {
    d[si + TD_MAXACK] = ack;
    sFlags |= TDF_MAXACK_SET;
  } else if (((d[si + TD_MAXACK] - ack) | 0) < 0) {
    d[si + TD_MAXACK] = ack;
  }
  if (((sMaxEnd - end) | 0) < 0) d[ri + TD_MAXWIN] = rMaxWin + ((end - sMaxEnd) >>> 0);
  if (((d[ri + TD_MAXEND] - 1 - (sack + win)) | 0) < 0) d[ri + TD_MAXEND] = sack + win + (win === 0 ? 1 : 0);
  if (ack === rEnd) rFlags &= ~TDF_DATA_UNACK;
  d[b + W_DIRF] = (dirf & ~((0xff << sh) | (0xff << rsh))) | (sFlags << sh) | (rFlags << rsh);

  // ---- Retransmission detection ----
  // retransKey(seq, ack, winRaw), written out: V8 does not inline calls into a function this size.
  let key = Math.imul(seq ^ 0x5bd1e995, 0x9e3779b1);
  key = Math.imul(key ^ ack ^ (key >>> 15), 0x85ebca6b);
  key = Math.imul(key ^ winRaw ^ (key >>> 13), 0xc2b2ae35);
  key ^= key >>> 16;
  let last = (meta >>> M_LAST) & 0xff;
  let c = (meta >>> M_CFLAGS) & 0xff;
  if (
    ((last >> LAST_DIR_SHIFT) & 1) === dir &&
    d[b + W_LAST_END] === end &&
    (d[b + W_LAST_AUX] | 0) === key
  ) {
    if (last >> LAST_RETRANS_SHIFT < RETRANS_MAX) last += 1 << LAST_RETRANS_SHIFT;
  } else {
    last = (last & LAST_INDEX_MASK) | (dir << LAST_DIR_SHIFT);
    d[b + W_LAST_END] = end;
    d[b + W_LAST_AUX] = key;
    c = winRaw === 0 ? c | CF_LASTWIN0 : c & ~CF_LASTWIN0;
  }

  // ---- Commit (track's in-window tail with old = next = ESTABLISHED) ----
  last = (last & ~0x0f) | TCP_IDX_ACK | (dir << LAST_DIR_SHIFT);
  c &= ~TIMEOUT_INPUTS;
  if (last >> LAST_RETRANS_SHIFT >= (cfg.maxRetrans ?? 3)) c |= CF_RETRANS_HIT;
  if ((c & CF_SEEN_REPLY) === 0) c |= CF_NOREPLY;
  else c |= CF_ASSURED;
  if (dir === 1) c |= CF_SEEN_REPLY;
  d[b + W_META] = TCP_STATE_ESTABLISHED | (c << M_CFLAGS) | (last << M_LAST) | (meta & (0xff << M_LASTOPT));
  return true;
}
