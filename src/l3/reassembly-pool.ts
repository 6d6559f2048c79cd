/**
 * A fixed byte pool for held fragment frames: `blockCount` blocks of
 * `blockSize` bytes, each frame stored in a chain of blocks (linked through an
 * Int32Array), a free list of blocks. Everything is allocated in the
 * constructor; store / read / release allocate nothing. Chains need not be
 * contiguous, so there is no external fragmentation: a frame fits whenever
 * enough blocks are free.
 */
export class BlockPool {
  readonly blockSize: number;
  readonly blockCount: number;
  private readonly bytes: Uint8Array;
  /** Next block of a chain (or of the free list); -1 ends it. */
  private readonly next: Int32Array;
  private freeHead: number;
  freeBlocks: number;

  constructor(maxBytes: number, blockSize = 256) {
    this.blockSize = blockSize;
    this.blockCount = Math.max(1, Math.floor(maxBytes / blockSize));
    this.bytes = new Uint8Array(this.blockCount * blockSize);
    this.next = new Int32Array(this.blockCount);
    for (let i = 0; i < this.blockCount; i++) this.next[i] = i + 1;
    this.next[this.blockCount - 1] = -1;
    this.freeHead = 0;
    this.freeBlocks = this.blockCount;
  }

  /** Blocks a frame of `len` bytes takes. */
  blocksFor(len: number): number {
    return Math.ceil(len / this.blockSize);
  }

  /**
   * Copy src[off, off + len) into a new chain; the caller has checked
   * freeBlocks >= blocksFor(len) and len > 0. Returns the first block.
   */
  store(src: Uint8Array, off: number, len: number): number {
    const bs = this.blockSize;
    const first = this.freeHead;
    let blk = first;
    let last = first;
    let done = 0;
    while (done < len) {
      const n = len - done < bs ? len - done : bs;
      this.bytes.set(src.subarray(off + done, off + done + n), blk * bs);
      done += n;
      this.freeBlocks--;
      last = blk;
      blk = this.next[blk];
    }
    this.freeHead = blk;
    this.next[last] = -1;
    return first;
  }

  /** Copy bytes [from, from + len) of the chain at `first` into dst at dstOff. */
  read(first: number, from: number, len: number, dst: Uint8Array, dstOff: number): void {
    const bs = this.blockSize;
    let blk = first;
    while (from >= bs) {
      blk = this.next[blk];
      from -= bs;
    }
    while (len > 0) {
      const n = bs - from < len ? bs - from : len;
      const p = blk * bs + from;
      dst.set(this.bytes.subarray(p, p + n), dstOff);
      dstOff += n;
      len -= n;
      from = 0;
      blk = this.next[blk];
    }
  }

  /** True when bytes [from, from + len) of the chain equal src[srcOff, srcOff + len). */
  equals(first: number, from: number, len: number, src: Uint8Array, srcOff: number): boolean {
    const bs = this.blockSize;
    const bytes = this.bytes;
    let blk = first;
    while (from >= bs) {
      blk = this.next[blk];
      from -= bs;
    }
    while (len > 0) {
      const n = bs - from < len ? bs - from : len;
      const p = blk * bs + from;
      for (let i = 0; i < n; i++) if (bytes[p + i] !== src[srcOff + i]) return false;
      srcOff += n;
      len -= n;
      from = 0;
      blk = this.next[blk];
    }
    return true;
  }

  /** Give a chain back to the free list; returns how many blocks it had. */
  release(first: number): number {
    let n = 1;
    let last = first;
    while (this.next[last] !== -1) {
      last = this.next[last];
      n++;
    }
    this.next[last] = this.freeHead;
    this.freeHead = first;
    this.freeBlocks += n;
    return n;
  }
}
