/** Frames from the builders, read back by tshark 4.0 with checksum checks on. */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { buildFrame, buildIp, type FrameSpec } from '../../../src/wire/build.js';
import { decodeFrame } from '../../../src/wire/decode.js';
import { Packet } from '../../../src/wire/packet.js';
import { writePcap } from './pcap-fixture.js';

const TSHARK = '/usr/bin/tshark';
const GOOD = '1'; // tshark's PROTO_CHECKSUM_E_GOOD; 2 = unverified (e.g. a UDP header quoted by ICMP)

interface Case {
  name: string;
  spec: FrameSpec;
  /** tshark field -> expected value (all occurrences joined by ','). */
  want: Record<string, string>;
}

const bytes = (n: number, v = 0x61): Uint8Array => new Uint8Array(n).fill(v);
const udpInner = buildIp({
  ipv4: { src: '10.9.0.1', dst: '10.9.0.2', id: 3 },
  udp: { srcPort: 40000, dstPort: 7000 },
  payload: bytes(30),
});
const tcpInner = buildIp({
  ipv4: { src: '10.9.0.1', dst: '10.9.0.2' },
  tcp: { srcPort: 40001, dstPort: 443, flags: 2, seq: 77 },
});
const udp6Inner = buildIp({
  ipv6: { src: '2001:db8::a', dst: '2001:db8::b' },
  udp: { srcPort: 41000, dstPort: 7001 },
  payload: bytes(12),
});
const tcp6Inner = buildIp({
  ipv6: { src: 'fd00::1', dst: 'fd00::2' },
  tcp: { srcPort: 5555, dstPort: 6666, flags: 0x18, seq: 1, ack: 2 },
  payload: bytes(5),
});
const ns = new Uint8Array(16);
ns.set([0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x42]);

