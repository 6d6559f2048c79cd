import { describe, expect, it } from 'vitest';
import { listSessions } from '../../../src/session/list.js';
import { echoFrame, fragmentV4, icmpErrorFrame, TcpConv, udpFrame } from '../../support/conv.js';
import { at, config, run } from '../../support/run.js';

describe('stateful firewall (default policy)', () => {
  it('lets an inside-initiated TCP exchange through both ways and ends in TIME_WAIT', () => {
    const c = new TcpConv('10.0.1.2', 40000, '93.184.216.34', 80).fullExchange(1);
    const r = run(c.frames);
    expect(r.outcomes.map((o) => o.verdict)).toEqual(new Array(10).fill('forwarded'));
    expect(new Set(r.outcomes.map((o) => o.session))).toEqual(new Set([1]));
    expect(r.outcomes[0]!.port).toBe('outside');
    expect(r.outcomes[1]!.port).toBe('inside');
    const s = listSessions(r.dev.ct, 2000);
    expect(s).toHaveLength(1);
    expect(s[0]!.state).toBe('TIME_WAIT');
    expect(s[0]!.assured).toBe(true);
    expect(r.sent).toHaveLength(10);
    expect(r.sent[0]!.frame).toEqual(c.frames[0]!.frame);
  });

  it('drops an unsolicited inbound SYN as policy-deny and creates no session', () => {
    const c = new TcpConv('203.0.113.9', 51000, '10.0.1.2', 22);
    c.syn(1);
    const r = run(c.frames);
    expect(r.outcomes[0]).toMatchObject({ verdict: 'dropped', reason: 'policy-deny', session: 0 });
    expect(r.dev.ct.table.count).toBe(0);
  });

  it('allows inbound when a rule says so, and rejects by rule', () => {
    const cfg = config(`
zones:
  inside: { networks: [10.0.0.0/8] }
  outside: { default: true }
policy:
  default: drop
  rules:
    - { from: outside, to: inside, proto: tcp, dport: 443, dst: 10.0.1.2/32, action: accept }
    - { from: outside, to: inside, proto: tcp, dport: 1-1023, action: reject }
    - { from: inside, action: accept }
`);
    const ok = new TcpConv('203.0.113.9', 51000, '10.0.1.2', 443);
    ok.syn(1);
    ok.synAck(1.1);
    const rejected = new TcpConv('203.0.113.9', 51001, '10.0.1.2', 22);
    rejected.syn(2);
    const other = new TcpConv('203.0.113.9', 51002, '10.0.1.2', 8080);
    other.syn(3);
    const r = run([...ok.frames, ...rejected.frames, ...other.frames], cfg);
    expect(r.outcomes.map((o) => `${o.verdict} ${o.reason}`.trim())).toEqual([
      'forwarded',
      'forwarded',
      'dropped policy-reject',
      'dropped policy-deny',
    ]);
    expect(Array.from(r.dev.policy.hits)).toEqual([1, 1, 0, 1]);
  });

  it('treats an ICMP port unreachable as RELATED to its UDP session, and drops one that quotes none', () => {
    const probe = udpFrame('10.0.1.4', 40000, '198.51.100.7', 33434);
    const stray = udpFrame('10.0.1.4', 40001, '198.51.100.7', 33435);
    const r = run([
      at(1, probe),
      at(1.01, icmpErrorFrame('198.51.100.7', '10.0.1.4', 3, 3, probe)),
      at(1.02, icmpErrorFrame('198.51.100.7', '10.0.1.4', 3, 3, stray)),
    ]);
    expect(r.outcomes[1]).toMatchObject({ verdict: 'forwarded', session: 1, port: 'inside' });
    expect(r.outcomes[2]).toMatchObject({ verdict: 'dropped', reason: 'no-session' });
  });

  it('drops an out-of-window RST and keeps the session; an in-window RST closes it', () => {
    const c = new TcpConv('10.0.1.5', 50022, '192.0.2.22', 22);
    c.syn(1);
    c.synAck(1.01);
    c.ack(1.02);
    c.data(1.03, true, 40);
    c.rst(1.04, false, 0x40000000);
    c.data(1.05, false, 10);
    c.rst(1.06, true);
    const r = run(c.frames);
    expect(r.outcomes[4]).toMatchObject({ verdict: 'dropped', reason: 'out-of-window', session: 1 });
    expect(r.outcomes[5]!.verdict).toBe('forwarded');
    expect(r.outcomes[6]!.verdict).toBe('forwarded');
    expect(listSessions(r.dev.ct, 1100)[0]!.state).toBe('CLOSE');
  });

  it('expires idle sessions in capture time: a reply after the UDP timeout is a new (denied) packet', () => {
    const out = udpFrame('10.0.1.6', 5060, '192.0.2.50', 5060);
    const back = udpFrame('192.0.2.50', 5060, '10.0.1.6', 5060);
    const early = run([at(0, out), at(29.9, back)]);
    expect(early.outcomes[1]!.verdict).toBe('forwarded');
    const late = run([at(0, out), at(30.1, back)]);
    expect(late.outcomes[1]).toMatchObject({ verdict: 'dropped', reason: 'policy-deny' });
    expect(late.dev.ct.stats.expired).toBe(1);
  });

  it('an idle TCP session past its timeout: mid-stream data is no-session when loose pickup is off', () => {
    const yaml = (loose: boolean) => `
sessions:
  tcp: { loose: ${loose} }
  timeouts: { tcp: { established: 5 } }
zones:
  inside: { networks: [10.0.0.0/8] }
  outside: { default: true }
policy: { rules: [ { from: inside, action: accept } ] }
`;
    const mk = () => {
      const c = new TcpConv('10.0.1.2', 40000, '192.0.2.80', 9000);
      c.syn(0);
      c.synAck(0.01);
      c.ack(0.02);
      c.data(3, true, 10); // within 5 s: refreshes
      c.data(11, true, 10); // 8 s of silence: the session is gone
      c.data(11.01, false, 10);
      return c.frames;
    };
    const strict = run(mk(), config(yaml(false)));
    expect(strict.outcomes[3]!.verdict).toBe('forwarded');
    expect(strict.outcomes[4]).toMatchObject({ verdict: 'dropped', reason: 'no-session' });
    expect(strict.outcomes[5]).toMatchObject({ verdict: 'dropped', reason: 'no-session' });
    const loose = run(mk(), config(yaml(true)));
    expect(loose.outcomes[4]).toMatchObject({ verdict: 'forwarded', session: 2 });
    expect(loose.outcomes[5]).toMatchObject({ verdict: 'forwarded', session: 2 });
  });

  it('ping: echo request creates a session, the reply matches it, an unsolicited reply is no-session', () => {
    const r = run([
      at(0, echoFrame('10.0.1.3', '1.1.1.1', 7, 1)),
      at(0.01, echoFrame('1.1.1.1', '10.0.1.3', 7, 1, true)),
      at(0.02, echoFrame('1.1.1.1', '10.0.1.3', 8, 1, true)),
    ]);
    expect(r.outcomes.map((o) => o.verdict)).toEqual(['forwarded', 'forwarded', 'dropped']);
    expect(r.outcomes[2]!.reason).toBe('no-session');
  });

  it('reassembles fragments before tracking and forwards the original fragments', () => {
    const big = udpFrame('10.0.1.7', 7000, '192.0.2.70', 7000, 1200);
    const frags = fragmentV4(big, '10.0.1.7', '192.0.2.70', 0x4242, 400);
    const r = run(frags.map((f, i) => at(i * 0.001, f)));
    expect(r.outcomes.map((o) => o.verdict)).toEqual(['held', 'held', 'held', 'forwarded']);
    expect(r.sent.map((s) => s.frame)).toEqual(frags);
    expect(r.dev.ct.table.count).toBe(1);
  });

  it('fragments from outside do not sneak past the policy', () => {
    const big = udpFrame('203.0.113.5', 7000, '10.0.1.7', 7000, 1200);
    const frags = fragmentV4(big, '203.0.113.5', '10.0.1.7', 0x99, 400);
    const r = run(frags.map((f, i) => at(i * 0.001, f)));
    expect(r.outcomes.at(-1)).toMatchObject({ verdict: 'dropped', reason: 'policy-deny' });
    expect(r.sent).toHaveLength(0);
  });
});

