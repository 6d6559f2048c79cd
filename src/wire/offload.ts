/**
 * Offloaded frames: the metadata a TAP with IFF_VNET_HDR puts before each
 * frame (struct virtio_net_hdr), and what the device does with it in software.
 *
 * The kernel hands such a TAP two kinds of unfinished frames (TUNSETOFFLOAD):
 *  - checksum partial (NEEDS_CSUM): the TCP/UDP checksum field holds only the
 *    folded pseudo-header sum, not complemented; whoever sends the frame on
 *    sums the bytes from csum_start and stores the result at csum_offset;
 *  - GSO (TCPV4/TCPV6): one TCP segment of up to 64 KiB that stands for
 *    several of gso_size payload bytes each, to be cut when it leaves.
 * The device forwards both as they are to a TAP that takes offloads (the
 * kernel finishes them there) and finishes them here otherwise.
 *
 * Packed forms kept per frame (no object per frame): `vnet` = flags |
 * gsoType << 8 | gsoSize << 16, `csum` = csumStart | csumOffset << 16.
 */
import { copyBytes, rd16, rd32, wr16, wr32 } from './bytes.js';
import { fold, onesSum, pseudoSum } from './checksum.js';
import { PROTO_TCP, PROTO_UDP, type Packet } from './packet.js';

/** sizeof(struct virtio_net_hdr) without num_buffers (TUNSETVNETHDRSZ's default). */
export const VNET_HDR_LEN = 10;
export const VNET_F_NEEDS_CSUM = 1;
export const VNET_F_DATA_VALID = 2;
export const GSO_NONE = 0;
export const GSO_TCPV4 = 1;
export const GSO_UDP = 3;
export const GSO_TCPV6 = 4;
export const GSO_ECN = 0x80;

/** TUNSETOFFLOAD flags. */
export const TUN_F_CSUM = 1;
export const TUN_F_TSO4 = 2;
export const TUN_F_TSO6 = 4;
export const TUN_F_TSO_ECN = 8;

/** The packed vnet word of a header at buf[off] (little-endian fields, as on x86 and arm64). */
export function readVnet(buf: Uint8Array, off: number): number {
  const gsoSize = buf[off + 4]! | (buf[off + 5]! << 8);
  return (buf[off]! | (buf[off + 1]! << 8) | (gsoSize << 16)) >>> 0;
}

/** The packed csum word (csum_start | csum_offset << 16) of a header at buf[off]. */
export function readVnetCsum(buf: Uint8Array, off: number): number {
  const start = buf[off + 6]! | (buf[off + 7]! << 8);
  const at = buf[off + 8]! | (buf[off + 9]! << 8);
  return (start | (at << 16)) >>> 0;
}

/** Writes a virtio_net_hdr: flags and gso type from `vnet`, hdr_len, csum_start and offset. */
export function writeVnet(
  buf: Uint8Array,
  off: number,
  vnet: number,
  hdrLen: number,
  csumStart: number,
  csumOffset: number,
): void {
  buf[off] = vnet & 0xff;
  buf[off + 1] = (vnet >>> 8) & 0xff;
  buf[off + 2] = hdrLen & 0xff;
  buf[off + 3] = hdrLen >>> 8;
  buf[off + 4] = (vnet >>> 16) & 0xff;
  buf[off + 5] = vnet >>> 24;
  buf[off + 6] = csumStart & 0xff;
  buf[off + 7] = csumStart >>> 8;
  buf[off + 8] = csumOffset & 0xff;
  buf[off + 9] = csumOffset >>> 8;
}

export const vnetFlags = (vnet: number): number => vnet & 0xff;
export const vnetGsoType = (vnet: number): number => (vnet >>> 8) & 0xff;
export const vnetGsoSize = (vnet: number): number => vnet >>> 16;

/** Offset of the transport checksum field a partial checksum of `p` uses, or -1. */
function partialField(p: Packet): number {
  if (p.l4Proto === PROTO_TCP) return p.l4Off + 16;
  if (p.l4Proto === PROTO_UDP) return p.l4Off + 6;
  return -1;
}

/**
 * Whether the device can keep `p`'s offloads as they are: a partial checksum
 * at the TCP/UDP checksum of the packet's own transport header, and GSO only
 * for TCP of the matching IP version with a sane segment size. Anything
 * else is finished at once (finishChecksum) or refused by the caller.
 */
export function offloadUsable(p: Packet, frameOff: number, vnet: number, csum: number): boolean {
  const gso = vnetGsoType(vnet) & ~GSO_ECN;
  if (gso !== GSO_NONE) {
    const want = p.ipVersion === 4 ? GSO_TCPV4 : GSO_TCPV6;
    if (gso !== want || p.l4Proto !== PROTO_TCP || p.isFragment) return false;
    const size = vnetGsoSize(vnet);
    if (size < 8 || (vnetFlags(vnet) & VNET_F_NEEDS_CSUM) === 0) return false;
  }
  if ((vnetFlags(vnet) & VNET_F_NEEDS_CSUM) === 0) return true;
  const at = partialField(p);
  return (
    at >= 0 &&
    !p.isFragment &&
    frameOff + (csum & 0xffff) === p.l4Off &&
    frameOff + (csum & 0xffff) + (csum >>> 16) === at
  );
}

