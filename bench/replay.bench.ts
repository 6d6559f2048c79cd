/**
 * Replay throughput: 1,000,000 packets over 10,000 concurrent TCP connections (bench/gen.ts)
 * through the default stateful firewall. Measured in the same run, rounds interleaved, medians:
 *   (a) the capture reader alone (openCapture + next, touching every record): the I/O baseline;
 *   (b) `replay({ capture, config: defaultConfig() })` with no outputs;
 *   (c) the Device alone over frames already in memory (no I/O);
 *   (d) the same with the session fast path off (every frame through the general path).
 * Checks that the replay forwarded every packet (a drop is a bug to report).
 * `npx tsx bench/run.ts replay`
 */
import { rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { defaultConfig } from '../src/config/load.js';
import type { DeviceConfig } from '../src/config/types.js';
import { Device } from '../src/device/device.js';
import { V_DROPPED, V_FORWARDED } from '../src/device/verdict.js';
import { CaptureBatch, openCapture, recordTimeMs } from '../src/io/capture-reader.js';
import { replay } from '../src/replay/replay.js';
import type { ReplaySummary } from '../src/replay/summary.js';
import { generateTcpCapture } from './gen.js';
import { fmt, median, mpps } from './util.js';

const PACKETS = 1_000_000;
const FLOWS = 10_000;
const ROUNDS = 5;
const TARGET_MPPS = 3;
const AIM_MPPS = 5;

/** Packets per second by wall-clock time and by this process's CPU time (user + system). */
interface Rate {
  wall: number;
  cpu: number;
}

function rateSince(packets: number, t0: bigint, c0: NodeJS.CpuUsage): Rate {
  const wall = process.hrtime.bigint() - t0;
  const c = process.cpuUsage(c0);
  return { wall: mpps(packets, wall), cpu: mpps(packets, (c.user + c.system) * 1000) };
}

/** (a) Reader alone: every record's length and first byte are read. */
function readerAlone(file: string): Rate {
  const c0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  const r = openCapture(file);
  const b = new CaptureBatch(256);
  let n = 0;
  let acc = 0;
  while (r.next(b) > 0) {
    n += b.count;
    const buf = b.buf;
    for (let i = 0; i < b.count; i++) acc += b.caplen[i]! + buf[b.off[i]!]! + recordTimeMs(b, i);
  }
  r.close();
  const rate = rateSince(n, t0, c0);
  if (n !== PACKETS || acc === 0 || r.error) throw new Error(`reader read ${n} packets: ${r.error?.message}`);
  return rate;
}

/** (b) The replay, no outputs. Throws nothing on drops: the caller reports them. */
function replayRound(file: string, cfg: DeviceConfig): { rate: Rate; summary: ReplaySummary } {
  const c0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  const { summary } = replay({ capture: file, config: cfg });
  return { rate: rateSince(summary.packetsIn, t0, c0), summary };
}

/** All frames of the capture in one buffer, with offsets, lengths and record times. */
interface InMemory {
  buf: Uint8Array;
  off: Int32Array;
  len: Int32Array;
  timeMs: Float64Array;
}

function load(file: string, bytes: number): InMemory {
  const m: InMemory = {
    buf: new Uint8Array(bytes),
    off: new Int32Array(PACKETS),
    len: new Int32Array(PACKETS),
    timeMs: new Float64Array(PACKETS),
  };
  const r = openCapture(file);
  const b = new CaptureBatch(256);
  let k = 0;
  let pos = 0;
  while (r.next(b) > 0) {
    for (let i = 0; i < b.count; i++, k++) {
      const n = b.caplen[i]!;
      m.buf.set(b.buf.subarray(b.off[i]!, b.off[i]! + n), pos);
      m.off[k] = pos;
      m.len[k] = n;
      m.timeMs[k] = recordTimeMs(b, i);
      pos += n;
    }
  }
  r.close();
  if (k !== PACKETS || pos !== bytes) throw new Error(`loaded ${k} packets, ${pos} bytes`);
  return m;
}

const nullSink = { send(): void {} };

/** (c) The Device alone over frames in memory (construction not timed). Returns Mpps and drops. */
function deviceAlone(
  m: InMemory,
  cfg: DeviceConfig,
  fastPath = true,
): { rate: Rate; dropped: number; forwarded: number; fast: number } {
  const dev = new Device(cfg, nullSink);
  dev.fastPath = fastPath;
  const { buf, off, len, timeMs } = m;
  const c0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < PACKETS; i++) dev.process(buf, off[i]!, len[i]!, 1, 0, timeMs[i]!);
  const rate = rateSince(PACKETS, t0, c0);
  const v = dev.stats.verdicts;
  return { rate, dropped: v[V_DROPPED]!, forwarded: v[V_FORWARDED]!, fast: dev.fastFrames };
}

