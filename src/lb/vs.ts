/**
 * Virtual servers: VIP + protocol + port (0 = any) -> a pool of real servers
 * with a scheduler and optional persistence. Consulted for a packet that
 * starts a session; the chosen real goes into the session (its aux word:
 * (vs << 16) | real) so counters and drain follow it.
 */
import type { VirtualServerConfig } from '../config/types.js';
import type { Packet } from '../wire/packet.js';
import { Persistence } from './persistence.js';
import { RealPool } from './pool.js';
import { createScheduler, type Scheduler } from './schedulers.js';
import type { VsView } from './ipvsadm.js';

export const NO_REAL = 0xffff;

/**
 * What a config reload carries over into a virtual server of the same name:
 * its pool (already synced to the new reals, so kept reals keep their slots
 * and counters), its scheduler when unchanged (null: make one) and its
 * persistence table (used when the new config has persistence).
 */
export interface VsCarry {
  pool: RealPool;
  scheduler: Scheduler | null;
  persistence: Persistence | null;
}

export class VirtualServers {
  readonly count: number;
  readonly pools: RealPool[];
  readonly schedulers: Scheduler[];
  readonly persistence: (Persistence | null)[];
  private readonly vip: Uint32Array;
  private readonly proto: Int32Array;
  private readonly port: Int32Array;
  /** The real's port (0: keep the client's destination port), per vs and pool slot. */
  readonly realPort: Int32Array[];

  constructor(
    readonly cfg: VirtualServerConfig[],
    carry: readonly (VsCarry | undefined)[] = [],
  ) {
    this.count = cfg.length;
    this.vip = new Uint32Array(cfg.length * 4);
    this.proto = Int32Array.from(cfg.map((v) => v.proto));
    this.port = Int32Array.from(cfg.map((v) => v.port));
    this.pools = [];
    this.schedulers = [];
    this.persistence = [];
    this.realPort = [];
    cfg.forEach((v, i) => {
      this.vip.set(v.vip, i * 4);
      const c = carry[i];
      const pool = c ? c.pool : new RealPool(Math.max(16, v.reals.length));
      if (!c) for (const r of v.reals) pool.add(r.addr, r.port, r.weight, r.up);
      this.pools.push(pool);
      this.realPort.push(Int32Array.from(pool.port.subarray(0, pool.slots)));
      this.schedulers.push(
        c?.scheduler ?? createScheduler(v.scheduler, pool, { mhTableSize: v.mhTableSize }),
      );
      const pers = v.persistenceMs > 0 ? (c?.persistence ?? new Persistence(pool, v.persistenceMs)) : null;
      this.persistence.push(pers);
    });
  }

  /** The virtual server a packet is addressed to, or -1. */
  match(p: Packet): number {
    const d = p.dst;
    for (let i = 0; i < this.count; i++) {
      const b = i * 4;
      if (
        this.vip[b + 3] === d[3] &&
        this.vip[b + 2] === d[2] &&
        this.vip[b + 1] === d[1] &&
        this.vip[b] === d[0] &&
        this.proto[i] === p.l4Proto &&
        (this.port[i] === 0 || this.port[i] === p.dstPort)
      ) {
        return i;
      }
    }
    return -1;
  }

  /** Picks a real of virtual server `vs` for a new session from this client; -1 when none is available. */
  pick(vs: number, p: Packet, nowMs: number): number {
    const pers = this.persistence[vs];
    if (pers) return pers.pick(this.schedulers[vs]!, p.src, p.srcPort, nowMs);
    return this.schedulers[vs]!.pick(p.src, p.srcPort);
  }

  /** The virtual servers and their reals with counters, for `ipvsadm -Ln`-style output. */
  views(): VsView[] {
    return this.cfg.map((c, v) => {
      const pool = this.pools[v]!;
      const reals: VsView['reals'] = [];
      for (let k = 0; k < pool.slots; k++) {
        if (!pool.isMember(k)) continue;
        reals.push({
          addr: pool.addr.slice(k * 4, k * 4 + 4),
          port: this.realPort[v]![k] || c.port,
          forward: c.mode === 'fullnat' ? 'FullNat' : 'Masq',
          weight: pool.weight[k]!,
          active: pool.active(k),
          inactive: pool.inactive(k),
          up: pool.up[k] === 1,
        });
      }
      return {
        proto: c.proto === 17 ? 'UDP' : 'TCP',
        vip: c.vip,
        port: c.port,
        scheduler: c.scheduler,
        persistentSec: c.persistenceMs > 0 ? c.persistenceMs / 1000 : undefined,
        reals,
      };
    });
  }
}
