/**
 * Bulk transfer: every session a peer should have (all this node holds,
 * whoever owns them), streamed in as many session messages as it takes
 * between BULK_START and BULK_END markers. Resumable and paced: each call
 * visits at most `budget` table slots, and stops when the body is full so
 * the caller can send it (and stop while the peer's ring is busy), so a table
 * of a million sessions never blocks the event loop.
 *
 * After an authoritative bulk (the sender's table is complete for the
 * sessions it owns), the receiver purges that sender's sessions the bulk did
 * not refresh: deletes it missed while messages were given up. The purge
 * walks the table in budgeted steps as well.
 */
import { BodyWriter, OP_INSERT, type SessionRecord } from './msg-records.js';
import { MAX_BODY } from './msg.js';
import type { SyncTable } from './sessions.js';

/** fill() results. */
export const BULK_FULL = 0; // the body is full: send it, then call fill again
export const BULK_BUDGET = 1; // `budget` slots visited: continue on a later call
export const BULK_DONE = 2; // the table has been walked: send what is in the body, then BULK_END

export class BulkSender {
  active = false;
  /** BULK_START has been sent (its seq is the bulk's id). */
  started = false;
  startSeq = 0;
  cursor = 0;
  records = 0;
  /** Slots the last fill() visited. */
  visited = 0;
  /** Bulks completed (BULK_END queued). */
  completed = 0;
  readonly body = new BodyWriter(MAX_BODY);

  begin(): void {
    this.active = true;
    this.started = false;
    this.cursor = 0;
    this.records = 0;
    this.body.reset();
  }

  /** Adds records of live sessions from the cursor on; see BULK_* for the result. */
  fill(st: SyncTable, rec: SessionRecord, nowMs: number, budget: number): number {
    const t = st.ct.table;
    const cap = t.capacity;
    this.visited = 0;
    while (this.cursor < cap) {
      if (this.visited >= budget) return BULK_BUDGET;
      this.visited++;
      const id = this.cursor;
      if (t.isUsed(id) && t.expires(id) > nowMs) {
        st.exportSession(id, OP_INSERT, nowMs, rec);
        if (!this.body.add(rec)) return BULK_FULL;
        this.records++;
      }
      this.cursor++;
    }
    return BULK_DONE;
  }
}

export class BulkPurge {
  active = false;
  peer = 0;
  /** Sessions of `peer` last refreshed before this receive stamp are gone at the peer. */
  from = 0;
  cursor = 0;
  purged = 0;

  begin(peer: number, fromStamp: number): void {
    this.active = true;
    this.peer = peer;
    this.from = fromStamp;
    this.cursor = 0;
  }

  /** Visits at most `budget` slots; false when the walk is over. */
  step(st: SyncTable, budget: number): boolean {
    const cap = st.ct.table.capacity;
    let visited = 0;
    while (this.cursor < cap && visited < budget) {
      const id = this.cursor++;
      visited++;
      if (st.bound(id) && st.ownerOf(id) === this.peer && st.seenOf(id) < this.from) {
        st.ct.drop(id);
        this.purged++;
      }
    }
    if (this.cursor >= cap) this.active = false;
    return this.active;
  }
}
