/** Neighbour cache states, results, options and counters (src/l3/neighbours.ts). */
export const NEIGH_FREE = 0;
export const NEIGH_INCOMPLETE = 1;
export const NEIGH_REACHABLE = 2;
export const NEIGH_STALE = 3;

/** resolve(): unresolved, a request is already out: queue the packet. */
export const NEIGH_PENDING = -1;
/** resolve(): unresolved, entry just created: queue the packet and send the first request now. */
export const NEIGH_NEW = -2;

export interface NeighbourOptions {
  capacity?: number;
  reachableMs?: number;
  retransMs?: number;
  delayMs?: number;
  maxProbes?: number;
  queuePerEntry?: number;
  queueBytes?: number;
  slotBytes?: number;
}

export interface NeighbourStats {
  created: number;
  learned: number;
  failed: number;
  evicted: number;
  queued: number;
  released: number;
  /** Queued frames dropped: queue overflow, failed or evicted entries, no slot, too big. */
  queueDropped: number;
}
