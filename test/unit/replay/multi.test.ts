/** replayDevices: devices from files or pcapng interfaces, late interfaces, unmapped ones, configs, traces. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultConfig, parseConfig } from '../../../src/config/load.js';
import { PcapngWriter } from '../../../src/io/pcapng-writer.js';
import { flowLine } from '../../../src/replay/asymmetry-report.js';
import { multiSummaryText, ReplayInputError, replayDevices } from '../../../src/replay/multi.js';
import { T0, writeCapture } from '../../support/capture.js';
import { udpFrame } from '../../support/conv.js';
import { pairScenario } from '../../support/ha-captures.js';

const tmp = mkdtempSync(join(tmpdir(), 'sdev-multi-'));
const sc = pairScenario();
const fw1 = join(tmp, 'fw1.pcap');
const fw2 = join(tmp, 'fw2.pcap');
/** A pcapng whose third interface is described only after packets of the first two. */
const late = join(tmp, 'late.pcapng');

beforeAll(() => {
  writeCapture(fw1, sc.fw1);
  writeCapture(fw2, sc.fw2);
  const w = new PcapngWriter(late, {
    interfaces: [
      { linkType: 1, name: 'a' },
      { linkType: 1, name: 'a' }, // the same name twice: the second becomes if1
    ],
  });
  const put = (t: number, iface: number, f: Uint8Array) => w.write(f, 0, f.length, T0, t * 1e6, iface);
  put(1, 0, udpFrame('10.0.1.2', 1000, '10.0.2.11', 53));
  put(2, 1, udpFrame('10.0.2.11', 53, '10.0.1.2', 1000));
  w.addInterface({ linkType: 1, name: 'c' });
  put(3, 2, udpFrame('10.0.1.2', 1000, '10.0.2.11', 53));
  put(4, 2, udpFrame('10.0.2.11', 53, '10.0.1.2', 1000));
  w.close();
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('replayDevices', () => {
  it('two files: the per-device figures, the asymmetric flows, and traces that name the device', () => {
    const trace: string[] = [];
    const r = replayDevices({
      captures: [fw1, fw2],
      devices: [
        { name: 'fw1', capture: 0, interfaces: null },
        { name: 'fw2', capture: 1, interfaces: null },
      ],
      configs: [defaultConfig()],
      trace: 'reason no-session',
      traceWrite: (t) => trace.push(t),
      listLimit: 2,
    });
    const s = r.summary;
    expect(s.devices.map((d) => [d.device, d.packetsIn])).toEqual([
      ['fw1', sc.fw1.length],
      ['fw2', sc.fw2.length],
    ]);
    expect(s.asymmetric.listed.map(flowLine)).toEqual(sc.asymmetricLines.slice(0, 2));
    expect(s.unmappedPackets).toBe(0);
    expect(r.captureErrors).toEqual([]);
    // fw2 never saw the SYNs: it drops the SYN-ACKs it sees, and each trace says which device it is.
    expect(trace.length).toBe(s.devices[1]!.dropsByReason['no-session']);
    expect(trace.length).toBeGreaterThan(0);
    for (const t of trace) expect(t).toMatch(/^fw2 #\d+ t=[\d.]+ if=0\n[^]*verdict: dropped no-session\n$/);
    expect(multiSummaryText(s)).toContain('asymmetric (first 2 of 3):\n');
  });

  it('--per-interface: a device per interface, also one described after the first packets', () => {
    const r = replayDevices({
      captures: [late],
      devices: [],
      perInterface: true,
      configs: [defaultConfig()],
    });
    const s = r.summary;
    expect(s.devices.map((d) => [d.device, d.packetsIn, d.capture])).toEqual([
      ['a', 1, `${late} (interface 0)`],
      ['if1', 1, `${late} (interface 1)`],
      ['c', 2, `${late} (interface 2)`],
    ]);
    expect(s.asymmetric).toMatchObject({ flows: 1, asymmetric: 0, mixed: 1 });
    expect(Object.keys(r.sessions)).toEqual(['a', 'if1', 'c']);
  });

  it('an interface map: interfaces of no device are counted, not replayed; two interfaces make one device', () => {
    const r = replayDevices({
      captures: [late],
      devices: [{ name: 'x', capture: 0, interfaces: [1, 0] }],
      configs: [defaultConfig()],
    });
    expect(r.summary.devices).toHaveLength(1);
    expect(r.summary.devices[0]!.packetsIn).toBe(2);
    expect(r.summary.unmappedPackets).toBe(2);
    expect(r.summary.asymmetric).toMatchObject({ flows: 1, symmetric: 1 });
    expect(multiSummaryText(r.summary)).toContain('unmapped  2 packets on interfaces of no device\n');
  });

  it('refuses configs that do not fit the devices, and a capture that cannot be opened', () => {
    const cfg = defaultConfig();
    const other = parseConfig('zones:\n  all: { default: true }\n', 'other.yaml');
    expect(() =>
      replayDevices({ captures: [late], devices: [], perInterface: true, configs: [cfg, other] }),
    ).toThrow(new ReplayInputError('device c (number 3) has no config: 2 configs given'));
    expect(() =>
      replayDevices({
        captures: [fw1, join(tmp, 'nope.pcap')],
        devices: [
          { name: 'fw1', capture: 0, interfaces: null },
          { name: 'fw2', capture: 1, interfaces: null },
        ],
        configs: [cfg],
      }),
    ).toThrow(/^cannot open capture .*nope\.pcap: ENOENT/);
  });
});
