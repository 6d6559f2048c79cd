/** pcap and pcapng writers: round trips through our reader, tshark and capinfos; determinism. */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CaptureBatch, openCapture } from '../../../src/io/capture-reader.js';
import { PcapReader } from '../../../src/io/pcap-reader.js';
import { PcapWriter } from '../../../src/io/pcap-writer.js';
import { PcapngWriter } from '../../../src/io/pcapng-writer.js';
import { capturePath, hasCaptures, listCaptures, readAll, summary } from './helpers.js';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'sdev-io-wr-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const out = (name: string): string => path.join(tmp, name);
const hasTshark = existsSync('/usr/bin/tshark');
const hasCapinfos = existsSync('/usr/bin/capinfos');

function tshark(file: string, fields: string[]): string[][] {
  const args = ['-r', file, '-T', 'fields', '-E', 'separator=|'];
  for (const f of fields) args.push('-e', f);
  const text = execFileSync('/usr/bin/tshark', args, {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  return text
    .split('\n')
    .filter((l) => l.length > 0)
    .map((l) => l.split('|'));
}

function frame(n: number, seed: number): Uint8Array {
  const f = new Uint8Array(n);
  for (let i = 0; i < n; i++) f[i] = (i * 31 + seed) & 0xff;
  return f;
}

/** Copies a capture through a writer, batch by batch. */
function copyPcap(src: string, dst: string, nano: boolean, bufferSize?: number): void {
  const r = openCapture(src, { chunkSize: 4096 }) as PcapReader;
  const w = new PcapWriter(dst, {
    linkType: r.linkTypeField,
    snaplen: r.interfaces[0]!.snaplen,
    nano,
    bufferSize,
  });
  const b = new CaptureBatch(32);
  while (r.next(b) > 0) w.writeBatch(b);
  w.close();
  r.close();
}

function copyPcapng(src: string, dst: string): void {
  const r = openCapture(src);
  const b = new CaptureBatch(32);
  const w = new PcapngWriter(dst, {
    interfaces: r.interfaces.map((i) => ({ linkType: i.linkType, snaplen: i.snaplen, name: i.name })),
  });
  while (r.next(b) > 0) w.writeBatch(b);
  w.close();
  r.close();
}

describe.skipIf(!hasCaptures)('round trip of every shared capture', () => {
  for (const rel of listCaptures()) {
    it(`${rel} -> pcap and pcapng: identical records`, () => {
      const orig = readAll(capturePath(rel));
      if (orig.format === 'pcap') {
        const nano = orig.interfaces[0]!.tsResolution === 1e9;
        const p = out(`${path.basename(rel)}.rt.pcap`);
        copyPcap(capturePath(rel), p, nano, 4096);
        expect(summary(readAll(p).records)).toEqual(summary(orig.records));
        const srcBytes = readFileSync(capturePath(rel));
        if (srcBytes.readUInt32LE(0) === (nano ? 0xa1b23c4d : 0xa1b2c3d4)) {
          // Little-endian source with zero thiszone/sigfigs: the whole file is reproduced.
          expect(Buffer.compare(readFileSync(p), srcBytes)).toBe(0);
        }
      }
      const ng = out(`${path.basename(rel)}.rt.pcapng`);
      copyPcapng(capturePath(rel), ng);
      const back = readAll(ng);
      expect(back.error).toBeNull();
      expect(summary(back.records)).toEqual(summary(orig.records));
      expect(back.interfaces.map((i) => i.linkType)).toEqual(orig.interfaces.map((i) => i.linkType));
    });
  }

  it.skipIf(!hasTshark)('tshark reads our pcapng copy of wikipedia.pcap like the original', () => {
    const ng = out('wiki.pcapng');
    copyPcapng(capturePath('zeek/wikipedia.pcap'), ng);
    const fields = ['frame.time_epoch', 'frame.len', 'frame.cap_len', 'frame.protocols'];
    expect(tshark(ng, fields)).toEqual(tshark(capturePath('zeek/wikipedia.pcap'), fields));
  });
});

describe('pcapng writer', () => {
  function writeSample(file: string): void {
    const w = new PcapngWriter(file, {
      interfaces: [
        { linkType: 1, name: 'client0' },
        { linkType: 1, name: 'server0', tsResolution: 6 },
      ],
    });
    w.write(frame(60, 1), 0, 60, 1700000000, 123456789, 0, 'forwarded port=server0');
    w.write(frame(98, 2), 0, 98, 1700000000, 223456789, 1);
    w.write(frame(71, 3), 0, 71, 1700000001, 5, 0, 'drop: no-session — ünïcode');
    w.newSection([{ linkType: 113, name: 'any' }, { linkType: 276 }, { linkType: 101 }]);
    w.write(frame(44, 4), 0, 44, 1700000002, 999999999, 2, 'drop: policy-deny');
    w.write(frame(3000, 5), 0, 3000, 1700000003, 0, 1, undefined, 4000);
    w.close();
  }

  it('writes two sections with several interfaces; our reader numbers them globally', () => {
    const f = out('two-sections.pcapng');
    writeSample(f);
    const res = readAll(f);
    expect(res.error).toBeNull();
    expect(res.interfaces.map((i) => [i.linkType, i.name ?? '', i.section, i.tsResolution])).toEqual([
      [1, 'client0', 0, 1e9],
      [1, 'server0', 0, 1e6],
      [113, 'any', 1, 1e9],
      [276, '', 1, 1e9],
      [101, '', 1, 1e9],
    ]);
    expect(
      res.records.map((r) => [r.ifIndex, r.linkType, r.tsSec, r.tsNsec, r.caplen, r.origlen, r.comment]),
    ).toEqual([
      [0, 1, 1700000000, 123456789, 60, 60, 'forwarded port=server0'],
      [1, 1, 1700000000, 223456000, 98, 98, undefined],
      [0, 1, 1700000001, 5, 71, 71, 'drop: no-session — ünïcode'],
      [4, 101, 1700000002, 999999999, 44, 44, 'drop: policy-deny'],
      [3, 276, 1700000003, 0, 3000, 4000, undefined],
    ]);
    expect(Buffer.compare(res.records[4]!.data, Buffer.from(frame(3000, 5)))).toBe(0);
  });

  it('is deterministic: same input, byte-identical file, no host or time in the SHB', () => {
    writeSample(out('a.pcapng'));
    writeSample(out('b.pcapng'));
    const a = readFileSync(out('a.pcapng'));
    expect(Buffer.compare(a, readFileSync(out('b.pcapng')))).toBe(0);
    expect(a.includes(Buffer.from(os.hostname()))).toBe(false);
    expect(a.length % 4).toBe(0);
  });

  it.skipIf(!hasTshark)('tshark shows the comments, interfaces and timestamps', () => {
    const f = out('tshark.pcapng');
    writeSample(f);
    const rows = tshark(f, [
      'frame.number',
      'frame.time_epoch',
      'frame.len',
      'frame.cap_len',
      'frame.comment',
    ]);
    expect(rows).toEqual([
      ['1', '1700000000.123456789', '60', '60', 'forwarded port=server0'],
      ['2', '1700000000.223456000', '98', '98', ''],
      ['3', '1700000001.000000005', '71', '71', 'drop: no-session — ünïcode'],
      ['4', '1700000002.999999999', '44', '44', 'drop: policy-deny'],
      ['5', '1700000003.000000000', '4000', '3000', ''],
    ]);
  });

  it.skipIf(!hasCapinfos)('capinfos accepts the files', () => {
    const f = out('capinfos.pcapng');
    writeSample(f);
    const text = execFileSync('/usr/bin/capinfos', ['-c', f], { encoding: 'utf8' });
    expect(text).toMatch(/Number of packets:\s+5/);
    const p = out('capinfos.pcap');
    const w = new PcapWriter(p, { nano: true, linkType: 276 });
    w.write(frame(60, 9), 0, 60, 1, 2);
    w.close();
    expect(execFileSync('/usr/bin/capinfos', ['-c', p], { encoding: 'utf8' })).toMatch(
      /Number of packets:\s+1/,
    );
  });
});

describe('pcap writer', () => {
  it('micro and nano, snaplen cut, records bigger than the write buffer', () => {
    for (const nano of [false, true]) {
      const f = out(`w-${nano}.pcap`);
      const w = new PcapWriter(f, { nano, snaplen: 5000, linkType: 113, bufferSize: 4096 });
      w.write(frame(60, 1), 0, 60, 1700000000, 123456789);
      w.write(frame(9000, 2), 100, 8000, 1700000001, 1000, 9999);
      w.close();
      const res = readAll(f);
      expect(res.interfaces[0]).toMatchObject({
        linkType: 113,
        snaplen: 5000,
        tsResolution: nano ? 1e9 : 1e6,
      });
      expect(res.records.map((r) => [r.tsSec, r.tsNsec, r.caplen, r.origlen])).toEqual([
        [1700000000, nano ? 123456789 : 123456000, 60, 60],
        [1700000001, 1000, 5000, 9999],
      ]);
      expect(Buffer.compare(res.records[1]!.data, Buffer.from(frame(9000, 2).subarray(100, 5100)))).toBe(0);
      if (hasTshark) expect(tshark(f, ['frame.cap_len'])).toEqual([['60'], ['5000']]);
    }
  });
});
