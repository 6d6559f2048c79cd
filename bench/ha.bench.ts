/**
 * Session sync: inserts per second replicated to a peer in memory, end to end
 * (export -> encode -> sign -> verify -> decode -> import, with acks back),
 * for 100,000 IPv4 TCP sessions announced in batches of 256 (one flush per
 * batch, as a device flushes once per frame batch); the same for a bulk
 * transfer of 100,000 sessions to a peer that joins. Then the cost of each
 * step per record. Baselines in the same run: SessionTable.insert of the same
 * sessions, and HMAC-SHA256 over a full 1400-byte message.
 * Medians of several rounds. `npx tsx bench/run.ts ha`
 */
import { createHmac } from 'node:crypto';
import { MsgHeader, MAX_MSG, HEADER_LEN, T_SESSIONS, writeHeader, MAX_BODY } from '../src/ha/msg.js';
import { BodyWriter, decodeRecord, OP_INSERT, SessionRecord, viewOf } from '../src/ha/msg-records.js';
import { SyncTable } from '../src/ha/sessions.js';
import { SyncNode } from '../src/ha/sync.js';
import { SyncAuth } from '../src/ha/auth.js';
import { Conntrack, defaultConntrackConfig } from '../src/session/conntrack.js';
import { TCP_WORDS } from '../src/session/tcp-store.js';
import { PROTO_TCP } from '../src/wire/packet.js';
import { fmt, medianOf } from './util.js';

const N = 100_000;
const CAPACITY = 131_072;
const BATCH = 256;
const ROUNDS = 5;
const KEY = Uint8Array.from({ length: 32 }, (_x, i) => i * 7 + 1);

const a4 = (v: number) => Uint32Array.of(0, 0, 0xffff, v >>> 0);

function conntrack(): Conntrack {
  return new Conntrack({ ...defaultConntrackConfig(), maxSessions: CAPACITY });
}

/** N IPv4 TCP sessions with TCP words, flags and lifetimes, as the device leaves them. */
function fill(ct: Conntrack, nowMs: number): number[] {
  const ids: number[] = [];
  const t = ct.table;
  for (let i = 0; i < N; i++) {
    const c = (0x0a000000 | (i + 1)) >>> 0;
    const s = (0xc6120000 | (i % 0xfffe)) >>> 0;
    const sp = 1024 + (i % 60000);
    const id = t.insert(
      PROTO_TCP,
      a4(c),
      a4(s),
      ((sp << 16) | 443) >>> 0,
      a4(s),
      a4(c),
      ((443 << 16) | sp) >>> 0,
      nowMs,
    );
    t.setFlags(id, t.flags(id) | 12);
    t.setPorts(id, 1, 0);
    t.setExpires(id, nowMs + 432_000_000);
    ct.wheel.schedule(id);
    for (let w = 0; w < TCP_WORDS; w++) ct.tcp.data[id * TCP_WORDS + w] = (i * 2654435761 + w) >>> 0;
    ids.push(id);
  }
  return ids;
}

interface Link {
  q: { to: number; data: Uint8Array }[];
  nodes: Map<number, SyncNode>;
}

function node(link: Link, id: number, epoch: number, ct: Conntrack): SyncNode {
  const n = new SyncNode(
    ct,
    { node: id, epoch, key: KEY, peers: [id === 1 ? 2 : 1] },
    (peer, buf, off, len) => link.q.push({ to: peer, data: buf.slice(off, off + len) }),
  );
  link.nodes.set(id, n);
  return n;
}

/** Delivers everything queued (and what that causes), flushing receivers after each round. */
function pump(link: Link, nowMs: number): void {
  while (link.q.length > 0) {
    const round = link.q.splice(0, link.q.length);
    const touched = new Set<SyncNode>();
    for (const d of round) {
      const n = link.nodes.get(d.to)!;
      if (n.receive(d.data, 0, d.data.length, nowMs) !== 0) throw new Error('rejected');
      touched.add(n);
    }
    for (const n of touched) n.flush(nowMs);
  }
}

function paired(): { link: Link; a: SyncNode; b: SyncNode } {
  const link: Link = { q: [], nodes: new Map() };
  const a = node(link, 1, 1000, conntrack());
  const b = node(link, 2, 2000, conntrack());
  a.start(0);
  b.start(0);
  for (let t = 1; t < 50; t++) {
    pump(link, t);
    a.tick(t);
    b.tick(t);
  }
  pump(link, 50);
  return { link, a, b };
}

/** Seconds to replicate N inserts announced in batches. */
function replicate(): number {
  const { link, a, b } = paired();
  const ids = fill(a.ct, 100);
  let now = 100;
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < N; i += BATCH) {
    const end = Math.min(N, i + BATCH);
    for (let j = i; j < end; j++) a.inserted(ids[j]!, now);
    a.flush(now);
    pump(link, now);
    now++;
  }
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  const sender = a.peers[0]!.ch.sender;
  if (b.ct.table.count !== N || sender.inFlight() !== 0 || sender.stats.gaveUp !== 0)
    throw new Error('incomplete');
  return s;
}