const CASES: Case[] = [
  {
    name: 'QinQ IPv4 TCP SYN with MSS, wscale, SACK-perm, SACK, timestamps',
    spec: {
      vlans: [10, 20],
      ipv4: { src: '192.0.2.1', dst: '198.51.100.7', id: 0x1234, ttl: 61, df: true },
      tcp: {
        srcPort: 50000,
        dstPort: 80,
        flags: 0x12,
        seq: 1000,
        ack: 5000,
        window: 29200,
        mss: 1460,
        wscale: 7,
        sackPermitted: true,
        sack: [[4000, 4500]],
        timestamps: [111, 222],
      },
    },
    want: {
      'ieee8021ad.id': '10',
      'vlan.id': '20',
      'ip.src': '192.0.2.1',
      'ip.dst': '198.51.100.7',
      'ip.id': '0x1234',
      'ip.ttl': '61',
      'ip.flags.df': '1',
      'ip.checksum.status': GOOD,
      'tcp.srcport': '50000',
      'tcp.dstport': '80',
      'tcp.seq_raw': '1000',
      'tcp.ack_raw': '5000',
      'tcp.flags': '0x0012',
      'tcp.window_size_value': '29200',
      'tcp.options.mss_val': '1460',
      'tcp.options.wscale.shift': '7',
      'tcp.options.sack_re': '4500',
      'tcp.options.timestamp.tsval': '111',
      'tcp.checksum.status': GOOD,
    },
  },
  {
    name: '802.1Q IPv4 UDP with IP options',
    spec: {
      vlans: [100],
      ipv4: { src: '10.0.1.2', dst: '10.0.2.11', options: Uint8Array.of(0x94, 4, 0, 0) },
      udp: { srcPort: 1234, dstPort: 9999 },
      payload: bytes(20),
    },
    want: {
      'vlan.id': '100',
      'ip.hdr_len': '24',
      'udp.srcport': '1234',
      'udp.length': '28',
      'ip.checksum.status': GOOD,
      'udp.checksum.status': GOOD,
    },
  },
  {
    name: 'IPv4 non-first fragment',
    spec: {
      ipv4: { src: '10.0.0.1', dst: '10.0.0.2', id: 9, mf: true, fragOffset: 1480, proto: 17 },
      payload: bytes(24),
    },
    want: { 'ip.flags.mf': '1', 'ip.frag_offset': '185', 'ip.id': '0x0009', 'ip.checksum.status': GOOD },
  },
  {
    name: 'IPv6 hop-by-hop + destination options + fragment header, TCP',
    spec: {
      ipv6: {
        src: '2001:db8::1',
        dst: '2001:db8::2',
        hopLimit: 33,
        ext: [
          { type: 0, data: bytes(4, 0) },
          { type: 60, data: Uint8Array.of(1, 4, 0, 0, 0, 0) },
          { type: 44, id: 0xcafe },
        ],
      },
      tcp: { srcPort: 443, dstPort: 60000, flags: 0x10, seq: 7, ack: 8 },
      payload: bytes(10),
    },
    want: {
      'ipv6.src': '2001:db8::1',
      'ipv6.hlim': '33',
      'ipv6.fraghdr.ident': '0x0000cafe',
      'tcp.srcport': '443',
      'tcp.len': '10',
      'tcp.checksum.status': GOOD,
    },
  },
  {
    name: 'IPv6 UDP',
    spec: {
      ipv6: { src: 'fe80::1', dst: 'ff02::1' },
      udp: { srcPort: 15353, dstPort: 15354 },
      payload: bytes(7),
    },
    want: { 'udp.srcport': '15353', 'udp.checksum.status': GOOD },
  },
  {
    name: 'ICMP echo request',
    spec: {
      ipv4: { src: '10.0.1.2', dst: '10.0.0.100' },
      icmp: { type: 8, code: 0, id: 0x4242, seq: 7 },
      payload: bytes(33),
    },
    want: { 'icmp.type': '8', 'icmp.ident': '16962', 'icmp.seq': '7', 'icmp.checksum.status': GOOD },
  },
  {
    name: 'ICMP port unreachable quoting UDP',
    spec: {
      ipv4: { src: '10.0.2.11', dst: '10.9.0.1' },
      icmp: { type: 3, code: 3 },
      payload: udpInner.subarray(0, 28),
    },
    want: {
      'icmp.type': '3',
      'icmp.code': '3',
      'ip.src': '10.0.2.11,10.9.0.1',
      'udp.srcport': '40000',
      'udp.dstport': '7000',
      'icmp.checksum.status': GOOD,
      'ip.checksum.status': `${GOOD},${GOOD}`,
    },
  },
  {
    name: 'ICMP time exceeded quoting a whole TCP packet',
    spec: { ipv4: { src: '10.0.2.1', dst: '10.9.0.1' }, icmp: { type: 11, code: 0 }, payload: tcpInner },
    want: {
      'icmp.type': '11',
      'tcp.srcport': '40001',
      'tcp.seq': '77',
      'icmp.checksum.status': GOOD,
      'tcp.checksum.status': GOOD,
    },
  },
  {
    name: 'ICMPv6 echo reply',
    spec: {
      ipv6: { src: '2001:db8::1', dst: '2001:db8::2' },
      icmpv6: { type: 129, code: 0, id: 3, seq: 4 },
      payload: bytes(8),
    },
    want: {
      'icmpv6.type': '129',
      'icmpv6.echo.identifier': '0x0003',
      'icmpv6.echo.sequence_number': '4',
      'icmpv6.checksum.status': GOOD,
    },
  },
  {
    name: 'ICMPv6 destination unreachable quoting IPv6 UDP',
    spec: {
      ipv6: { src: '2001:db8::ff', dst: '2001:db8::a' },
      icmpv6: { type: 1, code: 4 },
      payload: udp6Inner,
    },
    want: {
      'icmpv6.type': '1',
      'icmpv6.code': '4',
      'ipv6.src': '2001:db8::ff,2001:db8::a',
      'udp.srcport': '41000',
      'icmpv6.checksum.status': GOOD,
      'udp.checksum.status': GOOD,
    },
  },
  {
    name: 'ICMPv6 neighbour solicitation',
    spec: {
      ipv6: { src: 'fe80::1', dst: 'ff02::1:ff00:42', hopLimit: 255 },
      icmpv6: { type: 135, code: 0 },
      payload: ns,
    },
    want: { 'icmpv6.type': '135', 'icmpv6.nd.ns.target_address': 'fe80::42', 'icmpv6.checksum.status': GOOD },
  },
  {
    name: 'GRE with checksum, key and sequence carrying IPv4 UDP',
    spec: {
      ipv4: { src: '172.16.0.1', dst: '172.16.0.2' },
      gre: { checksum: true, key: 0x00abcdef, seq: 42 },
      payload: udpInner,
    },
    want: {
      'gre.proto': '0x0800',
      'gre.key': '0x00abcdef',
      'gre.sequence_number': '42',
      'gre.checksum.status': GOOD,
      'ip.src': '172.16.0.1,10.9.0.1',
      'ip.checksum.status': `${GOOD},${GOOD}`,
      'udp.dstport': '7000',
      'udp.checksum.status': GOOD,
    },
  },
  {
    name: 'GRE over IPv6 with key carrying IPv6 TCP',
    spec: { vlans: [7], ipv6: { src: 'fd00:1::1', dst: 'fd00:1::2' }, gre: { key: 1 }, payload: tcp6Inner },
    want: {
      'vlan.id': '7',
      'gre.proto': '0x86dd',
      'gre.key': '0x00000001',
      'ipv6.src': 'fd00:1::1,fd00::1',
      'tcp.dstport': '6666',
      'tcp.checksum.status': GOOD,
    },
  },
  {
    name: 'ARP request',
    spec: {
      arp: { op: 1, sha: '02:aa:bb:cc:dd:ee', spa: '10.0.1.2', tpa: '10.0.1.1' },
      dstMac: 'ff:ff:ff:ff:ff:ff',
      padTo: 60,
    },
    want: {
      'arp.opcode': '1',
      'arp.src.proto_ipv4': '10.0.1.2',
      'arp.dst.proto_ipv4': '10.0.1.1',
      'arp.src.hw_mac': '02:aa:bb:cc:dd:ee',
    },
  },
];

