import { describe, expect, it } from 'vitest';
import {
  Conntrack,
  defaultConntrackConfig,
  K_INVALID,
  K_NORMAL,
  K_RELATED,
  K_UNTRACKED,
  P_ICMP,
  P_TCP,
  P_UDP,
  type ConntrackConfig,
} from '../../../src/session/conntrack.js';
import {
  R_INVALID_ICMP,
  R_INVALID_TCP_FLAGS,
  R_NO_SESSION,
  R_TABLE_FULL,
} from '../../../src/session/reasons.js';
import { F_ASSURED, F_SEEN_REPLY } from '../../../src/session/table.js';
import {
  TCP_STATE_ESTABLISHED,
  TCP_STATE_SYN_RECV,
  TCP_STATE_SYN_SENT,
} from '../../../src/session/tcp-states.js';
import { tcpState } from '../../../src/session/tcp-track.js';
import { buildFrame, buildIp, type FrameSpec } from '../../../src/wire/build.js';
import { decodeFrame } from '../../../src/wire/decode.js';
import { formatIp } from '../../../src/wire/addr.js';
import { Packet, TCP_ACK, TCP_FIN, TCP_SYN } from '../../../src/wire/packet.js';

const S = 1000; // ms per second

interface Frame {
  pkt: Packet;
  len: number;
}

function frame(spec: FrameSpec): Frame {
  const buf = buildFrame(spec);
  const pkt = new Packet();
  expect(decodeFrame(buf, 0, buf.length, 1, pkt)).toBe(0);
  return { pkt, len: buf.length };
}

const v4 = (src: string, dst: string): Pick<FrameSpec, 'ipv4'> => ({ ipv4: { src, dst } });
const tcp = (src: string, sp: number, dst: string, dp: number, flags: number, seq: number, ack = 0): Frame =>
  frame({ ...v4(src, dst), tcp: { srcPort: sp, dstPort: dp, flags, seq, ack, window: 64240 } });
const udp = (src: string, sp: number, dst: string, dp: number, vlans?: number[], size = 10): Frame =>
  frame({ ...v4(src, dst), vlans, udp: { srcPort: sp, dstPort: dp }, payload: new Uint8Array(size) });
const icmp = (src: string, dst: string, type: number, id: number, seq = 1): Frame =>
  frame({ ...v4(src, dst), icmp: { type, code: 0, id, seq }, payload: new Uint8Array(16) });

function makeCt(over: Partial<ConntrackConfig> = {}): Conntrack {
  return new Conntrack({ ...defaultConntrackConfig(), maxSessions: 64, ...over });
}

/** What the device does with a packet: key, find, then track or create. Returns the entry or -reason. */
function step(ct: Conntrack, f: Frame, now: number): number {
  const kind = ct.key(f.pkt);
  if (kind === K_UNTRACKED || kind === K_INVALID) return -1000 - kind;
  const e = ct.find(now);
  if (e >= 0) {
    const r = ct.track(e, f.pkt, now, f.len, kind === K_RELATED);
    return r === 0 ? e : -r;
  }
  if (kind === K_RELATED) return -R_NO_SESSION;
  const can = ct.canCreate(f.pkt);
  if (can !== 0) return -can;
  const id = ct.create(f.pkt, now, f.len);
  return id < 0 ? id : id << 1;
}

