/**
 * The router's static view of the world: a route table with longest-prefix
 * match, and the ports' L3 identities (MAC, MTU, own addresses, VIPs).
 *
 * Addresses are the 4-word form of src/wire/packet.ts (IPv4 as ::ffff:a.b.c.d,
 * so an IPv4 /n is a /(96+n)). A prefix is IPv4 when it is IPv4-mapped and at
 * least /96; every other prefix is IPv6. An IPv4 destination is matched only
 * against IPv4 routes and an IPv6 one only against IPv6 routes, so `::/0`
 * never swallows IPv4 traffic.
 *
 * RouteTable lookup: one open-addressing hash table keyed by (family, length,
 * masked network); a lookup probes it once per distinct prefix length present
 * in the destination's family, longest first: O(L) with L <= 33 (IPv4) or
 * 129 (IPv6) and usually a handful. Routes are added, or replaced when the
 * same prefix is added again; never removed (rebuild the table to change it).
 * Nothing is allocated after construction.
 */
import type { Prefix } from '../config/cidr.js';
import { isV4Mapped } from '../wire/bytes.js';

/** MASKS[len * 4 + i]: word i of the netmask of a /len (0..128). */
const MASKS = new Uint32Array(129 * 4);
for (let len = 0; len <= 128; len++) {
  for (let i = 0; i < 4; i++) {
    const bits = Math.max(0, Math.min(32, len - 32 * i));
    MASKS[len * 4 + i] = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
  }
}

function familyOf(words: Uint32Array, len: number): number {
  return len >= 96 && isV4Mapped(words) ? 4 : 6;
}

function hashKey(fam: number, len: number, w0: number, w1: number, w2: number, w3: number): number {
  let h = Math.imul(fam * 131 + len, 0x9e3779b1);
  h = Math.imul(h ^ w0, 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 15) ^ w1, 0xc2b2ae35);
  h = Math.imul(h ^ (h >>> 13) ^ w2, 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 16) ^ w3, 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

export class RouteTable {
  private n = 0;
  private readonly net: Uint32Array;
  private readonly plen: Uint8Array;
  private readonly fam: Uint8Array;
  private readonly rport: Int32Array;
  private readonly gw: Uint32Array;
  private readonly hasGw: Uint8Array;
  private readonly slots: Int32Array;
  private readonly slotMask: number;
  /** Routes per (family, length), and the lengths present, longest first. */
  private readonly perLen4 = new Int32Array(129);
  private readonly perLen6 = new Int32Array(129);
  private readonly lens4 = new Int32Array(129);
  private readonly lens6 = new Int32Array(129);
  private nLens4 = 0;
  private nLens6 = 0;

  constructor(readonly capacity = 4096) {
    this.net = new Uint32Array(capacity * 4);
    this.plen = new Uint8Array(capacity);
    this.fam = new Uint8Array(capacity);
    this.rport = new Int32Array(capacity);
    this.gw = new Uint32Array(capacity * 4);
    this.hasGw = new Uint8Array(capacity);
    let s = 16;
    while (s < capacity * 2) s *= 2;
    this.slots = new Int32Array(s).fill(-1);
    this.slotMask = s - 1;
  }

  get size(): number {
    return this.n;
  }

  /**
   * Adds a route (or replaces the one for the same prefix): `gateway` null for
   * a connected route (the next hop is the destination itself). Returns its index.
   */
  add(prefix: Prefix, port: number, gateway: Uint32Array | null): number {
    const len = prefix.len;
    const m = len * 4;
    const w = prefix.words;
    const w0 = (w[0]! & MASKS[m]!) >>> 0;
    const w1 = (w[1]! & MASKS[m + 1]!) >>> 0;
    const w2 = (w[2]! & MASKS[m + 2]!) >>> 0;
    const w3 = (w[3]! & MASKS[m + 3]!) >>> 0;
    const fam = familyOf(w, len);
    if (gateway && familyOf(gateway, 128) !== fam)
      throw new Error(`gateway family differs from ${prefix.text}`);
    let s = hashKey(fam, len, w0, w1, w2, w3) & this.slotMask;
    let i = this.slots[s]!;
    while (i >= 0 && !this.same(i, fam, len, w0, w1, w2, w3)) {
      s = (s + 1) & this.slotMask;
      i = this.slots[s]!;
    }
    if (i < 0) {
      if (this.n >= this.capacity) throw new Error('route table full');
      i = this.n++;
      this.slots[s] = i;
      this.net[i * 4] = w0;
      this.net[i * 4 + 1] = w1;
      this.net[i * 4 + 2] = w2;
      this.net[i * 4 + 3] = w3;
      this.plen[i] = len;
      this.fam[i] = fam;
      const per = fam === 4 ? this.perLen4 : this.perLen6;
      if (per[len]!++ === 0) this.indexLengths(fam);
    }
    this.rport[i] = port;
    this.hasGw[i] = gateway ? 1 : 0;
    for (let k = 0; k < 4; k++) this.gw[i * 4 + k] = gateway ? gateway[k]! : 0;
    return i;
  }