const FIELDS = [...new Set(CASES.flatMap((c) => Object.keys(c.want)))].concat([
  '_ws.malformed',
  '_ws.expert.message',
]);

describe.skipIf(!existsSync(TSHARK))('tshark reads built frames', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sdev-wire-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const run = (frames: Uint8Array[], link: number, fields: string[]): string[][] => {
    const file = join(dir, `f${link}.pcap`);
    writePcap(file, frames, link);
    const args = [
      '-r',
      file,
      '-n',
      '-o',
      'ip.check_checksum:TRUE',
      '-o',
      'tcp.check_checksum:TRUE',
      '-o',
      'udp.check_checksum:TRUE',
    ];
    args.push(
      '-o',
      'tcp.relative_sequence_numbers:FALSE',
      '-T',
      'fields',
      '-E',
      'occurrence=a',
      '-E',
      'aggregator=,',
    );
    for (const f of fields) args.push('-e', f);
    const out = execFileSync(TSHARK, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    return out
      .split('\n')
      .filter((l) => l.length > 0)
      .map((l) => l.split('\t'));
  };

  it('every field and checksum as built', () => {
    const rows = run(
      CASES.map((c) => buildFrame(c.spec)),
      1,
      FIELDS,
    );
    expect(rows.length).toBe(CASES.length);
    const p = new Packet();
    CASES.forEach((c, i) => {
      const row = rows[i]!;
      const got: Record<string, string> = {};
      for (const k of Object.keys(c.want)) got[k] = row[FIELDS.indexOf(k)] ?? '';
      expect({ name: c.name, ...got }).toEqual({ name: c.name, ...c.want });
      expect(`${c.name}: ${row[FIELDS.indexOf('_ws.malformed')] ?? ''}`).toBe(`${c.name}: `);
      expect(row[FIELDS.indexOf('_ws.expert.message')] ?? '').not.toMatch(/checksum|malformed|invalid/i);
      const f = buildFrame(c.spec);
      expect(decodeFrame(f, 0, f.length, 1, p)).toBe(0);
    });
  });

  it('cooked and raw link types', () => {
    const spec: FrameSpec = {
      ipv4: { src: '1.2.3.4', dst: '5.6.7.8' },
      udp: { srcPort: 1111, dstPort: 2222 },
      payload: bytes(4),
    };
    for (const link of [101, 113, 276]) {
      const rows = run([buildFrame({ ...spec, link })], link, [
        'ip.src',
        'udp.dstport',
        'udp.checksum.status',
        'ip.checksum.status',
      ]);
      expect(rows).toEqual([['1.2.3.4', '2222', GOOD, GOOD]]);
    }
  });
});
