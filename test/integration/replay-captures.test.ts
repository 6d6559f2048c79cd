/**
 * Replays third-party captures and checks the device against what the
 * projects that made them expect (Zeek's conn.log) and against itself
 * (determinism). Skipped where ../shared/captures is absent.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { defaultConfig, parseConfig } from '../../src/config/load.js';
import { replay } from '../../src/replay/replay.js';
import { CAPTURES, capture, zeekConnLog } from '../support/captures.js';

const tmp = mkdtempSync(join(tmpdir(), 'sdev-replay-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const campus = (extra = '') =>
  parseConfig(
    `
sessions:
  zone-by-vlan: true
${extra}
zones:
  inside: { networks: [141.142.0.0/16, fe80::/10] }
  outside: { default: true }
policy:
  rules: [ { from: inside, action: accept } ]
`,
    'campus.yaml',
  );

const campusBlind = () => {
  const c = campus();
  c.conntrack.zoneByVlan = false;
  return c;
};

describe.skipIf(!CAPTURES)('replay of third-party captures', () => {
  it('zeek/get.pcap: one HTTP session, 7+7 packets as Zeek counts, closed to TIME_WAIT', () => {
    const { summary, sessions } = replay({ capture: capture('zeek/get.pcap'), config: campus() });
    const [zeek] = zeekConnLog('zeek/expected/core.tcp.reassembly-known-ports/conn.log');
    expect(summary).toMatchObject({ packetsIn: 14, forwarded: 14, dropped: 0, sessionsCreated: 1 });
    expect(sessions).toHaveLength(1);
    const s = sessions[0]!;
    expect(s.state).toBe('TIME_WAIT');
    expect(s.original).toMatchObject({
      src: zeek!['id.orig_h'],
      sport: Number(zeek!['id.orig_p']),
      dst: zeek!['id.resp_h'],
      dport: Number(zeek!['id.resp_p']),
    });
    expect(s.original.packets).toBe(Number(zeek!.orig_pkts));
    expect(s.reply.packets).toBe(Number(zeek!.resp_pkts));
    expect(s.original.bytes).toBe(Number(zeek!.orig_ip_bytes) + 14 * 7);
  });

  it('zeek/get.pcap through the default config: the outside-to-outside session is denied', () => {
    const { summary } = replay({ capture: capture('zeek/get.pcap'), config: defaultConfig() });
    expect(summary.forwarded).toBe(0);
    expect(summary.dropsByReason['policy-deny']).toBeGreaterThan(0);
  });

  it('zeek/wikipedia.pcap: sessions started inside match Zeek conn.log flows and packet counts', () => {
    const { sessions } = replay({ capture: capture('zeek/wikipedia.pcap'), config: campus() });
    const zeek = zeekConnLog('zeek/expected/opt.basic/conn.log').filter(
      (z) => z.proto !== 'icmp' && z.history?.[0] !== '^' && Number(z.orig_pkts) > 0,
    );
    const key = (src: string, sp: number | undefined, dst: string, dp: number | undefined, proto: string) =>
      `${proto} ${src}:${sp} > ${dst}:${dp}`;
    const ours = new Map(
      sessions.map((s) => [
        key(s.original.src, s.original.sport, s.original.dst, s.original.dport, s.proto),
        s,
      ]),
    );
    let compared = 0;
    for (const z of zeek) {
      if (!z['id.orig_h']!.startsWith('141.142.') && !z['id.orig_h']!.startsWith('fe80:')) continue;
      const k = key(
        z['id.orig_h']!,
        Number(z['id.orig_p']),
        z['id.resp_h']!,
        Number(z['id.resp_p']),
        z.proto!,
      );
      const s = ours.get(k);
      expect(s, `session for Zeek flow ${k}`).toBeDefined();
      expect(s!.original.packets, `orig packets of ${k}`).toBe(Number(z.orig_pkts));
      expect(s!.reply.packets, `reply packets of ${k}`).toBe(Number(z.resp_pkts));
      compared++;
    }
    expect(compared).toBeGreaterThan(25);
  });

  it('zeek/vlan-collisions.pcap: the same 5-tuple on three VLAN contexts is three sessions of 7+7', () => {
    const { sessions } = replay({ capture: capture('zeek/vlan-collisions.pcap'), config: campus() });
    // Zeek's VLAN-aware conn key: one flow per (outer, inner) VLAN context, 7+7 packets each.
    const rows = zeekConnLog(
      'zeek/expected/scripts.policy.frameworks.conn_key.vlan_fivetuple-2/conn.log.cut',
    );
    const expected = rows.map((z) => [
      z['id.ctx.vlan'] === '-' ? 0 : Number(z['id.ctx.vlan']),
      Number(z.orig_pkts),
      Number(z.resp_pkts),
    ]);
    expect(expected).toHaveLength(3);
    expect(sessions.map((s) => [s.zone, s.original.packets, s.reply.packets]).sort()).toEqual(
      expected.sort(),
    );
    // VLAN-blind (zone-by-vlan off), Zeek sees one flow of 21+21; the device, one 5-tuple whose
    // later handshakes reopen the closed session: every packet is still forwarded.
    const blind = replay({
      capture: capture('zeek/vlan-collisions.pcap'),
      config: campus().conntrack.zoneByVlan ? campusBlind() : campus(),
    });
    expect(blind.summary.forwarded).toBe(42);
    expect(blind.sessions).toHaveLength(1);
  });

  it('zeek/icmp-destunreach-udp.pcap: an ICMP error quoting no session is dropped no-session', () => {
    const { summary } = replay({
      capture: capture('zeek/icmp-destunreach-udp.pcap'),
      config: defaultConfig(),
    });
    expect(summary.dropsByReason).toEqual({ 'no-session': 1 });
  });

  it('malformed and fuzzed frames are dropped with named reasons and counted, never a crash', () => {
    const cases: [string, string][] = [
      // IP total length 12336 in a 46-byte record: the IP check fires before the TCP one.
      ['tcpdump/tcp_header_heapoverflow.pcap', 'bad-ipv4-length'],
      ['tcpdump/udp-length-heapoverflow.pcap', 'bad-ipv4-length'],
      ['tcpdump/ipv4_invalid_total_length.pcap', 'bad-ipv4-length'],
      ['tcpdump/ipv6_frag6_negative_len.pcap', 'malformed-fragment'],
      ['zeek/ip4-trunc.pcap', 'truncated-ipv4'],
    ];
    for (const [file, reason] of cases) {
      const { summary } = replay({ capture: capture(file), config: defaultConfig() });
      expect(
        summary.dropsByReason[reason],
        `${file}: ${JSON.stringify(summary.dropsByReason)}`,
      ).toBeGreaterThan(0);
      expect(summary.packetsIn).toBe(summary.forwarded + summary.dropped + summary.held);
    }
  });

  it('is deterministic: the same capture and config give byte-identical outputs', () => {
    const outs = [0, 1].map((i) => {
      const out = join(tmp, `out${i}.pcapng`);
      const verdicts = join(tmp, `verdicts${i}.pcapng`);
      const { summary } = replay({
        capture: capture('tcpreplay/test.pcap'),
        config: defaultConfig(),
        out,
        verdicts,
      });
      return { out: readFileSync(out), verdicts: readFileSync(verdicts), summary: JSON.stringify(summary) };
    });
    expect(outs[0]!.out.equals(outs[1]!.out)).toBe(true);
    expect(outs[0]!.verdicts.equals(outs[1]!.verdicts)).toBe(true);
    expect(outs[0]!.summary).toBe(outs[1]!.summary);
    expect(outs[0]!.out.length).toBeGreaterThan(1000);
  });

  it('a truncated capture replays the records before the cut and reports the byte offset', () => {
    const whole = readFileSync(capture('tcpreplay/test.pcap'));
    const cut = join(tmp, 'cut.pcap');
    writeFileSync(cut, whole.subarray(0, 5000));
    const r = replay({ capture: cut, config: defaultConfig() });
    expect(r.captureError).not.toBeNull();
    expect(r.captureError!.offset).toBeGreaterThan(24);
    expect(r.captureError!.offset).toBeLessThan(5000);
    expect(r.summary.packetsIn).toBeGreaterThan(5);
  });
});
