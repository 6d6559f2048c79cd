/**
 * `sdev replay` of captures taken at several devices (an HA pair): two or
 * more files, one per device, or one pcapng whose interfaces are the devices.
 * The captures are merged by time (CaptureMerge, streaming); each record goes
 * through its own device's Device, as a one-capture replay does, and into the
 * asymmetry analysis (FlowPaths), which reports the flows whose two
 * directions were seen at different devices. The devices do not sync: each
 * decides alone, which is what shows the asymmetric-path failure.
 */
import { statSync } from 'node:fs';
import type { DeviceConfig } from '../config/types.js';
import { V_DROPPED, VERDICT_NAMES } from '../device/verdict.js';
import { openCapture, type CaptureError, type CaptureReader } from '../io/capture-reader.js';
import { copyBytes } from '../io/capture-sink.js';
import { PcapWriter } from '../io/pcap-writer.js';
import { PcapngWriter } from '../io/pcapng-writer.js';
import type { SessionRecord } from '../session/list.js';
import { reasonName } from '../session/reasons.js';
import { FlowPaths, MAX_DEVICES } from './asymmetry.js';
import { asymmetryJson, asymmetryText, type AsymmetryJson } from './asymmetry-report.js';
import { DeviceRun, type DeviceSummary, type SentFrames } from './device-run.js';
import { CaptureMerge } from './merge.js';
import { summaryText } from './summary.js';

/** A device and what it reads. */
export interface DeviceSource {
  name: string;
  /** Index of its capture in `captures`. */
  capture: number;
  /**
   * The capture's interfaces (global pcapng numbers) that are this device's, in
   * the order of its own interface numbers; null: the whole capture is its.
   */
  interfaces: number[] | null;
}

export interface MultiReplayOptions {
  captures: string[];
  /** The devices. With `perInterface`, more are added as the capture's interfaces appear. */
  devices: DeviceSource[];
  /** Every interface of the capture that no device claims becomes a device (named by if_name, else ifN). */
  perInterface?: boolean;
  /** One config for every device, or one per device in order. */
  configs: DeviceConfig[];
  /** Frames the devices would have sent: pcapng with an interface per device port, or one pcap. */
  out?: string;
  /** Every input packet with "verdict reason session-id"; interfaces named device:interface. */
  verdicts?: string;
  trace?: string;
  traceWrite?: (text: string) => void;
  progress?: (packets: number, fraction: number) => void;
  /** How many asymmetric flows the summary lists (default 20). */
  listLimit?: number;
}

export interface MultiReplaySummary {
  captures: string[];
  devices: DeviceSummary[];
  asymmetric: AsymmetryJson;
  /** Records of interfaces that no device claims (not replayed). */
  unmappedPackets: number;
  captureErrors?: string[];
}

export interface MultiReplayResult {
  summary: MultiReplaySummary;
  /** Per device (by name): the session table at the end, and its virtual servers as ipvsadm prints them. */
  sessions: Record<string, SessionRecord[]>;
  vsText: Record<string, string>;
  /** Captures that ended in a corrupt or truncated record (the records before it were replayed). */
  captureErrors: CaptureError[];
}

/** A capture that cannot be opened, or devices and configs that do not fit together. Nothing was run. */
export class ReplayInputError extends Error {
  override name = 'ReplayInputError';
}

const UNSEEN = -2;
const UNMAPPED = -1;

function openAll(paths: string[]): CaptureReader[] {
  const readers: CaptureReader[] = [];
  try {
    for (const p of paths) {
      try {
        readers.push(openCapture(p));
      } catch (e) {
        const err = e as NodeJS.ErrnoException;
        if (typeof err.code === 'string' && err.syscall)
          throw new ReplayInputError(`cannot open capture ${p}: ${err.code} (${err.message})`);
        throw e;
      }
    }
  } catch (e) {
    for (const r of readers) r.close();
    throw e;
  }
  return readers;
}

