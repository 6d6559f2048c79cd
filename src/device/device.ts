/**
 * The pipeline. One call per frame, no allocation on the way: decode into one
 * reused Packet, reassemble fragments, look the session up (hit: track it;
 * miss: policy, then create), and forward by the session's port. Every frame
 * ends with one verdict and, when dropped, one reason from the closed list.
 * Pure: the clock is passed in, output goes to an injected sink.
 */
import type { DeviceConfig } from '../config/types.js';
import { FRAG_CODE_NAMES, FRAG_COMPLETE, FRAG_HELD, Reassembler } from '../l3/reassembly.js';
import { ACT_ACCEPT, ACT_REJECT, Policy } from '../policy/policy.js';
import { Conntrack, K_INVALID, K_RELATED, K_UNTRACKED, REOPEN } from '../session/conntrack.js';
import {
  R_BAD_CHECKSUM,
  R_INVALID_ICMP,
  R_NO_SESSION,
  R_NON_IP,
  R_NO_REAL_SERVER,
  R_NAT_EXHAUSTED,
  R_POLICY_DENY,
  R_POLICY_REJECT,
  R_TO_DEVICE,
  REASONS,
  reasonCode,
  type ReasonName,
} from '../session/reasons.js';
import { ipv4HeaderChecksumOk, l4ChecksumOk } from '../wire/checksum.js';
import { decodeFrame, decodeIp } from '../wire/decode.js';
import { ETH_ARP, LINKTYPE_ETHERNET, Packet, PROTO_TCP } from '../wire/packet.js';
import { tcpState } from '../session/tcp-track.js';
import { Balancer, LB_NO_REAL, LB_NONE } from './balance.js';
import { Masquerade } from '../nat/masquerade.js';
import type { HealthProbes } from '../lb/probes.js';
import { Nat } from '../nat/nat.js';
import { F_DNAT, F_SNAT } from '../session/table.js';
import { formatIp } from '../wire/addr.js';
import { PortTable } from './ports.js';
import { reloadDevice, type ReloadSummary } from './reload.js';
import { Responder } from './respond.js';
import { IN_CONSUMED, IN_TO_DEVICE, OUT_FORWARD, OUT_HELD, RouteStage } from './route-stage.js';
import type { Tracer } from './trace.js';
import { DeviceStats, V_CONSUMED, V_DROPPED, V_FORWARDED, V_HELD } from './verdict.js';

/** Where the device's output frames go. */
export interface FrameSink {
  send(port: number, buf: Uint8Array, off: number, len: number): void;
}

/** Timer granularity of the device clock (the timing wheel's tick). */
const TICK_MS = 100;

/** Reassembly result codes mapped to drop reasons (0 for held/complete). */
const FRAG_REASON = Int32Array.from(FRAG_CODE_NAMES, (n) =>
  n === 'frag-held' || n === 'frag-complete' ? 0 : reasonCode(n as ReasonName),
);

export class Device {
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

  private readonly pkt = new Packet();
  private readonly inner = new Packet();
  private readonly frag = new Packet();
  /** The router stage, in router mode only. */
  readonly rs: RouteStage | null;
  /** Active health probes (live, router mode: see enableHealthChecks). */
  probes: HealthProbes | null = null;
  private readonly tmpAddr = new Uint32Array([0, 0, 0xffff, 0]);
  private now = 0;
  /** Whether the last judged packet was rewritten by NAT. */
  private natted = false;
  private nextTick = -Infinity;

  constructor(
    public cfg: DeviceConfig,
    private readonly sink: FrameSink,
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
    this.responder = new Responder(cfg.conntrack.maxSessions, cfg.resetOnExpiry, (port, buf, off, len) =>
      this.emit(port, buf, off, len),
    );
    if (this.rs) {
      const router = this.rs.router;
      this.responder.originate = (buf, off, len) => router.originate(buf, off, len, this.now);
    }
    if (cfg.resetOnExpiry) {
      this.ct.onExpire = (id) =>
        this.responder.resetOnExpiry(
          this.ct,
          id,
          this.ct.table.port(id << 1),
          this.ct.table.port((id << 1) | 1),
        );
    }
  }

  /**
   * Moves the device clock: expires sessions and stale fragments due by then.
   * A session's lifetime is exact regardless (a lookup finds an expired
   * session gone); this reclaims them, at most one timer tick late.
   */
  advance(nowMs: number): void {
    if (nowMs < this.now) return;
    this.now = nowMs;
    this.nextTick = (Math.floor(nowMs / TICK_MS) + 1) * TICK_MS;
    this.ct.advance(nowMs);
    this.reasm.expire(nowMs);
  }

