/** Shared helpers for the capture I/O tests (not a test file). */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { CaptureBatch, openCapture, recordComment } from '../../../src/io/capture-reader.js';
import type { CaptureReaderOptions } from '../../../src/io/capture-types.js';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
export const capturesDir = path.resolve(repoRoot, '../shared/captures');
export const hasCaptures = existsSync(path.join(capturesDir, 'MANIFEST.txt'));

/** Every capture file (relative "dir/name") in the shared folders, libpcap's reject cases excluded. */
export function listCaptures(): string[] {
  if (!hasCaptures) return [];
  const out: string[] = [];
  for (const dir of ['tcpdump', 'zeek', 'tcpreplay']) {
    for (const f of readdirSync(path.join(capturesDir, dir)).sort()) {
      if (/\.pcap$|\.pcapng$|\.rewrite_/.test(f)) out.push(`${dir}/${f}`);
    }
  }
  return out;
}

export function capturePath(rel: string): string {
  return path.join(capturesDir, rel);
}

/** A record copied out of a batch (tests only: allocates). */
export interface Rec {
  data: Buffer;
  caplen: number;
  origlen: number;
  tsSec: number;
  tsNsec: number;
  ifIndex: number;
  linkType: number;
  comment?: string;
}

export interface ReadResult {
  format: string;
  records: Rec[];
  error: Error | null;
  interfaces: { linkType: number; snaplen: number; name?: string; tsResolution: number; section: number }[];
  batches: number;
}

/** Reads a whole capture with our reader, copying each record. */
export function readAll(file: string, opts: CaptureReaderOptions = {}, capacity = 64): ReadResult {
  const r = openCapture(file, opts);
  const b = new CaptureBatch(capacity);
  const records: Rec[] = [];
  let batches = 0;
  try {
    while (r.next(b) > 0) {
      batches++;
      for (let i = 0; i < b.count; i++) {
        const rec: Rec = {
          data: Buffer.from(b.buf.subarray(b.off[i]!, b.off[i]! + b.caplen[i]!)),
          caplen: b.caplen[i]!,
          origlen: b.origlen[i]!,
          tsSec: b.tsSec[i]!,
          tsNsec: b.tsNsec[i]!,
          ifIndex: b.ifIndex[i]!,
          linkType: b.linkType[i]!,
        };
        const c = recordComment(b, i);
        if (c !== undefined) rec.comment = c;
        records.push(rec);
      }
    }
    return { format: r.format, records, error: r.error, interfaces: r.interfaces, batches };
  } finally {
    r.close();
  }
}

export interface TsharkRow {
  number: number;
  timeEpoch: string;
  len: number;
  caplen: number;
  interfaceId: string;
  encap: number;
}

/** Parses `<dir>/tshark/<file>.fields.tsv` (first line: the command; second: header). */
export function tsharkFields(rel: string): TsharkRow[] {
  const [dir, file] = rel.split('/') as [string, string];
  const text = readFileSync(path.join(capturesDir, dir, 'tshark', `${file}.fields.tsv`), 'utf8');
  const lines = text.split('\n').filter((l) => l.length > 0);
  const header = lines[1]!.split('\t');
  const col = (name: string): number => header.indexOf(name);
  return lines.slice(2).map((l) => {
    const f = l.split('\t');
    return {
      number: Number(f[col('frame.number')]),
      timeEpoch: f[col('frame.time_epoch')]!,
      len: Number(f[col('frame.len')]),
      caplen: Number(f[col('frame.cap_len')]),
      interfaceId: f[col('frame.interface_id')]!,
      encap: Number(f[col('frame.encap_type')]),
    };
  });
}

/** Wireshark WTAP encapsulation numbers of the link types in the test captures. */
export const WTAP_TO_LINKTYPE: Record<number, number> = { 1: 1, 7: 101, 25: 113, 210: 276 };

/** "sec.nnnnnnnnn" as tshark prints frame.time_epoch. */
export function epochString(sec: number, nsec: number): string {
  return `${sec}.${String(nsec).padStart(9, '0')}`;
}

// ---- hand-made pcapng blocks for error and feature tests ----

export function pad4(n: number): number {
  return (n + 3) & ~3;
}

