/**
 * How a decoded packet maps onto a session key. Ports carry the L4 ports; for
 * ICMP queries they carry (identifier << 16) | type, so an echo request and
 * its reply (types 8 and 0) are the two directions of one session, as in
 * conntrack's ICMP tuple.
 */
import { PROTO_ICMP, PROTO_ICMPV6, PROTO_TCP, PROTO_UDP, type Packet } from '../wire/packet.js';

/** What a packet is to the tracker. */
export const K_NORMAL = 0; // a packet with its own tuple
export const K_RELATED = 1; // an ICMP error: the key is the quoted packet's tuple
export const K_UNTRACKED = 2; // ICMPv6 ND/MLD and router discovery: no session
export const K_INVALID = 3; // an ICMP type that neither starts nor joins a session

/** ICMPv4 query types that start a session, with their reply type. */
const ICMP4_REPLY_OF = new Int16Array(256).fill(-1);
ICMP4_REPLY_OF[8] = 0;
ICMP4_REPLY_OF[13] = 14;
ICMP4_REPLY_OF[15] = 16;
ICMP4_REPLY_OF[17] = 18;
const ICMP4_IS_REPLY = new Uint8Array(256);
ICMP4_IS_REPLY[0] = ICMP4_IS_REPLY[14] = ICMP4_IS_REPLY[16] = ICMP4_IS_REPLY[18] = 1;
const ICMP4_UNTRACKED = new Uint8Array(256);
ICMP4_UNTRACKED[9] = ICMP4_UNTRACKED[10] = 1; // router advertisement / solicitation

const ICMP6_REPLY_OF = new Int16Array(256).fill(-1);
ICMP6_REPLY_OF[128] = 129;
const ICMP6_IS_REPLY = new Uint8Array(256);
ICMP6_IS_REPLY[129] = 1;
const ICMP6_UNTRACKED = new Uint8Array(256);
for (const t of [130, 131, 132, 133, 134, 135, 136, 137, 141, 142, 143]) ICMP6_UNTRACKED[t] = 1;

export function isIcmp(proto: number): boolean {
  return proto === PROTO_ICMP || proto === PROTO_ICMPV6;
}

/** The reply type of an ICMP query type, or -1 when the type does not start a session. */
export function icmpReplyType(proto: number, type: number): number {
  return proto === PROTO_ICMP ? ICMP4_REPLY_OF[type & 255]! : ICMP6_REPLY_OF[type & 255]!;
}

export function icmpIsReply(proto: number, type: number): boolean {
  return (proto === PROTO_ICMP ? ICMP4_IS_REPLY[type & 255]! : ICMP6_IS_REPLY[type & 255]!) === 1;
}

/** Classifies an ICMP packet that is not an error. */
export function icmpKind(proto: number, type: number): number {
  const untracked = proto === PROTO_ICMP ? ICMP4_UNTRACKED[type & 255] : ICMP6_UNTRACKED[type & 255];
  if (untracked === 1) return K_UNTRACKED;
  if (icmpReplyType(proto, type) >= 0 || icmpIsReply(proto, type)) return K_NORMAL;
  return K_INVALID;
}

/** The ports word of a packet's own tuple. */
export function portsOf(pkt: Packet): number {
  const p = pkt.l4Proto;
  if (p === PROTO_TCP || p === PROTO_UDP) return ((pkt.srcPort << 16) | pkt.dstPort) >>> 0;
  if (isIcmp(p)) return ((pkt.icmpId << 16) | pkt.icmpType) >>> 0;
  return 0;
}

/** The ports word of the packet quoted inside an ICMP error. */
export function innerPortsOf(pkt: Packet): number {
  const p = pkt.innerL4Proto;
  if (p === PROTO_TCP || p === PROTO_UDP) return ((pkt.innerSrcPort << 16) | pkt.innerDstPort) >>> 0;
  if (isIcmp(p)) return ((pkt.innerIcmpId << 16) | pkt.innerIcmpType) >>> 0;
  return 0;
}

/** The ports word of the reply tuple for an original ports word (no NAT). */
export function replyPorts(proto: number, ports: number): number {
  if (isIcmp(proto)) {
    const reply = icmpReplyType(proto, ports & 0xffff);
    return ((ports & 0xffff0000) | (reply < 0 ? 0 : reply)) >>> 0;
  }
  return ((ports << 16) | (ports >>> 16)) >>> 0;
}
