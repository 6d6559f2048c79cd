/** Test support for the sync protocol: an in-memory lossy link with an injected clock, nodes, table dumps. */
import { expect } from 'vitest';
import { parseConfig } from '../../../src/config/load.js';
import type { DeviceConfig } from '../../../src/config/types.js';
import { Device } from '../../../src/device/device.js';
import { SYNC_FLAGS } from '../../../src/ha/sessions.js';
import { SyncNode, type SyncConfig } from '../../../src/ha/sync.js';
import { Conntrack, defaultConntrackConfig } from '../../../src/session/conntrack.js';
import { F_ASSURED, F_DNAT, F_PEER, F_SEEN_REPLY } from '../../../src/session/table.js';
import { TCP_WORDS } from '../../../src/session/tcp-store.js';
import type { TimedFrame } from '../../support/conv.js';

export const KEY = Uint8Array.from({ length: 32 }, (_x, i) => (i * 37 + 11) & 0xff);

/** Deterministic xorshift32 PRNG giving floats in [0, 1). */
export function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 4294967296;
  };
}

interface InFlight {
  at: number;
  from: number;
  to: number;
  data: Uint8Array;
}

/**
 * Nodes joined by a link that delays every datagram by `delayMs` and drops
 * those `drop` says to. Time moves only in `run`.
 */
export class Net {
  now = 0;
  delayMs = 1;
  readonly nodes = new Map<number, SyncNode>();
  readonly queue: InFlight[] = [];
  /** Datagrams handed to the link, dropped by it, and per delivery the receiver's verdict. */
  sent = 0;
  dropped = 0;
  readonly rejects: number[] = [];
  /** Every datagram sent, for tests that replay or tamper with them. */
  readonly log: InFlight[] = [];
  drop: (d: InFlight) => boolean = () => false;

  sender(from: number) {
    return (peer: number, buf: Uint8Array, off: number, len: number): void => {
      const d = { at: this.now + this.delayMs, from, to: peer, data: buf.slice(off, off + len) };
      this.sent++;
      this.log.push(d);
      if (this.drop(d)) {
        this.dropped++;
        return;
      }
      this.queue.push(d);
    };
  }

  add(node: SyncNode): SyncNode {
    this.nodes.set(node.auth.node, node);
    return node;
  }

  /** Runs the clock forward `ms` in 1 ms steps: deliver what is due, flush the receivers, tick everyone. */
  run(ms: number, tickEvery = 1): void {
    const end = this.now + ms;
    while (this.now < end) {
      this.now++;
      this.deliverDue();
      if (this.now % tickEvery === 0) for (const n of this.nodes.values()) n.tick(this.now);
    }
  }

  /** Runs until `done()` holds (checked every ms) or `maxMs` passed; returns the time it took. */
  runUntil(done: () => boolean, maxMs: number): number {
    const start = this.now;
    while (!done() && this.now - start < maxMs) this.run(1);
    return this.now - start;
  }

  deliverDue(): void {
    const due = this.queue.filter((d) => d.at <= this.now);
    if (due.length === 0) return;
    this.queue.splice(0, this.queue.length, ...this.queue.filter((d) => d.at > this.now));
    const touched = new Set<SyncNode>();
    for (const d of due) {
      const n = this.nodes.get(d.to);
      if (!n) continue;
      const r = n.receive(d.data, 0, d.data.length, this.now);
      if (r !== 0) this.rejects.push(r);
      touched.add(n);
    }
    for (const n of touched) n.flush(this.now);
  }
}

export function nodeConfig(
  node: number,
  epoch: number,
  peers: number[],
  extra: Partial<SyncConfig> = {},
): SyncConfig {
  return { node, epoch, key: KEY, peers, ...extra };
}

export function conntrack(maxSessions = 4096): Conntrack {
  return new Conntrack({ ...defaultConntrackConfig(), maxSessions });
}

/** A device config with zones, a load-balanced VIP and an accepting policy for inside. */
export function lbDeviceConfig(): DeviceConfig {
  return parseConfig(
    `
sessions: { max: 4096 }
zones:
  inside: { networks: [10.0.1.0/24, "fd00:1::/64"] }
  dmz: { networks: [10.0.2.0/24] }
  outside: { default: true }
virtual-servers:
  - name: web
    vip: 10.0.0.100
    proto: tcp
    port: 80
    scheduler: rr
    reals: [ { address: 10.0.2.11, port: 8080 }, { address: 10.0.2.12, port: 8080 } ]
policy: { rules: [ { from: inside, action: accept } ] }
`,
    'ha-test.yaml',
  );
}

