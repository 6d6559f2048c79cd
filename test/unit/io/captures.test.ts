/** Every shared third-party capture read with our reader and checked against tshark's field dumps. */
import { describe, expect, it } from 'vitest';
import { openCapture, recordTimeMs, CaptureBatch } from '../../../src/io/capture-reader.js';
import {
  capturePath,
  epochString,
  hasCaptures,
  listCaptures,
  readAll,
  summary,
  tsharkFields,
  WTAP_TO_LINKTYPE,
} from './helpers.js';

describe.skipIf(!hasCaptures)('shared captures vs tshark', () => {
  const files = listCaptures();

  it('finds the captures', () => {
    expect(files.length).toBeGreaterThanOrEqual(35);
  });

  for (const rel of files) {
    it(`${rel}: count, lengths, timestamps, link type`, () => {
      const rows = tsharkFields(rel);
      const res = readAll(capturePath(rel));
      expect(res.error).toBeNull();
      expect(res.format).toBe(rel.endsWith('.pcapng') ? 'pcapng' : 'pcap');
      expect(res.records.length).toBe(rows.length);
      res.records.forEach((r, i) => {
        const row = rows[i]!;
        expect(r.caplen, `frame ${i + 1} caplen`).toBe(row.caplen);
        expect(r.origlen, `frame ${i + 1} len`).toBe(row.len);
        expect(r.data.length).toBe(r.caplen);
        expect(epochString(r.tsSec, r.tsNsec), `frame ${i + 1} time`).toBe(row.timeEpoch);
        expect(r.linkType).toBe(WTAP_TO_LINKTYPE[row.encap]);
        if (res.format === 'pcapng') expect(String(r.ifIndex)).toBe(row.interfaceId);
        else expect(r.ifIndex).toBe(0);
      });
    });

    it(`${rel}: same records with a 64-byte chunk (straddles, growth) and batches of 3`, () => {
      const big = readAll(capturePath(rel));
      const small = readAll(capturePath(rel), { chunkSize: 64 }, 3);
      expect(small.error).toBeNull();
      expect(summary(small.records)).toEqual(summary(big.records));
    });
  }

  it('zeek/pcapng-multi-interface.pcapng: two IDBs with names and resolutions', () => {
    const res = readAll(capturePath('zeek/pcapng-multi-interface.pcapng'));
    expect(res.interfaces.map((i) => [i.linkType, i.name, i.tsResolution, i.section])).toEqual([
      [1, 'eth0', 1e9, 0],
      [1, '\\Device\\NPF_{5AE6EDB4-EFF9-46B3-A3C2-EE50C688A9E6}', 1e6, 0],
    ]);
    expect(new Set(res.records.map((r) => r.ifIndex))).toEqual(new Set([0, 1]));
  });

  it('tcpdump/empty.pcapng: interface known at open, no records', () => {
    const r = openCapture(capturePath('tcpdump/empty.pcapng'));
    expect(r.interfaces).toHaveLength(1);
    expect(r.interfaces[0]!.linkType).toBe(1);
    expect(r.next(new CaptureBatch())).toBe(0);
    expect(r.error).toBeNull();
    r.close();
  });

  it('masks FCS bits of the pcap link-type field (gre-heapoverflow-1: 0x30000001)', () => {
    const res = readAll(capturePath('tcpdump/gre-heapoverflow-1.pcap'));
    expect(res.interfaces[0]!.linkType).toBe(1);
    expect(res.records.every((r) => r.linkType === 1)).toBe(true);
  });

  it('recordTimeMs gives the device clock in ms', () => {
    const r = openCapture(capturePath('tcpdump/tcp-handshake-nano.pcap'));
    const b = new CaptureBatch(4);
    expect(r.next(b)).toBe(3);
    expect(recordTimeMs(b, 0) - 1418145369924).toBeCloseTo(0.505488, 3);
    expect(b.tsNsec[0]).toBe(924505488);
    r.close();
  });
});