describe('Conntrack: TCP', () => {
  it('a three-way handshake makes one session, found in both directions, ESTABLISHED and assured', () => {
    const ct = makeCt();
    const created: number[] = [];
    ct.onCreate = (id) => created.push(id);
    const syn = tcp('10.0.0.1', 40000, '192.0.2.80', 80, TCP_SYN, 1000);
    expect(ct.key(syn.pkt)).toBe(K_NORMAL);
    expect(ct.find(0)).toBe(-1);
    expect(ct.canCreate(syn.pkt)).toBe(0);
    const id = ct.create(syn.pkt, 0, syn.len);
    expect(id).toBeGreaterThanOrEqual(0);
    expect(created).toEqual([id]);
    expect(tcpState(ct.tcp, id)).toBe(TCP_STATE_SYN_SENT);
    expect(ct.table.expires(id)).toBe(120 * S);
    expect(ct.table.flags(id) & F_ASSURED).toBe(0);

    const synAck = tcp('192.0.2.80', 80, '10.0.0.1', 40000, TCP_SYN | TCP_ACK, 5000, 1001);
    expect(step(ct, synAck, 10)).toBe((id << 1) | 1);
    expect(tcpState(ct.tcp, id)).toBe(TCP_STATE_SYN_RECV);
    expect(ct.table.expires(id)).toBe(10 + 60 * S);
    expect(ct.table.flags(id) & F_SEEN_REPLY).toBe(F_SEEN_REPLY);
    expect(ct.table.flags(id) & F_ASSURED).toBe(0);

    const ack = tcp('10.0.0.1', 40000, '192.0.2.80', 80, TCP_ACK, 1001, 5001);
    expect(step(ct, ack, 20)).toBe(id << 1);
    expect(tcpState(ct.tcp, id)).toBe(TCP_STATE_ESTABLISHED);
    expect(ct.table.flags(id) & F_ASSURED).toBe(F_ASSURED);
    expect(ct.table.expires(id)).toBe(20 + 432000 * S);

    expect(ct.table.count).toBe(1);
    expect(ct.stats.created).toBe(1);
    expect(ct.stats.createdByProto[P_TCP]).toBe(1);
    expect([ct.table.pkts(id, 0), ct.table.pkts(id, 1)]).toEqual([2, 1]);
    expect([ct.table.bytes(id, 0), ct.table.bytes(id, 1)]).toEqual([syn.len + ack.len, synAck.len]);
  });

  it('canCreate: a SYN-ACK without a session is no-session, SYN+FIN is invalid flags', () => {
    const ct = makeCt();
    expect(ct.canCreate(tcp('10.0.0.1', 1, '10.0.0.2', 2, TCP_SYN | TCP_ACK, 1, 1).pkt)).toBe(R_NO_SESSION);
    expect(ct.canCreate(tcp('10.0.0.1', 1, '10.0.0.2', 2, TCP_SYN | TCP_FIN, 1).pkt)).toBe(
      R_INVALID_TCP_FLAGS,
    );
    // Loose pickup: a bare ACK may start a session.
    expect(ct.canCreate(tcp('10.0.0.1', 1, '10.0.0.2', 2, TCP_ACK, 1, 1).pkt)).toBe(0);
  });
});

