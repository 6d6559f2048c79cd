/**
 * The live device: the same Device that `sdev replay` drives from a capture,
 * here driven by TAP interfaces or libpcap on the wall clock.
 *
 * One TapPort per config port that names a `tap:` (created in the caller's
 * network namespace; a lab script may then move it elsewhere), one PcapPort
 * per port that names a `pcap:` (an existing interface in the caller's
 * namespace, attached with libpcap). The loop below does not know which kind
 * a port is: both deliver batches and take frames the same way. Each received
 * batch goes frame by frame through `dev.process` with the config port index
 * as the interface; the sink queues what the device sends on the TapPort of
 * the config port it names, and every port is flushed once per input batch,
 * so a burst costs one native crossing per port. A 100 ms interval runs the
 * device timers (`tick` in router mode: neighbour retries and sessions) and
 * flushes again, since timers also send (ARP retries, resets on expiry).
 *
 * The TAP's kernel side keeps its own MAC: the config `mac` is the device's
 * address on the segment, and the two ends of a link must differ (a bridge
 * treats its port's MAC as local).
 */
import type { DeviceConfig } from '../config/types.js';
import { Device, type FrameSink } from '../device/device.js';
import type { FrameBatch } from '../io/port.js';
import { PcapPort } from '../io/pcap-port.js';
import { formatMac, TapPort, type TapError, type TapOpenOptions } from '../io/tap.js';
import { silentLogger, type Logger } from './log.js';
import { startHealthChecks } from './health.js';
import { formatIp } from '../wire/addr.js';

/** A TAP the device creates, or an existing interface it attaches to with libpcap. */
export type LivePortKind = 'tap' | 'pcap';

/** What the opener gets: the TAP options (a pcap port uses the name only) and the kind. */
export type LivePortOpenOptions = TapOpenOptions & { kind: LivePortKind };

/** What the driver needs of a port (TapPort, PcapPort, or a fake in tests). */
export interface LivePort {
  readonly name: string;
  readonly mtu: number;
  readonly mac: Uint8Array;
  start(onBatch: (batch: FrameBatch) => void): void;
  send(buf: Uint8Array, off: number, len: number): void;
  flush(): void;
  close(): void;
  readonly txDropped?: number;
  /** Opened with offloads: frames come with metadata and sendOffloaded takes GSO frames. */
  readonly offload?: boolean;
  sendOffloaded?(buf: Uint8Array, off: number, len: number, vnet: number, csum: number, hdrLen: number): void;
}

export interface LiveOptions {
  log?: Logger;
  /** Timer period (100 ms). */
  tickMs?: number;
  /** Opens a port (TapPort.open or PcapPort.open by kind); tests pass fakes. */
  openPort?: (opts: LivePortOpenOptions) => LivePort;
  /** Wall clock in ms (Date.now). */
  now?: () => number;
  /** Called once per port when receiving stops on a hard error (interface gone). */
  onPortError?: (port: string, err: TapError) => void;
}

export interface LivePortCounters {
  /** Config port index. */
  index: number;
  /** Config port name. */
  name: string;
  kind: LivePortKind;
  /** Interface name (the TAP, or the interface libpcap is attached to). */
  tap: string;
  /** MAC of the interface's kernel side. */
  mac: string;
  mtu: number;
  /** Opened with offloads (IFF_VNET_HDR). */
  offload: boolean;
  framesIn: number;
  bytesIn: number;
  batchesIn: number;
  framesOut: number;
  bytesOut: number;
  /** Frames the port could not send (refused by the kernel, or sent after close). */
  txDropped: number;
}

export interface LiveCounters {
  ports: LivePortCounters[];
  /** Frames the device sent to a config port that has no interface (or to an implicit zone port). */
  unroutable: number;
  /** Frames whose processing threw (logged, then skipped). */
  errors: number;
  ticks: number;
}

export interface LiveHandle {
  readonly device: Device;
  counters(): LiveCounters;
  /** Stops the timer, flushes and closes every port (removing the TAPs it created). Idempotent. */
  close(): Promise<void>;
}

interface Slot {
  index: number;
  port: LivePort;
  c: LivePortCounters;
}

export interface LivePortSpec {
  index: number;
  name: string;
  kind: LivePortKind;
  /** Interface name. */
  iface: string;
  mtu: number;
  offload: boolean;
}

/** Config ports with a `tap:` or `pcap:` interface, in config order. */
export function livePortsOf(cfg: DeviceConfig): LivePortSpec[] {
  const out: LivePortSpec[] = [];
  cfg.ports.forEach((p, index) => {
    if (p.tap) out.push({ index, name: p.name, kind: 'tap', iface: p.tap, mtu: p.mtu, offload: p.offload });
    else if (p.pcap)
      out.push({ index, name: p.name, kind: 'pcap', iface: p.pcap, mtu: p.mtu, offload: false });
  });
  return out;
}

