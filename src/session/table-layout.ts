/**
 * The layout of the session table (table.ts): the words of a session's
 * 64-byte block, its flags, and the index entry format. Shared by the
 * table's two halves (table-index.ts: blocks and index; table.ts: fields,
 * insert and remove) and by NAT, which reads addresses in place.
 */
export const DIR_ORIG = 0;
export const DIR_REPLY = 1;

/** Session flags (the `flags` array). */
export const F_USED = 1;
export const F_V6 = 2;
export const F_SEEN_REPLY = 4;
export const F_ASSURED = 8;
export const F_DNAT = 16;
export const F_SNAT = 32;
/** Synced from a peer that owns it (src/ha): this node holds a copy and does not send its changes. */
export const F_PEER = 64;

/** Words of a session's block (stride 16 words = 64 bytes). */
export const STRIDE = 16;
export const W_ZP = 0; // (zone << 8) | protocol
export const W_FLAGS = 1; // flags | state << 8 | egress port orig << 16 | egress port reply << 24
export const W_PORTS = 2; // + dir: (srcPort << 16) | dstPort
export const W_ADDR = 4; // + dir * 2 + which (0 src, 1 dst): IPv4 address, or [4] = IPv6 slab slot
export const W_PKTS = 8; // + dir
export const W_BYTES = 10; // + dir (wraps at 2^32 like a u32 counter)
export const F_EXPIRES = 6; // Float64 index within the block's 8 doubles (words 12-13)
export const W_SERIAL = 14;
/** Where the expiry time is in `f64`: f64[id * EXPIRES_STRIDE + EXPIRES_OFFSET]. */
export const EXPIRES_STRIDE = STRIDE / 2;
export const EXPIRES_OFFSET = F_EXPIRES;
export const W_AUX = 15; // feature data (lb: the real server), or the free-list link of a free block

/** An empty index slot. */
export const EMPTY = -1;
/** An index entry: the (id << 1) | dir part (ids < 2^24) and the fingerprint part above it. */
export const ENTRY = 0x1ffffff;
export const FP_SHIFT = 25;
export const FP_MASK = 63 << FP_SHIFT;

/** Maps a 32-bit hash onto [0, n) without a division (Lemire's multiply-shift). */
export function slotOf(h: number, n: number): number {
  return Math.floor((h * n) / 4294967296);
}

/** The fingerprint part of an index entry: the hash's low bits (slotOf uses its high bits). */
export function fpOf(h: number): number {
  return (h & 63) << FP_SHIFT;
}
