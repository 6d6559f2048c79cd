/** Flat memory: streaming a ~200 MB generated pcap keeps RSS and heap growth small. */
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CaptureBatch, openCapture } from '../../../src/io/capture-reader.js';
import { PcapWriter } from '../../../src/io/pcap-writer.js';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'sdev-io-mem-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('flat memory', () => {
  it('streams a ~200 MB capture with RSS and heap growth under 64 MB', () => {
    const file = path.join(tmp, 'big.pcap');
    const frame = new Uint8Array(1500);
    for (let i = 0; i < frame.length; i++) frame[i] = i & 0xff;
    const packets = 270_000; // 270k x (16 + 64..1400) bytes, about 200 MB
    const w = new PcapWriter(file, { bufferSize: 8 << 20 });
    let expectBytes = 0;
    for (let i = 0; i < packets; i++) {
      const len = 64 + ((i * 7919) % 1337);
      expectBytes += len;
      w.write(frame, 0, len, 1700000000 + (i >> 10), i & 1023);
    }
    w.close();
    expect(statSync(file).size).toBeGreaterThan(190e6);

    const rss0 = process.memoryUsage().rss;
    const heap0 = process.memoryUsage().heapUsed;
    let maxRss = rss0;
    let maxHeap = heap0;
    const r = openCapture(file);
    const b = new CaptureBatch(512);
    let n = 0;
    let bytes = 0;
    let checksum = 0;
    let batches = 0;
    while (r.next(b) > 0) {
      n += b.count;
      for (let i = 0; i < b.count; i++) {
        bytes += b.caplen[i]!;
        checksum += b.buf[b.off[i]! + 63]!;
      }
      if (++batches % 64 === 0) {
        const m = process.memoryUsage();
        if (m.rss > maxRss) maxRss = m.rss;
        if (m.heapUsed > maxHeap) maxHeap = m.heapUsed;
      }
    }
    r.close();
    expect(r.error).toBeNull();
    expect(n).toBe(packets);
    expect(bytes).toBe(expectBytes);
    expect(checksum).toBe(63 * packets);
    expect(maxRss - rss0).toBeLessThan(64 << 20);
    expect(maxHeap - heap0).toBeLessThan(64 << 20);
    rmSync(file);
  }, 20_000);
});
