/**
 * Straight-line decode of the common frame shapes, in front of the general
 * decoder (decode.ts): Ethernet with at most one 802.1Q tag, then IPv4 with a
 * 20-byte header that is not a fragment, or IPv6 with no extension headers,
 * then TCP (any valid options) or UDP, with every byte captured.
 *
 * It reads the whole frame into locals first and writes `p` only once the
 * frame is known to decode without error; anything else (other link or
 * network types, IP options, fragments, extension headers, ICMP, GRE, any
 * length or option that the general path would report as an error, snapped
 * frames) returns FAST_MISS with `p` untouched, and the caller runs the
 * general path. On success `p` holds exactly what resetPacket + the general
 * path would have left there (test/unit/wire/fast-path.test.ts checks this).
 */
import { clearAddr } from './bytes.js';
import { ETH_ARP, PROTO_GRE, PROTO_ICMP, PROTO_ICMPV6, PROTO_TCP, PROTO_UDP, type Packet } from './packet.js';

/** Returned by fastEthernet when the frame is not one it decodes (p untouched). */
export const FAST_MISS = -1;

/**
 * Clears the field groups that the fast path does not write (ARP, ICMP,
 * GRE, and TCP when this frame is UDP), when the previous decode may have set
 * them: the same rule as resetPacket.
 */
