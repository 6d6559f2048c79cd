/** The L4 load balancer in the pipeline: scheduling, NAT both ways, drain, persistence, ICMP translation. */
import { describe, expect, it } from 'vitest';
import { formatIp } from '../../../src/wire/addr.js';
import { ipv4HeaderChecksumOk, l4ChecksumOk } from '../../../src/wire/checksum.js';
import { decodeFrame } from '../../../src/wire/decode.js';
import { Packet } from '../../../src/wire/packet.js';
import { echoFrame, icmpErrorFrame, TcpConv, udpFrame } from '../../support/conv.js';
import { at, config, run } from '../../support/run.js';

const lbConfig = (
  extra = '',
  reals = '[ { address: 10.0.2.11, port: 8080 }, { address: 10.0.2.12, port: 8080 } ]',
) =>
  config(`
zones:
  inside: { networks: [10.0.1.0/24] }
  dmz: { networks: [10.0.2.0/24] }
  outside: { default: true }
virtual-servers:
  - name: web
    vip: 10.0.0.100
    proto: tcp
    port: 80
    reals: ${reals}
    ${extra}
  - name: dns
    vip: 10.0.0.53
    proto: udp
    port: 53
    reals: [ { address: 10.0.2.11 } ]
policy: { rules: [ { from: inside, action: accept } ] }
`);

function decoded(frame: Uint8Array): Packet {
  const p = new Packet();
  expect(decodeFrame(frame, 0, frame.length, 1, p)).toBe(0);
  expect(ipv4HeaderChecksumOk(p)).toBe(true);
  expect(l4ChecksumOk(p)).toBe(true);
  return p;
}
const ends = (p: Packet) => `${formatIp(p.src)}:${p.srcPort} > ${formatIp(p.dst)}:${p.dstPort}`;

/** A client connection to the VIP whose server side answers from `real`. */
function conn(cport: number, real: string, t: number) {
  const c = new TcpConv('10.0.1.2', cport, '10.0.0.100', 80, cport * 3);
  c.replyFrom = { addr: real, port: 8080 };
  c.syn(t);
  c.synAck(t + 0.01);
  c.ack(t + 0.02);
  c.data(t + 0.03, true, 50);
  c.data(t + 0.04, false, 500);
  return c.frames;
}

