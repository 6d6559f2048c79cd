/** ARP (RFC 826). Decodes IPv4-over-Ethernet fully; other shapes only as far as is safe. */
import { rd16, rd32, wr16, wr32 } from './bytes.js';
import { E_MALFORMED_ARP } from './errors.js';
import { fail } from './fail.js';
import { ETH_IPV4, type Packet } from './packet.js';

export const ARP_HTYPE = 0;
export const ARP_PTYPE = 2;
export const ARP_HLEN = 4;
export const ARP_PLEN = 5;
export const ARP_OP = 6;
export const ARP_SHA = 8;
/** Fixed part before the addresses. */
export const ARP_FIXED_LEN = 8;
/** Length of an IPv4-over-Ethernet ARP packet. */
export const ARP_ETH_IPV4_LEN = 28;
export const ARP_SPA = 14;
export const ARP_THA = 18;
export const ARP_TPA = 24;
export const ARP_HW_ETHERNET = 1;
export const ARP_HW_IEEE802 = 6;
export const ARP_REQUEST = 1;
export const ARP_REPLY = 2;

/**
 * Decodes ARP at `off`. Sets arpOp when the fixed part is present, and
 * arpSpa/arpTpa when the protocol is IPv4 (plen 4) and all addresses fit.
 * E_MALFORMED_ARP when the fixed part is cut, the addresses run past the
 * frame, the protocol is not IPv4/4 bytes, or the hardware address is not
 * 6 bytes (a MAC): such a packet is of no use to an Ethernet device.
 */
export function decodeArp(buf: Uint8Array, off: number, end: number, p: Packet): number {
  if (off + ARP_FIXED_LEN > end) return fail(p, E_MALFORMED_ARP, off);
  p.arpOp = rd16(buf, off + ARP_OP);
  const hlen = buf[off + ARP_HLEN]!;
  const plen = buf[off + ARP_PLEN]!;
  if (off + ARP_FIXED_LEN + 2 * hlen + 2 * plen > end) return fail(p, E_MALFORMED_ARP, off + ARP_HLEN);
  if (rd16(buf, off + ARP_PTYPE) !== ETH_IPV4 || plen !== 4) return fail(p, E_MALFORMED_ARP, off + ARP_PTYPE);
  p.arpSpa = rd32(buf, off + ARP_FIXED_LEN + hlen);
  p.arpTpa = rd32(buf, off + ARP_FIXED_LEN + 2 * hlen + 4);
  if (hlen !== 6) return fail(p, E_MALFORMED_ARP, off + ARP_HLEN);
  return 0;
}

/** Sender / target hardware address offsets for an Ethernet ARP at `off`. */
export function arpShaOff(off: number): number {
  return off + ARP_SHA;
}
export function arpThaOff(off: number): number {
  return off + ARP_THA;
}

export interface ArpRepr {
  op: number;
  sha: Uint8Array;
  spa: number;
  tha: Uint8Array;
  tpa: number;
}

/** Writes an IPv4-over-Ethernet ARP packet (28 bytes). */
export function emitArp(buf: Uint8Array, off: number, r: ArpRepr): number {
  wr16(buf, off + ARP_HTYPE, ARP_HW_ETHERNET);
  wr16(buf, off + ARP_PTYPE, ETH_IPV4);
  buf[off + ARP_HLEN] = 6;
  buf[off + ARP_PLEN] = 4;
  wr16(buf, off + ARP_OP, r.op);
  for (let i = 0; i < 6; i++) {
    buf[off + ARP_SHA + i] = r.sha[i]!;
    buf[off + ARP_THA + i] = r.tha[i]!;
  }
  wr32(buf, off + ARP_SPA, r.spa);
  wr32(buf, off + ARP_TPA, r.tpa);
  return ARP_ETH_IPV4_LEN;
}
