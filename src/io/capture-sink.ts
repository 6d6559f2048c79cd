/**
 * Buffered sequential file output for the capture writers: records are
 * assembled in one reused buffer and written with one syscall per buffer.
 */
import { closeSync, openSync, writeSync } from 'node:fs';

export const DEFAULT_WRITE_BUFFER = 1024 * 1024;

export class FileSink {
  readonly path: string;
  buf: Uint8Array;
  view: DataView;
  pos = 0;
  /** Bytes handed to the file so far (excluding what is still buffered). */
  flushed = 0;
  private fd: number;

  constructor(path: string, bufferSize = DEFAULT_WRITE_BUFFER) {
    this.path = path;
    this.buf = new Uint8Array(Math.max(4096, bufferSize | 0));
    this.view = new DataView(this.buf.buffer);
    this.fd = openSync(path, 'w');
  }

  /** Makes room for `n` more bytes at `pos` (flushing, or growing for an oversized record). */
  reserve(n: number): void {
    if (this.buf.length - this.pos >= n) return;
    this.flush();
    if (n > this.buf.length) {
      this.buf = new Uint8Array(n);
      this.view = new DataView(this.buf.buffer);
    }
  }

  /** Writes `n` zero bytes at `pos` (padding; the buffer is reused, so it is not zero already). */
  zero(n: number): void {
    for (let i = 0; i < n; i++) this.buf[this.pos++] = 0;
  }

  flush(): void {
    let done = 0;
    while (done < this.pos) done += writeSync(this.fd, this.buf, done, this.pos - done);
    this.flushed += this.pos;
    this.pos = 0;
  }

  get closed(): boolean {
    return this.fd < 0;
  }

  close(): void {
    if (this.fd < 0) return;
    try {
      this.flush();
    } finally {
      closeSync(this.fd);
      this.fd = -1;
    }
  }
}

export { copyBytes } from '../wire/bytes.js';
