/**
 * The router stage (router mode: ports with addresses). Before the session
 * stages: ARP and neighbour discovery, and pings to the device itself. After
 * them: the route lookup, TTL, the next hop's MAC, and the ICMP errors a
 * router sends, all done by src/l3/router.ts.
 */
import type { DeviceConfig } from '../config/types.js';
import * as rt from '../l3/router.js';
import {
  R_NEIGH_QUEUE_FULL,
  R_NO_ROUTE,
  R_NOT_ROUTABLE,
  R_TO_DEVICE,
  R_TOO_BIG,
  R_TTL_EXCEEDED,
} from '../session/reasons.js';
import { PROTO_ICMP, PROTO_ICMPV6, type Packet } from '../wire/packet.js';
import { ADDR_OWN, ADDR_VIP } from '../l3/routes.js';
import { HealthProbes } from '../lb/probes.js';

/** `after` results besides a drop reason (> 0). */
export const OUT_FORWARD = 0; // send on `egressPort`
export const OUT_HELD = -1; // queued until the next hop is resolved

/** `before` results. */
export const IN_PASS = 0; // go on to the session stages
export const IN_CONSUMED = 1; // ARP/ND or a ping answered
export const IN_TO_DEVICE = 2; // for the device, no service: drop

const REASON_OF = new Int32Array(10);
REASON_OF[rt.R_QUEUE_FULL] = R_NEIGH_QUEUE_FULL;
REASON_OF[rt.R_TTL_EXCEEDED] = R_TTL_EXCEEDED;
REASON_OF[rt.R_NO_ROUTE] = R_NO_ROUTE;
REASON_OF[rt.R_TOO_BIG] = R_TOO_BIG;
REASON_OF[rt.R_FRAGMENT] = R_TOO_BIG;
REASON_OF[rt.R_NOT_ROUTABLE] = R_NOT_ROUTABLE;
REASON_OF[rt.R_LOCAL] = R_TO_DEVICE;

export class RouteStage {
  readonly router: rt.Router;
  egressPort = -1;
  /** Health probes whose answers come to the device's addresses (live only). */
  probes: HealthProbes | null = null;

  constructor(cfg: DeviceConfig, emit: rt.Emit) {
    this.router = new rt.Router(emit, { maxPorts: Math.max(8, cfg.ports.length) });
    cfg.ports.forEach((p, i) => {
      if (!p.mac) return;
      this.router.addPort(i, p.mac, p.mtu);
      for (const a of p.addresses) this.router.addAddress(i, a);
      for (const v of p.vips) this.router.addVip(i, v);
    });
    for (const r of cfg.routes) this.router.addRoute(r.prefix, r.port, r.via);
  }

  /**
   * A unicast frame for another MAC than this port's: a router's NIC would
   * not take it (a bridge floods frames for unknown or other stations).
   */
  foreignMac(p: Packet, inPort: number): boolean {
    const o = p.ethOff;
    const ports = this.router.ports;
    if (o < 0 || inPort < 0 || (p.buf[o]! & 1) !== 0 || !ports.hasPort(inPort)) return false;
    const m = ports.macs;
    const b = inPort * 6;
    for (let k = 0; k < 6; k++) if (p.buf[o + k] !== m[b + k]) return true;
    return false;
  }

  /** ARP/ND and packets to the device: consumed, or dropped, or passed on. */
  before(p: Packet, inPort: number, nowMs: number): number {
    const r = this.router;
    if (r.neighbour(p, inPort, nowMs)) return IN_CONSUMED;
    if (p.ipVersion === 0) return IN_PASS;
    const kind = r.ports.kindOf(p.dst);
    if (kind === 0) return IN_PASS;
    // A VIP is the load balancer's: only pings to it are answered here.
    const echo =
      (p.l4Proto === PROTO_ICMP && p.icmpType === 8) || (p.l4Proto === PROTO_ICMPV6 && p.icmpType === 128);
    if (kind === ADDR_VIP && !echo) return IN_PASS;
    if (this.probes && kind === ADDR_OWN && this.probes.receive(p, nowMs)) return IN_CONSUMED;
    const v = r.route(p, inPort, nowMs);
    return v === rt.R_REPLY ? IN_CONSUMED : IN_TO_DEVICE;
  }

  /** The port that leads to an address by the routes, or -1. */
  portTo(addr: Uint32Array): number {
    const i = this.router.routes.lookup(addr);
    return i < 0 ? -1 : this.router.routes.port(i);
  }

  /** Starts health probes sent from the device's addresses through this router. */
  enableProbes(seed?: number): HealthProbes {
    const router = this.router;
    const probes = new HealthProbes(
      (buf, off, len, nowMs) => {
        const r = router.originate(buf, off, len, nowMs);
        return r === rt.R_FORWARD || r === rt.R_QUEUED;
      },
      (dst, out) => this.source(dst, out),
      undefined,
      seed,
    );
    this.probes = probes;
    return probes;
  }

  /** The device's source address toward `dst` (on the port that leads there). */
  source(dst: Uint32Array, out: Uint32Array): boolean {
    const port = this.portTo(dst);
    return port >= 0 && this.router.ports.source(port, dst, out);
  }

  /** Routes a packet the session stages let through: OUT_FORWARD (frame rewritten), OUT_HELD, or a drop reason. */
  after(p: Packet, inPort: number, nowMs: number): number {
    const v = this.router.route(p, inPort, nowMs);
    if (v === rt.R_FORWARD) {
      this.egressPort = this.router.egressPort;
      return OUT_FORWARD;
    }
    if (v === rt.R_QUEUED) return OUT_HELD;
    return REASON_OF[v] || R_NO_ROUTE;
  }

  tick(nowMs: number): void {
    this.router.tick(nowMs);
  }
}
