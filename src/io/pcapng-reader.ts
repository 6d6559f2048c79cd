/**
 * pcapng reader (draft-ietf-opsawg-pcapng): SHB (either byte order, several sections), IDB
 * (link type, snaplen, if_name, if_tsresol, if_tsoffset), EPB, SPB and the obsolete PB; other
 * blocks and unknown options are skipped. Interfaces get a global index across sections.
 * Streams through one reused chunk buffer; `next()` fills a CaptureBatch with offsets into it.
 */
import type { CaptureBatch } from './capture-batch.js';
import { ChunkSource, MAX_RECORD } from './capture-source.js';
import { TsResolution, tsOut } from './capture-time.js';
import { CaptureError, type CaptureInterface, type CaptureReader } from './capture-types.js';
import { hex8 } from './pcap-reader.js';

export const PCAPNG_SHB = 0x0a0d0d0a;
export const PCAPNG_IDB = 0x00000001;
export const PCAPNG_PB = 0x00000002;
export const PCAPNG_SPB = 0x00000003;
export const PCAPNG_EPB = 0x00000006;
export const PCAPNG_BYTE_ORDER_MAGIC = 0x1a2b3c4d;

const STORED = 0;
const SKIPPED = 1;
const PAUSE = 2; // batch has records and the next block needs a refill, or pre-scan reached a packet
const STOP = 3; // end of file or error
const OPT_COMMENT = 1;
const MIN_LEN = new Map<number, number>([
  [PCAPNG_SHB, 28],
  [PCAPNG_IDB, 20],
  [PCAPNG_PB, 32],
  [PCAPNG_SPB, 16],
  [PCAPNG_EPB, 32],
]);
const utf8 = new TextDecoder();

export class PcapngReader implements CaptureReader {
  readonly format = 'pcapng' as const;
  readonly interfaces: CaptureInterface[] = [];
  error: CaptureError | null = null;
  records = 0;
  /** Version of the current section. */
  versionMajor = 0;
  versionMinor = 0;
  private src: ChunkSource;
  private done = false;
  private le = true;
  private section = -1;
  private sectionBase = 0;
  private sectionCount = 0;
  private ifLink: number[] = [];
  private ifSnap: number[] = [];
  private ifRes: TsResolution[] = [];
  private ifOffset: number[] = [];
  // scratch for the option walk
  private optCommentOff = -1;
  private optCommentLen = 0;
  private curIf: CaptureInterface | null = null;
  private curRes = 6;
  private curTsOffset = 0;

  /** `src` must be at offset 0 on an SHB; throws CaptureError when the first section header is bad. */
  constructor(src: ChunkSource) {
    this.src = src;
    let r: number;
    try {
      r = this.block(null, 0);
    } catch (e) {
      src.close();
      throw e;
    }
    if (this.error || this.section !== 0 || r === STOP) {
      src.close();
      throw this.error ?? new CaptureError('not a pcapng file: no section header block', 0, src.path);
    }
    // Pre-read the interface blocks before the first packet so `interfaces` is known up front.
    try {
      while (!this.done && this.block(null, 0) === SKIPPED);
    } catch (e) {
      if (!(e instanceof CaptureError)) throw e;
      this.error = e;
      this.done = true;
    }
  }

  get path(): string {
    return this.src.path;
  }

  next(batch: CaptureBatch): number {
    batch.count = 0;
    if (this.done) return 0;
    const cap = batch.capacity;
    let n = 0;
    try {
      while (n < cap) {
        const r = this.block(batch, n);
        if (r === STORED) n++;
        else if (r !== SKIPPED) break;
      }
    } catch (e) {
      if (!(e instanceof CaptureError)) throw e;
      this.error = e;
      this.done = true;
    }
    batch.buf = this.src.chunk;
    batch.count = n;
    this.records += n;
    return n;
  }

  close(): void {
    this.done = true;
    this.src.close();
  }

  private fail(message: string, offset: number): number {
    this.error = new CaptureError(message, offset, this.src.path);
    this.done = true;
    return STOP;
  }