  /** Timers of a live device (call every ~100 ms): sessions, fragments, neighbour resolution, health probes. */
  tick(nowMs: number): void {
    if (nowMs >= this.nextTick) this.advance(nowMs);
    if (this.rs) this.rs.tick(nowMs);
    if (this.probes) this.probes.tick(this.lb.vs, nowMs);
  }

  /**
   * Live only: the device probes the real servers of virtual servers with a
   * `health-check` (needs router mode, to have an address to send from).
   * Replay leaves health as the config says. Returns the prober, or null.
   */
  enableHealthChecks(seed?: number): HealthProbes | null {
    if (this.rs && !this.probes) this.probes = this.rs.enableProbes(seed);
    return this.probes;
  }

  /** Applies a new config without losing a session (reload.ts); throws ReloadRefused, changing nothing. */
  reload(next: DeviceConfig): ReloadSummary {
    return reloadDevice(this, next, (port, buf, off, len) => this.emit(port, buf, off, len));
  }

  /**
   * Processes one frame that arrived at `nowMs` (capture interface `iface`,
   * -1 when none). Returns the verdict; `reason`, `session` and `outPort`
   * describe it. `wireLen`: the frame's length on the wire when a capture's
   * snaplen cut it to `len` (see decodeFrame); sessions count wire bytes.
   */
  process(
    buf: Uint8Array,
    off: number,
    len: number,
    linkType: number,
    iface: number,
    nowMs: number,
    wireLen = len,
  ): number {
    // Timers run once per tick, not per packet; the clock itself moves every packet.
    if (nowMs >= this.nextTick) this.advance(nowMs);
    else if (nowMs > this.now) this.now = nowMs;
    const st = this.stats;
    st.packetsIn++;
    st.bytesIn += len;
    this.session = 0;
    this.outPort = -1;
    const p = this.pkt;
    const tr = this.tracer;
    if (tr) tr.begin(st.packetsIn, nowMs, iface);
    const err = decodeFrame(buf, off, len, linkType, p, wireLen);
    if (tr) tr.decoded(p);
    if (err !== 0) return this.drop(err);
    const rs = this.rs;
    if (rs) {
      const b = rs.before(p, iface, this.now);
      if (b === IN_CONSUMED) {
        if (tr) tr.note('l3', 'for the device: answered (ARP/ND or ping)');
        return this.end(V_CONSUMED, 0);
      }
      if (b === IN_TO_DEVICE) return this.drop(R_TO_DEVICE);
      if (p.ipVersion === 0) return this.end(V_CONSUMED, 0);
    }
    if (p.ipVersion === 0) {
      if (p.etherType === ETH_ARP) {
        this.tmpAddr[3] = p.arpTpa;
        if (tr) tr.note('l2', 'arp: bridged');
        return this.forward(this.ports.egress(this.tmpAddr), buf, off, len);
      }
      return this.drop(R_NON_IP);
    }
    if (p.isFragment) return this.fragment(p, len, iface, linkType);
    return this.inspect(p, buf, off, len, iface, wireLen > len ? wireLen : len);
  }

  /** A fragment: held until its datagram is whole, then judged as the datagram. */
  private fragment(p: Packet, len: number, iface: number, linkType: number): number {
    const tr = this.tracer;
    const r = this.reasm.add(p, len, this.now);
    if (r === FRAG_HELD) {
      if (tr) tr.note('frag', 'held');
      return this.end(V_HELD, 0);
    }
    if (r !== FRAG_COMPLETE) return this.drop(FRAG_REASON[r]!);
    const ra = this.reasm;
    const q = this.inner;
    const err =
      linkType === LINKTYPE_ETHERNET || p.ethOff >= 0
        ? decodeFrame(ra.datagram, 0, ra.datagramLen, linkType, q)
        : decodeIp(ra.datagram, 0, ra.datagramLen, q);
    if (tr) tr.note('frag', `complete: ${ra.fragCount} fragments, ${ra.datagramLen} bytes`);
    if (err !== 0) return this.drop(err);
    const v = this.judge(q, ra.datagramLen, iface);
    if (v !== V_FORWARDED) return v;
    // NAT rewrote the reassembled datagram: send it whole (re-fragmenting to an egress MTU is
    // not done yet). Otherwise the fragments go out as they came.
    if (this.natted) return this.out(q, ra.datagram, 0, ra.datagramLen, iface);
    const f = this.frag;
    let last = V_FORWARDED;
    for (let i = 0; i < ra.fragCount; i++) {
      if (this.rs) decodeFrame(ra.fragBuf, ra.fragOff[i]!, ra.fragLen[i]!, linkType, f);
      last = this.out(f, ra.fragBuf, ra.fragOff[i]!, ra.fragLen[i]!, iface, i + 1 < ra.fragCount);
    }
    return last;
  }

