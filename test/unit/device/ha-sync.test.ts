/**
 * Session sync between two Devices in memory (ha mode sync): their ha ports
 * are wired to each other, every other output is collected. A session fw1
 * creates is known to fw2, which then forwards the asymmetric SYN-ACK itself;
 * with defer, fw1 holds the SYN until fw2 acknowledged the insert (or the
 * defer timeout); when fw1 goes silent fw2 takes over its address.
 */
import { describe, expect, it } from 'vitest';
import { Device } from '../../../src/device/device.js';
import { VERDICT_NAMES } from '../../../src/device/verdict.js';
import { reasonName } from '../../../src/session/reasons.js';
import { formatIp } from '../../../src/wire/addr.js';
import { buildFrame } from '../../../src/wire/build.js';
import { decodeFrame } from '../../../src/wire/decode.js';
import { Packet, TCP_ACK, TCP_SYN } from '../../../src/wire/packet.js';
import { CLIENT_MAC, FW_MACS, SRV_MAC, fwConfig } from '../../support/ha-pair.js';

const CLIENT = CLIENT_MAC;
const SRV = SRV_MAC;
const FW = FW_MACS;
const HA = 2;

interface Out {
  port: number;
  frame: Uint8Array;
  p: Packet;
}

/** Two devices whose ha ports are one wire; `cut` drops what crosses it. */
function pair(defer: boolean) {
  const outs: Out[][] = [[], []];
  const wire: { to: number; frame: Uint8Array }[] = [];
  let cut = false;
  const devs = ([1, 2] as const).map(
    (n, i) =>
      new Device(fwConfig(n, 'sync', `  defer: ${defer}`), {
        send: (port, buf, off, len) => {
          const frame = buf.slice(off, off + len);
          if (port === HA) {
            if (!cut) wire.push({ to: 1 - i, frame });
            return;
          }
          const p = new Packet();
          decodeFrame(frame, 0, len, 1, p);
          outs[i]!.push({ port, frame, p });
        },
      }),
  );
  let now = 0;
  const pump = () => {
    for (let k = 0; k < 1000 && wire.length; k++) {
      const w = wire.shift()!;
      devs[w.to]!.process(w.frame, 0, w.frame.length, 1, HA, now);
      devs[w.to]!.endBatch(now);
    }
  };
  const run = (ms: number) => {
    for (const end = now + ms; now < end;) {
      now += 10;
      for (const d of devs) d.tick(now);
      pump();
    }
  };
  const feed = (i: number, frame: Uint8Array, port: number) => {
    const v = devs[i]!.process(frame.slice(), 0, frame.length, 1, port, now);
    devs[i]!.endBatch(now);
    return `${VERDICT_NAMES[v]}${v === 1 ? ` ${reasonName(devs[i]!.reason)}` : ''}`;
  };
  devs.forEach((d, i) => {
    d.enableSync(1000 + i)!.start(now);
    const arp = (spa: string, sha: string, tpa: string, port: number) =>
      feed(i, buildFrame({ srcMac: sha, dstMac: 'ff:ff:ff:ff:ff:ff', arp: { op: 1, sha, spa, tpa } }), port);
    arp('10.0.1.2', CLIENT, i === 0 ? '10.0.1.1' : '10.0.1.3', 0);
    arp('10.0.2.11', SRV, i === 0 ? '10.0.2.2' : '10.0.2.1', 1);
  });
  pump();
  run(200);
  outs[0]!.length = 0;
  outs[1]!.length = 0;
  return {
    devs,
    outs,
    feed,
    run,
    pump,
    setCut: (c: boolean) => (cut = c),
    take: (i: number) => outs[i]!.splice(0, outs[i]!.length),
  };
}

const syn = (sport = 40000) =>
  buildFrame({
    srcMac: CLIENT,
    dstMac: FW[0]!.lan,
    ipv4: { src: '10.0.1.2', dst: '10.0.2.11' },
    tcp: { srcPort: sport, dstPort: 8080, seq: 1000, flags: TCP_SYN, window: 65535 },
  });
const synAck = (sport = 40000) =>
  buildFrame({
    srcMac: SRV,
    dstMac: FW[1]!.servers,
    ipv4: { src: '10.0.2.11', dst: '10.0.1.2' },
    tcp: { srcPort: 8080, dstPort: sport, seq: 5000, ack: 1001, flags: TCP_SYN | TCP_ACK, window: 65535 },
  });

