/**
 * `sdev replay` with captures taken at several devices: two or more files
 * (one per device, `NAME=FILE` names one), or one pcapng whose interfaces are
 * the devices (--per-interface, --device-of-interface). Wiring and printing
 * only; the work is in src/replay/multi.ts.
 */
import { existsSync, writeFileSync } from 'node:fs';
import { basename } from 'node:path';
import { InvalidArgumentError } from 'commander';
import type { DeviceConfig } from '../config/types.js';
import { CaptureError } from '../io/capture-reader.js';
import { multiSummaryText, ReplayInputError, replayDevices, type DeviceSource } from '../replay/multi.js';
import { conntrackLine } from '../session/list.js';
import { progressBar } from './progress.js';

export interface DeviceReplayFlags {
  write?: string;
  verdicts?: string;
  json?: string;
  sessions?: string;
  list?: boolean;
  vs?: boolean;
  trace?: string;
  quiet?: boolean;
  perInterface?: boolean;
  deviceOfInterface?: Map<number, string>;
  listAsymmetric?: number;
}

/** True when the arguments ask for a replay of several devices. */
export function isDeviceReplay(captures: string[], o: DeviceReplayFlags): boolean {
  return captures.length > 1 || o.perInterface === true || o.deviceOfInterface !== undefined;
}

/** Parses `0=fw1,1=fw2` (interface number = device name) for --device-of-interface. */
export function parseInterfaceMap(v: string): Map<number, string> {
  const map = new Map<number, string>();
  for (const part of v.split(',')) {
    const m = /^\s*(\d+)\s*=\s*([A-Za-z0-9_.:-]+)\s*$/.exec(part);
    if (!m)
      throw new InvalidArgumentError(`expected INTERFACE=DEVICE[,...] such as 0=fw1,1=fw2, got "${part}"`);
    const n = Number(m[1]);
    if (map.has(n)) throw new InvalidArgumentError(`interface ${n} is given twice`);
    map.set(n, m[2]!);
  }
  return map;
}

/** A positive integer option value. */
export function parseCount(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError('a whole number (>= 0)');
  return n;
}

/** The devices: one per file (NAME=FILE, else the file's name without extension), or from the interface map. */
function devicesOf(args: string[], o: DeviceReplayFlags): { captures: string[]; devices: DeviceSource[] } {
  const captures: string[] = [];
  const names: (string | null)[] = [];
  for (const a of args) {
    const m = /^([A-Za-z][A-Za-z0-9_.:-]*)=(.+)$/.exec(a);
    if (m && !existsSync(a)) {
      names.push(m[1]!);
      captures.push(m[2]!);
    } else {
      names.push(null);
      captures.push(a);
    }
  }
  if (o.perInterface || o.deviceOfInterface) {
    if (captures.length !== 1)
      throw new ReplayInputError(
        '--per-interface and --device-of-interface take one capture whose interfaces are the devices',
      );
    const devices: DeviceSource[] = [];
    for (const [iface, name] of o.deviceOfInterface ?? []) {
      const d = devices.find((x) => x.name === name);
      if (d) d.interfaces!.push(iface);
      else devices.push({ name, capture: 0, interfaces: [iface] });
    }
    return { captures, devices };
  }
  const base = captures.map((c, i) => names[i] ?? basename(c).replace(/\.(pcapng|pcap|cap)$/i, ''));
  const devices = base.map((name, i) => ({
    name: base.indexOf(name) === base.lastIndexOf(name) ? name : `dev${i + 1}`,
    capture: i,
    interfaces: null,
  }));
  return { captures, devices };
}

/** Runs the replay and prints; exits 2 when nothing could be run, sets exit code 3 on a corrupt capture. */
export function replayDevicesCommand(args: string[], configs: DeviceConfig[], o: DeviceReplayFlags): void {
  const bar = !o.quiet && process.stderr.isTTY ? progressBar(process.stderr) : null;
  let result;
  try {
    const { captures, devices } = devicesOf(args, o);
    result = replayDevices({
      captures,
      devices,
      perInterface: o.perInterface,
      configs,
      out: o.write,
      verdicts: o.verdicts,
      trace: o.trace,
      traceWrite: (t) => process.stdout.write(t),
      progress: bar ? (n, f) => bar.update(n, f) : undefined,
      listLimit: o.listAsymmetric,
    });
  } catch (e) {
    bar?.done();
    if (e instanceof CaptureError || e instanceof ReplayInputError) {
      process.stderr.write(`sdev: ${e.message}\n`);
      process.exit(2);
    }
    throw e;
  }
  bar?.done();
  const { summary, sessions } = result;
  if (o.json) writeFileSync(o.json, JSON.stringify(summary, null, 2) + '\n');
  if (o.sessions) writeFileSync(o.sessions, JSON.stringify(sessions, null, 2) + '\n');
  if (!o.quiet) process.stdout.write(multiSummaryText(summary));
  const names = summary.devices.map((d) => d.device);
  if (o.list) {
    for (const name of names) {
      process.stdout.write(`device ${name}\n`);
      for (const s of sessions[name]!) process.stdout.write(conntrackLine(s) + '\n');
    }
  }
  if (o.vs)
    for (const name of names)
      if (result.vsText[name]) process.stdout.write(`device ${name}\n${result.vsText[name]}`);
  for (const e of result.captureErrors) process.stderr.write(`sdev: ${e.message}\n`);
  if (result.captureErrors.length) process.exitCode = 3;
}
