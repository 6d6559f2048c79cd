/** Export and import of real sessions (made by frames through a Device), and the import rules. */
import { describe, expect, it } from 'vitest';
import { OP_DELETE, OP_INSERT, OP_UPDATE, SessionRecord } from '../../../src/ha/msg-records.js';
import {
  IMP_ABSENT,
  IMP_CONFLICT,
  IMP_CREATED,
  IMP_DELETED,
  IMP_FULL,
  IMP_STALE,
  IMP_UPDATED,
  SyncTable,
} from '../../../src/ha/sessions.js';
import { SyncNode } from '../../../src/ha/sync.js';
import { reasonName } from '../../../src/session/reasons.js';
import { F_ASSURED, F_DNAT, F_PEER } from '../../../src/session/table.js';
import { TCP_STATE_ESTABLISHED } from '../../../src/session/tcp-states.js';
import { TCP_WORDS } from '../../../src/session/tcp-store.js';
import { tcpState } from '../../../src/session/tcp-track.js';
import { formatIp } from '../../../src/wire/addr.js';
import { decodeFrame } from '../../../src/wire/decode.js';
import { Packet } from '../../../src/wire/packet.js';
import { V_DROPPED, V_FORWARDED } from '../../../src/device/verdict.js';
import { echoFrame, TcpConv, udpFrame } from '../../support/conv.js';
import { conntrack, expectSameTables, feed, Net, newDevice, nodeConfig, settled } from './helpers.js';

/** Device A with traffic, device B empty, a sync node on each, run until B holds what A holds. */
function synced(frames: { t: number; frame: Uint8Array }[]) {
  const A = newDevice();
  const B = newDevice();
  const verdicts = feed(A.dev, frames);
  const net = new Net();
  net.now = Math.ceil(frames[frames.length - 1]!.t * 1000) + 1;
  const a = net.add(new SyncNode(A.dev.ct, nodeConfig(1, 1000, [2]), net.sender(1)));
  const b = net.add(new SyncNode(B.dev.ct, nodeConfig(2, 2000, [1]), net.sender(2)));
  a.start(net.now);
  b.start(net.now);
  net.runUntil(() => b.ct.table.count === a.ct.table.count && settled(a, b), 2000);
  return { A, B, a, b, net, verdicts };
}

function only(node: SyncNode): number {
  const t = node.ct.table;
  for (let id = 0; id < t.capacity; id++) if (t.isUsed(id)) return id;
  return -1;
}

const ends = (frame: Uint8Array): string => {
  const p = new Packet();
  expect(decodeFrame(frame, 0, frame.length, 1, p)).toBe(0);
  return `${formatIp(p.src)}:${p.srcPort} > ${formatIp(p.dst)}:${p.dstPort}`;
};