describe('HA: session sync', () => {
  it('the peer learns a new session and forwards the asymmetric SYN-ACK itself', () => {
    const h = pair(false);
    expect(h.devs.map((d) => d.sync!.node.anyUp())).toEqual([true, true]);
    expect(h.feed(0, syn(), 0)).toBe('forwarded');
    expect(h.take(0).map((o) => [o.port, formatIp(o.p.dst)])).toEqual([[1, '10.0.2.11']]);
    h.pump();
    expect(h.devs[1]!.ct.table.count).toBe(1);
    expect(h.feed(1, synAck(), 1)).toBe('forwarded');
    const [c] = h.take(1);
    expect([c!.port, formatIp(c!.p.dst), c!.p.tcpFlags]).toEqual([0, '10.0.1.2', TCP_SYN | TCP_ACK]);
    // Without sync the same SYN-ACK is dropped: the session came from the peer.
    const s = h.devs[1]!.sync!.node.stats;
    expect(s.recordsReceived).toBeGreaterThanOrEqual(1);
  });

  it('a whole asymmetric connection: fw1 sees the client half, fw2 the server half, both forward all', () => {
    const h = pair(true);
    const c2s = (flags: number, seq: number, ack: number, data = 0) =>
      buildFrame({
        srcMac: CLIENT,
        dstMac: FW[0]!.lan,
        ipv4: { src: '10.0.1.2', dst: '10.0.2.11' },
        tcp: { srcPort: 42000, dstPort: 8080, seq, ack, flags, window: 65535 },
        payload: new Uint8Array(data),
      });
    const s2c = (flags: number, seq: number, ack: number, data = 0) =>
      buildFrame({
        srcMac: SRV,
        dstMac: FW[1]!.servers,
        ipv4: { src: '10.0.2.11', dst: '10.0.1.2' },
        tcp: { srcPort: 8080, dstPort: 42000, seq, ack, flags, window: 65535 },
        payload: new Uint8Array(data),
      });
    expect(h.feed(0, c2s(TCP_SYN, 1000, 0), 0)).toBe('held');
    h.pump();
    h.run(10);
    expect(h.feed(1, s2c(TCP_SYN | TCP_ACK, 5000, 1001), 1)).toBe('forwarded');
    const verdicts = [
      h.feed(0, c2s(TCP_ACK, 1001, 5001), 0),
      h.feed(0, c2s(TCP_ACK, 1001, 5001, 100), 0),
      h.feed(1, s2c(TCP_ACK, 5001, 1101, 1000), 1),
      h.feed(0, c2s(TCP_ACK, 1101, 6001), 0),
      h.feed(1, s2c(TCP_ACK, 6001, 1101, 1000), 1),
    ];
    expect(verdicts).toEqual(Array(5).fill('forwarded'));
    h.pump();
    const state = (i: number) => h.devs[i]!.ct.table; // sessions on both
    expect([state(0).count, state(1).count]).toEqual([1, 1]);
    expect(h.devs.map((d) => d.stats.dropsByReason.reduce((a, b) => a + b, 0))).toEqual([0, 0]);
  });

  it('defer: the SYN waits for the peer to acknowledge the insert, then goes out', () => {
    const h = pair(true);
    expect(h.feed(0, syn(), 0)).toBe('held');
    expect(h.take(0)).toEqual([]);
    h.pump(); // insert to fw2, its ack back to fw1
    h.run(10);
    const out = h.take(0);
    expect(out.map((o) => [o.port, formatIp(o.p.dst), o.p.tcpFlags])).toEqual([[1, '10.0.2.11', TCP_SYN]]);
    expect(h.devs[0]!.sync!.defer!.stats.held).toBe(1);
    // The ack came back at the same simulated instant: no delay added.
    expect(h.devs[0]!.sync!.deferDelays()).toEqual({ count: 1, p50Ms: 0, p99Ms: 0 });
    expect(h.devs[1]!.ct.table.count).toBe(1);
  });

  it('defer: a lost ack releases the SYN at the defer timeout (20 ms)', () => {
    const h = pair(true);
    h.setCut(true);
    expect(h.feed(0, syn(41000), 0)).toBe('held');
    h.run(10);
    expect(h.take(0)).toEqual([]);
    h.run(20);
    expect(h.take(0).map((o) => o.p.dstPort)).toEqual([8080]);
    const d = h.devs[0]!.sync!.deferDelays();
    expect(d.count).toBe(1);
    expect(d.p50Ms).toBeGreaterThanOrEqual(20);
    expect(d.p99Ms).toBeLessThanOrEqual(30);
  });

  it('takes over the silent peer address with a gratuitous ARP', () => {
    const h = pair(false);
    h.setCut(true);
    h.run(5000);
    const sync = h.devs[1]!.sync!;
    expect(sync.node.anyUp()).toBe(false);
    expect(sync.tookOver).toBe(true);
    const garp = h.take(1).filter((o) => o.p.etherType === 0x0806);
    expect(garp).toHaveLength(1);
    expect([garp[0]!.port, garp[0]!.p.arpOp, garp[0]!.p.arpSpa, garp[0]!.p.arpTpa]).toEqual([
      0, 1, 0x0a000101, 0x0a000101,
    ]);
    // fw2 now answers ARP for 10.0.1.1.
    const req = buildFrame({
      srcMac: CLIENT,
      dstMac: 'ff:ff:ff:ff:ff:ff',
      arp: { op: 1, sha: CLIENT, spa: '10.0.1.2', tpa: '10.0.1.1' },
    });
    expect(h.feed(1, req, 0)).toBe('consumed');
    expect(h.take(1).map((o) => [o.p.arpOp, o.p.arpSpa])).toEqual([[2, 0x0a000101]]);
  });
});
