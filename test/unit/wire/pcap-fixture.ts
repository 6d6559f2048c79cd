/** Test helper: reads and writes classic pcap files (not the project's reader, which lives in src/io/). */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const CAPTURES = fileURLToPath(new URL('../../../../shared/captures/', import.meta.url));
export const HAVE_CAPTURES = existsSync(CAPTURES + 'MANIFEST.txt');

export interface PcapRecord {
  /** The whole file's bytes; the frame is data[off, off+caplen). */
  data: Uint8Array;
  off: number;
  caplen: number;
  origLen: number;
}

export interface PcapFile {
  linkType: number;
  records: PcapRecord[];
}

export function parsePcap(data: Uint8Array): PcapFile {
  const dv = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const magic = dv.getUint32(0, true);
  let le: boolean;
  if (magic === 0xa1b2c3d4 || magic === 0xa1b23c4d) le = true;
  else if (magic === 0xd4c3b2a1 || magic === 0x4d3cb2a1) le = false;
  else throw new Error('not a classic pcap file');
  const linkType = dv.getUint32(20, le) & 0xffff;
  const records: PcapRecord[] = [];
  let o = 24;
  while (o + 16 <= data.length) {
    const caplen = dv.getUint32(o + 8, le);
    const origLen = dv.getUint32(o + 12, le);
    const off = o + 16;
    if (off + caplen > data.length) break;
    records.push({ data, off, caplen, origLen });
    o = off + caplen;
  }
  return { linkType, records };
}

export function readCapture(rel: string): PcapFile {
  return parsePcap(new Uint8Array(readFileSync(CAPTURES + rel)));
}

/** Parses `<dir>/tshark/<file>.fields.tsv` into rows keyed by column name (first line is the command). */
export function readFields(rel: string): Record<string, string>[] {
  const slash = rel.lastIndexOf('/');
  const path = `${CAPTURES}${rel.slice(0, slash)}/tshark/${rel.slice(slash + 1)}.fields.tsv`;
  const lines = readFileSync(path, 'utf8')
    .split('\n')
    .filter((l) => l.length > 0 && !l.startsWith('#'));
  const head = lines[0]!.split('\t');
  return lines.slice(1).map((l) => {
    const cols = l.split('\t');
    const row: Record<string, string> = {};
    head.forEach((h, i) => (row[h] = cols[i] ?? ''));
    return row;
  });
}

/** Writes frames as a little-endian microsecond pcap file. */
export function writePcap(path: string, frames: Uint8Array[], linkType = 1): void {
  let size = 24;
  for (const f of frames) size += 16 + f.length;
  const out = new Uint8Array(size);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, 0xa1b2c3d4, true);
  dv.setUint16(4, 2, true);
  dv.setUint16(6, 4, true);
  dv.setUint32(16, 262144, true);
  dv.setUint32(20, linkType, true);
  let o = 24;
  frames.forEach((f, i) => {
    dv.setUint32(o, 1700000000 + i, true);
    dv.setUint32(o + 8, f.length, true);
    dv.setUint32(o + 12, f.length, true);
    out.set(f, o + 16);
    o += 16 + f.length;
  });
  writeFileSync(path, out);
}