describe('Conntrack: UDP', () => {
  it('unreplied 30 s, replied 120 s, assured after a packet following the reply', () => {
    const ct = makeCt();
    const q = udp('10.0.0.1', 5353, '192.0.2.53', 53);
    const e0 = step(ct, q, 1000);
    const id = e0 >> 1;
    expect(e0).toBe(id << 1);
    expect(id).toBeGreaterThanOrEqual(0);
    expect(ct.table.expires(id)).toBe(1000 + 30 * S);
    // More packets before any reply keep the unreplied timeout.
    expect(step(ct, q, 5000)).toBe(id << 1);
    expect(ct.table.expires(id)).toBe(5000 + 30 * S);
    expect(ct.table.flags(id) & (F_SEEN_REPLY | F_ASSURED)).toBe(0);

    const a = udp('192.0.2.53', 53, '10.0.0.1', 5353);
    expect(step(ct, a, 6000)).toBe((id << 1) | 1);
    expect(ct.table.expires(id)).toBe(6000 + 120 * S);
    expect(ct.table.flags(id) & (F_SEEN_REPLY | F_ASSURED)).toBe(F_SEEN_REPLY);

    expect(step(ct, q, 7000)).toBe(id << 1);
    expect(ct.table.flags(id) & F_ASSURED).toBe(F_ASSURED);
    expect(ct.table.expires(id)).toBe(7000 + 120 * S);
    expect(ct.stats.createdByProto[P_UDP]).toBe(1);
    expect([ct.table.pkts(id, 0), ct.table.pkts(id, 1)]).toEqual([3, 1]);
  });

  it('expiry by advance calls onExpire and counts stats.expired', () => {
    const ct = makeCt();
    const gone: number[] = [];
    ct.onExpire = (id) => {
      expect(ct.table.isUsed(id)).toBe(true); // called before removal
      gone.push(id);
    };
    ct.advance(0);
    const id = step(ct, udp('10.0.0.1', 1111, '192.0.2.9', 9), 0) >> 1;
    const id2 = step(ct, udp('10.0.0.1', 2222, '192.0.2.9', 9), 10 * S) >> 1;
    ct.advance(30 * S - 1);
    expect(gone).toEqual([]);
    ct.advance(30 * S);
    expect(gone).toEqual([id]);
    expect(ct.stats.expired).toBe(1);
    expect(ct.table.isUsed(id)).toBe(false);
    expect(ct.table.count).toBe(1);
    ct.advance(40 * S);
    expect(gone).toEqual([id, id2]);
    expect(ct.stats.expired).toBe(2);
    expect(ct.table.count).toBe(0);
  });

  it('a refreshed session is not expired at its old time (lazy wheel)', () => {
    const ct = makeCt();
    ct.advance(0);
    const q = udp('10.0.0.1', 1111, '192.0.2.9', 9);
    const id = step(ct, q, 0) >> 1;
    step(ct, q, 20 * S); // now due at 50 s
    ct.advance(30 * S);
    expect(ct.table.isUsed(id)).toBe(true);
    ct.advance(50 * S - 1);
    expect(ct.stats.expired).toBe(0);
    ct.advance(50 * S);
    expect(ct.stats.expired).toBe(1);
  });

  it('find on an expired, not yet advanced session removes it and misses', () => {
    const ct = makeCt();
    let called = 0;
    ct.onExpire = () => called++;
    const q = udp('10.0.0.1', 1111, '192.0.2.9', 9);
    const id = step(ct, q, 0) >> 1;
    ct.key(q.pkt);
    expect(ct.find(30 * S - 1)).toBe(id << 1);
    expect(ct.find(30 * S)).toBe(-1);
    expect(ct.table.isUsed(id)).toBe(false);
    expect(ct.stats.expired).toBe(1);
    expect(called).toBe(1);
    expect(ct.wheel.isScheduled(id)).toBe(false);
    // A later advance does not expire it a second time.
    ct.advance(100 * S);
    expect(ct.stats.expired).toBe(1);
    // And the next packet makes a new session.
    expect(step(ct, q, 31 * S)).toBeGreaterThanOrEqual(0);
    expect(ct.stats.created).toBe(2);
  });

  it('zone by VLAN: the same tuple on VLAN 10 and 20 is two sessions, one when zoneByVlan is off', () => {
    for (const [zoneByVlan, sessions] of [
      [true, 2],
      [false, 1],
    ] as const) {
      const ct = makeCt({ zoneByVlan });
      const a = udp('10.0.0.1', 1000, '10.0.0.2', 2000, [10]);
      const b = udp('10.0.0.1', 1000, '10.0.0.2', 2000, [20]);
      expect(a.pkt.vlanOuter).toBe(10);
      const ea = step(ct, a, 0);
      const eb = step(ct, b, 1);
      expect(ea).toBeGreaterThanOrEqual(0);
      expect(eb).toBeGreaterThanOrEqual(0);
      expect(ct.table.count).toBe(sessions);
      expect(ea === eb).toBe(sessions === 1);
      ct.key(a.pkt);
      expect(ct.kZoneProto).toBe(zoneByVlan ? (10 << 8) | 17 : 17);
      // The reply on VLAN 20 belongs to the VLAN 20 session.
      const r = udp('10.0.0.2', 2000, '10.0.0.1', 1000, [20]);
      expect(step(ct, r, 2)).toBe(eb | 1);
    }
  });
});

