/**
 * The router's per-packet decisions over a decoded Packet (the pipeline's l3
 * stage): is it for the device, route lookup, TTL / hop limit, egress MTU,
 * neighbour resolution and the Ethernet rewrite, and the ICMP / ICMPv6
 * errors a router sends (rate-limited; never about ICMP errors, multicast or
 * broadcast, martian sources or non-first fragments: RFC 1812 4.3.2.7, RFC
 * 4443 2.4(e)). Order as Linux's ip_forward: route (no route: unreachable),
 * then TTL (time exceeded), then MTU (frag needed / packet too big), then the
 * TTL decrement.
 *
 * Frames the router generates (ICMP errors, echo replies, ARP / ND requests
 * and answers, frames released from the neighbour queue) go to `emit`
 * synchronously; the bytes are valid only during the call. Forwarded frames
 * are rewritten in place: send p's frame on `egressPort` when route() returns
 * R_FORWARD. The clock is the device's (ms), passed in. No allocation per
 * packet. Not done here: IPv4 fragmentation (R_FRAGMENT tells the caller),
 * VLAN retagging between ports (tags are kept as received; generated requests
 * are untagged), redirects, IP options.
 */
import { parsePrefix } from '../config/cidr.js';
import { ipWords, macBytes } from '../wire/addr.js';
import { isV4Mapped, rd32 } from '../wire/bytes.js';
import { ICMP6_NA, ICMP6_NS } from '../wire/icmpv6.js';
import { ETH_ARP, PROTO_ICMP, PROTO_ICMPV6, type Packet } from '../wire/packet.js';
import { writeIcmpError } from '../wire/reply.js';
import { decrementTtl } from '../wire/rewrite.js';
import {
  answerArp,
  answerNs,
  ND_OPT_SLLA,
  ND_OPT_TLLA,
  ndOptionMac,
  ndValid,
  writeArpRequest,
  writeNs,
} from './ndp.js';
import { NEIGH_INCOMPLETE, NEIGH_NEW, NEIGH_STALE, NeighbourCache } from './neighbours.js';
import {
  forwardable,
  icmpErrorAllowed,
  rewriteEthernet,
  TokenBucket,
  v4Martian,
  v6LinkLocal,
  v6Unspecified,
  writeEchoReply,
} from './router-icmp.js';
import { ADDR_OWN, ADDR_VIP, L3Ports, RouteTable } from './routes.js';
import {
  R_FORWARD,
  R_FRAGMENT,
  R_LOCAL,
  R_NO_ROUTE,
  R_NOT_ROUTABLE,
  R_QUEUE_FULL,
  R_QUEUED,
  R_REPLY,
  R_TOO_BIG,
  R_TTL_EXCEEDED,
  type Emit,
  type RouterOptions,
  type RouterStats,
  newRouterStats,
} from './router-types.js';

export { forwardable, icmpErrorAllowed, rewriteEthernet, TokenBucket, writeEchoReply };

export * from './router-types.js';

export class Router {
  readonly routes: RouteTable;
  readonly ports: L3Ports;
  readonly neighbours: NeighbourCache;
  readonly icmpBucket: TokenBucket;
  readonly stats: RouterStats = newRouterStats();

  /** After route(): the egress port (R_FORWARD, R_FRAGMENT, R_QUEUED), else -1. */
  egressPort = -1;
  private readonly ndRouter: boolean;
  private readonly out = new Uint8Array(65536 + 64);
  private readonly nh = new Uint32Array(4);
  private readonly back = new Uint32Array(4);
  private readonly from = new Uint32Array(4);
  private readonly replyMac = new Uint8Array(6);

  constructor(
    private readonly emit: Emit,
    o: RouterOptions = {},
  ) {
    this.routes = new RouteTable(o.maxRoutes ?? 4096);
    this.ports = new L3Ports(o.maxPorts ?? 256, o.maxAddresses ?? 1024);
    this.neighbours = new NeighbourCache(o.neighbours ?? {});
    this.icmpBucket = new TokenBucket(o.icmpRatePerSec ?? 1000, o.icmpBurst ?? 50);
    this.ndRouter = o.ndRouterFlag ?? true;
  }

  // ---- configuration (off the fast path) ----

  addPort(port: number, mac: string | Uint8Array, mtu = 1500): void {
    this.ports.addPort(port, typeof mac === 'string' ? macBytes(mac) : mac, mtu);
  }

