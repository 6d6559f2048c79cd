/**
 * pcapng writer: a Section Header Block (byte-order magic, version 1.0, shb_userappl only: no
 * hostname, OS or wall-clock time, so the same input gives a byte-identical file), Interface
 * Description Blocks (if_name, if_tsresol) and Enhanced Packet Blocks with an optional
 * `opt_comment`. Buffered: blocks are assembled in one reused buffer and written in chunks.
 */
import type { CaptureBatch } from './capture-batch.js';
import { copyBytes, FileSink } from './capture-sink.js';
import { joinTimestamp, tsParts } from './capture-time.js';

export interface PcapngInterfaceSpec {
  /** Link type (1 Ethernet, 113 SLL, 276 SLL2, 101 raw...). */
  linkType: number;
  /** Snapshot length (default 262144); longer frames are cut to it. */
  snaplen?: number;
  /** `if_name`. */
  name?: string;
  /** Decimal timestamp resolution: 9 for nanoseconds (default) or 6 for microseconds. */
  tsResolution?: 6 | 9;
}

export interface PcapngWriterOptions {
  /** Interfaces of the first section (more can be added with `addInterface`). */
  interfaces?: PcapngInterfaceSpec[];
  /** `shb_userappl` (default "sdev"; empty string for none). */
  userAppl?: string;
  /** Write buffer size in bytes (default 1 MiB). */
  bufferSize?: number;
}

const SHB = 0x0a0d0d0a;
const IDB = 1;
const EPB = 6;
const MAX_COMMENT_CHARS = 21845; // 3 bytes per UTF-16 unit at most: stays within the 16-bit option length
const utf8 = new TextEncoder();

function pad4(n: number): number {
  return (n + 3) & ~3;
}

export class PcapngWriter {
  /** Records written. */
  packets = 0;
  private sink: FileSink;
  private readonly userAppl: string;
  /** Per section-local interface: snaplen and units per second. */
  private ifSnap: number[] = [];
  private ifUnits: number[] = [];

  constructor(path: string, opts: PcapngWriterOptions = {}) {
    this.sink = new FileSink(path, opts.bufferSize);
    this.userAppl = opts.userAppl ?? 'sdev';
    this.newSection(opts.interfaces ?? []);
  }

  /** Number of interfaces in the current section. */
  get interfaceCount(): number {
    return this.ifSnap.length;
  }

  /** Starts a new section (interface numbering restarts at 0) with the given interfaces. */
  newSection(interfaces: PcapngInterfaceSpec[] = []): void {
    this.ifSnap = [];
    this.ifUnits = [];
    const appl = this.userAppl ? utf8.encode(this.userAppl) : null;
    const optLen = appl ? 4 + pad4(appl.length) + 4 : 0;
    const total = 28 + optLen;
    const s = this.sink;
    s.reserve(total);
    const v = s.view;
    const p = s.pos;
    v.setUint32(p, SHB, true);
    v.setUint32(p + 4, total, true);
    v.setUint32(p + 8, 0x1a2b3c4d, true);
    v.setUint16(p + 12, 1, true);
    v.setUint16(p + 14, 0, true);
    v.setInt32(p + 16, -1, true); // section length unknown (-1 as 64 bits)
    v.setInt32(p + 20, -1, true);
    s.pos = p + 24;
    if (appl) {
      this.option(4, appl);
      this.endOfOptions();
    }
    v.setUint32(s.pos, total, true);
    s.pos += 4;
    for (const itf of interfaces) this.addInterface(itf);
  }

