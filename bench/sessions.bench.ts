/**
 * Session-table memory and lookup speed.
 *   (a) Bytes per session at 1,000,000 sessions: `Conntrack.bytesPerSession()` (table, index,
 *       timing wheel, TCP state) and the measured growth of process.memoryUsage().arrayBuffers
 *       (and heapUsed) after constructing a Conntrack for 1,000,000 sessions and after inserting
 *       1,000,000 IPv4 TCP sessions into it. Target <= 128 bytes.
 *   (b) SessionTable.lookup rate with 1,000,000 live sessions vs 10,000 live sessions (same
 *       table capacity, 1,000,000; random hits over the live set, half by the original tuple and
 *       half by the reply tuple; same number of lookups; rounds interleaved; medians). Target:
 *       ratio >= 0.8. For reference, also 10,000 live in a table sized for 10,000.
 *   (b') the same keys through SessionTable.lookupBatch (all keys in one call; the table stages
 *       them in groups so that their cache misses overlap), same rounds, same ratio.
 *   (c) for reference, the same table layout and keys in C (bench/ref/lookup.c, built here with
 *       `cc -O2` when a C compiler is present), one key at a time and with prefetching: how much
 *       of the ratio is this machine's memory rather than the language.
 *   (d) this machine's memory in the same run (bench/mem-reads.ts): the latency and throughput of
 *       random reads over arrays of the sizes of the index and the blocks at 10k and at 1M live.
 * `npx tsx bench/run.ts sessions`
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { runInNewContext } from 'node:vm';
import v8 from 'node:v8';
import { Conntrack, defaultConntrackConfig } from '../src/session/conntrack.js';
import { SessionTable } from '../src/session/table.js';
import { STRIDE } from '../src/session/table-layout.js';
import { PROTO_TCP } from '../src/wire/packet.js';
import { prng } from './gen.js';
import { memReads } from './mem-reads.js';
import { fmt, median } from './util.js';

const BIG = 1_000_000;
const SMALL = 10_000;
const LOOKUPS = 2_000_000;
const ROUNDS = 5;
const TARGET_BYTES = 128;
const TARGET_RATIO = 0.8;
/** Bytes of a session's block. */
const STRIDE_BYTES = STRIDE * 4;

const CLIENT_NET = 0x0a000000;
const SERVER_NET = 0xc6120000;

/** A gc() function: the global one under --expose-gc, else one enabled at run time. */
function getGc(): () => void {
  const g = (globalThis as { gc?: () => void }).gc;
  if (g) return g;
  v8.setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
}
const gc = getGc();

/** Session i's original tuple: 10.x.y.z:sport -> 198.18.a.b:443 (unique by client address). */
function client(i: number): number {
  return (CLIENT_NET | (i + 1)) >>> 0;
}
function server(i: number): number {
  return (SERVER_NET | ((((i * 2654435761) >>> 0) % 0x1fffe) + 1)) >>> 0;
}
function sport(i: number): number {
  return 1024 + ((i * 40503) % 64000);
}

const oSrc = new Uint32Array([0, 0, 0xffff, 0]);
const oDst = new Uint32Array([0, 0, 0xffff, 0]);
const rSrc = new Uint32Array([0, 0, 0xffff, 0]);
const rDst = new Uint32Array([0, 0, 0xffff, 0]);

/** Inserts sessions 0..n-1 (IPv4 TCP, reply tuple = reversed original). */
function fill(t: SessionTable, n: number): void {
  for (let i = 0; i < n; i++) {
    const c = client(i);
    const s = server(i);
    const p = sport(i);
    oSrc[3] = c;
    oDst[3] = s;
    rSrc[3] = s;
    rDst[3] = c;
    const id = t.insert(
      PROTO_TCP,
      oSrc,
      oDst,
      ((p << 16) | 443) >>> 0,
      rSrc,
      rDst,
      ((443 << 16) | p) >>> 0,
      0,
    );
    if (id < 0) throw new Error(`insert ${i} failed: ${id}`);
  }
}