/**
 * Completes a partial checksum: the sum of buf[start, end) (whose field at
 * `at` holds the pseudo-header sum) stored complemented at `at`. `udp`: a
 * result of 0 is sent as 0xffff.
 */
export function finishChecksum(buf: Uint8Array, start: number, end: number, at: number, udp: boolean): void {
  let ck = ~fold(onesSum(buf, start, end - start)) & 0xffff;
  if (udp && ck === 0) ck = 0xffff;
  wr16(buf, at, ck);
}

/**
 * Before an incremental NAT update of a packet whose checksum is partial:
 * makes the field look like an ordinary checksum over the pseudo-header and
 * the ports (~(pseudo + sport + dport)), so RFC 1624 updates of addresses and
 * ports both apply. partialLeave takes the new ports out again: the sender
 * sums them with the rest of the segment.
 */
export function partialEnter(p: Packet): void {
  const at = partialField(p);
  if (at < 0) return;
  const b = p.buf;
  let x = ~fold(rd16(b, at) + rd16(b, p.l4Off) + rd16(b, p.l4Off + 2)) & 0xffff;
  // 0 and 0xffff are both zero in one's complement; UDP's update code reads 0 as "no checksum".
  if (x === 0) x = 0xffff;
  wr16(b, at, x);
}

/** After the NAT update: back to the partial form (pseudo-header sum only). */
export function partialLeave(p: Packet): void {
  const at = partialField(p);
  if (at < 0) return;
  const b = p.buf;
  const s = ~rd16(b, at) & 0xffff;
  wr16(b, at, fold(s + (~rd16(b, p.l4Off) & 0xffff) + (~rd16(b, p.l4Off + 2) & 0xffff)));
}

/** Finishes `p`'s partial TCP/UDP checksum in place (the frame then needs no offload). */
export function finishPartial(p: Packet): void {
  const at = partialField(p);
  if (at >= 0) finishChecksum(p.buf, p.l4Off, p.ipEnd, at, p.l4Proto === PROTO_UDP);
}

/**
 * Cuts a GSO TCP frame (decoded as `p`, frame at buf[off, off + len)) into
 * segments of at most `mss` payload bytes, each a whole frame with its own
 * IP length (IPv4: identifier + k and header checksum), sequence number,
 * flags (CWR on the first only, FIN and PSH on the last only) and a full
 * TCP checksum. Each segment is built in `out` and handed to `emit`.
 * Returns the number of segments.
 */
export function segmentTcp(
  p: Packet,
  off: number,
  mss: number,
  out: Uint8Array,
  emit: (buf: Uint8Array, off: number, len: number) => void,
): number {
  const b = p.buf;
  const hdr = p.l4Off + p.tcpHeaderLen - off;
  const l3 = p.l3Off - off;
  const l4 = p.l4Off - off;
  const total = p.ipEnd - p.l4Off - p.tcpHeaderLen;
  if (total <= 0 || mss <= 0) {
    if (p.ipEnd - off > 0) {
      finishPartial(p);
      emit(b, off, p.ipEnd - off);
    }
    return 1;
  }
  const v4 = p.ipVersion === 4;
  const id0 = v4 ? rd16(b, p.l3Off + 4) : 0;
  const seq0 = rd32(b, p.l4Off + 4);
  const flags = b[p.l4Off + 13]!;
  let n = 0;
  for (let done = 0; done < total; done += mss, n++) {
    const chunk = total - done < mss ? total - done : mss;
    copyBytes(b, off, out, 0, hdr);
    copyBytes(b, off + hdr + done, out, hdr, chunk);
    const l4len = hdr - l4 + chunk;
    if (v4) {
      wr16(out, l3 + 2, l4 - l3 + l4len);
      wr16(out, l3 + 4, (id0 + n) & 0xffff);
      wr16(out, l3 + 10, 0);
      wr16(out, l3 + 10, ~fold(onesSum(out, l3, l4 - l3)) & 0xffff);
    } else {
      wr16(out, l3 + 4, l4 - l3 - 40 + l4len);
    }
    wr32(out, l4 + 4, (seq0 + done) >>> 0);
    const last = done + chunk >= total;
    // FIN and PSH end the data, CWR is said once.
    out[l4 + 13] = flags & (last ? 0xff : ~0x09) & (n === 0 ? 0xff : ~0x80);
    wr16(out, l4 + 16, 0);
    const ps = pseudoSum(p, PROTO_TCP, l4len);
    wr16(out, l4 + 16, ~fold(onesSum(out, l4, l4len, ps)) & 0xffff);
    emit(out, 0, hdr + chunk);
  }
  return n;
}