  /** Reads one block; stores a packet at `batch[n]` (batch null: pre-scan, stop before packets). */
  private block(batch: CaptureBatch | null, n: number): number {
    const src = this.src;
    if (src.end - src.pos < 12) {
      if (n > 0) return PAUSE;
      if (!src.fill(12)) {
        if (src.avail > 0) return this.fail(`truncated block header: ${src.avail} of 12 bytes`, src.offset);
        this.done = true;
        return STOP;
      }
    }
    let v = src.view;
    let p = src.pos;
    const start = src.offset;
    const type = v.getUint32(p, this.le);
    if (type === PCAPNG_SHB) {
      if (v.getUint32(p + 8, true) === PCAPNG_BYTE_ORDER_MAGIC) this.le = true;
      else if (v.getUint32(p + 8, false) === PCAPNG_BYTE_ORDER_MAGIC) this.le = false;
      else
        return this.fail(`bad section header byte-order magic 0x${hex8(v.getUint32(p + 8, false))}`, start);
    } else if (this.section < 0) {
      return this.fail(`not a pcapng file: first block type 0x${hex8(type)}`, start);
    }
    const le = this.le;
    const total = v.getUint32(p + 4, le);
    if (total < (MIN_LEN.get(type) ?? 12) || total % 4 !== 0 || total > MAX_RECORD) {
      return this.fail(`bad total length ${total} for block type 0x${hex8(type)}`, start);
    }
    if (batch === null && (type === PCAPNG_EPB || type === PCAPNG_SPB || type === PCAPNG_PB)) {
      return PAUSE;
    }
    if (src.end - p < total) {
      if (n > 0) return PAUSE;
      if (!src.fill(total)) {
        return this.fail(`truncated block: total length ${total} but only ${src.avail} bytes left`, start);
      }
      v = src.view;
      p = src.pos;
    }
    const trailer = v.getUint32(p + total - 4, le);
    if (trailer !== total) {
      return this.fail(`block total length in header ${total} and trailer ${trailer} don't match`, start);
    }
    const body = p + 8;
    const bodyEnd = p + total - 4;
    let r = SKIPPED;
    if (type === PCAPNG_EPB || type === PCAPNG_PB) r = this.packet(batch!, n, type, body, bodyEnd, start);
    else if (type === PCAPNG_SPB) r = this.simplePacket(batch!, n, body, bodyEnd, start);
    else if (type === PCAPNG_IDB) r = this.interfaceBlock(body, bodyEnd, start);
    else if (type === PCAPNG_SHB) r = this.sectionHeader(body, bodyEnd, start);
    if (r !== STOP) src.pos = p + total;
    return r;
  }

  private sectionHeader(body: number, end: number, start: number): number {
    const v = this.src.view;
    const major = v.getUint16(body + 4, this.le);
    const minor = v.getUint16(body + 6, this.le);
    // libpcap accepts 1.0 and the 1.2 some writers produced; everything else is refused.
    if (major !== 1 || (minor !== 0 && minor !== 2)) {
      return this.fail(`unsupported pcapng savefile version ${major}.${minor}`, start);
    }
    if (!this.walkOptions(body + 16, end, PCAPNG_SHB)) return STOP;
    this.versionMajor = major;
    this.versionMinor = minor;
    this.section++;
    this.sectionBase = this.interfaces.length;
    this.sectionCount = 0;
    return SKIPPED;
  }

  private interfaceBlock(body: number, end: number, _start: number): number {
    const v = this.src.view;
    const itf: CaptureInterface = {
      linkType: v.getUint16(body, this.le),
      snaplen: v.getUint32(body + 4, this.le),
      tsResolution: 1e6,
      section: this.section,
    };
    this.curIf = itf;
    this.curRes = 6;
    this.curTsOffset = 0;
    if (!this.walkOptions(body + 8, end, PCAPNG_IDB)) return STOP;
    const res = new TsResolution(this.curRes);
    itf.tsResolution = res.unitsPerSec;
    this.interfaces.push(itf);
    this.ifLink.push(itf.linkType);
    this.ifSnap.push(itf.snaplen);
    this.ifRes.push(res);
    this.ifOffset.push(this.curTsOffset);
    this.sectionCount++;
    return SKIPPED;
  }

