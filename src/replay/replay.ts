/**
 * `sdev replay`: runs a capture file through the device on the capture's own
 * clock, so timeouts fire in capture time and the result is exactly what the
 * device would have done live. Writes what the device would have sent (-w),
 * every input packet with its verdict as a pcapng comment (--verdicts), and
 * returns a summary. Same input and config give byte-identical outputs.
 */
import { statSync } from 'node:fs';
import type { DeviceConfig } from '../config/types.js';
import { Device, type FrameSink } from '../device/device.js';
import { Tracer } from '../device/trace.js';
import { V_DROPPED, VERDICT_NAMES } from '../device/verdict.js';
import { CaptureBatch, openCapture, recordTimeMs, type CaptureError } from '../io/capture-reader.js';
import { PcapWriter } from '../io/pcap-writer.js';
import { copyBytes } from '../io/capture-sink.js';
import { ipvsadmText } from '../lb/ipvsadm.js';
import { PcapngWriter } from '../io/pcapng-writer.js';
import { PROTO_TCP } from '../wire/packet.js';
import { listSessions, type SessionRecord } from '../session/list.js';
import { reasonName } from '../session/reasons.js';
import { PROTO_CLASS_NAMES } from '../session/conntrack.js';
import { tcpStateName } from '../session/tcp-print.js';
import { tcpState } from '../session/tcp-track.js';
import { summarise, type ReplaySummary } from './summary.js';

export interface ReplayOptions {
  capture: string;
  config: DeviceConfig;
  /** Frames the device would have sent (pcap, or pcapng with one interface per port). */
  out?: string;
  /** Every input packet with a comment "verdict reason session-id" (pcapng). */
  verdicts?: string;
  /** Trace filter ("all", "host 10.0.0.1 and port 80", ...) and where trace text goes. */
  trace?: string;
  traceWrite?: (text: string) => void;
  /** Called now and then with (packets, estimated fraction done). */
  progress?: (packets: number, fraction: number) => void;
}

export interface ReplayResult {
  summary: ReplaySummary;
  /** Virtual servers at the end, as `ipvsadm -Ln` prints them ('' when there are none). */
  vsText: string;
  sessions: SessionRecord[];
  /** Set when the capture ended in a corrupt or truncated record (the records before it were replayed). */
  captureError: CaptureError | null;
}

class Outputs implements FrameSink {
  tsSec = 0;
  tsNsec = 0;
  constructor(
    private readonly pcap: PcapWriter | null,
    private readonly pcapng: PcapngWriter | null,
  ) {}
  send(port: number, buf: Uint8Array, off: number, len: number): void {
    if (this.pcapng) this.pcapng.write(buf, off, len, this.tsSec, this.tsNsec, port);
    else if (this.pcap) this.pcap.write(buf, off, len, this.tsSec, this.tsNsec);
  }
}

/**
 * The reader's chunk: small enough that the bytes read() just copied are still
 * in the core's cache (L2) when the device decodes them, large enough that the
 * read calls cost little (measured: 256 KiB replays the bench capture ~25%
 * faster than the reader's default 4 MiB on this machine).
 */
const READ_CHUNK = 256 * 1024;

