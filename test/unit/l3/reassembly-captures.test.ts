/**
 * Real captures from ../shared/captures (read in place, skipped when absent).
 */
import { describe, expect, it } from 'vitest';
import {
  FRAG_COMPLETE,
  FRAG_HELD,
  FRAG_MALFORMED,
  Reassembler,
  fragDropName,
} from '../../../src/l3/reassembly.js';
import { Packet } from '../../../src/wire/packet.js';
import { capture, checkWhole, decodeForReassembly, readPcap, sameBytes } from './frag-fixture.js';

interface Replay {
  r: Reassembler;
  codes: number[];
  whole: { frame: Uint8Array; frags: Uint8Array[] }[];
  firstMs: number;
  lastMs: number;
  fragments: number;
}

/** Feed every IP fragment of a capture in order, with its capture time as the clock. */
function replay(file: string, r = new Reassembler()): Replay {
  const { linkType, records } = readPcap(file);
  expect(linkType).toBe(1);
  const pkt = new Packet();
  const out: Replay = { r, codes: [], whole: [], firstMs: -1, lastMs: 0, fragments: 0 };
  for (const rec of records) {
    out.lastMs = rec.tsMs;
    if (!decodeForReassembly(rec.data, 0, rec.data.length, pkt) || !pkt.isFragment) continue;
    out.fragments++;
    if (out.firstMs < 0) out.firstMs = rec.tsMs;
    const code = r.add(pkt, rec.data.length, rec.tsMs);
    out.codes.push(code);
    if (code === FRAG_COMPLETE) {
      const frags: Uint8Array[] = [];
      for (let i = 0; i < r.fragCount; i++)
        frags.push(r.fragBuf.slice(r.fragOff[i], r.fragOff[i] + r.fragLen[i]));
      out.whole.push({ frame: r.datagram.slice(0, r.datagramLen), frags });
    }
  }
  return out;
}

const frag3 = capture('zeek/fragmented-3.pcap');
const v6dns = capture('zeek/ipv6-fragmented-dns.pcap');
const afs = capture('tcpdump/afs.pcap');
const frag1 = capture('zeek/fragmented-1.pcap');
const neg6 = capture('tcpdump/ipv6_frag6_negative_len.pcap');

describe('reassembly on real captures', () => {
  it.skipIf(!frag3)(
    'zeek/fragmented-3: five DF+MF fragments of one TCP segment are held, never complete, expire',
    () => {
      // Every one of the five fragments has MF set (tshark: ip.flags.mf = 1 on all five), so the
      // capture holds only the first 7400 bytes of the segment: the datagram cannot complete and
      // its TCP checksum cannot be checked. It is held and times out.
      const { r, codes, firstMs } = replay(frag3!);
      expect(codes).toEqual([FRAG_HELD, FRAG_HELD, FRAG_HELD, FRAG_HELD, FRAG_HELD]);
      expect(r.stats).toMatchObject({ held: 1, heldFragments: 5, completed: 0 });
      expect(r.stats.heldBytes).toBe(5 * 1536);
      // The timer runs from the first fragment and is not refreshed by later ones.
      expect(r.expire(firstMs + 29999)).toBe(0);
      expect(r.expire(firstMs + 30000)).toBe(1);
      expect(r.stats.dropped['frag-timeout']).toBe(1);
      expect(r.stats.droppedFragments).toBe(5);
    },
  );

  it.skipIf(!v6dns)(
    'zeek/ipv6-fragmented-dns: the 3-fragment DNS response reassembles; the stray expires',
    () => {
      const { r, codes, whole, lastMs } = replay(v6dns!);
      // Frame 4 is a stray last fragment (id 1); frames 6-8 are the response (id 2).
      expect(codes).toEqual([FRAG_HELD, FRAG_HELD, FRAG_HELD, FRAG_COMPLETE]);
      expect(whole).toHaveLength(1);
      const { frame, frags } = whole[0];
      const c = checkWhole(frame, frame.length);
      expect(c).toMatchObject({ ok: true, isFragment: false, version: 6, l4Proto: 17 });
      expect(c.l4Len).toBe(3238); // zeek: ulen=3238
      expect(c.l4ChecksumOk).toBe(true);
      expect(frame.length).toBe(14 + 40 + 3238);
      expect(frame[14 + 6]).toBe(17); // Fragment header gone, next header fixed
      expect(frags.map((f) => f.length)).toEqual([1494, 1494, 436]);
      const { records } = readPcap(v6dns!);
      frags.forEach((f, i) => expect(sameBytes(f, records[5 + i].data)).toBe(true));
      expect(r.stats.held).toBe(1);
      expect(r.expire(lastMs + 30000)).toBe(1);
      expect(r.stats.dropped['frag-timeout']).toBe(1);
    },
  );

  it.skipIf(!afs)(
    'tcpdump/afs: every IPv4 fragment train reassembles to a UDP datagram with a valid checksum',
    () => {
      const { r, codes, whole, fragments } = replay(afs!);
      expect(fragments).toBe(200);
      expect(whole).toHaveLength(51);
      expect(codes.filter((c) => c === FRAG_COMPLETE)).toHaveLength(51);
      expect(codes.every((c) => c === FRAG_HELD || c === FRAG_COMPLETE)).toBe(true);
      expect(whole.reduce((n, w) => n + w.frags.length, 0)).toBe(200);
      for (const { frame } of whole) {
        const c = checkWhole(frame, frame.length);
        expect(c).toMatchObject({ ok: true, isFragment: false, version: 4, l4Proto: 17, ipChecksumOk: true });
        expect(c.l4ChecksumOk).toBe(true);
      }
      expect(r.stats).toMatchObject({ held: 0, heldBytes: 0, completed: 51 });
    },
  );

  it.skipIf(!frag1)('zeek/fragmented-1: inconsistent fragments end in named drops', () => {
    // 1: offset 0, 18 bytes, MF (not a multiple of 8); 2: offset 48, last;
    // 3: offset 0, 304 bytes, MF: a re-sent, bigger first fragment that overlaps 2 and runs past
    // the end 2 fixed (164): inconsistent with the last fragment, so malformed (checked before overlap).
    const { r, codes } = replay(frag1!);
    expect(codes).toEqual([FRAG_MALFORMED, FRAG_HELD, FRAG_MALFORMED]);
    expect(codes.map(fragDropName)).toEqual(['frag-malformed', 'frag-held', 'frag-malformed']);
    expect(r.stats).toMatchObject({ held: 0, completed: 0, droppedFragments: 3 });
  });

  it.skipIf(!neg6)('tcpdump/ipv6_frag6_negative_len: a zero-length IPv6 fragment is refused', () => {
    const { r, codes } = replay(neg6!);
    for (const c of codes) expect(c).toBe(FRAG_MALFORMED);
    expect(r.stats.held).toBe(0);
  });
});
