/**
 * One process of the lb-replay bench (lb-replay.bench.ts): replays one
 * capture with one config, a warm-up and then `rounds` rounds, and prints one
 * JSON line: the rates of the rounds (Mpps by wall clock and by CPU time)
 * and the last round's summary. One config per process, as `sdev replay`
 * runs: in a process that replays both, the same compiled code serves both
 * configs and is tuned for whichever ran first.
 * `node --import tsx bench/lb-replay-child.ts fw|lb FILE ROUNDS`
 */
import { defaultConfig, parseConfig } from '../src/config/load.js';
import { replay } from '../src/replay/replay.js';
import { LB_YAML } from './lb-replay.bench.js';
import { mpps } from './util.js';

const [kind, file, roundsText] = process.argv.slice(2);
if ((kind !== 'fw' && kind !== 'lb') || !file) {
  console.error('usage: lb-replay-child.ts fw|lb FILE ROUNDS');
  process.exit(2);
}
const cfg = kind === 'lb' ? parseConfig(LB_YAML, '<lb-replay bench>') : defaultConfig();
const rounds = Number(roundsText ?? 3);
const rates: { wall: number; cpu: number }[] = [];
let summary: unknown = null;
for (let r = 0; r <= rounds; r++) {
  const c0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  const res = replay({ capture: file, config: cfg });
  const wall = process.hrtime.bigint() - t0;
  const c = process.cpuUsage(c0);
  const n = res.summary.packetsIn;
  // Round 0 is the warm-up.
  if (r > 0) rates.push({ wall: mpps(n, wall), cpu: mpps(n, (c.user + c.system) * 1000) });
  summary = res.summary;
}
console.log(JSON.stringify({ kind, rates, summary }));