/** Runs frames through a device (copies, as the device rewrites in place); returns the verdicts. */
export function feed(dev: Device, frames: TimedFrame[]): number[] {
  return frames.map((f) => {
    const frame = f.frame.slice();
    return dev.process(frame, 0, frame.length, 1, f.iface ?? -1, f.t * 1000);
  });
}

export function newDevice(cfg: DeviceConfig = lbDeviceConfig()): { dev: Device; sent: Uint8Array[] } {
  const sent: Uint8Array[] = [];
  const dev = new Device(cfg, { send: (_p, buf, off, len) => sent.push(buf.slice(off, off + len)) });
  return { dev, sent };
}

/** One session as comparable data: tuples, flags, state, ports, aux, TCP words, owner, expiry. */
export interface Dumped {
  key: string;
  flags: number;
  state: number;
  ports: string;
  aux: number;
  tcp: number[];
  owner: number;
  peerFlag: boolean;
  expires: number;
}

export function dump(node: SyncNode): Map<string, Dumped> {
  const ct = node.ct;
  const t = ct.table;
  const out = new Map<string, Dumped>();
  const a = new Uint32Array(4);
  for (let id = 0; id < t.capacity; id++) {
    if (!t.isUsed(id)) continue;
    const parts: string[] = [t.zoneProto(id).toString(16)];
    for (const dir of [0, 1])
      for (const which of [0, 1]) {
        t.readAddr(id, dir, which, a);
        parts.push(Array.from(a, (w) => w.toString(16)).join(':'));
      }
    parts.push(t.ports(id, 0).toString(16), t.ports(id, 1).toString(16));
    const key = parts.join('/');
    out.set(key, {
      key,
      flags: t.flags(id) & SYNC_FLAGS,
      state: t.state(id),
      ports: `${t.port(id << 1)}>${t.port((id << 1) | 1)}`,
      aux: t.aux(id),
      tcp:
        (t.zoneProto(id) & 0xff) === 6
          ? Array.from(ct.tcp.data.subarray(id * TCP_WORDS, (id + 1) * TCP_WORDS))
          : [],
      owner: node.table.ownerOf(id),
      peerFlag: (t.flags(id) & F_PEER) !== 0,
      expires: t.expires(id),
    });
  }
  return out;
}

/**
 * The two nodes hold the same sessions, one by one: tuples, flags, states,
 * egress ports, aux, TCP words and owner; a session is marked F_PEER exactly
 * where its owner is the other node; expiry times agree within `slackMs`.
 */
export function expectSameTables(a: SyncNode, b: SyncNode, slackMs = 50): number {
  const da = dump(a);
  const db = dump(b);
  expect([...db.keys()].sort()).toEqual([...da.keys()].sort());
  for (const [k, x] of da) {
    const y = db.get(k)!;
    const strip = (d: Dumped) => ({ ...d, peerFlag: undefined, expires: undefined });
    expect(strip(y)).toEqual(strip(x));
    expect(x.peerFlag).toBe(x.owner !== a.auth.node);
    expect(y.peerFlag).toBe(y.owner !== b.auth.node);
    expect(Math.abs(x.expires - y.expires)).toBeLessThanOrEqual(slackMs);
  }
  return da.size;
}

const PROTO = { tcp: 6, udp: 17, icmp: 1 };

/**
 * Creates `n` sessions in the node's table the way the device would leave
 * them (mixed: IPv4 TCP, UDP, ICMP, IPv6 TCP, and DNAT'd TCP whose reply
 * tuple comes from a real server), with TCP words, flags, egress ports, aux
 * and lifetimes; announces each with `inserted` unless told not to. Tuples
 * are unique per `seed`.
 */
