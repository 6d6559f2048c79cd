/** Bad and unusual files: libpcap's reject cases, truncation, corrupt lengths, pcapng corner cases. */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CaptureError, openCapture } from '../../../src/io/capture-reader.js';
import { block, capturePath, epb, hasCaptures, idb, opt, readAll, shb, summary, u32s } from './helpers.js';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'sdev-io-err-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
let seq = 0;
function file(bytes: Uint8Array): string {
  const p = path.join(tmp, `f${seq++}`);
  writeFileSync(p, bytes);
  return p;
}
function openError(p: string): CaptureError {
  try {
    openCapture(p).close();
  } catch (e) {
    expect(e).toBeInstanceOf(CaptureError);
    return e as CaptureError;
  }
  throw new Error('expected openCapture to throw');
}

/** Start offsets of the records of a classic LE pcap, plus the file length. */
function pcapRecordStarts(buf: Buffer): number[] {
  const starts: number[] = [];
  let p = 24;
  while (p < buf.length) {
    starts.push(p);
    p += 16 + buf.readUInt32LE(p + 8);
  }
  return starts;
}

/** Start offsets of the blocks of a LE pcapng file. */
function blockStarts(buf: Buffer): number[] {
  const starts: number[] = [];
  for (let p = 0; p < buf.length; p += buf.readUInt32LE(p + 4)) starts.push(p);
  return starts;
}

const frame = (n: number, fill = 0x5a): Buffer => Buffer.alloc(n, fill);

