/**
 * Config reload of a running Device with real frames: established sessions
 * through a VIP keep flowing while rules, reals, weights and schedulers
 * change; new sessions see the new config; what needs a restart is refused
 * and changes nothing.
 */
import { describe, expect, it } from 'vitest';
import type { DeviceConfig } from '../../../src/config/types.js';
import { Device } from '../../../src/device/device.js';
import { ReloadRefused } from '../../../src/device/reload.js';
import { VERDICT_NAMES } from '../../../src/device/verdict.js';
import { reasonName } from '../../../src/session/reasons.js';
import { formatIp } from '../../../src/wire/addr.js';
import { decodeFrame } from '../../../src/wire/decode.js';
import { Packet } from '../../../src/wire/packet.js';
import { TcpConv, udpFrame } from '../../support/conv.js';
import { config } from '../../support/run.js';

const REALS2 = '[ { address: 10.0.2.11, port: 8080 }, { address: 10.0.2.12, port: 8080 } ]';

function lbYaml(
  o: { reals?: string; vsExtra?: string; rules?: string; extra?: string; vsBefore?: string } = {},
) {
  return `
zones:
  inside: { networks: [10.0.1.0/24] }
  dmz: { networks: [10.0.2.0/24] }
  outside: { default: true }
virtual-servers:${o.vsBefore ?? ''}
  - name: web
    vip: 10.0.0.100
    proto: tcp
    port: 80
    reals: ${o.reals ?? REALS2}
    ${o.vsExtra ?? 'scheduler: rr'}
policy:
  default: drop
  rules: ${o.rules ?? '[ { name: inside-out, from: inside, action: accept } ]'}
${o.extra ?? ''}`;
}

/** A device fed frame by frame, with what it sent. */
class Harness {
  readonly dev: Device;
  readonly sent: Uint8Array[] = [];
  t = 0;
  constructor(cfg: DeviceConfig) {
    this.dev = new Device(cfg, { send: (_port, buf, off, len) => this.sent.push(buf.slice(off, off + len)) });
  }
  /** Processes one frame at the current time (+10 ms); returns "forwarded" or "dropped <reason>". */
  feed(frame: Uint8Array): string {
    this.t += 10;
    const f = frame.slice();
    const v = this.dev.process(f, 0, f.length, 1, -1, this.t);
    return v === 1 ? `dropped ${reasonName(this.dev.reason)}` : VERDICT_NAMES[v]!;
  }
  last(): Packet {
    const p = new Packet();
    const f = this.sent[this.sent.length - 1]!;
    expect(decodeFrame(f, 0, f.length, 1, p)).toBe(0);
    return p;
  }
  /** A client connection to the VIP: handshake through the device; returns it with the real it reached. */
  connect(cport: number, client = '10.0.1.2'): { c: TcpConv; real: string } {
    const c = new TcpConv(client, cport, '10.0.0.100', 80, cport * 3);
    expect(this.feed(c.syn(0))).toBe('forwarded');
    const syn = this.last();
    const real = formatIp(syn.dst);
    c.replyFrom = { addr: real, port: syn.dstPort };
    expect(this.feed(c.synAck(0))).toBe('forwarded');
    expect(this.feed(c.ack(0))).toBe('forwarded');
    return { c, real };
  }
  /** One request and response on an established connection; checks where each went. */
  exchange(c: TcpConv, real: string): void {
    expect(this.feed(c.data(0, true, 100))).toBe('forwarded');
    expect(`${formatIp(this.last().dst)}:${this.last().dstPort}`).toBe(`${real}:8080`);
    expect(this.feed(c.data(0, false, 500))).toBe('forwarded');
    expect(`${formatIp(this.last().src)}:${this.last().srcPort}`).toBe('10.0.0.100:80');
    expect(this.feed(c.ack(0, true))).toBe('forwarded');
  }
  /** The SYN of a new connection: the verdict and, when forwarded, the real it went to. */
  trySyn(cport: number, client = '10.0.1.2'): string {
    const c = new TcpConv(client, cport, '10.0.0.100', 80, cport * 3);
    const v = this.feed(c.syn(0));
    return v === 'forwarded' ? formatIp(this.last().dst) : v;
  }
}

