/**
 * The device's state and its session stages, below the frame entry point
 * (device.ts): a decoded packet is looked up (hit: tracked, NAT-rewritten;
 * miss: a second chance at an HA peer, policy, load balancing or masquerade,
 * then a new session), sent by the router or on the session's port, and ends
 * with one verdict. Pure: the clock is passed in, output goes to the sink.
 */
import type { DeviceConfig } from '../config/types.js';
import { Reassembler } from '../l3/reassembly.js';
import type { HealthProbes } from '../lb/probes.js';
import { Masquerade } from '../nat/masquerade.js';
import { Nat } from '../nat/nat.js';
import { ACT_ACCEPT, ACT_REJECT, Policy } from '../policy/policy.js';
import { Conntrack, K_INVALID, K_RELATED, K_UNTRACKED, REOPEN } from '../session/conntrack.js';
import {
  R_BAD_CHECKSUM,
  R_INVALID_ICMP,
  R_NAT_EXHAUSTED,
  R_NO_REAL_SERVER,
  R_NO_SESSION,
  R_POLICY_DENY,
  R_POLICY_REJECT,
  REASONS,
} from '../session/reasons.js';
import { F_DNAT, F_SNAT } from '../session/table.js';
import { tcpState } from '../session/tcp-track.js';
import { formatIp } from '../wire/addr.js';
import { ipv4HeaderChecksumOk, l4ChecksumOk } from '../wire/checksum.js';
import { partialEnter, partialLeave } from '../wire/offload.js';
import type { Packet } from '../wire/packet.js';
import { Balancer, LB_NO_REAL, LB_NONE } from './balance.js';
import { HaStage } from './ha-stage.js';
import type { SyncStage } from './sync-stage.js';
import { PortTable } from './ports.js';
import { Responder } from './respond.js';
import { OffloadStage, type FrameSink } from './offload-stage.js';
import { OUT_FORWARD, OUT_HELD, RouteStage } from './route-stage.js';
import type { Tracer } from './trace.js';
import { DeviceStats, V_DROPPED, V_FORWARDED, V_HELD, V_REDIRECTED } from './verdict.js';

export type { FrameSink } from './offload-stage.js';

/** hit(): a SYN reopened a closed session (not a verdict: V_* are 0..4). */
const HIT_REOPEN = -1;

export abstract class DeviceCore {
  readonly ct: Conntrack;
  /** policy, responder, masq and cfg: replaced by a config reload (reload.ts). */
  policy: Policy;
  readonly ports: PortTable;
  readonly reasm: Reassembler;
  readonly stats: DeviceStats;
  responder: Responder;
  readonly lb: Balancer;
  masq: Masquerade;
  readonly nat = new Nat();
  tracer: Tracer | null = null;

  /** The last frame's result. */
  verdict = 0;
  reason = 0;
  /** Session serial of the last frame (0 when none). */
  session = 0;
  outPort = -1;

  /** The router stage, in router mode only. */
  readonly rs: RouteStage | null;
  /** Active health probes (live, router mode: see enableHealthChecks). */
  probes: HealthProbes | null = null;
  /** The HA stages (a device of a redundant pair). */
  readonly ha: HaStage | null;
  /** Whether the current frame was redirected to us by a peer (never redirected again). */
  protected redirected = false;
  /** Set before processing a frame a peer's GRE carried (it becomes `redirected`). */
  protected decapsulated = false;
  /** Session sync with the peers (live, ha mode sync: see Device.enableSync). */
  sync: SyncStage | null = null;
  /** The defer ticket of the session the current packet created (-1: none). */
  protected deferTicket = -1;
  /** The device clock (ms): the last packet's or timer's time. */
  protected now = 0;
  /** Whether the last judged packet was rewritten by NAT. */
  protected natted = false;
  /** GSO frames and partial checksums from TAPs with offloads (live). */
  readonly offload: OffloadStage;

  constructor(
    public cfg: DeviceConfig,
    protected readonly sink: FrameSink,
  ) {
    this.ct = new Conntrack(cfg.conntrack);
    this.policy = new Policy(cfg);
    this.ports = new PortTable(cfg, this.policy);
    this.reasm = new Reassembler({
      maxDatagrams: cfg.fragments.maxDatagrams,
      maxBytes: cfg.fragments.maxBytes,
      timeoutMs: cfg.fragments.timeoutMs,
    });
    this.stats = new DeviceStats(REASONS.length, this.ports.count);
    this.rs = cfg.routerMode
      ? new RouteStage(cfg, (port, buf, off, len) => this.emit(port, buf, off, len))
      : null;
    this.lb = new Balancer(cfg.virtualServers, this.ct, this.nat);
    this.masq = new Masquerade(cfg.masquerade);
    const emit = (port: number, buf: Uint8Array, off: number, len: number): void =>
      this.emit(port, buf, off, len);
    this.responder = new Responder(cfg.conntrack.maxSessions, cfg.resetOnExpiry, emit);
    if (this.rs) {
      const router = this.rs.router;
      this.responder.originate = (buf, off, len) => router.originate(buf, off, len, this.now);
    }
    if (cfg.resetOnExpiry) this.ct.onExpire = (id) => this.responder.expired(this.ct, id);
    this.ha = cfg.ha ? new HaStage(cfg.ha, cfg.ports, emit) : null;
    this.offload = new OffloadStage(sink, emit);
  }

