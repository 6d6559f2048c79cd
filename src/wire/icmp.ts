/** ICMPv4 (RFC 792): header view, decode (incl. the datagram quoted by errors), emit. */
import { rd16, rd32, rdAddr6, setAddr4, wr16, wr32 } from './bytes.js';
import { E_MALFORMED_ICMP, E_TRUNCATED_ICMP } from './errors.js';
import { fail } from './fail.js';
import { PROTO_ICMP, PROTO_ICMPV6, PROTO_TCP, PROTO_UDP, type Packet } from './packet.js';

export const ICMP_HEADER_LEN = 8;
export const ICMP_TYPE = 0;
export const ICMP_CODE = 1;
export const ICMP_CHECKSUM = 2;
export const ICMP_ID = 4;
export const ICMP_SEQ = 6;
/** Bytes 4..7 of an error (unused / MTU / pointer) and the quoted datagram after them. */
export const ICMP_REST = 4;
export const ICMP_QUOTE = 8;

export const ICMP_ECHO_REPLY = 0;
export const ICMP_DEST_UNREACH = 3;
export const ICMP_SOURCE_QUENCH = 4;
export const ICMP_REDIRECT = 5;
export const ICMP_ECHO_REQUEST = 8;
export const ICMP_TIME_EXCEEDED = 11;
export const ICMP_PARAM_PROBLEM = 12;
export const ICMP_TIMESTAMP = 13;
export const ICMP_TIMESTAMP_REPLY = 14;
/** Codes of destination unreachable used by the device. */
export const ICMP_UNREACH_NET = 0;
export const ICMP_UNREACH_HOST = 1;
export const ICMP_UNREACH_PROTO = 2;
export const ICMP_UNREACH_PORT = 3;
export const ICMP_UNREACH_NEEDFRAG = 4;
export const ICMP_UNREACH_ADMIN = 13;

export function isIcmpError(type: number): boolean {
  return type === 3 || type === 4 || type === 5 || type === 11 || type === 12;
}

function isEcho(type: number): boolean {
  return type === 0 || type === 8 || type === 13 || type === 14 || type === 128 || type === 129;
}

/** Fills the inner L4 fields from the first bytes of the quoted upper layer. */
function quotedL4(buf: Uint8Array, o: number, avail: number, proto: number, p: Packet): void {
  p.innerL4Off = o;
  if ((proto === PROTO_TCP || proto === PROTO_UDP) && avail >= 4) {
    p.innerSrcPort = rd16(buf, o);
    p.innerDstPort = rd16(buf, o + 2);
  } else if ((proto === PROTO_ICMP || proto === PROTO_ICMPV6) && avail >= 8) {
    p.innerIcmpType = buf[o]!;
    if (isEcho(buf[o]!)) p.innerIcmpId = rd16(buf, o + ICMP_ID);
  }
}

/**
 * Decodes the datagram quoted by an ICMP/ICMPv6 error at [q, end). The
 * quote may be cut short; only the IP header and the first 8 bytes of its
 * upper layer (or fewer, when the original datagram was that small) are required.
 * `short` is the error for required bytes missing before `end`: E_MALFORMED_ICMP
 * (the quote itself is short), or E_TRUNCATED_ICMP when `end` is where a snapped
 * capture cut the message.
 */