describe('sessions synced from a device', () => {
  it('an ESTABLISHED TCP session on the peer accepts the next segments and drops one out of window', () => {
    const c = new TcpConv('10.0.1.2', 40001, '93.184.216.34', 80);
    c.syn(1);
    c.synAck(1.01);
    c.ack(1.02);
    c.data(1.03, true, 100);
    c.data(1.04, false, 500);
    const { A, B, a, b, net } = synced(c.frames);
    expect(A.dev.ct.table.count).toBe(1);
    const id = only(b);
    expect(tcpState(b.ct.tcp, id)).toBe(TCP_STATE_ESTABLISHED);
    expect(b.ct.table.flags(id) & (F_PEER | F_ASSURED)).toBe(F_PEER | F_ASSURED);
    expect(expectSameTables(a, b)).toBe(1);

    const at = net.now / 1000 + 0.01;
    const next = [c.data(at, true, 50), c.ack(at + 0.01, false), c.data(at + 0.02, false, 300)];
    for (const [k, f] of next.entries()) {
      const v = B.dev.process(f.slice(), 0, f.length, 1, -1, (at + k * 0.01) * 1000);
      expect(v, reasonName(B.dev.reason)).toBe(V_FORWARDED);
      expect(B.dev.session).toBe(b.ct.table.serial(id));
    }
    expect(B.dev.ct.table.count).toBe(1);
    // The window state came along: a segment a gigabyte ahead is out of window on the peer...
    c.cseq = (c.cseq + 0x40000000) >>> 0;
    const wild = c.data(at + 0.05, true, 10);
    expect(B.dev.process(wild.slice(), 0, wild.length, 1, -1, (at + 0.05) * 1000)).toBe(V_DROPPED);
    expect(reasonName(B.dev.reason)).toBe('out-of-window');
    // ...while a device that knows nothing picks it up as a new connection (loose pickup).
    const fresh = newDevice();
    expect(fresh.dev.process(wild.slice(), 0, wild.length, 1, -1, (at + 0.05) * 1000)).toBe(V_FORWARDED);
    expect(A.sent.length).toBe(5);
  });

  it('a load-balanced (DNAT) session is complete on the peer: it rewrites both ways to the same real', () => {
    const c = new TcpConv('10.0.1.2', 40002, '10.0.0.100', 80, 500);
    c.replyFrom = { addr: '10.0.2.11', port: 8080 };
    c.syn(1);
    c.synAck(1.01);
    c.ack(1.02);
    c.data(1.03, true, 80);
    const { A, B, a, b, net } = synced(c.frames);
    expect(A.sent.map((f) => ends(f))[0]).toBe('10.0.1.2:40002 > 10.0.2.11:8080');
    const id = only(b);
    expect(b.ct.table.flags(id) & F_DNAT).toBe(F_DNAT);
    expect(b.ct.table.aux(id)).toBe(A.dev.ct.table.aux(only(a)));
    expect(expectSameTables(a, b)).toBe(1);
    const at = net.now / 1000 + 0.01;
    const reply = c.data(at, false, 200);
    const more = c.data(at + 0.01, true, 20);
    expect(
      feed(B.dev, [
        { t: at, frame: reply },
        { t: at + 0.01, frame: more },
      ]),
    ).toEqual([V_FORWARDED, V_FORWARDED]);
    expect(B.sent.map((f) => ends(f))).toEqual([
      '10.0.0.100:80 > 10.0.1.2:40002',
      '10.0.1.2:40002 > 10.0.2.11:8080',
    ]);
    expect(B.dev.ct.table.count).toBe(1);
  });

  it('UDP, ICMP and IPv6 sessions arrive equal, one by one', () => {
    const v6 = new TcpConv('fd00:1::2', 40003, '2001:db8::80', 443);
    v6.syn(1);
    v6.synAck(1.01);
    v6.ack(1.02);
    const frames = [
      ...v6.frames,
      { t: 1.03, frame: udpFrame('10.0.1.2', 5353, '8.8.8.8', 53) },
      { t: 1.04, frame: udpFrame('8.8.8.8', 53, '10.0.1.2', 5353) },
      { t: 1.05, frame: echoFrame('10.0.1.2', '1.1.1.1', 77, 1) },
      { t: 1.06, frame: udpFrame('10.0.1.3', 6000, '9.9.9.9', 123, 48, [20]) },
    ];
    const { A, a, b, verdicts } = synced(frames);
    expect(verdicts.every((v) => v === V_FORWARDED)).toBe(true);
    expect(A.dev.ct.table.count).toBe(4);
    expect(expectSameTables(a, b)).toBe(4);
  });

  it('a session that ends on the owner is deleted on the peer', () => {
    const c = new TcpConv('10.0.1.2', 40004, '93.184.216.34', 80).fullExchange(1);
    const { A, a, b, net } = synced(c.frames);
    expect(b.ct.table.count).toBe(1);
    A.dev.advance(net.now + 200_000); // TIME_WAIT (120 s) runs out on the owner
    a.flush(net.now);
    net.runUntil(() => b.ct.table.count === 0, 100);
    expect(b.table.imported[IMP_DELETED]).toBe(1);
    expect(a.stats.deletes).toBe(1);
  });
});

