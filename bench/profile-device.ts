/**
 * Profiling harness (not a benchmark): runs the Device over a generated
 * capture held in memory. `node --cpu-prof --import tsx bench/profile-device.ts [packets] [flows]`
 */
import { existsSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import os from 'node:os';
import path from 'node:path';
import { defaultConfig } from '../src/config/load.js';
import { Device } from '../src/device/device.js';
import { CaptureBatch, openCapture, recordTimeMs } from '../src/io/capture-reader.js';
import { generateTcpCapture } from './gen.js';

const packets = Number(process.argv[2] ?? 300_000);
const flows = Number(process.argv[3] ?? 10_000);
const file = path.join(os.tmpdir(), `sdev-prof-${packets}-${flows}.pcap`);
if (!existsSync(file)) generateTcpCapture(file, { packets, flows, seed: 1 });
const frames: Uint8Array[] = [];
const times: number[] = [];
const r = openCapture(file);
const b = new CaptureBatch(256);
while (r.next(b) > 0) {
  for (let i = 0; i < b.count; i++) {
    frames.push(b.buf.slice(b.off[i]!, b.off[i]! + b.caplen[i]!));
    times.push(recordTimeMs(b, i));
  }
}
r.close();
const big = new Uint8Array(frames.reduce((n, f) => n + f.length, 0));
const off = new Int32Array(frames.length);
const len = new Int32Array(frames.length);
let o = 0;
frames.forEach((f, i) => {
  big.set(f, o);
  off[i] = o;
  len[i] = f.length;
  o += f.length;
});
const session = new Session();
session.connect();
const post = (m: string, params?: object) =>
  new Promise<unknown>((res, rej) => session.post(m, params ?? {}, (e, v) => (e ? rej(e) : res(v))));
const profiling = process.env.PROFILE === '1';
if (profiling) {
  await post('Profiler.enable');
  await post('Profiler.start');
}
const heap = process.env.PROFILE === 'heap';
if (heap) await post('HeapProfiler.startSampling', { samplingInterval: 256 });
for (let round = 0; round < 5; round++) {
  const dev = new Device(defaultConfig(), { send() {} });
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < off.length; i++) dev.process(big, off[i]!, len[i]!, 1, -1, times[i]!);
  const ns = Number(process.hrtime.bigint() - t0);
  console.log(
    `round ${round}: ${(off.length / (ns / 1e9) / 1e6).toFixed(2)} Mpps, ${(ns / off.length).toFixed(0)} ns/pkt, dropped ${dev.stats.verdicts[1]}`,
  );
}
if (profiling) {
  const { profile } = (await post('Profiler.stop')) as { profile: unknown };
  writeFileSync('/tmp/prof/device.cpuprofile', JSON.stringify(profile));
}
if (heap) {
  const { profile } = (await post('HeapProfiler.stopSampling')) as { profile: { head: HeapNode } };
  const out: [number, string][] = [];
  const walk = (n: HeapNode, stack: string): void => {
    const here = `${n.callFrame.functionName}@${n.callFrame.url.split('/').slice(-2).join('/')}:${n.callFrame.lineNumber}`;
    if (n.selfSize > 0) out.push([n.selfSize, `${stack} > ${here}`]);
    for (const c of n.children) walk(c, here);
  };
  walk(profile.head, '');
  out.sort((a, b) => b[0] - a[0]);
  for (const [size, where] of out.slice(0, 15)) console.log(size, where);
}
interface HeapNode {
  callFrame: { functionName: string; url: string; lineNumber: number };
  selfSize: number;
  children: HeapNode[];
}