  /** An own address with its prefix ("10.0.1.1/24"): also the connected route. */
  addAddress(port: number, cidr: string): void {
    const pfx = parsePrefix(cidr);
    if (typeof pfx === 'string') throw new Error(pfx);
    const slash = cidr.indexOf('/');
    this.ports.addAddress(port, ipWords(slash < 0 ? cidr : cidr.slice(0, slash)), pfx.len, ADDR_OWN);
    this.routes.addConnected(pfx, port);
  }

  /** A VIP answered (ARP / ND, echo) on `port`. */
  addVip(port: number, addr: string): void {
    this.ports.addAddress(port, ipWords(addr), 128, ADDR_VIP);
  }

  /** A static route ("0.0.0.0/0" via "10.0.2.254" on port 1; gateway null: connected). */
  addRoute(prefix: string, port: number, gateway: string | null): number {
    const pfx = parsePrefix(prefix);
    if (typeof pfx === 'string') throw new Error(pfx);
    return this.routes.add(pfx, port, gateway === null ? null : ipWords(gateway));
  }

  // ---- per packet ----

  /** True when p's destination is one of the device's addresses (own or VIP). */
  isForUs(p: Packet): boolean {
    return this.ports.find(p.dst) >= 0;
  }

  /** The l3 stage for a decoded IP packet that arrived on `inPort` (see the R_* verdicts). */
  route(p: Packet, inPort: number, nowMs: number): number {
    this.egressPort = -1;
    const v4 = p.ipVersion === 4;
    if (p.ipVersion === 0 || p.error !== 0) return this.count(R_NOT_ROUTABLE);
    if (this.isForUs(p)) {
      if (
        p.l4Proto === (v4 ? PROTO_ICMP : PROTO_ICMPV6) &&
        p.icmpType === (v4 ? 8 : 128) &&
        this.echo(p, inPort, nowMs)
      )
        return R_REPLY;
      return this.count(R_LOCAL);
    }
    if (!forwardable(p)) return this.count(R_NOT_ROUTABLE);
    const ri = this.routes.lookup(p.dst);
    if (ri < 0) {
      this.icmpError(p, inPort, nowMs, v4 ? 3 : 1, 0, 0);
      return this.count(R_NO_ROUTE);
    }
    if (p.ttl <= 1) {
      this.icmpError(p, inPort, nowMs, v4 ? 11 : 3, 0, 0);
      return this.count(R_TTL_EXCEEDED);
    }
    const port = this.routes.port(ri);
    const mtu = this.ports.mtu(port);
    // A GSO frame leaves as segments of its gso_size (p.vnet >>> 16) payload bytes.
    const size = p.vnet === 0 ? p.ipEnd - p.l3Off : p.l4Off - p.l3Off + p.tcpHeaderLen + (p.vnet >>> 16);
    if (size > mtu) {
      if (v4 && !p.dontFragment) {
        this.egressPort = port;
        return this.count(R_FRAGMENT);
      }
      this.icmpError(p, inPort, nowMs, v4 ? 3 : 2, v4 ? 4 : 0, v4 ? mtu & 0xffff : mtu, v4 ? false : true);
      return this.count(R_TOO_BIG);
    }
    decrementTtl(p);
    this.egressPort = port;
    if (p.ethOff < 0) return this.count(R_FORWARD);
    const nh = this.nh;
    this.routes.nextHop(ri, p.dst, nh);
    const macs = this.ports.macs;
    const nc = this.neighbours;
    const ni = nc.resolve(nh, port, nowMs);
    if (ni >= 0) {
      rewriteEthernet(p, macs, port * 6, nc.macs, ni * 6);
      return this.count(R_FORWARD);
    }
    rewriteEthernet(p, macs, port * 6, p.buf, p.ethOff);
    const end = p.capEnd < p.ipEnd ? p.capEnd : p.ipEnd;
    const ok = nc.enqueue(nh, port, p.buf, p.ethOff, end - p.ethOff);
    if (ni === NEIGH_NEW) this.sendRequest(port, nh, -1);
    return this.count(ok ? R_QUEUED : R_QUEUE_FULL);
  }

