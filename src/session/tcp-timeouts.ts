/**
 * TCP session timeouts as conntrack chooses them, and status queries.
 */
import {
  CF_ASSURED,
  CF_LAST_RST,
  CF_LASTWIN0,
  CF_NOREPLY,
  CF_RETRANS_HIT,
  CF_SEEN_REPLY,
  M_CFLAGS,
  TCP_WORDS,
  TDF_DATA_UNACK,
  W_DIRF,
  W_META,
  type TcpStore,
} from './tcp-store.js';
import {
  TCP_STATE_CLOSE,
  TCP_STATE_CLOSE_WAIT,
  TCP_STATE_ESTABLISHED,
  TCP_STATE_FIN_WAIT,
  TCP_STATE_LAST_ACK,
  TCP_STATE_SYN_RECV,
  TCP_STATE_SYN_SENT2,
  TCP_STATE_TIME_WAIT,
} from './tcp-states.js';

// ---- Timeouts (seconds; keys as the shared Timeouts['tcp'] of timeouts.ts) ----
export interface TcpTimeouts {
  synSent: number;
  synRecv: number;
  established: number;
  finWait: number;
  closeWait: number;
  lastAck: number;
  timeWait: number;
  close: number;
  synSent2: number;
  /** After maxRetrans retransmissions, or a zero window (conntrack's RETRANS, 300). */
  retrans?: number;
  /** While data is unacknowledged, or a picked-up connection has no reply yet (conntrack's UNACK, 300). */
  unack?: number;
}
export const DEFAULT_TCP_TIMEOUTS: Readonly<TcpTimeouts> = {
  synSent: 120,
  synRecv: 60,
  established: 432000,
  finWait: 120,
  closeWait: 60,
  lastAck: 30,
  timeWait: 120,
  close: 10,
  synSent2: 120,
  retrans: 300,
  unack: 300,
};

/** The plain timeout (seconds) of a state. */
export function tcpStateTimeout(t: TcpTimeouts, state: number): number {
  switch (state) {
    case TCP_STATE_SYN_RECV:
      return t.synRecv;
    case TCP_STATE_ESTABLISHED:
      return t.established;
    case TCP_STATE_FIN_WAIT:
      return t.finWait;
    case TCP_STATE_CLOSE_WAIT:
      return t.closeWait;
    case TCP_STATE_LAST_ACK:
      return t.lastAck;
    case TCP_STATE_TIME_WAIT:
      return t.timeWait;
    case TCP_STATE_CLOSE:
      return t.close;
    case TCP_STATE_SYN_SENT2:
      return t.synSent2;
    default:
      return t.synSent; // SYN_SENT (and NONE, as conntrack's UNSPEC)
  }
}

/**
 * The timeout (ms) to arm after the last TCP_OK packet, chosen as conntrack
 * does: RETRANS after too many retransmissions; CLOSE after a RST; UNACK while
 * data is unacknowledged; RETRANS after a zero window; else the state's own.
 * Before any reply: 0 (expire now) after a RST, and at most UNACK for a
 * picked-up ESTABLISHED connection. A shorter state timeout always wins over
 * RETRANS/UNACK.
 */
export function tcpTimeoutMs(store: TcpStore, id: number, timeouts: TcpTimeouts): number {
  const b = id * TCP_WORDS;
  const meta = store.data[b + W_META];
  const state = meta & 0xff;
  const c = (meta >>> M_CFLAGS) & 0xff;
  const base = tcpStateTimeout(timeouts, state);
  const retrans = timeouts.retrans ?? 300;
  const unack = timeouts.unack ?? 300;
  let t = base;
  if ((c & CF_RETRANS_HIT) !== 0 && base > retrans) t = retrans;
  else if ((c & CF_LAST_RST) !== 0) t = timeouts.close;
  else if ((store.data[b + W_DIRF] & (TDF_DATA_UNACK | (TDF_DATA_UNACK << 16))) !== 0 && base > unack)
    t = unack;
  else if ((c & CF_LASTWIN0) !== 0 && base > retrans) t = retrans;
  if ((c & CF_NOREPLY) !== 0) {
    // "If only reply is a RST" / RST before any reply: the connection is gone.
    if ((c & CF_LAST_RST) !== 0) return 0;
    if (state === TCP_STATE_ESTABLISHED && t > unack) t = unack;
  }
  return t * 1000;
}

/** conntrack's ASSURED: a reply was seen and the connection then reached (or stayed in) ESTABLISHED. */
export function tcpIsAssured(store: TcpStore, id: number): boolean {
  return (store.data[id * TCP_WORDS + W_META] & (CF_ASSURED << M_CFLAGS)) !== 0;
}
export function tcpSeenReply(store: TcpStore, id: number): boolean {
  return (store.data[id * TCP_WORDS + W_META] & (CF_SEEN_REPLY << M_CFLAGS)) !== 0;
}
/** The connection's TCP_STATE_*. */
export function tcpState(store: TcpStore, id: number): number {
  return store.data[id * TCP_WORDS + W_META] & 0xff;
}
export { tcpNextSeq } from './tcp-store.js';
