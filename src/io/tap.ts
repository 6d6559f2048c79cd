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
import { copyBytes } from '../wire/bytes.js';
import {
  TUN_F_CSUM,
  TUN_F_TSO4,
  TUN_F_TSO6,
  VNET_HDR_LEN,
  readVnet,
  readVnetCsum,
  writeVnet,
} from '../wire/offload.js';
import type { FrameBatch, Port } from './port.js';
import { formatMac, loadTapAddon, type NativeTap, type TapError, type TapNativeStats } from './tap-addon.js';

export {
  formatMac,
  loadTapAddon,
  tapAvailable,
  TAP_BUILD_COMMAND,
  type NativeTap,
  type TapAddon,
  type TapError,
  type TapNativeStats,
} from './tap-addon.js';

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
  /**
   * Offloads (IFF_VNET_HDR + TUNSETOFFLOAD csum, TSO4, TSO6): the kernel may
   * hand us TCP frames of up to 64 KiB to be cut into segments and frames
   * whose checksum is left to us, and takes the same from us. Each frame's
   * metadata arrives in the batch's `vnet`/`csum` (src/wire/offload.ts).
   */
  offload?: boolean;
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

/** Largest frame a TAP can hand us: 64 KiB (MTU 65535, or a GSO frame) + L2 and virtio headers, rounded up. */
export const TAP_FRAME_CAP = 65536 + 64;
/** What TUNSETOFFLOAD asks for with `offload`. */
const OFFLOADS = TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6;
const DEFAULT_BATCH_FRAMES = 256;
const DEFAULT_BATCH_BYTES = 1 << 20;

export class TapPort implements Port {
  readonly name: string;
  readonly mtu: number;
  /** MAC of the interface (the kernel's side of the link), read when opened. */
  readonly mac: Uint8Array;
  /** Whether frames carry a virtio_net_hdr (opened with `offload`). */
  readonly offload: boolean;
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
    this.offload = opts.offload === true;
    const frames = opts.batchFrames ?? DEFAULT_BATCH_FRAMES;
    const bytes = opts.batchBytes ?? DEFAULT_BATCH_BYTES;
    this.rx = {
      count: 0,
      buf: new Uint8Array(bytes),
      off: new Int32Array(frames),
      len: new Int32Array(frames),
    };
    if (this.offload) {
      this.rx.vnet = new Uint32Array(frames);
      this.rx.csum = new Uint32Array(frames);
    }
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
    const tap = new native.Tap(opts.name, opts.persist, opts.offload === true);
    try {
      const name = tap.name;
      if (opts.offload) tap.setOffload(OFFLOADS);
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
        if (this.offload) this.stripVnet(count);
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
    this.queue(buf, off, len, 0, 0, 0);
  }

  /**
   * Sends a frame with offload metadata (a port opened with `offload`): `vnet`
   * and `csum` packed as in src/wire/offload.ts, `hdrLen` the bytes before the
   * payload. The kernel finishes the checksum and cuts the segments.
   */
  sendOffloaded(buf: Uint8Array, off: number, len: number, vnet: number, csum: number, hdrLen: number): void {
    if (!this.offload) throw new Error(`TAP ${this.name} was opened without offload`);
    this.queue(buf, off, len, vnet, csum, hdrLen);
  }

  private queue(buf: Uint8Array, off: number, len: number, vnet: number, csum: number, hdrLen: number): void {
    if (len > TAP_FRAME_CAP || len <= 0)
      throw new RangeError(`frame length ${len} outside 1..${TAP_FRAME_CAP}`);
    const total = this.offload ? len + VNET_HDR_LEN : len;
    if (this.txCount === this.txOff.length || this.txPos + total > this.txBuf.length) this.flush();
    const i = this.txCount;
    let at = this.txPos;
    if (this.offload) {
      writeVnet(this.txBuf, at, vnet, hdrLen, csum & 0xffff, csum >>> 16);
      at += VNET_HDR_LEN;
    }
    copyBytes(buf, off, this.txBuf, at, len);
    this.txOff[i] = this.txPos;
    this.txLen[i] = total;
    this.txPos += total;
    this.txCount = i + 1;
  }

  /** Reads each received frame's virtio_net_hdr into the batch and points off/len past it. */
  private stripVnet(count: number): void {
    const rx = this.rx;
    const vnet = rx.vnet!;
    const csum = rx.csum!;
    for (let i = 0; i < count; i++) {
      const o = rx.off[i]!;
      if (rx.len[i]! < VNET_HDR_LEN) {
        // Cannot happen with a kernel that honours IFF_VNET_HDR; the empty frame is counted as truncated.
        vnet[i] = 0;
        csum[i] = 0;
        rx.off[i] = o;
        rx.len[i] = 0;
        continue;
      }
      vnet[i] = readVnet(rx.buf, o);
      csum[i] = readVnetCsum(rx.buf, o);
      rx.off[i] = o + VNET_HDR_LEN;
      rx.len[i] = rx.len[i]! - VNET_HDR_LEN;
    }
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
