/**
 * TAP port: raw Ethernet frames through a Linux TAP interface, by way of our
 * own Node-API addon (native/src/tap.cc, built with `npx node-gyp rebuild -C
 * native`).
 *
 * Receiving: the addon watches the non-blocking fd with libuv's poll, reads
 * until EAGAIN (or a full batch) into one buffer that this class owns and
 * calls back once per batch. Sending: send() copies into a preallocated
 * outgoing batch, flush() hands the whole batch to the addon in one call.
 *
 * The interface is created (or attached to) in the caller's network namespace.
 * It may afterwards be moved elsewhere with `ip link set dev NAME netns NS`:
 * the fd keeps working. The by-name helpers (MTU, MAC, link up) only work
 * before such a move, which is why `open()` reads what it needs right away.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import type { FrameBatch, Port } from './port.js';

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
  stats(): TapNativeStats;
}

/** The addon's exports. By-name helpers act in the caller's namespace. */
export interface TapAddon {
  Tap: new (name: string, persist?: boolean) => NativeTap;
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

export interface TapOpenOptions {
  /** Interface name (at most 15 bytes). A pattern such as `tap%d` lets the kernel pick. */
  name: string;
  /** Sets the interface MTU when given, otherwise the current MTU is read. */
  mtu?: number;
  /** Sets the interface (kernel side) MAC when given. */
  mac?: Uint8Array;
  /** Brings the link up in the current namespace (a move to another namespace takes it down again). */
  up?: boolean;
  /** TUNSETPERSIST: true keeps the interface after close, false clears a persistent one. */
  persist?: boolean;
  /** Most frames per received or sent batch (256). */
  batchFrames?: number;
  /** Bytes of the receive and send batch buffers (1 MiB). */
  batchBytes?: number;
  /**
   * Called when receiving stops on a hard error, e.g. EBADFD once the
   * interface was deleted along with its namespace. Without a handler the
   * error is emitted as a process warning. Either way `lastError` keeps it.
   */
  onError?: (err: TapError) => void;
}

/** Largest frame a TAP without IFF_VNET_HDR can hand us: MTU 65535 + L2 headers, rounded up. */
export const TAP_FRAME_CAP = 65536 + 64;
const DEFAULT_BATCH_FRAMES = 256;
const DEFAULT_BATCH_BYTES = 1 << 20;

export class TapPort implements Port {
  readonly name: string;
  readonly mtu: number;
  /** MAC of the interface (the kernel's side of the link), read when opened. */
  readonly mac: Uint8Array;
  lastError: TapError | undefined;

  private readonly tap: NativeTap;
  private readonly onError: ((err: TapError) => void) | undefined;
  private readonly rx: FrameBatch;
  private readonly txBuf: Uint8Array;
  private readonly txOff: Int32Array;
  private readonly txLen: Int32Array;
  private txCount = 0;
  private txPos = 0;
  private started = false;
  private isClosed = false;
  private nRxFrames = 0;
  private nRxBatches = 0;
  private nTxFrames = 0;
  private nTxDropped = 0;

  private constructor(tap: NativeTap, mtu: number, mac: Uint8Array, opts: TapOpenOptions) {
    this.tap = tap;
    this.name = tap.name;
    this.mtu = mtu;
    this.mac = mac;
    this.onError = opts.onError;
    const frames = opts.batchFrames ?? DEFAULT_BATCH_FRAMES;
    const bytes = opts.batchBytes ?? DEFAULT_BATCH_BYTES;
    this.rx = {
      count: 0,
      buf: new Uint8Array(bytes),
      off: new Int32Array(frames),
      len: new Int32Array(frames),
    };
    this.txBuf = new Uint8Array(bytes);
    this.txOff = new Int32Array(frames);
    this.txLen = new Int32Array(frames);
  }

