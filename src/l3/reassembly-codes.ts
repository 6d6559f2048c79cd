/**
 * Result codes, drop reasons and configuration of IP fragment reassembly
 * (src/l3/reassembly.ts). A closed list, like the decoder's errors: the device
 * turns each drop code into a drop reason of the same name.
 */

/** The fragment was stored; the datagram is not complete yet. */
export const FRAG_HELD = 0;
/** The fragment completed its datagram: read `datagram` and the fragment frames. */
export const FRAG_COMPLETE = 1;
/**
 * An exact retransmission (same offset, length and bytes as a held fragment):
 * this copy is dropped, the datagram carries on.
 */
export const FRAG_DUPLICATE = 2;
/** Fragments overlap (RFC 5722, for IPv4 as well): the whole datagram is dropped. */
export const FRAG_OVERLAP = 3;
/** Reassembled datagram would exceed 65535 bytes (or the per-datagram frame budget). */
export const FRAG_OVERSIZE = 4;
/** More than maxFragmentsPerDatagram fragments. */
export const FRAG_TOO_MANY = 5;
/** Limits hit: the oldest partial datagram was evicted, or this one cannot fit at all. */
export const FRAG_NO_MEMORY = 6;
/** A partial datagram was older than timeoutMs (only counted; add() never returns it). */
export const FRAG_TIMEOUT = 7;
/**
 * Non-last fragment whose length is not a multiple of 8, zero-length fragment,
 * a second "last" fragment with another end, data beyond the known end, a
 * fragment that is not an IP fragment at all.
 */
export const FRAG_MALFORMED = 8;
/**
 * Tiny fragments (RFC 1858, RFC 7112): a first fragment that does not hold the
 * whole upper-layer header (IPv6: the whole header chain), or a non-last
 * fragment smaller than minFragmentSize.
 */
export const FRAG_TINY = 9;

export const FRAG_CODE_NAMES = [
  'frag-held',
  'frag-complete',
  'frag-duplicate',
  'frag-overlap',
  'frag-oversize',
  'frag-too-many',
  'frag-no-memory',
  'frag-timeout',
  'frag-malformed',
  'frag-tiny',
] as const;

export type FragCodeName = (typeof FRAG_CODE_NAMES)[number];
export type FragDropName = Exclude<FragCodeName, 'frag-held' | 'frag-complete'>;

/** The name of a result code (drop codes are drop reasons: 'frag-overlap', ...). */
export function fragDropName(code: number): string {
  return code >= 0 && code < FRAG_CODE_NAMES.length ? FRAG_CODE_NAMES[code] : 'frag-unknown';
}

export interface ReassemblyConfig {
  /** Concurrent partial datagrams (Linux has no count limit; pf: `set limit frags`). Default 1024. */
  maxDatagrams: number;
  /**
   * Total bytes of held fragment frames, default 4 MiB (Linux ipfrag_high_thresh).
   * Frames are held in 256-byte blocks and charged by the block, so what is
   * counted is what is really used.
   */
  maxBytes: number;
  /** Age of a partial datagram (from its first fragment) before it is dropped. Default 30000 (ipfrag_time). */
  timeoutMs: number;
  /** Fragments per datagram, default 64 (pf's PF_FRAG_ENTRY_LIMIT order of magnitude). */
  maxFragmentsPerDatagram: number;
  /**
   * Non-last fragments carrying fewer payload bytes than this are dropped with
   * 'frag-tiny' (with the datagram they belong to). Default 8: the smallest
   * legal non-last fragment, so no legitimate traffic is refused by default.
   * The tiny-fragment attacks this guards against (RFC 1858) are already
   * defeated by the overlap rule and the first-fragment-holds-the-L4-header
   * rule; raise it (e.g. 64, Zeek's "excessively small" mark, or 1232 for
   * IPv6-only links) to refuse floods of tiny fragments early.
   */
  minFragmentSize?: number;
  /** Seed of the key hash (inject a random one on a live device against hash flooding). Default fixed. */
  hashSeed?: number;
}

export const DEFAULT_REASSEMBLY_CONFIG: Readonly<Required<ReassemblyConfig>> = {
  maxDatagrams: 1024,
  maxBytes: 4 * 1024 * 1024,
  timeoutMs: 30000,
  maxFragmentsPerDatagram: 64,
  minFragmentSize: 8,
  hashSeed: 0x5eed,
};

/** Counters; the object and its `dropped` record are allocated once and updated in place. */
export interface ReassemblyStats {
  /** Partial datagrams held now. */
  held: number;
  /** Fragment frames held now. */
  heldFragments: number;
  /** Pool bytes in use now (block-rounded); never above maxBytes. */
  heldBytes: number;
  /** Datagrams reassembled (including atomic fragments). */
  completed: number;
  /** IPv6 atomic fragments (offset 0, M = 0; RFC 6946) passed through on their own. */
  atomic: number;
  /** Drop events by reason: a datagram dropped, or a lone fragment refused. */
  dropped: Record<FragDropName, number>;
  /** Fragment frames discarded in all (previously held ones plus refused ones). */
  droppedFragments: number;
}
