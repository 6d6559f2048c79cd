/**
 * Load-balancer schedulers: picks per second for each scheduler over 8 reals
 * (clients cycle through 4096 pre-built tuples, so nothing is allocated while
 * timing), persistence in front of rr, and Maglev table build times for
 * M = 65537 with 8 and 100 reals. Baseline in the same run: a plain `i % n`
 * loop reading the same tuples.
 */
import { MaglevScheduler } from '../src/lb/maglev.js';
import { Persistence } from '../src/lb/persistence.js';
import { RealPool } from '../src/lb/pool.js';
import { createScheduler, SCHEDULER_NAMES, type Scheduler } from '../src/lb/schedulers.js';
import { fmt, medianOf } from './util.js';

const PICKS = 2_000_000;
const ROUNDS = 7;
const CLIENTS = 4096;

function pool(n: number): RealPool {
  const p = new RealPool(n);
  for (let i = 0; i < n; i++) p.add(Uint32Array.of(0, 0, 0xffff, 0x0a000200 + i), 8080, 1 + (i % 3));
  return p;
}

function tuples(): { addrs: Uint32Array[]; ports: Uint16Array } {
  let s = 0x12345678;
  const next = (): number => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return s >>> 0;
  };
  const addrs: Uint32Array[] = [];
  const ports = new Uint16Array(CLIENTS);
  for (let i = 0; i < CLIENTS; i++) {
    addrs.push(Uint32Array.of(0, 0, 0xffff, next()));
    ports[i] = 1024 + (next() % 60000);
  }
  return { addrs, ports };
}

/** Millions of operations per second for `fn(i)` run PICKS times. */
function rate(fn: (i: number) => number): number {
  let sink = 0;
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < PICKS; i++) sink += fn(i);
  const ns = Number(process.hrtime.bigint() - t0);
  if (sink === -1) console.log(''); // keep the result alive
  return PICKS / (ns / 1e9) / 1e6;
}

export async function run(): Promise<void> {
  const { addrs, ports } = tuples();
  const mask = CLIENTS - 1;
  const n = 8;
  const base = await medianOf(ROUNDS, () =>
    rate((i) => ((addrs[i & mask]![3]! + ports[i & mask]!) >>> 0) % n),
  );
  console.log(`baseline (i % n over the same tuples): ${fmt(base, 1)} M/s`);
  for (const name of SCHEDULER_NAMES) {
    const s: Scheduler = createScheduler(name, pool(n));
    const r = await medianOf(ROUNDS, () => rate((i) => s.pick(addrs[i & mask]!, ports[i & mask]!)));
    console.log(
      `${name.padEnd(4)} pick, 8 reals: ${fmt(r, 1)} M picks/s (${fmt(base / r, 1)}x baseline time)`,
    );
  }
  {
    const p = pool(n);
    const s = createScheduler('rr', p);
    const per = new Persistence(p, 300_000, 65536);
    const r = await medianOf(ROUNDS, () => rate((i) => per.pick(s, addrs[i & mask]!, ports[i & mask]!, i)));
    console.log(`persistence + rr, ${CLIENTS} clients: ${fmt(r, 1)} M picks/s`);
  }
  for (const reals of [8, 100]) {
    const s = createScheduler('mh', pool(reals)) as MaglevScheduler;
    const ms = await medianOf(ROUNDS, () => {
      const t0 = process.hrtime.bigint();
      s.rebuild();
      return Number(process.hrtime.bigint() - t0) / 1e6;
    });
    console.log(`mh table build, M=${s.m}, ${reals} reals: ${fmt(ms, 2)} ms`);
  }
}
