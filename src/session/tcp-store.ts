/**
 * Per-session TCP tracking state as a struct of typed arrays, indexed by
 * session id (per-connection fields) or by id * 2 + dir (per-direction
 * fields, dir 0 = original, 1 = reply). 48 bytes per session; nothing is
 * allocated after construction.
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

export class TcpStore {
  static readonly BYTES_PER_SESSION = 48;
  readonly capacity: number;
  /** TCP_STATE_* per session. */
  readonly state: Uint8Array;
  /** CF_* per session. */
  readonly cflags: Uint8Array;
  /** Last packet class, direction and retransmission count (see LAST_*). */
  readonly last: Uint8Array;
  /** LO_* per session. */
  readonly lastOpt: Uint8Array;
  /** End sequence (seq + len + SYN + FIN) of the last recorded packet. */
  readonly lastEnd: Uint32Array;
  /**
   * LAST_AUX: after an accepted ACK, a fingerprint of (seq, ack, window) for
   * retransmission detection; after an ignored SYN, its raw window; after an
   * ignored reply ACK in SYN_SENT, its ack number (to recognise a RST that
   * answers a challenge ACK).
   */
  readonly lastAux: Uint32Array;
  /** Per direction: highest seq + len seen (td_end). */
  readonly tdEnd: Uint32Array;
  /** Per direction: highest ack + window the peer announced (td_maxend). */
  readonly tdMaxEnd: Uint32Array;
  /** Per direction: largest (scaled) window this side announced (td_maxwin); 0 = direction not seen yet. */
  readonly tdMaxWin: Uint32Array;
  /** Per direction: highest ack this side sent (td_maxack). */
  readonly tdMaxAck: Uint32Array;
  /** Per direction: window scale shift applied to this side's windows (0..14). */
  readonly tdScale: Uint8Array;
  /** Per direction: TDF_* bits. */
  readonly tdFlags: Uint8Array;

  constructor(capacity: number) {
    this.capacity = capacity;
    this.state = new Uint8Array(capacity);
    this.cflags = new Uint8Array(capacity);
    this.last = new Uint8Array(capacity).fill(TCP_IDX_NONE);
    this.lastOpt = new Uint8Array(capacity);
    this.lastEnd = new Uint32Array(capacity);
    this.lastAux = new Uint32Array(capacity);
    this.tdEnd = new Uint32Array(capacity * 2);
    this.tdMaxEnd = new Uint32Array(capacity * 2);
    this.tdMaxWin = new Uint32Array(capacity * 2);
    this.tdMaxAck = new Uint32Array(capacity * 2);
    this.tdScale = new Uint8Array(capacity * 2);
    this.tdFlags = new Uint8Array(capacity * 2);
  }

  /** Forget session `id` (state NONE, no window data). */
  clear(id: number): void {
    this.state[id] = TCP_STATE_NONE;
    this.cflags[id] = 0;
    this.last[id] = TCP_IDX_NONE;
    this.lastOpt[id] = 0;
    this.lastEnd[id] = 0;
    this.lastAux[id] = 0;
    for (let i = id * 2; i < id * 2 + 2; i++) {
      this.tdEnd[i] = 0;
      this.tdMaxEnd[i] = 0;
      this.tdMaxWin[i] = 0;
      this.tdMaxAck[i] = 0;
      this.tdScale[i] = 0;
      this.tdFlags[i] = 0;
    }
  }
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
