/**
 * Verdict codes and configuration of the TCP tracker (see tcp-track.ts).
 * Drop codes map to names in the device's closed list of drop reasons.
 */
// ---- Verdicts ----
/** Accepted: forward and refresh the session timer. */
export const TCP_OK = 0;
/** Accepted without a state change (conntrack's "ignore"): forward, do not refresh the timer. */
export const TCP_IGNORE = 1;
/** SYN reopening a closed connection: delete the session and create a new one from this packet. */
export const TCP_REOPEN = 2;
/** Drop reasons (names from the device's closed list). */
export const TCP_INVALID_FLAGS = 3;
export const TCP_OUT_OF_WINDOW = 4;
export const TCP_INVALID_STATE = 5;
export const TCP_NO_SESSION = 6;

export type TcpVerdictName =
  'ok' | 'ignore' | 'reopen' | 'invalid-tcp-flags' | 'out-of-window' | 'invalid-tcp-state' | 'no-session';
export const TCP_VERDICT_NAMES: readonly TcpVerdictName[] = [
  'ok',
  'ignore',
  'reopen',
  'invalid-tcp-flags',
  'out-of-window',
  'invalid-tcp-state',
  'no-session',
];
export function tcpVerdictName(code: number): TcpVerdictName {
  return TCP_VERDICT_NAMES[code] ?? 'ok';
}
/** True for the codes that mean "drop the packet" (a reason name from the closed list). */
export function tcpIsDrop(code: number): boolean {
  return code >= TCP_INVALID_FLAGS;
}

// ---- Configuration ----
export interface TcpConfig {
  /** conntrack's nf_conntrack_tcp_be_liberal: window failures do not drop (windows still update). */
  liberal: boolean;
  /** conntrack's nf_conntrack_tcp_loose: pick up connections mid-stream (default true). */
  loose: boolean;
  /** Retransmissions of the same segment before the shorter RETRANS timeout applies (default 3, max 15). */
  maxRetrans?: number;
  /** conntrack's nf_conntrack_tcp_ignore_invalid_rst: accept RSTs below the peer's highest ack. */
  ignoreInvalidRst?: boolean;
  /**
   * Treat lower-bound window failures (old retransmitted data, overly delayed
   * ACKs) as out-of-window drops, as conntrack did before Linux 5.19. Default:
   * let them through without a state change, as current conntrack does.
   */
  strictLowerBound?: boolean;
  /**
   * One device of a pair whose paths are asymmetric sees one direction of a
   * connection only: the other half of the handshake went through the peer.
   * The originator's ACK in SYN_SENT, or the responder's ACK in SYN_RECV,
   * then establishes the connection (pf's sloppy state does the same).
   */
  asymmetric?: boolean;
}
export const DEFAULT_TCP_CONFIG: Readonly<TcpConfig> = { liberal: false, loose: true, maxRetrans: 3 };