  /** A connected route for a port's address prefix (e.g. 10.0.1.1/24 -> 10.0.1.0/24 on that port). */
  addConnected(prefix: Prefix, port: number): number {
    return this.add(prefix, port, null);
  }

  /** The index of the longest route containing `dst`, or -1. No allocation. */
  lookup(dst: Uint32Array): number {
    const v4 = isV4Mapped(dst);
    const lens = v4 ? this.lens4 : this.lens6;
    const nl = v4 ? this.nLens4 : this.nLens6;
    const fam = v4 ? 4 : 6;
    const d0 = dst[0]!;
    const d1 = dst[1]!;
    const d2 = dst[2]!;
    const d3 = dst[3]!;
    for (let j = 0; j < nl; j++) {
      const len = lens[j]!;
      const m = len * 4;
      const w0 = (d0 & MASKS[m]!) >>> 0;
      const w1 = (d1 & MASKS[m + 1]!) >>> 0;
      const w2 = (d2 & MASKS[m + 2]!) >>> 0;
      const w3 = (d3 & MASKS[m + 3]!) >>> 0;
      let s = hashKey(fam, len, w0, w1, w2, w3) & this.slotMask;
      let i = this.slots[s]!;
      while (i >= 0) {
        if (this.same(i, fam, len, w0, w1, w2, w3)) return i;
        s = (s + 1) & this.slotMask;
        i = this.slots[s]!;
      }
    }
    return -1;
  }

  /** Egress port of route `i`. */
  port(i: number): number {
    return this.rport[i]!;
  }

  /** Prefix length of route `i` (in the 4-word space: IPv4 /n is 96+n). */
  prefixLen(i: number): number {
    return this.plen[i]!;
  }

  /** True when route `i` has a gateway (false: connected). */
  hasGateway(i: number): boolean {
    return this.hasGw[i] === 1;
  }

  /** Writes route `i`'s next hop for `dst` into `out`: its gateway, or `dst` for a connected route. */
  nextHop(i: number, dst: Uint32Array, out: Uint32Array): void {
    if (this.hasGw[i] === 1) {
      for (let k = 0; k < 4; k++) out[k] = this.gw[i * 4 + k]!;
    } else if (out !== dst) {
      for (let k = 0; k < 4; k++) out[k] = dst[k]!;
    }
  }

  private same(i: number, fam: number, len: number, w0: number, w1: number, w2: number, w3: number): boolean {
    const o = i * 4;
    const n = this.net;
    return (
      this.plen[i] === len &&
      this.fam[i] === fam &&
      n[o] === w0 &&
      n[o + 1] === w1 &&
      n[o + 2] === w2 &&
      n[o + 3] === w3
    );
  }

  private indexLengths(fam: number): void {
    const per = fam === 4 ? this.perLen4 : this.perLen6;
    const lens = fam === 4 ? this.lens4 : this.lens6;
    let k = 0;
    for (let len = 128; len >= 0; len--) if (per[len]! > 0) lens[k++] = len;
    if (fam === 4) this.nLens4 = k;
    else this.nLens6 = k;
  }
}

/** Kinds of local address. */
export const ADDR_OWN = 1;
export const ADDR_VIP = 2;

/**
 * The ports' L3 identities: MAC and MTU per port, and the device's addresses
 * (own addresses with their prefix length, VIPs as host addresses), each on
 * one port. `find` is a linear scan (word 3 compared first): O(addresses),
 * meant for the tens a device has. A port with a MAC also owns its IPv6
 * link-local address (fe80::/64 + modified EUI-64, RFC 4291 App. A).
 */
export class L3Ports {
  readonly macs: Uint8Array;
  readonly mtus: Int32Array;
  private readonly present: Uint8Array;
  private n = 0;
  private readonly words: Uint32Array;
  private readonly aport: Int32Array;
  private readonly kind: Uint8Array;
  private readonly alen: Uint8Array;