describe('Conntrack: ICMP', () => {
  it('echo request and reply are one session keyed by (id << 16) | type', () => {
    const ct = makeCt();
    const req = icmp('10.0.0.1', '192.0.2.1', 8, 0x1234);
    expect(ct.key(req.pkt)).toBe(K_NORMAL);
    expect(ct.kPorts).toBe(((0x1234 << 16) | 8) >>> 0);
    expect(ct.canCreate(req.pkt)).toBe(0);
    const e = step(ct, req, 0);
    const id = e >> 1;
    expect(e).toBe(id << 1);
    expect(ct.table.ports(id, 1)).toBe((0x1234 << 16) | 0);
    expect(ct.table.expires(id)).toBe(30 * S);
    const rep = icmp('192.0.2.1', '10.0.0.1', 0, 0x1234);
    expect(ct.key(rep.pkt)).toBe(K_NORMAL);
    expect(ct.kPorts).toBe(0x1234 << 16);
    expect(step(ct, rep, 100)).toBe((id << 1) | 1);
    // The next request (new sequence number) is the same session.
    expect(step(ct, icmp('10.0.0.1', '192.0.2.1', 8, 0x1234, 2), 1000)).toBe(id << 1);
    expect(ct.table.count).toBe(1);
    expect(ct.stats.createdByProto[P_ICMP]).toBe(1);
    // ICMP sessions are never assured (they may be evicted).
    expect(ct.table.flags(id) & F_ASSURED).toBe(0);
    expect(ct.table.expires(id)).toBe(1000 + 30 * S);
    // Another identifier is another session.
    expect(step(ct, icmp('10.0.0.1', '192.0.2.1', 8, 0x1235), 1000) >> 1).not.toBe(id);
    expect(ct.table.count).toBe(2);
  });

  it('an echo reply without a session cannot create one', () => {
    const ct = makeCt();
    const rep = icmp('192.0.2.1', '10.0.0.1', 0, 7);
    expect(ct.key(rep.pkt)).toBe(K_NORMAL);
    expect(ct.find(0)).toBe(-1);
    expect(ct.canCreate(rep.pkt)).toBe(R_NO_SESSION);
  });

  it('an ICMP type that neither starts nor joins a session is K_INVALID', () => {
    const ct = makeCt();
    const f = icmp('192.0.2.1', '10.0.0.1', 6, 0);
    expect(ct.key(f.pkt)).toBe(K_INVALID);
    expect(ct.canCreate(f.pkt)).toBe(R_INVALID_ICMP);
  });

  it('a port unreachable quoting a session packet is RELATED and finds the session', () => {
    const ct = makeCt();
    const q = udp('10.0.0.1', 40000, '198.51.100.7', 33434);
    const id = step(ct, q, 0) >> 1;
    const quoted = buildIp({ ...v4('10.0.0.1', '198.51.100.7'), udp: { srcPort: 40000, dstPort: 33434 } });
    const err = frame({ ...v4('198.51.100.7', '10.0.0.1'), icmp: { type: 3, code: 3 }, payload: quoted });
    expect(err.pkt.icmpIsError).toBe(true);
    expect(ct.key(err.pkt)).toBe(K_RELATED);
    expect(ct.kProto).toBe(17);
    // As conntrack: the key is the quoted tuple inverted, so the entry found is the
    // direction the error itself travels (here the reply direction).
    expect(formatIp(ct.kSrc)).toBe('198.51.100.7');
    expect(ct.kPorts).toBe(((33434 << 16) | 40000) >>> 0);
    const e = ct.find(10);
    expect(e).toBe((id << 1) | 1);
    const expiresBefore = ct.table.expires(id);
    expect(ct.track(e, err.pkt, 10, err.len, true)).toBe(0);
    // A related packet counts but neither refreshes nor changes state.
    expect(ct.table.expires(id)).toBe(expiresBefore);
    expect(ct.table.flags(id) & F_SEEN_REPLY).toBe(0);
    expect(ct.table.pkts(id, 0)).toBe(1);
    expect(ct.table.pkts(id, 1)).toBe(1);

    // One quoting a packet of no session: RELATED, no hit, and it cannot create one.
    const stray = buildIp({ ...v4('10.0.0.1', '198.51.100.7'), udp: { srcPort: 40001, dstPort: 33435 } });
    const err2 = frame({ ...v4('198.51.100.7', '10.0.0.1'), icmp: { type: 3, code: 3 }, payload: stray });
    expect(ct.key(err2.pkt)).toBe(K_RELATED);
    expect(ct.find(10)).toBe(-1);
    expect(ct.canCreate(err2.pkt)).toBe(R_NO_SESSION);
  });

  it('a time exceeded quoting an echo request is RELATED to the echo session', () => {
    const ct = makeCt();
    const id = step(ct, icmp('10.0.0.1', '192.0.2.1', 8, 0x4242), 0) >> 1;
    const quoted = buildIp({
      ...v4('10.0.0.1', '192.0.2.1'),
      icmp: { type: 8, code: 0, id: 0x4242, seq: 1 },
    });
    const err = frame({ ...v4('203.0.113.254', '10.0.0.1'), icmp: { type: 11, code: 0 }, payload: quoted });
    expect(ct.key(err.pkt)).toBe(K_RELATED);
    expect(ct.kPorts).toBe(((0x4242 << 16) | 0) >>> 0); // inverted: the echo reply's tuple
    expect(ct.find(5)).toBe((id << 1) | 1);
  });

  it('ICMPv6 neighbour solicitation is untracked', () => {
    const ct = makeCt();
    const ns = frame({
      ipv6: { src: 'fe80::1', dst: 'ff02::1:ff00:2', hopLimit: 255 },
      icmpv6: { type: 135, code: 0, rest: 0 },
      payload: new Uint8Array([0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2]),
    });
    expect(ns.pkt.l4Proto).toBe(58);
    expect(ct.key(ns.pkt)).toBe(K_UNTRACKED);
    expect(ct.table.count).toBe(0);
    // ICMPv6 echo is tracked like ICMP echo.
    const req = frame({
      ipv6: { src: '2001:db8::1', dst: '2001:db8::2' },
      icmpv6: { type: 128, code: 0, id: 9 },
    });
    const id = step(ct, req, 0) >> 1;
    const rep = frame({
      ipv6: { src: '2001:db8::2', dst: '2001:db8::1' },
      icmpv6: { type: 129, code: 0, id: 9 },
    });
    expect(step(ct, rep, 1)).toBe((id << 1) | 1);
  });
});

