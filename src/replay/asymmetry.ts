/**
 * Where each direction of each flow was seen, over captures taken at several
 * devices (an HA pair: the request through fw1, the reply through fw2).
 *
 * A flow is the 5-tuple plus the VLAN tags, direction-independent: its
 * original direction is the one of the first packet seen at any device. Per
 * flow two bit masks record which devices saw the original and which the
 * reply direction (device index < 32). NAT is not undone: a flow whose
 * addresses a device rewrote shows up as two flows.
 *
 * Pure and allocation-free per packet: the frame is decoded into one reused
 * Packet, the canonical key (lower endpoint first) goes into a scratch array,
 * and the flows live in typed arrays (a struct of arrays) with an
 * open-addressing index keyed by the session table's tuple hash. Packets that
 * belong to no flow (not IP, undecodable, ICMP errors, non-first fragments)
 * are only counted, as are ICMP types that are neither a query nor its reply.
 */
import { hashTuple } from '../session/hash.js';
import { icmpIsReply, icmpKind, icmpReplyType, isIcmp, K_NORMAL } from '../session/keys.js';
import { decodeFrame } from '../wire/decode.js';
import { Packet, PROTO_ICMP, PROTO_ICMPV6, PROTO_TCP, PROTO_UDP } from '../wire/packet.js';

/** Key words per flow: (vlans << 8) | proto, ports (A << 16 | B), address A (4 words), address B (4). */
const KW = 10;
const K_ZP = 0;
const K_PORTS = 1;
const K_A = 2;
const K_B = 6;
const EMPTY = -1;
/** Flag: the originator is endpoint A of the key. */
const ORIG_IS_A = 1;

/** The most devices one analysis follows (a 32-bit mask per direction). */
export const MAX_DEVICES = 32;

/** ICMP reply type -> its request type (-1 when not a reply), per ICMP version. */
const REQUEST_OF = [new Int16Array(256).fill(-1), new Int16Array(256).fill(-1)];
for (const [i, proto] of [PROTO_ICMP, PROTO_ICMPV6].entries()) {
  for (let t = 0; t < 256; t++) {
    const r = icmpReplyType(proto, t);
    if (r >= 0) REQUEST_OF[i]![r] = t;
  }
}

/** How the flows split by where their directions were seen. */
export interface FlowPathCounts {
  flows: number;
  /** No device saw both directions: e.g. the original only at fw1, the reply only at fw2. */
  asymmetric: number;
  /** Every device that saw the flow saw both of its directions. */
  symmetric: number;
  /** Some device saw both directions, and some direction was also seen at a device that missed the other. */
  mixed: number;
  /** Only the original direction was seen (at any device). */
  oneWay: number;
  /** Packets counted in a flow. */
  packets: number;
  /** Packets in no flow: not IP, undecodable, ICMP errors, non-first fragments. */
  otherPackets: number;
  /** Packets of new flows that found the flow table full (their flows are not counted). */
  overflowPackets: number;
}

/** One flow as the report lists it: its original tuple and the devices that saw each direction. */
export interface FlowPath {
  protoNumber: number;
  /** Address words (IPv4-mapped for IPv4) of the originator and responder. */
  src: Uint32Array;
  dst: Uint32Array;
  /** TCP/UDP ports; for ICMP queries: sport = identifier, dport = request type. */
  sport: number;
  dport: number;
  vlanOuter: number;
  vlanInner: number;
  /** Device bit masks. */
  origSeen: number;
  replySeen: number;
  origPackets: number;
  replyPackets: number;
}

export class FlowPaths {
  /** Flows in the table. */
  count = 0;
  private packets = 0;
  private other = 0;
  private overflow = 0;
  private cap: number;
  private key: Uint32Array;
  private hashes: Uint32Array;
  /** Per flow: [orig device mask, reply device mask]. */
  private seen: Uint32Array;
  /** Per flow: [orig packets, reply packets]. */
  private pkts: Uint32Array;
  private flags: Uint8Array;
  private index: Int32Array;
  private mask: number;
  private readonly pkt = new Packet();
  private readonly k = new Uint32Array(KW);