/** One pcapng block: type, body (padded to 4), total length in header and trailer. */
export function block(type: number, body: Uint8Array, le = true, trailer?: number): Buffer {
  const total = 12 + pad4(body.length);
  const b = Buffer.alloc(total);
  const w = (v: number, o: number): number =>
    le ? b.writeUInt32LE(v >>> 0, o) : b.writeUInt32BE(v >>> 0, o);
  w(type, 0);
  w(total, 4);
  b.set(body, 8);
  w(trailer ?? total, total - 4);
  return b;
}

/** Option bytes: code, length, value padded. */
export function opt(code: number, value: Uint8Array, le = true): Buffer {
  const b = Buffer.alloc(4 + pad4(value.length));
  if (le) {
    b.writeUInt16LE(code, 0);
    b.writeUInt16LE(value.length, 2);
  } else {
    b.writeUInt16BE(code, 0);
    b.writeUInt16BE(value.length, 2);
  }
  b.set(value, 4);
  return b;
}

export function u32s(values: number[], le = true): Buffer {
  const b = Buffer.alloc(values.length * 4);
  values.forEach((v, i) => (le ? b.writeUInt32LE(v >>> 0, i * 4) : b.writeUInt32BE(v >>> 0, i * 4)));
  return b;
}

export function shb(le = true, major = 1, minor = 0, options: Buffer = Buffer.alloc(0)): Buffer {
  const body = Buffer.alloc(16);
  if (le) {
    body.writeUInt32LE(0x1a2b3c4d, 0);
    body.writeUInt16LE(major, 4);
    body.writeUInt16LE(minor, 6);
  } else {
    body.writeUInt32BE(0x1a2b3c4d, 0);
    body.writeUInt16BE(major, 4);
    body.writeUInt16BE(minor, 6);
  }
  body.fill(0xff, 8, 16);
  return block(0x0a0d0d0a, Buffer.concat([body, options]), le);
}

export function idb(linkType: number, snaplen: number, le = true, options: Buffer = Buffer.alloc(0)): Buffer {
  const body = Buffer.alloc(8);
  if (le) {
    body.writeUInt16LE(linkType, 0);
    body.writeUInt32LE(snaplen, 4);
  } else {
    body.writeUInt16BE(linkType, 0);
    body.writeUInt32BE(snaplen, 4);
  }
  return block(1, Buffer.concat([body, options]), le);
}

export function epb(
  ifId: number,
  hi: number,
  lo: number,
  data: Uint8Array,
  le = true,
  options?: Buffer,
): Buffer {
  const head = u32s([ifId, hi, lo, data.length, data.length], le);
  const padded = Buffer.alloc(pad4(data.length));
  padded.set(data);
  return block(6, Buffer.concat([head, padded, options ?? Buffer.alloc(0)]), le);
}

// ---- pcap-parser (CommonJS, no types) as an oracle ----

import { createRequire } from 'node:module';

interface PcapParserPacket {
  header: {
    timestampSeconds: number;
    timestampMicroseconds: number;
    capturedLength: number;
    originalLength: number;
  };
  data: Buffer;
}
interface PcapParserEmitter {
  on(ev: 'globalHeader', fn: (h: { linkLayerType: number; snapshotLength: number }) => void): void;
  on(ev: 'packet', fn: (p: PcapParserPacket) => void): void;
  on(ev: 'error', fn: (e: Error) => void): void;
  on(ev: 'end', fn: () => void): void;
}
export const pcapParser = createRequire(import.meta.url)('pcap-parser') as {
  parse(input: string): PcapParserEmitter;
};

export interface OracleResult {
  linkType: number;
  packets: PcapParserPacket[];
  error: Error | null;
}

/** Reads a classic pcap with pcap-parser. */
export function readWithPcapParser(file: string): Promise<OracleResult> {
  return new Promise((resolve) => {
    const res: OracleResult = { linkType: -1, packets: [], error: null };
    const p = pcapParser.parse(file);
    p.on('globalHeader', (h) => (res.linkType = h.linkLayerType));
    p.on('packet', (pkt) => res.packets.push(pkt));
    p.on('error', (e) => (res.error = e));
    p.on('end', () => resolve(res));
  });
}

/** Records as comparable strings (fast deep-equality on large captures). */
export function summary(records: Rec[]): string[] {
  return records.map(
    (r) =>
      `${r.tsSec}.${r.tsNsec} ${r.caplen}/${r.origlen} if${r.ifIndex} lt${r.linkType} ${r.comment ?? '-'} ` +
      r.data.toString('base64'),
  );
}
