/** The replay summary: the figures `sdev replay` prints and writes with --json. */
import type { Device } from '../device/device.js';
import { VERDICT_NAMES } from '../device/verdict.js';
import { REASONS } from '../session/reasons.js';
import { countLive } from '../session/list.js';
import { vsJson } from '../lb/ipvsadm.js';

export interface ReplaySummary {
  capture: string;
  config: string;
  packetsIn: number;
  bytesIn: number;
  forwarded: number;
  /** Of those, by the session fast path. */
  fastPathFrames: number;
  dropped: number;
  held: number;
  consumed: number;
  redirected: number;
  dropsByReason: Record<string, number>;
  sessionsCreated: number;
  sessionsExpired: number;
  sessionsEvicted: number;
  sessionsActive: number;
  peakSessions: number;
  sessionsByProtocol: Record<string, number>;
  /** TCP sessions by final state: the state they expired in, or are in at the end. */
  tcpFinalStates: Record<string, number>;
  fragments: { completed: number; held: number };
  txByPort: Record<string, number>;
  ruleHits: Record<string, number>;
  /** Virtual servers with their reals' counters at the end (as `ipvsadm -Ln` JSON). */
  virtualServers?: object[];
  captureError?: string;
}

/**
 * The summary of a device at the end of a replay. Live sessions are counted
 * in the table (no record per session: `--sessions` builds those only when
 * asked for).
 */
export function summarise(
  dev: Device,
  endedTcpStates: Map<string, number>,
  protoNames: readonly string[],
  capture: string,
): ReplaySummary {
  const st = dev.stats;
  const ct = dev.ct.stats;
  const drops: Record<string, number> = {};
  st.dropsByReason.forEach((v, i) => {
    if (v > 0) drops[REASONS[i]!] = v;
  });
  const byProto: Record<string, number> = {};
  ct.createdByProto.forEach((v, i) => {
    byProto[protoNames[i]!] = v;
  });
  const finals = new Map(endedTcpStates);
  const live = countLive(dev.ct, finals);
  const tx: Record<string, number> = {};
  dev.ports.names.forEach((name, i) => {
    tx[name] = st.txByPort[i]!;
  });
  const hits: Record<string, number> = {};
  dev.cfg.policy.rules.forEach((r, i) => {
    hits[r.name] = dev.policy.hits[i]!;
  });
  hits.default = dev.policy.hits[dev.cfg.policy.rules.length]!;
  const v = (name: (typeof VERDICT_NAMES)[number]): number => st.verdicts[VERDICT_NAMES.indexOf(name)]!;
  return {
    capture,
    config: dev.cfg.source,
    packetsIn: st.packetsIn,
    bytesIn: st.bytesIn,
    forwarded: v('forwarded'),
    fastPathFrames: dev.fastFrames,
    dropped: v('dropped'),
    held: v('held'),
    consumed: v('consumed'),
    redirected: v('redirected'),
    dropsByReason: drops,
    sessionsCreated: ct.created,
    sessionsExpired: ct.expired,
    sessionsEvicted: ct.evicted,
    sessionsActive: live,
    peakSessions: ct.peak,
    sessionsByProtocol: byProto,
    tcpFinalStates: Object.fromEntries([...finals.entries()].sort()),
    fragments: { completed: dev.reasm.stats.completed, held: dev.reasm.stats.held },
    txByPort: tx,
    ruleHits: hits,
    ...(dev.lb.enabled ? { virtualServers: vsJson(dev.lb.vs.views()) } : {}),
  };
}

/** The summary as text for a terminal. */
export function summaryText(s: ReplaySummary): string {
  const lines = [
    `capture   ${s.capture}`,
    `config    ${s.config}`,
    `packets   ${s.packetsIn} in, ${s.forwarded} forwarded (${s.fastPathFrames} by the session fast path), ` +
      `${s.dropped} dropped, ${s.held} held`,
  ];
  const drops = Object.entries(s.dropsByReason).sort((a, b) => b[1] - a[1]);
  if (drops.length) lines.push(`drops     ${drops.map(([k, n]) => `${k} ${n}`).join(', ')}`);
  lines.push(
    `sessions  ${s.sessionsCreated} created, ${s.sessionsExpired} expired, ${s.sessionsActive} active at end, peak ${s.peakSessions}` +
      (s.sessionsEvicted ? `, ${s.sessionsEvicted} evicted` : ''),
  );
  lines.push(
    `by proto  ${Object.entries(s.sessionsByProtocol)
      .map(([k, n]) => `${k} ${n}`)
      .join(', ')}`,
  );
  const tcp = Object.entries(s.tcpFinalStates);
  if (tcp.length) lines.push(`tcp end   ${tcp.map(([k, n]) => `${k} ${n}`).join(', ')}`);
  if (s.fragments.completed || s.fragments.held) {
    lines.push(
      `fragments ${s.fragments.completed} datagrams reassembled, ${s.fragments.held} fragments held`,
    );
  }
  if (s.captureError) lines.push(`WARNING   capture stopped early: ${s.captureError}`);
  return lines.join('\n') + '\n';
}
