/**
 * Config reload of a running device, without losing a session.
 *
 * Applied live: the policy (rules, default action, the zones' networks when
 * the set of zones is unchanged), virtual servers and their pools,
 * masquerade, session timeouts and TCP tracking options (from each session's
 * next packet), reset-on-expiry and checksum verification. Sessions skip the
 * policy and keep their NAT tuples, so every existing session continues as
 * it was; only new sessions see the new config.
 *
 * Virtual servers are matched by name, their reals by address and port:
 * - a kept virtual server keeps its pool, its scheduler when the scheduler is
 *   unchanged, and its persistence entries; a kept real keeps its slot, its
 *   counters and its sessions, and takes its new weight for new sessions;
 * - an added real gets new sessions; a removed real gets none, but its
 *   sessions continue until they end (IPVS's dest trash: the slot is not
 *   reused before then);
 * - a real's `up` in the config is applied only when the config changed it,
 *   so a health check's verdict survives a reload;
 * - sessions name their virtual server by index (aux word), so when indexes
 *   move the session table is walked once and the indexes rewritten; sessions
 *   of a removed virtual server continue, no longer counted on any real.
 *
 * Everything else (ports, routes, router mode, zone set, table size, VLAN
 * zoning, fragments, and any key this file does not know) needs a restart: a
 * reload that changes it is refused as a whole (ReloadRefused) and nothing is
 * touched. Every check runs before the first change, so a reload applies
 * entirely or not at all.
 */
import type { DeviceConfig, RealConfig, VirtualServerConfig } from '../config/types.js';
import { maglevSizeProblem } from '../lb/maglev.js';
import type { RealSpec } from '../lb/pool.js';
import { NO_REAL, VirtualServers, type VsCarry } from '../lb/vs.js';
import { Masquerade } from '../nat/masquerade.js';
import { Policy } from '../policy/policy.js';
import { F_DNAT } from '../session/table.js';
import { formatIp } from '../wire/addr.js';
import type { Device } from './device.js';
import { restartNeeded } from './reload-diff.js';
import { Responder, type Emit } from './respond.js';

/** A reload that cannot be applied; `problems` says why (nothing was changed). */
export class ReloadRefused extends Error {
  constructor(
    readonly problems: string[],
    readonly restart: boolean,
  ) {
    super(
      restart
        ? `restart needed: ${problems.join('; ')} (these cannot change while the device runs; nothing was changed)`
        : `reload refused: ${problems.join('; ')} (nothing was changed)`,
    );
    this.name = 'ReloadRefused';
  }
}

export interface RealChange {
  vs: string;
  /** "10.0.2.11:8080" ("[fd00::1]:80" for IPv6, port * when it is the client's). */
  real: string;
  /** Removed reals: sessions that continue on it. */
  sessions?: number;
}

/** What a reload changed (for the log and the control API). */
export interface ReloadSummary {
  rules: { before: number; after: number; changed: boolean };
  defaultAction: { before: string; after: string };
  zonesChanged: string[];
  virtualServers: { added: string[]; removed: string[]; changed: string[] };
  reals: { added: RealChange[]; removed: RealChange[]; reweighted: RealChange[] };
  masquerade: boolean;
  timeouts: boolean;
  resetOnExpiry: boolean | null;
  verifyChecksums: boolean | null;
  /** Sessions whose virtual-server index was rewritten. */
  sessionsRemapped: number;
}

interface VsPlan {
  cfg: VirtualServerConfig;
  /** Index in the old config, -1 when new. */
  old: number;
  specs: RealSpec[];
  keepScheduler: boolean;
}

const realKey = (addr: Uint32Array, port: number): string => `${addr.join('.')}/${port}`;

function realText(addr: Uint32Array, port: number): string {
  const a = formatIp(addr);
  const p = port === 0 ? '*' : String(port);
  return a.includes(':') ? `[${a}]:${p}` : `${a}:${p}`;
}

/** Plain, comparable form of a config fragment (typed arrays as arrays, prefixes as text). */
function same(a: unknown, b: unknown): boolean {
  const norm = (_k: string, v: unknown): unknown => {
    if (ArrayBuffer.isView(v)) return Array.from(v as unknown as ArrayLike<number>);
    if (v && typeof v === 'object' && 'text' in v && 'words' in v) return (v as { text: unknown }).text;
    return v;
  };
  return JSON.stringify(a, norm) === JSON.stringify(b, norm);
}