  /**
   * Sends a packet the session stages passed: by the router when routing
   * (TTL, next-hop MAC, ICMP errors), else on outPort as it is. `more`: not
   * the last frame of this input (no verdict yet).
   */
  protected out(p: Packet, buf: Uint8Array, off: number, len: number, iface: number, more = false): number {
    const rs = this.rs;
    if (rs) {
      const r = rs.after(p, iface, this.now);
      if (r === OUT_HELD) return more ? V_HELD : this.end(V_HELD, 0);
      if (r !== OUT_FORWARD) return more ? V_DROPPED : this.drop(r);
      this.outPort = rs.egressPort;
    }
    if (this.deferTicket >= 0) {
      // pfsync's defer: the first packet waits for the peers' ack of the insert.
      const t = this.deferTicket;
      this.deferTicket = -1;
      if (this.sync!.hold(t, this.outPort, buf, off, len, this.now))
        return more ? V_HELD : this.end(V_HELD, 0);
    }
    if (p.vnet !== 0) this.offload.send(p, this.outPort, buf, off, len, this.stats.txByPort);
    else this.emit(this.outPort, buf, off, len);
    return more ? V_FORWARDED : this.end(V_FORWARDED, 0);
  }

  /** Session and policy stages. Returns V_FORWARDED with outPort set, or a final verdict. */
  protected judge(p: Packet, len: number, iface: number): number {
    const tr = this.tracer;
    const ct = this.ct;
    this.natted = false;
    // A GSO frame's transport checksum is not computed yet (the kernel that sent it trusts itself).
    if (
      this.cfg.verifyChecksums &&
      ((p.ipVersion === 4 && !ipv4HeaderChecksumOk(p)) || (p.vnet === 0 && !l4ChecksumOk(p)))
    ) {
      return this.drop(R_BAD_CHECKSUM);
    }
    const kind = ct.key(p);
    if (kind === K_UNTRACKED) {
      this.outPort = this.ports.egress(p.dst);
      if (tr) tr.note('session', 'untracked (neighbour discovery)');
      return V_FORWARDED;
    }
    if (kind === K_INVALID) return this.drop(R_INVALID_ICMP);
    let e = ct.find(this.now);
    if (e >= 0) {
      const v = this.hit(e, p, len, kind === K_RELATED);
      if (v !== HIT_REOPEN) return v;
      e = -1;
    }
    const ha = this.ha;
    if (ha !== null && ha.redirects && ha.wants(p, kind === K_RELATED)) {
      // A miss the peer may own: a second chance there, once.
      if (this.redirected) ha.counters.secondMiss++;
      else if (ha.redirect(p.buf, p.base, p.end - p.base, this.ports.ingress(p, iface), p.ethOff)) {
        this.outPort = ha.outPort;
        if (tr) tr.note('ha', `miss: redirected to the peer on port ${ha.outPort}`);
        return this.end(V_REDIRECTED, 0);
      }
    }
    if (kind === K_RELATED) return this.drop(R_NO_SESSION);
    const can = ct.canCreate(p);
    if (can !== 0) return this.drop(can);
    const inPort = this.ports.ingress(p, iface);
    const outPort = this.egressTo(p.dst);
    const act = this.policy.evaluate(this.ports.zone[inPort]!, this.ports.zone[outPort]!, p);
    if (tr) tr.policy(this, inPort, outPort, act);
    if (act === ACT_REJECT) {
      this.responder.reject(p, inPort);
      return this.drop(R_POLICY_REJECT);
    }
    if (act !== ACT_ACCEPT) return this.drop(R_POLICY_DENY);
    return this.create(p, len, inPort, outPort);
  }