  /**
   * Creates the TAP (or attaches to an existing one of that name) in the
   * current network namespace. Needs CAP_NET_ADMIN. Throws errors with
   * `code` (EPERM, EBUSY, EINVAL, ENOENT...) and `iface`.
   */
  static open(opts: TapOpenOptions): TapPort {
    const frames = opts.batchFrames ?? DEFAULT_BATCH_FRAMES;
    const bytes = opts.batchBytes ?? DEFAULT_BATCH_BYTES;
    if (!Number.isInteger(frames) || frames < 1 || frames > 65536) {
      throw new RangeError(`batchFrames must be an integer within 1..65536 (got ${frames})`);
    }
    if (!Number.isInteger(bytes) || bytes < TAP_FRAME_CAP || bytes > 1 << 30) {
      throw new RangeError(
        `batchBytes must be an integer within ${TAP_FRAME_CAP}..${1 << 30} (got ${bytes})`,
      );
    }
    const native = loadTapAddon();
    const tap = new native.Tap(opts.name, opts.persist);
    try {
      const name = tap.name;
      if (opts.mtu !== undefined) native.setMtu(name, opts.mtu);
      if (opts.mac !== undefined) native.setMac(name, opts.mac);
      if (opts.up) native.setUp(name, true);
      const mtu = native.getMtu(name);
      const mac = new Uint8Array(native.getMac(name));
      return new TapPort(tap, mtu, mac, opts);
    } catch (err) {
      tap.close();
      throw err;
    }
  }

  /** MAC as `aa:bb:cc:dd:ee:ff`. */
  get macString(): string {
    return formatMac(this.mac);
  }

  get fd(): number {
    return this.tap.fd;
  }

  get closed(): boolean {
    return this.isClosed;
  }

  get rxFrames(): number {
    return this.nRxFrames;
  }

  get rxBatches(): number {
    return this.nRxBatches;
  }

  get txFrames(): number {
    return this.nTxFrames;
  }

  /** Frames given to send() that never reached the kernel (refused, or sent after close). */
  get txDropped(): number {
    return this.nTxDropped;
  }

  /** Frames queued by send() and not yet flushed. */
  get txPending(): number {
    return this.txCount;
  }

  stats(): TapNativeStats {
    return this.tap.stats();
  }

  start(onBatch: (batch: FrameBatch) => void): void {
    if (this.isClosed) throw new Error(`TAP ${this.name} is closed`);
    if (this.started) throw new Error(`TAP ${this.name} is already started`);
    const rx = this.rx;
    this.tap.start(
      rx.buf,
      rx.off,
      rx.len,
      TAP_FRAME_CAP,
      (count: number) => {
        rx.count = count;
        this.nRxFrames += count;
        this.nRxBatches++;
        onBatch(rx);
      },
      (err: Error) => this.fail(err as TapError),
    );
    this.started = true;
  }

  /** Stops receiving (frames queue in the kernel, up to its queue length); start() may be called again. */
  stop(): void {
    if (!this.started) return;
    this.started = false;
    this.tap.stop();
  }

  send(buf: Uint8Array, off: number, len: number): void {
    if (len > TAP_FRAME_CAP || len <= 0)
      throw new RangeError(`frame length ${len} outside 1..${TAP_FRAME_CAP}`);
    if (this.txCount === this.txOff.length || this.txPos + len > this.txBuf.length) this.flush();
    const i = this.txCount;
    this.txBuf.set(buf.subarray(off, off + len), this.txPos);
    this.txOff[i] = this.txPos;
    this.txLen[i] = len;
    this.txPos += len;
    this.txCount = i + 1;
  }

  flush(): void {
    const count = this.txCount;
    if (count === 0) return;
    this.txCount = 0;
    this.txPos = 0;
    if (this.isClosed) {
      this.nTxDropped += count;
      return;
    }
    const sent = this.tap.writeBatch(this.txBuf, this.txOff, this.txLen, count);
    this.nTxFrames += sent;
    this.nTxDropped += count - sent;
  }

  /** Sends what is queued, stops receiving and closes the fd. Safe to call more than once. */
  close(): void {
    if (this.isClosed) return;
    this.flush();
    this.isClosed = true;
    this.started = false;
    this.tap.close();
  }

  /** TUNSETPERSIST through the fd (works wherever the interface now lives). */
  setPersist(on: boolean): void {
    this.tap.setPersist(on);
  }

  private fail(err: TapError): void {
    this.started = false;
    this.lastError = err;
    if (this.onError) this.onError(err);
    else process.emitWarning(err.message, { code: 'SDEV_TAP_RX', detail: 'receiving stopped' });
  }
}
