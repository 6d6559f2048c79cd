/**
 * TCP connection tracker, per packet: tcpTrack + tcpTimeoutMs (what Conntrack.track calls on a
 * session hit) over prepared conversations of 10 and 10,000 concurrent sessions.
 *
 *   established: every session has done its handshake (untimed); timed are the data segments
 *     of a request/response conversation (client request 300 bytes, server answers with 8
 *     segments of 1448 bytes, the client ACKs every second one; window scale 7, SACK-permitted),
 *     packets of the sessions randomly interleaved.
 *   lifecycle: short connections, all timed: SYN (tcpInit), SYN-ACK, ACK, one request and
 *     4 response segments with ACKs, FIN, FIN, ACK.
 *
 * Packets are prepared up front as columns (entry, flags, seq, ack, window, length); each
 * timed step copies one row into the one reused Packet (as decodeFrame would fill it) and
 * calls the tracker. Baseline in the same run ("floor"): the same loop that only reads one
 * word of a 48-byte-per-session block at the same ids (the memory-access floor).
 * Figures: ns/packet, median of rounds, rounds of tracker and floor alternated.
 * `npx tsx bench/run.ts tcp`
 */
import {
  DEFAULT_TCP_CONFIG,
  DEFAULT_TCP_TIMEOUTS,
  TCP_IGNORE,
  TCP_OK,
  TcpStore,
  tcpInit,
  tcpTimeoutMs,
  tcpTrack,
} from '../src/session/tcp-track.js';
import { Packet, TCP_ACK, TCP_FIN, TCP_PSH, TCP_SYN } from '../src/wire/packet.js';
import { fmt, median } from './util.js';

const PACKETS = 520_000;
const ROUNDS = 9;
const CFG = { ...DEFAULT_TCP_CONFIG };
const TIMEOUTS = { ...DEFAULT_TCP_TIMEOUTS };
const C_WIN = 502; // raw, scale 7
const S_WIN = 509;

let rnd = 0x2545f491;
function next(): number {
  rnd ^= rnd << 13;
  rnd ^= rnd >>> 17;
  rnd ^= rnd << 5;
  return rnd >>> 0;
}

/** Prepared packets as columns; ent = id * 2 + dir; init = 1 for a session's SYN (tcpInit). */
class Trace {
  n = 0;
  readonly ent: Int32Array;
  readonly flags: Uint8Array;
  readonly seq: Uint32Array;
  readonly ack: Uint32Array;
  readonly win: Uint16Array;
  readonly len: Uint16Array;
  readonly init: Uint8Array;
  constructor(cap: number) {
    this.ent = new Int32Array(cap);
    this.flags = new Uint8Array(cap);
    this.seq = new Uint32Array(cap);
    this.ack = new Uint32Array(cap);
    this.win = new Uint16Array(cap);
    this.len = new Uint16Array(cap);
    this.init = new Uint8Array(cap);
  }
  push(ent: number, flags: number, seq: number, ack: number, win: number, len: number, init = 0): void {
    const i = this.n++;
    this.ent[i] = ent;
    this.flags[i] = flags;
    this.seq[i] = seq >>> 0;
    this.ack[i] = ack >>> 0;
    this.win[i] = win;
    this.len[i] = len;
    this.init[i] = init;
  }
  /** Row i into the reused Packet (only the TCP fields the tracker reads). */
  load(i: number, p: Packet): void {
    const f = this.flags[i]!;
    p.tcpFlags = f;
    p.seq = this.seq[i]!;
    p.ack = this.ack[i]!;
    p.window = this.win[i]!;
    p.payloadLen = this.len[i]!;
    const syn = (f & TCP_SYN) !== 0;
    p.wscale = syn ? 7 : -1;
    p.sackPermitted = syn;
  }
}

/** One session's conversation. */
class Conv {
  c: number;
  s: number;
  constructor(
    readonly id: number,
    public t: Trace,
  ) {
    this.c = next();
    this.s = next();
  }
  handshake(): void {
    const { t, id } = this;
    t.push(id * 2, TCP_SYN, this.c, 0, 64240, 0, 1);
    this.c++;
    t.push(id * 2 + 1, TCP_SYN | TCP_ACK, this.s, this.c, 65160, 0);
    this.s++;
    t.push(id * 2, TCP_ACK, this.c, this.s, C_WIN, 0);
  }
  /** Request, `segs` response segments, an ACK after every second one. */
  exchange(segs: number): void {
    const { t, id } = this;
    t.push(id * 2, TCP_ACK | TCP_PSH, this.c, this.s, C_WIN, 300);
    this.c += 300;
    for (let k = 1; k <= segs; k++) {
      t.push(id * 2 + 1, k === segs ? TCP_ACK | TCP_PSH : TCP_ACK, this.s, this.c, S_WIN, 1448);
      this.s += 1448;
      if (k % 2 === 0) t.push(id * 2, TCP_ACK, this.c, this.s, C_WIN, 0);
    }
  }
  close(): void {
    const { t, id } = this;
    t.push(id * 2, TCP_FIN | TCP_ACK, this.c, this.s, C_WIN, 0);
    this.c++;
    t.push(id * 2 + 1, TCP_FIN | TCP_ACK, this.s, this.c, S_WIN, 0);
    this.s++;
    t.push(id * 2, TCP_ACK, this.c, this.s, C_WIN, 0);
  }
}

