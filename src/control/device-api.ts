/**
 * A ControlApi over a Device, through its public fields and methods only: the
 * session table (read, and `Conntrack.drop` to flush), the counters, the
 * virtual servers. The device is asked for on every call (`device()`), so a
 * driver that swaps its Device (config reload) is followed. Runs between
 * batches on the event loop, never during one, so it sees a consistent table.
 */
import type { Device } from '../device/device.js';
import { VERDICT_NAMES } from '../device/verdict.js';
import { REJECT_NAMES } from '../ha/auth.js';
import { addrPort } from '../lb/ipvsadm.js';
import { sessionRecord, type SessionRecord } from '../session/list.js';
import { REASONS } from '../session/reasons.js';
import type {
  ControlApi,
  PortCounters,
  RealHealth,
  ReloadOutcome,
  StatsJson,
  VirtualServersView,
} from './api.js';
import { SessionMatcher, type SessionFilter } from './filter.js';

export interface DeviceApiOptions {
  /** The device clock in ms (Date.now live; a replay or test passes its own). */
  now: () => number;
  /** Per-port counters (live: from the driver); default: the device's frames sent per port. */
  ports?: () => PortCounters[];
  /** Counters of the live driver. */
  live?: () => { unroutable: number; errors: number; ticks: number };
  /** The last health transition of a real (virtual server index, pool slot), when checks run. */
  lastTransition?: (vs: number, slot: number) => { up: boolean; atMs: number } | undefined;
  reload?: () => ReloadOutcome | Promise<ReloadOutcome>;
  /** Wall clock for uptime (Date.now). */
  wallNow?: () => number;
}

export function deviceControlApi(device: () => Device, opts: DeviceApiOptions): ControlApi {
  const wall = opts.wallNow ?? Date.now;
  const started = wall();
  let flushed = 0;

  /** Slots of live (not yet expired) sessions matching the filter, lowest serial first, at most limit. */
  const matching = (dev: Device, f: SessionFilter, now: number): number[] => {
    const t = dev.ct.table;
    const m = new SessionMatcher(dev.ct, f);
    const ids: number[] = [];
    for (let id = 0; id < t.capacity; id++) {
      if (t.isUsed(id) && t.expires(id) > now && m.matches(id)) ids.push(id);
    }
    ids.sort((x, y) => t.serial(x) - t.serial(y));
    return f.limit !== undefined && ids.length > f.limit ? ids.slice(0, f.limit) : ids;
  };

  const api: ControlApi = {
    name: () => device().cfg.name,

    sessions(f: SessionFilter): SessionRecord[] {
      const dev = device();
      const now = opts.now();
      return matching(dev, f, now).map((id) => sessionRecord(dev.ct, id, now));
    },

    flush(f: SessionFilter): number {
      const dev = device();
      const ids = matching(dev, f, opts.now());
      for (const id of ids) dev.ct.drop(id);
      flushed += ids.length;
      return ids.length;
    },

    stats(): StatsJson {
      const dev = device();
      const st = dev.stats;
      const cs = dev.ct.stats;
      const verdicts: Record<string, number> = {};
      VERDICT_NAMES.forEach((n, i) => (verdicts[n] = st.verdicts[i]!));
      const drops: Record<string, number> = {};
      st.dropsByReason.forEach((v, i) => {
        if (v > 0) drops[REASONS[i]!] = v;
      });
      const ports: PortCounters[] = opts.ports
        ? opts.ports()
        : dev.ports.names.map((name, i) => ({ name, framesOut: st.txByPort[i]! }));
      const out: StatsJson = {
        device: dev.cfg.name,
        uptimeSeconds: Math.max(0, Math.round((wall() - started) / 1000)),
        packetsIn: st.packetsIn,
        bytesIn: st.bytesIn,
        fastPathFrames: dev.fastFrames,
        verdicts,
        dropsByReason: drops,
        sessions: {
          current: dev.ct.table.count,
          max: dev.cfg.conntrack.maxSessions,
          created: cs.created,
          expired: cs.expired,
          evicted: cs.evicted,
          flushed,
          peak: cs.peak,
        },
        ports,
      };
      if (dev.cfg.ports.some((p) => p.offload)) out.offload = { ...dev.offload.counters };
      if (opts.live) out.live = opts.live();
      if (dev.ha) out.ha = haStats(dev);
      return out;
    },

    vs(): VirtualServersView {
      const dev = device();
      return { names: dev.cfg.virtualServers.map((v) => v.name), views: dev.lb.vs.views() };
    },

    health(): RealHealth[] {
      const dev = device();
      const vs = dev.lb.vs;
      const views = vs.views();
      const out: RealHealth[] = [];
      vs.cfg.forEach((c, v) => {
        const pool = vs.pools[v]!;
        let k = 0;
        for (let slot = 0; slot < pool.slots; slot++) {
          if (!pool.isMember(slot)) continue;
          const r = views[v]!.reals[k++]!;
          const h: RealHealth = { vs: c.name, real: addrPort(r.addr, r.port), up: r.up, weight: r.weight };
          const tr = opts.lastTransition?.(v, slot);
          if (tr) h.lastTransition = { up: tr.up, at: new Date(tr.atMs).toISOString() };
          out.push(h);
        }
      });
      return out;
    },
  };
  if (opts.reload) api.reload = opts.reload;
  return api;
}

/** The HA part of /stats: plain counters of the HA stage, the sync node and defer. */
function haStats(dev: Device): NonNullable<StatsJson['ha']> {
  const ha = dev.ha!;
  const out: NonNullable<StatsJson['ha']> = { mode: ha.cfg.mode, redirect: { ...ha.counters } };
  const sync = dev.sync;
  if (sync) {
    const rejected: Record<string, number> = {};
    REJECT_NAMES.forEach((n, i) => {
      if (i > 0) rejected[`rejected-${n}`] = sync.node.auth.rejected[i]!;
    });
    out.sync = { ...sync.counters, ...numbers(sync.node.stats), ...rejected };
    out.peersUp = sync.node.peers.filter((p) => p.ch.up).length;
    if (sync.defer) {
      const d = sync.deferDelays();
      out.defer = { ...numbers(sync.defer.stats), delays: d.count, delayP50Ms: d.p50Ms, delayP99Ms: d.p99Ms };
    }
  }
  return out;
}

function numbers(o: object): Record<string, number> {
  const r: Record<string, number> = {};
  for (const [k, v] of Object.entries(o)) if (typeof v === 'number') r[k] = v;
  return r;
}
