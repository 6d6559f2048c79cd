/** Reliable delivery of session records between two nodes over a lossy in-memory link. */
import { describe, expect, it } from 'vitest';
import { RJ_BAD_MAC } from '../../../src/ha/auth.js';
import { MF_RETRANSMIT, MsgHeader, readHeader, T_ACK, T_SESSIONS } from '../../../src/ha/msg.js';
import { RX_BEYOND, RX_DUP, RX_NEW, SyncReceiver } from '../../../src/ha/reliable-recv.js';
import { IMP_CREATED, IMP_STALE, IMP_UPDATED } from '../../../src/ha/sessions.js';
import { addSessions, dump, expectSameTables, pair, rng, settled, touchSession } from './helpers.js';

const typeOf = (data: Uint8Array): number => {
  const h = new MsgHeader();
  return readHeader(data, 0, data.length, h) === 0 ? h.type : -1;
};

describe('sync receiver', () => {
  it('delivers each seq once, acks cumulatively and lists the gaps', () => {
    const r = new SyncReceiver();
    expect(r.accept(10, 10)).toBe(RX_NEW);
    expect(r.accept(12, 10)).toBe(RX_NEW);
    expect(r.accept(15, 10)).toBe(RX_NEW);
    expect(r.accept(12, 10)).toBe(RX_DUP);
    expect(r.cumAck()).toBe(10);
    const out = new Uint32Array(8);
    expect(r.missing(out, 4)).toBe(2);
    expect(Array.from(out.subarray(0, 4))).toEqual([11, 11, 13, 14]);
    expect(r.accept(11, 10)).toBe(RX_NEW);
    expect(r.cumAck()).toBe(12);
    expect(r.accept(10 + 5000, 10)).toBe(RX_BEYOND);
    expect(r.stats).toMatchObject({ delivered: 4, duplicates: 1, beyondWindow: 1, lost: 0 });
  });

  it('lists at most `max` gaps and then claims nothing beyond the last one listed', () => {
    const r = new SyncReceiver();
    for (let q = 1; q <= 201; q += 2) r.accept(q, 1); // 2, 4, ..., 200 missing
    const out = new Uint32Array(128);
    expect(r.missing(out, 64)).toBe(64);
    expect([out[0], out[1], out[126], out[127]]).toEqual([2, 2, 128, 128]);
    expect(r.missingHigh).toBe(129);
    expect(r.missing(out, 100)).toBe(100);
    expect(r.missingHigh).toBe(201);
  });

  it('skips what the sender gave up, counts it lost once, and wraps around 2^32', () => {
    const r = new SyncReceiver();
    expect(r.accept(0xfffffffe, 0xfffffffe)).toBe(RX_NEW);
    expect(r.accept(1, 0xfffffffe)).toBe(RX_NEW); // 0xffffffff and 0 missing
    expect(r.hasGap()).toBe(true);
    expect(r.accept(2, 1)).toBe(RX_NEW); // the sender gave up 0xffffffff and 0
    expect(r.cumAck()).toBe(2);
    expect(r.hasGap()).toBe(false);
    expect(r.stats.lost).toBe(2);
    expect(r.takeLost()).toBe(true);
    expect(r.takeLost()).toBe(false);
    expect(r.unwrap(3) - r.unwrap(0xfffffffe)).toBe(5);
  });
});