describe('Conntrack: table full', () => {
  it('evicts a session that is not assured, and refuses with table-full when all are assured', () => {
    const ct = makeCt({ maxSessions: 4 });
    const flows = [1, 2, 3, 4].map((i) => udp('10.0.0.1', 1000 + i, '192.0.2.9', 53));
    const ids = flows.map((f) => step(ct, f, 0) >> 1);
    expect(ct.table.count).toBe(4);
    // Assure three of them: a reply, then another packet.
    for (const i of [0, 1, 3]) {
      const r = udp('192.0.2.9', 53, '10.0.0.1', 1001 + i);
      expect(step(ct, r, 1)).toBe((ids[i]! << 1) | 1);
      expect(step(ct, flows[i]!, 2)).toBe(ids[i]! << 1);
      expect(ct.table.flags(ids[i]!) & F_ASSURED).toBe(F_ASSURED);
    }
    const expired: number[] = [];
    ct.onExpire = (id) => expired.push(id);
    const extra = udp('10.0.0.1', 2000, '192.0.2.9', 53);
    const e = step(ct, extra, 3);
    expect(e).toBeGreaterThanOrEqual(0);
    expect(ct.stats.evicted).toBe(1);
    expect(ct.stats.expired).toBe(0);
    expect(expired).toEqual([]); // eviction is not expiry
    expect(ct.table.count).toBe(4);
    // The victim was the only non-assured session, and its slot was reused.
    expect(e >> 1).toBe(ids[2]);
    ct.key(flows[2]!.pkt);
    expect(ct.find(3)).toBe(-1);
    expect(ct.wheel.isScheduled(ids[2]!)).toBe(true); // scheduled again for the new session
    // Assure the newcomer too: now nothing can be evicted.
    expect(step(ct, udp('192.0.2.9', 53, '10.0.0.1', 2000), 4)).toBe(e | 1);
    expect(step(ct, extra, 5)).toBe(e);
    const more = udp('10.0.0.1', 3000, '192.0.2.9', 53);
    ct.key(more.pkt);
    expect(ct.create(more.pkt, 6, more.len)).toBe(-R_TABLE_FULL);
    expect(ct.stats.evicted).toBe(1);
    expect(ct.stats.created).toBe(5);
    expect(ct.stats.peak).toBe(4);
    expect(ct.table.count).toBe(4);
  });
});

describe('Conntrack: memory', () => {
  it('bytesPerSession adds table, wheel and TCP state', () => {
    const ct = makeCt({ maxSessions: 1024 });
    const b = ct.bytesPerSession();
    expect(Number.isFinite(b)).toBe(true);
    expect(b).toBeGreaterThan(ct.table.bytesPerSession() + ct.wheel.bytesPerSession());
  });
});