  constructor(
    /** Flows kept at most; packets of later new flows are counted as overflow. */
    readonly maxFlows = 1 << 22,
    initial = 4096,
  ) {
    if (!Number.isInteger(maxFlows) || maxFlows < 1) throw new RangeError(`bad maxFlows ${maxFlows}`);
    this.cap = Math.max(16, Math.min(initial, maxFlows));
    this.key = new Uint32Array(this.cap * KW);
    this.hashes = new Uint32Array(this.cap);
    this.seen = new Uint32Array(this.cap * 2);
    this.pkts = new Uint32Array(this.cap * 2);
    this.flags = new Uint8Array(this.cap);
    this.index = new Int32Array(this.cap * 2).fill(EMPTY);
    this.mask = this.cap * 2 - 1;
  }

  /** Counts one frame (a capture record of link type `linkType`) seen at device `device` (0..31). */
  observeFrame(
    device: number,
    buf: Uint8Array,
    off: number,
    len: number,
    linkType: number,
    wireLen = len,
  ): void {
    const p = this.pkt;
    decodeFrame(buf, off, len, linkType, p, wireLen);
    this.observe(device, p);
  }

  /** Counts one decoded packet seen at device `device` (0..31). */
  observe(device: number, p: Packet): void {
    if (p.error !== 0 || p.ipVersion === 0 || p.icmpIsError || (p.isFragment && p.fragOffset !== 0)) {
      this.other++;
      return;
    }
    if (device >>> 0 >= MAX_DEVICES) throw new RangeError(`device index ${device} is not 0..31`);
    const proto = p.l4Proto;
    let ports = 0;
    let fromA: boolean;
    const cmp = compareAddr(p.src, p.dst);
    if (proto === PROTO_TCP || proto === PROTO_UDP) {
      const sp = p.srcPort;
      const dp = p.dstPort;
      fromA = cmp < 0 || (cmp === 0 && sp <= dp);
      ports = fromA ? (sp << 16) | dp : (dp << 16) | sp;
    } else if (isIcmp(proto)) {
      if (icmpKind(proto, p.icmpType) !== K_NORMAL) {
        this.other++;
        return;
      }
      // Both directions of a query share (identifier, request type).
      const reply = icmpIsReply(proto, p.icmpType);
      const type = reply ? REQUEST_OF[proto === PROTO_ICMP ? 0 : 1]![p.icmpType]! : p.icmpType;
      fromA = cmp < 0 || (cmp === 0 && !reply);
      ports = (p.icmpId << 16) | (type & 0xffff);
    } else fromA = cmp <= 0;
    const k = this.k;
    k[K_ZP] = ((p.vlanOuter & 0xfff) << 20) | ((p.vlanInner & 0xfff) << 8) | proto;
    k[K_PORTS] = ports;
    const a = fromA ? p.src : p.dst;
    const b = fromA ? p.dst : p.src;
    k[K_A] = a[0]!;
    k[K_A + 1] = a[1]!;
    k[K_A + 2] = a[2]!;
    k[K_A + 3] = a[3]!;
    k[K_B] = b[0]!;
    k[K_B + 1] = b[1]!;
    k[K_B + 2] = b[2]!;
    k[K_B + 3] = b[3]!;
    const h = hashTuple(k[K_ZP]!, k, K_A, k, K_B, k[K_PORTS]!);
    let id = this.find(h);
    if (id < 0) {
      id = this.insert(h, fromA);
      if (id < 0) {
        this.overflow++;
        return;
      }
    }
    const dir = fromA === ((this.flags[id]! & ORIG_IS_A) !== 0) ? 0 : 1;
    this.seen[id * 2 + dir] = (this.seen[id * 2 + dir]! | (1 << device)) >>> 0;
    this.pkts[id * 2 + dir]++;
    this.packets++;
  }

  private find(h: number): number {
    const key = this.key;
    const k = this.k;
    for (let i = h & this.mask; ; i = (i + 1) & this.mask) {
      const id = this.index[i]!;
      if (id === EMPTY) return -1;
      if (this.hashes[id] !== h) continue;
      const o = id * KW;
      let same = true;
      for (let w = 0; w < KW; w++) {
        if (key[o + w] !== k[w]) {
          same = false;
          break;
        }
      }
      if (same) return id;
    }
  }

