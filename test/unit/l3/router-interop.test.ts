/** Frames the router generates, read back by tshark with checksum checks on. */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { solicitedNode } from '../../../src/l3/ndp.js';
import { formatIp, ipWords } from '../../../src/wire/addr.js';
import { writePcap } from '../wire/pcap-fixture.js';
import { CLIENT_PORT, lab, MAC_CLIENT, MAC_P0, pkt, udp4, udp6 } from './router-fixture.js';

const TSHARK = '/usr/bin/tshark';
const GOOD = '1';

/** One frame of each kind the router makes, with the tshark fields expected. */
function frames(): { name: string; frame: Uint8Array; want: Record<string, string> }[] {
  const { r, sent } = lab({}, 1400);
  const out: { name: string; frame: Uint8Array; want: Record<string, string> }[] = [];
  const take = (name: string, want: Record<string, string>): void => {
    out.push({ name, frame: sent.at(-1)!.frame, want });
  };
  r.neighbour(
    pkt({
      srcMac: MAC_CLIENT,
      dstMac: 'ff:ff:ff:ff:ff:ff',
      arp: { op: 1, sha: MAC_CLIENT, spa: '10.0.1.2', tpa: '10.0.1.1' },
    }),
    CLIENT_PORT,
    0,
  );
  take('ARP reply', {
    'arp.opcode': '2',
    'arp.src.hw_mac': MAC_P0,
    'arp.src.proto_ipv4': '10.0.1.1',
    'arp.dst.hw_mac': MAC_CLIENT,
    'arp.dst.proto_ipv4': '10.0.1.2',
  });
  const t = ipWords('2001:db8:1::1');
  const g = new Uint32Array(4);
  solicitedNode(t, g);
  const body = new Uint8Array(24);
  new DataView(body.buffer).setUint32(0, t[0]!);
  new DataView(body.buffer).setUint32(4, t[1]!);
  new DataView(body.buffer).setUint32(8, t[2]!);
  new DataView(body.buffer).setUint32(12, t[3]!);
  body.set([1, 1, 2, 0, 0, 0, 1, 2], 16);
  r.neighbour(
    pkt({
      srcMac: MAC_CLIENT,
      dstMac: '33:33:ff:00:00:01',
      ipv6: { src: '2001:db8:1::2', dst: formatIp(g), hopLimit: 255 },
      icmpv6: { type: 135, code: 0, rest: 0 },
      payload: body,
    }),
    CLIENT_PORT,
    0,
  );
  take('neighbour advertisement', {
    'icmpv6.type': '136',
    'icmpv6.nd.na.target_address': '2001:db8:1::1',
    'icmpv6.nd.na.flag.r': '1',
    'icmpv6.nd.na.flag.s': '1',
    'icmpv6.nd.na.flag.o': '1',
    'icmpv6.opt.linkaddr': MAC_P0,
    'icmpv6.checksum.status': GOOD,
  });
  r.route(udp4('10.0.1.2', '10.0.2.11', 1, 200), CLIENT_PORT, 0);
  take('time exceeded', {
    'icmp.type': '11',
    'icmp.code': '0',
    'ip.src': '10.0.1.1,10.0.1.2',
    'ip.ttl': '64,1',
    'ip.checksum.status': `${GOOD},${GOOD}`,
    'icmp.checksum.status': GOOD,
    'udp.srcport': '40000',
  });
  r.route(
    udp4('10.0.1.2', '10.0.2.11', 64, 1472, { ipv4: { src: '10.0.1.2', dst: '10.0.2.11', df: true } }),
    CLIENT_PORT,
    0,
  );
  take('fragmentation needed', {
    'icmp.type': '3',
    'icmp.code': '4',
    'icmp.mtu': '1400',
    'ip.checksum.status': `${GOOD},${GOOD}`,
    'icmp.checksum.status': GOOD,
  });
  r.route(udp6('2001:db8:1::2', '2001:db8:2::11', 64, 1500), CLIENT_PORT, 0);
  take('packet too big', { 'icmpv6.type': '2', 'icmpv6.mtu': '1400', 'icmpv6.checksum.status': GOOD });
  r.route(
    pkt({
      srcMac: MAC_CLIENT,
      dstMac: MAC_P0,
      ipv4: { src: '10.0.1.2', dst: '10.0.1.1' },
      icmp: { type: 8, code: 0, id: 0x4242, seq: 9 },
      payload: new Uint8Array(48).fill(7),
    }),
    CLIENT_PORT,
    0,
  );
  take('echo reply', {
    'icmp.type': '0',
    'icmp.ident': '16962',
    'icmp.seq': '9',
    'ip.src': '10.0.1.1',
    'ip.checksum.status': GOOD,
    'icmp.checksum.status': GOOD,
  });
  r.route(
    pkt({
      srcMac: MAC_CLIENT,
      dstMac: MAC_P0,
      ipv6: { src: '2001:db8:1::2', dst: '2001:db8:1::1' },
      icmpv6: { type: 128, code: 0, id: 5, seq: 6 },
      payload: new Uint8Array(8),
    }),
    CLIENT_PORT,
    0,
  );
  take('ICMPv6 echo reply', {
    'icmpv6.type': '129',
    'icmpv6.echo.identifier': '0x0005',
    'icmpv6.echo.sequence_number': '6',
    'icmpv6.checksum.status': GOOD,
  });
  return out;
}

describe.skipIf(!existsSync(TSHARK))('tshark reads the router frames', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sdev-l3-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('fields and checksums', () => {
    const cases = frames();
    const fields = [
      ...new Set(cases.flatMap((c) => Object.keys(c.want))),
      '_ws.malformed',
      '_ws.expert.message',
    ];
    const file = join(dir, 'router.pcap');
    writePcap(
      file,
      cases.map((c) => c.frame),
    );
    const args = ['-r', file, '-n', '-o', 'ip.check_checksum:TRUE', '-o', 'udp.check_checksum:TRUE'];
    args.push('-T', 'fields', '-E', 'occurrence=a', '-E', 'aggregator=,');
    for (const f of fields) args.push('-e', f);
    const rows = execFileSync(TSHARK, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] })
      .split('\n')
      .filter((l) => l.length > 0)
      .map((l) => l.split('\t'));
    expect(rows).toHaveLength(cases.length);
    cases.forEach((c, i) => {
      const row = rows[i]!;
      const got: Record<string, string> = {};
      for (const k of Object.keys(c.want)) got[k] = row[fields.indexOf(k)] ?? '';
      expect({ name: c.name, ...got }).toEqual({ name: c.name, ...c.want });
      expect(`${c.name}: ${row[fields.indexOf('_ws.malformed')] ?? ''}`).toBe(`${c.name}: `);
      expect(row[fields.indexOf('_ws.expert.message')] ?? '').not.toMatch(/checksum|malformed|invalid/i);
    });
  });
});