export function replayDevices(opts: MultiReplayOptions): MultiReplayResult {
  const { captures, configs } = opts;
  const specs = [...opts.devices];
  if (configs.length === 0) throw new ReplayInputError('no config');
  if (configs.length > 1 && !opts.perInterface && configs.length !== specs.length)
    throw new ReplayInputError(
      `${configs.length} configs for ${specs.length} devices: give one config for all, or one per device`,
    );
  if (specs.length > MAX_DEVICES)
    throw new ReplayInputError(`at most ${MAX_DEVICES} devices, got ${specs.length}`);
  const readers = openAll(captures);
  const merge = new CaptureMerge(readers);
  const firstLink = readers[0]!.interfaces[0]?.linkType ?? 1;
  const sent: SentFrames = { pcap: null, pcapng: null };
  let verdicts: PcapngWriter | null = null;
  const runs: DeviceRun[] = [];
  try {
    if (opts.out?.endsWith('.pcapng')) sent.pcapng = new PcapngWriter(opts.out, { interfaces: [] });
    else if (opts.out) sent.pcap = new PcapWriter(opts.out, { linkType: firstLink, nano: true });
    if (opts.verdicts) verdicts = new PcapngWriter(opts.verdicts, { interfaces: [] });

    const addRun = (d: DeviceSource): number => {
      const k = runs.length;
      if (k >= MAX_DEVICES) throw new ReplayInputError(`at most ${MAX_DEVICES} devices`);
      const cfg = configs.length === 1 ? configs[0] : configs[k];
      if (!cfg)
        throw new ReplayInputError(
          `device ${d.name} (number ${k + 1}) has no config: ${configs.length} configs given`,
        );
      const r = readers[d.capture]!;
      const first = d.interfaces ? (d.interfaces[0] ?? 0) : 0;
      const path = captures[d.capture]!;
      const source = d.interfaces ? `${path} (interface ${d.interfaces.join(',')})` : path;
      const write = opts.traceWrite ?? ((t: string) => process.stderr.write(t));
      const trace =
        opts.trace !== undefined
          ? { filter: opts.trace, write: (t: string) => write(`${d.name} ${t}`) }
          : undefined;
      runs.push(new DeviceRun(d.name, source, cfg, sent, r.interfaces[first]?.linkType ?? 1, trace));
      return k;
    };
    for (const d of specs) addRun(d);

    // Per capture, per interface: the device, its interface number there, and the verdicts file's interface.
    const routeDev: number[][] = captures.map(() => []);
    const routeIf: number[][] = captures.map(() => []);
    const routeV: number[][] = captures.map(() => []);
    const resolve = (s: number, iface: number): void => {
      while (routeDev[s]!.length <= iface) {
        routeDev[s]!.push(UNSEEN);
        routeIf[s]!.push(0);
        routeV[s]!.push(0);
      }
      let dev = specs.findIndex(
        (d) => d.capture === s && (d.interfaces === null || d.interfaces.includes(iface)),
      );
      if (dev < 0 && opts.perInterface) {
        const ifName = readers[s]!.interfaces[iface]?.name;
        const name = ifName && !specs.some((d) => d.name === ifName) ? ifName : `if${iface}`;
        specs.push({ name, capture: s, interfaces: [iface] });
        dev = addRun(specs[specs.length - 1]!);
      }
      routeDev[s]![iface] = dev < 0 ? UNMAPPED : dev;
      if (dev < 0) return;
      const ifs = specs[dev]!.interfaces;
      routeIf[s]![iface] = ifs ? ifs.indexOf(iface) : iface;
      if (verdicts) {
        const desc = readers[s]!.interfaces[iface];
        routeV[s]![iface] = verdicts.addInterface({
          linkType: desc?.linkType ?? 1,
          name: `${specs[dev]!.name}:${desc?.name ?? `if${iface}`}`,
        });
      }
    };

    // The interfaces known before the first record (pcapng IDBs usually all are), in order; later ones as they come.
    readers.forEach((r, s) => r.interfaces.forEach((_d, i) => resolve(s, i)));

    const paths = new FlowPaths();
    const size = captures.reduce((n, p) => n + statSync(p).size, 0);
    let bytesSeen = 0;
    let unmapped = 0;
    let scratch = new Uint8Array(verdicts ? 65536 : 0);
    while (merge.next()) {
      const b = merge.batch;
      const i = merge.index;
      const s = merge.source;
      const iface = b.ifIndex[i]!;
      if (iface >= routeDev[s]!.length || routeDev[s]![iface] === UNSEEN) resolve(s, iface);
      const dev = routeDev[s]![iface]!;
      const caplen = b.caplen[i]!;
      bytesSeen += caplen + 16;
      if (dev === UNMAPPED) {
        unmapped++;
        continue;
      }
      // Before the device: NAT and routing rewrite the frame in place.
      paths.observeFrame(dev, b.buf, b.off[i]!, caplen, b.linkType[i]!, b.origlen[i]!);
      let buf = b.buf;
      let off = b.off[i]!;
      if (verdicts) {
        if (caplen > scratch.length) scratch = new Uint8Array(caplen);
        copyBytes(b.buf, off, scratch, 0, caplen);
        buf = scratch;
        off = 0;
      }
      const run = runs[dev]!;
      const v = run.process(b, i, buf, off, routeIf[s]![iface]!);
      if (verdicts) {
        const reason = v === V_DROPPED ? reasonName(run.dev.reason) : '-';
        const comment = `${VERDICT_NAMES[v]} ${reason} ${run.dev.session}`;
        verdicts.write(
          b.buf,
          b.off[i]!,
          caplen,
          b.tsSec[i]!,
          b.tsNsec[i]!,
          routeV[s]![iface]!,
          comment,
          b.origlen[i]!,
        );
      }
      if (opts.progress && (merge.records & 255) === 0)
        opts.progress(merge.records, Math.min(1, bytesSeen / Math.max(1, size)));
    }
    if (opts.progress) opts.progress(merge.records, 1);

    const captureErrors = readers.map((r) => r.error).filter((e): e is CaptureError => e !== null);
    const names = runs.map((r) => r.name);
    const summary: MultiReplaySummary = {
      captures: [...captures],
      devices: [],
      asymmetric: asymmetryJson(paths, names, opts.listLimit ?? 20),
      unmappedPackets: unmapped,
    };
    const sessions: Record<string, SessionRecord[]> = {};
    const vsText: Record<string, string> = {};
    runs.forEach((r, k) => {
      const f = r.finish();
      const err = readers[specs[k]!.capture]!.error;
      if (err) f.summary.captureError = err.message;
      summary.devices.push(f.summary);
      sessions[r.name] = f.sessions;
      vsText[r.name] = f.vsText;
    });
    if (captureErrors.length) summary.captureErrors = captureErrors.map((e) => e.message);
    return { summary, sessions, vsText, captureErrors };
  } finally {
    for (const r of readers) r.close();
    sent.pcap?.close();
    sent.pcapng?.close();
    verdicts?.close();
  }
}

/** The summary as text: each device's figures under its name, then the asymmetry section. */
export function multiSummaryText(s: MultiReplaySummary): string {
  const parts = s.devices.map((d) => `device    ${d.device}\n${summaryText(d)}`);
  let tail = asymmetryText(s.asymmetric);
  if (s.unmappedPackets) tail += `unmapped  ${s.unmappedPackets} packets on interfaces of no device\n`;
  return parts.join('\n') + '\n' + tail;
}
