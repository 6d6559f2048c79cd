/**
 * Classic libpcap savefile reader (format 2.4; micro- or nanosecond magic; either byte order).
 * Streams through one reused chunk buffer; `next()` fills a CaptureBatch with offsets into it.
 */
import type { CaptureBatch } from './capture-batch.js';
import { ChunkSource, MAX_RECORD } from './capture-source.js';
import { CaptureError, type CaptureInterface, type CaptureReader } from './capture-types.js';

export const PCAP_MAGIC_USEC = 0xa1b2c3d4;
export const PCAP_MAGIC_NSEC = 0xa1b23c4d;
const FILE_HEADER = 24;
const RECORD_HEADER = 16;
/** Bits 16..25 of the link-type field are reserved and must be zero (libpcap checks this too). */
const LT_RESERVED = 0x03ff0000;

export class PcapReader implements CaptureReader {
  readonly format = 'pcap' as const;
  readonly interfaces: CaptureInterface[];
  readonly nano: boolean;
  readonly littleEndian: boolean;
  readonly versionMajor: number;
  readonly versionMinor: number;
  /** The raw 32-bit link-type field (FCS bits included). */
  readonly linkTypeField: number;
  error: CaptureError | null = null;
  records = 0;
  private src: ChunkSource;
  private done = false;
  private readonly linkType: number;
  /** Multiplier from the fraction field to nanoseconds (1000 or 1). */
  private readonly fracToNs: number;
  private readonly fracPerSec: number;

  /** `src` must be positioned at offset 0; throws CaptureError for a bad file header. */
  constructor(src: ChunkSource) {
    this.src = src;
    const path = src.path;
    if (!src.fill(FILE_HEADER)) {
      throw new CaptureError(`truncated pcap file header: ${src.avail} of ${FILE_HEADER} bytes`, 0, path);
    }
    const v = src.view;
    const p = src.pos;
    const magicBE = v.getUint32(p, false);
    const magicLE = v.getUint32(p, true);
    if (magicLE === PCAP_MAGIC_USEC || magicLE === PCAP_MAGIC_NSEC) this.littleEndian = true;
    else if (magicBE === PCAP_MAGIC_USEC || magicBE === PCAP_MAGIC_NSEC) this.littleEndian = false;
    else throw new CaptureError(`not a pcap file: magic 0x${hex8(magicBE)}`, 0, path);
    const le = this.littleEndian;
    this.nano = (le ? magicLE : magicBE) === PCAP_MAGIC_NSEC;
    this.versionMajor = v.getUint16(p + 4, le);
    this.versionMinor = v.getUint16(p + 6, le);
    if (this.versionMajor !== 2 || this.versionMinor !== 4) {
      const archaic = this.versionMajor < 2 ? ' (archaic pcap savefile format)' : '';
      throw new CaptureError(
        `unsupported pcap savefile version ${this.versionMajor}.${this.versionMinor}${archaic}; only 2.4 is supported`,
        4,
        path,
      );
    }
    const snaplen = v.getUint32(p + 16, le);
    this.linkTypeField = v.getUint32(p + 20, le);
    if ((this.linkTypeField & LT_RESERVED) !== 0) {
      throw new CaptureError(
        `savefile linktype reserved field not zero (0x${hex8(this.linkTypeField & LT_RESERVED)})`,
        20,
        path,
      );
    }
    this.linkType = this.linkTypeField & 0xffff;
    this.fracToNs = this.nano ? 1 : 1000;
    this.fracPerSec = this.nano ? 1e9 : 1e6;
    this.interfaces = [{ linkType: this.linkType, snaplen, tsResolution: this.fracPerSec, section: 0 }];
    src.pos += FILE_HEADER;
  }

  get path(): string {
    return this.src.path;
  }

  next(batch: CaptureBatch): number {
    batch.count = 0;
    if (this.done) return 0;
    const src = this.src;
    const cap = batch.capacity;
    const le = this.littleEndian;
    const linkType = this.linkType;
    const fracToNs = this.fracToNs;
    const fracPerSec = this.fracPerSec;
    let n = 0;
    try {
      while (n < cap) {
        if (src.end - src.pos < RECORD_HEADER) {
          if (n > 0) break;
          if (!src.fill(RECORD_HEADER)) {
            if (src.avail > 0) {
              this.fail(`truncated record header: ${src.avail} of ${RECORD_HEADER} bytes`, src.offset);
            }
            this.done = true;
            break;
          }
        }
        let v = src.view;
        let p = src.pos;
        const caplen = v.getUint32(p + 8, le);
        if (caplen > MAX_RECORD) {
          this.fail(`corrupt record: captured length ${caplen} is larger than ${MAX_RECORD}`, src.offset);
          break;
        }
        const need = RECORD_HEADER + caplen;
        if (src.end - p < need) {
          if (n > 0) break;
          if (!src.fill(need)) {
            this.fail(
              `truncated record: captured length ${caplen} but only ${src.avail - RECORD_HEADER} data bytes left`,
              src.offset,
            );
            break;
          }
          v = src.view;
          p = src.pos;
        }
        let sec = v.getUint32(p, le);
        let frac = v.getUint32(p + 4, le);
        if (frac >= fracPerSec) {
          sec += Math.floor(frac / fracPerSec);
          frac %= fracPerSec;
        }
        batch.off[n] = p + RECORD_HEADER;
        batch.caplen[n] = caplen;
        batch.origlen[n] = v.getUint32(p + 12, le);
        batch.tsSec[n] = sec;
        batch.tsNsec[n] = frac * fracToNs;
        batch.ifIndex[n] = 0;
        batch.linkType[n] = linkType;
        batch.commentOff[n] = -1;
        batch.commentLen[n] = 0;
        src.pos = p + need;
        n++;
      }
    } catch (e) {
      if (!(e instanceof CaptureError)) throw e;
      this.error = e;
      this.done = true;
    }
    batch.buf = src.chunk;
    batch.count = n;
    this.records += n;
    return n;
  }

  private fail(message: string, offset: number): void {
    this.error = new CaptureError(message, offset, this.src.path);
    this.done = true;
  }

  close(): void {
    this.done = true;
    this.src.close();
  }
}

export function hex8(x: number): string {
  return (x >>> 0).toString(16).padStart(8, '0');
}
