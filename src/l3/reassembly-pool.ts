/**
 * A fixed byte pool for held fragment frames: `blockCount` blocks of
 * `blockSize` bytes at the start of an arena (one Uint8Array that the
 * reassembler also uses for its output buffers, so copies between them are
 * `copyWithin`, a memmove that allocates nothing). Each frame is a chain of
 * blocks linked through an Int32Array; free blocks form a list. Chains need
 * not be contiguous, so there is no external fragmentation: a frame fits
 * whenever enough blocks are free. Everything is allocated in the
 * constructor; store / read / equals / release allocate nothing.
 */
export class BlockPool {
  readonly blockSize: number;
  readonly blockCount: number;
  /** The arena; blocks occupy [0, blockCount * blockSize). */
  readonly bytes: Uint8Array;
  /** Next block of a chain (or of the free list); -1 ends it. */
  private readonly next: Int32Array;
  private freeHead: number;
  freeBlocks: number;

  constructor(arena: Uint8Array, blockCount: number, blockSize: number) {
    if (blockCount < 1 || arena.length < blockCount * blockSize) throw new RangeError('arena too small');
    this.blockSize = blockSize;
    this.blockCount = blockCount;
    this.bytes = arena;
    this.next = new Int32Array(blockCount);
    for (let i = 0; i < blockCount; i++) this.next[i] = i + 1;
    this.next[blockCount - 1] = -1;
    this.freeHead = 0;
    this.freeBlocks = blockCount;
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
      copyIn(src, off + done, this.bytes, blk * bs, n);
      done += n;
      this.freeBlocks--;
      last = blk;
      blk = this.next[blk];
    }
    this.freeHead = blk;
    this.next[last] = -1;
    return first;
  }

  /** Copy bytes [from, from + len) of the chain at `first` to arena offset `to` (outside the blocks). */
  read(first: number, from: number, len: number, to: number): void {
    const bs = this.blockSize;
    let blk = first;
    while (from >= bs) {
      blk = this.next[blk];
      from -= bs;
    }
    while (len > 0) {
      const n = bs - from < len ? bs - from : len;
      const p = blk * bs + from;
      this.bytes.copyWithin(to, p, p + n);
      to += n;
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

/**
 * Copy src[so, so + n) to dst[d, d + n) between different buffers without
 * allocating (`set(subarray())` would make a view object per copy);
 * unrolled, which V8 runs about twice as fast as a byte loop.
 */
export function copyIn(src: Uint8Array, so: number, dst: Uint8Array, d: number, n: number): void {
  let i = 0;
  for (; i + 8 <= n; i += 8) {
    dst[d + i] = src[so + i];
    dst[d + i + 1] = src[so + i + 1];
    dst[d + i + 2] = src[so + i + 2];
    dst[d + i + 3] = src[so + i + 3];
    dst[d + i + 4] = src[so + i + 4];
    dst[d + i + 5] = src[so + i + 5];
    dst[d + i + 6] = src[so + i + 6];
    dst[d + i + 7] = src[so + i + 7];
  }
  for (; i < n; i++) dst[d + i] = src[so + i];
}
