/**
 * Whole-frame decode into the reused Packet struct. Never throws, never
 * allocates: every field read is index arithmetic behind a bounds check.
 *
 * Offsets stored in the Packet are absolute indices into `buf`; only
 * `errorOffset` is relative to `base`.
 *
 * Snapped frames (a capture record whose caplen is below its original length,
 * passed as decodeFrame's `wireLen`): every length-consistency check (IPv4
 * total length, IPv6 payload length and extension headers, UDP length, TCP
 * data offset, ICMP, GRE) is made against the lengths on the wire, so a frame
 * that was valid on the wire decodes with error 0; every byte READ stays
 * below the captured end (p.capEnd). What must be captured: the link header,
 * the IP header with its options / extension headers up to the upper layer,
 * and of the upper layer the bytes the session key needs: 16 of TCP (ports,
 * seq, ack, data offset, flags, window), 8 of UDP, 8 of ICMP/ICMPv6 (24 for
 * ND NS/NA), the quoted IP header and 8 bytes of its upper layer for ICMP
 * errors, and the GRE header with its optional words. Missing any of those
 * gives the same truncated-* error as a short frame (truncated-icmp for a
 * cut ICMP error quote). TCP options cut by the snaplen: the options wholly
 * captured are decoded, the rest are ignored (no error). ipEnd, l4Len and
 * payloadLen are the lengths on the wire (so sequence tracking sees the true
 * segment length) and may reach past capEnd. A snapped frame whose wire
 * length runs more than SNAP_TRAILER_MAX (ipv4.ts) bytes past its IP datagram
 * is refused (bad-ipv4-length / malformed-ipv6): the claimed length is not credible.
 */
import { decodeArp } from './arp.js';
import { clearAddr } from './bytes.js';
import { E_MALFORMED_IPV4, E_TRUNCATED_FRAME, E_TRUNCATED_IPV4, E_UNSUPPORTED_LINKTYPE } from './errors.js';
import { decodeEthernet, decodeSll, decodeSll2 } from './ethernet.js';
import { fail } from './fail.js';
import { fastEthernet } from './fast.js';
import { decodeGre } from './gre.js';
import { decodeIcmp } from './icmp.js';
import { decodeIcmpv6 } from './icmpv6.js';
import { decodeIpv4 } from './ipv4.js';
import { decodeIpv6 } from './ipv6.js';
import {
  ETH_ARP,
  ETH_IPV4,
  ETH_IPV6,
  LINKTYPE_ETHERNET,
  LINKTYPE_IPV4,
  LINKTYPE_IPV6,
  LINKTYPE_LINUX_SLL,
  LINKTYPE_LINUX_SLL2,
  LINKTYPE_RAW,
  PROTO_GRE,
  PROTO_ICMP,
  PROTO_ICMPV6,
  PROTO_TCP,
  PROTO_UDP,
  type Packet,
} from './packet.js';
import { decodeTcp } from './tcp.js';
import { decodeUdp } from './udp.js';

/**
 * Resets every decoded field of `p` (not buf/base/end/linkType, which the
 * caller sets next). Protocol groups are cleared only when the previous decode
 * (still visible in p.l4Proto / p.etherType) could have set them.
 */