  /**
   * ARP, NS and NA: learns the sender / target, answers requests for the
   * device's addresses on `inPort`, and sends the frames a learned MAC
   * releases. True when p was one of these (consumed: never forwarded).
   */
  neighbour(p: Packet, inPort: number, nowMs: number): boolean {
    const nc = this.neighbours;
    const a = this.back;
    if (p.etherType === ETH_ARP) {
      if (p.error !== 0 || p.ethOff < 0) return true;
      a[0] = 0;
      a[1] = 0;
      a[2] = 0xffff;
      a[3] = p.arpTpa;
      const forUs = this.ports.localOn(a, inPort);
      a[3] = p.arpSpa;
      if (p.arpSpa !== 0 && !v4Martian(p.arpSpa) && (p.arpOp === 1 || p.arpOp === 2)) {
        this.release(nc.learn(a, p.buf, p.l3Off + 8, inPort, nowMs, forUs), inPort);
      }
      this.answer(answerArp(p, this.ports, inPort, this.out, 0), inPort);
      return true;
    }
    if (p.ipVersion !== 6 || p.l4Proto !== PROTO_ICMPV6 || p.isFragment) return false;
    const t = p.icmpType;
    if (t !== ICMP6_NS && t !== ICMP6_NA) return false;
    if (!ndValid(p, t)) return true;
    if (t === ICMP6_NS) {
      const forUs = this.ports.localOn(p.ndTarget, inPort);
      const slla = ndOptionMac(p, ND_OPT_SLLA);
      if (slla >= 0 && !v6Unspecified(p.src))
        this.release(nc.learn(p.src, p.buf, slla, inPort, nowMs, forUs), inPort);
      this.answer(answerNs(p, this.ports, inPort, this.out, 0, this.ndRouter), inPort);
    } else {
      const tlla = ndOptionMac(p, ND_OPT_TLLA);
      if (tlla >= 0) this.release(nc.learn(p.ndTarget, p.buf, tlla, inPort, nowMs, false), inPort);
    }
    return true;
  }

  /**
   * Sends a frame the device itself built (Ethernet + IPv4/IPv6, untagged; the
   * source address already set): route lookup by its destination, the next
   * hop's MAC, or the neighbour queue while it resolves. No TTL decrement, no
   * ICMP errors. Returns R_FORWARD, R_QUEUED, R_QUEUE_FULL or R_NO_ROUTE.
   */
  originate(buf: Uint8Array, off: number, len: number, nowMs: number): number {
    const d = this.nh;
    const et = (buf[off + 12]! << 8) | buf[off + 13]!;
    if (et === 0x0800) {
      d[0] = 0;
      d[1] = 0;
      d[2] = 0xffff;
      d[3] = rd32(buf, off + 30);
    } else if (et === 0x86dd) {
      for (let k = 0; k < 4; k++) d[k] = rd32(buf, off + 38 + k * 4);
    } else return R_NO_ROUTE;
    const ri = this.routes.lookup(d);
    if (ri < 0) return R_NO_ROUTE;
    const port = this.routes.port(ri);
    this.routes.nextHop(ri, d, d);
    buf.set(this.ports.macs.subarray(port * 6, port * 6 + 6), off + 6);
    const nc = this.neighbours;
    const ni = nc.resolve(d, port, nowMs);
    if (ni >= 0) {
      buf.set(nc.macs.subarray(ni * 6, ni * 6 + 6), off);
      this.emit(port, buf, off, len);
      return R_FORWARD;
    }
    const ok = nc.enqueue(d, port, buf, off, len);
    if (ni === NEIGH_NEW) this.sendRequest(port, d, -1);
    return ok ? R_QUEUED : R_QUEUE_FULL;
  }

  /** Timers: neighbour (re)requests and failures. Call every ~100 ms. */
  tick(nowMs: number): void {
    const nc = this.neighbours;
    const n = nc.tick(nowMs);
    for (let k = 0; k < n; k++) {
      const i = nc.requests[k]!;
      nc.addrInto(i, this.nh);
      this.sendRequest(nc.portOf(i), this.nh, nc.state(i) === NEIGH_STALE ? i : -1);
    }
  }

  /** Answers an echo request to the device back toward its source. */
  echo(p: Packet, inPort: number, nowMs: number): boolean {
    const port = this.returnPath(p, inPort, nowMs);
    if (port < 0) return false;
    const n = writeEchoReply(p, this.out, 0);
    if (n === 0) return false;
    this.setReplyMacs(p, port);
    this.stats.echoReplies++;
    this.emit(port, this.out, 0, n);
    return true;
  }