/** Seconds for a bulk of N sessions to a peer that joins. */
function bulk(): number {
  const link: Link = { q: [], nodes: new Map() };
  const a = node(link, 1, 1000, conntrack());
  fill(a.ct, 0);
  a.start(0);
  const b = node(link, 2, 2000, conntrack());
  const t0 = process.hrtime.bigint();
  b.start(1);
  let now = 1;
  while (b.ct.table.count < N || a.peers[0]!.bulk.active) {
    pump(link, now);
    a.tick(now);
    b.tick(now);
    now++;
  }
  pump(link, now);
  return Number(process.hrtime.bigint() - t0) / 1e9;
}

function nsPerRecord(fn: () => void, records: number): number {
  const t0 = process.hrtime.bigint();
  fn();
  return Number(process.hrtime.bigint() - t0) / records;
}

export async function run(): Promise<void> {
  const src = conntrack();
  const ids = fill(src, 0);
  const base = await medianOf(ROUNDS, () => {
    const ct = conntrack();
    return nsPerRecord(() => fill(ct, 0), N);
  });
  console.log(
    `baseline: SessionTable.insert (+ TCP words, wheel) of ${N} sessions: ${fmt(base, 0)} ns/session`,
  );
  const msg = new Uint8Array(MAX_MSG);
  const hmacUs = await medianOf(ROUNDS, () => {
    const k = 20_000;
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < k; i++)
      createHmac('sha256', KEY)
        .update(msg.subarray(0, MAX_MSG - 32))
        .digest();
    return Number(process.hrtime.bigint() - t0) / k / 1000;
  });
  console.log(`baseline: HMAC-SHA256 of a 1368-byte message: ${fmt(hmacUs, 2)} us`);

  const e2e = await medianOf(ROUNDS, replicate);
  console.log(
    `replicated inserts, ${N} sessions in batches of ${BATCH}: ${fmt(N / e2e / 1000, 1)} k/s (${fmt(e2e * 1000, 0)} ms)`,
  );
  const bk = await medianOf(3, bulk);
  console.log(
    `bulk transfer of ${N} sessions to a joining peer: ${fmt(N / bk / 1000, 1)} k/s (${fmt(bk * 1000, 0)} ms)`,
  );

  // ---- Per step ----
  const st = new SyncTable(src, 1);
  const rec = new SessionRecord();
  const w = new BodyWriter(MAX_BODY);
  const bodies: Uint8Array[] = [];
  const counts: number[] = [];
  const exportNs = await medianOf(ROUNDS, () =>
    nsPerRecord(() => {
      w.reset();
      for (const id of ids) {
        st.exportSession(id, OP_INSERT, 1, rec);
        if (!w.add(rec)) {
          w.reset();
          w.add(rec);
        }
      }
    }, N),
  );
  for (const id of ids) {
    st.exportSession(id, OP_INSERT, 1, rec);
    if (!w.add(rec)) {
      bodies.push(w.buf.slice(0, w.len));
      counts.push(w.count);
      w.reset();
      w.add(rec);
    }
  }
  bodies.push(w.buf.slice(0, w.len));
  counts.push(w.count);
  console.log(
    `export + encode: ${fmt(exportNs, 0)} ns/record (${fmt(N / bodies.length, 1)} records/message)`,
  );

  const tx = new SyncAuth(KEY, 1, 1000, [2]);
  const h = Object.assign(new MsgHeader(), {
    type: T_SESSIONS,
    sender: 1,
    receiver: 2,
    senderEpoch: 1000,
    receiverEpoch: 2000,
  });
  const signed = bodies.map((b, i) => {
    const m = new Uint8Array(HEADER_LEN + b.length + 32);
    h.pn = i + 1;
    h.count = counts[i]!;
    h.bodyLen = b.length;
    writeHeader(m, 0, h);
    m.set(b, HEADER_LEN);
    tx.sign(m, 0, HEADER_LEN + b.length);
    return m;
  });
  const authNs = await medianOf(ROUNDS, () => {
    const rx = new SyncAuth(KEY, 2, 2000, [1]);
    const hh = new MsgHeader();
    return nsPerRecord(() => {
      for (const m of signed) {
        tx.sign(m, 0, m.length - 32);
        if (rx.verify(m, 0, m.length, hh) !== 0) throw new Error('verify');
      }
    }, N);
  });
  console.log(
    `sign + verify: ${fmt(authNs, 0)} ns/record (${fmt((authNs * N) / signed.length / 1000, 2)} us/message)`,
  );

  const views = bodies.map(viewOf);
  const importNs = await medianOf(ROUNDS, () => {
    const dst = new SyncTable(conntrack(), 2);
    return nsPerRecord(() => {
      for (let i = 0; i < bodies.length; i++) {
        let o = 0;
        const v = views[i]!;
        for (let k = 0; k < counts[i]!; k++) {
          o = decodeRecord(v, o, rec);
          dst.importRecord(rec, 1, -1);
        }
      }
      if (dst.ct.table.count !== N) throw new Error('import');
    }, N);
  });
  console.log(`decode + import (create): ${fmt(importNs, 0)} ns/record`);
  const perSlot = 8 + 4 + 4 + 8 + 4 + 4 + 1;
  console.log(`sync side data: ${perSlot} bytes per session slot`);
}
