/**
 * One device of a multi-device replay: its Device on the capture clock, the
 * sink of the frames it sends (the shared -w file: a pcap, or a pcapng with
 * one interface per device port named `device:port`), the final TCP states of
 * sessions that ended, and its summary at the end.
 */
import type { DeviceConfig } from '../config/types.js';
import { Device, type FrameSink } from '../device/device.js';
import { Tracer } from '../device/trace.js';
import type { CaptureBatch } from '../io/capture-reader.js';
import { recordTimeMs } from '../io/capture-reader.js';
import type { PcapWriter } from '../io/pcap-writer.js';
import type { PcapngWriter } from '../io/pcapng-writer.js';
import { ipvsadmText } from '../lb/ipvsadm.js';
import { PROTO_CLASS_NAMES } from '../session/conntrack.js';
import { listSessions, type SessionRecord } from '../session/list.js';
import { tcpStateName } from '../session/tcp-print.js';
import { tcpState } from '../session/tcp-track.js';
import { PROTO_TCP } from '../wire/packet.js';
import { summarise, type ReplaySummary } from './summary.js';

/** Where the frames the devices send go (both null: nowhere). */
export interface SentFrames {
  pcap: PcapWriter | null;
  pcapng: PcapngWriter | null;
}

/** A device's summary in a multi-device replay: the usual figures and its name. */
export type DeviceSummary = { device: string } & ReplaySummary;

export class DeviceRun implements FrameSink {
  readonly dev: Device;
  /** Final TCP states of the sessions that ended during the replay. */
  readonly endedTcpStates = new Map<string, number>();
  private tsSec = 0;
  private tsNsec = 0;
  private lastNow = 0;
  /** This device's first interface in the pcapng -w file. */
  private readonly pcapngBase: number;

  constructor(
    readonly name: string,
    /** What it reads, for the summary: the capture path, with its interfaces when it has some of them. */
    readonly source: string,
    cfg: DeviceConfig,
    private readonly sent: SentFrames,
    linkType: number,
    trace?: { filter: string; write: (text: string) => void },
  ) {
    this.dev = new Device(cfg, this);
    const dev = this.dev;
    this.pcapngBase = sent.pcapng ? sent.pcapng.interfaceCount : 0;
    if (sent.pcapng)
      for (const port of dev.ports.names) sent.pcapng.addInterface({ linkType, name: `${name}:${port}` });
    if (trace) dev.tracer = new Tracer(trace.filter, trace.write);
    const devExpire = dev.ct.onExpire;
    dev.ct.onExpire = (id) => {
      if (devExpire) devExpire(id);
      if ((dev.ct.table.zoneProto(id) & 0xff) !== PROTO_TCP) return;
      const s = tcpStateName(tcpState(dev.ct.tcp, id));
      this.endedTcpStates.set(s, (this.endedTcpStates.get(s) ?? 0) + 1);
    };
  }

  send(port: number, buf: Uint8Array, off: number, len: number): void {
    if (this.sent.pcapng)
      this.sent.pcapng.write(buf, off, len, this.tsSec, this.tsNsec, this.pcapngBase + port);
    else if (this.sent.pcap) this.sent.pcap.write(buf, off, len, this.tsSec, this.tsNsec);
  }

  /**
   * Runs record `i` of `batch` through the device, arriving on its capture
   * interface `iface` (numbered within the device). The frame is read from
   * buf[off..] (the record itself, or a copy). Returns the verdict.
   */
  process(batch: CaptureBatch, i: number, buf: Uint8Array, off: number, iface: number): number {
    const now = recordTimeMs(batch, i);
    this.tsSec = batch.tsSec[i]!;
    this.tsNsec = batch.tsNsec[i]!;
    const v = this.dev.process(buf, off, batch.caplen[i]!, batch.linkType[i]!, iface, now, batch.origlen[i]!);
    if (now > this.lastNow) this.lastNow = now;
    return v;
  }

  /** The session table at the end, the summary and the virtual servers as `ipvsadm -Ln` prints them. */
  finish(): { summary: DeviceSummary; sessions: SessionRecord[]; vsText: string } {
    const dev = this.dev;
    const sessions = listSessions(dev.ct, this.lastNow);
    const s = summarise(dev, this.endedTcpStates, PROTO_CLASS_NAMES, this.source);
    const vsText = dev.lb.enabled ? ipvsadmText(dev.lb.vs.views()) : '';
    return { summary: { device: this.name, ...s }, sessions, vsText };
  }
}