export function resetPacket(p: Packet): void {
  const prevProto = p.l4Proto;
  if (p.etherType === ETH_ARP) {
    p.arpOp = 0;
    p.arpSpa = 0;
    p.arpTpa = 0;
  }
  p.error = 0;
  p.errorOffset = 0;
  p.capEnd = 0;
  p.snapped = false;
  p.ethOff = -1;
  p.etherType = 0;
  p.vlanCount = 0;
  p.vlanOuter = 0;
  p.vlanInner = 0;
  p.l3Off = 0;
  p.ipVersion = 0;
  p.ipHeaderLen = 0;
  p.ipEnd = 0;
  p.ttl = 0;
  p.tos = 0;
  p.ipId = 0;
  p.fragOffset = 0;
  p.moreFragments = false;
  p.dontFragment = false;
  p.isFragment = false;
  p.ip6FragOff = -1;
  clearAddr(p.src);
  clearAddr(p.dst);
  p.l4Proto = 0;
  p.l4Off = 0;
  p.l4Len = 0;
  p.srcPort = 0;
  p.dstPort = 0;
  p.payloadOff = 0;
  p.payloadLen = 0;
  if (prevProto === PROTO_TCP) {
    p.tcpFlags = 0;
    p.seq = 0;
    p.ack = 0;
    p.window = 0;
    p.tcpHeaderLen = 0;
    p.mss = 0;
    p.wscale = -1;
    p.sackPermitted = false;
    p.hasTimestamps = false;
    p.tsVal = 0;
    p.tsEcr = 0;
    p.hasSack = false;
    p.sackMaxRight = 0;
  } else if (prevProto === PROTO_ICMP || prevProto === PROTO_ICMPV6) {
    p.icmpType = 0;
    p.icmpCode = 0;
    p.icmpId = 0;
    p.icmpSeq = 0;
    clearAddr(p.ndTarget);
    if (p.icmpIsError) {
      p.icmpIsError = false;
      p.innerL3Off = 0;
      p.innerIpVersion = 0;
      p.innerL4Proto = 0;
      p.innerL4Off = 0;
      clearAddr(p.innerSrc);
      clearAddr(p.innerDst);
      p.innerSrcPort = 0;
      p.innerDstPort = 0;
      p.innerIcmpId = 0;
      p.innerIcmpType = 0;
    }
  } else if (prevProto === PROTO_GRE) {
    p.greOff = -1;
    p.greFlags = 0;
    p.greProto = 0;
    p.greHasKey = false;
    p.greKey = 0;
    p.greHasSeq = false;
    p.greSeq = 0;
    p.greHasChecksum = false;
    p.grePayloadOff = 0;
  }
}

/**
 * Decodes the upper layer named by p.l4Proto at p.l4Off..p.ipEnd (not for
 * non-first fragments); bytes are read only below min(ipEnd, capEnd).
 */
function decodeL4(buf: Uint8Array, p: Packet): number {
  if (p.fragOffset !== 0) return 0;
  const off = p.l4Off;
  const end = p.ipEnd;
  const cap = p.capEnd < end ? p.capEnd : end;
  switch (p.l4Proto) {
    case PROTO_TCP:
      return decodeTcp(buf, off, end, p, cap);
    case PROTO_UDP:
      return decodeUdp(buf, off, end, p, cap);
    case PROTO_ICMP:
      return p.ipVersion === 4 ? decodeIcmp(buf, off, end, p, cap) : 0;
    case PROTO_ICMPV6:
      return p.ipVersion === 6 ? decodeIcmpv6(buf, off, end, p, cap) : 0;
    case PROTO_GRE:
      return decodeGre(buf, off, end, p, cap);
    default:
      p.payloadOff = off;
      p.payloadLen = end - off;
      return 0;
  }
}

/**
 * Decodes an IP packet (v4 or v6 by its version nibble) at `off` with no
 * reset: the body of decodeIp. `end` is the end on the wire; bytes exist up to p.capEnd.
 */
function ipBody(buf: Uint8Array, off: number, end: number, p: Packet): number {
  p.l3Off = off;
  if (off >= p.capEnd) return fail(p, E_TRUNCATED_IPV4, off);
  const v = buf[off]! >> 4;
  let rc: number;
  if (v === 4) {
    p.etherType = ETH_IPV4;
    rc = decodeIpv4(buf, off, end, p, p.capEnd);
  } else if (v === 6) {
    p.etherType = ETH_IPV6;
    rc = decodeIpv6(buf, off, end, p, p.capEnd);
  } else {
    return fail(p, E_MALFORMED_IPV4, off);
  }
  return rc !== 0 ? rc : decodeL4(buf, p);
}

/** L3 at `off`: `end` is the frame's end on the wire; bytes exist up to p.capEnd. */
function l3(buf: Uint8Array, off: number, end: number, p: Packet): number {
  p.l3Off = off;
  const t = p.etherType;
  let rc: number;
  if (t === ETH_IPV4) rc = decodeIpv4(buf, off, end, p, p.capEnd);
  else if (t === ETH_IPV6) rc = decodeIpv6(buf, off, end, p, p.capEnd);
  else if (t === ETH_ARP) return decodeArp(buf, off, p.capEnd, p);
  else return 0;
  return rc !== 0 ? rc : decodeL4(buf, p);
}