/** LOOKUPS random keys over sessions 0..live-1, half original, half reply direction. */
interface Keys {
  zp: Uint32Array;
  src: Uint32Array;
  dst: Uint32Array;
  ports: Uint32Array;
}

function keys(live: number, seed: number): Keys {
  const rnd = prng(seed);
  const k: Keys = {
    zp: new Uint32Array(LOOKUPS).fill(PROTO_TCP),
    src: new Uint32Array(LOOKUPS),
    dst: new Uint32Array(LOOKUPS),
    ports: new Uint32Array(LOOKUPS),
  };
  for (let j = 0; j < LOOKUPS; j++) {
    const i = Math.floor(rnd() * live);
    const c = client(i);
    const s = server(i);
    const p = sport(i);
    if (rnd() < 0.5) {
      k.src[j] = c;
      k.dst[j] = s;
      k.ports[j] = ((p << 16) | 443) >>> 0;
    } else {
      k.src[j] = s;
      k.dst[j] = c;
      k.ports[j] = ((443 << 16) | p) >>> 0;
    }
  }
  return k;
}

const qSrc = new Uint32Array([0, 0, 0xffff, 0]);
const qDst = new Uint32Array([0, 0, 0xffff, 0]);

/** Runs every lookup; returns M lookups/s. Throws on a miss (all keys are live). */
function lookups(t: SessionTable, k: Keys): number {
  const { src, dst, ports } = k;
  let acc = 0;
  const t0 = process.hrtime.bigint();
  for (let j = 0; j < LOOKUPS; j++) {
    qSrc[3] = src[j]!;
    qDst[3] = dst[j]!;
    const e = t.lookup(PROTO_TCP, qSrc, qDst, ports[j]!);
    if (e < 0) throw new Error(`lookup ${j} missed`);
    acc += e;
  }
  const dt = Number(process.hrtime.bigint() - t0);
  if (acc < 0) throw new Error('unreachable');
  return LOOKUPS / (dt / 1e9) / 1e6;
}

const batchOut = new Int32Array(LOOKUPS);

/** The same keys through lookupBatch, in one call; returns M lookups/s. Throws on a miss. */
function lookupsBatch(t: SessionTable, k: Keys): number {
  const t0 = process.hrtime.bigint();
  t.lookupBatch(k.zp, k.src, k.dst, k.ports, LOOKUPS, batchOut);
  const dt = Number(process.hrtime.bigint() - t0);
  for (let j = 0; j < LOOKUPS; j++) if (batchOut[j]! < 0) throw new Error(`batch lookup ${j} missed`);
  return LOOKUPS / (dt / 1e9) / 1e6;
}

function mem(): { ab: number; heap: number } {
  gc();
  gc();
  const m = process.memoryUsage();
  return { ab: m.arrayBuffers, heap: m.heapUsed };
}

