import { describe, expect, it } from 'vitest';
import {
  NEIGH_INCOMPLETE,
  NEIGH_NEW,
  NEIGH_PENDING,
  NEIGH_REACHABLE,
  NEIGH_STALE,
  NeighbourCache,
} from '../../../src/l3/neighbours.js';
import { ipWords, macBytes } from '../../../src/wire/addr.js';

const A = ipWords('10.0.2.11');
const B = ipWords('10.0.2.12');
const MAC_A = macBytes('02:00:00:00:0a:0a');
const frame = (tag: number, len = 60): Uint8Array => new Uint8Array(len).fill(tag);

function released(n: NeighbourCache, count: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let k = 0; k < count; k++) {
    const s = n.released[k]!;
    out.push(n.pool.slice(n.slotOff(s), n.slotOff(s) + n.slotLen[s]!));
  }
  return out;
}

describe('NeighbourCache: resolution and queue', () => {
  it('queues a burst of 32 packets per address by default (Linux keeps ~100 full frames)', () => {
    const n = new NeighbourCache({ capacity: 8 });
    n.resolve(A, 1, 0);
    for (let t = 1; t <= 33; t++) expect(n.enqueue(A, 1, frame(t), 0, 60)).toBe(true);
    expect(n.queueLength(n.find(A, 1))).toBe(32);
    expect(n.stats.queueDropped).toBe(1);
  });

  it('new -> pending -> learned releases the queue with the MAC filled in', () => {
    const n = new NeighbourCache({ capacity: 8, queuePerEntry: 3 });
    expect(n.resolve(A, 1, 0)).toBe(NEIGH_NEW);
    expect(n.resolve(A, 1, 10)).toBe(NEIGH_PENDING);
    const i = n.find(A, 1);
    expect(n.state(i)).toBe(NEIGH_INCOMPLETE);
    for (let t = 1; t <= 4; t++) expect(n.enqueue(A, 1, frame(t), 0, 60)).toBe(true);
    // per-entry limit 3: the oldest (1) was dropped
    expect(n.queueLength(i)).toBe(3);
    expect(n.stats.queueDropped).toBe(1);
    const got = n.learn(A, MAC_A, 0, 1, 100);
    expect(got).toBe(3);
    const frames = released(n, got);
    expect(frames.map((f) => f[10])).toEqual([2, 3, 4]);
    for (const f of frames) expect([...f.subarray(0, 6)]).toEqual([...MAC_A]);
    expect(n.state(i)).toBe(NEIGH_REACHABLE);
    expect(n.resolve(A, 1, 200)).toBe(i);
    expect([...n.macs.subarray(i * 6, i * 6 + 6)]).toEqual([...MAC_A]);
    expect(n.stats.released).toBe(3);
    expect(n.freeSlotCount).toBe(128);
  });

  it('entries are per port; enqueue refuses a resolved or unknown entry', () => {
    const n = new NeighbourCache({ capacity: 8 });
    n.learn(A, MAC_A, 0, 1, 0);
    expect(n.resolve(A, 2, 0)).toBe(NEIGH_NEW);
    expect(n.find(A, 1)).not.toBe(n.find(A, 2));
    expect(n.enqueue(A, 1, frame(1), 0, 60)).toBe(false);
    expect(n.enqueue(B, 1, frame(1), 0, 60)).toBe(false);
    expect(n.stats.queueDropped).toBe(2);
  });

  it('learn(create=false) only updates an existing entry', () => {
    const n = new NeighbourCache();
    expect(n.learn(A, MAC_A, 0, 1, 0, false)).toBe(0);
    expect(n.find(A, 1)).toBe(-1);
    n.resolve(A, 1, 0);
    n.learn(A, MAC_A, 0, 1, 5, false);
    expect(n.state(n.find(A, 1))).toBe(NEIGH_REACHABLE);
  });

  it('the pool bounds all queues; frames over a slot are refused', () => {
    const n = new NeighbourCache({ queueBytes: 2 * 256, slotBytes: 256 });
    n.resolve(A, 1, 0);
    n.resolve(B, 1, 0);
    expect(n.enqueue(A, 1, frame(1), 0, 60)).toBe(true);
    expect(n.enqueue(A, 1, frame(2), 0, 60)).toBe(true);
    expect(n.enqueue(B, 1, frame(3), 0, 60)).toBe(false);
    expect(n.enqueue(A, 1, frame(4, 300), 0, 300)).toBe(false);
    expect(n.stats.queueDropped).toBe(2);
    expect(n.freeSlotCount).toBe(0);
  });
});