describe('device-generated packets', () => {
  it('reject answers a TCP SYN with a RST and a UDP datagram with ICMP port unreachable, on the ingress port', async () => {
    const { decodeFrame } = await import('../../../src/wire/decode.js');
    const { Packet } = await import('../../../src/wire/packet.js');
    const { l4ChecksumOk, ipv4HeaderChecksumOk } = await import('../../../src/wire/checksum.js');
    const cfg = config(`
zones:
  inside: { networks: [10.0.0.0/8] }
  outside: { default: true }
policy:
  rules:
    - { from: outside, proto: tcp, action: reject }
    - { from: outside, proto: udp, action: reject }
`);
    const c = new TcpConv('203.0.113.9', 51000, '10.0.1.2', 23, 4242);
    c.syn(1);
    const r = run([...c.frames, at(2, udpFrame('203.0.113.9', 5000, '10.0.1.2', 161))], cfg);
    expect(r.outcomes.map((o) => o.reason)).toEqual(['policy-reject', 'policy-reject']);
    expect(r.sent).toHaveLength(2);
    const p = new Packet();
    expect(decodeFrame(r.sent[0]!.frame, 0, r.sent[0]!.frame.length, 1, p)).toBe(0);
    expect(r.dev.ports.names[r.sent[0]!.port]).toBe('outside');
    expect(p.tcpFlags).toBe(0x14); // RST+ACK
    expect(p.ack).toBe(4243);
    expect([p.srcPort, p.dstPort]).toEqual([23, 51000]);
    expect(l4ChecksumOk(p) && ipv4HeaderChecksumOk(p)).toBe(true);
    expect(decodeFrame(r.sent[1]!.frame, 0, r.sent[1]!.frame.length, 1, p)).toBe(0);
    expect([p.icmpType, p.icmpCode, p.innerDstPort]).toEqual([3, 3, 161]);
    expect(l4ChecksumOk(p)).toBe(true);
  });

  it('reset-on-expiry sends a RST with the expected sequence number to each end of an idle TCP session', async () => {
    const { decodeFrame } = await import('../../../src/wire/decode.js');
    const { Packet } = await import('../../../src/wire/packet.js');
    const yaml = (on: boolean) => `
sessions:
  reset-on-expiry: ${on}
  timeouts: { tcp: { established: 5 } }
zones:
  inside: { networks: [10.0.0.0/8] }
  outside: { default: true }
policy: { rules: [ { from: inside, action: accept } ] }
`;
    const mk = () => {
      const c = new TcpConv('10.0.1.2', 40000, '192.0.2.80', 9000, 100);
      c.syn(0);
      c.synAck(0.01);
      c.ack(0.02);
      c.data(0.03, true, 10);
      c.ack(0.04, false);
      return { c, frames: [...c.frames, at(9, udpFrame('10.0.1.9', 1, '192.0.2.1', 2))] };
    };
    const off = run(mk().frames, config(yaml(false)));
    expect(off.sent).toHaveLength(6);
    const { c, frames } = mk();
    const on = run(frames, config(yaml(true)));
    expect(on.dev.ct.stats.expired).toBe(1);
    const resets = on.sent.slice(5, 7);
    expect(resets).toHaveLength(2);
    const p = new Packet();
    const seen = resets.map((s) => {
      expect(decodeFrame(s.frame, 0, s.frame.length, 1, p)).toBe(0);
      return { port: on.dev.ports.names[s.port], dst: p.dstPort, seq: p.seq, flags: p.tcpFlags };
    });
    expect(seen).toEqual([
      { port: 'outside', dst: 9000, seq: c.cseq, flags: 0x14 },
      { port: 'inside', dst: 40000, seq: c.sseq, flags: 0x14 },
    ]);
  });
});