export async function runLive(cfg: DeviceConfig, opts: LiveOptions = {}): Promise<LiveHandle> {
  const log = opts.log ?? silentLogger;
  const now = opts.now ?? Date.now;
  const tickMs = opts.tickMs ?? 100;
  const wanted = livePortsOf(cfg);
  if (wanted.length === 0) throw new Error(`${cfg.source}: no port has a tap: or pcap: interface to run on`);

  // The sink is wired before the ports exist; frames go nowhere until they do.
  const byIndex: (Slot | undefined)[] = new Array<Slot | undefined>(cfg.ports.length + cfg.zones.length);
  const slots: Slot[] = [];
  let unroutable = 0;
  let errors = 0;
  let ticks = 0;
  const sink: FrameSink = {
    send(port, buf, off, len) {
      const s = byIndex[port];
      if (s === undefined) {
        unroutable++;
        return;
      }
      s.c.framesOut++;
      s.c.bytesOut += len;
      s.port.send(buf, off, len);
    },
    offloads(port) {
      return byIndex[port]?.port.offload === true;
    },
    sendOffloaded(port, buf, off, len, vnet, csum, hdrLen) {
      const s = byIndex[port]!;
      s.c.framesOut++;
      s.c.bytesOut += len;
      s.port.sendOffloaded!(buf, off, len, vnet, csum, hdrLen);
    },
  };
  const dev = new Device(cfg, sink);
  startHealthChecks(dev, cfg, log);
  const sync = dev.enableSync(now());

  const open =
    opts.openPort ??
    ((o: LivePortOpenOptions): LivePort =>
      o.kind === 'tap' ? TapPort.open(o) : PcapPort.open({ name: o.name }));
  try {
    for (const w of wanted) {
      const port = open({
        kind: w.kind,
        name: w.iface,
        mtu: w.mtu,
        offload: w.offload,
        up: true,
        onError: (err) => {
          log.warn('port stopped receiving', {
            port: w.name,
            tap: w.iface,
            code: err.code,
            error: err.message,
          });
          opts.onPortError?.(w.name, err);
        },
      });
      // A pcap port attaches to an interface as it is: its MTU is the kernel's, not set from the config.
      if (port.mtu !== w.mtu) {
        log.warn('interface MTU differs from the config', {
          port: w.name,
          iface: w.iface,
          mtu: port.mtu,
          config: w.mtu,
        });
      }
      const slot: Slot = {
        index: w.index,
        port,
        c: {
          index: w.index,
          name: w.name,
          kind: w.kind,
          tap: port.name,
          mac: formatMac(port.mac),
          mtu: port.mtu,
          offload: port.offload === true,
          framesIn: 0,
          bytesIn: 0,
          batchesIn: 0,
          framesOut: 0,
          bytesOut: 0,
          txDropped: 0,
        },
      };
      slots.push(slot);
      byIndex[w.index] = slot;
    }
  } catch (err) {
    for (const s of slots) closeQuietly(s.port);
    throw err;
  }

  const flushAll = (): void => {
    for (let i = 0; i < slots.length; i++) slots[i]!.port.flush();
  };
  let errorLogged = 0;
  const failed = (where: string, err: unknown, fields: Record<string, unknown>): void => {
    errors++;
    // The first few in full, then one line per thousand: a bad frame must not flood the log.
    if (errorLogged < 10 || errors % 1000 === 0) {
      errorLogged++;
      log.error(`${where} threw`, { ...fields, errors, error: (err as Error)?.stack ?? String(err) });
    }
  };

  for (const s of slots) {
    const index = s.index;
    const c = s.c;
    s.port.start((b: FrameBatch) => {
      const t = now();
      c.batchesIn++;
      const vnet = b.vnet;
      for (let i = 0; i < b.count; i++) {
        const off = b.off[i]!;
        const len = b.len[i]!;
        c.framesIn++;
        c.bytesIn += len;
        if (vnet !== undefined && vnet[i] !== 0) dev.offloaded(vnet[i]!, b.csum![i]!);
        try {
          dev.process(b.buf, off, len, 1, index, t);
        } catch (err) {
          failed('process', err, { port: c.name, len });
        }
      }
      dev.endBatch(t);
      flushAll();
    });
  }

  if (sync) {
    sync.start(now());
    sync.onTakeover = () =>
      log.warn('peers silent: took over their addresses', {
        addresses: cfg.ha!.peers.flatMap((p) => p.takeover.map((t) => formatIp(t.addr))),
      });
    log.info('session sync on', {
      node: cfg.ha!.node,
      peers: cfg.ha!.peers.map((p) => p.name),
      defer: cfg.ha!.defer ? `${cfg.ha!.deferTimeoutMs} ms` : 'off',
    });
  }
  // With sync, timers run every 10 ms: defer's 20 ms bound and sync retransmissions need it.
  const timer = setInterval(
    () => {
      ticks++;
      try {
        dev.tick(now());
      } catch (err) {
        failed('tick', err, {});
      }
      flushAll();
    },
    sync ? Math.min(tickMs, 10) : tickMs,
  );

  let closing: Promise<void> | null = null;
  const counters = (): LiveCounters => ({
    ports: slots.map((s) => ({ ...s.c, txDropped: s.port.txDropped ?? 0 })),
    unroutable,
    errors,
    ticks,
  });
  return {
    device: dev,
    counters,
    close(): Promise<void> {
      if (closing) return closing;
      clearInterval(timer);
      for (const s of slots) {
        try {
          s.port.flush();
        } catch (err) {
          log.warn('flush on close failed', { port: s.c.name, error: (err as Error).message });
        }
        closeQuietly(s.port, log);
      }
      closing = Promise.resolve();
      return closing;
    },
  };
}

function closeQuietly(port: LivePort, log: Logger = silentLogger): void {
  try {
    port.close();
  } catch (err) {
    log.warn('closing port failed', { tap: port.name, error: (err as Error).message });
  }
}
