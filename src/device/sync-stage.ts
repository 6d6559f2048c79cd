/**
 * Session sync in the pipeline (a live device of a pair): the sync node of
 * src/ha/ speaks over UDP datagrams the device itself sends on its ha link
 * (Ethernet + IPv4 + UDP written here, to the peer's configured MAC and
 * address), and receives the ones the HA ingress stage hands over. New local
 * sessions are announced as they are created; with `defer`, a new session's
 * first packet is held until every peer acknowledged the insert, or
 * defer-timeout. When every peer has gone silent, the device takes over the
 * addresses its peers listed under `takeover` (answers ARP for them and
 * announces them with a gratuitous ARP), so the client's gateway moves to it.
 */
import type { HaConfig, PortConfig } from '../config/types.js';
import { DEFAULT_DEFER, DeferQueue } from '../ha/defer.js';
import { SyncNode } from '../ha/sync.js';
import type { Router } from '../l3/router.js';
import { ADDR_OWN } from '../l3/routes.js';
import { writeArpRequest } from '../l3/ndp.js';
import type { Conntrack } from '../session/conntrack.js';
import { macBytes } from '../wire/addr.js';
import { wr16, wr32 } from '../wire/bytes.js';
import { internetChecksum } from '../wire/checksum.js';
import { PROTO_UDP } from '../wire/packet.js';

type Emit = (port: number, buf: Uint8Array, off: number, len: number) => void;

const HDR = 14 + 20 + 8;
const DELAYS = 4096;

export interface SyncStageCounters {
  datagramsSent: number;
  datagramsReceived: number;
  /** Datagrams the sync node refused (auth.rejected has them by reason). */
  rejected: number;
  takeovers: number;
  gratuitousArps: number;
}

export class SyncStage {
  readonly node: SyncNode;
  readonly defer: DeferQueue | null;
  readonly counters: SyncStageCounters = {
    datagramsSent: 0,
    datagramsReceived: 0,
    rejected: 0,
    takeovers: 0,
    gratuitousArps: 0,
  };
  /** Whether the peers' takeover addresses are ours now. */
  tookOver = false;
  /** Called once the takeover addresses are ours (for the log). */
  onTakeover: (() => void) | null = null;
  private readonly out = new Uint8Array(2048);
  private readonly link: number;
  private readonly linkMac: Uint8Array;
  private readonly linkAddr: number;
  private readonly peerMac = new Map<number, Uint8Array>();
  private readonly peerAddr = new Map<number, number>();
  /** The device clock as last seen (releases by ack have no clock of their own). */
  private now = 0;
  /** The delays defer added, ms: the last DELAYS of them. */
  private readonly delays = new Float64Array(DELAYS);
  private nDelays = 0;

  constructor(
    private readonly cfg: HaConfig,
    ports: PortConfig[],
    ct: Conntrack,
    private readonly router: Router,
    private readonly emit: Emit,
    epochMs: number,
  ) {
    this.link = cfg.link;
    this.linkMac = macBytes(ports[cfg.link]!.mac!);
    const a = ports[cfg.link]!.addresses.find((x) => !x.includes(':'))!;
    const q = a
      .slice(0, a.indexOf('/') < 0 ? undefined : a.indexOf('/'))
      .split('.')
      .map(Number);
    this.linkAddr = ((q[0]! << 24) | (q[1]! << 16) | (q[2]! << 8) | q[3]!) >>> 0;
    for (const p of cfg.peers) {
      this.peerAddr.set(p.node, p.address[3]!);
      const m = p.macs[cfg.link];
      if (m) this.peerMac.set(p.node, m);
    }
    this.node = new SyncNode(
      ct,
      { node: cfg.node, epoch: epochMs, key: cfg.key, peers: cfg.peers.map((p) => p.node) },
      (peer, buf, off, len) => this.send(peer, buf, off, len),
    );
    this.defer = cfg.defer
      ? new DeferQueue(
          { ...DEFAULT_DEFER, timeoutMs: cfg.deferTimeoutMs },
          (port, buf, off, len, _t, heldAt) => {
            this.delays[this.nDelays++ % DELAYS] = this.now - heldAt;
            this.emit(port, buf, off, len);
          },
        )
      : null;
    const defer = this.defer;
    if (defer) this.node.onTicketDone = (t) => defer.acked(t);
  }

