/**
 * Prometheus metrics of a running device, from prom-client with a Registry of
 * our own (never the global default). Nothing is counted on the data path:
 * every value is read from the device's own counters at scrape time, through
 * the ControlApi (one stats() and one vs() snapshot per scrape).
 *
 * Names follow Prometheus conventions: `sdev_` prefix, base units, `_total`
 * on counters; per-port names mirror node_exporter's receive/transmit.
 */
import { collectDefaultMetrics, Counter, Gauge, Registry } from 'prom-client';
import { VERDICT_NAMES } from '../device/verdict.js';
import { addrPort } from '../lb/ipvsadm.js';
import { REASONS } from '../session/reasons.js';
import type { ControlApi, PortCounters, StatsJson, VirtualServersView } from './api.js';

export interface MetricsOptions {
  /** Also export prom-client's process and Node.js metrics (sdev_process_*, sdev_nodejs_*). */
  processMetrics?: boolean;
}

export interface DeviceMetrics {
  readonly registry: Registry;
  readonly contentType: string;
  /** The exposition text, collected now. */
  text(): Promise<string>;
}

interface Snapshot {
  stats: StatsJson;
  vs: VirtualServersView;
}

type Labels = Record<string, string>;
type Sample = [Labels, number];

/** Metric names this module exports (without process metrics), for docs and tests. */
export const METRIC_NAMES = [
  'sdev_device_info',
  'sdev_packets_total',
  'sdev_received_bytes_total',
  'sdev_fast_path_frames_total',
  'sdev_drops_total',
  'sdev_sessions',
  'sdev_sessions_max',
  'sdev_sessions_peak',
  'sdev_sessions_created_total',
  'sdev_sessions_expired_total',
  'sdev_sessions_evicted_total',
  'sdev_sessions_flushed_total',
  'sdev_port_receive_frames_total',
  'sdev_port_receive_bytes_total',
  'sdev_port_transmit_frames_total',
  'sdev_port_transmit_bytes_total',
  'sdev_port_transmit_drops_total',
  'sdev_real_active_sessions',
  'sdev_real_inactive_sessions',
  'sdev_real_up',
  'sdev_real_weight',
  'sdev_live_errors_total',
  'sdev_live_unroutable_frames_total',
  'sdev_offload_frames_total',
] as const;

