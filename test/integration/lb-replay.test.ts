/**
 * The L4 load balancer on replay: a two-interface pcapng (client side on
 * interface 0, server side on interface 1) through an LB config; the frames
 * the device would send are read back by tshark, which must see every
 * address and port rewritten both ways and every checksum good.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import { PcapngWriter } from '../../src/io/pcapng-writer.js';
import { replay } from '../../src/replay/replay.js';
import { TcpConv, type TimedFrame } from '../support/conv.js';
import { T0 } from '../support/capture.js';

const tmp = mkdtempSync(join(tmpdir(), 'sdev-lb-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const hasTshark = spawnSync('tshark', ['--version']).status === 0;

const cfg = parseConfig(
  `
zones:
  inside: {}
  dmz: {}
  outside: { default: true }
ports:
  - { name: clients, zone: inside, match: { interface: 0 } }
  - { name: servers, zone: dmz, match: { interface: 1, networks: [10.0.2.0/24] } }
virtual-servers:
  - name: web
    vip: 10.0.0.100
    proto: tcp
    port: 80
    scheduler: rr
    reals: [ { address: 10.0.2.11, port: 8080 }, { address: 10.0.2.12, port: 8080 } ]
policy: { rules: [ { from: inside, action: accept } ] }
`,
  'lb.yaml',
);

function capture(path: string, conns: number): void {
  const frames: TimedFrame[] = [];
  for (let k = 0; k < conns; k++) {
    const real = k % 2 === 0 ? '10.0.2.11' : '10.0.2.12';
    const c = new TcpConv('10.0.1.2', 41000 + k, '10.0.0.100', 80, 1000 * (k + 1));
    c.replyFrom = { addr: real, port: 8080 };
    c.fullExchange(k * 0.5, 100, 1200);
    // The client's packets are seen on interface 0, the server's on interface 1.
    c.frames.forEach((f, i) => frames.push({ ...f, iface: [0, 1, 0, 0, 1, 1, 0, 0, 1, 0][i] }));
  }
  frames.sort((a, b) => a.t - b.t);
  const w = new PcapngWriter(path, {
    interfaces: [
      { linkType: 1, name: 'client-side' },
      { linkType: 1, name: 'server-side' },
    ],
  });
  for (const f of frames) {
    const ns = Math.round(f.t * 1e9);
    w.write(f.frame, 0, f.frame.length, T0 + Math.floor(ns / 1e9), ns % 1e9, f.iface ?? 0);
  }
  w.close();
}

describe('load-balanced replay', () => {
  const input = join(tmp, 'two-sides.pcapng');
  capture(input, 4);

  it('every packet is forwarded, VIP rewritten to the reals and back, counters per real', () => {
    const out = join(tmp, 'out.pcapng');
    const { summary, vsText } = replay({ capture: input, config: cfg, out, verdicts: join(tmp, 'v.pcapng') });
    expect(summary).toMatchObject({ packetsIn: 40, forwarded: 40, dropped: 0, sessionsCreated: 4 });
    expect(summary.txByPort).toMatchObject({ clients: 16, servers: 24 });
    expect(vsText).toContain('TCP  10.0.0.100:80 rr');
    expect(vsText).toMatch(/-> 10\.0\.2\.11:8080 +Masq +1 +0 +2/);
    expect(vsText).toMatch(/-> 10\.0\.2\.12:8080 +Masq +1 +0 +2/);
  });

  it.skipIf(!hasTshark)('tshark reads the output: rewritten both ways, all checksums good', () => {
    const out = join(tmp, 'out2.pcapng');
    replay({ capture: input, config: cfg, out });
    const r = spawnSync(
      'tshark',
      [
        '-r',
        out,
        '-o',
        'ip.check_checksum:TRUE',
        '-o',
        'tcp.check_checksum:TRUE',
        '-T',
        'fields',
        '-E',
        'separator=,',
        '-e',
        'frame.interface_name',
        '-e',
        'ip.src',
        '-e',
        'tcp.srcport',
        '-e',
        'ip.dst',
        '-e',
        'tcp.dstport',
        '-e',
        'ip.checksum.status',
        '-e',
        'tcp.checksum.status',
      ],
      { encoding: 'utf8' },
    );
    expect(r.status).toBe(0);
    const rows = r.stdout
      .trim()
      .split('\n')
      .map((l) => l.split(','));
    expect(rows).toHaveLength(40);
    for (const [iface, src, sport, dst, dport, ipOk, tcpOk] of rows) {
      expect([ipOk, tcpOk]).toEqual(['1', '1']);
      if (iface === 'servers') {
        expect(src).toBe('10.0.1.2');
        expect(['10.0.2.11', '10.0.2.12']).toContain(dst);
        expect(dport).toBe('8080');
      } else {
        expect(iface).toBe('clients');
        expect(`${src}:${sport}`).toBe('10.0.0.100:80');
        expect(dst).toBe('10.0.1.2');
      }
    }
    // The verdicts file keeps the input as it arrived (client packets still addressed to the VIP).
    const v = join(tmp, 'v2.pcapng');
    replay({ capture: input, config: cfg, verdicts: v });
    const first = spawnSync(
      'tshark',
      ['-r', v, '-c', '1', '-T', 'fields', '-e', 'ip.dst', '-e', 'frame.comment'],
      { encoding: 'utf8' },
    );
    expect(first.stdout.trim()).toBe('10.0.0.100\tforwarded - 1');
  });
});