  /** EPB and the obsolete PB: same layout except a 16-bit interface id (plus drop count) in the PB. */
  private packet(
    batch: CaptureBatch,
    n: number,
    type: number,
    body: number,
    end: number,
    start: number,
  ): number {
    const v = this.src.view;
    const le = this.le;
    const ifId = type === PCAPNG_EPB ? v.getUint32(body, le) : v.getUint16(body, le);
    if (ifId >= this.sectionCount) {
      return this.fail(`packet for interface ${ifId}, but the section has ${this.sectionCount}`, start);
    }
    const caplen = v.getUint32(body + 12, le);
    const data = body + 20;
    if (caplen > end - data) {
      return this.fail(
        `captured length ${caplen} is larger than the block's ${end - data} data bytes`,
        start,
      );
    }
    this.optCommentOff = -1;
    this.optCommentLen = 0;
    const opts = data + ((caplen + 3) & ~3);
    if (opts < end && !this.walkOptions(opts, end, PCAPNG_EPB)) return STOP;
    const g = this.sectionBase + ifId;
    this.ifRes[g]!.split(v.getUint32(body + 4, le), v.getUint32(body + 8, le));
    batch.off[n] = data;
    batch.caplen[n] = caplen;
    batch.origlen[n] = v.getUint32(body + 16, le);
    batch.tsSec[n] = tsOut.sec + this.ifOffset[g]!;
    batch.tsNsec[n] = tsOut.nsec;
    batch.ifIndex[n] = g;
    batch.linkType[n] = this.ifLink[g]!;
    batch.commentOff[n] = this.optCommentOff;
    batch.commentLen[n] = this.optCommentLen;
    return STORED;
  }

  private simplePacket(batch: CaptureBatch, n: number, body: number, end: number, start: number): number {
    if (this.sectionCount === 0)
      return this.fail('simple packet block before any interface description', start);
    const g = this.sectionBase;
    const orig = this.src.view.getUint32(body, this.le);
    const snap = this.ifSnap[g]!;
    let caplen = Math.min(orig, end - body - 4);
    if (snap > 0 && snap < caplen) caplen = snap;
    batch.off[n] = body + 4;
    batch.caplen[n] = caplen;
    batch.origlen[n] = orig;
    batch.tsSec[n] = 0;
    batch.tsNsec[n] = 0;
    batch.ifIndex[n] = g;
    batch.linkType[n] = this.ifLink[g]!;
    batch.commentOff[n] = -1;
    batch.commentLen[n] = 0;
    return STORED;
  }

  /** Walks the options in [p, end); returns false (after setting the error) when one overruns. */
  private walkOptions(p: number, end: number, kind: number): boolean {
    const v = this.src.view;
    const le = this.le;
    while (end - p >= 4) {
      const code = v.getUint16(p, le);
      const len = v.getUint16(p + 2, le);
      if (code === 0) break;
      if (len > end - p - 4) {
        this.fail(`option ${code} of length ${len} extends past the end of its block`, this.src.base + p);
        return false;
      }
      const val = p + 4;
      if (kind === PCAPNG_EPB) {
        if (code === OPT_COMMENT && this.optCommentOff < 0) {
          this.optCommentOff = val;
          this.optCommentLen = len;
        }
      } else if (kind === PCAPNG_IDB) {
        if (code === 2) this.curIf!.name = utf8.decode(this.src.chunk.subarray(val, val + len));
        else if (code === 9 && len >= 1) this.curRes = this.src.chunk[val]!;
        else if (code === 14 && len >= 8) {
          this.curTsOffset = Number(v.getBigInt64(val, le));
        }
      }
      p = val + ((len + 3) & ~3);
    }
    return true;
  }
}