  /** A whole (non-fragment) IP packet. */
  private inspect(
    p: Packet,
    buf: Uint8Array,
    off: number,
    len: number,
    iface: number,
    wireLen: number,
  ): number {
    const v = this.judge(p, wireLen, iface);
    if (v !== V_FORWARDED) return v;
    return this.out(p, buf, off, len, iface);
  }

  /**
   * Sends a packet the session stages passed: by the router when routing
   * (TTL, next-hop MAC, ICMP errors), else on outPort as it is. `more`: not
   * the last frame of this input (no verdict yet).
   */
  private out(p: Packet, buf: Uint8Array, off: number, len: number, iface: number, more = false): number {
    const rs = this.rs;
    if (rs) {
      const r = rs.after(p, iface, this.now);
      if (r === OUT_HELD) return more ? V_HELD : this.end(V_HELD, 0);
      if (r !== OUT_FORWARD) return more ? V_DROPPED : this.drop(r);
      this.outPort = rs.egressPort;
    }
    this.emit(this.outPort, buf, off, len);
    return more ? V_FORWARDED : this.end(V_FORWARDED, 0);
  }

  /** Session and policy stages. Returns V_FORWARDED with outPort set, or a final verdict. */
  private judge(p: Packet, len: number, iface: number): number {
    const tr = this.tracer;
    const ct = this.ct;
    this.natted = false;
    if (this.cfg.verifyChecksums && ((p.ipVersion === 4 && !ipv4HeaderChecksumOk(p)) || !l4ChecksumOk(p))) {
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
      const id = e >> 1;
      this.session = ct.table.serial(id);
      const lb = this.lb.enabled;
      const before = lb && p.l4Proto === PROTO_TCP ? tcpState(ct.tcp, id) : 0;
      const r = ct.track(e, p, this.now, len, kind === K_RELATED);
      if (r === REOPEN) {
        if (tr) tr.note('session', `#${this.session} closed; SYN reopens it`);
        ct.drop(id);
        e = -1;
      } else if (r !== 0) {
        if (tr) tr.note('session', `hit #${this.session} dir ${e & 1}`);
        return this.drop(r);
      } else {
        if (ct.table.flags(id) & (F_DNAT | F_SNAT)) {
          if (kind === K_RELATED) this.nat.rewriteIcmpError(ct.table, e, p);
          else this.nat.rewrite(ct.table, e, p);
          this.natted = true;
        }
        if (lb) this.lb.counted(e, p, before);
        this.outPort = ct.table.port(e);
        if (tr) tr.sessionHit(ct, e, kind === K_RELATED);
        return V_FORWARDED;
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

  /** A new session: load balancing (DNAT), else masquerade (SNAT), else as addressed. */
  private create(p: Packet, len: number, inPort: number, outPort: number): number {
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
      this.nat.rewrite(ct.table, id << 1, p);
      this.natted = true;
    }
    ct.table.setPorts(id, toPort, inPort);
    this.responder.remember(id, p);
    this.session = ct.table.serial(id);
    this.outPort = toPort;
    if (tr) tr.created(ct, id);
    return V_FORWARDED;
  }

  /** The port toward an address: by the routes when routing, else by zones and port networks. */
  private egressTo(addr: Uint32Array): number {
    const r = this.rs ? this.rs.portTo(addr) : -1;
    return r >= 0 ? r : this.ports.egress(addr);
  }

  private forward(port: number, buf: Uint8Array, off: number, len: number): number {
    this.outPort = port;
    this.emit(port, buf, off, len);
    return this.end(V_FORWARDED, 0);
  }

  private emit(port: number, buf: Uint8Array, off: number, len: number): void {
    this.stats.txByPort[port]!++;
    this.sink.send(port, buf, off, len);
  }

  private drop(reason: number): number {
    this.stats.dropsByReason[reason]!++;
    return this.end(V_DROPPED, reason);
  }

  private end(verdict: number, reason: number): number {
    this.verdict = verdict;
    this.reason = reason;
    this.stats.verdicts[verdict]!++;
    if (this.tracer) this.tracer.end(this);
    return verdict;
  }
}