/**
 * Applies `next` to the running device, or throws ReloadRefused (and changes
 * nothing). `emit` sends a frame the device generates (Device's emit).
 */
export function reloadDevice(dev: Device, next: DeviceConfig, emit: Emit): ReloadSummary {
  const prev = dev.cfg;
  const fixed = restartNeeded(prev, next);
  if (fixed.length) throw new ReloadRefused(fixed, true);

  // ---- plan and check everything before changing anything
  const problems: string[] = [];
  const oldByName = new Map<string, number>();
  prev.virtualServers.forEach((v, i) => {
    if (!oldByName.has(v.name)) oldByName.set(v.name, i);
  });
  const taken = new Set<number>();
  const plans: VsPlan[] = next.virtualServers.map((v, i) => {
    const seen = new Set<string>();
    for (const r of v.reals) {
      const k = realKey(r.addr, r.port);
      if (seen.has(k))
        problems.push(`virtual-servers[${i}] (${v.name}): real ${realText(r.addr, r.port)} twice`);
      seen.add(k);
    }
    let old = oldByName.get(v.name) ?? -1;
    if (old >= 0 && taken.has(old)) old = -1;
    if (old >= 0) taken.add(old);
    const o = old >= 0 ? prev.virtualServers[old]! : null;
    const keepScheduler = !!o && o.scheduler === v.scheduler && o.mhTableSize === v.mhTableSize;
    if (v.scheduler === 'mh' && !keepScheduler) {
      const why = maglevSizeProblem(v.mhTableSize, v.reals.length);
      if (why) problems.push(`virtual-servers[${i}] (${v.name}): ${why}`);
    }
    const oldReals = new Map<string, RealConfig>(o ? o.reals.map((r) => [realKey(r.addr, r.port), r]) : []);
    const specs = v.reals.map((r): RealSpec => {
      const was = oldReals.get(realKey(r.addr, r.port));
      // `up` from the config only where the config changed it: health keeps its verdict.
      return { addr: r.addr, port: r.port, weight: r.weight, up: was && was.up === r.up ? undefined : r.up };
    });
    return { cfg: v, old, specs, keepScheduler };
  });
  if (problems.length) throw new ReloadRefused(problems, false);

  const summary = summarise(dev, prev, next, plans);
  const policy = new Policy(next);
  const masq = summary.masquerade ? new Masquerade(next.masquerade) : dev.masq;

  // ---- apply (nothing below can fail on a config that passed the checks above)
  const oldVs = dev.lb.vs;
  const carry: (VsCarry | undefined)[] = plans.map((p) => {
    if (p.old < 0) return undefined;
    const pool = oldVs.pools[p.old]!;
    pool.sync(p.specs);
    const pers = oldVs.persistence[p.old] ?? null;
    if (pers && p.cfg.persistenceMs > 0) pers.timeoutMs = p.cfg.persistenceMs;
    return { pool, scheduler: p.keepScheduler ? oldVs.schedulers[p.old]! : null, persistence: pers };
  });
  const vs = new VirtualServers(next.virtualServers, carry);
  const map = new Int32Array(prev.virtualServers.length).fill(-1);
  plans.forEach((p, i) => {
    if (p.old >= 0) map[p.old] = i;
  });
  summary.sessionsRemapped = remapSessions(dev, map);
  dev.lb.vs = vs;

  dev.policy = policy;
  dev.ports.policy = policy;
  dev.masq = masq;
  const ct = dev.ct;
  ct.cfg.timeouts = next.conntrack.timeouts;
  ct.cfg.tcp = next.conntrack.tcp;
  if (next.resetOnExpiry !== prev.resetOnExpiry) switchResetOnExpiry(dev, next.resetOnExpiry, emit);
  dev.cfg = next;
  return summary;
}

/** Rewrites the virtual-server index of load-balanced sessions whose index moved; returns how many. */
function remapSessions(dev: Device, map: Int32Array): number {
  let identity = true;
  for (let i = 0; i < map.length; i++) if (map[i] !== i) identity = false;
  if (identity) return 0;
  const t = dev.ct.table;
  let n = 0;
  for (let id = 0; id < t.capacity; id++) {
    if (!t.isUsed(id) || (t.flags(id) & F_DNAT) === 0) continue;
    const aux = t.aux(id);
    if ((aux & 0xffff) === NO_REAL) continue;
    const to = map[aux >>> 16] ?? -1;
    if (to === aux >>> 16) continue;
    // A removed virtual server: the session continues, counted on no real.
    t.setAux(id, to < 0 ? NO_REAL : ((to << 16) | (aux & 0xffff)) >>> 0);
    n++;
  }
  return n;
}

