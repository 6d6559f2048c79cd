/**
 * Active health probes of the real servers, sent by the device itself: a TCP
 * SYN from the device's address (a SYN-ACK means up, and is answered by a RST
 * so the server forgets the half-open connection; a RST or an ICMP
 * unreachable means down), or an ICMP echo (a reply means up). Unanswered
 * probes fail by timeout. The rise/fall state machine is HealthChecker's (one
 * per pool); this module builds the probes, matches the answers and reports.
 *
 * Pure: frames go out through `send` (the router's originate: route, next
 * hop, neighbour queue), the source address comes from `source`, the clock is
 * passed in. A probe is identified by a slot (0..SLOTS-1): its TCP source port
 * is portBase + slot, its ICMP echo sequence is the slot, under one echo id.
 * Slots are handed out round robin, so an answer arriving after its slot was
 * reused no longer matches the slot's real and is ignored.
 */
import type { HealthCheckConfig } from '../config/types.js';
import { buildFrameInto, type FrameSpec } from '../wire/build.js';
import {
  PROTO_ICMP,
  PROTO_ICMPV6,
  PROTO_TCP,
  TCP_ACK,
  TCP_RST,
  TCP_SYN,
  type Packet,
} from '../wire/packet.js';
import { HealthChecker } from './health.js';
import type { RealPool } from './pool.js';
import type { VirtualServers } from './vs.js';

export const PROBE_SLOTS = 1024;
/** Default first TCP source port of probes (61000-62023). */
export const PROBE_PORT_BASE = 61000;
/** The ICMP echo identifier of probes. */
export const PROBE_ECHO_ID = 0x5d5d;

const K_FREE = 0;
const K_TCP = 1;
const K_ICMP = 2;

export interface ProbeCounters {
  sent: number;
  /** Answers that counted as success / failure. */
  ok: number;
  failed: number;
  /** Probes that could not be sent (no route, no source address, neighbour queue full). */
  unsent: number;
  /** Answers that came after their probe's timeout (ignored). */
  late: number;
  /** RSTs sent to close a probe's half-open connection. */
  resets: number;
  transitions: number;
}

/** A health transition, for logs and counters. */
export type HealthChange = (vs: number, real: number, up: boolean, nowMs: number) => void;

export class HealthProbes {
  readonly counters: ProbeCounters = {
    sent: 0,
    ok: 0,
    failed: 0,
    unsent: 0,
    late: 0,
    resets: 0,
    transitions: 0,
  };
  onChange: HealthChange | null = null;

  private readonly checkers = new Map<RealPool, { key: string; hc: HealthChecker }>();
  private readonly kind = new Uint8Array(PROBE_SLOTS);
  private readonly isn = new Uint32Array(PROBE_SLOTS);
  private readonly port = new Uint16Array(PROBE_SLOTS);
  private readonly addr = new Uint32Array(PROBE_SLOTS * 4);
  private readonly real = new Int32Array(PROBE_SLOTS);
  private readonly deadline = new Float64Array(PROBE_SLOTS);
  private readonly pool: (RealPool | null)[] = new Array<RealPool | null>(PROBE_SLOTS).fill(null);
  private readonly due = new Int32Array(64);
  private readonly out = new Uint8Array(128);
  private readonly src = new Uint32Array(4);
  private readonly dst = new Uint32Array(4);
  private next = 0;
  private rand: number;
  /** The virtual servers of the last tick (transitions name their index in it). */
  private vsNow: VirtualServers | null = null;

  constructor(
    private readonly send: (buf: Uint8Array, off: number, len: number, nowMs: number) => boolean,
    private readonly source: (dst: Uint32Array, out: Uint32Array) => boolean,
    private readonly portBase = PROBE_PORT_BASE,
    seed = 0x9e3779b9,
  ) {
    this.rand = seed >>> 0 || 1;
  }

