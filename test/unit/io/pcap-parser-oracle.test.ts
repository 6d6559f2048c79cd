/** pcap-parser as the oracle: for every classic pcap, both readers yield identical records. */
import { describe, expect, it } from 'vitest';
import { capturePath, hasCaptures, listCaptures, readAll, readWithPcapParser } from './helpers.js';

describe.skipIf(!hasCaptures)('our pcap reader vs pcap-parser', () => {
  const classic = listCaptures().filter((f) => !f.endsWith('.pcapng'));

  for (const rel of classic) {
    it(`${rel}`, async () => {
      const ours = readAll(capturePath(rel), { chunkSize: 256 }, 7);
      const oracle = await readWithPcapParser(capturePath(rel));
      expect(ours.error).toBeNull();
      if (rel.endsWith('tcp-handshake-nano.pcap')) {
        // pcap-parser only knows the microsecond magic: it refuses a nanosecond file.
        expect(oracle.error?.message).toMatch(/unknown magic number/);
        return;
      }
      expect(oracle.error).toBeNull();
      expect(ours.interfaces[0]!.linkType).toBe(oracle.linkType & 0xffff);
      expect(ours.records.length).toBe(oracle.packets.length);
      ours.records.forEach((r, i) => {
        const p = oracle.packets[i]!;
        expect(r.caplen).toBe(p.header.capturedLength);
        expect(r.origlen).toBe(p.header.originalLength);
        expect(r.tsSec).toBe(p.header.timestampSeconds);
        expect(r.tsNsec).toBe(p.header.timestampMicroseconds * 1000);
        expect(r.linkType).toBe(oracle.linkType & 0xffff);
        expect(Buffer.compare(r.data, p.data), `frame ${i + 1} bytes`).toBe(0);
      });
    });
  }
});
