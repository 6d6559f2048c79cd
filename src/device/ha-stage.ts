/**
 * The pipeline's HA stages (DESIGN.md "High availability and asymmetric
 * paths"): at ingress, GRE from a peer is decapsulated (the inner frame is
 * processed as if it had arrived on the port the key names) and GRE or sync
 * traffic to the device from anyone else is refused; after a session miss, a
 * packet that cannot start a session (a non-SYN TCP segment, an ICMP error)
 * gets a second chance at the peer: its destination MAC rewritten to the
 * peer's on the same segment, or encapsulated in GRE to the peer over the ha
 * link. A redirected packet is marked (it comes from a peer's MAC, or out of
 * a peer's tunnel) and is never redirected again.
 *
 * Frames are written by hand into one preallocated buffer: asymmetric
 * traffic redirects every packet of one direction, so this is a fast path.
 */
import type { HaConfig, PortConfig } from '../config/types.js';
import { wr16, wr32 } from '../wire/bytes.js';
import { internetChecksum } from '../wire/checksum.js';
import { GRE_FLAG_K, GRE_PROTO_TEB } from '../wire/gre.js';
import { ipWords, macBytes } from '../wire/addr.js';
import {
  PROTO_GRE,
  PROTO_ICMP,
  PROTO_ICMPV6,
  PROTO_TCP,
  PROTO_UDP,
  TCP_ACK,
  TCP_SYN,
  type Packet,
} from '../wire/packet.js';

export const M_OFF = 0;
export const M_SYNC = 1;
export const M_MAC = 2;
export const M_GRE = 3;
const MODES = { off: M_OFF, sync: M_SYNC, 'mac-rewrite': M_MAC, gre: M_GRE } as const;

/** `ingress` results. */
export const HA_PASS = 0; // not HA traffic: go on
export const HA_DECAP = 1; // a peer's GRE: process the inner frame (innerOff, innerLen, innerPort)
export const HA_SYNC = 2; // a sync datagram from a peer (for the sync node)
export const HA_UNTRUSTED = 3; // GRE or sync to the device from a non-peer: drop

/** GRE key of a redirect: this marker in the top byte, the ingress port index below. */
const KEY_MARK = 0x5d000000;
const GRE_OUTER = 14 + 20 + 8;

export interface HaCounters {
  redirectedMac: number;
  redirectedGre: number;
  /** Redirects not sent: no peer MAC on that port, or the frame too big for the tunnel buffer. */
  redirectFailed: number;
  decapsulated: number;
  untrusted: number;
  /** Redirected packets that missed here too (not redirected again). */
  secondMiss: number;
}

export class HaStage {
  readonly mode: number;
  readonly counters: HaCounters = {
    redirectedMac: 0,
    redirectedGre: 0,
    redirectFailed: 0,
    decapsulated: 0,
    untrusted: 0,
    secondMiss: 0,
  };
  /** After HA_DECAP: the inner frame and the port it stands for. */
  innerOff = 0;
  innerLen = 0;
  innerPort = 0;
  /** After `redirect`: the port it went out on. */
  outPort = -1;

  /** Peers' link addresses (4 words each). */
  private readonly peerAddr: Uint32Array;
  /** Peers' MACs per port: [peer][port * 6]; zero where unknown. */
  private readonly peerMacs: Uint8Array[];
  private readonly peerHasMac: Uint8Array[];
  private readonly ourMacs: Uint8Array;
  private readonly linkAddr = new Uint32Array(4);
  private readonly out = new Uint8Array(65536 + GRE_OUTER);
  private ipId = 0;

  constructor(
    readonly cfg: HaConfig,
    ports: PortConfig[],
    private readonly emit: (port: number, buf: Uint8Array, off: number, len: number) => void,
  ) {
    this.mode = MODES[cfg.mode];
    this.peerAddr = new Uint32Array(cfg.peers.length * 4);
    cfg.peers.forEach((p, i) => this.peerAddr.set(p.address, i * 4));
    this.peerMacs = cfg.peers.map((p) => {
      const m = new Uint8Array(ports.length * 6);
      p.macs.forEach((mac, k) => mac && m.set(mac, k * 6));
      return m;
    });
    this.peerHasMac = cfg.peers.map((p) => Uint8Array.from(p.macs, (m) => (m ? 1 : 0)));
    this.ourMacs = new Uint8Array(ports.length * 6);
    ports.forEach((p, k) => p.mac && this.ourMacs.set(macBytes(p.mac), k * 6));
    const link = ports[cfg.link]!;
    const first = link.addresses.find((a) => !a.includes(':')) ?? link.addresses[0]!;
    const w = ipWordsOf(first.slice(0, first.indexOf('/') < 0 ? undefined : first.indexOf('/')));
    this.linkAddr.set(w);
  }

  /** Whether second chances are sent at all (mac-rewrite or gre). */
  get redirects(): boolean {
    return this.mode === M_MAC || this.mode === M_GRE;
  }

