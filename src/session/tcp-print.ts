/** Printing helpers for TCP tracking state (not for the fast path). */
import { TCP_STATE_NAMES } from './tcp-states.js';
import {
  TDF_CLOSE_INIT,
  TDF_DATA_UNACK,
  TDF_LIBERAL,
  TDF_SACK_PERM,
  TDF_WSCALE,
  getTdFlags,
  getTdScale,
  tcpMaxEnd,
  tcpMaxWin,
  tcpNextSeq,
  type TcpStore,
} from './tcp-store.js';
import { tcpIsAssured, tcpState } from './tcp-track.js';

/** conntrack's name of a state ('SYN_SENT', 'ESTABLISHED', 'TIME_WAIT', ...). */
export function tcpStateName(state: number): string {
  return TCP_STATE_NAMES[state] ?? `UNKNOWN(${state})`;
}

function dirFlags(f: number): string {
  const out: string[] = [];
  if (f & TDF_WSCALE) out.push('wscale');
  if (f & TDF_SACK_PERM) out.push('sack');
  if (f & TDF_CLOSE_INIT) out.push('close-init');
  if (f & TDF_LIBERAL) out.push('liberal');
  if (f & TDF_DATA_UNACK) out.push('unacked');
  return out.join(',');
}

/** One line describing a session's TCP tracking state, for traces and `sessions` output. */
export function tcpDescribe(store: TcpStore, id: number): string {
  const parts = [tcpStateName(tcpState(store, id))];
  if (tcpIsAssured(store, id)) parts.push('[ASSURED]');
  for (let d = 0; d < 2; d++) {
    const f = getTdFlags(store, id, d);
    parts.push(
      `${d === 0 ? 'orig' : 'reply'}(end=${tcpNextSeq(store, id, d)} maxend=${tcpMaxEnd(store, id, d)}` +
        ` maxwin=${tcpMaxWin(store, id, d)} scale=${getTdScale(store, id, d)}${f ? ' ' + dirFlags(f) : ''})`,
    );
  }
  return parts.join(' ');
}