export async function run(): Promise<void> {
  // (a) memory
  const m0 = mem();
  const ct = new Conntrack({ ...defaultConntrackConfig(), maxSessions: BIG });
  const m1 = mem();
  const t0 = Date.now();
  fill(ct.table, BIG);
  const fillMs = Date.now() - t0;
  const m2 = mem();
  if (ct.table.count !== BIG) throw new Error(`table holds ${ct.table.count}`);
  const bps = ct.bytesPerSession();
  const per = (x: number): string => fmt(x / BIG, 1);
  console.log(`(a) memory at ${BIG} sessions (Conntrack: table + index + wheel + TCP state)`);
  console.log(
    `    conntrack.bytesPerSession(): ${fmt(bps, 1)} B  (table ${fmt(ct.table.bytesPerSession(), 1)}, ` +
      `wheel ${fmt(ct.wheel.bytesPerSession(), 1)}, tcp ${fmt(bps - ct.table.bytesPerSession() - ct.wheel.bytesPerSession(), 1)})`,
  );
  console.log(
    `    measured arrayBuffers growth / session: ${per(m1.ab - m0.ab)} B after construction, ` +
      `${per(m2.ab - m0.ab)} B after inserting ${BIG} IPv4 TCP sessions (${fmt(fillMs / 1000, 2)} s)`,
  );
  console.log(
    `    measured heapUsed growth / session:     ${per(m1.heap - m0.heap)} B after construction, ` +
      `${per(m2.heap - m0.heap)} B after inserting`,
  );
  const worst = Math.max(bps, (m2.ab - m0.ab) / BIG);
  console.log(
    `    target <= ${TARGET_BYTES} B/session: ${fmt(worst, 1)} B -> ${worst <= TARGET_BYTES ? 'met' : `MISSED by ${fmt(worst - TARGET_BYTES, 1)} B`}` +
      '',
  );

  // (b) lookup rate: the 1M-capacity table at 1M live vs the same capacity at 10k live.
  const big = ct.table;
  const small = new SessionTable(BIG);
  fill(small, SMALL);
  const tiny = new SessionTable(SMALL);
  fill(tiny, SMALL);
  const kBig = keys(BIG, 7);
  const kSmall = keys(SMALL, 8);
  // Warm-up.
  lookups(big, kBig);
  lookups(small, kSmall);
  lookups(tiny, kSmall);
  lookupsBatch(big, kBig);
  lookupsBatch(small, kSmall);
  const rb: number[] = [];
  const rs: number[] = [];
  const rt: number[] = [];
  const bb: number[] = [];
  const bs: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    rs.push(lookups(small, kSmall));
    rb.push(lookups(big, kBig));
    rt.push(lookups(tiny, kSmall));
    bs.push(lookupsBatch(small, kSmall));
    bb.push(lookupsBatch(big, kBig));
  }
  const b = median(rb);
  const s = median(rs);
  const t = median(rt);
  const show = (xs: number[]): string => xs.map((x) => fmt(x, 1)).join(' ');
  console.log(
    `(b) SessionTable.lookup, ${LOOKUPS} random hits per round (half original, half reply tuple), ` +
      `median of ${ROUNDS} rounds, interleaved`,
  );
  console.log(`    ${SMALL} live, capacity ${BIG}:   ${fmt(s, 2)} M lookups/s  [${show(rs)}]`);
  console.log(`    ${BIG} live, capacity ${BIG}: ${fmt(b, 2)} M lookups/s  [${show(rb)}]`);
  console.log(`    (reference) ${SMALL} live, capacity ${SMALL}: ${fmt(t, 2)} M lookups/s  [${show(rt)}]`);
  const ratio = b / s;
  console.log(
    `    ratio 1M live / 10k live: ${fmt(ratio, 3)} -> target >= ${TARGET_RATIO}: ${ratio >= TARGET_RATIO ? 'met' : 'MISSED'}` +
      `  (vs the 10k-capacity table: ${fmt(b / t, 3)})`,
  );
  const xb = median(bb);
  const xs = median(bs);
  console.log(`(b') SessionTable.lookupBatch, the same keys in one call, same rounds, interleaved`);
  console.log(`    ${SMALL} live, capacity ${BIG}:   ${fmt(xs, 2)} M lookups/s  [${show(bs)}]`);
  console.log(`    ${BIG} live, capacity ${BIG}: ${fmt(xb, 2)} M lookups/s  [${show(bb)}]`);
  const bratio = xb / xs;
  console.log(
    `    ratio 1M live / 10k live: ${fmt(bratio, 3)} -> target >= ${TARGET_RATIO}: ${bratio >= TARGET_RATIO ? 'met' : 'MISSED'}` +
      `  (1M batch vs 1M lookup: ${fmt(xb / b, 2)}x)`,
  );
  reference();
  memory(
    (small as unknown as { slots: number }).slots * 4,
    (big as unknown as { slots: number }).slots * 4,
    s,
    b,
  );
}