export async function run(): Promise<void> {
  const file = path.join(os.tmpdir(), `sdev-replay-bench-${process.pid}.pcap`);
  try {
    const t0 = Date.now();
    const g = generateTcpCapture(file, { packets: PACKETS, flows: FLOWS, seed: 1 });
    console.log(
      `capture: ${g.packets} packets, ${g.connections} TCP connections (${g.completed} with teardown), ` +
        `${FLOWS} concurrent, ${fmt(statSync(file).size / 1e6, 1)} MB, generated in ${fmt((Date.now() - t0) / 1000, 1)} s`,
    );
    const cfg = defaultConfig();
    const mem = load(file, g.bytes);

    // Warm-up, then rounds interleaved so that noise hits all three alike.
    readerAlone(file);
    let last = replayRound(file, cfg);
    deviceAlone(mem, cfg);
    deviceAlone(mem, cfg, false);
    const rd: Rate[] = [];
    const rp: Rate[] = [];
    const dv: Rate[] = [];
    const dg: Rate[] = [];
    let devFast = 0;
    let devDropped = 0;
    let devForwarded = 0;
    // No forced gc() between rounds: under --expose-gc a forced full GC discards the
    // optimized code, so every round after it ran partly unoptimized while ~90 functions
    // were compiled again on a helper thread (measured: 2-9 re-optimizations per round
    // without it, ~90 with it; replay ~40% slower and CPU time > wall time).
    for (let r = 0; r < ROUNDS; r++) {
      rd.push(readerAlone(file));
      last = replayRound(file, cfg);
      rp.push(last.rate);
      const d = deviceAlone(mem, cfg);
      dv.push(d.rate);
      devDropped = d.dropped;
      devForwarded = d.forwarded;
      devFast = d.fast;
      dg.push(deviceAlone(mem, cfg, false).rate);
    }
    const wall = (xs: Rate[]): number => median(xs.map((x) => x.wall));
    const cpu = (xs: Rate[]): number => median(xs.map((x) => x.cpu));
    const a = wall(rd);
    const b = wall(rp);
    const c = wall(dv);
    const ns = (x: number): string => fmt(1000 / x, 0).padStart(5);
    const show = (xs: Rate[]): string => xs.map((x) => fmt(x.wall)).join(' ');
    console.log(
      `Mpps, medians of ${ROUNDS} rounds after a warm-up, rounds interleaved; wall clock, and by CPU time:`,
    );
    const line = (name: string, xs: Rate[]): void =>
      console.log(
        `${name} ${fmt(wall(xs)).padStart(5)} Mpps (${ns(wall(xs))} ns/pkt) | cpu ${fmt(cpu(xs)).padStart(5)} Mpps (${ns(cpu(xs))} ns/pkt) | wall rounds [${show(xs)}]`,
      );
    line('(a) reader alone (openCapture + next): ', rd);
    line('(b) replay, default config, no outputs:', rp);
    line('(c) Device.process, frames in memory:  ', dv);
    line('(d) the same, session fast path off:   ', dg);
    console.log(
      `session fast path: ${fmt((devFast / PACKETS) * 100, 1)}% of the frames; (c)/(d) ${fmt(c / wall(dg), 2)}x wall, ` +
        `paired by round ${fmt(median(dv.map((x, i) => x.wall / dg[i]!.wall)), 2)}x`,
    );
    console.log(`ratio replay / reader alone: ${fmt(b / a, 3)} wall, ${fmt(cpu(rp) / cpu(rd), 3)} cpu`);
    console.log(`device share of the replay's time: ${fmt((1 / c / (1 / b)) * 100, 0)}% wall`);
    const s = last.summary;
    console.log(
      `replay summary: ${s.packetsIn} in, ${s.forwarded} forwarded, ${s.dropped} dropped; ` +
        `sessions ${s.sessionsCreated} created, peak ${s.peakSessions}, ${s.sessionsActive} at end; ` +
        `tcp end ${JSON.stringify(s.tcpFinalStates)}`,
    );
    const allForwarded = s.dropped === 0 && s.forwarded === PACKETS;
    if (allForwarded) console.log('check: replay forwarded every packet: OK');
    else {
      console.log(
        `check: FAILED - replay dropped ${s.dropped} of ${s.packetsIn} packets ` +
          `(a bug: the capture is valid TCP); dropsByReason ${JSON.stringify(s.dropsByReason)}`,
      );
    }
    if (devDropped !== 0 || devForwarded !== PACKETS) {
      console.log(`check: FAILED - device alone forwarded ${devForwarded}, dropped ${devDropped}`);
    }
    const verdict = (x: number): string =>
      x >= AIM_MPPS
        ? 'met (and the aim)'
        : x >= TARGET_MPPS
          ? 'met'
          : `MISSED (${fmt(TARGET_MPPS / x, 1)}x short)`;
    console.log(
      `target: replay >= ${TARGET_MPPS} Mpps (aim ${AIM_MPPS}): wall ${fmt(b)} Mpps -> ${verdict(b)}; ` +
        `cpu ${fmt(cpu(rp))} Mpps -> ${verdict(cpu(rp))}`,
    );
  } finally {
    rmSync(file, { force: true });
  }
}
