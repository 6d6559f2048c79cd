/**
 * NAT for load-balanced sessions. A session's two tuples are the whole
 * translation: the original (client -> VIP) and the reply (real -> client,
 * or real -> SNAT address with full-NAT). A packet of the original direction
 * is rewritten to the reverse of the reply tuple; a reply, to the reverse of
 * the original. Checksums are fixed incrementally (src/wire/rewrite.ts).
 * ICMP errors about a NATed session are translated outside and inside.
 */
import type { NatTuple } from '../session/conntrack.js';
import {
  F_DNAT,
  F_SNAT,
  F_V6,
  STRIDE,
  W_ADDR,
  W_FLAGS,
  W_PORTS,
  type SessionTable,
} from '../session/table.js';
import { rd16, wr16 } from '../wire/bytes.js';
import {
  csumUpdate16,
  csumUpdate32,
  csumUpdateAddr,
  internetChecksum,
  pseudoSum6,
} from '../wire/checksum.js';
import { PROTO_ICMP, PROTO_ICMPV6, PROTO_TCP, PROTO_UDP, type Packet } from '../wire/packet.js';
import {
  rewriteDstAddr,
  rewriteDstPort,
  rewriteIcmpId,
  rewriteSrcAddr,
  rewriteSrcPort,
} from '../wire/rewrite.js';

export class Nat {
  /** The reply tuple `replyTuple` fills. */
  readonly tuple: NatTuple = { rSrc: new Uint32Array(4), rDst: new Uint32Array(4), rPorts: 0 };
  private readonly a = new Uint32Array(4);
  private readonly b = new Uint32Array(4);

  /**
   * The reply tuple of a new session from `p` to real `real`:`realPort` (0 =
   * the client's destination port). With `snat`, the device's `snat`:`snatPort`
   * replaces the client as the replies' destination.
   */
  replyTuple(
    p: Packet,
    real: Uint32Array,
    realPort: number,
    snat: Uint32Array | null,
    snatPort: number,
  ): NatTuple {
    const t = this.tuple;
    t.rSrc.set(real);
    const rp = realPort || p.dstPort;
    if (snat) {
      t.rDst.set(snat);
      t.rPorts = ((rp << 16) | snatPort) >>> 0;
    } else {
      t.rDst.set(p.src);
      t.rPorts = ((rp << 16) | p.srcPort) >>> 0;
    }
    return t;
  }

  /** Rewrites a packet of a NATed session travelling in direction entry & 1. */
  rewrite(t: SessionTable, entry: number, p: Packet): void {
    const w = t.w;
    const b = (entry >> 1) * STRIDE;
    const f = w[b + W_FLAGS]! & 0xff;
    if ((f & (F_DNAT | F_SNAT)) === 0) return;
    // The common case in one pass: an IPv4 TCP/UDP packet, whole and not a fragment, of an
    // IPv4 session. Address and port change together, so each checksum is updated once per
    // side. Addresses and ports go to set4 as signed words: a word of 2^31 or more passed to
    // (or returned by) a call V8 does not inline is a new heap number per packet.
    const proto = p.l4Proto;
    if (
      p.ipVersion === 4 &&
      !p.isFragment &&
      !p.snapped &&
      (proto === PROTO_TCP || proto === PROTO_UDP) &&
      (f & F_V6) === 0
    ) {
      if ((entry & 1) === 0) {
        const rp = w[b + W_PORTS + 1]! | 0;
        if (f & F_DNAT) this.set4(p, true, w[b + W_ADDR + 2]! | 0, rp >>> 16);
        if (f & F_SNAT) this.set4(p, false, w[b + W_ADDR + 3]! | 0, rp & 0xffff);
      } else {
        const op = w[b + W_PORTS]! | 0;
        if (f & F_DNAT) this.set4(p, false, w[b + W_ADDR + 1]! | 0, op & 0xffff);
        if (f & F_SNAT) this.set4(p, true, w[b + W_ADDR]! | 0, op >>> 16);
      }
      return;
    }
    this.rewriteAny(t, entry, f, p);
  }