  constructor(
    readonly maxPorts = 256,
    readonly maxAddresses = 1024,
  ) {
    this.macs = new Uint8Array(maxPorts * 6);
    this.mtus = new Int32Array(maxPorts);
    this.present = new Uint8Array(maxPorts);
    this.words = new Uint32Array(maxAddresses * 4);
    this.aport = new Int32Array(maxAddresses);
    this.kind = new Uint8Array(maxAddresses);
    this.alen = new Uint8Array(maxAddresses);
  }

  get addressCount(): number {
    return this.n;
  }

  /** Declares a port with its MAC and MTU (the IP MTU, 1500 for plain Ethernet); adds its link-local address. */
  addPort(port: number, mac: Uint8Array, mtu = 1500): void {
    if (port < 0 || port >= this.maxPorts) throw new Error(`port ${port} out of range`);
    for (let i = 0; i < 6; i++) this.macs[port * 6 + i] = mac[i]!;
    this.mtus[port] = mtu;
    this.present[port] = 1;
    const ll = new Uint32Array(4);
    ll[0] = 0xfe800000;
    ll[2] = (((mac[0]! ^ 2) << 24) | (mac[1]! << 16) | (mac[2]! << 8) | 0xff) >>> 0;
    ll[3] = ((0xfe << 24) | (mac[3]! << 16) | (mac[4]! << 8) | mac[5]!) >>> 0;
    this.addAddress(port, ll, 64, ADDR_OWN);
  }

  hasPort(port: number): boolean {
    return port >= 0 && port < this.maxPorts && this.present[port] === 1;
  }

  mtu(port: number): number {
    return this.mtus[port]!;
  }

  /** Adds an address (4 words) on a port: ADDR_OWN with its prefix length, or ADDR_VIP. */
  addAddress(port: number, addr: Uint32Array, prefixLen: number, kind: number): void {
    if (this.find(addr) >= 0) throw new Error('address already assigned');
    if (this.n >= this.maxAddresses) throw new Error('too many addresses');
    const i = this.n++;
    for (let k = 0; k < 4; k++) this.words[i * 4 + k] = addr[k]!;
    this.aport[i] = port;
    this.kind[i] = kind;
    this.alen[i] = prefixLen;
  }

  /** Index of a local address, or -1. */
  find(addr: Uint32Array): number {
    const a3 = addr[3]!;
    const w = this.words;
    for (let i = 0; i < this.n; i++) {
      const o = i * 4;
      if (w[o + 3] === a3 && w[o + 2] === addr[2] && w[o + 1] === addr[1] && w[o] === addr[0]) return i;
    }
    return -1;
  }

  /** ADDR_OWN, ADDR_VIP, or 0 when `addr` is not the device's. */
  kindOf(addr: Uint32Array): number {
    const i = this.find(addr);
    return i < 0 ? 0 : this.kind[i]!;
  }

  /** True when `addr` is one of the device's addresses (own or VIP) on `port`. */
  localOn(addr: Uint32Array, port: number): boolean {
    const i = this.find(addr);
    return i >= 0 && this.aport[i] === port;
  }

  /**
   * Source address for a message the device sends from `port` toward `dst`
   * (same family only), best first: an own address on the port whose prefix
   * holds dst; another global one on the port; (unless `onPortOnly`, as ARP
   * and ND need) a global one on another port; the port's link-local one.
   * Writes it into `out`; false when there is none.
   */
  source(port: number, dst: Uint32Array, out: Uint32Array, onPortOnly = false): boolean {
    const v4 = isV4Mapped(dst);
    let best = -1;
    let bestScore = 0;
    const w = this.words;
    for (let i = 0; i < this.n; i++) {
      if (this.kind[i] !== ADDR_OWN) continue;
      const o = i * 4;
      if ((w[o] === 0 && w[o + 1] === 0 && w[o + 2] === 0xffff) !== v4) continue;
      const ll = w[o]! >>> 22 === 0x3fa;
      const onPort = this.aport[i] === port;
      if (!onPort && (ll || onPortOnly)) continue;
      let score = ll ? 1 : onPort ? 3 : 2;
      if (onPort) {
        const m = this.alen[i]! * 4;
        if (
          ((w[o]! ^ dst[0]!) & MASKS[m]!) === 0 &&
          ((w[o + 1]! ^ dst[1]!) & MASKS[m + 1]!) === 0 &&
          ((w[o + 2]! ^ dst[2]!) & MASKS[m + 2]!) === 0 &&
          ((w[o + 3]! ^ dst[3]!) & MASKS[m + 3]!) === 0
        )
          score = 4;
      }
      if (score > bestScore) {
        best = i;
        bestScore = score;
      }
    }
    if (best < 0) return false;
    for (let k = 0; k < 4; k++) out[k] = w[best * 4 + k]!;
    return true;
  }
}
