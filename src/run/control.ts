/**
 * The control API of `sdev run`: a ControlApi over the live handle (the
 * device, the ports' counters, the driver's counters, health transitions and
 * config reload), served on the config's `control.socket` (default
 * /run/sdev/<device name>.sock; `sdev run --control PATH` overrides it) and,
 * when `control.http` names one, on a loopback TCP port.
 */
import type { DeviceConfig } from '../config/types.js';
import type { ControlApi, PortCounters, ReloadOutcome } from '../control/api.js';
import { deviceControlApi } from '../control/device-api.js';
import { defaultSocketPath } from '../control/listen.js';
import { startControlServer, type ControlServer } from '../control/server.js';
import type { Device } from '../device/device.js';
import type { HealthChange } from '../lb/probes.js';
import type { LiveHandle } from './live.js';
import type { Logger } from './log.js';

export interface RunControlOptions {
  log: Logger;
  /** Socket path overriding the config's (`sdev run --control PATH`). */
  socket?: string;
  /** How the process reloads its config (src/run/reload.ts); absent: POST /reload answers 501. */
  reload?: () => ReloadOutcome;
}

/** The socket `sdev run` serves on: --control, else control.socket, else /run/sdev/<name>.sock. */
export function controlSocketOf(cfg: DeviceConfig, override?: string): string {
  return override || cfg.control?.socket || defaultSocketPath(cfg.name);
}

/**
 * Remembers the last up/down change of each real by chaining onto the
 * device's health probes' onChange. Probes can appear later (a reload that
 * adds a health check) and their listener can be replaced, so `attach` runs
 * again before every answer that shows transitions.
 */
class Transitions {
  private readonly last = new Map<string, { up: boolean; atMs: number }>();
  private wrapper: HealthChange | null = null;

  attach(dev: Device): void {
    const probes = dev.probes;
    if (!probes || (probes.onChange !== null && probes.onChange === this.wrapper)) return;
    const prev = probes.onChange;
    const wrapper: HealthChange = (v, real, up, nowMs) => {
      prev?.(v, real, up, nowMs);
      const vs = dev.lb.vs.cfg[v];
      if (vs) this.last.set(`${vs.name}/${real}`, { up, atMs: nowMs });
    };
    probes.onChange = wrapper;
    this.wrapper = wrapper;
  }

  get(dev: Device, v: number, slot: number): { up: boolean; atMs: number } | undefined {
    const vs = dev.lb.vs.cfg[v];
    return vs ? this.last.get(`${vs.name}/${slot}`) : undefined;
  }
}

/** The ControlApi of a live handle. */
export function liveControlApi(live: LiveHandle, opts: RunControlOptions): ControlApi {
  const transitions = new Transitions();
  transitions.attach(live.device);
  const reload = opts.reload;
  return deviceControlApi(() => live.device, {
    now: Date.now,
    ports: (): PortCounters[] =>
      live.counters().ports.map((p) => ({
        name: p.name,
        interface: p.tap,
        framesIn: p.framesIn,
        bytesIn: p.bytesIn,
        framesOut: p.framesOut,
        bytesOut: p.bytesOut,
        txDropped: p.txDropped,
      })),
    live: () => {
      const c = live.counters();
      return { unroutable: c.unroutable, errors: c.errors, ticks: c.ticks };
    },
    lastTransition: (v, slot) => {
      transitions.attach(live.device);
      return transitions.get(live.device, v, slot);
    },
    reload: reload
      ? () => {
          const r = reload();
          transitions.attach(live.device);
          return { ok: r.ok, message: r.message };
        }
      : undefined,
  });
}

/**
 * Starts the control server of a live device. On failure (a bad address, a
 * device already answering on the socket, no permission) logs why and returns
 * null; the caller stops.
 */
export async function startRunControl(
  live: LiveHandle,
  cfg: DeviceConfig,
  opts: RunControlOptions,
): Promise<ControlServer | null> {
  const socket = controlSocketOf(cfg, opts.socket);
  try {
    return await startControlServer(liveControlApi(live, opts), {
      socket,
      http: cfg.control?.http ?? null,
      log: opts.log,
      processMetrics: true,
    });
  } catch (e) {
    opts.log.error('could not start the control API', {
      socket,
      http: cfg.control?.http ?? null,
      error: (e as Error).message,
    });
    return null;
  }
}
