/**
 * Frame builders: a plain description in, a complete checksum-correct frame
 * out. `buildFrame` allocates; `buildFrameInto` writes into a caller's buffer
 * (allocation-free when addresses are given as words / bytes, not text).
 */
import { ipWords, macBytes, parseIpv4 } from './addr.js';
import { wr16, wr32 } from './bytes.js';
import { fillL4Checksum, pseudoSum4, pseudoSum6 } from './checksum.js';
import { emitArp, type ArpRepr } from './arp.js';
import { emitEthernet, ETH_HEADER_LEN, VLAN_TAG_LEN, type VlanTag } from './ethernet.js';
import { emitGre, greHeaderLen, type GreRepr } from './gre.js';
import { emitIcmp, ICMP_HEADER_LEN, type IcmpRepr } from './icmp.js';
import { emitIpv4, ipv4HeaderLen, type Ipv4Repr } from './ipv4.js';
import {
  emitIpv6,
  emitIpv6Ext,
  EXT_FRAGMENT,
  ipv6ExtLen,
  IPV6_HEADER_LEN,
  type Ipv6ExtRepr,
} from './ipv6.js';
import {
  ETH_ARP,
  ETH_IPV4,
  ETH_IPV6,
  ETH_QINQ,
  ETH_VLAN,
  LINKTYPE_ETHERNET,
  LINKTYPE_LINUX_SLL,
  LINKTYPE_LINUX_SLL2,
  PROTO_GRE,
  PROTO_ICMP,
  PROTO_ICMPV6,
  PROTO_TCP,
  PROTO_UDP,
} from './packet.js';
import { emitTcp, tcpHeaderLen, type TcpRepr } from './tcp.js';
import { emitUdp, UDP_HEADER_LEN } from './udp.js';

/** IPv4/IPv6 text, or four address words (IPv4 as IPv4-mapped). */
export type Addr = string | Uint32Array;
/** "aa:bb:cc:dd:ee:ff" or 6 bytes. */
export type Mac = string | Uint8Array;

export interface ArpSpec {
  op: number;
  sha?: Mac;
  spa: Addr;
  tha?: Mac;
  tpa: Addr;
}

export interface Ipv4Spec extends Omit<Ipv4Repr, 'src' | 'dst' | 'proto' | 'payloadLen'> {
  src: Addr;
  dst: Addr;
  /** Defaults from the upper layer given (tcp/udp/icmp/gre), else 253. */
  proto?: number;
}

export interface Ipv6Spec {
  src: Addr;
  dst: Addr;
  hopLimit?: number;
  trafficClass?: number;
  flowLabel?: number;
  /** Extension headers in order (their next-header fields are filled in). */
  ext?: Ipv6ExtRepr[];
  /** Upper-layer protocol; defaults from tcp/udp/icmpv6/gre, else 59 (no next header). */
  proto?: number;
}

export interface UdpSpec {
  srcPort: number;
  dstPort: number;
  /** IPv4 only: send checksum 0 (none). */
  noChecksum?: boolean;
}

export interface FrameSpec {
  /** pcap link type: Ethernet (default), LINUX_SLL, LINUX_SLL2, or RAW/IPV4/IPV6 (no link header). */
  link?: number;
  srcMac?: Mac;
  dstMac?: Mac;
  /** VLAN tags, outermost first. Numbers are VIDs: one -> 802.1Q; two -> 802.1ad outer + 802.1Q inner. */
  vlans?: ReadonlyArray<number | VlanTag>;
  /** EtherType when neither arp nor ip is given. */
  etherType?: number;
  arp?: ArpSpec;
  ipv4?: Ipv4Spec;
  ipv6?: Ipv6Spec;
  tcp?: TcpRepr;
  udp?: UdpSpec;
  icmp?: IcmpRepr;
  icmpv6?: IcmpRepr;
  /** GRE header; proto defaults from the payload's IP version. The payload is the inner packet (see buildIp). */
  gre?: Partial<GreRepr>;
  /** Bytes after the upper-layer header: data, an ICMP error's quote, GRE's inner packet. */
  payload?: Uint8Array;
  /** Pad the frame with zeros up to this length (e.g. 60 for Ethernet's minimum). */
  padTo?: number;
}

