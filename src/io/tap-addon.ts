/**
 * Loading our TAP addon (native/src/tap.cc, built with `npx node-gyp rebuild
 * -C native`) and the shapes of what it exports.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

/** Counters kept by the addon itself. */
export interface TapNativeStats {
  rxFrames: number;
  rxBytes: number;
  rxBatches: number;
  /** Times the poll reported the fd readable (batches + empty wakeups). */
  rxWakeups: number;
  txFrames: number;
  txBytes: number;
  /** Frames the kernel refused with EAGAIN/ENOBUFS (queue full). */
  txAgain: number;
  /** Frames the kernel refused otherwise (EINVAL, EIO, EBADFD...). */
  txErrors: number;
  lastTxErrno: number;
  lastRxErrno: number;
}

/** One open TAP fd, as the addon exposes it. */
export interface NativeTap {
  readonly name: string;
  readonly fd: number;
  readonly closed: boolean;
  start(
    buf: Uint8Array,
    off: Int32Array,
    len: Int32Array,
    frameCap: number,
    onBatch: (count: number) => void,
    onError: (err: Error) => void,
  ): void;
  stop(): void;
  close(): void;
  /** Returns len when written, -errno when the kernel refused the frame. */
  write(buf: Uint8Array, off: number, len: number): number;
  /** Returns how many of the count frames were written. */
  writeBatch(buf: Uint8Array, off: Int32Array, len: Int32Array, count: number): number;
  setPersist(on: boolean): void;
  /** TUNSETOFFLOAD (TUN_F_* flags); needs a Tap opened with vnetHdr. */
  setOffload(flags: number): void;
  stats(): TapNativeStats;
}

/** The addon's exports. By-name helpers act in the caller's namespace. */
export interface TapAddon {
  Tap: new (name: string, persist?: boolean, vnetHdr?: boolean) => NativeTap;
  getMtu(name: string): number;
  setMtu(name: string, mtu: number): void;
  setUp(name: string, up: boolean): void;
  getMac(name: string): Uint8Array;
  setMac(name: string, mac: Uint8Array): void;
}

/** Errors thrown by the addon for kernel failures look like Node's system errors. */
export interface TapError extends Error {
  code: string;
  errno: number;
  syscall: string;
  iface?: string;
}

export const TAP_BUILD_COMMAND = 'npx node-gyp rebuild -C native';

const ADDON_RELATIVE = [
  '../../native/build/Release/sdev_tap.node',
  '../../../native/build/Release/sdev_tap.node',
];

let addon: TapAddon | undefined;
let addonError: Error | undefined;

/** Loads the addon once; throws a clear error telling how to build it. */
export function loadTapAddon(): TapAddon {
  if (addon) return addon;
  if (addonError) throw addonError;
  const require = createRequire(import.meta.url);
  const candidates = ADDON_RELATIVE.map((rel) => fileURLToPath(new URL(rel, import.meta.url)));
  const path = candidates.find((p) => existsSync(p));
  if (path === undefined) {
    addonError = new Error(
      `sdev TAP addon is not built (looked for ${candidates[0]}). Run \`${TAP_BUILD_COMMAND}\` in the project root.`,
    );
    throw addonError;
  }
  try {
    addon = require(path) as TapAddon;
    return addon;
  } catch (cause) {
    addonError = new Error(
      `sdev TAP addon at ${path} failed to load (${(cause as Error).message}). Rebuild it with \`${TAP_BUILD_COMMAND}\`.`,
      { cause },
    );
    throw addonError;
  }
}

/** True when the addon loads and /dev/net/tun exists (opening still needs CAP_NET_ADMIN). */
export function tapAvailable(): boolean {
  try {
    loadTapAddon();
  } catch {
    return false;
  }
  return existsSync('/dev/net/tun');
}

export function formatMac(mac: Uint8Array): string {
  let s = '';
  for (let i = 0; i < mac.length; i++) s += (i ? ':' : '') + mac[i].toString(16).padStart(2, '0');
  return s;
}