  /**
   * Sends ICMP error (type, code, rest) about p toward its source, from the
   * device's address on the return port, when the RFC 1812 rules, the return
   * path and the rate limit allow. True when sent.
   */
  icmpError(
    p: Packet,
    inPort: number,
    nowMs: number,
    type: number,
    code: number,
    rest: number,
    tooBig = false,
  ): boolean {
    if (!icmpErrorAllowed(p, tooBig)) {
      this.stats.icmpSuppressed++;
      return false;
    }
    const port = this.returnPath(p, inPort, nowMs);
    if (port < 0) return false;
    if (!this.icmpBucket.take(nowMs)) {
      this.stats.icmpRateLimited++;
      return false;
    }
    const from = this.ports.source(port, p.src, this.from) ? this.from : null;
    const n = writeIcmpError(p, this.out, 0, type, code, rest, from);
    if (n === 0) return false;
    this.setReplyMacs(p, port);
    this.stats.icmpSent++;
    this.emit(port, this.out, 0, n);
    return true;
  }

  /**
   * The port toward p's source, with the destination MAC in replyMac: the
   * frame's own source MAC when that port is the one p came in on (or p's
   * source is link-local), else the resolved next hop. -1 when there is none.
   */
  private returnPath(p: Packet, inPort: number, nowMs: number): number {
    const ri = this.routes.lookup(p.src);
    let port = ri >= 0 ? this.routes.port(ri) : -1;
    if (port < 0 && p.ipVersion === 6 && v6LinkLocal(p.src)) port = inPort;
    if (port < 0 || p.ethOff < 0) {
      if (port < 0) this.stats.noReturnPath++;
      return port;
    }
    const mac = this.replyMac;
    if (port === inPort) {
      for (let i = 0; i < 6; i++) mac[i] = p.buf[p.ethOff + 6 + i]!;
      return port;
    }
    this.routes.nextHop(ri, p.src, this.back);
    const ni = this.neighbours.find(this.back, port);
    if (ni < 0 || this.neighbours.state(ni) === NEIGH_INCOMPLETE) {
      if (this.neighbours.resolve(this.back, port, nowMs) === NEIGH_NEW)
        this.sendRequest(port, this.back, -1);
      this.stats.noReturnPath++;
      return -1;
    }
    for (let i = 0; i < 6; i++) mac[i] = this.neighbours.macs[ni * 6 + i]!;
    return port;
  }

  private setReplyMacs(p: Packet, port: number): void {
    if (p.ethOff < 0) return;
    const o = this.out;
    for (let i = 0; i < 6; i++) {
      o[i] = this.replyMac[i]!;
      o[6 + i] = this.ports.macs[port * 6 + i]!;
    }
  }

  /** ARP request / NS for `target` on `port`; `entry` >= 0: unicast probe to that entry's MAC. */
  private sendRequest(port: number, target: Uint32Array, entry: number): void {
    if (!this.ports.hasPort(port) || !this.ports.source(port, target, this.from, true)) return;
    const nc = this.neighbours;
    const m = entry >= 0 ? nc.macs : null;
    const macs = this.ports.macs;
    const n = isV4Mapped(target)
      ? writeArpRequest(this.out, 0, macs, port * 6, this.from[3]!, target[3]!, m, entry * 6)
      : writeNs(this.out, 0, macs, port * 6, this.from, target, m, entry * 6);
    this.stats.requestsSent++;
    this.emit(port, this.out, 0, n);
  }

  private answer(n: number, port: number): void {
    if (n === 0) return;
    this.stats.neighbourAnswers++;
    this.emit(port, this.out, 0, n);
  }

  private release(n: number, port: number): void {
    const nc = this.neighbours;
    for (let k = 0; k < n; k++) {
      const s = nc.released[k]!;
      this.stats.forwarded++;
      this.emit(port, nc.pool, nc.slotOff(s), nc.slotLen[s]!);
    }
  }

  private count(v: number): number {
    const s = this.stats;
    if (v === R_FORWARD) s.forwarded++;
    else if (v === R_LOCAL) s.local++;
    else if (v === R_QUEUED) s.queued++;
    else if (v === R_QUEUE_FULL) s.queueFull++;
    else if (v === R_TTL_EXCEEDED) s.ttlExceeded++;
    else if (v === R_NO_ROUTE) s.noRoute++;
    else if (v === R_TOO_BIG) s.tooBig++;
    else if (v === R_FRAGMENT) s.fragment++;
    else if (v === R_NOT_ROUTABLE) s.notRoutable++;
    return v;
  }
}