/**
 * Turns reset-on-expiry on or off. On: a responder that remembers each new
 * session's MACs; sessions from before have none remembered, so without a
 * router (which finds the next hop itself) they expire without resets.
 */
function switchResetOnExpiry(dev: Device, on: boolean, emit: Emit): void {
  const old = dev.responder;
  const ct = dev.ct;
  const r = new Responder(ct.cfg.maxSessions, on, emit);
  r.originate = old.originate;
  r.generated = old.generated;
  dev.responder = r;
  if (!on) return; // the responder without MACs sends no resets
  let first = 0;
  if (!dev.rs) {
    for (let id = 0; id < ct.table.capacity; id++)
      if (ct.table.isUsed(id) && ct.table.serial(id) >= first) first = ct.table.serial(id) + 1;
  }
  ct.onExpire = (id) => {
    if (ct.table.serial(id) < first) return;
    dev.responder.expired(ct, id);
  };
}

function summarise(dev: Device, prev: DeviceConfig, next: DeviceConfig, plans: VsPlan[]): ReloadSummary {
  const pr = prev.policy;
  const nr = next.policy;
  const kept = new Set(plans.filter((p) => p.old >= 0).map((p) => p.old));
  const s: ReloadSummary = {
    rules: {
      before: pr.rules.length,
      after: nr.rules.length,
      changed: !same(pr.rules.map(noLine), nr.rules.map(noLine)),
    },
    defaultAction: { before: pr.defaultAction, after: nr.defaultAction },
    zonesChanged: next.zones
      .filter((z, i) => !same(z.networks, prev.zones[i]!.networks))
      .map((z) => z.name)
      .concat(next.defaultZone !== prev.defaultZone ? ['(default zone)'] : []),
    virtualServers: {
      added: plans.filter((p) => p.old < 0).map((p) => p.cfg.name),
      removed: prev.virtualServers.filter((_v, i) => !kept.has(i)).map((v) => v.name),
      changed: plans
        .filter((p) => p.old >= 0 && !same(p.cfg, prev.virtualServers[p.old]))
        .map((p) => p.cfg.name),
    },
    reals: { added: [], removed: [], reweighted: [] },
    masquerade: !same(prev.masquerade, next.masquerade),
    timeouts:
      !same(prev.conntrack.timeouts, next.conntrack.timeouts) ||
      !same(prev.conntrack.tcp, next.conntrack.tcp),
    resetOnExpiry: prev.resetOnExpiry === next.resetOnExpiry ? null : next.resetOnExpiry,
    verifyChecksums: prev.verifyChecksums === next.verifyChecksums ? null : next.verifyChecksums,
    sessionsRemapped: 0,
  };
  for (const p of plans) {
    const before = p.old >= 0 ? prev.virtualServers[p.old]!.reals : [];
    const old = new Map(before.map((r) => [realKey(r.addr, r.port), r]));
    const now = new Set(p.cfg.reals.map((r) => realKey(r.addr, r.port)));
    for (const r of p.cfg.reals) {
      const o = old.get(realKey(r.addr, r.port));
      const c = { vs: p.cfg.name, real: realText(r.addr, r.port) };
      if (!o) s.reals.added.push(c);
      else if (o.weight !== r.weight) s.reals.reweighted.push(c);
    }
    const pool = p.old >= 0 ? dev.lb.vs.pools[p.old]! : null;
    for (const r of before) {
      if (now.has(realKey(r.addr, r.port))) continue;
      const slot = pool ? pool.find(r.addr, r.port) : -1;
      const sessions = slot >= 0 ? pool!.active(slot) + pool!.inactive(slot) : 0;
      s.reals.removed.push({ vs: p.cfg.name, real: realText(r.addr, r.port), sessions });
    }
  }
  return s;
}

function noLine<T extends { line: number }>(r: T): Omit<T, 'line'> {
  const { line: _line, ...rest } = r;
  return rest;
}
