/**
 * Ethernet II with 802.1Q / 802.1ad tags, and the Linux cooked headers
 * (SLL, SLL2) that stand in for it in captures.
 */
import { rd16, wr16 } from './bytes.js';
import { E_TRUNCATED_FRAME, E_TRUNCATED_VLAN } from './errors.js';
import { fail } from './fail.js';
import { ETH_QINQ, ETH_VLAN, type Packet } from './packet.js';

export const ETH_HEADER_LEN = 14;
export const ETH_DST = 0;
export const ETH_SRC = 6;
export const ETH_TYPE = 12;
export const VLAN_TAG_LEN = 4;
/** Old QinQ TPID some switches still use. */
export const ETH_QINQ_OLD = 0x9100;

export const SLL_HEADER_LEN = 16;
export const SLL_PROTOCOL = 14;
export const SLL2_HEADER_LEN = 20;
export const SLL2_PROTOCOL = 0;

export function isVlanTpid(t: number): boolean {
  return t === ETH_VLAN || t === ETH_QINQ || t === ETH_QINQ_OLD;
}

/** Walks VLAN tags starting at `off` where `type` is the EtherType just read; returns the L3 offset or -1. */
function walkTags(buf: Uint8Array, off: number, end: number, type: number, p: Packet): number {
  while (isVlanTpid(type)) {
    if (off + VLAN_TAG_LEN > end) {
      fail(p, E_TRUNCATED_VLAN, off);
      return -1;
    }
    const vid = rd16(buf, off) & 0x0fff;
    if (p.vlanCount === 0) p.vlanOuter = vid;
    else if (p.vlanCount === 1) p.vlanInner = vid;
    p.vlanCount++;
    type = rd16(buf, off + 2);
    off += VLAN_TAG_LEN;
  }
  p.etherType = type;
  return off;
}

/** Decodes the Ethernet header at `off`; returns the L3 offset, or -1 after recording an error. */
export function decodeEthernet(buf: Uint8Array, off: number, end: number, p: Packet): number {
  if (off + ETH_HEADER_LEN > end) {
    fail(p, E_TRUNCATED_FRAME, off);
    return -1;
  }
  p.ethOff = off;
  return walkTags(buf, off + ETH_HEADER_LEN, end, rd16(buf, off + ETH_TYPE), p);
}

/** Linux cooked v1 (LINKTYPE_LINUX_SLL): 16-byte header, protocol at 14. */
export function decodeSll(buf: Uint8Array, off: number, end: number, p: Packet): number {
  if (off + SLL_HEADER_LEN > end) {
    fail(p, E_TRUNCATED_FRAME, off);
    return -1;
  }
  return walkTags(buf, off + SLL_HEADER_LEN, end, rd16(buf, off + SLL_PROTOCOL), p);
}

/** Linux cooked v2 (LINKTYPE_LINUX_SLL2): 20-byte header, protocol at 0. */
export function decodeSll2(buf: Uint8Array, off: number, end: number, p: Packet): number {
  if (off + SLL2_HEADER_LEN > end) {
    fail(p, E_TRUNCATED_FRAME, off);
    return -1;
  }
  return walkTags(buf, off + SLL2_HEADER_LEN, end, rd16(buf, off + SLL2_PROTOCOL), p);
}

// ---- field accessors (views over a frame at `off`) ----
export function ethType(buf: Uint8Array, off: number): number {
  return rd16(buf, off + ETH_TYPE);
}

/** Copies the destination / source MAC into `out` (6 bytes at outOff). */
export function copyMac(buf: Uint8Array, off: number, out: Uint8Array, outOff = 0): void {
  for (let i = 0; i < 6; i++) out[outOff + i] = buf[off + i]!;
}

export interface VlanTag {
  /** Tag protocol identifier: 0x8100 (802.1Q) or 0x88a8 (802.1ad S-tag). */
  tpid: number;
  vid: number;
  pcp?: number;
  dei?: boolean;
}

export interface EthernetRepr {
  dst: Uint8Array;
  src: Uint8Array;
  /** EtherType of the payload (after the tags). */
  etherType: number;
  /** Tags, outermost first. */
  vlans?: VlanTag[];
}

export function ethernetHeaderLen(r: EthernetRepr): number {
  return ETH_HEADER_LEN + VLAN_TAG_LEN * (r.vlans?.length ?? 0);
}

/** Writes the Ethernet header (and tags) at `off`; returns bytes written. */
export function emitEthernet(buf: Uint8Array, off: number, r: EthernetRepr): number {
  for (let i = 0; i < 6; i++) {
    buf[off + ETH_DST + i] = r.dst[i]!;
    buf[off + ETH_SRC + i] = r.src[i]!;
  }
  let o = off + ETH_TYPE;
  for (const t of r.vlans ?? []) {
    wr16(buf, o, t.tpid);
    wr16(buf, o + 2, ((t.pcp ?? 0) << 13) | (t.dei ? 0x1000 : 0) | (t.vid & 0x0fff));
    o += VLAN_TAG_LEN;
  }
  wr16(buf, o, r.etherType);
  return o + 2 - off;
}