describe('NeighbourCache: timers', () => {
  it('an unanswered request is retried twice, 1 s apart, then the entry fails and its queue is dropped', () => {
    const n = new NeighbourCache();
    expect(n.resolve(A, 1, 1000)).toBe(NEIGH_NEW); // first request: sent by the caller
    n.enqueue(A, 1, frame(1), 0, 60);
    n.enqueue(A, 1, frame(2), 0, 60);
    expect(n.tick(1999)).toBe(0);
    expect(n.tick(2000)).toBe(1);
    expect(n.requests[0]).toBe(n.find(A, 1));
    expect(n.tick(2500)).toBe(0);
    expect(n.tick(3000)).toBe(1);
    expect(n.tick(3999)).toBe(0);
    expect(n.tick(4000)).toBe(0);
    expect(n.find(A, 1)).toBe(-1);
    expect(n.size).toBe(0);
    expect(n.stats.failed).toBe(1);
    expect(n.stats.queueDropped).toBe(2);
    expect(n.resolve(A, 1, 5000)).toBe(NEIGH_NEW);
  });

  it('REACHABLE for 30 s, then STALE (still used); a use schedules unicast probes after 5 s', () => {
    const n = new NeighbourCache();
    n.learn(A, MAC_A, 0, 1, 0);
    const i = n.find(A, 1);
    expect(n.resolve(A, 1, 29_999)).toBe(i);
    expect(n.state(i)).toBe(NEIGH_REACHABLE);
    expect(n.tick(29_999)).toBe(0);
    expect(n.resolve(A, 1, 30_000)).toBe(i);
    expect(n.state(i)).toBe(NEIGH_STALE);
    expect(n.tick(34_999)).toBe(0);
    expect(n.tick(35_000)).toBe(1);
    expect(n.state(n.requests[0]!)).toBe(NEIGH_STALE);
    // a reply confirms it
    n.learn(A, MAC_A, 0, 1, 35_100);
    expect(n.state(i)).toBe(NEIGH_REACHABLE);
    expect(n.tick(40_000)).toBe(0);
    // stale again, no reply this time: three probes then removal
    expect(n.resolve(A, 1, 70_000)).toBe(i);
    expect(n.tick(75_000) + n.tick(76_000) + n.tick(77_000)).toBe(3);
    expect(n.tick(78_000)).toBe(0);
    expect(n.find(A, 1)).toBe(-1);
  });

  it('an unused STALE entry is not probed', () => {
    const n = new NeighbourCache();
    n.learn(A, MAC_A, 0, 1, 0);
    expect(n.tick(100_000)).toBe(0);
    expect(n.find(A, 1)).toBeGreaterThanOrEqual(0);
  });
});

describe('NeighbourCache: bounded size', () => {
  it('evicts the least recently used entry when full, dropping its queue', () => {
    const n = new NeighbourCache({ capacity: 4 });
    const addrs = [1, 2, 3, 4, 5].map((k) => ipWords(`10.0.2.${k}`));
    n.resolve(addrs[0]!, 0, 0);
    n.enqueue(addrs[0]!, 0, frame(1), 0, 60);
    for (let k = 1; k < 4; k++) n.learn(addrs[k]!, MAC_A, 0, 0, k);
    n.resolve(addrs[1]!, 0, 10); // used: not the oldest any more
    expect(n.size).toBe(4);
    n.resolve(addrs[4]!, 0, 20); // evicts addrs[0] (oldest), with its queued frame
    expect(n.find(addrs[0]!, 0)).toBe(-1);
    expect(n.stats.evicted).toBe(1);
    expect(n.stats.queueDropped).toBe(1);
    n.resolve(ipWords('10.0.2.6'), 0, 30); // evicts addrs[2]
    expect(n.find(addrs[2]!, 0)).toBe(-1);
    expect(n.find(addrs[1]!, 0)).toBeGreaterThanOrEqual(0);
    expect(n.size).toBe(4);
  });

  it('survives churn far beyond its capacity', () => {
    const n = new NeighbourCache({ capacity: 16, queueBytes: 8 * 2048 });
    const a = new Uint32Array(4);
    for (let k = 0; k < 5000; k++) {
      a.set(ipWords(`10.${(k >> 16) & 255}.${(k >> 8) & 255}.${k & 255}`));
      const r = n.resolve(a, k & 3, k);
      if (r < 0) n.enqueue(a, k & 3, frame(k & 255), 0, 60);
      if (k % 3 === 0) n.learn(a, MAC_A, 0, k & 3, k);
      if (k % 100 === 0) n.tick(k);
      expect(n.size).toBeLessThanOrEqual(16);
    }
    let queued = 0;
    for (let i = 0; i < 16; i++) queued += n.queueLength(i);
    expect(n.freeSlotCount + queued).toBe(8);
  });
});