  start(nowMs: number): void {
    this.node.start(nowMs);
  }

  /** The delay defer added to first packets (the last 4096): count, median and 99th percentile, ms. */
  deferDelays(): { count: number; p50Ms: number; p99Ms: number } {
    const n = Math.min(this.nDelays, DELAYS);
    if (n === 0) return { count: 0, p50Ms: 0, p99Ms: 0 };
    const d = this.delays.slice(0, n).sort();
    const at = (q: number): number => d[Math.min(n - 1, Math.ceil(q * n) - 1)]!;
    return { count: this.nDelays, p50Ms: at(0.5), p99Ms: at(0.99) };
  }

  /** A sync datagram from a peer's address (UDP payload). */
  receive(buf: Uint8Array, off: number, len: number, nowMs: number): void {
    this.now = nowMs;
    this.counters.datagramsReceived++;
    if (this.node.receive(buf, off, len, nowMs) !== 0) this.counters.rejected++;
  }

  /** A local session was created: announced; the defer ticket of its first packet, or -1. */
  created(id: number, nowMs: number): number {
    this.now = nowMs;
    const t = this.node.inserted(id, nowMs);
    if (!this.defer || t < 0) return -1;
    // The insert must leave now for the ack to come back within the defer timeout.
    this.node.flush(nowMs);
    return t;
  }

  /** Holds a session's first packet until its ticket is acknowledged; false: send it now. */
  hold(ticket: number, port: number, buf: Uint8Array, off: number, len: number, nowMs: number): boolean {
    return this.defer !== null && this.defer.hold(ticket, port, buf, off, len, nowMs);
  }

  /** End of a batch: pending updates, acks. */
  flush(nowMs: number): void {
    this.node.flush(nowMs);
  }

  /** Timers: the sync node's, defer timeouts, and takeover when every peer is silent. */
  tick(nowMs: number): void {
    this.now = nowMs;
    this.node.tick(nowMs);
    if (this.defer) this.defer.expire(nowMs);
    const anyUp = this.node.anyUp();
    if (!anyUp && this.node.authoritative && !this.tookOver && this.hasTakeover()) this.takeOver();
  }

  private hasTakeover(): boolean {
    return this.cfg.peers.some((p) => p.takeover.length > 0);
  }

  /** Makes the peers' takeover addresses ours and announces each with a gratuitous ARP. */
  private takeOver(): void {
    this.tookOver = true;
    this.counters.takeovers++;
    const r = this.router;
    for (const p of this.cfg.peers) {
      for (const t of p.takeover) {
        if (t.port < 0) continue;
        r.ports.addAddress(t.port, t.addr, 128, ADDR_OWN);
        if (t.addr[2] !== 0xffff) continue;
        const n = writeArpRequest(this.out, 0, r.ports.macs, t.port * 6, t.addr[3]!, t.addr[3]!, null, 0);
        this.counters.gratuitousArps++;
        this.emit(t.port, this.out, 0, n);
      }
    }
    this.onTakeover?.();
  }

  /** One sync datagram to a peer node, as Ethernet + IPv4 + UDP on the ha link. */
  private send(peer: number, buf: Uint8Array, off: number, len: number): void {
    const mac = this.peerMac.get(peer);
    const dst = this.peerAddr.get(peer);
    if (!mac || dst === undefined || HDR + len > this.out.length) return;
    const o = this.out;
    o.set(mac, 0);
    o.set(this.linkMac, 6);
    wr16(o, 12, 0x0800);
    o[14] = 0x45;
    o[15] = 0;
    wr16(o, 16, 20 + 8 + len);
    wr16(o, 18, 0);
    wr16(o, 20, 0x4000);
    o[22] = 64;
    o[23] = PROTO_UDP;
    wr16(o, 24, 0);
    wr32(o, 26, this.linkAddr);
    wr32(o, 30, dst);
    wr16(o, 24, internetChecksum(o, 14, 20));
    const port = this.cfg.syncPort;
    wr16(o, 34, port);
    wr16(o, 36, port);
    wr16(o, 38, 8 + len);
    wr16(o, 40, 0); // UDP checksum off (IPv4); the HMAC covers the payload
    o.set(buf.subarray(off, off + len), HDR);
    this.counters.datagramsSent++;
    this.emit(this.link, o, 0, HDR + len);
  }
}