export function addSessions(
  node: SyncNode,
  n: number,
  seed: number,
  nowMs: number,
  announce = true,
): number[] {
  const ct = node.ct;
  const t = ct.table;
  const r = rng(seed * 7919 + 1);
  const word = () => Math.floor(r() * 4294967296) >>> 0;
  const ids: number[] = [];
  const v4 = (a: number) => Uint32Array.of(0, 0, 0xffff, a >>> 0);
  for (let i = 0; i < n; i++) {
    const kind = i % 5;
    const client = ((10 << 24) | ((seed & 0xff) << 16) | (i & 0xffff)) >>> 0;
    const server = ((198 << 24) | (18 << 16) | (i & 0xffff)) >>> 0;
    let oSrc = v4(client);
    let oDst = v4(server);
    let rSrc = v4(server);
    const rDst = kind === 3 ? oSrc : v4(client);
    let proto = PROTO.tcp;
    const sport = 1024 + (i % 60000);
    let oPorts = ((sport << 16) | 443) >>> 0;
    let rPorts = ((443 << 16) | sport) >>> 0;
    let flags = 0;
    if (kind === 1) proto = PROTO.udp;
    if (kind === 2) {
      proto = PROTO.icmp;
      oPorts = (((i & 0xffff) << 16) | 8) >>> 0;
      rPorts = ((i & 0xffff) << 16) >>> 0;
    }
    if (kind === 3) {
      oSrc = Uint32Array.of(0x20010db8, seed, 0, i);
      oDst = Uint32Array.of(0x20010db8, 0xffff, 0, i);
      rSrc = oDst;
    }
    if (kind === 4) {
      // Client -> VIP, reply from a real server on port 8080.
      oDst = v4(0x0a000064);
      rSrc = v4(0x0a00020b + (i & 1));
      oPorts = ((sport << 16) | 80) >>> 0;
      rPorts = ((8080 << 16) | sport) >>> 0;
      flags |= F_DNAT;
    }
    const zp = (((i % 3) << 8) | proto) >>> 0;
    const id = t.insert(zp, oSrc, oDst, oPorts, rSrc, kind === 3 ? oSrc : rDst, rPorts, nowMs);
    if (id < 0) throw new Error(`insert ${i}: ${id}`);
    if (r() < 0.7) flags |= F_SEEN_REPLY;
    if (r() < 0.5) flags |= F_ASSURED;
    t.setFlags(id, t.flags(id) | flags);
    t.setState(id, proto === PROTO.tcp ? 0 : Math.floor(r() * 3));
    t.setPorts(id, 1 + (i % 3), i % 2);
    t.setAux(id, kind === 4 ? i & 1 : 0xffff);
    t.setExpires(id, nowMs + 30_000 + Math.floor(r() * 400_000));
    ct.wheel.schedule(id);
    if (proto === PROTO.tcp) for (let w = 0; w < TCP_WORDS; w++) ct.tcp.data[id * TCP_WORDS + w] = word();
    ids.push(id);
    if (announce) node.inserted(id, nowMs);
  }
  return ids;
}

/** Changes a local TCP session's window words and tells the node. */
export function touchSession(node: SyncNode, id: number, salt: number): void {
  const d = node.ct.tcp.data;
  d[id * TCP_WORDS] = (d[id * TCP_WORDS]! + salt) >>> 0;
  d[id * TCP_WORDS + 4] = (d[id * TCP_WORDS + 4]! ^ salt) >>> 0;
  node.updated(id);
}

/** Two started nodes (ids 1 and 2) on one link, run until each sees the other up. */
export function pair(
  opts: Partial<SyncConfig> = {},
  maxSessions = 4096,
): { net: Net; a: SyncNode; b: SyncNode } {
  const net = new Net();
  const a = net.add(new SyncNode(conntrack(maxSessions), nodeConfig(1, 1000, [2], opts), net.sender(1)));
  const b = net.add(new SyncNode(conntrack(maxSessions), nodeConfig(2, 2000, [1], opts), net.sender(2)));
  a.start(0);
  b.start(0);
  net.runUntil(() => a.peers[0]!.ch.up && b.peers[0]!.ch.up, 100);
  expect(a.peers[0]!.ch.up && b.peers[0]!.ch.up).toBe(true);
  return { net, a, b };
}

/** Nothing left to send: rings empty, no bulk running. */
export function settled(...nodes: SyncNode[]): boolean {
  return nodes.every((n) => n.peers.every((p) => p.ch.sender.inFlight() === 0 && !p.bulk.active));
}
