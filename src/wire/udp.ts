/** UDP (RFC 768): header view, decode, emit. */
import { rd16, wr16 } from './bytes.js';
import { E_MALFORMED_UDP, E_TRUNCATED_UDP } from './errors.js';
import { fail } from './fail.js';
import type { Packet } from './packet.js';

export const UDP_HEADER_LEN = 8;
export const UDP_SRC_PORT = 0;
export const UDP_DST_PORT = 2;
export const UDP_LENGTH = 4;
export const UDP_CHECKSUM = 6;

export function udpLength(buf: Uint8Array, off: number): number {
  return rd16(buf, off + UDP_LENGTH);
}

/**
 * Decodes UDP at `off` (datagram ends at `end`). For the first fragment of a
 * fragmented datagram the length may exceed what this fragment holds.
 * Bytes are captured up to `cap` <= end (default end; less in a snapped
 * frame): the 8-byte header must be captured, the length is checked against `end`.
 */
export function decodeUdp(buf: Uint8Array, off: number, end: number, p: Packet, cap = end): number {
  if (off + UDP_HEADER_LEN > cap) return fail(p, E_TRUNCATED_UDP, off);
  p.srcPort = rd16(buf, off);
  p.dstPort = rd16(buf, off + UDP_DST_PORT);
  const len = rd16(buf, off + UDP_LENGTH);
  if (len < UDP_HEADER_LEN) return fail(p, E_MALFORMED_UDP, off + UDP_LENGTH);
  p.payloadOff = off + UDP_HEADER_LEN;
  if (off + len > end) {
    if (!p.isFragment) return fail(p, E_MALFORMED_UDP, off + UDP_LENGTH);
    p.payloadLen = end - off - UDP_HEADER_LEN;
  } else {
    p.payloadLen = len - UDP_HEADER_LEN;
  }
  return 0;
}

export interface UdpRepr {
  srcPort: number;
  dstPort: number;
  /** Payload bytes after the header. */
  payloadLen: number;
}

/** Writes the UDP header (checksum left 0: see fillL4Checksum). */
export function emitUdp(buf: Uint8Array, off: number, r: UdpRepr): number {
  wr16(buf, off, r.srcPort);
  wr16(buf, off + UDP_DST_PORT, r.dstPort);
  wr16(buf, off + UDP_LENGTH, UDP_HEADER_LEN + r.payloadLen);
  wr16(buf, off + UDP_CHECKSUM, 0);
  return UDP_HEADER_LEN;
}
