/**
 * Sequential file input through one reused chunk buffer, for the capture
 * readers. Unread bytes are `chunk[pos .. end)`; `base` is the file offset of
 * `chunk[0]`. `fill(n)` moves the unread tail to the front and reads more, so
 * it invalidates offsets handed out before it: readers call it only when the
 * batch being filled is still empty.
 */
import { closeSync, openSync, readSync } from 'node:fs';
import { CaptureError } from './capture-types.js';

export const DEFAULT_CHUNK = 4 * 1024 * 1024;
/** Largest record or block accepted; anything bigger is treated as corruption. */
export const MAX_RECORD = 256 * 1024 * 1024;

export class ChunkSource {
  readonly path: string;
  chunk: Uint8Array;
  view: DataView;
  /** Next unread byte in `chunk`. */
  pos = 0;
  /** End of valid data in `chunk`. */
  end = 0;
  /** File offset of `chunk[0]`. */
  base = 0;
  /** True once a read returned 0 bytes. */
  eof = false;
  private fd: number;
  private filePos = 0;

  constructor(path: string, chunkSize = DEFAULT_CHUNK) {
    this.path = path;
    this.fd = openSync(path, 'r');
    this.chunk = new Uint8Array(Math.max(64, chunkSize | 0));
    this.view = new DataView(this.chunk.buffer);
  }

  /** Bytes available without reading. */
  get avail(): number {
    return this.end - this.pos;
  }

  /** File offset of the next unread byte. */
  get offset(): number {
    return this.base + this.pos;
  }

  /**
   * Makes at least `need` unread bytes available (compacting, reading and, for a record larger than
   * the chunk, growing the chunk once). Returns false when the file ends first.
   * Throws CaptureError for an I/O error.
   */
  fill(need: number): boolean {
    if (this.end - this.pos >= need) return true;
    const rest = this.end - this.pos;
    if (need > this.chunk.length) {
      const grown = new Uint8Array(Math.max(need, this.chunk.length * 2));
      grown.set(this.chunk.subarray(this.pos, this.end));
      this.chunk = grown;
      this.view = new DataView(grown.buffer);
    } else if (this.pos > 0) {
      this.chunk.copyWithin(0, this.pos, this.end);
    }
    this.base += this.pos;
    this.pos = 0;
    this.end = rest;
    while (this.end < need && !this.eof) {
      let n: number;
      try {
        n = readSync(this.fd, this.chunk, this.end, this.chunk.length - this.end, this.filePos);
      } catch (e) {
        throw new CaptureError(`read failed: ${(e as Error).message}`, this.filePos, this.path);
      }
      if (n === 0) this.eof = true;
      this.end += n;
      this.filePos += n;
    }
    return this.end >= need;
  }

  close(): void {
    if (this.fd >= 0) {
      closeSync(this.fd);
      this.fd = -1;
    }
  }
}