describe('import rules', () => {
  /** A UDP record from owner 2. */
  function rec(over: Partial<SessionRecord> = {}): SessionRecord {
    const r = new SessionRecord();
    r.op = OP_INSERT;
    r.zoneProto = 17;
    r.oSrc.set([0, 0, 0xffff, 0x0a000102]);
    r.oDst.set([0, 0, 0xffff, 0x08080808]);
    r.rSrc.set(r.oDst);
    r.rDst.set(r.oSrc);
    r.origPorts = ((40000 << 16) | 53) >>> 0;
    r.replyPorts = (53 << 16) | 40000;
    r.owner = 2;
    r.version = 100;
    r.lifetimeMs = 30_000;
    r.aux = 0xffff;
    return Object.assign(r, over);
  }

  it('keeps lifetimes relative: a peer with another clock expires the session after the same time', () => {
    const st = new SyncTable(conntrack(), 1);
    expect(st.importRecord(rec(), 5e9, -1)).toBe(IMP_CREATED);
    const id = only({ ct: st.ct } as SyncNode);
    expect(st.ct.table.expires(id)).toBe(5e9 + 30_000);
    const out = new SessionRecord();
    st.exportSession(id, OP_UPDATE, 5e9 + 10_000, out);
    expect(out.lifetimeMs).toBe(20_000);
    expect(out.owner).toBe(2);
    expect(out.version).toBe(100);
  });

  it('creates, updates only with a newer version, deletes, and counts each outcome', () => {
    const st = new SyncTable(conntrack(), 1);
    expect(st.importRecord(rec(), 0, -1)).toBe(IMP_CREATED);
    expect(st.importRecord(rec({ version: 100, state: 9 }), 0, -1)).toBe(IMP_STALE);
    expect(st.importRecord(rec({ version: 99, state: 9 }), 0, -1)).toBe(IMP_STALE);
    expect(st.importRecord(rec({ op: OP_UPDATE, version: 101, state: 2 }), 0, -1)).toBe(IMP_UPDATED);
    const id = only({ ct: st.ct } as SyncNode);
    expect(st.ct.table.state(id)).toBe(2);
    expect(st.importRecord(rec({ op: OP_DELETE, version: 100 }), 0, -1)).toBe(IMP_STALE);
    expect(st.importRecord(rec({ op: OP_DELETE, version: 102, owner: 3 }), 0, -1)).toBe(IMP_CONFLICT);
    expect(st.importRecord(rec({ op: OP_DELETE, version: 102 }), 0, -1)).toBe(IMP_DELETED);
    expect(st.ct.table.count).toBe(0);
    expect(st.importRecord(rec({ op: OP_DELETE, version: 103 }), 0, -1)).toBe(IMP_ABSENT);
    // The delete is remembered: an older insert arriving late does not bring it back; a newer one does.
    expect(st.importRecord(rec({ version: 101 }), 0, -1)).toBe(IMP_STALE);
    expect(st.importRecord(rec({ version: 104 }), 0, -1)).toBe(IMP_CREATED);
    expect(Array.from(st.imported)).toEqual([2, 1, 1, 4, 1, 1, 0]);
  });

  it('never overwrites or deletes a session this node owns', () => {
    const ct = conntrack();
    const st = new SyncTable(ct, 1);
    const r = rec();
    const id = ct.table.insert(r.zoneProto, r.oSrc, r.oDst, r.origPorts, r.rSrc, r.rDst, r.replyPorts, 0);
    expect(st.isLocal(id)).toBe(true);
    expect(st.importRecord(rec({ version: 1e12 }), 0, -1)).toBe(IMP_CONFLICT);
    expect(st.importRecord(rec({ op: OP_DELETE, version: 1e12 }), 0, -1)).toBe(IMP_CONFLICT);
    expect(st.importRecord(rec({ owner: 1 }), 0, -1)).toBe(IMP_STALE); // our own, relayed back
    expect(ct.table.isUsed(id)).toBe(true);
    expect(ct.table.flags(id) & F_PEER).toBe(0);
  });

  it('a peer session whose reply tuple changed is replaced by the newer state, or by another owner’s session', () => {
    const st = new SyncTable(conntrack(), 1);
    st.importRecord(rec(), 0, -1);
    const moved = rec({ version: 101 });
    moved.rSrc.set([0, 0, 0xffff, 0x0a00020b]);
    moved.replyPorts = (8080 << 16) | 40000;
    expect(st.importRecord(moved, 0, -1)).toBe(IMP_CREATED);
    expect(st.ct.table.count).toBe(1);
    const id = only({ ct: st.ct } as SyncNode);
    expect(st.ct.table.ports(id, 1)).toBe(moved.replyPorts);
    // An older state of the same owner with the old reply tuple does not replace it back.
    expect(st.importRecord(rec({ version: 100 }), 0, -1)).toBe(IMP_STALE);
    // Another owner's session on the same tuple (its clock is not comparable) replaces it.
    expect(st.importRecord(rec({ owner: 3, version: 5 }), 0, -1)).toBe(IMP_CREATED);
    expect(st.ownerOf(only({ ct: st.ct } as SyncNode))).toBe(3);
    expect(st.ct.table.count).toBe(1);
  });

  it('a full table evicts a session that is not assured, else refuses the record', () => {
    const ct = conntrack(2);
    const st = new SyncTable(ct, 1);
    const r1 = rec({ flags: F_ASSURED });
    const r2 = rec({
      flags: F_ASSURED,
      origPorts: ((40001 << 16) | 53) >>> 0,
      replyPorts: (53 << 16) | 40001,
    });
    const r3 = rec({ origPorts: ((40002 << 16) | 53) >>> 0, replyPorts: (53 << 16) | 40002 });
    expect([r1, r2].map((r) => st.importRecord(r, 0, -1))).toEqual([IMP_CREATED, IMP_CREATED]);
    expect(st.importRecord(r3, 0, -1)).toBe(IMP_FULL);
    const id2 = ct.table.lookup(17, r2.oSrc, r2.oDst, r2.origPorts) >> 1;
    ct.table.setFlags(id2, ct.table.flags(id2) & ~F_ASSURED);
    expect(st.importRecord(r3, 0, -1)).toBe(IMP_CREATED);
    expect(ct.stats.evicted).toBe(1);
    expect(ct.table.lookup(17, r2.oSrc, r2.oDst, r2.origPorts)).toBe(-1);
  });

  it('export copies the TCP words exactly and reads nothing beyond the session', () => {
    const c = new TcpConv('10.0.1.2', 40005, '93.184.216.34', 80);
    c.syn(1);
    c.synAck(1.01);
    c.ack(1.02);
    const A = newDevice();
    feed(A.dev, c.frames);
    const st = new SyncTable(A.dev.ct, 1);
    const id = only({ ct: A.dev.ct } as SyncNode);
    const out = new SessionRecord();
    st.exportSession(id, OP_INSERT, 1100, out);
    expect(out.hasTcp).toBe(true);
    expect(Array.from(out.tcp)).toEqual(
      Array.from(A.dev.ct.tcp.data.subarray(id * TCP_WORDS, (id + 1) * TCP_WORDS)),
    );
    expect(out.owner).toBe(1);
    expect(out.version).toBeGreaterThan(0);
  });
});
