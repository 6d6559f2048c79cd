/**
 * Capture-file read speed: our streaming pcap reader vs `pcap-parser` on the same generated
 * ~1,000,000-packet pcap (64-200-byte Ethernet/IPv4/TCP frames), medians over rounds, same run.
 * `npx tsx bench/run.ts capture`
 */
import { rmSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { CaptureBatch, openCapture } from '../src/io/capture-reader.js';
import { PcapWriter } from '../src/io/pcap-writer.js';
import { fmt, medianOf, mpps } from './util.js';

const PACKETS = 1_000_000;

interface PcapParser {
  parse(file: string): { on(ev: string, fn: (...args: unknown[]) => void): void };
}
const pcapParser = createRequire(import.meta.url)('pcap-parser') as PcapParser;

/** Writes PACKETS Ethernet/IPv4/TCP frames of 64..200 bytes. */
function generate(file: string): void {
  const w = new PcapWriter(file, { linkType: 1, bufferSize: 4 << 20 });
  const f = new Uint8Array(200);
  const v = new DataView(f.buffer);
  f.set([0x02, 0, 0, 0, 0, 1, 0x02, 0, 0, 0, 0, 2, 0x08, 0x00], 0);
  for (let i = 0; i < PACKETS; i++) {
    const len = 64 + ((i * 7919) % 137);
    v.setUint8(14, 0x45);
    v.setUint16(16, len - 14);
    v.setUint8(22, 64);
    v.setUint8(23, 6);
    v.setUint32(26, 0x0a000102);
    v.setUint32(30, 0x0a00020b + (i & 1));
    v.setUint16(34, 10000 + (i % 50000));
    v.setUint16(36, 80);
    v.setUint32(38, i);
    v.setUint8(46, 0x50);
    v.setUint8(47, 0x18);
    w.write(f, 0, len, 1700000000 + Math.floor(i / 100000), (i % 100000) * 10000);
  }
  w.close();
}

function readOurs(file: string): number {
  const t0 = process.hrtime.bigint();
  const r = openCapture(file);
  const b = new CaptureBatch(256);
  let n = 0;
  let bytes = 0;
  while (r.next(b) > 0) {
    n += b.count;
    for (let i = 0; i < b.count; i++) bytes += b.caplen[i]!; // touch each record
  }
  r.close();
  const dt = process.hrtime.bigint() - t0;
  if (n !== PACKETS || bytes === 0 || r.error) throw new Error(`ours read ${n} packets: ${r.error?.message}`);
  return mpps(n, dt);
}

function readPcapParser(file: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    let n = 0;
    const p = pcapParser.parse(file);
    p.on('packet', () => n++);
    p.on('error', (e) => reject(e as Error));
    p.on('end', () => {
      const dt = process.hrtime.bigint() - t0;
      if (n !== PACKETS) reject(new Error(`pcap-parser read ${n} packets`));
      else resolve(mpps(n, dt));
    });
  });
}

export async function run(): Promise<void> {
  const file = path.join(os.tmpdir(), `sdev-capture-bench-${process.pid}.pcap`);
  try {
    generate(file);
    const mb = statSync(file).size / 1e6;
    console.log(`file: ${PACKETS} packets, ${fmt(mb, 1)} MB (${file})`);
    const ours = await medianOf(5, () => readOurs(file));
    const theirs = await medianOf(3, () => readPcapParser(file));
    console.log(`sdev openCapture/next (batch 256): ${fmt(ours)} Mpps (median of 5)`);
    console.log(`pcap-parser (baseline):            ${fmt(theirs)} Mpps (median of 3)`);
    console.log(`ratio: ${fmt(ours / theirs, 1)}x`);
  } finally {
    rmSync(file, { force: true });
  }
}