describe('load balancing through a VIP (NAT)', () => {
  it('rr alternates reals; VIP is rewritten to the real on the way in and back on the way out, checksums right', () => {
    const r = run(
      [...conn(40001, '10.0.2.11', 0), ...conn(40002, '10.0.2.12', 1)],
      lbConfig('scheduler: rr'),
    );
    expect(r.outcomes.map((o) => o.verdict)).toEqual(new Array(10).fill('forwarded'));
    const out = r.sent.map((s) => ends(decoded(s.frame)));
    expect(out.slice(0, 5)).toEqual([
      '10.0.1.2:40001 > 10.0.2.11:8080',
      '10.0.0.100:80 > 10.0.1.2:40001',
      '10.0.1.2:40001 > 10.0.2.11:8080',
      '10.0.1.2:40001 > 10.0.2.11:8080',
      '10.0.0.100:80 > 10.0.1.2:40001',
    ]);
    expect(out[5]).toBe('10.0.1.2:40002 > 10.0.2.12:8080');
    expect(r.dev.ports.names[r.sent[0]!.port]).toBe('dmz');
    expect(r.dev.ports.names[r.sent[1]!.port]).toBe('inside');
    const pool = r.dev.lb.vs.pools[0]!;
    expect([pool.active(0), pool.active(1), pool.inactive(0)]).toEqual([1, 1, 0]);
  });

  it('full-NAT also rewrites the client to the SNAT address, so replies come back to the device', () => {
    const c = new TcpConv('10.0.1.2', 40001, '10.0.0.100', 80, 7);
    const cfg = lbConfig('mode: fullnat\n    snat: 10.0.2.1');
    c.syn(0);
    const first = run(c.frames, cfg);
    const syn = decoded(first.sent[0]!.frame);
    expect(ends(syn)).toBe('10.0.2.1:40001 > 10.0.2.11:8080');
    c.replyFrom = { addr: '10.0.2.11', port: 8080, to: '10.0.2.1', toPort: 40001 };
    c.synAck(0.01);
    const both = run(c.frames, cfg);
    expect(ends(decoded(both.sent[1]!.frame))).toBe('10.0.0.100:80 > 10.0.1.2:40001');
  });

  it('weight 0 drains a real: no new sessions, existing ones continue', () => {
    const cfg = lbConfig(
      'scheduler: rr',
      '[ { address: 10.0.2.11, port: 8080, weight: 0 }, { address: 10.0.2.12, port: 8080 } ]',
    );
    const r = run([...conn(40001, '10.0.2.12', 0), ...conn(40002, '10.0.2.12', 1)], cfg);
    expect(r.outcomes.every((o) => o.verdict === 'forwarded')).toBe(true);
    expect(
      r.sent
        .filter((s) => s.port === r.dev.ports.names.indexOf('dmz'))
        .map((s) => formatIp(decoded(s.frame).dst)),
    ).toEqual(new Array(6).fill('10.0.2.12'));
    // Draining a real that already has a session: the session keeps working.
    const live = conn(40003, '10.0.2.11', 0);
    const dev = run(live.slice(0, 3), lbConfig('scheduler: rr')).dev;
    dev.lb.vs.pools[0]!.setWeight(0, 0);
    const p = live[3]!;
    expect(dev.process(p.frame, 0, p.frame.length, 1, -1, p.t * 1000)).toBe(0);
  });

  it('persistence sends the same client to the same real; without it rr alternates', () => {
    const twice = (cfg: ReturnType<typeof lbConfig>) => {
      const r = run(
        [...conn(40001, '10.0.2.11', 0).slice(0, 1), ...conn(40002, '10.0.2.11', 1).slice(0, 1)],
        cfg,
      );
      return r.sent.map((s) => formatIp(decoded(s.frame).dst));
    };
    expect(twice(lbConfig('scheduler: rr'))).toEqual(['10.0.2.11', '10.0.2.12']);
    expect(twice(lbConfig('scheduler: rr\n    persistence: 300'))).toEqual(['10.0.2.11', '10.0.2.11']);
  });

  it('no usable real server: the new session is dropped no-real-server', () => {
    const cfg = lbConfig('', '[ { address: 10.0.2.11, port: 8080, up: false } ]');
    const r = run(conn(40001, '10.0.2.11', 0).slice(0, 1), cfg);
    expect(r.outcomes[0]).toMatchObject({ verdict: 'dropped', reason: 'no-real-server' });
  });

  it('an ICMP error from the real about a NATed datagram is translated: outer source and quoted destination become the VIP', () => {
    const query = udpFrame('10.0.1.2', 5353, '10.0.0.53', 53);
    // What the real received (after DNAT) and quotes back.
    const seenByReal = udpFrame('10.0.1.2', 5353, '10.0.2.11', 53);
    const err = icmpErrorFrame('10.0.2.11', '10.0.1.2', 3, 3, seenByReal);
    const r = run([at(0, query), at(0.01, err)], lbConfig());
    expect(r.outcomes.map((o) => o.verdict)).toEqual(['forwarded', 'forwarded']);
    const p = decoded(r.sent[1]!.frame);
    expect(formatIp(p.src)).toBe('10.0.0.100'.replace('100', '53'));
    expect(formatIp(p.innerDst)).toBe('10.0.0.53');
    expect(p.innerDstPort).toBe(53);
    expect(r.dev.ports.names[r.sent[1]!.port]).toBe('inside');
    // The quoted IPv4 header checksum was fixed as well.
    const inner = r.sent[1]!.frame.subarray(p.innerL3Off, p.innerL3Off + 20);
    let sum = 0;
    for (let i = 0; i < 20; i += 2) sum += (inner[i]! << 8) | inner[i + 1]!;
    while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
    expect(sum).toBe(0xffff);
  });
});