function clearOtherGroups(p: Packet, tcp: boolean): void {
  if (p.etherType === ETH_ARP) {
    p.arpOp = 0;
    p.arpSpa = 0;
    p.arpTpa = 0;
  }
  const prev = p.l4Proto;
  if (prev === PROTO_TCP) {
    if (!tcp) {
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
    }
  } else if (prev === PROTO_UDP) {
    // nothing beyond the common fields
  } else if (prev === PROTO_ICMP || prev === PROTO_ICMPV6) {
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
  } else if (prev === PROTO_GRE) {
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
 * Decodes the Ethernet frame buf[base, end) (0 <= base <= end <=
 * buf.length, all captured) when it has a common shape; returns 0, or
 * FAST_MISS with `p` untouched. The caller has set p.buf, p.linkType.
 */
export function fastEthernet(buf: Uint8Array, base: number, end: number, p: Packet): number {
  let l3 = base + 14;
  // Shortest frame handled: Ethernet + 20 bytes of IPv4 + 8 of UDP.
  if (l3 + 28 > end) return FAST_MISS;
  let type = (buf[base + 12]! << 8) | buf[base + 13]!;
  let vlanCount = 0;
  let vid = 0;
  if (type === 0x8100) {
    vid = ((buf[l3]! << 8) | buf[l3 + 1]!) & 0x0fff;
    type = (buf[l3 + 2]! << 8) | buf[l3 + 3]!;
    l3 += 4;
    vlanCount = 1;
  }

  // ---- L3 ----
  let v4 = true;
  let w0 = 0; // IPv4: version..total length; IPv6: version, class, flow label
  let w1 = 0; // IPv4: id, flags, fragment offset
  let ttl = 0;
  let proto = 0;
  let ipEnd = 0;
  let l4 = 0;
  if (type === 0x0800) {
    if (l3 + 28 > end) return FAST_MISS;
    w0 = (buf[l3]! << 24) | (buf[l3 + 1]! << 16) | (buf[l3 + 2]! << 8) | buf[l3 + 3]!;
    const total = w0 & 0xffff;
    // Version 4, IHL 5; the general path handles options and bad lengths.
    if (w0 >>> 24 !== 0x45 || total < 20) return FAST_MISS;
    ipEnd = l3 + total;
    if (ipEnd > end) return FAST_MISS;
    w1 = (buf[l3 + 4]! << 24) | (buf[l3 + 5]! << 16) | (buf[l3 + 6]! << 8) | buf[l3 + 7]!;
    if ((w1 & 0x3fff) !== 0) return FAST_MISS; // MF or a fragment offset
    ttl = buf[l3 + 8]!;
    proto = buf[l3 + 9]!;
    l4 = l3 + 20;
  } else if (type === 0x86dd) {
    if (l3 + 48 > end) return FAST_MISS;
    w0 = (buf[l3]! << 24) | (buf[l3 + 1]! << 16) | (buf[l3 + 2]! << 8) | buf[l3 + 3]!;
    if (w0 >>> 28 !== 6) return FAST_MISS;
    ipEnd = l3 + 40 + ((buf[l3 + 4]! << 8) | buf[l3 + 5]!);
    if (ipEnd > end) return FAST_MISS;
    proto = buf[l3 + 6]!;
    ttl = buf[l3 + 7]!;
    l4 = l3 + 40;
    v4 = false;
  } else {
    return FAST_MISS;
  }

  // ---- L4 (bytes are all captured: ipEnd <= end) ----
  let hlen = 0;
  let mss = 0;
  let wscale = -1;
  let sackPermitted = false;
  let hasTimestamps = false;
  let tsVal = 0;
  let tsEcr = 0;
  let hasSack = false;
  let sackMaxRight = 0;
  let payloadLen = 0;
  if (proto === PROTO_TCP) {
    if (l4 + 20 > ipEnd) return FAST_MISS;
    hlen = (buf[l4 + 12]! >> 4) << 2;
    const hend = l4 + hlen;
    if (hlen < 20 || hend > ipEnd) return FAST_MISS;
    let o = l4 + 20;
    if (
      hlen === 32 &&
      buf[o] === 1 &&
      buf[o + 1] === 1 &&
      buf[o + 2] === 8 &&
      buf[o + 3] === 10 // NOP NOP timestamps: the usual layout after the handshake
    ) {
      hasTimestamps = true;
      tsVal = ((buf[o + 4]! << 24) | (buf[o + 5]! << 16) | (buf[o + 6]! << 8) | buf[o + 7]!) >>> 0;
      tsEcr = ((buf[o + 8]! << 24) | (buf[o + 9]! << 16) | (buf[o + 10]! << 8) | buf[o + 11]!) >>> 0;
    } else {
      while (o < hend) {
        const kind = buf[o]!;
        if (kind === 0) break;
        if (kind === 1) {
          o++;
          continue;
        }
        if (o + 2 > hend) return FAST_MISS;
        const len = buf[o + 1]!;
        if (len < 2 || o + len > hend) return FAST_MISS;
        if (kind === 2) {
          if (len === 4) mss = (buf[o + 2]! << 8) | buf[o + 3]!;
        } else if (kind === 3) {
          if (len === 3) wscale = buf[o + 2]!;
        } else if (kind === 4) {
          if (len === 2) sackPermitted = true;
        } else if (kind === 8) {
          if (len === 10) {
            hasTimestamps = true;
            tsVal = ((buf[o + 2]! << 24) | (buf[o + 3]! << 16) | (buf[o + 4]! << 8) | buf[o + 5]!) >>> 0;
            tsEcr = ((buf[o + 6]! << 24) | (buf[o + 7]! << 16) | (buf[o + 8]! << 8) | buf[o + 9]!) >>> 0;
          }
        } else if (kind === 5 && len >= 10 && (len - 2) % 8 === 0) {
          for (let b = o + 6; b < o + len; b += 8) {
            const right = ((buf[b]! << 24) | (buf[b + 1]! << 16) | (buf[b + 2]! << 8) | buf[b + 3]!) >>> 0;
            if (!hasSack || ((right - sackMaxRight) | 0) > 0) sackMaxRight = right;
            hasSack = true;
          }
        }
        o += len;
      }
    }
    payloadLen = ipEnd - hend;
  } else if (proto === PROTO_UDP) {
    if (l4 + 8 > ipEnd) return FAST_MISS;
    const ulen = (buf[l4 + 4]! << 8) | buf[l4 + 5]!;
    if (ulen < 8 || l4 + ulen > ipEnd) return FAST_MISS;
    hlen = 8;
    payloadLen = ulen - 8;
  } else {
    return FAST_MISS;
  }

  // ---- commit: the frame decodes without error ----
  const tcp = proto === PROTO_TCP;
  clearOtherGroups(p, tcp);
  p.base = base;
  p.end = end;
  p.error = 0;
  p.errorOffset = 0;
  p.capEnd = end;
  p.snapped = false;
  p.ethOff = base;
  p.vlanCount = vlanCount;
  p.vlanOuter = vid;
  p.vlanInner = 0;
  p.l3Off = l3;
  p.ttl = ttl;
  p.fragOffset = 0;
  p.moreFragments = false;
  p.isFragment = false;
  p.ip6FragOff = -1;
  const src = p.src;
  const dst = p.dst;
  if (v4) {
    p.etherType = 0x0800;
    p.ipVersion = 4;
    p.ipHeaderLen = 20;
    p.tos = (w0 >>> 16) & 0xff;
    p.ipId = w1 >>> 16;
    p.dontFragment = (w1 & 0x4000) !== 0;
    src[0] = 0;
    src[1] = 0;
    src[2] = 0xffff;
    src[3] = (buf[l3 + 12]! << 24) | (buf[l3 + 13]! << 16) | (buf[l3 + 14]! << 8) | buf[l3 + 15]!;
    dst[0] = 0;
    dst[1] = 0;
    dst[2] = 0xffff;
    dst[3] = (buf[l3 + 16]! << 24) | (buf[l3 + 17]! << 16) | (buf[l3 + 18]! << 8) | buf[l3 + 19]!;
  } else {
    p.etherType = 0x86dd;
    p.ipVersion = 6;
    p.ipHeaderLen = 40;
    p.tos = (w0 >>> 20) & 0xff;
    p.ipId = 0;
    p.dontFragment = false;
    for (let i = 0; i < 4; i++) {
      const a = l3 + 8 + 4 * i;
      src[i] = (buf[a]! << 24) | (buf[a + 1]! << 16) | (buf[a + 2]! << 8) | buf[a + 3]!;
      dst[i] = (buf[a + 16]! << 24) | (buf[a + 17]! << 16) | (buf[a + 18]! << 8) | buf[a + 19]!;
    }
  }
  p.ipEnd = ipEnd;
  p.l4Proto = proto;
  p.l4Off = l4;
  p.l4Len = ipEnd - l4;
  p.srcPort = (buf[l4]! << 8) | buf[l4 + 1]!;
  p.dstPort = (buf[l4 + 2]! << 8) | buf[l4 + 3]!;
  p.payloadOff = l4 + hlen;
  p.payloadLen = payloadLen;
  if (tcp) {
    p.seq = ((buf[l4 + 4]! << 24) | (buf[l4 + 5]! << 16) | (buf[l4 + 6]! << 8) | buf[l4 + 7]!) >>> 0;
    p.ack = ((buf[l4 + 8]! << 24) | (buf[l4 + 9]! << 16) | (buf[l4 + 10]! << 8) | buf[l4 + 11]!) >>> 0;
    p.tcpFlags = buf[l4 + 13]!;
    p.window = (buf[l4 + 14]! << 8) | buf[l4 + 15]!;
    p.tcpHeaderLen = hlen;
    p.mss = mss;
    p.wscale = wscale;
    p.sackPermitted = sackPermitted;
    p.hasTimestamps = hasTimestamps;
    p.tsVal = tsVal;
    p.tsEcr = tsEcr;
    p.hasSack = hasSack;
    p.sackMaxRight = sackMaxRight;
  }
  return 0;
}
