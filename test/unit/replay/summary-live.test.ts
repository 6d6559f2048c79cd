import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { generateTcpCapture } from '../../../bench/gen.js';
import { defaultConfig } from '../../../src/config/load.js';
import { Device } from '../../../src/device/device.js';
import { CaptureBatch, openCapture, recordTimeMs } from '../../../src/io/capture-reader.js';
import { replay } from '../../../src/replay/replay.js';
import { countLive, listSessions } from '../../../src/session/list.js';

const dir = mkdtempSync(path.join(os.tmpdir(), 'sdev-summary-live-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A capture that ends with sessions in several TCP states (some connections cut mid-way). */
function capture(): string {
  const file = path.join(dir, 'mixed.pcap');
  generateTcpCapture(file, { packets: 4000, flows: 60, seed: 7 });
  return file;
}

describe('live sessions counted in the table (no records)', () => {
  const file = capture();

  it('countLive gives the count and TCP states listSessions gives', () => {
    const dev = new Device(defaultConfig(), { send(): void {} });
    const r = openCapture(file);
    const b = new CaptureBatch(64);
    let now = 0;
    let n = 0;
    // Stop mid-capture, so live connections are in several states.
    while (n < 2500 && r.next(b) > 0) {
      for (let i = 0; i < b.count; i++, n++) {
        now = recordTimeMs(b, i);
        dev.process(b.buf, b.off[i]!, b.caplen[i]!, b.linkType[i]!, 0, now, b.origlen[i]!);
      }
    }
    r.close();
    const records = listSessions(dev.ct, now);
    const expected = new Map<string, number>();
    for (const s of records) if (s.proto === 'tcp') expected.set(s.state, (expected.get(s.state) ?? 0) + 1);
    const states = new Map<string, number>([['TIME_WAIT', 5]]);
    const live = countLive(dev.ct, states);
    expect(records.length).toBeGreaterThan(10);
    expect(live).toBe(records.length);
    // Added to what the map held.
    expected.set('TIME_WAIT', (expected.get('TIME_WAIT') ?? 0) + 5);
    expect(new Map([...states].sort())).toEqual(new Map([...expected].sort()));
    expect(expected.size).toBeGreaterThan(1);
  });

  it('replay: sessionsActive and the live part of tcpFinalStates agree with the session records', () => {
    const res = replay({ capture: file, config: defaultConfig() });
    const s = res.summary;
    expect(s.sessionsActive).toBe(res.sessions.length);
    expect(res.sessions).toBe(res.sessions); // built once
    const liveTcp = new Map<string, number>();
    for (const x of res.sessions)
      if (x.proto === 'tcp') liveTcp.set(x.state, (liveTcp.get(x.state) ?? 0) + 1);
    let total = 0;
    for (const [state, n] of liveTcp) expect(s.tcpFinalStates[state]).toBeGreaterThanOrEqual(n);
    for (const n of Object.values(s.tcpFinalStates)) total += n;
    // Every TCP session either expired during the replay (its state counted then) or is live now.
    expect(total).toBe(s.sessionsExpired + res.sessions.filter((x) => x.proto === 'tcp').length);
  });
});