describe('Device.reload: sessions survive, new sessions see the new config', () => {
  it('a rule change applies to new sessions only: an established session through the VIP keeps flowing', () => {
    const h = new Harness(config(lbYaml()));
    const a = h.connect(40001);
    h.exchange(a.c, a.real);
    const s = h.dev.reload(
      config(lbYaml({ rules: '[ { name: no-web, from: inside, dst: 10.0.0.100, action: drop } ]' })),
    );
    expect(s.rules).toEqual({ before: 1, after: 1, changed: true });
    h.exchange(a.c, a.real);
    h.exchange(a.c, a.real);
    expect(h.trySyn(40002)).toBe('dropped policy-deny');
    // The old session closes normally.
    expect(h.feed(a.c.fin(0, true))).toBe('forwarded');
    expect(h.feed(a.c.fin(0, false))).toBe('forwarded');
    expect(h.feed(a.c.ack(0, true))).toBe('forwarded');
  });

  it('an added real gets new sessions; kept reals keep their slot, counters and sessions', () => {
    const h = new Harness(config(lbYaml()));
    const a = h.connect(40001);
    const b = h.connect(40002);
    expect([a.real, b.real].sort()).toEqual(['10.0.2.11', '10.0.2.12']);
    const pool = h.dev.lb.vs.pools[0]!;
    expect([pool.active(0), pool.active(1)]).toEqual([1, 1]);
    const s = h.dev.reload(
      config(
        lbYaml({
          reals: `[ { address: 10.0.2.11, port: 8080 }, { address: 10.0.2.12, port: 8080 },
        { address: 10.0.2.13, port: 8080 } ]`,
        }),
      ),
    );
    expect(s.reals.added).toEqual([{ vs: 'web', real: '10.0.2.13:8080' }]);
    expect(s.virtualServers).toEqual({ added: [], removed: [], changed: ['web'] });
    expect(h.dev.lb.vs.pools[0]).toBe(pool);
    expect([pool.active(0), pool.active(1), pool.count]).toEqual([1, 1, 3]);
    h.exchange(a.c, a.real);
    h.exchange(b.c, b.real);
    const picks = [h.trySyn(40003), h.trySyn(40004), h.trySyn(40005)];
    expect(picks.sort()).toEqual(['10.0.2.11', '10.0.2.12', '10.0.2.13']);
  });

  it('a removed real gets no new sessions; its sessions continue until they end, then its slot is free', () => {
    const h = new Harness(config(lbYaml()));
    const a = h.connect(40001);
    const b = h.connect(40002);
    const gone = b.real === '10.0.2.12' ? b : a;
    const stays = gone === a ? b : a;
    const pool = h.dev.lb.vs.pools[0]!;
    const slot = pool.find(Uint32Array.of(0, 0, 0xffff, 0x0a00020c), 8080);
    const s = h.dev.reload(config(lbYaml({ reals: '[ { address: 10.0.2.11, port: 8080 } ]' })));
    expect(s.reals.removed).toEqual([{ vs: 'web', real: '10.0.2.12:8080', sessions: 1 }]);
    expect(pool.isMember(slot)).toBe(false);
    h.exchange(gone.c, '10.0.2.12');
    h.exchange(stays.c, '10.0.2.11');
    for (let p = 40010; p < 40016; p++) expect(h.trySyn(p)).toBe('10.0.2.11');
    expect(pool.active(slot)).toBe(1);
    // The removed real's session closes, then expires: the counter drops and the slot is freed.
    h.feed(gone.c.fin(0, true));
    h.feed(gone.c.fin(0, false));
    h.feed(gone.c.ack(0, true));
    h.dev.advance(h.t + 200_000);
    expect(pool.active(slot) + pool.inactive(slot)).toBe(0);
    expect(pool.state[slot]).toBe(0);
  });

  it('a scheduler change (rr -> sh) applies to new sessions; a weight of 0 drains; old sessions continue', () => {
    const h = new Harness(config(lbYaml()));
    const a = h.connect(40001);
    const b = h.connect(40002);
    h.dev.reload(config(lbYaml({ vsExtra: 'scheduler: sh' })));
    expect(h.dev.lb.vs.schedulers[0]!.name).toBe('sh');
    // sh hashes the client address: every new connection from one client reaches one real.
    const picks = new Set([40010, 40011, 40012, 40013, 40014].map((p) => h.trySyn(p, '10.0.1.7')));
    expect(picks.size).toBe(1);
    h.exchange(a.c, a.real);
    h.exchange(b.c, b.real);
    h.dev.reload(
      config(
        lbYaml({
          reals: '[ { address: 10.0.2.11, port: 8080, weight: 0 }, { address: 10.0.2.12, port: 8080 } ]',
        }),
      ),
    );
    for (let p = 40020; p < 40026; p++) expect(h.trySyn(p, `10.0.1.${p - 40000}`)).toBe('10.0.2.12');
    h.exchange(a.c, a.real);
    h.exchange(b.c, b.real);
  });

  it('persistence entries of a kept virtual server survive a reload', () => {
    const h = new Harness(config(lbYaml({ vsExtra: 'scheduler: rr\n    persistence: 300' })));
    const first = h.trySyn(40001);
    // rr would move the next connection to the other real; persistence keeps it.
    h.dev.reload(
      config(
        lbYaml({
          vsExtra: 'scheduler: rr\n    persistence: 600',
          rules: '[ { name: a, from: inside, action: accept }, { name: b, from: dmz, action: drop } ]',
        }),
      ),
    );
    expect(h.dev.lb.vs.persistence[0]!.timeoutMs).toBe(600_000);
    expect([h.trySyn(40002), h.trySyn(40003)]).toEqual([first, first]);
    expect(h.trySyn(40004, '10.0.1.9')).not.toBe('dropped no-real-server');
  });

  it('virtual servers added before a kept one: its sessions are remapped and still counted on their real', () => {
    const h = new Harness(config(lbYaml()));
    const a = h.connect(40001);
    const pool = h.dev.lb.vs.pools[0]!;
    const slot = pool.find(
      Uint32Array.of(0, 0, 0xffff, a.real === '10.0.2.11' ? 0x0a00020b : 0x0a00020c),
      8080,
    );
    expect(pool.active(slot)).toBe(1);
    const dns = `
  - name: dns
    vip: 10.0.0.53
    proto: udp
    port: 53
    reals: [ { address: 10.0.2.11 } ]`;
    const s = h.dev.reload(config(lbYaml({ vsBefore: dns })));
    expect(s.virtualServers.added).toEqual(['dns']);
    expect(s.sessionsRemapped).toBe(1);
    expect(h.dev.lb.vs.pools[1]).toBe(pool);
    h.exchange(a.c, a.real);
    expect(h.feed(udpFrame('10.0.1.2', 5353, '10.0.0.53', 53))).toBe('forwarded');
    // The session ends: the counter of the right real in the right pool goes down.
    h.feed(a.c.rst(0, true));
    h.dev.advance(h.t + 20_000);
    expect(pool.active(slot) + pool.inactive(slot)).toBe(0);
    expect(h.dev.lb.vs.pools[0]!.inactive(0)).toBe(1); // the dns session, on the new pool
    // Removing the virtual server: its session continues, counted nowhere.
    const b = h.connect(40002);
    const r = h.dev.reload(
      config(lbYaml({ vsBefore: dns }).replace(/ {2}- name: web[\s\S]*?scheduler: rr\n/, '')),
    );
    expect(r.virtualServers.removed).toEqual(['web']);
    h.exchange(b.c, b.real);
    expect(h.trySyn(40003)).toBe('10.0.0.100'); // no VIP any more: forwarded as addressed, no DNAT
  });

  it('timeouts apply from a session’s next packet; checksum verification and masquerade switch live', () => {
    const h = new Harness(config(lbYaml()));
    const a = h.connect(40001);
    const b = h.connect(40002);
    const short =
      'sessions: { timeouts: { tcp: { established: 5 } }, tcp: { loose: false }, verify-checksums: true }';
    const s = h.dev.reload(config(lbYaml({ extra: short })));
    expect([s.timeouts, s.verifyChecksums]).toEqual([true, true]);
    h.exchange(a.c, a.real); // a's next packet: from now on it idles out after 5 s
    h.t += 6000;
    const late = a.c.data(0, true, 10);
    expect(h.feed(late)).toBe('dropped no-session');
    h.exchange(b.c, b.real); // b had no packet since the reload: its old timeout still holds
    const bad = b.c.data(0, true, 10).slice();
    bad[bad.length - 1] ^= 0xff;
    expect(h.feed(bad)).toBe('dropped bad-checksum');

    const masq = 'masquerade: [ { from: inside, to: outside, address: 198.51.100.1 } ]';
    h.dev.reload(config(lbYaml({ rules: '[ { from: inside, action: accept } ]', extra: masq })));
    expect(h.feed(udpFrame('10.0.1.2', 5000, '192.0.2.1', 53))).toBe('forwarded');
    expect(formatIp(h.last().src)).toBe('198.51.100.1');
  });

  it('reset-on-expiry switched on resets sessions created after the reload (not those before); off stops it', () => {
    const short = (on: boolean) =>
      `sessions: { reset-on-expiry: ${on}, timeouts: { tcp: { established: 5 } } }`;
    const h = new Harness(config(lbYaml({ extra: short(false) })));
    const before = h.connect(40001);
    h.dev.reload(config(lbYaml({ extra: short(true) })));
    const after = h.connect(40002);
    const sentBefore = h.sent.length;
    h.t += 6000;
    h.dev.advance(h.t);
    expect(h.dev.ct.stats.expired).toBe(2);
    const resets = h.sent.slice(sentBefore).map((f) => {
      const p = new Packet();
      expect(decodeFrame(f, 0, f.length, 1, p)).toBe(0);
      return `${p.tcpFlags.toString(16)} ${formatIp(p.src)}:${p.srcPort} > ${formatIp(p.dst)}:${p.dstPort}`;
    });
    // Only `after`'s: one to the real (as from the client), one to the client (as from the VIP).
    expect(resets).toEqual([`14 10.0.1.2:40002 > ${after.real}:8080`, '14 10.0.0.100:80 > 10.0.1.2:40002']);
    expect(before.real).toMatch(/^10\.0\.2\.1[12]$/);

    h.dev.reload(config(lbYaml({ extra: short(false) })));
    h.connect(40003);
    const n = h.sent.length;
    h.t += 6000;
    h.dev.advance(h.t);
    expect(h.dev.ct.stats.expired).toBe(3);
    expect(h.sent.length).toBe(n);
  });

  it('zone networks change live: a new network moves new sessions into the zone its rules allow', () => {
    const h = new Harness(config(lbYaml()));
    expect(h.feed(udpFrame('10.0.9.2', 5000, '192.0.2.1', 53))).toBe('dropped policy-deny');
    const y = lbYaml().replace(
      'inside: { networks: [10.0.1.0/24] }',
      'inside: { networks: [10.0.1.0/24, 10.0.9.0/24] }',
    );
    const s = h.dev.reload(config(y));
    expect(s.zonesChanged).toEqual(['inside']);
    expect(h.feed(udpFrame('10.0.9.2', 5000, '192.0.2.1', 53))).toBe('forwarded');
  });

  it('a real marked down (health) stays down across a reload that leaves its `up` alone', () => {
    const h = new Harness(config(lbYaml()));
    const pool = h.dev.lb.vs.pools[0]!;
    pool.setUp(0, false);
    h.dev.reload(config(lbYaml({ rules: '[ { from: any, action: accept } ]' })));
    expect(pool.up[0]).toBe(0);
    for (let p = 40001; p < 40005; p++) expect(h.trySyn(p)).toBe('10.0.2.12');
  });
});

