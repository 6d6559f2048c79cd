/** Bulk transfers: on join, after a restart (new epoch), after a partition, and the resync when messages were given up. */
import { describe, expect, it } from 'vitest';
import { MsgHeader, readHeader, T_SESSIONS } from '../../../src/ha/msg.js';
import { SyncNode } from '../../../src/ha/sync.js';
import {
  addSessions,
  conntrack,
  dump,
  expectSameTables,
  Net,
  nodeConfig,
  pair,
  rng,
  settled,
} from './helpers.js';

const isSessions = (data: Uint8Array): boolean => {
  const h = new MsgHeader();
  return readHeader(data, 0, data.length, h) === 0 && h.type === T_SESSIONS;
};

describe('bulk transfer', () => {
  it('gives a node that joins everything the other holds', () => {
    const net = new Net();
    const a = net.add(new SyncNode(conntrack(), nodeConfig(1, 1000, [2]), net.sender(1)));
    a.start(0);
    net.run(50);
    addSessions(a, 300, 1, net.now); // no peer up: nothing is sent
    expect(a.stats.inserts).toBe(0);
    const b = net.add(new SyncNode(conntrack(), nodeConfig(2, 2000, [1]), net.sender(2)));
    b.start(net.now);
    net.runUntil(() => b.ct.table.count === 300 && settled(a, b), 5000);
    expect(a.stats.bulksSent).toBeGreaterThanOrEqual(1);
    expect(b.stats.bulksReceived).toBeGreaterThanOrEqual(1);
    expect(expectSameTables(a, b)).toBe(300);
    // Every session on b is a's: marked as a peer's, owner 1.
    expect([...dump(b).values()].every((s) => s.owner === 1 && s.peerFlag)).toBe(true);
  });

  for (const lossy of [false, true]) {
    it(`after a restart of one side (new epoch) both tables are equal again${lossy ? ', over a lossy link' : ''}`, () => {
      const { net, a, b } = pair();
      net.run(20);
      addSessions(a, 200, 1, net.now);
      addSessions(b, 150, 2, net.now);
      a.flush(net.now);
      b.flush(net.now);
      net.runUntil(() => settled(a, b), 5000);
      expect(expectSameTables(a, b)).toBe(350);

      // b restarts: its table is empty, its epoch larger.
      net.run(100);
      const b2 = net.add(new SyncNode(conntrack(), nodeConfig(2, 5000, [1]), net.sender(2)));
      if (lossy) {
        const r = rng(3);
        net.drop = () => r() < 0.2;
      }
      b2.start(net.now);
      net.runUntil(() => b2.ct.table.count === 350 && settled(a, b2), 20_000);
      net.drop = () => false;
      net.run(100);
      expect(a.stats.peerRestarts).toBe(1);
      expect(expectSameTables(a, b2)).toBe(350);
      // b2 holds b's sessions as its own again, and a's as a's.
      const owners = [...dump(b2).values()].map((s) => s.owner);
      expect(owners.filter((o) => o === 2)).toHaveLength(150);
      expect(owners.filter((o) => o === 1)).toHaveLength(200);
      // Later changes flow again both ways.
      addSessions(b2, 10, 3, net.now);
      b2.flush(net.now);
      net.runUntil(() => settled(a, b2), 2000);
      expect(expectSameTables(a, b2)).toBe(360);
    });
  }

  it('is paced: each call visits at most the budget and keeps half the ring free', () => {
    const net = new Net();
    const cfg = { bulkBudget: 500, channel: { ringSize: 16 } };
    const a = net.add(new SyncNode(conntrack(32768), nodeConfig(1, 1000, [2], cfg), net.sender(1)));
    addSessions(a, 20_000, 4, 0, false);
    const b = net.add(new SyncNode(conntrack(32768), nodeConfig(2, 2000, [1], cfg), net.sender(2)));
    a.start(0);
    b.start(0);
    let maxInFlight = 0;
    let ticksWithBulk = 0;
    const done = () => b.ct.table.count === 20_000 && settled(a, b);
    while (!done() && net.now < 20_000) {
      net.run(1);
      const p = a.peers[0]!;
      maxInFlight = Math.max(maxInFlight, p.ch.sender.inFlight());
      if (p.bulk.active) ticksWithBulk++;
    }
    expect(done()).toBe(true);
    expect(maxInFlight).toBeLessThanOrEqual(8 + 1);
    // 32768 slots at 500 per tick take at least 66 ticks.
    expect(ticksWithBulk).toBeGreaterThanOrEqual(66);
    expect(expectSameTables(a, b)).toBe(20_000);
  });

  it('resyncs a peer whose messages were given up, and purges the sessions deleted meanwhile', () => {
    const { net, a, b } = pair({ channel: { ringSize: 8 } });
    net.run(20);
    const ids = addSessions(a, 60, 5, net.now);
    a.flush(net.now);
    net.runUntil(() => settled(a, b), 2000);
    expect(expectSameTables(a, b)).toBe(60);
    // A 600 ms outage from a to b (b's heartbeats still reach a): 25 deletes and 100 inserts are sent into it.
    const t0 = net.now;
    net.drop = (d) => d.from === 1 && net.now - t0 < 600;
    for (const id of ids.slice(0, 25)) a.ct.drop(id);
    a.flush(net.now);
    addSessions(a, 100, 6, net.now);
    a.flush(net.now);
    net.run(700);
    net.drop = () => false;
    net.runUntil(() => settled(a, b) && !b.peers[0]!.purge.active, 10_000);
    const s = a.peers[0]!.ch.sender.stats;
    expect(s.gaveUp).toBeGreaterThan(0);
    expect(a.stats.resyncs).toBeGreaterThan(0);
    expect(b.peers[0]!.ch.receiver.stats.lost).toBeGreaterThan(0);
    expect(b.peers[0]!.purge.purged).toBe(25);
    expect(expectSameTables(a, b)).toBe(135);
  });

  it('after a partition longer than the dead interval, the peers catch up with each other', () => {
    const { net, a, b } = pair();
    net.run(20);
    addSessions(a, 40, 7, net.now);
    a.flush(net.now);
    net.runUntil(() => settled(a, b), 2000);
    let sessionsDuringOutage = 0;
    net.drop = (d) => {
      if (isSessions(d.data)) sessionsDuringOutage++;
      return true;
    };
    net.run(a.cfg.deadMs + 500);
    expect(a.peers[0]!.ch.up).toBe(false);
    expect(b.peers[0]!.ch.up).toBe(false);
    addSessions(a, 20, 8, net.now); // the peer is down: nothing is queued for it
    addSessions(b, 15, 9, net.now);
    a.flush(net.now);
    b.flush(net.now);
    expect(sessionsDuringOutage).toBe(0);
    net.drop = () => false;
    net.runUntil(() => a.peers[0]!.ch.up && b.peers[0]!.ch.up && settled(a, b), 5000);
    net.run(50);
    expect(a.stats.peersDown).toBe(1);
    expect(expectSameTables(a, b)).toBe(75);
  });
});