/** Interleaves per-session traces at random, keeping each session's own order. */
function interleave(parts: Trace[]): Trace {
  const total = parts.reduce((n, p) => n + p.n, 0);
  const owner = new Int32Array(total);
  let o = 0;
  parts.forEach((p, k) => owner.fill(k, o, (o += p.n)));
  for (let i = total - 1; i > 0; i--) {
    const j = next() % (i + 1);
    const x = owner[i]!;
    owner[i] = owner[j]!;
    owner[j] = x;
  }
  const pos = new Int32Array(parts.length);
  const out = new Trace(total);
  for (let i = 0; i < total; i++) {
    const p = parts[owner[i]!]!;
    const r = pos[owner[i]!]!++;
    out.push(p.ent[r]!, p.flags[r]!, p.seq[r]!, p.ack[r]!, p.win[r]!, p.len[r]!, p.init[r]!);
  }
  return out;
}

/** Distinct random session ids in [0, cap). */
function ids(n: number, cap: number): Int32Array {
  const all = Int32Array.from({ length: cap }, (_, i) => i);
  for (let i = 0; i < n; i++) {
    const j = i + (next() % (cap - i));
    const x = all[i]!;
    all[i] = all[j]!;
    all[j] = x;
  }
  return all.slice(0, n);
}

interface Case {
  name: string;
  sessions: number;
  cap: number;
  setup: Trace | null;
  trace: Trace;
}

function established(sessions: number): Case {
  const cap = sessions * 4;
  const sid = ids(sessions, cap);
  const setup: Trace[] = [];
  const data: Trace[] = [];
  const per = Math.ceil(PACKETS / sessions);
  for (let k = 0; k < sessions; k++) {
    const hs = new Trace(3);
    const t = new Trace(per + 13);
    const c = new Conv(sid[k]!, hs);
    c.handshake();
    c.t = t;
    while (t.n + 13 <= per || t.n === 0) c.exchange(8);
    setup.push(hs);
    data.push(t);
  }
  return { name: 'established', sessions, cap, setup: interleave(setup), trace: interleave(data) };
}

function lifecycle(sessions: number): Case {
  const cap = sessions * 4;
  const perConn = 3 + 7 + 3;
  const conns = Math.ceil(PACKETS / perConn);
  const parts: Trace[] = [];
  const sid = ids(sessions, cap);
  // Each session slot runs its connections one after the other.
  for (let k = 0; k < sessions; k++) {
    const t = new Trace(Math.ceil(conns / sessions) * perConn);
    for (let j = 0; j < Math.ceil(conns / sessions); j++) {
      const c = new Conv(sid[k]!, t);
      c.handshake();
      c.exchange(4);
      c.close();
    }
    parts.push(t);
  }
  return { name: 'lifecycle', sessions, cap, setup: null, trace: interleave(parts) };
}

const pkt = new Packet();
let sink = 0;

function replay(store: TcpStore, t: Trace, check: boolean): number {
  let bad = 0;
  let acc = 0;
  for (let i = 0; i < t.n; i++) {
    t.load(i, pkt);
    const e = t.ent[i]!;
    const id = e >> 1;
    const r = t.init[i] ? tcpInit(store, id, pkt, CFG) : tcpTrack(store, id, (e & 1) as 0 | 1, pkt, CFG);
    if (r === TCP_OK) acc += tcpTimeoutMs(store, id, TIMEOUTS);
    else if (!(r === TCP_IGNORE && t.init[i])) bad++;
  }
  sink += acc;
  if (check && bad) throw new Error(`${bad} packets not accepted`);
  return bad;
}

function floor(block: Uint32Array, t: Trace): void {
  let acc = 0;
  for (let i = 0; i < t.n; i++) {
    t.load(i, pkt);
    const e = t.ent[i]!;
    acc += block[(e >> 1) * 12]! + pkt.seq;
  }
  sink += acc;
}

function measure(c: Case): { track: number; floor: number } {
  const store = new TcpStore(c.cap);
  const block = new Uint32Array(c.cap * 12).fill(1);
  const trackNs: number[] = [];
  const floorNs: number[] = [];
  const oneTrack = (check: boolean): number => {
    if (c.setup) replay(store, c.setup, true);
    const t0 = process.hrtime.bigint();
    replay(store, c.trace, check);
    return Number(process.hrtime.bigint() - t0) / c.trace.n;
  };
  const oneFloor = (): number => {
    const t0 = process.hrtime.bigint();
    floor(block, c.trace);
    return Number(process.hrtime.bigint() - t0) / c.trace.n;
  };
  oneTrack(true);
  oneFloor();
  for (let r = 0; r < ROUNDS; r++) {
    trackNs.push(oneTrack(false));
    floorNs.push(oneFloor());
  }
  return { track: median(trackNs), floor: median(floorNs) };
}

export async function run(): Promise<void> {
  const cases = [established(10), established(10_000), lifecycle(10), lifecycle(10_000)];
  console.log(
    `tcpTrack + tcpTimeoutMs, ${TcpStore.BYTES_PER_SESSION} B/session, ns/packet (median of ${ROUNDS} rounds)`,
  );
  console.log('case          sessions   packets    track    floor   track-floor');
  for (const c of cases) {
    const m = measure(c);
    console.log(
      `${c.name.padEnd(12)} ${String(c.sessions).padStart(9)} ${String(c.trace.n).padStart(9)}` +
        ` ${fmt(m.track, 1).padStart(8)} ${fmt(m.floor, 1).padStart(8)} ${fmt(m.track - m.floor, 1).padStart(13)}`,
    );
  }
  if (sink === 0.5) console.log(sink);
  await Promise.resolve();
}