  /**
   * A packet of an existing session (entry e): tracked, NAT-rewritten, and
   * V_FORWARDED with outPort set, or dropped; HIT_REOPEN when a SYN reopens a
   * closed session (it was removed; the packet goes on as a miss).
   */
  private hit(e: number, p: Packet, len: number, related: boolean): number {
    const ct = this.ct;
    const t = ct.table;
    const tr = this.tracer;
    const id = e >> 1;
    this.session = t.serial(id);
    const sync = this.sync;
    const flags = sync ? t.flags(id) : 0;
    ct.now = this.now;
    const r = ct.trackAt(e, p, len, related);
    if (r === REOPEN) {
      if (tr) tr.note('session', `#${this.session} closed; SYN reopens it`);
      ct.drop(id);
      return HIT_REOPEN;
    }
    if (r !== 0) {
      if (tr) tr.note('session', `hit #${this.session} dir ${e & 1}`);
      return this.drop(r);
    }
    if (t.flags(id) & (F_DNAT | F_SNAT)) {
      if (related) this.nat.rewriteIcmpError(t, e, p);
      else if (p.vnet === 0) this.nat.rewrite(t, e, p);
      else this.rewriteGso(e, p);
      this.natted = true;
    }
    // A TCP state that may have changed (ct.tcpBefore >= 0): active connections, peers.
    const before = ct.tcpBefore;
    if (before >= 0 && this.lb.enabled) this.lb.counted(e, p, before);
    // Peers hear of state changes (TCP state, replied, assured), not of every packet.
    if (sync && (t.flags(id) !== flags || (before >= 0 && tcpState(ct.tcp, id) !== before)))
      sync.node.updated(id);
    this.outPort = t.port(e);
    if (tr) tr.sessionHit(ct, e, related);
    return V_FORWARDED;
  }

  /** A new session: load balancing (DNAT), else masquerade (SNAT), else as addressed. */
  protected create(p: Packet, len: number, inPort: number, outPort: number): number {
    const ct = this.ct;
    const tr = this.tracer;
    let toPort = outPort;
    let id: number;
    const v = this.lb.enabled ? this.lb.select(p, this.now) : LB_NONE;
    if (v >= 0) {
      const nat = this.lb.tuple(p);
      if (!nat) return this.drop(R_NO_REAL_SERVER);
      id = ct.create(p, this.now, len, nat);
      if (id < 0) return this.drop(-id);
      toPort = this.egressTo(this.lb.realAddr);
      this.lb.created(id, p);
      if (tr) tr.note('lb', `virtual server ${this.cfg.virtualServers[v]!.name}: real ${this.lb.real}`);
    } else {
      if (v === LB_NO_REAL) return this.drop(R_NO_REAL_SERVER);
      const m = this.masq.enabled ? this.masq.match(this.ports.zone[inPort]!, this.ports.zone[outPort]!) : -1;
      const nat = m >= 0 ? this.masq.allocate(m, p, ct.kZoneProto, ct.table) : null;
      if (m >= 0 && !nat) return this.drop(R_NAT_EXHAUSTED);
      id = nat ? ct.create(p, this.now, len, nat) : ct.create(p, this.now, len);
      if (id < 0) return this.drop(-id);
      if (nat) {
        ct.table.setFlags(id, ct.table.flags(id) | F_SNAT);
        if (tr) tr.note('nat', `masquerade as ${formatIp(nat.rDst)}`);
      }
    }
    if (ct.table.flags(id) & (F_DNAT | F_SNAT)) {
      if (p.vnet === 0) this.nat.rewrite(ct.table, id << 1, p);
      else this.rewriteGso(id << 1, p);
      this.natted = true;
    }
    ct.table.setPorts(id, toPort, inPort);
    if (this.sync) this.deferTicket = this.sync.created(id, this.now);
    this.responder.remember(id, p);
    this.session = ct.table.serial(id);
    this.outPort = toPort;
    if (tr) tr.created(ct, id);
    return V_FORWARDED;
  }

  /** NAT of a GSO frame: its partial checksum stays partial (src/wire/offload.ts). */
  private rewriteGso(e: number, p: Packet): void {
    partialEnter(p);
    this.nat.rewrite(this.ct.table, e, p);
    partialLeave(p);
  }

  /** The port toward an address: by the routes when routing, else by zones and port networks. */
  protected egressTo(addr: Uint32Array): number {
    const r = this.rs ? this.rs.portTo(addr) : -1;
    return r >= 0 ? r : this.ports.egress(addr);
  }

  protected forward(port: number, buf: Uint8Array, off: number, len: number): number {
    this.outPort = port;
    this.emit(port, buf, off, len);
    return this.end(V_FORWARDED, 0);
  }

  protected emit(port: number, buf: Uint8Array, off: number, len: number): void {
    this.stats.txByPort[port]!++;
    this.sink.send(port, buf, off, len);
  }

  protected drop(reason: number): number {
    this.stats.dropsByReason[reason]!++;
    return this.end(V_DROPPED, reason);
  }

  protected end(verdict: number, reason: number): number {
    this.verdict = verdict;
    this.reason = reason;
    this.stats.verdicts[verdict]!++;
    if (this.tracer) this.tracer.end(this);
    return verdict;
  }
}
