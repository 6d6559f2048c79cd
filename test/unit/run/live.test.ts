/** The live driver with fake ports: batches in, frames out on the right port, one flush per batch, clean close. */
import { describe, expect, it } from 'vitest';
import type { FrameBatch } from '../../../src/io/port.js';
import { runLive, type LivePort } from '../../../src/run/live.js';
import { buildFrame } from '../../../src/wire/build.js';
import { decodeFrame } from '../../../src/wire/decode.js';
import { Packet } from '../../../src/wire/packet.js';
import { config } from '../../support/run.js';

class FakePort implements LivePort {
  readonly mtu = 1500;
  readonly mac = new Uint8Array([2, 0, 0, 0, 9, 9]);
  onBatch: ((b: FrameBatch) => void) | null = null;
  queued: Uint8Array[] = [];
  flushed: Uint8Array[][] = [];
  closed = 0;
  constructor(readonly name: string) {}
  start(onBatch: (b: FrameBatch) => void): void {
    this.onBatch = onBatch;
  }
  send(buf: Uint8Array, off: number, len: number): void {
    this.queued.push(buf.slice(off, off + len));
  }
  flush(): void {
    if (this.queued.length) this.flushed.push(this.queued);
    this.queued = [];
  }
  close(): void {
    this.closed++;
  }
  /** Delivers frames as one batch, as the TAP addon does. */
  deliver(frames: Uint8Array[]): void {
    const total = frames.reduce((n, f) => n + f.length, 0);
    const buf = new Uint8Array(total);
    const off = new Int32Array(frames.length);
    const len = new Int32Array(frames.length);
    let o = 0;
    frames.forEach((f, i) => {
      buf.set(f, o);
      off[i] = o;
      len[i] = f.length;
      o += f.length;
    });
    this.onBatch!({ count: frames.length, buf, off, len });
  }
}

const cfg = () =>
  config(`
zones:
  inside: {}
  dmz: {}
  outside: { default: true }
ports:
  - { name: lan, zone: inside, tap: fk0, mac: '02:00:00:00:00:01', address: [10.0.1.1/24] }
  - { name: srv, zone: dmz, tap: fk1, mac: '02:00:00:00:00:02', address: [10.0.2.1/24] }
policy: { rules: [ { from: inside, action: accept } ] }
`);

describe('runLive', () => {
  it('opens a port per tap, feeds batches to the device, sends replies on the right port, flushes once per batch', async () => {
    const ports = new Map<string, FakePort>();
    const h = await runLive(cfg(), {
      openPort: (o) => {
        const p = new FakePort(o.name);
        ports.set(o.name, p);
        return p;
      },
      tickMs: 1_000_000,
    });
    expect([...ports.keys()]).toEqual(['fk0', 'fk1']);
    const lan = ports.get('fk0')!;
    const ping = (seq: number) =>
      buildFrame({
        srcMac: '02:00:00:00:01:02',
        dstMac: '02:00:00:00:00:01',
        ipv4: { src: '10.0.1.2', dst: '10.0.1.1' },
        icmp: { type: 8, code: 0, id: 1, seq },
      });
    lan.deliver([ping(1), ping(2), ping(3)]);
    // Three echo replies, sent in one flush on the port they came from.
    expect(lan.flushed).toHaveLength(1);
    expect(lan.flushed[0]).toHaveLength(3);
    const p = new Packet();
    expect(decodeFrame(lan.flushed[0]![2]!, 0, lan.flushed[0]![2]!.length, 1, p)).toBe(0);
    expect([p.icmpType, p.icmpSeq]).toEqual([0, 3]);
    expect(ports.get('fk1')!.flushed).toHaveLength(0);
    const c = h.counters();
    expect(c.ports.map((x) => [x.tap, x.framesIn, x.batchesIn, x.framesOut])).toEqual([
      ['fk0', 3, 1, 3],
      ['fk1', 0, 0, 0],
    ]);
    await h.close();
    await h.close();
    expect([lan.closed, ports.get('fk1')!.closed]).toEqual([1, 1]);
  });

  it('refuses a config with no tap port', async () => {
    const noTap = config(
      `ports: [ { name: lan, zone: inside } ]\nzones: { inside: {}, outside: { default: true } }\n`,
    );
    await expect(runLive(noTap, { openPort: () => new FakePort('x') })).rejects.toThrow(
      /no port has a tap: or pcap: interface/,
    );
  });
});