  /** Index of the peer whose link address is `a`, or -1. */
  peerOf(a: Uint32Array): number {
    const w = this.peerAddr;
    for (let i = 0, o = 0; o < w.length; i++, o += 4)
      if (w[o + 3] === a[3] && w[o + 2] === a[2] && w[o + 1] === a[1] && w[o] === a[0]) return i;
    return -1;
  }

  /** Whether an Ethernet frame came from a peer's MAC on `port` (it redirected it to us). */
  fromPeerMac(buf: Uint8Array, ethOff: number, port: number): boolean {
    if (ethOff < 0 || port < 0) return false;
    for (let i = 0; i < this.peerMacs.length; i++) {
      if (port >= this.peerHasMac[i]!.length || this.peerHasMac[i]![port] !== 1) continue;
      const m = this.peerMacs[i]!;
      let same = true;
      for (let k = 0; k < 6 && same; k++) same = buf[ethOff + 6 + k] === m[port * 6 + k];
      if (same) return true;
    }
    return false;
  }

  /** GRE and sync traffic addressed to the device (`toUs`): decapsulate, hand over or refuse. */
  ingress(p: Packet, toUs: boolean): number {
    if (!toUs) return HA_PASS;
    const proto = p.l4Proto;
    const sync = proto === PROTO_UDP && p.dstPort === this.cfg.syncPort;
    if (proto !== PROTO_GRE && !sync) return HA_PASS;
    if (this.peerOf(p.src) < 0) {
      this.counters.untrusted++;
      return HA_UNTRUSTED;
    }
    if (sync) return HA_SYNC;
    if (p.greProto !== GRE_PROTO_TEB || !p.greHasKey || (p.greKey & 0xff000000) >>> 0 !== KEY_MARK) {
      this.counters.untrusted++;
      return HA_UNTRUSTED;
    }
    this.innerOff = p.grePayloadOff;
    this.innerLen = p.ipEnd - p.grePayloadOff;
    this.innerPort = p.greKey & 0xffff;
    this.counters.decapsulated++;
    return HA_DECAP;
  }

  /** Whether a packet that missed the table gets a second chance at the peer. */
  wants(p: Packet, related: boolean): boolean {
    if (related) return true;
    const proto = p.l4Proto;
    if (proto === PROTO_TCP) return (p.tcpFlags & (TCP_SYN | TCP_ACK)) !== TCP_SYN;
    return (proto === PROTO_ICMP || proto === PROTO_ICMPV6) && p.icmpIsError;
  }

  /** Sends the frame (buf[off, off+len), arrived on `port`) to the peer. True when sent. */
  redirect(buf: Uint8Array, off: number, len: number, port: number, ethOff: number): boolean {
    if (ethOff < 0) return this.failed();
    const peer = 0;
    if (this.mode === M_MAC) {
      if (this.peerHasMac[peer]![port] !== 1) return this.failed();
      copyMac(this.peerMacs[peer]!, port * 6, buf, ethOff);
      copyMac(this.ourMacs, port * 6, buf, ethOff + 6);
      this.counters.redirectedMac++;
      this.outPort = port;
      this.emit(port, buf, off, len);
      return true;
    }
    const link = this.cfg.link;
    if (this.peerHasMac[peer]![link] !== 1 || len + GRE_OUTER > this.out.length) return this.failed();
    const o = this.out;
    copyMac(this.peerMacs[peer]!, link * 6, o, 0);
    copyMac(this.ourMacs, link * 6, o, 6);
    wr16(o, 12, 0x0800);
    const ip = 14;
    o[ip] = 0x45;
    o[ip + 1] = 0;
    wr16(o, ip + 2, 20 + 8 + len);
    this.ipId = (this.ipId + 1) & 0xffff;
    wr16(o, ip + 4, this.ipId);
    wr16(o, ip + 6, 0);
    o[ip + 8] = 64;
    o[ip + 9] = PROTO_GRE;
    wr16(o, ip + 10, 0);
    wr32(o, ip + 12, this.linkAddr[3]!);
    wr32(o, ip + 16, this.peerAddr[peer * 4 + 3]!);
    wr16(o, ip + 10, internetChecksum(o, ip, 20));
    wr16(o, 34, GRE_FLAG_K);
    wr16(o, 36, GRE_PROTO_TEB);
    wr32(o, 38, (KEY_MARK | port) >>> 0);
    o.set(buf.subarray(off, off + len), GRE_OUTER);
    this.counters.redirectedGre++;
    this.outPort = link;
    this.emit(link, o, 0, GRE_OUTER + len);
    return true;
  }

  private failed(): boolean {
    this.counters.redirectFailed++;
    return false;
  }
}

function ipWordsOf(text: string): Uint32Array {
  const w = ipWords(text);
  if (!(w[0] === 0 && w[1] === 0 && w[2] === 0xffff))
    throw new Error(`the ha link needs an IPv4 address for GRE (got ${text})`);
  return w;
}

/** Six bytes, without the view object a subarray would cost per packet. */
function copyMac(from: Uint8Array, at: number, to: Uint8Array, off: number): void {
  for (let k = 0; k < 6; k++) to[off + k] = from[at + k]!;
}
