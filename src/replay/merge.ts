/**
 * A k-way merge of capture readers by record time, streaming: each reader
 * keeps one batch of records in memory, refilled when the merge has handed
 * out its last record. Records of equal time come in reader order (then file
 * order), so the merge is deterministic. Within one file records come in file
 * order even when their times go backwards (as replay does with one file).
 *
 * The devices are few (one reader each), so the earliest head is found by a
 * linear scan; nothing is allocated per record.
 */
import { CaptureBatch, type CaptureReader } from '../io/capture-reader.js';

export class CaptureMerge {
  /** The current record is `batch` index `index`, from reader `source` (after next() returned true). */
  batch: CaptureBatch;
  index = 0;
  source = -1;
  /** Records handed out so far. */
  records = 0;
  private readonly batches: CaptureBatch[];
  private readonly count: Int32Array;
  private readonly pos: Int32Array;
  /** 1 once a reader returned no more records. */
  private readonly done: Uint8Array;

  constructor(
    readonly readers: readonly CaptureReader[],
    batchSize = 256,
  ) {
    if (readers.length === 0) throw new RangeError('nothing to merge');
    this.batches = readers.map(() => new CaptureBatch(batchSize));
    this.count = new Int32Array(readers.length);
    this.pos = new Int32Array(readers.length);
    this.done = new Uint8Array(readers.length);
    this.batch = this.batches[0]!;
    for (let s = 0; s < readers.length; s++) this.refill(s);
  }

  private refill(s: number): void {
    this.pos[s] = 0;
    this.count[s] = this.done[s] ? 0 : this.readers[s]!.next(this.batches[s]!);
    if (this.count[s] === 0) this.done[s] = 1;
  }

  /**
   * Moves to the next record in time order; false when every reader has ended
   * (cleanly or with its `error` set). The previous record's bytes may be
   * overwritten by this call.
   */
  next(): boolean {
    const prev = this.source;
    if (prev >= 0) {
      this.pos[prev]++;
      if (this.pos[prev] === this.count[prev]) this.refill(prev);
    }
    let best = -1;
    let bestSec = 0;
    let bestNsec = 0;
    for (let s = 0; s < this.batches.length; s++) {
      const n = this.pos[s]!;
      if (n >= this.count[s]!) continue;
      const b = this.batches[s]!;
      const sec = b.tsSec[n]!;
      const nsec = b.tsNsec[n]!;
      if (best < 0 || sec < bestSec || (sec === bestSec && nsec < bestNsec)) {
        best = s;
        bestSec = sec;
        bestNsec = nsec;
      }
    }
    this.source = best;
    if (best < 0) return false;
    this.batch = this.batches[best]!;
    this.index = this.pos[best]!;
    this.records++;
    return true;
  }
}
