/**
 * ARP (RFC 826) and IPv6 neighbour discovery (RFC 4861) frames for the
 * router: requests and solicitations it sends to resolve a next hop, and the
 * replies / advertisements that answer a request for one of its addresses
 * (own or VIP) on the port it arrived on. Everything is written into a
 * caller's buffer; nothing is allocated. Frames are not padded to 60 bytes.
 * Requests the device originates are untagged; answers mirror the request's
 * link header (VLAN tags kept, MACs set).
 */
import { rd16, wr16, wr32, wrAddr6 } from '../wire/bytes.js';
import { fillL4Checksum, l4ChecksumOk, pseudoSum6 } from '../wire/checksum.js';
import { ICMP6_NA, ICMP6_NS } from '../wire/icmpv6.js';
import { ETH_ARP, ETH_IPV6, PROTO_ICMPV6, type Packet } from '../wire/packet.js';
import type { L3Ports } from './routes.js';

export const ARP_FRAME_LEN = 42;
/** Ethernet + IPv6 + NS/NA (24) + one link-layer address option (8). */
export const ND_FRAME_LEN = 14 + 40 + 32;
export const ND_OPT_SLLA = 1;
export const ND_OPT_TLLA = 2;
export const NA_ROUTER = 0x80000000;
export const NA_SOLICITED = 0x40000000;
export const NA_OVERRIDE = 0x20000000;

