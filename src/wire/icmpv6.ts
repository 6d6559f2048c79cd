/** ICMPv6 (RFC 4443) and the neighbour-discovery bits the device needs (RFC 4861). */
import { rd16, rdAddr6, wrAddr6 } from './bytes.js';
import { E_MALFORMED_ICMP, E_TRUNCATED_ICMP } from './errors.js';
import { fail } from './fail.js';
import { decodeQuoted, emitIcmp, ICMP_HEADER_LEN, type IcmpRepr } from './icmp.js';
import type { Packet } from './packet.js';

export const ICMP6_DEST_UNREACH = 1;
export const ICMP6_PACKET_TOO_BIG = 2;
export const ICMP6_TIME_EXCEEDED = 3;
export const ICMP6_PARAM_PROBLEM = 4;
export const ICMP6_ECHO_REQUEST = 128;
export const ICMP6_ECHO_REPLY = 129;
export const ICMP6_NS = 135;
export const ICMP6_NA = 136;
/** Target address offset in NS/NA. */
export const ND_TARGET = 8;
export const ND_MIN_LEN = 24;

export function isIcmp6Error(type: number): boolean {
  return type >= 1 && type <= 4;
}

/**
 * Decodes ICMPv6 at `off` (message ends at `end`). Bytes are captured up to
 * `cap` <= end (default end; less in a snapped frame), as for decodeIcmp;
 * NS/NA need their target address captured too.
 */
export function decodeIcmpv6(buf: Uint8Array, off: number, end: number, p: Packet, cap = end): number {
  if (off + ICMP_HEADER_LEN > cap) return fail(p, E_TRUNCATED_ICMP, off);
  const type = buf[off]!;
  p.icmpType = type;
  p.icmpCode = buf[off + 1]!;
  p.payloadOff = off + ICMP_HEADER_LEN;
  p.payloadLen = end - off - ICMP_HEADER_LEN;
  if (type === ICMP6_ECHO_REQUEST || type === ICMP6_ECHO_REPLY) {
    p.icmpId = rd16(buf, off + 4);
    p.icmpSeq = rd16(buf, off + 6);
  } else if (type === ICMP6_NS || type === ICMP6_NA) {
    if (off + ND_MIN_LEN > cap) return fail(p, E_TRUNCATED_ICMP, off + ND_TARGET);
    rdAddr6(buf, off + ND_TARGET, p.ndTarget);
  } else if (isIcmp6Error(type)) {
    p.icmpIsError = true;
    return decodeQuoted(
      buf,
      off + ICMP_HEADER_LEN,
      cap,
      true,
      p,
      cap < end ? E_TRUNCATED_ICMP : E_MALFORMED_ICMP,
    );
  }
  return 0;
}

/** Writes the 8-byte ICMPv6 header (same layout as ICMPv4; checksum 0, see fillL4Checksum). */
export function emitIcmpv6(buf: Uint8Array, off: number, r: IcmpRepr): number {
  return emitIcmp(buf, off, r);
}

/** Writes an NS/NA body: header, then the target address (flags for NA in `flags`, R/S/O in the top bits). */
export function emitNd(buf: Uint8Array, off: number, type: number, target: Uint32Array, flags = 0): number {
  emitIcmp(buf, off, { type, code: 0, rest: flags >>> 0 });
  wrAddr6(buf, off + ND_TARGET, target);
  return ND_MIN_LEN;
}