/**
 * (d) The memory figures a lookup meets, in the same run (bench/mem-reads.ts):
 * the index and the blocks of 10k and of 1M live sessions, by latency (a
 * chase) and by throughput (a gather).
 */
function memory(smallIndex: number, bigIndex: number, small: number, big: number): void {
  const reads = 1_000_000;
  const mb = (x: number): string => `${fmt(x / 1e6, x < 1e6 ? 2 : 1)} MB`;
  const rows: [string, number, number][] = [
    ['index', smallIndex, bigIndex],
    ['blocks', SMALL * STRIDE_BYTES, BIG * STRIDE_BYTES],
  ];
  console.log(
    `(d) this machine's memory, same run: random reads one cache line apart, ns each (median of ${ROUNDS}); ` +
      'chase = each address from the read before (latency), gather = addresses known ahead (throughput)',
  );
  let wait10k = 0;
  let wait1M = 0;
  for (const [name, sb, bb] of rows) {
    const x = memReads(sb, reads, ROUNDS, 11);
    const y = memReads(bb, reads, ROUNDS, 12);
    wait10k += x.chase;
    wait1M += y.chase;
    console.log(
      `    ${name.padEnd(6)} at ${SMALL} live (${mb(sb)}): chase ${fmt(x.chase, 1)}, gather ${fmt(x.gather, 1)}` +
        `   at ${BIG} live (${mb(bb)}): chase ${fmt(y.chase, 1)}, gather ${fmt(y.gather, 1)}`,
    );
  }
  console.log(
    `    a lookup reads the index slot, then the block it names: ${fmt(wait1M, 0)} ns of dependent reads at ${BIG} ` +
      `against ${fmt(wait10k, 0)} ns at ${SMALL}, where a whole lookup at ${SMALL} takes ${fmt(1e3 / small, 0)} ns ` +
      `(and ${fmt(1e3 / big, 0)} ns at ${BIG})`,
  );
}

/** (c) The C reference (bench/ref/lookup.c): same capacity, lookups and rounds. */
function reference(): void {
  const src = fileURLToPath(new URL('./ref/lookup.c', import.meta.url));
  const dir = mkdtempSync(path.join(os.tmpdir(), 'sdev-ref-'));
  try {
    const exe = path.join(dir, 'lookup');
    const cc = spawnSync('cc', ['-O2', '-o', exe, src], { encoding: 'utf8' });
    if (cc.error || cc.status !== 0) {
      console.log(`(c) C reference: skipped (cc: ${cc.error?.message ?? cc.stderr.trim()})`);
      return;
    }
    const r = spawnSync(exe, [String(BIG), String(LOOKUPS), String(ROUNDS), String(SMALL), String(BIG)], {
      encoding: 'utf8',
    });
    if (r.status !== 0) throw new Error(`bench/ref/lookup failed: ${r.stderr}`);
    const ns = new Map(
      r.stdout
        .trim()
        .split('\n')
        .map((l) => l.split(' ').map(Number) as [number, number, number])
        .map(([live, one, pre]) => [live, { one, pre }]),
    );
    const s = ns.get(SMALL)!;
    const b = ns.get(BIG)!;
    console.log(
      `(c) C reference (bench/ref/lookup.c, cc -O2): the same layout and keys, median of ${ROUNDS} rounds`,
    );
    console.log(
      `    one at a time:        ${fmt(1e3 / s.one, 2)} M/s at ${SMALL}, ${fmt(1e3 / b.one, 2)} M/s at ${BIG}: ratio ${fmt(s.one / b.one, 3)}`,
    );
    console.log(
      `    prefetched, by 32:    ${fmt(1e3 / s.pre, 2)} M/s at ${SMALL}, ${fmt(1e3 / b.pre, 2)} M/s at ${BIG}: ratio ${fmt(s.pre / b.pre, 3)}`,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