  /** Any other packet of a NATed session: addresses, ports or ICMP identifier, IPv4 or IPv6. */
  private rewriteAny(t: SessionTable, entry: number, f: number, p: Packet): void {
    const id = entry >> 1;
    const l4 = p.l4Proto === PROTO_TCP || p.l4Proto === PROTO_UDP;
    const icmp = p.l4Proto === PROTO_ICMP || p.l4Proto === PROTO_ICMPV6;
    if ((entry & 1) === 0) {
      // Original direction: to the reverse of the reply tuple.
      const rp = t.ports(id, 1);
      if (f & F_DNAT) {
        t.readAddr(id, 1, 0, this.a);
        rewriteDstAddr(p, this.a);
        if (l4) rewriteDstPort(p, rp >>> 16);
      }
      if (f & F_SNAT) {
        t.readAddr(id, 1, 1, this.a);
        rewriteSrcAddr(p, this.a);
        if (l4) rewriteSrcPort(p, rp & 0xffff);
        else if (icmp) rewriteIcmpId(p, rp >>> 16);
      }
    } else {
      // Reply direction: to the reverse of the original tuple.
      const op = t.ports(id, 0);
      if (f & F_DNAT) {
        t.readAddr(id, 0, 1, this.a);
        rewriteSrcAddr(p, this.a);
        if (l4) rewriteSrcPort(p, op & 0xffff);
      }
      if (f & F_SNAT) {
        t.readAddr(id, 0, 0, this.a);
        rewriteDstAddr(p, this.a);
        if (l4) rewriteDstPort(p, op >>> 16);
        else if (icmp) rewriteIcmpId(p, op >>> 16);
      }
    }
  }

  /**
   * Sets the IPv4 destination (dst) or source address (a signed or unsigned
   * 32-bit word) and port, fixing both checksums.
   */
  private set4(p: Packet, dst: boolean, addr: number, port: number): void {
    const buf = p.buf;
    const l3 = p.l3Off;
    const l4 = p.l4Off;
    const cur = dst ? p.dst : p.src;
    const oldA = cur[3]! | 0;
    const ao = l3 + (dst ? 16 : 12);
    buf[ao] = addr >>> 24;
    buf[ao + 1] = (addr >>> 16) & 255;
    buf[ao + 2] = (addr >>> 8) & 255;
    buf[ao + 3] = addr & 255;
    wr16(buf, l3 + 10, csumUpdate32(rd16(buf, l3 + 10), oldA, addr));
    const po = l4 + (dst ? 2 : 0);
    const oldP = dst ? p.dstPort : p.srcPort;
    wr16(buf, po, port);
    const co = l4 + (p.l4Proto === PROTO_TCP ? 16 : 6);
    if (co + 2 <= p.ipEnd) {
      const c = rd16(buf, co);
      if (!(p.l4Proto === PROTO_UDP && c === 0)) {
        let n = csumUpdate16(csumUpdate32(c, oldA, addr), oldP, port);
        if (p.l4Proto === PROTO_UDP && n === 0) n = 0xffff;
        wr16(buf, co, n);
      }
    }
    cur[3] = addr;
    if (dst) p.dstPort = port;
    else p.srcPort = port;
  }

  /**
   * Translates an ICMP error RELATED to a NATed session, travelling in
   * direction entry & 1: the outer addresses as for a packet of that
   * direction (the error's source only when it is the session's endpoint),
   * and the quoted packet back to what the error's receiver sent.
   */
  rewriteIcmpError(t: SessionTable, entry: number, p: Packet): void {
    const id = entry >> 1;
    const f = t.flags(id);
    if ((f & (F_DNAT | F_SNAT)) === 0 || p.snapped) return;
    const dir = entry & 1;
    const a = this.a;
    const b = this.b;
    if (dir === 1) {
      // From the real side to the client: outer src real -> VIP (if the real sent it).
      t.readAddr(id, 1, 0, a);
      if (same(p.src, a)) {
        t.readAddr(id, 0, 1, b);
        rewriteSrcAddr(p, b);
      }
      if (f & F_SNAT) {
        t.readAddr(id, 0, 0, b);
        rewriteDstAddr(p, b);
      }
      // Quoted: client (or SNAT) -> real  becomes  client -> VIP.
      t.readAddr(id, 0, 1, b);
      const op = t.ports(id, 0);
      this.inner(p, false, b, op & 0xffff);
      if (f & F_SNAT) {
        t.readAddr(id, 0, 0, b);
        this.inner(p, true, b, op >>> 16);
      }
    } else {
      // From the client side towards the real: outer dst VIP -> real.
      t.readAddr(id, 0, 1, a);
      if (same(p.dst, a)) {
        t.readAddr(id, 1, 0, b);
        rewriteDstAddr(p, b);
      }
      if (f & F_SNAT) {
        t.readAddr(id, 1, 1, b);
        rewriteSrcAddr(p, b);
      }
      // Quoted: VIP -> client  becomes  real -> client (or SNAT).
      const rp = t.ports(id, 1);
      t.readAddr(id, 1, 0, b);
      this.inner(p, true, b, rp >>> 16);
      if (f & F_SNAT) {
        t.readAddr(id, 1, 1, b);
        this.inner(p, false, b, rp & 0xffff);
      }
    }
    this.fixIcmpChecksum(p);
  }