  /** The checker of virtual server `v`'s pool (null when it has no health check). */
  checker(vs: VirtualServers, v: number): HealthChecker | null {
    const h = vs.cfg[v]!.health;
    if (!h) return null;
    const pool = vs.pools[v]!;
    const key = `${h.type}/${h.port}/${h.intervalMs}/${h.rise}/${h.fall}/${h.timeoutMs}`;
    let e = this.checkers.get(pool);
    if (!e || e.key !== key) {
      const hc = new HealthChecker(pool, h);
      hc.onChange = (real, up, nowMs) => this.changed(pool, real, up, nowMs);
      e = { key, hc };
      this.checkers.set(pool, e);
    }
    return e.hc;
  }

  /** Sends the probes due at `nowMs` (and fails those that timed out). */
  tick(vs: VirtualServers, nowMs: number): void {
    this.vsNow = vs;
    for (let v = 0; v < vs.count; v++) {
      const hc = this.checker(vs, v);
      if (!hc) continue;
      const h = vs.cfg[v]!.health!;
      const pool = vs.pools[v]!;
      let n: number;
      do {
        n = hc.due(nowMs, this.due);
        for (let k = 0; k < n; k++) {
          const r = this.due[k]!;
          const port = h.port || vs.realPort[v]![r] || vs.cfg[v]!.port;
          if (!this.probe(pool, r, h, port, nowMs)) {
            this.counters.unsent++;
            hc.report(r, false, nowMs);
          }
        }
      } while (n === this.due.length);
    }
  }

  /**
   * An IP packet addressed to the device: true when it answers a probe
   * (consumed: reported, and a SYN-ACK reset).
   */
  receive(p: Packet, nowMs: number): boolean {
    if (p.l4Proto === PROTO_TCP) {
      const s = p.dstPort - this.portBase;
      if (s < 0 || s >= PROBE_SLOTS || this.kind[s] !== K_TCP) return false;
      if (p.srcPort !== this.port[s] || !this.from(s, p.src)) return false;
      const f = p.tcpFlags;
      const expected = (this.isn[s]! + 1) >>> 0;
      if ((f & (TCP_SYN | TCP_ACK)) === (TCP_SYN | TCP_ACK) && p.ack === expected) {
        this.reset(p, expected, nowMs);
        this.result(s, true, nowMs);
      } else if (f & TCP_RST) {
        if ((f & TCP_ACK) === 0 || p.ack === expected) this.result(s, false, nowMs);
      }
      return true;
    }
    const v4 = p.l4Proto === PROTO_ICMP;
    if (!v4 && p.l4Proto !== PROTO_ICMPV6) return false;
    if (p.icmpIsError) return this.unreachable(p, nowMs);
    if (p.icmpType !== (v4 ? 0 : 129) || p.icmpId !== PROBE_ECHO_ID) return false;
    const s = p.icmpSeq;
    if (s >= PROBE_SLOTS || this.kind[s] !== K_ICMP || !this.from(s, p.src)) return false;
    this.result(s, true, nowMs);
    return true;
  }

  /** An ICMP error quoting a probe: the probe failed (port or host unreachable). */
  private unreachable(p: Packet, nowMs: number): boolean {
    const type = p.icmpType;
    const unreach = p.l4Proto === PROTO_ICMP ? type === 3 : type === 1;
    if (!unreach) return false;
    let s: number;
    if (p.innerL4Proto === PROTO_TCP) {
      s = p.innerSrcPort - this.portBase;
      if (s < 0 || s >= PROBE_SLOTS || this.kind[s] !== K_TCP || p.innerDstPort !== this.port[s])
        return false;
    } else if (p.innerL4Proto === PROTO_ICMP || p.innerL4Proto === PROTO_ICMPV6) {
      if (p.innerIcmpId !== PROBE_ECHO_ID) return false;
      s = -1;
      for (let k = 0; k < PROBE_SLOTS && s < 0; k++)
        if (this.kind[k] === K_ICMP && this.from(k, p.innerDst)) s = k;
      if (s < 0) return false;
    } else return false;
    if (!this.from(s, p.innerDst)) return false;
    this.result(s, false, nowMs);
    return true;
  }