  /** Writes an IDB and returns its interface id within the current section. */
  addInterface(spec: PcapngInterfaceSpec): number {
    const snaplen = spec.snaplen ?? 262144;
    const res = spec.tsResolution ?? 9;
    const name = spec.name ? utf8.encode(spec.name) : null;
    const optLen = (name ? 4 + pad4(name.length) : 0) + 8 + 4;
    const total = 20 + optLen;
    const s = this.sink;
    s.reserve(total);
    const v = s.view;
    const p = s.pos;
    v.setUint32(p, IDB, true);
    v.setUint32(p + 4, total, true);
    v.setUint16(p + 8, spec.linkType & 0xffff, true);
    v.setUint16(p + 10, 0, true);
    v.setUint32(p + 12, snaplen, true);
    s.pos = p + 16;
    if (name) this.option(2, name);
    this.option(9, Uint8Array.of(res));
    this.endOfOptions();
    v.setUint32(s.pos, total, true);
    s.pos += 4;
    this.ifSnap.push(snaplen === 0 ? 0x7fffffff : snaplen);
    this.ifUnits.push(res === 9 ? 1e9 : 1e6);
    return this.ifSnap.length - 1;
  }

  /**
   * Appends an EPB: `len` bytes of `buf` from `off` on interface `ifIndex` (section-local id), time
   * `tsSec` + `tsNsec` ns, optional packet comment, `origLen` the length on the wire (default `len`).
   */
  write(
    buf: Uint8Array,
    off: number,
    len: number,
    tsSec: number,
    tsNsec: number,
    ifIndex = 0,
    comment?: string,
    origLen = len,
  ): void {
    const snap = this.ifSnap[ifIndex];
    if (snap === undefined) throw new RangeError(`no interface ${ifIndex} in this pcapng section`);
    const caplen = len > snap ? snap : len;
    const units = this.ifUnits[ifIndex]!;
    if (comment !== undefined && comment.length > MAX_COMMENT_CHARS)
      comment = comment.slice(0, MAX_COMMENT_CHARS);
    const maxOpt = comment ? 4 + pad4(comment.length * 3) + 4 : 0;
    const s = this.sink;
    s.reserve(32 + pad4(caplen) + maxOpt);
    const v = s.view;
    const p = s.pos;
    joinTimestamp(tsSec, units === 1e9 ? tsNsec : Math.floor(tsNsec / 1000), units);
    v.setUint32(p, EPB, true);
    v.setUint32(p + 8, ifIndex, true);
    v.setUint32(p + 12, tsParts.hi, true);
    v.setUint32(p + 16, tsParts.lo, true);
    v.setUint32(p + 20, caplen, true);
    v.setUint32(p + 24, origLen, true);
    copyBytes(buf, off, s.buf, p + 28, caplen);
    s.pos = p + 28 + caplen;
    s.zero(pad4(caplen) - caplen);
    if (comment) {
      const o = s.pos;
      const n = utf8.encodeInto(comment, s.buf.subarray(o + 4, o + 4 + comment.length * 3)).written;
      v.setUint16(o, 1, true);
      v.setUint16(o + 2, n, true);
      s.pos = o + 4 + n;
      s.zero(pad4(n) - n);
      this.endOfOptions();
    }
    const total = s.pos + 4 - p;
    v.setUint32(p + 4, total, true);
    v.setUint32(s.pos, total, true);
    s.pos += 4;
    this.packets++;
  }

  /**
   * Appends every record of a batch. `ifIndex` in the batch is the reader's global index; it is used
   * as the section-local id here, so write single-section captures or map the ids yourself.
   */
  writeBatch(batch: CaptureBatch): void {
    for (let i = 0; i < batch.count; i++) {
      this.write(
        batch.buf,
        batch.off[i]!,
        batch.caplen[i]!,
        batch.tsSec[i]!,
        batch.tsNsec[i]!,
        batch.ifIndex[i]!,
        undefined,
        batch.origlen[i]!,
      );
    }
  }

  flush(): void {
    this.sink.flush();
  }

  close(): void {
    this.sink.close();
  }

  private option(code: number, value: Uint8Array): void {
    const s = this.sink;
    s.view.setUint16(s.pos, code, true);
    s.view.setUint16(s.pos + 2, value.length, true);
    s.buf.set(value, s.pos + 4);
    s.pos += 4 + value.length;
    s.zero(pad4(value.length) - value.length);
  }

  private endOfOptions(): void {
    this.sink.view.setUint32(this.sink.pos, 0, true);
    this.sink.pos += 4;
  }
}