  /** Rewrites the quoted packet's source (src true) or destination address and port. */
  private inner(p: Packet, src: boolean, addr: Uint32Array, port: number): void {
    const buf = p.buf;
    const l3 = p.innerL3Off;
    const l4 = p.innerL4Off;
    const end = p.ipEnd;
    const cur = src ? p.innerSrc : p.innerDst;
    const proto = p.innerL4Proto;
    const csumAt = proto === PROTO_TCP ? l4 + 16 : proto === PROTO_UDP ? l4 + 6 : -1;
    const csumOk = csumAt >= 0 && csumAt + 2 <= end;
    if (p.innerIpVersion === 4) {
      const o = l3 + (src ? 12 : 16);
      const old = cur[3]!;
      const now = addr[3]!;
      buf[o] = now >>> 24;
      buf[o + 1] = (now >>> 16) & 255;
      buf[o + 2] = (now >>> 8) & 255;
      buf[o + 3] = now & 255;
      wr16(buf, l3 + 10, csumUpdate32(rd16(buf, l3 + 10), old, now));
      if (csumOk && !(proto === PROTO_UDP && rd16(buf, csumAt) === 0)) {
        wr16(buf, csumAt, csumUpdate32(rd16(buf, csumAt), old, now));
      }
    } else {
      const o = l3 + (src ? 8 : 24);
      if (csumOk) wr16(buf, csumAt, csumUpdateAddr(rd16(buf, csumAt), cur, addr));
      for (let i = 0; i < 4; i++) {
        const w = addr[i]!;
        buf[o + i * 4] = w >>> 24;
        buf[o + i * 4 + 1] = (w >>> 16) & 255;
        buf[o + i * 4 + 2] = (w >>> 8) & 255;
        buf[o + i * 4 + 3] = w & 255;
      }
    }
    cur[0] = addr[0]!;
    cur[1] = addr[1]!;
    cur[2] = addr[2]!;
    cur[3] = addr[3]!;
    if (proto === PROTO_TCP || proto === PROTO_UDP) {
      const po = l4 + (src ? 0 : 2);
      if (po + 2 <= end) {
        const old = rd16(buf, po);
        wr16(buf, po, port);
        if (csumOk && !(proto === PROTO_UDP && rd16(buf, csumAt) === 0)) {
          wr16(buf, csumAt, csumUpdate16(rd16(buf, csumAt), old, port));
        }
      }
      if (src) p.innerSrcPort = port;
      else p.innerDstPort = port;
    }
  }

  /** Recomputes the outer ICMP/ICMPv6 checksum after the quoted packet changed. */
  private fixIcmpChecksum(p: Packet): void {
    const buf = p.buf;
    const off = p.l4Off;
    const len = p.ipEnd - off;
    wr16(buf, off + 2, 0);
    const init = p.l4Proto === PROTO_ICMPV6 ? pseudoSum6(p.src, p.dst, PROTO_ICMPV6, len) : 0;
    wr16(buf, off + 2, internetChecksum(buf, off, len, init));
  }
}

function same(x: Uint32Array, y: Uint32Array): boolean {
  return x[0] === y[0] && x[1] === y[1] && x[2] === y[2] && x[3] === y[3];
}
