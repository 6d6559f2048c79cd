/** CaptureMerge: records of several capture files in time order, streaming. */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openCapture } from '../../../src/io/capture-reader.js';
import { CaptureMerge } from '../../../src/replay/merge.js';
import { writeCapture } from '../../support/capture.js';
import { udpFrame, type TimedFrame } from '../../support/conv.js';
import { writePairPcapng } from '../../support/ha-captures.js';

const tmp = mkdtempSync(join(tmpdir(), 'sdev-merge-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** A frame whose UDP source port says which one it is. */
function tagged(t: number, tag: number): TimedFrame {
  return { t, frame: udpFrame('10.0.1.2', tag, '10.0.2.11', 9, 4) };
}

/** Every record of the merge as [source, tag, seconds, nanoseconds]. */
function drain(paths: string[], batch = 2): [number, number, number, number][] {
  const readers = paths.map((p) => openCapture(p, { chunkSize: 64 }));
  const m = new CaptureMerge(readers, batch);
  const out: [number, number, number, number][] = [];
  while (m.next()) {
    const b = m.batch;
    const i = m.index;
    const off = b.off[i]!;
    const tag = (b.buf[off + 34]! << 8) | b.buf[off + 35]!;
    out.push([m.source, tag, b.tsSec[i]!, b.tsNsec[i]!]);
  }
  expect(m.records).toBe(out.length);
  for (const r of readers) r.close();
  return out;
}

describe('CaptureMerge', () => {
  it('interleaves files by time, across batch refills, equal times in file order', () => {
    const a = [0.1, 0.2, 0.2, 0.5, 0.9, 1.5, 1.6, 1.7].map((t, i) => tagged(t, 100 + i));
    const b = [0.15, 0.2, 0.3, 0.31, 0.32, 2.0].map((t, i) => tagged(t, 200 + i));
    const c = [0.05, 1.0000001].map((t, i) => tagged(t, 300 + i));
    const pa = join(tmp, 'a.pcap');
    const pb = join(tmp, 'b.pcap');
    const pc = join(tmp, 'c.pcap');
    writeCapture(pa, a);
    writeCapture(pb, b);
    writeCapture(pc, c);
    const got = drain([pa, pb, pc]);
    expect(got.map((r) => r[1])).toEqual([
      300, 100, 200, 101, 102, 201, 202, 203, 204, 103, 104, 301, 105, 106, 107, 205,
    ]);
    for (let i = 1; i < got.length; i++) {
      const [, , s0, n0] = got[i - 1]!;
      const [, , s1, n1] = got[i]!;
      expect(s1 > s0 || (s1 === s0 && n1 >= n0)).toBe(true);
    }
    expect(got.map((r) => r[0])).toEqual([2, 0, 1, 0, 0, 1, 1, 1, 1, 0, 0, 2, 0, 0, 0, 1]);
  });

  it('keeps file order within a file whose times go backwards, and goes on after an empty file', () => {
    const pa = join(tmp, 'back.pcap');
    writeCapture(pa, [tagged(1.0, 1), tagged(0.5, 2), tagged(1.2, 3)]);
    const pe = join(tmp, 'empty.pcap');
    writeCapture(pe, []);
    const pb = join(tmp, 'b2.pcap');
    writeCapture(pb, [tagged(0.7, 4), tagged(1.1, 5)]);
    expect(drain([pa, pe, pb], 1).map((r) => r[1])).toEqual([4, 1, 2, 5, 3]);
  });

  it('a truncated file ends its part with the reader error set; the others go on', () => {
    const pa = join(tmp, 'trunc.pcap');
    writeCapture(pa, [tagged(0.1, 1), tagged(0.3, 2), tagged(0.5, 3)]);
    const bytes = readFileSync(pa);
    writeFileSync(pa, bytes.subarray(0, bytes.length - 10));
    const pb = join(tmp, 'ok.pcap');
    writeCapture(pb, [tagged(0.2, 4), tagged(0.6, 5)]);
    const readers = [openCapture(pa), openCapture(pb)];
    const m = new CaptureMerge(readers);
    const tags: number[] = [];
    while (m.next()) tags.push(m.batch.buf[m.batch.off[m.index]! + 35]!);
    expect(tags).toEqual([1, 4, 2, 5]);
    expect(readers[0]!.error?.message).toMatch(/byte offset/);
    expect(readers[1]!.error).toBeNull();
    for (const r of readers) r.close();
  });

  it('reads the records of a pcapng with several interfaces in file order with their interface numbers', () => {
    const p = join(tmp, 'two.pcapng');
    writePairPcapng(p, [
      { name: 'fw1', frames: [tagged(0.1, 1), tagged(0.3, 3)] },
      { name: 'fw2', frames: [tagged(0.2, 2)] },
    ]);
    const r = openCapture(p);
    const m = new CaptureMerge([r]);
    const seen: [number, number][] = [];
    while (m.next()) seen.push([m.batch.buf[m.batch.off[m.index]! + 35]!, m.batch.ifIndex[m.index]!]);
    expect(seen).toEqual([
      [1, 0],
      [2, 1],
      [3, 0],
    ]);
    expect(r.interfaces.map((i) => i.name)).toEqual(['fw1', 'fw2']);
    r.close();
  });
});
