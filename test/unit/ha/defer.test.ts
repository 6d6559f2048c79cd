/** Defer: first packets held until the peer acknowledges their session's insert, or a timeout; bounded. */
import { describe, expect, it } from 'vitest';
import { DEFAULT_DEFER, DeferQueue } from '../../../src/ha/defer.js';
import { MsgHeader, readHeader, T_ACK } from '../../../src/ha/msg.js';
import { SyncNode } from '../../../src/ha/sync.js';
import { addSessions, conntrack, Net, nodeConfig, pair } from './helpers.js';

interface Out {
  port: number;
  bytes: number[];
  timedOut: boolean;
  at: number;
}

function queue(cfg = DEFAULT_DEFER) {
  const out: Out[] = [];
  let now = 0;
  const q = new DeferQueue(cfg, (port, buf, off, len, timedOut) =>
    out.push({ port, bytes: Array.from(buf.subarray(off, off + len)), timedOut, at: now }),
  );
  return { q, out, setNow: (t: number) => (now = t) };
}

const frame = (tag: number, len = 60) => Uint8Array.from({ length: len }, (_x, i) => (tag * 31 + i) & 0xff);

describe('defer queue', () => {
  it('releases a ticket’s packets on its ack, in the order they were held, as copies', () => {
    const { q, out } = queue();
    const f1 = frame(1);
    const f2 = frame(2, 100);
    const f3 = frame(3);
    const big = new Uint8Array(200);
    big.set(f1, 50);
    expect(q.hold(5, 0, big, 50, 60, 0)).toBe(true);
    expect(q.hold(6, 1, f3, 0, 60, 1)).toBe(true);
    expect(q.hold(5, 2, f2, 0, 100, 2)).toBe(true);
    big.fill(0); // the caller reuses its buffer
    f2.fill(0);
    expect(q.acked(5)).toBe(2);
    expect(out).toEqual([
      { port: 0, bytes: Array.from(frame(1)), timedOut: false, at: 0 },
      { port: 2, bytes: Array.from(frame(2, 100)), timedOut: false, at: 0 },
    ]);
    expect(q.size).toBe(1);
    expect(q.acked(5)).toBe(0);
    expect(q.acked(6)).toBe(1);
    expect(out[2]!.bytes).toEqual(Array.from(frame(3)));
    expect(q.stats).toMatchObject({ held: 3, releasedByAck: 3, releasedByTimeout: 0 });
  });

  it('releases by timeout after 20 ms (not before), and tells the deadline', () => {
    const { q, out, setNow } = queue();
    q.hold(1, 0, frame(1), 0, 60, 100);
    q.hold(2, 0, frame(2), 0, 60, 105);
    expect(q.nextDeadline()).toBe(120);
    setNow(119);
    expect(q.expire(119)).toBe(0);
    setNow(120);
    expect(q.expire(120)).toBe(1);
    expect(out[0]).toMatchObject({ timedOut: true, at: 120, bytes: Array.from(frame(1)) });
    expect(q.nextDeadline()).toBe(125);
    expect(q.expire(130)).toBe(1);
    expect(q.nextDeadline()).toBe(Infinity);
    expect(q.stats.releasedByTimeout).toBe(2);
  });

  it('holds at most 128 packets; the rest, and frames larger than a slot, go on at once (counted)', () => {
    const { q } = queue();
    for (let i = 0; i < 130; i++) expect(q.hold(i, 0, frame(i), 0, 60, 0)).toBe(i < 128);
    expect(q.size).toBe(128);
    expect(q.stats.full).toBe(2);
    expect(q.acked(7)).toBe(1);
    expect(q.hold(200, 0, frame(9), 0, 60, 0)).toBe(true); // a slot came free
    expect(q.hold(201, 0, new Uint8Array(2000), 0, 2000, 0)).toBe(false);
    expect(q.stats.tooBig).toBe(1);
    expect(q.expire(1000)).toBe(128);
    expect(q.size).toBe(0);
    // Slots are reused: 128 more fit again.
    for (let i = 0; i < 128; i++) expect(q.hold(i, 0, frame(i), 0, 60, 2000)).toBe(true);
  });
});

describe('defer with a peer', () => {
  function setup() {
    const { net, a, b } = pair();
    net.run(20);
    const { q, out, setNow } = queue();
    a.onTicketDone = (t) => {
      setNow(net.now);
      q.acked(t);
    };
    return { net, a, b, q, out, setNow };
  }

  it('releases the first packet when the peer acknowledges the insert (one round trip)', () => {
    const { net, a, b, q, out } = setup();
    const t0 = net.now;
    const [id] = addSessions(a, 1, 1, net.now, false);
    const ticket = a.inserted(id!, net.now);
    expect(ticket).toBeGreaterThanOrEqual(0);
    expect(q.hold(ticket, 3, frame(1), 0, 60, net.now)).toBe(true);
    a.flush(net.now);
    net.run(1);
    expect(out).toHaveLength(0); // the insert is on its way
    expect(b.ct.table.count).toBe(1);
    net.run(1);
    expect(out).toEqual([{ port: 3, bytes: Array.from(frame(1)), timedOut: false, at: t0 + 2 }]);
  });

  it('releases it after 20 ms when the ack does not come', () => {
    const { net, a, q, out, setNow } = setup();
    const h = new MsgHeader();
    net.drop = (d) => d.from === 2 && readHeader(d.data, 0, d.data.length, h) === 0 && h.type === T_ACK;
    const t0 = net.now;
    const [id] = addSessions(a, 1, 2, net.now, false);
    q.hold(a.inserted(id!, net.now), 0, frame(2), 0, 60, net.now);
    a.flush(net.now);
    while (out.length === 0 && net.now < t0 + 100) {
      net.run(1);
      setNow(net.now);
      q.expire(net.now);
    }
    expect(out).toEqual([{ port: 0, bytes: Array.from(frame(2)), timedOut: true, at: t0 + 20 }]);
  });

  it('several inserts in one message share a ticket; each message has its own', () => {
    const { net, a, q, out } = setup();
    const sentBefore = a.peers[0]!.ch.sender.stats.sent;
    const ids = addSessions(a, 40, 3, net.now, false); // about three messages' worth of records
    const tickets = ids.map((id) => a.inserted(id, net.now));
    a.flush(net.now);
    const messages = a.peers[0]!.ch.sender.stats.sent - sentBefore;
    expect(messages).toBeGreaterThanOrEqual(3);
    expect(new Set(tickets).size).toBe(messages);
    expect(tickets.every((t, i) => i === 0 || t === tickets[i - 1] || t === tickets[i - 1]! + 1)).toBe(true);
    tickets.forEach((t, i) => q.hold(t, 0, frame(i), 0, 60, net.now));
    net.run(3);
    expect(out.map((o) => o.bytes[0])).toEqual(ids.map((_x, i) => frame(i)[0]));
    expect(out.every((o) => !o.timedOut)).toBe(true);
  });

  it('gives no ticket when no peer is up (nothing to wait for)', () => {
    const net = new Net();
    const a = net.add(new SyncNode(conntrack(), nodeConfig(1, 1000, [2]), net.sender(1)));
    a.start(0);
    const [id] = addSessions(a, 1, 4, 0, false);
    expect(a.inserted(id!, 0)).toBe(-1);
  });
});