describe('masquerade (source NAT inside -> outside)', () => {
  const cfg = config(`
zones:
  inside: { networks: [10.0.1.0/24] }
  outside: { default: true }
masquerade:
  - { from: inside, to: outside, address: 198.51.100.1, ports: 40000-40001 }
policy: { rules: [ { from: inside, action: accept } ] }
`);

  it('keeps the source port when free, allocates another when taken, and never collides', () => {
    // Two clients with the same source port to the same server, and a third: the range has two ports.
    const a = udpFrame('10.0.1.2', 40000, '192.0.2.53', 53);
    const b = udpFrame('10.0.1.3', 40000, '192.0.2.53', 53);
    const c = udpFrame('10.0.1.4', 40000, '192.0.2.53', 53);
    const answerB = udpFrame('192.0.2.53', 53, '198.51.100.1', 40001);
    const r = run([at(0, a), at(0.1, b), at(0.2, c), at(0.3, answerB)], cfg);
    expect(r.outcomes.map((o) => `${o.verdict} ${o.reason}`.trim())).toEqual([
      'forwarded',
      'forwarded',
      'dropped nat-exhausted',
      'forwarded',
    ]);
    expect(ends(decoded(r.sent[0]!.frame))).toBe('198.51.100.1:40000 > 192.0.2.53:53');
    expect(ends(decoded(r.sent[1]!.frame))).toBe('198.51.100.1:40001 > 192.0.2.53:53');
    // The answer to the second client's port comes back translated to it.
    expect(ends(decoded(r.sent[2]!.frame))).toBe('192.0.2.53:53 > 10.0.1.3:40000');
    expect(r.dev.masq.exhausted).toBe(1);
  });

  it('translates ICMP echo identifiers', () => {
    const r = run(
      [
        at(0, echoFrame('10.0.1.2', '192.0.2.1', 7, 1)),
        at(0.01, echoFrame('192.0.2.1', '198.51.100.1', 40000, 1, true)),
      ],
      cfg,
    );
    expect(r.outcomes.map((o) => o.verdict)).toEqual(['forwarded', 'forwarded']);
    const out = decoded(r.sent[0]!.frame);
    expect([formatIp(out.src), out.icmpId]).toEqual(['198.51.100.1', 40000]);
    const back = decoded(r.sent[1]!.frame);
    expect([formatIp(back.dst), back.icmpId]).toEqual(['10.0.1.2', 7]);
  });
});

describe('IPv6 virtual server', () => {
  it('balances an IPv6 VIP to IPv6 reals with correct checksums both ways', () => {
    const cfg = config(`
zones:
  inside: { networks: ['fd00:1::/64'] }
  outside: { default: true }
virtual-servers:
  - { name: web6, vip: 'fd00::100', proto: tcp, port: 80, reals: [ { address: 'fd00:2::11', port: 8080 } ] }
policy: { rules: [ { from: inside, action: accept } ] }
`);
    const c = new TcpConv('fd00:1::2', 40001, 'fd00::100', 80, 5);
    c.replyFrom = { addr: 'fd00:2::11', port: 8080 };
    c.syn(0);
    c.synAck(0.01);
    const r = run(c.frames, cfg);
    expect(r.outcomes.map((o) => o.verdict)).toEqual(['forwarded', 'forwarded']);
    const p = new Packet();
    const seen = r.sent.map((s) => {
      expect(decodeFrame(s.frame, 0, s.frame.length, 1, p)).toBe(0);
      expect(l4ChecksumOk(p)).toBe(true);
      return ends(p);
    });
    expect(seen).toEqual(['fd00:1::2:40001 > fd00:2::11:8080', 'fd00::100:80 > fd00:1::2:40001']);
  });
});