describe('Device.reload refuses what needs a restart, and changes nothing', () => {
  const withPorts = (mtu: number, rules = '[ { name: inside-out, from: inside, action: accept } ]') =>
    lbYaml({
      rules,
      extra: `ports:
  - { name: lan, zone: inside, mtu: ${mtu}, match: { networks: [10.0.1.0/24] } }
  - { name: servers, zone: dmz, match: { networks: [10.0.2.0/24] } }`,
    });

  it('a port change refuses the whole reload, naming the port and the field', () => {
    const cfg = config(withPorts(1500));
    const h = new Harness(cfg);
    const a = h.connect(40001);
    const policy = h.dev.policy;
    const vs = h.dev.lb.vs;
    const next = config(withPorts(9000, '[ { from: inside, action: drop } ]'));
    let err: unknown;
    try {
      h.dev.reload(next);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ReloadRefused);
    expect((err as ReloadRefused).restart).toBe(true);
    expect((err as Error).message).toMatch(/^restart needed: ports\[0\] \(lan\)\.mtu: 1500 -> 9000/);
    expect([h.dev.cfg, h.dev.policy, h.dev.lb.vs]).toEqual([cfg, policy, vs]);
    // The new rule (drop) was not applied: new sessions are still accepted.
    expect(h.trySyn(40002)).toMatch(/^10\.0\.2\.1[12]$/);
    h.exchange(a.c, a.real);
  });

  it('names each fixed part that changed: zone set, table size, fragments, routes', () => {
    const h = new Harness(config(lbYaml()));
    const y = lbYaml()
      .replace('outside: { default: true }', 'outside: { default: true }\n  guest: {}')
      .concat('sessions: { max: 1000 }\nfragments: { timeout: 5 }\n');
    let msg = '';
    try {
      h.dev.reload(config(y));
    } catch (e) {
      msg = (e as Error).message;
    }
    expect(msg).toMatch(/^restart needed: /);
    expect(msg).toContain('zones: [inside, dmz, outside] -> [inside, dmz, outside, guest]');
    expect(msg).toContain('sessions.max: 262144 -> 1000');
    expect(msg).toContain('fragments.timeout (ms): 30000 -> 5000');

    const routed = (via: string) =>
      lbYaml({
        extra: `ports:
  - { name: lan, zone: inside, mac: '02:00:00:00:01:01', address: [10.0.1.1/24] }
  - { name: servers, zone: dmz, mac: '02:00:00:00:02:01', address: [10.0.2.1/24] }
routes:
  - { prefix: 0.0.0.0/0, port: lan, via: ${via} }`,
      });
    const r = new Harness(config(routed('10.0.1.254')));
    expect(() => r.dev.reload(config(routed('10.0.1.253')))).toThrow(
      /^restart needed: routes\[0\]\.via: 10\.0\.1\.254 -> 10\.0\.1\.253/,
    );
    expect(() => r.dev.reload(config(lbYaml()))).toThrow(/ports: 2 -> 0 entries/);
  });

  it('a duplicate real is refused before anything changes', () => {
    const h = new Harness(config(lbYaml()));
    const pool = h.dev.lb.vs.pools[0]!;
    const dup =
      '[ { address: 10.0.2.11, port: 8080 }, { address: 10.0.2.13, port: 8080 }, { address: 10.0.2.13, port: 8080 } ]';
    expect(() => h.dev.reload(config(lbYaml({ reals: dup })))).toThrow(/real 10\.0\.2\.13:8080 twice/);
    expect(pool.count).toBe(2);
    expect(pool.find(Uint32Array.of(0, 0, 0xffff, 0x0a00020d), 8080)).toBe(-1);
  });
});