/**
 * Decodes the frame buf[base, base+len) of the given pcap link type into
 * `out`. Returns the error code (0 = ok), also stored in out.error.
 *
 * `wireLen` is the frame's length on the wire (a capture record's original
 * length; default `len`). When it is larger than `len` the frame was cut by
 * the snaplen: out.snapped is set, lengths are checked against the wire and
 * reads stay below out.capEnd (see the file comment).
 */
export function decodeFrame(
  buf: Uint8Array,
  base: number,
  len: number,
  linkType: number,
  out: Packet,
  wireLen?: number,
): number {
  // Fast path: a whole (not snapped) Ethernet frame inside buf; see fast.ts.
  if (
    linkType === LINKTYPE_ETHERNET &&
    base >= 0 &&
    len > 0 &&
    base + len <= buf.length &&
    !(wireLen !== undefined && wireLen > len)
  ) {
    out.buf = buf;
    out.linkType = linkType;
    if (fastEthernet(buf, base, base + len, out) === 0) return 0;
  }
  return decodeFrameGeneral(buf, base, len, linkType, out, wireLen);
}

/**
 * decodeFrame without the fast path: the reference the fast path is tested
 * against (test/unit/wire/fast-path.test.ts). Same contract as decodeFrame.
 */
export function decodeFrameGeneral(
  buf: Uint8Array,
  base: number,
  len: number,
  linkType: number,
  out: Packet,
  wireLen?: number,
): number {
  resetPacket(out);
  out.buf = buf;
  out.linkType = linkType;
  if (!(base >= 0)) base = 0;
  let end = base + (len > 0 ? len : 0);
  if (end > buf.length) end = buf.length;
  if (base > end) base = end;
  out.base = base;
  out.end = end;
  out.capEnd = end;
  let wend = end;
  if (wireLen !== undefined && wireLen > len && base + wireLen > end) {
    wend = base + wireLen;
    out.snapped = true;
  }
  let off: number;
  switch (linkType) {
    case LINKTYPE_ETHERNET:
      off = decodeEthernet(buf, base, end, out);
      break;
    case LINKTYPE_LINUX_SLL:
      off = decodeSll(buf, base, end, out);
      break;
    case LINKTYPE_LINUX_SLL2:
      off = decodeSll2(buf, base, end, out);
      break;
    case LINKTYPE_RAW:
      if (base >= end) return fail(out, E_TRUNCATED_FRAME, base);
      return ipBody(buf, base, wend, out);
    case LINKTYPE_IPV4:
      out.etherType = ETH_IPV4;
      off = base;
      break;
    case LINKTYPE_IPV6:
      out.etherType = ETH_IPV6;
      off = base;
      break;
    default:
      return fail(out, E_UNSUPPORTED_LINKTYPE, base);
  }
  if (off < 0) return out.error;
  return l3(buf, off, wend, out);
}

/**
 * Decodes an IP packet at buf[off, end) into `out` (reset first), e.g. the
 * payload of a GRE packet decoded into a second Packet. The version nibble
 * picks IPv4 or IPv6. out.linkType is LINKTYPE_RAW and out.base is `off`.
 *
 * `wireEnd` (default `end`): where the packet ended on the wire, when only
 * [off, end) was captured, as for decodeFrame's wireLen. For the GRE payload
 * of a snapped packet `p`: decodeIp(buf, o, min(p.ipEnd, p.capEnd), q, p.ipEnd).
 */
export function decodeIp(buf: Uint8Array, off: number, end: number, out: Packet, wireEnd?: number): number {
  resetPacket(out);
  out.buf = buf;
  out.linkType = LINKTYPE_RAW;
  if (!(off >= 0)) off = 0;
  const given = end;
  if (end > buf.length) end = buf.length;
  if (off > end) off = end;
  out.base = off;
  out.end = end;
  out.capEnd = end;
  let wend = end;
  if (wireEnd !== undefined && wireEnd > given && wireEnd > end) {
    wend = wireEnd;
    out.snapped = true;
  }
  return ipBody(buf, off, wend, out);
}