describe('table limits and port assignment', () => {
  const small = config(`
sessions: { max: 2 }
zones:
  inside: { networks: [10.0.0.0/8] }
  outside: { default: true }
policy: { rules: [ { from: inside, action: accept } ] }
`);

  it('evicts a session that is not assured when full, and drops table-full when all are assured', () => {
    const udp = (n: number, t: number) => at(t, udpFrame('10.0.1.2', 1000 + n, '192.0.2.1', 53));
    const r = run([udp(1, 0), udp(2, 0.1), udp(3, 0.2)], small);
    expect(r.outcomes.map((o) => o.verdict)).toEqual(['forwarded', 'forwarded', 'forwarded']);
    expect(r.dev.ct.stats.evicted).toBe(1);
    expect(r.dev.ct.table.count).toBe(2);

    const assured = (cport: number, t: number) => {
      const c = new TcpConv('10.0.1.2', cport, '192.0.2.80', 80, cport);
      c.syn(t);
      c.synAck(t + 0.01);
      c.ack(t + 0.02);
      return c.frames;
    };
    const full = run(
      [
        ...assured(40001, 0),
        ...assured(40002, 1),
        ...new TcpConv('10.0.1.3', 40003, '192.0.2.80', 80).frames,
        at(2, udpFrame('10.0.1.2', 9, '192.0.2.1', 53)),
      ],
      small,
    );
    expect(full.outcomes.at(-1)).toMatchObject({ verdict: 'dropped', reason: 'table-full' });
    expect(full.dev.ct.stats.evicted).toBe(0);
  });

  it('assigns frames to ports by capture interface, VLAN or MAC before falling back to addresses', () => {
    const cfg = config(`
zones:
  inside: { networks: [10.0.0.0/8] }
  outside: { default: true }
ports:
  - { name: lab, zone: inside, match: { interface: 1 } }
  - { name: vlan7, zone: inside, match: { vlan: 7 } }
  - { name: trusted-host, zone: inside, match: { mac: '02:00:00:00:01:02' } }
policy: { rules: [ { from: inside, action: accept } ] }
`);
    // Public source addresses: from the address alone they would be outside (and denied).
    const viaIface = { t: 0, frame: udpFrame('198.51.100.1', 1, '203.0.113.1', 2), iface: 1 };
    const viaVlan = { t: 0.1, frame: udpFrame('198.51.100.2', 1, '203.0.113.1', 2, 32, [7]) };
    const viaNothing = { t: 0.2, frame: udpFrame('198.51.100.3', 1, '203.0.113.1', 2), iface: 0 };
    const r = run([viaIface, viaVlan, viaNothing], cfg);
    // udpFrame's source MAC is 02:00:00:00:01:02, so the third one matches by MAC.
    expect(r.outcomes.map((o) => o.verdict)).toEqual(['forwarded', 'forwarded', 'forwarded']);
    const cfg2 = config(`
zones:
  inside: { networks: [10.0.0.0/8] }
  outside: { default: true }
ports:
  - { name: lab, zone: inside, match: { interface: 1 } }
policy: { rules: [ { from: inside, action: accept } ] }
`);
    const r2 = run([viaIface, { ...viaNothing }], cfg2);
    expect(r2.outcomes.map((o) => `${o.verdict} ${o.reason}`.trim())).toEqual([
      'forwarded',
      'dropped policy-deny',
    ]);
  });
});
