/**
 * Classic pcap writer (little-endian, format 2.4, micro- or nanosecond timestamps). Buffered:
 * records go into one large reused buffer, written in chunks. Output depends only on the input.
 */
import type { CaptureBatch } from './capture-batch.js';
import { copyBytes, FileSink } from './capture-sink.js';

export interface PcapWriterOptions {
  /** Link type (default 1, Ethernet). */
  linkType?: number;
  /** Snapshot length written in the header; longer frames are cut to it (default 262144). */
  snaplen?: number;
  /** Nanosecond timestamps (magic a1b23c4d) instead of microseconds. */
  nano?: boolean;
  /** Write buffer size in bytes (default 1 MiB). */
  bufferSize?: number;
}

export class PcapWriter {
  readonly linkType: number;
  readonly snaplen: number;
  readonly nano: boolean;
  /** Records written. */
  packets = 0;
  private sink: FileSink;

  constructor(path: string, opts: PcapWriterOptions = {}) {
    this.linkType = opts.linkType ?? 1;
    this.snaplen = opts.snaplen ?? 262144;
    this.nano = opts.nano ?? false;
    this.sink = new FileSink(path, opts.bufferSize);
    const s = this.sink;
    s.reserve(24);
    const v = s.view;
    const p = s.pos;
    v.setUint32(p, this.nano ? 0xa1b23c4d : 0xa1b2c3d4, true);
    v.setUint16(p + 4, 2, true);
    v.setUint16(p + 6, 4, true);
    v.setInt32(p + 8, 0, true); // thiszone
    v.setUint32(p + 12, 0, true); // sigfigs
    v.setUint32(p + 16, this.snaplen, true);
    v.setUint32(p + 20, this.linkType, true);
    s.pos += 24;
  }

  /**
   * Appends one record: `len` bytes of `buf` from `off`, time `tsSec` + `tsNsec` ns (cut to
   * microseconds unless nano), `origLen` the length on the wire (default `len`).
   */
  write(buf: Uint8Array, off: number, len: number, tsSec: number, tsNsec: number, origLen = len): void {
    const caplen = len > this.snaplen ? this.snaplen : len;
    const s = this.sink;
    s.reserve(16 + caplen);
    const v = s.view;
    const p = s.pos;
    v.setUint32(p, tsSec, true);
    v.setUint32(p + 4, this.nano ? tsNsec : Math.floor(tsNsec / 1000), true);
    v.setUint32(p + 8, caplen, true);
    v.setUint32(p + 12, origLen, true);
    copyBytes(buf, off, s.buf, p + 16, caplen);
    s.pos = p + 16 + caplen;
    this.packets++;
  }

  /** Appends every record of a batch (as filled by a reader). */
  writeBatch(batch: CaptureBatch): void {
    for (let i = 0; i < batch.count; i++) {
      this.write(
        batch.buf,
        batch.off[i]!,
        batch.caplen[i]!,
        batch.tsSec[i]!,
        batch.tsNsec[i]!,
        batch.origlen[i]!,
      );
    }
  }

  /** Writes out what is buffered. */
  flush(): void {
    this.sink.flush();
  }

  close(): void {
    this.sink.close();
  }
}