const EMPTY = new Uint8Array(0);
const ZERO_MAC = new Uint8Array(6);
const DEFAULT_SRC_MAC = new Uint8Array([0x02, 0, 0, 0, 0, 1]);
const DEFAULT_DST_MAC = new Uint8Array([0x02, 0, 0, 0, 0, 2]);
const tmpSrc = new Uint32Array(4);
const tmpDst = new Uint32Array(4);

function mac(m: Mac | undefined, dflt: Uint8Array): Uint8Array {
  return m === undefined ? dflt : typeof m === 'string' ? macBytes(m) : m;
}

function words(a: Addr, tmp: Uint32Array): Uint32Array {
  if (typeof a !== 'string') return a;
  tmp.set(ipWords(a));
  return tmp;
}

function v4(a: Addr): number {
  if (typeof a !== 'string') return a[3]!;
  const v = parseIpv4(a);
  if (v < 0) throw new Error(`bad IPv4 address: ${a}`);
  return v;
}

function linkLen(s: FrameSpec): number {
  const link = s.link ?? LINKTYPE_ETHERNET;
  if (link === LINKTYPE_ETHERNET) return ETH_HEADER_LEN + VLAN_TAG_LEN * (s.vlans?.length ?? 0);
  if (link === LINKTYPE_LINUX_SLL) return 16;
  if (link === LINKTYPE_LINUX_SLL2) return 20;
  return 0;
}

function upperProto(s: FrameSpec): number {
  if (s.tcp) return PROTO_TCP;
  if (s.udp) return PROTO_UDP;
  if (s.icmp) return PROTO_ICMP;
  if (s.icmpv6) return PROTO_ICMPV6;
  if (s.gre) return PROTO_GRE;
  return -1;
}

function l4HeaderLen(s: FrameSpec): number {
  if (s.tcp) return tcpHeaderLen(s.tcp);
  if (s.udp) return UDP_HEADER_LEN;
  if (s.icmp || s.icmpv6) return ICMP_HEADER_LEN;
  if (s.gre) return greHeaderLen(greRepr(s));
  return 0;
}

function greRepr(s: FrameSpec): GreRepr {
  const g = s.gre!;
  const p = s.payload;
  const proto = g.proto ?? (p && p.length > 0 && p[0]! >> 4 === 6 ? ETH_IPV6 : ETH_IPV4);
  return { proto, checksum: g.checksum ?? false, key: g.key, seq: g.seq };
}

function ext6Len(s: Ipv6Spec): number {
  let n = 0;
  for (const e of s.ext ?? []) n += ipv6ExtLen(e);
  return n;
}

/** Total length of the frame `s` describes. */
export function frameLength(s: FrameSpec): number {
  let n = linkLen(s);
  if (s.arp) n += 28;
  else if (s.ipv4) n += ipv4HeaderLen({ ...s.ipv4, src: 0, dst: 0, proto: 0, payloadLen: 0 });
  else if (s.ipv6) n += IPV6_HEADER_LEN + ext6Len(s.ipv6);
  n += l4HeaderLen(s) + (s.payload?.length ?? 0);
  return Math.max(n, s.padTo ?? 0);
}

function emitLink(buf: Uint8Array, off: number, s: FrameSpec, etherType: number): number {
  const link = s.link ?? LINKTYPE_ETHERNET;
  const src = mac(s.srcMac, DEFAULT_SRC_MAC);
  if (link === LINKTYPE_ETHERNET) {
    const n = s.vlans?.length ?? 0;
    const vlans = s.vlans?.map((v, i) =>
      typeof v === 'number' ? { tpid: n >= 2 && i < n - 1 ? ETH_QINQ : ETH_VLAN, vid: v } : v,
    );
    return emitEthernet(buf, off, { dst: mac(s.dstMac, DEFAULT_DST_MAC), src, etherType, vlans });
  }
  if (link === LINKTYPE_LINUX_SLL) {
    wr16(buf, off, 0);
    wr16(buf, off + 2, 1);
    wr16(buf, off + 4, 6);
    for (let i = 0; i < 8; i++) buf[off + 6 + i] = i < 6 ? src[i]! : 0;
    wr16(buf, off + 14, etherType);
    return 16;
  }
  if (link === LINKTYPE_LINUX_SLL2) {
    wr16(buf, off, etherType);
    wr16(buf, off + 2, 0);
    wr32(buf, off + 4, 1);
    wr16(buf, off + 8, 1);
    buf[off + 10] = 0;
    buf[off + 11] = 6;
    for (let i = 0; i < 8; i++) buf[off + 12 + i] = i < 6 ? src[i]! : 0;
    return 20;
  }
  return 0;
}

