/** The sync node's counters and its per-peer state (sync.ts). */
import { BulkPurge, BulkSender } from './bulk.js';
import type { PeerChannel } from './channel.js';

export class SyncStats {
  inserts = 0;
  updates = 0;
  deletes = 0;
  /** Records sent, counted once per peer. */
  recordsSent = 0;
  recordsReceived = 0;
  bulksStarted = 0;
  bulksSent = 0;
  bulksReceived = 0;
  bulkRequestsSent = 0;
  bulkRequestsReceived = 0;
  /** Bulks started because messages to a peer were given up. */
  resyncs = 0;
  peerRestarts = 0;
  peersDown = 0;
}

export class PeerState {
  readonly bulk = new BulkSender();
  readonly purge = new BulkPurge();
  /** A received BULK_END waiting for everything before it: its unwrapped seq (-1: none). */
  endAbs = -1;
  endFrom = 0;
  endAuthoritative = false;
  lastBulkRequest = -Infinity;
  constructor(readonly ch: PeerChannel) {}
}