const BROADCAST = new Uint8Array([0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);
const ZERO6 = new Uint8Array(6);
const ALL_NODES = new Uint32Array([0xff020000, 0, 0, 1]);
const scratchDst = new Uint32Array(4);
const scratchSrc = new Uint32Array(4);
const scratchMac = new Uint8Array(6);

/** Writes an untagged Ethernet header; returns 14. */
export function writeEth(
  buf: Uint8Array,
  off: number,
  dst: Uint8Array,
  dstOff: number,
  src: Uint8Array,
  srcOff: number,
  etherType: number,
): number {
  for (let i = 0; i < 6; i++) {
    buf[off + i] = dst[dstOff + i]!;
    buf[off + 6 + i] = src[srcOff + i]!;
  }
  wr16(buf, off + 12, etherType);
  return 14;
}

function arpBody(
  buf: Uint8Array,
  o: number,
  op: number,
  sha: Uint8Array,
  shaOff: number,
  spa: number,
  tha: Uint8Array,
  thaOff: number,
  tpa: number,
): void {
  wr16(buf, o, 1);
  wr16(buf, o + 2, 0x0800);
  buf[o + 4] = 6;
  buf[o + 5] = 4;
  wr16(buf, o + 6, op);
  for (let i = 0; i < 6; i++) {
    buf[o + 8 + i] = sha[shaOff + i]!;
    buf[o + 18 + i] = tha[thaOff + i]!;
  }
  wr32(buf, o + 14, spa);
  wr32(buf, o + 24, tpa);
}

/**
 * ARP request "who has tpa, tell spa" from srcMac: broadcast, or unicast to
 * dstMac (a reachability probe). IPv4 addresses are host numbers. Returns 42.
 */
export function writeArpRequest(
  buf: Uint8Array,
  off: number,
  srcMac: Uint8Array,
  srcMacOff: number,
  spa: number,
  tpa: number,
  dstMac: Uint8Array | null = null,
  dstMacOff = 0,
): number {
  writeEth(buf, off, dstMac ?? BROADCAST, dstMac ? dstMacOff : 0, srcMac, srcMacOff, ETH_ARP);
  arpBody(buf, off + 14, 1, srcMac, srcMacOff, spa, ZERO6, 0, tpa);
  return ARP_FRAME_LEN;
}

/** ARP reply "spa is at srcMac" to (dstMac, tpa). Returns 42. */
export function writeArpReply(
  buf: Uint8Array,
  off: number,
  srcMac: Uint8Array,
  srcMacOff: number,
  spa: number,
  dstMac: Uint8Array,
  dstMacOff: number,
  tpa: number,
): number {
  writeEth(buf, off, dstMac, dstMacOff, srcMac, srcMacOff, ETH_ARP);
  arpBody(buf, off + 14, 2, srcMac, srcMacOff, spa, dstMac, dstMacOff, tpa);
  return ARP_FRAME_LEN;
}

/** The solicited-node multicast address of `target` (ff02::1:ffXX:XXXX, RFC 4291 2.7.1). */
export function solicitedNode(target: Uint32Array, out: Uint32Array): void {
  out[0] = 0xff020000;
  out[1] = 0;
  out[2] = 1;
  out[3] = (0xff000000 | (target[3]! & 0xffffff)) >>> 0;
}

/** The Ethernet multicast MAC of an IPv6 multicast address (33:33 + low 32 bits, RFC 2464 7). */
export function multicastMac(group: Uint32Array, out: Uint8Array, off = 0): void {
  out[off] = 0x33;
  out[off + 1] = 0x33;
  wr32(out, off + 2, group[3]!);
}

/** IPv6 header + NS/NA + link-layer option after an Ethernet header at `off`; returns the frame length. */
function ndPacket(
  buf: Uint8Array,
  off: number,
  src: Uint32Array,
  dst: Uint32Array,
  type: number,
  flags: number,
  target: Uint32Array,
  opt: number,
  mac: Uint8Array,
  macOff: number,
): number {
  const ip = off;
  wr32(buf, ip, 0x60000000);
  wr16(buf, ip + 4, 32);
  buf[ip + 6] = PROTO_ICMPV6;
  buf[ip + 7] = 255;
  wrAddr6(buf, ip + 8, src);
  wrAddr6(buf, ip + 24, dst);
  const ic = ip + 40;
  buf[ic] = type;
  buf[ic + 1] = 0;
  wr16(buf, ic + 2, 0);
  wr32(buf, ic + 4, flags >>> 0);
  wrAddr6(buf, ic + 8, target);
  buf[ic + 24] = opt;
  buf[ic + 25] = 1;
  for (let i = 0; i < 6; i++) buf[ic + 26 + i] = mac[macOff + i]!;
  fillL4Checksum(buf, ic, 32, PROTO_ICMPV6, pseudoSum6(src, dst, PROTO_ICMPV6, 32));
  return ic + 32;
}

/**
 * Neighbour solicitation for `target` from `src` (an address of the port),
 * with the source link-layer address option: to the target's solicited-node
 * group, or unicast to (target, dstMac) for a reachability probe. Returns 86.
 */
export function writeNs(
  buf: Uint8Array,
  off: number,
  srcMac: Uint8Array,
  srcMacOff: number,
  src: Uint32Array,
  target: Uint32Array,
  dstMac: Uint8Array | null = null,
  dstMacOff = 0,
): number {
  const dst = scratchDst;
  if (dstMac) {
    dst.set(target);
    writeEth(buf, off, dstMac, dstMacOff, srcMac, srcMacOff, ETH_IPV6);
  } else {
    solicitedNode(target, dst);
    multicastMac(dst, scratchMac);
    writeEth(buf, off, scratchMac, 0, srcMac, srcMacOff, ETH_IPV6);
  }
  return ndPacket(buf, off + 14, src, dst, ICMP6_NS, 0, target, ND_OPT_SLLA, srcMac, srcMacOff) - off;
}

/**
 * Neighbour advertisement for `target` (the device's address, also the
 * source) to (dst, dstMac) with the target link-layer address option and
 * `flags` (NA_ROUTER | NA_SOLICITED | NA_OVERRIDE). Returns 86.
 */
export function writeNa(
  buf: Uint8Array,
  off: number,
  srcMac: Uint8Array,
  srcMacOff: number,
  target: Uint32Array,
  dst: Uint32Array,
  dstMac: Uint8Array,
  dstMacOff: number,
  flags: number,
): number {
  writeEth(buf, off, dstMac, dstMacOff, srcMac, srcMacOff, ETH_IPV6);
  return ndPacket(buf, off + 14, target, dst, ICMP6_NA, flags, target, ND_OPT_TLLA, srcMac, srcMacOff) - off;
}

/**
 * Offset in p.buf of the link-layer address carried by ND option `type`
 * (ND_OPT_SLLA / ND_OPT_TLLA) of a decoded NS/NA, or -1 when absent.
 * -2 when the options are malformed (a zero length: RFC 4861 says discard).
 */
export function ndOptionMac(p: Packet, type: number): number {
  const b = p.buf;
  const end = p.capEnd < p.ipEnd ? p.capEnd : p.ipEnd;
  let o = p.l4Off + 24;
  while (o + 2 <= end) {
    const len = b[o + 1]! * 8;
    if (len === 0) return -2;
    if (o + len > end) return -2;
    if (b[o] === type && len >= 8) return o + 2;
    o += len;
  }
  return -1;
}

function isUnspecified(a: Uint32Array): boolean {
  return a[0] === 0 && a[1] === 0 && a[2] === 0 && a[3] === 0;
}

/** RFC 4861 7.1.1 / 7.1.2 checks for a decoded NS or NA (type `type`), checksum included. */
export function ndValid(p: Packet, type: number): boolean {
  if (p.error !== 0 || p.ipVersion !== 6 || p.l4Proto !== PROTO_ICMPV6 || p.icmpType !== type) return false;
  if (p.ttl !== 255 || p.icmpCode !== 0 || p.l4Len < 24 || p.ip6FragOff >= 0) return false;
  if (p.ndTarget[0]! >>> 24 === 0xff) return false;
  if (p.snapped || !l4ChecksumOk(p)) return false;
  const slla = ndOptionMac(p, ND_OPT_SLLA);
  if (slla === -2) return false;
  if (type === ICMP6_NS && isUnspecified(p.src)) {
    // DAD: to the solicited-node group, and no source link-layer address.
    return (
      p.dst[0] === 0xff020000 && p.dst[1] === 0 && p.dst[2] === 1 && p.dst[3]! >>> 24 === 0xff && slla === -1
    );
  }
  if (type === ICMP6_NA && p.dst[0]! >>> 24 === 0xff && rd16(p.buf, p.l4Off + 4) & 0x4000) return false;
  return true;
}

/**
 * Answers an ARP request for one of the device's addresses on `inPort` (own
 * or VIP): writes the reply into buf[off] and returns its length, else 0.
 * The reply goes to the requester's hardware address, link header mirrored.
 */
export function answerArp(p: Packet, ports: L3Ports, inPort: number, buf: Uint8Array, off: number): number {
  if (p.error !== 0 || p.arpOp !== 1 || p.ethOff < 0) return 0;
  scratchDst[0] = 0;
  scratchDst[1] = 0;
  scratchDst[2] = 0xffff;
  scratchDst[3] = p.arpTpa;
  if (!ports.localOn(scratchDst, inPort) || !ports.hasPort(inPort)) return 0;
  const s = p.buf;
  const link = p.l3Off - p.ethOff;
  if (off + link + 28 > buf.length) return 0;
  for (let i = 12; i < link; i++) buf[off + i] = s[p.ethOff + i]!;
  const sha = p.l3Off + 8;
  for (let i = 0; i < 6; i++) {
    buf[off + i] = s[sha + i]!;
    buf[off + 6 + i] = ports.macs[inPort * 6 + i]!;
  }
  arpBody(buf, off + link, 2, ports.macs, inPort * 6, p.arpTpa, s, sha, p.arpSpa);
  return link + 28;
}

/**
 * Answers a valid NS for one of the device's addresses on `inPort` with a
 * solicited NA (override set; router flag when `router`), to the solicitor's
 * link-layer address (its option, else the frame's source MAC); a DAD probe
 * (source ::) is answered to all-nodes without S. Returns the length, else 0.
 */
export function answerNs(
  p: Packet,
  ports: L3Ports,
  inPort: number,
  buf: Uint8Array,
  off: number,
  router = true,
): number {
  if (p.ethOff < 0 || !ndValid(p, ICMP6_NS)) return 0;
  if (!ports.localOn(p.ndTarget, inPort) || !ports.hasPort(inPort)) return 0;
  const link = p.l3Off - p.ethOff;
  if (off + link + 72 > buf.length) return 0;
  const s = p.buf;
  for (let i = 12; i < link; i++) buf[off + i] = s[p.ethOff + i]!;
  const dad = isUnspecified(p.src);
  let flags = (router ? NA_ROUTER : 0) | NA_OVERRIDE;
  const dst = scratchSrc;
  if (dad) {
    dst.set(ALL_NODES);
    multicastMac(dst, buf, off);
  } else {
    flags |= NA_SOLICITED;
    dst.set(p.src);
    const slla = ndOptionMac(p, ND_OPT_SLLA);
    const from = slla >= 0 ? slla : p.ethOff + 6;
    for (let i = 0; i < 6; i++) buf[off + i] = s[from + i]!;
  }
  for (let i = 0; i < 6; i++) buf[off + 6 + i] = ports.macs[inPort * 6 + i]!;
  const end = ndPacket(
    buf,
    off + link,
    p.ndTarget,
    dst,
    ICMP6_NA,
    flags,
    p.ndTarget,
    ND_OPT_TLLA,
    ports.macs,
    inPort * 6,
  );
  return end - off;
}
