/**
 * Types shared by the capture-file readers (pcap and pcapng): the reader
 * interface, the interface description and the error they report.
 */
import type { CaptureBatch } from './capture-batch.js';

/** One capture interface: the pcap file header, or one pcapng IDB. */
export interface CaptureInterface {
  /** Link type, masked to the low 16 bits (1 Ethernet, 113 SLL, 276 SLL2, 101/228/229 raw). */
  linkType: number;
  /** Snapshot length from the header or IDB (0 = unlimited in pcapng). */
  snaplen: number;
  /** pcapng `if_name`, when present. */
  name?: string;
  /** Timestamp units per second (1e6 for microseconds, 1e9 for nanoseconds, 2^n for binary). */
  tsResolution: number;
  /** pcapng section (0-based) the interface belongs to; 0 for pcap. */
  section: number;
}

/** A problem in a capture file, with the byte offset in the file where it was found. */
export class CaptureError extends Error {
  /** Byte offset in the file of the header, record or block at fault. */
  readonly offset: number;
  /** Path of the file. */
  readonly path: string;

  constructor(message: string, offset: number, path = '') {
    super(path ? `${path}: ${message} (at byte offset ${offset})` : `${message} (at byte offset ${offset})`);
    this.name = 'CaptureError';
    this.offset = offset;
    this.path = path;
  }
}

export interface CaptureReaderOptions {
  /** Size of the reused read buffer in bytes (default 4 MiB, at least 64). */
  chunkSize?: number;
}

export interface CaptureReader {
  readonly format: 'pcap' | 'pcapng';
  readonly path: string;
  /** Every interface seen so far (pcapng: grows as IDBs are read; global ifIndex = position here). */
  readonly interfaces: CaptureInterface[];
  /**
   * Fills `batch` with up to `batch.capacity` records and returns how many (0 at the end or after an
   * error). The frames stay valid in `batch.buf` until the next call. Never throws for bad contents:
   * it stops, sets `error` and returns the records read before the fault.
   */
  next(batch: CaptureBatch): number;
  /** Why reading stopped early, or null (clean end of file, or not at the end yet). */
  readonly error: CaptureError | null;
  /** Number of records delivered so far. */
  readonly records: number;
  close(): void;
}