  private probe(pool: RealPool, r: number, h: HealthCheckConfig, port: number, nowMs: number): boolean {
    const dst = this.dst;
    for (let k = 0; k < 4; k++) dst[k] = pool.addr[r * 4 + k]!;
    if (!this.source(dst, this.src)) return false;
    const tcp = h.type === 'tcp';
    if (tcp && port === 0) return false;
    const s = this.slot(nowMs);
    this.kind[s] = tcp ? K_TCP : K_ICMP;
    this.deadline[s] = nowMs + h.timeoutMs;
    this.real[s] = r;
    this.pool[s] = pool;
    this.port[s] = port;
    this.addr.set(dst, s * 4);
    const v4 = dst[0] === 0 && dst[1] === 0 && dst[2] === 0xffff;
    const ip = v4 ? { ipv4: { src: this.src, dst } } : { ipv6: { src: this.src, dst } };
    let spec: FrameSpec;
    if (tcp) {
      const isn = this.random();
      this.isn[s] = isn;
      spec = {
        ...ip,
        tcp: {
          srcPort: this.portBase + s,
          dstPort: port,
          seq: isn,
          flags: TCP_SYN,
          window: 64240,
          mss: 1460,
        },
      };
    } else {
      const icmp = { type: v4 ? 8 : 128, code: 0, id: PROBE_ECHO_ID, seq: s };
      spec = v4 ? { ...ip, icmp } : { ...ip, icmpv6: icmp };
    }
    const n = buildFrameInto(spec, this.out, 0);
    this.counters.sent++;
    return this.send(this.out, 0, n, nowMs);
  }

  /** RST (seq = the SYN-ACK's ack) back to the server that accepted a probe. */
  private reset(p: Packet, seq: number, nowMs: number): void {
    const v4 = p.ipVersion === 4;
    const ip = v4 ? { ipv4: { src: p.dst, dst: p.src } } : { ipv6: { src: p.dst, dst: p.src } };
    const n = buildFrameInto(
      { ...ip, tcp: { srcPort: p.dstPort, dstPort: p.srcPort, seq, flags: TCP_RST, window: 0 } },
      this.out,
      0,
    );
    this.counters.resets++;
    this.send(this.out, 0, n, nowMs);
  }

  private result(s: number, ok: boolean, nowMs: number): void {
    const pool = this.pool[s]!;
    this.kind[s] = K_FREE;
    if (nowMs > this.deadline[s]!) {
      this.counters.late++;
      return;
    }
    if (ok) this.counters.ok++;
    else this.counters.failed++;
    const e = this.checkers.get(pool);
    if (e) e.hc.report(this.real[s]!, ok, nowMs);
  }

  private changed(pool: RealPool, real: number, up: boolean, nowMs: number): void {
    this.counters.transitions++;
    const vs = this.vsNow;
    const v = vs ? vs.pools.indexOf(pool) : -1;
    if (v >= 0) this.onChange?.(v, real, up, nowMs);
  }

  private from(s: number, a: Uint32Array): boolean {
    const o = s * 4;
    const b = this.addr;
    return b[o] === a[0] && b[o + 1] === a[1] && b[o + 2] === a[2] && b[o + 3] === a[3];
  }

  /** The next slot, round robin (a slot still awaiting its answer is skipped while others are free). */
  private slot(nowMs: number): number {
    for (let k = 0; k < PROBE_SLOTS; k++) {
      const s = (this.next + k) % PROBE_SLOTS;
      if (this.kind[s] === K_FREE || this.deadline[s]! < nowMs) {
        this.next = (s + 1) % PROBE_SLOTS;
        return s;
      }
    }
    const s = this.next;
    this.next = (s + 1) % PROBE_SLOTS;
    return s;
  }

  /** xorshift32: probe ISNs need only be unpredictable enough not to collide. */
  private random(): number {
    let x = this.rand;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.rand = x >>> 0;
    return this.rand;
  }
}
