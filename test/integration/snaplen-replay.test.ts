/**
 * A capture taken with a small snaplen (tcpdump -s 96) replays exactly like
 * the full capture: the device decodes snapped records using their original
 * length, tracks sequence numbers with the wire segment lengths and counts
 * wire bytes. Skipped where ../shared/captures is absent.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import { Device } from '../../src/device/device.js';
import { V_DROPPED } from '../../src/device/verdict.js';
import { CaptureBatch, openCapture } from '../../src/io/capture-reader.js';
import { PcapWriter } from '../../src/io/pcap-writer.js';
import { replay } from '../../src/replay/replay.js';
import { CAPTURES, capture } from '../support/captures.js';

const SNAPLEN = 96;
const tmp = mkdtempSync(join(tmpdir(), 'sdev-snaplen-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const config = () =>
  parseConfig(
    `
zones:
  inside: { networks: [141.142.0.0/16] }
  outside: { default: true }
policy: { rules: [ { from: inside, action: accept } ] }
`,
    'snaplen.yaml',
  );

/** Rewrites `src` into a pcap whose records are cut to `snaplen` bytes, original lengths kept. */
function snapCapture(src: string, dst: string, snaplen: number): { records: number; cut: number } {
  const reader = openCapture(src);
  const batch = new CaptureBatch(64);
  const w = new PcapWriter(dst, { linkType: reader.interfaces[0]?.linkType ?? 1, snaplen, nano: true });
  let records = 0;
  let cut = 0;
  for (let n = reader.next(batch); n > 0; n = reader.next(batch)) {
    for (let i = 0; i < n; i++) {
      const caplen = batch.caplen[i]!;
      const len = caplen < snaplen ? caplen : snaplen;
      if (len < batch.origlen[i]!) cut++;
      w.write(batch.buf, batch.off[i]!, len, batch.tsSec[i]!, batch.tsNsec[i]!, batch.origlen[i]!);
      records++;
    }
  }
  expect(reader.error).toBeNull();
  reader.close();
  w.close();
  return { records, cut };
}

describe.skipIf(!CAPTURES)('replay of a snapped capture', () => {
  it('zeek/get.pcap cut to 96 bytes a record: same verdicts, session, state and counts as the full capture', () => {
    const orig = capture('zeek/get.pcap');
    const cutPath = join(tmp, 'get-s96.pcap');
    const { records, cut } = snapCapture(orig, cutPath, SNAPLEN);
    expect(records).toBe(14);
    expect(cut).toBeGreaterThan(0);

    // The rewritten file really is snapped.
    const r = openCapture(cutPath);
    const b = new CaptureBatch(64);
    const n = r.next(b);
    expect(n).toBe(14);
    let maxCap = 0;
    let snapped = 0;
    for (let i = 0; i < n; i++) {
      maxCap = Math.max(maxCap, b.caplen[i]!);
      if (b.caplen[i]! < b.origlen[i]!) snapped++;
    }
    r.close();
    expect(maxCap).toBeLessThanOrEqual(SNAPLEN);
    expect(snapped).toBe(cut);

    const full = replay({ capture: orig, config: config() });
    const snap = replay({ capture: cutPath, config: config() });

    expect(full.summary).toMatchObject({ packetsIn: 14, forwarded: 14, dropped: 0, sessionsCreated: 1 });
    const pick = (s: typeof full.summary) => ({
      packetsIn: s.packetsIn,
      forwarded: s.forwarded,
      dropped: s.dropped,
      held: s.held,
      dropsByReason: s.dropsByReason,
      sessionsCreated: s.sessionsCreated,
      sessionsExpired: s.sessionsExpired,
      sessionsActive: s.sessionsActive,
      sessionsByProtocol: s.sessionsByProtocol,
      tcpFinalStates: s.tcpFinalStates,
      txByPort: s.txByPort,
      ruleHits: s.ruleHits,
    });
    expect(pick(snap.summary)).toEqual(pick(full.summary));
    expect(snap.summary).toMatchObject({ forwarded: 14, dropped: 0, tcpFinalStates: { TIME_WAIT: 1 } });

    expect(full.sessions).toHaveLength(1);
    expect(snap.sessions).toHaveLength(1);
    const [fs] = full.sessions;
    const [ss] = snap.sessions;
    expect(ss!.state).toBe('TIME_WAIT');
    expect(ss!.state).toBe(fs!.state);
    expect(ss!.original).toEqual(fs!.original);
    expect(ss!.reply).toEqual(fs!.reply);
    expect(ss!.original.packets + ss!.reply.packets).toBe(14);
  });

  it('without the original length the snapped records would be dropped (what this fixes)', () => {
    const cutPath = join(tmp, 'get-s96-b.pcap');
    snapCapture(capture('zeek/get.pcap'), cutPath, SNAPLEN);
    const dev = new Device(config(), { send: () => {} });
    const r = openCapture(cutPath);
    const b = new CaptureBatch(64);
    const n = r.next(b);
    let dropped = 0;
    let snapped = 0;
    for (let i = 0; i < n; i++) {
      if (b.caplen[i]! >= b.origlen[i]!) continue;
      snapped++;
      const v = dev.process(b.buf, b.off[i]!, b.caplen[i]!, b.linkType[i]!, 0, i);
      if (v === V_DROPPED) dropped++;
    }
    r.close();
    expect(snapped).toBeGreaterThan(0);
    expect(dropped).toBe(snapped);
  });
});