export function decodeQuoted(
  buf: Uint8Array,
  q: number,
  end: number,
  v6: boolean,
  p: Packet,
  short = E_MALFORMED_ICMP,
): number {
  p.innerL3Off = q;
  if (!v6) {
    if (q + 20 > end) return fail(p, short, q);
    if (buf[q]! >> 4 !== 4) return fail(p, E_MALFORMED_ICMP, q);
    const hlen = (buf[q]! & 0x0f) << 2;
    const total = rd16(buf, q + 2);
    if (hlen < 20 || total < hlen) return fail(p, E_MALFORMED_ICMP, q);
    if (q + hlen > end) return fail(p, short, q);
    p.innerIpVersion = 4;
    p.innerL4Proto = buf[q + 9]!;
    setAddr4(p.innerSrc, rd32(buf, q + 12));
    setAddr4(p.innerDst, rd32(buf, q + 16));
    if ((rd16(buf, q + 6) & 0x1fff) !== 0) return 0;
    const need = total - hlen < 8 ? total - hlen : 8;
    const avail = end - q - hlen;
    if (avail < need) return fail(p, short, q + hlen);
    quotedL4(buf, q + hlen, avail, p.innerL4Proto, p);
    return 0;
  }
  if (q + 40 > end) return fail(p, short, q);
  if (buf[q]! >> 4 !== 6) return fail(p, E_MALFORMED_ICMP, q);
  p.innerIpVersion = 6;
  rdAddr6(buf, q + 8, p.innerSrc);
  rdAddr6(buf, q + 24, p.innerDst);
  const ipEnd = q + 40 + rd16(buf, q + 4);
  let nh = buf[q + 6]!;
  let o = q + 40;
  for (let n = 0; ; n++) {
    if (nh !== 0 && nh !== 43 && nh !== 60 && nh !== 51 && nh !== 44) break;
    if (n >= 8) return fail(p, E_MALFORMED_ICMP, o);
    if (o + 8 > end) return fail(p, short, o);
    if (nh === 44) {
      if ((rd16(buf, o + 2) & 0xfff8) !== 0) {
        p.innerL4Proto = buf[o]!;
        return 0;
      }
      nh = buf[o]!;
      o += 8;
      continue;
    }
    const len = nh === 51 ? (buf[o + 1]! + 2) << 2 : (buf[o + 1]! + 1) << 3;
    nh = buf[o]!;
    o += len;
  }
  p.innerL4Proto = nh;
  const left = ipEnd - o;
  const need = left < 8 ? (left < 0 ? 0 : left) : 8;
  const avail = end - o;
  if (avail < need || o > end) return fail(p, short, o);
  quotedL4(buf, o, avail, nh, p);
  return 0;
}

/**
 * Decodes ICMPv4 at `off` (message ends at `end`). Bytes are captured up to
 * `cap` <= end (default end; less in a snapped frame): the 8-byte header must
 * be captured, and for an error the quoted IP header and 8 bytes of its upper
 * layer (E_TRUNCATED_ICMP when the snaplen cut them). payloadLen is from `end`.
 */
export function decodeIcmp(buf: Uint8Array, off: number, end: number, p: Packet, cap = end): number {
  if (off + ICMP_HEADER_LEN > cap) return fail(p, E_TRUNCATED_ICMP, off);
  const type = buf[off]!;
  p.icmpType = type;
  p.icmpCode = buf[off + ICMP_CODE]!;
  p.payloadOff = off + ICMP_HEADER_LEN;
  p.payloadLen = end - off - ICMP_HEADER_LEN;
  if (isEcho(type)) {
    p.icmpId = rd16(buf, off + ICMP_ID);
    p.icmpSeq = rd16(buf, off + ICMP_SEQ);
  } else if (isIcmpError(type)) {
    p.icmpIsError = true;
    return decodeQuoted(
      buf,
      off + ICMP_QUOTE,
      cap,
      false,
      p,
      cap < end ? E_TRUNCATED_ICMP : E_MALFORMED_ICMP,
    );
  }
  return 0;
}

export interface IcmpRepr {
  type: number;
  code: number;
  /** Echo identifier / sequence (written at bytes 4..7). */
  id?: number;
  seq?: number;
  /** Bytes 4..7 as one number for errors (e.g. next-hop MTU for "frag needed", pointer for param problem). */
  rest?: number;
}

/** Writes the 8-byte ICMP header (checksum 0: see fillL4Checksum). The body follows at off+8. */
export function emitIcmp(buf: Uint8Array, off: number, r: IcmpRepr): number {
  buf[off] = r.type;
  buf[off + ICMP_CODE] = r.code;
  wr16(buf, off + ICMP_CHECKSUM, 0);
  if (r.rest !== undefined) wr32(buf, off + ICMP_REST, r.rest);
  else {
    wr16(buf, off + ICMP_ID, r.id ?? 0);
    wr16(buf, off + ICMP_SEQ, r.seq ?? 0);
  }
  return ICMP_HEADER_LEN;
}
