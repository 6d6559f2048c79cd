/**
 * The frame shape of an established flow's ordinary packets, read straight
 * from the bytes for the device's session fast path (the `fast` method of
 * src/device/device.ts): Ethernet with at most one 802.1Q tag, IPv4 with a
 * 20-byte header that is not a fragment or IPv6 with no extension header,
 * then TCP with no options or with NOP NOP timestamps (the usual layout after
 * the handshake), or UDP; every byte captured. Only frames the general
 * decoder (fast.ts) takes without error match, and their fields read the
 * same; anything else is FAST_MISS and takes the general decoder.
 */
import { FAST_MISS } from './fast.js';
import { PROTO_TCP, PROTO_UDP } from './packet.js';

/** What the session fast path needs of a packet. Words are signed (no heap numbers). */
export class FastSegment {
  /** PROTO_TCP or PROTO_UDP. */
  proto = 0;
  /** IPv6 (addresses in src6/dst6), else IPv4 (in src/dst). */
  v6 = false;
  readonly src6 = new Uint32Array(4);
  readonly dst6 = new Uint32Array(4);
  /** Offsets of the IP header, the transport header and the end of the IP packet. */
  l3 = 0;
  l4 = 0;
  ipEnd = 0;
  /** VLAN ID of the tag, 0 when untagged. */
  vlan = 0;
  src = 0;
  dst = 0;
  /** (source port << 16) | destination port. */
  ports = 0;
  tcpFlags = 0;
  seq = 0;
  ack = 0;
  window = 0;
  payloadLen = 0;
  /** TCP segments with SACK blocks are not this shape. */
  readonly hasSack = false;
  readonly sackMaxRight = 0;
}

/** Reads the Ethernet frame buf[base, end) into `s` when it has the shape above; 0, or FAST_MISS. */
export function readSegment(buf: Uint8Array, base: number, end: number, s: FastSegment): number {
  let l3 = base + 14;
  // Ethernet + 20 bytes of IPv4 + 8 of UDP.
  if (l3 + 28 > end) return FAST_MISS;
  let type = (buf[base + 12]! << 8) | buf[base + 13]!;
  let vid = 0;
  if (type === 0x8100) {
    vid = ((buf[l3]! << 8) | buf[l3 + 1]!) & 0x0fff;
    type = (buf[l3 + 2]! << 8) | buf[l3 + 3]!;
    l3 += 4;
    if (l3 + 28 > end) return FAST_MISS;
  }
  let proto: number;
  let ipEnd: number;
  let l4: number;
  if (type === 0x0800) {
    if (buf[l3] !== 0x45) return FAST_MISS;
    proto = buf[l3 + 9]!;
    ipEnd = l3 + ((buf[l3 + 2]! << 8) | buf[l3 + 3]!);
    // MF or a fragment offset: the general path reassembles.
    if (ipEnd > end || ((buf[l3 + 6]! & 0x3f) | buf[l3 + 7]!) !== 0) return FAST_MISS;
    l4 = l3 + 20;
  } else if (type === 0x86dd) {
    if (l3 + 48 > end || buf[l3]! >> 4 !== 6) return FAST_MISS;
    // The next header is the transport's: any extension header takes the general path.
    proto = buf[l3 + 6]!;
    ipEnd = l3 + 40 + ((buf[l3 + 4]! << 8) | buf[l3 + 5]!);
    if (ipEnd > end) return FAST_MISS;
    l4 = l3 + 40;
  } else return FAST_MISS;
  if (proto === PROTO_TCP) {
    if (l4 + 20 > ipEnd) return FAST_MISS;
    const hlen = (buf[l4 + 12]! >> 4) << 2;
    if (hlen === 32) {
      const o = l4 + 20;
      if (buf[o] !== 1 || buf[o + 1] !== 1 || buf[o + 2] !== 8 || buf[o + 3] !== 10) return FAST_MISS;
    } else if (hlen !== 20) return FAST_MISS;
    if (l4 + hlen > ipEnd) return FAST_MISS;
    s.seq = (buf[l4 + 4]! << 24) | (buf[l4 + 5]! << 16) | (buf[l4 + 6]! << 8) | buf[l4 + 7]!;
    s.ack = (buf[l4 + 8]! << 24) | (buf[l4 + 9]! << 16) | (buf[l4 + 10]! << 8) | buf[l4 + 11]!;
    s.tcpFlags = buf[l4 + 13]!;
    s.window = (buf[l4 + 14]! << 8) | buf[l4 + 15]!;
    s.payloadLen = ipEnd - l4 - hlen;
  } else if (proto === PROTO_UDP) {
    if (l4 + 8 > ipEnd) return FAST_MISS;
    const ulen = (buf[l4 + 4]! << 8) | buf[l4 + 5]!;
    if (ulen < 8 || l4 + ulen > ipEnd) return FAST_MISS;
    s.payloadLen = ulen - 8;
  } else return FAST_MISS;
  s.proto = proto;
  s.l3 = l3;
  s.l4 = l4;
  s.ipEnd = ipEnd;
  s.vlan = vid;
  s.v6 = type === 0x86dd;
  if (s.v6) {
    for (let i = 0; i < 4; i++) {
      const a = l3 + 8 + 4 * i;
      s.src6[i] = (buf[a]! << 24) | (buf[a + 1]! << 16) | (buf[a + 2]! << 8) | buf[a + 3]!;
      s.dst6[i] = (buf[a + 16]! << 24) | (buf[a + 17]! << 16) | (buf[a + 18]! << 8) | buf[a + 19]!;
    }
  } else {
    s.src = (buf[l3 + 12]! << 24) | (buf[l3 + 13]! << 16) | (buf[l3 + 14]! << 8) | buf[l3 + 15]!;
    s.dst = (buf[l3 + 16]! << 24) | (buf[l3 + 17]! << 16) | (buf[l3 + 18]! << 8) | buf[l3 + 19]!;
  }
  s.ports = (buf[l4]! << 24) | (buf[l4 + 1]! << 16) | (buf[l4 + 2]! << 8) | buf[l4 + 3]!;
  return 0;
}