describe('reliable session sync between two nodes', () => {
  it('recovers from more gaps than one NACK can list (every other message of a burst lost)', () => {
    const { net, a, b } = pair();
    net.run(20);
    const h = new MsgHeader();
    let k = 0;
    net.drop = (d) =>
      d.from === 1 &&
      readHeader(d.data, 0, d.data.length, h) === 0 &&
      h.type === T_SESSIONS &&
      (h.flags & MF_RETRANSMIT) === 0 &&
      k++ % 2 === 0;
    addSessions(a, 1800, 11, net.now); // about 150 messages, 75 of them lost
    a.flush(net.now);
    const took = net.runUntil(() => settled(a, b), 10_000);
    expect(took).toBeLessThan(10_000);
    expect(net.dropped).toBeGreaterThan(64);
    expect(a.peers[0]!.ch.sender.stats.gaveUp).toBe(0);
    expect(b.table.imported[IMP_CREATED]).toBe(1800);
    expect(expectSameTables(a, b)).toBe(1800);
  });

  it('gets every insert across once when a third of the datagrams (both ways) are dropped', () => {
    const { net, a, b } = pair();
    const r = rng(7);
    net.drop = (d) => d.at > 20 && d.at < 1500 && r() < 1 / 3;
    net.run(20);
    addSessions(a, 600, 1, net.now);
    a.flush(net.now);
    const took = net.runUntil(() => settled(a, b) && net.queue.length === 0, 20_000);
    expect(took).toBeLessThan(20_000);
    expect(net.dropped).toBeGreaterThan(10);
    const s = a.peers[0]!.ch.sender.stats;
    expect(s.retransmits + s.fastRetransmits).toBeGreaterThan(0);
    expect(s.gaveUp).toBe(0);
    // Exactly once: each session was created once and no record was applied twice.
    expect(b.table.imported[IMP_CREATED]).toBe(600);
    expect(b.table.imported[IMP_STALE]).toBe(0);
    expect(b.peers[0]!.ch.receiver.stats.duplicates).toBeGreaterThan(0); // retransmissions whose ack was lost
    expect(expectSameTables(a, b)).toBe(600);
  });

  it('a NACK for one dropped message brings a retransmission before any timeout', () => {
    const { net, a, b } = pair();
    net.run(20);
    let sessionsMsgs = 0;
    net.drop = (d) => d.from === 1 && typeOf(d.data) === T_SESSIONS && ++sessionsMsgs === 2;
    const t0 = net.now;
    addSessions(a, 60, 2, net.now); // 5 messages of 12 records
    a.flush(net.now);
    net.runUntil(() => settled(a, b), 5000);
    const s = a.peers[0]!.ch.sender.stats;
    expect(net.dropped).toBe(1);
    expect(s.fastRetransmits).toBe(1);
    expect(s.retransmits).toBe(0);
    expect(net.now - t0).toBeLessThan(a.cfg.rtoInitialMs);
    expect(b.peers[0]!.ch.nacksSent).toBeGreaterThanOrEqual(1);
    expect(expectSameTables(a, b)).toBe(60);
  });

  it('retransmits on timeout when the last message is lost (nothing after it to reveal the gap)', () => {
    const { net, a, b } = pair();
    net.run(20);
    let n = 0;
    net.drop = (d) => d.from === 1 && typeOf(d.data) === T_SESSIONS && ++n === 1;
    const t0 = net.now;
    // The timeout has adapted to the link's round trip (2 ms) and sits at its floor.
    const rto = a.peers[0]!.ch.sender.rto;
    expect(rto).toBe(a.cfg.rtoMinMs);
    addSessions(a, 5, 3, net.now);
    a.flush(net.now);
    net.runUntil(() => settled(a, b), 5000);
    expect(a.peers[0]!.ch.sender.stats.retransmits).toBe(1);
    expect(a.peers[0]!.ch.sender.stats.fastRetransmits).toBe(0);
    expect(net.now - t0).toBeGreaterThanOrEqual(rto);
    expect(expectSameTables(a, b)).toBe(5);
  });

  it('backs off exponentially while the peer does not answer, up to the cap', () => {
    const { net, a } = pair({ channel: { deadMs: 60_000, heartbeatMs: 60_000 } });
    net.run(20);
    const sendTimes: number[] = [];
    net.drop = (d) => {
      if (d.from === 1 && typeOf(d.data) === T_SESSIONS) sendTimes.push(d.at - net.delayMs);
      return d.from === 1;
    };
    const rto = a.peers[0]!.ch.sender.rto; // 20 ms after the first round trips
    addSessions(a, 1, 4, net.now);
    a.flush(net.now);
    net.run(12_000);
    const gaps = sendTimes.slice(1).map((t, i) => t - sendTimes[i]!);
    expect(gaps.slice(0, 7)).toEqual([1, 2, 4, 8, 16, 32, 64].map((k) => k * rto));
    expect(gaps.slice(7).length).toBeGreaterThan(2);
    expect(gaps.slice(7).every((g) => g === a.cfg.rtoMaxMs)).toBe(true);
  });

  it('coalesces acks: one ack for a burst of messages delivered together', () => {
    const { net, a, b } = pair();
    net.run(20);
    const acks: number[] = [];
    net.drop = (d) => {
      if (d.from === 2 && typeOf(d.data) === T_ACK) acks.push(d.at);
      return false;
    };
    addSessions(a, 120, 5, net.now); // 10 messages, all sent at once
    a.flush(net.now);
    net.runUntil(() => settled(a, b), 1000);
    expect(acks).toHaveLength(1);
    expect(expectSameTables(a, b)).toBe(120);
  });

  it('an older update never overwrites a newer one, whatever order they arrive in', () => {
    const { net, a, b } = pair();
    net.run(20);
    const [id] = addSessions(a, 1, 6, net.now);
    a.flush(net.now);
    net.runUntil(() => settled(a, b), 1000);
    // Update 1 is dropped the first time; update 2 arrives first; update 1's retransmission comes last.
    let n = 0;
    net.drop = (d) => d.from === 1 && typeOf(d.data) === T_SESSIONS && ++n === 1;
    touchSession(a, id!, 1);
    a.flush(net.now);
    net.run(5);
    touchSession(a, id!, 2);
    a.flush(net.now);
    net.runUntil(() => settled(a, b), 5000);
    expect(b.table.imported[IMP_UPDATED]).toBe(1);
    expect(b.table.imported[IMP_STALE]).toBe(1);
    expect(expectSameTables(a, b)).toBe(1);
  });

  it('a delete overtaking an older update of the same session is not undone by it', () => {
    const { net, a, b } = pair();
    net.run(20);
    const [id] = addSessions(a, 1, 8, net.now);
    a.flush(net.now);
    net.runUntil(() => settled(a, b), 1000);
    let n = 0;
    net.drop = (d) => d.from === 1 && typeOf(d.data) === T_SESSIONS && ++n === 1;
    touchSession(a, id!, 3);
    a.flush(net.now);
    net.run(5);
    a.ct.drop(id!); // Conntrack.onRemove -> delete
    a.flush(net.now);
    net.runUntil(() => settled(a, b), 5000);
    expect(a.ct.table.count).toBe(0);
    expect(b.ct.table.count).toBe(0);
    expect(b.table.imported[IMP_STALE]).toBe(1);
  });

  it('sends changes only for sessions it owns, coalescing several changes into one record', () => {
    const { net, a, b } = pair();
    net.run(20);
    const ids = addSessions(a, 3, 9, net.now);
    a.flush(net.now);
    net.runUntil(() => settled(a, b), 1000);
    for (let k = 0; k < 5; k++) touchSession(a, ids[0]!, 10 + k);
    a.flush(net.now);
    // On b these sessions are a's: changes there are not sent back.
    const bIds = [...dump(b).values()].length;
    expect(bIds).toBe(3);
    for (let id = 0; id < b.ct.table.capacity; id++) if (b.ct.table.isUsed(id)) b.updated(id);
    b.flush(net.now);
    net.runUntil(() => settled(a, b), 1000);
    expect(a.stats.updates).toBe(1);
    expect(b.stats.updates).toBe(0);
    expect(expectSameTables(a, b)).toBe(3);
  });

  it('a tampered copy of a sessions message changes nothing; the authentic retransmission does', () => {
    const { net, a, b } = pair();
    net.run(20);
    let captured: Uint8Array | null = null;
    net.drop = (d) => {
      if (d.from !== 1 || typeOf(d.data) !== T_SESSIONS || captured) return false;
      captured = d.data.slice();
      return true;
    };
    addSessions(a, 1, 10, net.now);
    a.flush(net.now);
    net.run(2);
    const forged = captured!;
    forged[forged.length - 40] ^= 0x01; // inside the record (a TCP word)
    expect(b.receive(forged, 0, forged.length, net.now)).toBe(RJ_BAD_MAC);
    expect(b.ct.table.count).toBe(0);
    net.runUntil(() => settled(a, b), 2000);
    expect(b.ct.table.count).toBe(1);
    expect(expectSameTables(a, b)).toBe(1);
  });
});
