/**
 * A reusable vector of capture records. The reader fills it in place: frame i
 * is `buf[off[i] .. off[i] + caplen[i])`, valid until the reader's next call.
 * `len` is the same array as `caplen`, so a CaptureBatch is also a port
 * `FrameBatch`.
 */
export class CaptureBatch {
  /** Records filled by the last `next()`. */
  count = 0;
  /** Buffer holding the frames (the reader's chunk buffer; replaced by the reader). */
  buf: Uint8Array = new Uint8Array(0);
  readonly capacity: number;
  off: Int32Array;
  caplen: Int32Array;
  /** Alias of `caplen` (FrameBatch compatibility). */
  len: Int32Array;
  origlen: Int32Array;
  /** Whole seconds since the epoch (exact integer). */
  tsSec: Float64Array;
  /** Nanoseconds within the second (0..999999999). */
  tsNsec: Uint32Array;
  /** Global interface index (pcapng: position in `reader.interfaces`); 0 for pcap. */
  ifIndex: Int32Array;
  /** Link type of the record's interface, low 16 bits. */
  linkType: Int32Array;
  /** pcapng: offset in `buf` of the first `opt_comment` value, -1 when none. */
  commentOff: Int32Array;
  /** pcapng: byte length of that comment (UTF-8), 0 when none. */
  commentLen: Int32Array;

  constructor(capacity = 256) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`bad batch capacity ${capacity}`);
    this.capacity = capacity;
    this.off = new Int32Array(capacity);
    this.caplen = new Int32Array(capacity);
    this.len = this.caplen;
    this.origlen = new Int32Array(capacity);
    this.tsSec = new Float64Array(capacity);
    this.tsNsec = new Uint32Array(capacity);
    this.ifIndex = new Int32Array(capacity);
    this.linkType = new Int32Array(capacity);
    this.commentOff = new Int32Array(capacity);
    this.commentLen = new Int32Array(capacity);
  }
}

/** Record time in milliseconds as a float (the device clock): tsSec * 1000 + tsNsec / 1e6. */
export function recordTimeMs(batch: CaptureBatch, i: number): number {
  return batch.tsSec[i]! * 1000 + batch.tsNsec[i]! / 1e6;
}

const decoder = new TextDecoder();

/** The record's `opt_comment` as a string (allocates: for tests and tools, not the fast path). */
export function recordComment(batch: CaptureBatch, i: number): string | undefined {
  const off = batch.commentOff[i]!;
  if (off < 0) return undefined;
  return decoder.decode(batch.buf.subarray(off, off + batch.commentLen[i]!));
}