export function createMetrics(api: ControlApi, opts: MetricsOptions = {}): DeviceMetrics {
  const registry = new Registry();
  let snap: Snapshot | null = null;
  const current = (): Snapshot => {
    if (!snap) snap = { stats: api.stats(), vs: api.vs() };
    return snap;
  };

  const counter = (
    name: string,
    help: string,
    labelNames: string[],
    read: (s: Snapshot) => Sample[],
  ): void => {
    new Counter({
      name,
      help,
      labelNames,
      registers: [registry],
      collect() {
        this.reset();
        for (const [l, v] of read(current())) this.inc(l, v);
      },
    });
  };
  const gauge = (name: string, help: string, labelNames: string[], read: (s: Snapshot) => Sample[]): void => {
    new Gauge({
      name,
      help,
      labelNames,
      registers: [registry],
      collect() {
        this.reset();
        for (const [l, v] of read(current())) this.set(l, v);
      },
    });
  };
  const one = (v: number): Sample[] => [[{}, v]];

  gauge('sdev_device_info', 'The device (value 1), labelled with its config name', ['device'], (s) => [
    [{ device: s.stats.device }, 1],
  ]);
  counter('sdev_packets_total', 'Frames the device processed, by verdict', ['verdict'], (s) =>
    VERDICT_NAMES.map((v) => [{ verdict: v }, s.stats.verdicts[v] ?? 0]),
  );
  counter('sdev_received_bytes_total', 'Bytes of the frames the device processed', [], (s) =>
    one(s.stats.bytesIn),
  );
  counter(
    'sdev_fast_path_frames_total',
    'Frames the session fast path forwarded (established flows, no NAT; also in sdev_packets_total)',
    [],
    (s) => one(s.stats.fastPathFrames),
  );
  counter('sdev_drops_total', 'Dropped frames, by reason', ['reason'], (s) =>
    REASONS.map((r) => [{ reason: r }, s.stats.dropsByReason[r] ?? 0]),
  );
  gauge('sdev_sessions', 'Sessions in the table', [], (s) => one(s.stats.sessions.current));
  gauge('sdev_sessions_max', 'Size of the session table', [], (s) => one(s.stats.sessions.max));
  gauge('sdev_sessions_peak', 'Most sessions in the table at once', [], (s) => one(s.stats.sessions.peak));
  counter('sdev_sessions_created_total', 'Sessions created', [], (s) => one(s.stats.sessions.created));
  counter('sdev_sessions_expired_total', 'Sessions that expired (idle timeout)', [], (s) =>
    one(s.stats.sessions.expired),
  );
  counter('sdev_sessions_evicted_total', 'Sessions evicted to make room (table full)', [], (s) =>
    one(s.stats.sessions.evicted),
  );
  counter('sdev_sessions_flushed_total', 'Sessions removed through the control API', [], (s) =>
    one(s.stats.sessions.flushed),
  );

  const portLabels = ['port', 'interface'];
  const perPort = (field: keyof PortCounters) => (s: Snapshot) =>
    s.stats.ports
      .filter((p) => typeof p[field] === 'number')
      .map((p): Sample => [{ port: p.name, interface: p.interface ?? '' }, p[field] as number]);
  counter('sdev_port_receive_frames_total', 'Frames received on a port', portLabels, perPort('framesIn'));
  counter('sdev_port_receive_bytes_total', 'Bytes received on a port', portLabels, perPort('bytesIn'));
  counter('sdev_port_transmit_frames_total', 'Frames sent on a port', portLabels, perPort('framesOut'));
  counter('sdev_port_transmit_bytes_total', 'Bytes sent on a port', portLabels, perPort('bytesOut'));
  counter(
    'sdev_port_transmit_drops_total',
    'Frames a port could not send (refused by the kernel or sent after close)',
    portLabels,
    perPort('txDropped'),
  );

  const realLabels = ['vs', 'real'];
  const perReal =
    (read: (r: VirtualServersView['views'][number]['reals'][number]) => number) => (s: Snapshot) =>
      s.vs.views.flatMap((v, i) =>
        v.reals.map((r): Sample => [
          { vs: s.vs.names[i] ?? String(i), real: addrPort(r.addr, r.port) },
          read(r),
        ]),
      );
  gauge(
    'sdev_real_active_sessions',
    'Sessions of a real server in TCP ESTABLISHED (IPVS ActiveConn)',
    realLabels,
    perReal((r) => r.active),
  );
  gauge(
    'sdev_real_inactive_sessions',
    'Other sessions of a real server (IPVS InActConn)',
    realLabels,
    perReal((r) => r.inactive),
  );
  gauge(
    'sdev_real_up',
    'Whether a real server is up (1) or down (0)',
    realLabels,
    perReal((r) => (r.up ? 1 : 0)),
  );
  gauge(
    'sdev_real_weight',
    'Weight of a real server (0: drained)',
    realLabels,
    perReal((r) => r.weight),
  );
  let live = false;
  let offload = false;
  try {
    const st = api.stats();
    live = st.live !== undefined;
    offload = st.offload !== undefined;
  } catch {
    // counters unreadable now: /metrics will answer 500 with the reason
  }
  if (live) {
    // Only a live driver has these; a device without one exports no zeros for them.
    counter('sdev_live_errors_total', 'Frames whose processing threw (logged and skipped)', [], (s) =>
      one(s.stats.live?.errors ?? 0),
    );
    counter('sdev_live_unroutable_frames_total', 'Frames sent to a port without an interface', [], (s) =>
      one(s.stats.live?.unroutable ?? 0),
    );
  }

  if (offload) {
    counter(
      'sdev_offload_frames_total',
      'TAP offloads: GSO frames received (gso_in), sent whole (gso_out), cut here (gso_segmented) and the segments that made, and partial checksums finished here',
      ['kind'],
      (s) => {
        const o = s.stats.offload;
        return o
          ? [
              [{ kind: 'gso_in' }, o.gsoIn],
              [{ kind: 'gso_out' }, o.gsoOut],
              [{ kind: 'gso_segmented' }, o.gsoSegmented],
              [{ kind: 'segments' }, o.segments],
              [{ kind: 'checksums_finished' }, o.checksumsFinished],
            ]
          : [];
      },
    );
  }

  if (opts.processMetrics) collectDefaultMetrics({ register: registry, prefix: 'sdev_' });

  return {
    registry,
    contentType: registry.contentType,
    async text(): Promise<string> {
      snap = null;
      try {
        return await registry.metrics();
      } finally {
        snap = null;
      }
    },
  };
}