/** Writes the frame `s` describes at buf[off]; returns its length. Throws when it does not fit. */
export function buildFrameInto(s: FrameSpec, buf: Uint8Array, off: number): number {
  const total = frameLength(s);
  if (off + total > buf.length) throw new RangeError('frame does not fit the buffer');
  const etherType = s.arp ? ETH_ARP : s.ipv4 ? ETH_IPV4 : s.ipv6 ? ETH_IPV6 : (s.etherType ?? 0);
  let o = off + emitLink(buf, off, s, etherType);
  const payload = s.payload ?? EMPTY;
  const l4h = l4HeaderLen(s);
  const l4len = l4h + payload.length;
  const up = upperProto(s);
  let pseudo = 0;
  let fragment = false;
  if (s.arp) {
    const a = s.arp;
    o += emitArp(buf, o, {
      op: a.op,
      sha: mac(a.sha, DEFAULT_SRC_MAC),
      spa: v4(a.spa),
      tha: mac(a.tha, ZERO_MAC),
      tpa: v4(a.tpa),
    } satisfies ArpRepr);
  } else if (s.ipv4) {
    const r: Ipv4Repr = { ...s.ipv4, src: v4(s.ipv4.src), dst: v4(s.ipv4.dst), proto: 0, payloadLen: l4len };
    r.proto = s.ipv4.proto ?? (up >= 0 ? up : 253);
    o += emitIpv4(buf, o, r);
    fragment = !!r.mf || (r.fragOffset ?? 0) !== 0;
    pseudo = pseudoSum4(r.src, r.dst, r.proto, l4len);
  } else if (s.ipv6) {
    const x = s.ipv6;
    const proto = x.proto ?? (up >= 0 ? up : 59);
    const ext = x.ext ?? [];
    const src = words(x.src, tmpSrc);
    const dst = words(x.dst, tmpDst);
    const extLen = ext6Len(x);
    o += emitIpv6(buf, o, {
      src,
      dst,
      nextHeader: ext.length > 0 ? ext[0]!.type : proto,
      payloadLen: extLen + l4len,
      hopLimit: x.hopLimit,
      trafficClass: x.trafficClass,
      flowLabel: x.flowLabel,
    });
    for (let i = 0; i < ext.length; i++) {
      const e = ext[i]!;
      if (e.type === EXT_FRAGMENT && ((e.fragOffset ?? 0) !== 0 || e.more)) fragment = true;
      o += emitIpv6Ext(buf, o, e, i + 1 < ext.length ? ext[i + 1]!.type : proto);
    }
    pseudo = pseudoSum6(src, dst, proto, l4len);
  }
  const l4 = o;
  if (s.tcp) o += emitTcp(buf, o, s.tcp);
  else if (s.udp)
    o += emitUdp(buf, o, { srcPort: s.udp.srcPort, dstPort: s.udp.dstPort, payloadLen: payload.length });
  else if (s.icmp) o += emitIcmp(buf, o, s.icmp);
  else if (s.icmpv6) o += emitIcmp(buf, o, s.icmpv6);
  else if (s.gre) o += emitGre(buf, o, greRepr(s));
  buf.set(payload, o);
  o += payload.length;
  buf.fill(0, o, off + total);
  if (up >= 0 && !fragment && (s.ipv4 || s.ipv6) && !(s.udp?.noChecksum && s.ipv4)) {
    fillL4Checksum(buf, l4, l4len, up, up === PROTO_ICMP || up === PROTO_GRE ? 0 : pseudo);
  }
  return total;
}

/** Builds the frame `s` describes into `out` (when given and large enough) or a new array of exact length. */
export function buildFrame(s: FrameSpec, out?: Uint8Array): Uint8Array {
  const n = frameLength(s);
  const buf = out && out.length >= n ? out : new Uint8Array(n);
  buildFrameInto(s, buf, 0);
  return buf.length === n ? buf : buf.subarray(0, n);
}

/** Builds just the IP packet (no link header): for GRE payloads, ICMP quotes, raw-IP captures. */
export function buildIp(s: Omit<FrameSpec, 'link' | 'vlans' | 'srcMac' | 'dstMac'>): Uint8Array {
  return buildFrame({ ...s, link: 101 });
}