export function replay(opts: ReplayOptions): ReplayResult {
  const reader = openCapture(opts.capture, { chunkSize: READ_CHUNK });
  const batch = new CaptureBatch(256);
  let n = reader.next(batch);
  const firstLink = reader.interfaces[0]?.linkType ?? 1;
  let pcap: PcapWriter | null = null;
  let pcapng: PcapngWriter | null = null;
  const sink = new Outputs(null, null);
  const cfg = opts.config;
  const dev = new Device(cfg, sink);
  if (opts.out) {
    if (opts.out.endsWith('.pcapng')) {
      pcapng = new PcapngWriter(opts.out, {
        interfaces: dev.ports.names.map((name) => ({ linkType: firstLink, name })),
      });
    } else pcap = new PcapWriter(opts.out, { linkType: firstLink, nano: true });
  }
  Object.assign(sink, { pcap, pcapng });
  let verdicts: PcapngWriter | null = null;
  let verdictIfaces = 0;
  if (opts.verdicts) {
    verdicts = new PcapngWriter(opts.verdicts, { interfaces: [] });
  }
  if (opts.trace !== undefined)
    dev.tracer = new Tracer(opts.trace, opts.traceWrite ?? ((t) => process.stderr.write(t)));

  // Final TCP states of sessions that ended during the replay.
  const endedTcpStates = new Map<string, number>();
  const devExpire = dev.ct.onExpire;
  dev.ct.onExpire = (id) => {
    if (devExpire) devExpire(id);
    if ((dev.ct.table.zoneProto(id) & 0xff) !== PROTO_TCP) return;
    const s = tcpStateName(tcpState(dev.ct.tcp, id));
    endedTcpStates.set(s, (endedTcpStates.get(s) ?? 0) + 1);
  };

  const size = statSync(opts.capture).size;
  let bytesSeen = 24;
  // Not captured by the closure below: a double in a closure's context is a new heap number per store.
  let latest = 0;
  let packets = 0;
  const copyFrames = verdicts !== null && cfg.virtualServers.length > 0;
  let scratch = new Uint8Array(copyFrames ? 65536 : 0);
  while (n > 0) {
    for (let i = 0; i < n; i++) {
      const now = recordTimeMs(batch, i);
      sink.tsSec = batch.tsSec[i]!;
      sink.tsNsec = batch.tsNsec[i]!;
      const iface = batch.ifIndex[i]!;
      // NAT rewrites frames in place; the verdicts file must keep them as they arrived.
      let buf = batch.buf;
      let off = batch.off[i]!;
      if (copyFrames) {
        if (batch.caplen[i]! > scratch.length) scratch = new Uint8Array(batch.caplen[i]!);
        copyBytes(batch.buf, off, scratch, 0, batch.caplen[i]!);
        buf = scratch;
        off = 0;
      }
      dev.clock = now;
      const v = dev.processAtClock(buf, off, batch.caplen[i]!, batch.linkType[i]!, iface, batch.origlen[i]!);
      if (now > latest) latest = now;
      if (verdicts) {
        while (verdictIfaces <= iface) {
          const desc = reader.interfaces[verdictIfaces]!;
          verdicts.addInterface({ linkType: desc.linkType, name: desc.name ?? `if${verdictIfaces}` });
          verdictIfaces++;
        }
        const reason = v === V_DROPPED ? reasonName(dev.reason) : '-';
        verdicts.write(
          batch.buf,
          batch.off[i]!,
          batch.caplen[i]!,
          batch.tsSec[i]!,
          batch.tsNsec[i]!,
          iface,
          `${VERDICT_NAMES[v]} ${reason} ${dev.session}`,
          batch.origlen[i]!,
        );
      }
      bytesSeen += batch.caplen[i]! + 16;
    }
    packets += n;
    if (opts.progress) opts.progress(packets, Math.min(1, bytesSeen / size));
    n = reader.next(batch);
  }
  const captureError = reader.error;
  reader.close();
  pcap?.close();
  pcapng?.close();
  verdicts?.close();
  const summary = summarise(dev, endedTcpStates, PROTO_CLASS_NAMES, opts.capture);
  if (captureError) summary.captureError = captureError.message;
  const vsText = dev.lb.enabled ? ipvsadmText(dev.lb.vs.views()) : '';
  // The session records (a few objects and strings per session) are built on first use:
  // most replays never ask for them. The device is not used after this, so they are the same.
  let sessions: SessionRecord[] | null = null;
  const lastNow = latest;
  return {
    summary,
    get sessions(): SessionRecord[] {
      sessions ??= listSessions(dev.ct, lastNow);
      return sessions;
    },
    captureError,
    vsText,
  };
}