  private insert(h: number, fromA: boolean): number {
    if (this.count >= this.maxFlows) return -1;
    if (this.count >= this.cap) this.grow();
    const id = this.count++;
    this.key.set(this.k, id * KW);
    this.hashes[id] = h;
    this.flags[id] = fromA ? ORIG_IS_A : 0;
    this.place(id, h);
    return id;
  }

  private place(id: number, h: number): void {
    let i = h & this.mask;
    while (this.index[i] !== EMPTY) i = (i + 1) & this.mask;
    this.index[i] = id;
  }

  /** Doubles the flow arrays (the index stays at twice the capacity: load factor at most 1/2). */
  private grow(): void {
    const cap = Math.min(this.cap * 2, this.maxFlows);
    const more = <T extends Uint32Array | Uint8Array>(a: T, n: number): T => {
      const b = new (a.constructor as new (n: number) => T)(n);
      b.set(a);
      return b;
    };
    this.key = more(this.key, cap * KW);
    this.hashes = more(this.hashes, cap);
    this.seen = more(this.seen, cap * 2);
    this.pkts = more(this.pkts, cap * 2);
    this.flags = more(this.flags, cap);
    this.cap = cap;
    this.index = new Int32Array(cap * 2).fill(EMPTY);
    this.mask = cap * 2 - 1;
    for (let id = 0; id < this.count; id++) this.place(id, this.hashes[id]!);
  }

  /** The counts so far. */
  counts(): FlowPathCounts {
    const c: FlowPathCounts = {
      flows: this.count,
      asymmetric: 0,
      symmetric: 0,
      mixed: 0,
      oneWay: 0,
      packets: this.packets,
      otherPackets: this.other,
      overflowPackets: this.overflow,
    };
    for (let id = 0; id < this.count; id++) {
      const kind = this.kind(id);
      if (kind === 0) c.oneWay++;
      else if (kind === 1) c.asymmetric++;
      else if (kind === 2) c.symmetric++;
      else c.mixed++;
    }
    return c;
  }

  /** 0 one-way, 1 asymmetric, 2 symmetric, 3 mixed. */
  private kind(id: number): number {
    const o = this.seen[id * 2]!;
    const r = this.seen[id * 2 + 1]!;
    if (r === 0 || o === 0) return 0;
    if ((o & r) === 0) return 1;
    return o === r ? 2 : 3;
  }

  /** The first `limit` asymmetric flows, in the order their first packets were seen. */
  asymmetricFlows(limit: number): FlowPath[] {
    const out: FlowPath[] = [];
    for (let id = 0; id < this.count && out.length < limit; id++) {
      if (this.kind(id) === 1) out.push(this.flow(id));
    }
    return out;
  }

  /** Flow `id` (0 = the first seen) with its original tuple. */
  flow(id: number): FlowPath {
    const o = id * KW;
    const key = this.key;
    const origA = (this.flags[id]! & ORIG_IS_A) !== 0;
    const a = key.slice(o + K_A, o + K_A + 4);
    const b = key.slice(o + K_B, o + K_B + 4);
    const zp = key[o + K_ZP]!;
    const proto = zp & 0xff;
    const ports = key[o + K_PORTS]!;
    let sport = ports >>> 16;
    let dport = ports & 0xffff;
    if (!isIcmp(proto) && !origA) [sport, dport] = [dport, sport];
    return {
      protoNumber: proto,
      src: origA ? a : b,
      dst: origA ? b : a,
      sport,
      dport,
      vlanOuter: zp >>> 20,
      vlanInner: (zp >>> 8) & 0xfff,
      origSeen: this.seen[id * 2]!,
      replySeen: this.seen[id * 2 + 1]!,
      origPackets: this.pkts[id * 2]!,
      replyPackets: this.pkts[id * 2 + 1]!,
    };
  }
}

/** Orders two addresses (4 words each) as unsigned numbers: -1, 0 or 1. */
function compareAddr(x: Uint32Array, y: Uint32Array): number {
  for (let i = 0; i < 4; i++) {
    const a = x[i]!;
    const b = y[i]!;
    if (a !== b) return a < b ? -1 : 1;
  }
  return 0;
}
