/** The live driver opens a TapPort for `tap:` ports and a PcapPort for `pcap:` ports, and runs both alike. */
import { describe, expect, it } from 'vitest';
import type { FrameBatch } from '../../../src/io/port.js';
import { livePortsOf, runLive, type LivePort, type LivePortOpenOptions } from '../../../src/run/live.js';
import { buildFrame } from '../../../src/wire/build.js';
import { config } from '../../support/run.js';

class Fake implements LivePort {
  readonly mtu = 1500;
  readonly mac = new Uint8Array([2, 0, 0, 0, 9, 9]);
  onBatch: ((b: FrameBatch) => void) | null = null;
  sent = 0;
  constructor(readonly name: string) {}
  start(onBatch: (b: FrameBatch) => void): void {
    this.onBatch = onBatch;
  }
  send(): void {
    this.sent++;
  }
  flush(): void {}
  close(): void {}
}

const cfg = () =>
  config(`
zones: { inside: {}, dmz: {}, outside: { default: true } }
ports:
  - { name: lan, zone: inside, pcap: veth-a, mac: '02:00:00:00:00:01', address: [10.0.1.1/24] }
  - { name: mid, zone: outside, mac: '02:00:00:00:00:03', address: [10.0.3.1/24] }
  - { name: srv, zone: dmz, tap: tap-b, mac: '02:00:00:00:00:02', address: [10.0.2.1/24] }
policy: { rules: [ { from: inside, action: accept } ] }
`);

describe('live ports by kind', () => {
  it('livePortsOf lists tap and pcap ports with their kind and config index, skipping the others', () => {
    expect(livePortsOf(cfg())).toEqual([
      { index: 0, name: 'lan', kind: 'pcap', iface: 'veth-a', mtu: 1500, offload: false },
      { index: 2, name: 'srv', kind: 'tap', iface: 'tap-b', mtu: 1500, offload: true },
    ]);
  });

  it('opens each port by its kind, reports the kind, and answers a ping that came in on the pcap port', async () => {
    const opened: LivePortOpenOptions[] = [];
    const fakes = new Map<string, Fake>();
    const h = await runLive(cfg(), {
      openPort: (o) => {
        opened.push(o);
        const f = new Fake(o.name);
        fakes.set(o.name, f);
        return f;
      },
      tickMs: 1_000_000,
    });
    expect(opened.map((o) => [o.kind, o.name])).toEqual([
      ['pcap', 'veth-a'],
      ['tap', 'tap-b'],
    ]);
    const frame = buildFrame({
      srcMac: '02:00:00:00:01:02',
      dstMac: '02:00:00:00:00:01',
      ipv4: { src: '10.0.1.2', dst: '10.0.1.1' },
      icmp: { type: 8, code: 0, id: 1, seq: 1 },
    });
    fakes.get('veth-a')!.onBatch!({
      count: 1,
      buf: frame,
      off: Int32Array.of(0),
      len: Int32Array.of(frame.length),
    });
    expect(fakes.get('veth-a')!.sent).toBe(1);
    expect(h.counters().ports.map((p) => [p.name, p.kind, p.tap, p.framesIn, p.framesOut])).toEqual([
      ['lan', 'pcap', 'veth-a', 1, 1],
      ['srv', 'tap', 'tap-b', 0, 0],
    ]);
    await h.close();
  });
});
