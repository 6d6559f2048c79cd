/**
 * What the control server asks of a running device. The run layer builds one
 * from its live handle (src/run/control.ts); tests build one straight from a
 * Device (deviceControlApi in ./device-api.ts). The server only calls these
 * methods, so src/control never reaches into src/run.
 */
import type { VsView } from '../lb/ipvsadm.js';
import type { SessionRecord } from '../session/list.js';
import type { SessionFilter } from './filter.js';

export type { SessionFilter };

/** Counters of one device port. Fields a port kind does not keep are left out. */
export interface PortCounters {
  name: string;
  /** The interface behind it (a TAP name), when there is one. */
  interface?: string;
  framesIn?: number;
  bytesIn?: number;
  framesOut: number;
  bytesOut?: number;
  /** Frames the port could not send. */
  txDropped?: number;
}

export interface SessionCounters {
  /** Sessions in the table now. */
  current: number;
  /** Table size (config sessions.max). */
  max: number;
  created: number;
  expired: number;
  /** Removed to make room for a new one (table full). */
  evicted: number;
  /** Removed through the control API (DELETE /sessions). */
  flushed: number;
  peak: number;
}

export interface StatsJson {
  device: string;
  /** Seconds since the API was built (about the device's start). */
  uptimeSeconds: number;
  packetsIn: number;
  bytesIn: number;
  /** Frames the session fast path forwarded (counted in verdicts.forwarded too). */
  fastPathFrames: number;
  /** Every verdict name with its count. */
  verdicts: Record<string, number>;
  /** Reasons with a non-zero count (names from src/session/reasons.ts). */
  dropsByReason: Record<string, number>;
  sessions: SessionCounters;
  ports: PortCounters[];
  /** GSO frames and checksums of TAP ports with offloads (when a port has them). */
  offload?: {
    gsoIn: number;
    gsoOut: number;
    gsoSegmented: number;
    segments: number;
    checksumsFinished: number;
  };
  /** Counters of the live driver, when it runs live. */
  live?: { unroutable: number; errors: number; ticks: number };
  /** A device of an HA pair: redirects, sync and defer (with the delay defer added, ms). */
  ha?: {
    mode: string;
    redirect: Record<string, number>;
    sync?: Record<string, number>;
    peersUp?: number;
    defer?: Record<string, number>;
  };
}

/** A real server's health as the control API reports it. */
export interface RealHealth {
  /** Virtual server name. */
  vs: string;
  /** `addr:port` (IPv6 in brackets). */
  real: string;
  up: boolean;
  weight: number;
  /** The last up/down change, when health checks run (absent: none seen yet, or no checks). */
  lastTransition?: { up: boolean; at: string };
}

/** The virtual servers in config order, with their names. */
export interface VirtualServersView {
  names: string[];
  views: VsView[];
}

/** What a reload answers (src/run/reload.ts has the same shape). */
export interface ReloadOutcome {
  ok: boolean;
  message: string;
}

export interface ControlApi {
  /** Device name (config device.name). */
  name(): string;
  /** Live sessions matching the filter, in id order (at most filter.limit). */
  sessions(filter: SessionFilter): SessionRecord[];
  /** Removes the matching sessions (at most filter.limit); returns how many. */
  flush(filter: SessionFilter): number;
  stats(): StatsJson;
  vs(): VirtualServersView;
  health(): RealHealth[];
  /** Present when the process can reload its config. */
  reload?(): ReloadOutcome | Promise<ReloadOutcome>;
}