describe.skipIf(!hasCaptures)("libpcap's reject cases", () => {
  it('pcap-invalid-version-1.pcap: unsupported version 1.4', () => {
    const e = openError(capturePath('libpcap/pcap-invalid-version-1.pcap'));
    expect(e.message).toMatch(/unsupported pcap savefile version 1\.4/);
    expect(e.message).toMatch(/archaic/);
    expect(e.offset).toBe(4);
  });

  it('pcapng-invalid-vers-1.pcapng: unsupported version 0.1', () => {
    const e = openError(capturePath('libpcap/pcapng-invalid-vers-1.pcapng'));
    expect(e.message).toMatch(/unsupported pcapng savefile version 0\.1/);
    expect(e.offset).toBe(0);
  });

  it("shb-option-too-long.pcapng: header and trailer lengths don't match", () => {
    const e = openError(capturePath('libpcap/shb-option-too-long.pcapng'));
    expect(e.message).toMatch(/block total length in header 52 and trailer 808464432 don't match/);
    expect(e.offset).toBe(0);
  });
});

describe('bad headers (generated)', () => {
  const pcapHeader = (major: number, minor: number, lt: number): Buffer =>
    u32s([0xa1b2c3d4, major | (minor << 16), 0, 0, 65535, lt]);

  it('pcap version 2.5 and 1.4 refused, 2.4 accepted', () => {
    expect(openError(file(pcapHeader(2, 5, 1))).message).toMatch(/version 2\.5/);
    expect(openError(file(pcapHeader(1, 4, 1))).message).toMatch(/version 1\.4 \(archaic/);
    expect(readAll(file(pcapHeader(2, 4, 1))).records).toHaveLength(0);
  });

  it('pcap link-type reserved bits set', () => {
    const e = openError(file(pcapHeader(2, 4, 0x00300001)));
    expect(e.message).toMatch(/linktype reserved field not zero \(0x00300000\)/);
    expect(e.offset).toBe(20);
  });

  it('unknown magic, empty file, short header', () => {
    expect(openError(file(Buffer.from('GIF89a-not-a-capture'))).message).toMatch(
      /unknown file format: magic 0x47494638/,
    );
    expect(openError(file(Buffer.alloc(0))).message).toMatch(/too short/);
    expect(openError(file(Buffer.from([0xd4, 0xc3, 0xb2, 0xa1, 2, 0]))).message).toMatch(
      /truncated pcap file header/,
    );
  });

  it('pcapng version 1.1 refused (as libpcap), 1.2 accepted', () => {
    expect(openError(file(shb(true, 1, 1))).message).toMatch(/unsupported pcapng savefile version 1\.1/);
    expect(readAll(file(Buffer.concat([shb(true, 1, 2), idb(1, 0)]))).error).toBeNull();
  });

  it('pcapng bad byte-order magic', () => {
    const b = shb();
    b.writeUInt32LE(0x12345678, 8);
    expect(openError(file(b)).message).toMatch(/byte-order magic/);
  });
});

describe.skipIf(!hasCaptures)('truncated files', () => {
  const src = readFileSync(capturePath('tcpreplay/test.pcap'));
  const starts = pcapRecordStarts(src);

  it('pcap cut at many offsets: records before the cut delivered, error at the cut record', () => {
    const cuts = [
      starts[0]! + 3,
      starts[1]!,
      starts[5]! + 15,
      starts[5]! + 16,
      starts[50]! + 40,
      src.length - 1,
    ];
    for (const cut of cuts) {
      for (const chunkSize of [64, 1000, 4 << 20]) {
        const res = readAll(file(src.subarray(0, cut)), { chunkSize }, 16);
        const whole = starts.filter((s, i) => (starts[i + 1] ?? src.length) <= cut && s < cut).length;
        expect(res.records.length, `cut ${cut}`).toBe(whole);
        if (starts.includes(cut)) {
          expect(res.error).toBeNull();
        } else {
          expect(res.error).toBeInstanceOf(CaptureError);
          expect((res.error as CaptureError).offset).toBe(starts[whole]);
          expect(res.error!.message).toMatch(/truncated record/);
        }
      }
    }
  });

  it('absurd caplen is reported as corrupt with its offset', () => {
    const b = Buffer.from(src);
    b.writeUInt32LE(0x7fffffff, starts[3]! + 8);
    const res = readAll(file(b));
    expect(res.records).toHaveLength(3);
    expect(res.error!.message).toMatch(/corrupt record: captured length 2147483647/);
    expect((res.error as CaptureError).offset).toBe(starts[3]);
  });

  it('pcapng cut at many offsets', () => {
    const ng = readFileSync(capturePath('zeek/pcapng-multi-interface.pcapng'));
    const bs = blockStarts(ng);
    const full = readAll(capturePath('zeek/pcapng-multi-interface.pcapng'));
    for (const cut of [bs[3]!, bs[3]! + 6, bs[4]! + 30, ng.length - 2]) {
      const res = readAll(file(ng.subarray(0, cut)), { chunkSize: 128 }, 2);
      const whole = bs.filter((_s, i) => (bs[i + 1] ?? ng.length) <= cut).length;
      const pkts = whole - 3; // SHB + 2 IDBs precede the packets
      expect(summary(res.records)).toEqual(summary(full.records.slice(0, pkts)));
      if (bs.includes(cut)) expect(res.error).toBeNull();
      else expect((res.error as CaptureError).offset).toBe(bs[whole]);
    }
  });
});

describe('pcapng blocks (generated)', () => {
  const head = Buffer.concat([shb(), idb(1, 65535)]);

  it('trailer mismatch in a packet block: error with the block offset, earlier packets kept', () => {
    const bad = epb(0, 0, 1, frame(60));
    bad.writeUInt32LE(999, bad.length - 4);
    const f = Buffer.concat([head, epb(0, 0, 0, frame(60)), bad, epb(0, 0, 2, frame(60))]);
    const res = readAll(file(f));
    expect(res.records).toHaveLength(1);
    expect(res.error!.message).toMatch(/header 92 and trailer 999 don't match/);
    expect((res.error as CaptureError).offset).toBe(head.length + 92);
  });

  it('total length not a multiple of 4, or too small', () => {
    for (const len of [13, 8, 0x7ffffff0]) {
      const b = epb(0, 0, 0, frame(60));
      b.writeUInt32LE(len, 4);
      const res = readAll(file(Buffer.concat([head, b])));
      expect(res.records).toHaveLength(0);
      expect(res.error!.message).toMatch(
        len === 13 || len === 8 ? /bad total length/ : /bad total length|truncated/,
      );
      expect((res.error as CaptureError).offset).toBe(head.length);
    }
  });

  it('option running past the block', () => {
    const o = Buffer.from(opt(2, Buffer.from('eth0')));
    o.writeUInt16LE(200, 2);
    const res = readAll(file(Buffer.concat([shb(), idb(1, 0, true, o)])));
    expect(res.error!.message).toMatch(/option 2 of length 200 extends past the end of its block/);
    expect((res.error as CaptureError).offset).toBe(28 + 16);
  });

  it('EPB caplen past the block, and a packet for an unknown interface', () => {
    const b = epb(0, 0, 0, frame(60));
    b.writeUInt32LE(500, 20);
    expect(readAll(file(Buffer.concat([head, b]))).error!.message).toMatch(/captured length 500 is larger/);
    const u = readAll(file(Buffer.concat([head, epb(3, 0, 0, frame(60))])));
    expect(u.error!.message).toMatch(/packet for interface 3, but the section has 1/);
  });

  it('unknown blocks and unknown options are skipped', () => {
    const f = Buffer.concat([
      shb(true, 1, 0, Buffer.concat([opt(0x7777, Buffer.from('zz')), opt(0, Buffer.alloc(0))])),
      block(0x40000bad, Buffer.from('custom block')),
      idb(1, 65535, true, Buffer.concat([opt(99, Buffer.from('abc')), opt(2, Buffer.from('lan0'))])),
      block(4, Buffer.alloc(20)), // NRB
      epb(
        0,
        0,
        1000,
        frame(61),
        true,
        Buffer.concat([opt(2, u32s([1])), opt(1, Buffer.from('hi')), opt(0, Buffer.alloc(0))]),
      ),
      block(5, Buffer.alloc(16)), // ISB
      block(0x0bad, Buffer.alloc(0)),
      epb(0, 0, 2000, frame(62)),
    ]);
    const res = readAll(file(f), { chunkSize: 64 }, 1);
    expect(res.error).toBeNull();
    expect(res.interfaces[0]!.name).toBe('lan0');
    expect(res.records.map((r) => [r.caplen, r.tsSec, r.tsNsec, r.comment])).toEqual([
      [61, 0, 1_000_000, 'hi'],
      [62, 0, 2_000_000, undefined],
    ]);
  });

  it('SPB (caplen = min(origlen, snaplen, room)) and obsolete PB', () => {
    const spb = (orig: number, data: Buffer): Buffer => block(3, Buffer.concat([u32s([orig]), data]));
    const pbBody = Buffer.concat([Buffer.from([0, 0, 0, 0]), u32s([0, 5_000_000, 40, 40]), frame(40)]);
    const f = Buffer.concat([
      shb(),
      idb(1, 50),
      spb(60, frame(60)), // cut to snaplen 50
      spb(30, frame(32)), // origlen 30 < room 32
      spb(100, frame(40)), // room 40
      block(2, pbBody),
    ]);
    const res = readAll(file(f));
    expect(res.error).toBeNull();
    expect(res.records.map((r) => [r.caplen, r.origlen])).toEqual([
      [50, 60],
      [30, 30],
      [40, 100],
      [40, 40],
    ]);
    expect(res.records[3]!.tsSec).toBe(5);
  });

  it('big-endian section, if_tsresol 2^-20, ms resolution, if_tsoffset, global ifIndex across sections', () => {
    const be = false;
    const f = Buffer.concat([
      shb(be),
      idb(1, 0, be, opt(9, Buffer.from([0x80 | 20]), be)),
      idb(
        113,
        0,
        be,
        Buffer.concat([opt(9, Buffer.from([3]), be), opt(14, Buffer.from([0, 0, 0, 0, 0, 0, 0, 10]), be)]),
      ),
      epb(0, 0, 3 * 2 ** 20 + 2 ** 19, frame(60), be), // 3.5 s
      epb(1, 0, 1234, frame(60), be), // 1.234 s + 10 s offset
      shb(true),
      idb(276, 0),
      epb(0, 0x17, 0x4876e800, frame(60)), // 100000000000 us = 100000 s
    ]);
    const res = readAll(file(f));
    expect(res.error).toBeNull();
    expect(res.interfaces.map((i) => [i.linkType, i.tsResolution, i.section])).toEqual([
      [1, 2 ** 20, 0],
      [113, 1000, 0],
      [276, 1e6, 1],
    ]);
    expect(res.records.map((r) => [r.ifIndex, r.linkType, r.tsSec, r.tsNsec])).toEqual([
      [0, 1, 3, 500_000_000],
      [1, 113, 11, 234_000_000],
      [2, 276, 100000, 0],
    ]);
  });
});
