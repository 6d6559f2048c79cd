/**
 * Live port on an existing interface (a veth, a NIC) through libpcap, by way
 * of the `cap` package. Same shape as TapPort, so the driver does not know
 * which it has. Notes on libpcap and cap: native-notes/libpcap.md.
 *
 * Receiving: cap emits one 'packet' event per frame, into one 64 KiB slot at
 * the start of an ArrayBuffer this port owns. Each frame is moved with
 * copyWithin (a memmove, no allocation) into the batch area of the same
 * ArrayBuffer; the first frame of a turn schedules a setImmediate, which runs
 * after the poll phase, so every frame that arrived in this event-loop turn
 * reaches the pipeline in one FrameBatch and one onBatch call.
 *
 * Opened with promiscuous mode (cap always sets it), immediate mode (cap sets
 * it when libpcap has it: no 1 s read timeout) and the BPF filter `inbound`:
 * frames the host's stack or other sockets send out of the interface never
 * reach the device (frames this socket injects are not looped back to it by
 * the kernel at all). libpcap 1.10 filters the first frame after the filter is
 * set in userland, where `inbound` matches nothing: the first inbound frame
 * after open is lost (see the notes).
 *
 * Sending: pcap_sendpacket, one system call per frame, at once (flush() has
 * nothing to do). A frame longer than MTU + 14 (MTU + 18 when it carries a
 * VLAN tag: the kernel's own limit for packet sockets) is counted and dropped.
 *
 * cap hazards this class works around: cap keeps a raw pointer to the receive
 * buffer without a reference (we keep one); a handle whose open() failed
 * crashes the process when closed or garbage-collected (kept forever, never
 * closed; the common failures are checked in /sys first); send() after
 * close() dereferences NULL (refused here). Not avoidable: cap aborts the
 * process when the interface goes down or is deleted while open.
 */
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { FrameBatch, Port } from './port.js';

/** What cap's native Cap object offers (an EventEmitter). */
interface CapHandle {
  open(device: string, filter: string, bufSize: number, buffer: Buffer): string;
  close(): boolean;
  send(buffer: Uint8Array, nBytes: number): void;
  on(event: 'packet', fn: (nbytes: number, truncated: boolean) => void): unknown;
}

/** Errors from opening, shaped like TapError (code, syscall, iface). */
export class PcapError extends Error {
  readonly syscall = 'open';
  readonly errno = 0;
  constructor(
    message: string,
    readonly code: string,
    readonly iface: string,
  ) {
    super(message);
    this.name = 'PcapError';
  }
}

export interface PcapOpenOptions {
  /** An existing interface in the caller's network namespace. */
  name: string;
  /** BPF filter; `inbound` by default. '' captures both directions (tests only). */
  filter?: string;
  /** libpcap's ring (pcap_set_buffer_size), 16 MiB by default. */
  ringBytes?: number;
  /** Most frames per delivered batch (256). */
  batchFrames?: number;
  /** Bytes of the batch area (1 MiB). */
  batchBytes?: number;
}

/** Largest frame libpcap hands over (cap's snaplen is 65535). */
const SLOT = 65536;
/** Ethernet header, and one VLAN tag. */
const ETH_HLEN = 14;
const VLAN_HLEN = 4;
const DEFAULT_RING = 16 << 20;
const DEFAULT_BATCH_FRAMES = 256;
const DEFAULT_BATCH_BYTES = 1 << 20;
const ARPHRD_ETHER = 1;
const IFF_UP = 1;

let capModule: { Cap: new () => CapHandle } | undefined;
/** Handles whose open() failed: closing or collecting one crashes cap, so they live forever. */
const failedHandles: CapHandle[] = [];

function loadCap(): { Cap: new () => CapHandle } {
  if (capModule) return capModule;
  try {
    capModule = createRequire(import.meta.url)('cap') as { Cap: new () => CapHandle };
    return capModule;
  } catch (cause) {
    throw new Error(
      `the cap package (libpcap binding) failed to load: ${(cause as Error).message}. ` +
        'It needs libpcap and a build of its addon (npm rebuild cap).',
      { cause },
    );
  }
}

/** True when the cap addon loads (opening an interface still needs CAP_NET_RAW). */
export function pcapAvailable(): boolean {
  try {
    loadCap();
    return true;
  } catch {
    return false;
  }
}

function sysNet(name: string, file: string): string {
  return readFileSync(`/sys/class/net/${name}/${file}`, 'utf8').trim();
}

/** Parses `aa:bb:cc:dd:ee:ff` into 6 bytes. */
export function parseMac(text: string): Uint8Array {
  const parts = text.split(':');
  if (parts.length !== 6 || parts.some((p) => !/^[0-9a-fA-F]{2}$/.test(p))) {
    throw new Error(`"${text}" is not a MAC address`);
  }
  return Uint8Array.from(parts, (p) => parseInt(p, 16));
}

/** Checks what cap would otherwise fail on (and crash later): the interface exists, is Ethernet, is up. */
function checkInterface(name: string): { mtu: number; mac: Uint8Array } {
  const fail = (what: string, code: string): never => {
    throw new PcapError(`pcap ${name}: ${what}`, code, name);
  };
  if (!/^[A-Za-z0-9_.:-]{1,15}$/.test(name)) fail('not a valid interface name', 'EINVAL');
  if (!existsSync(`/sys/class/net/${name}`)) {
    fail('no such interface in this network namespace (ENODEV)', 'ENODEV');
  }
  const type = Number(sysNet(name, 'type'));
  if (type !== ARPHRD_ETHER) fail(`not an Ethernet interface (ARPHRD type ${type})`, 'EINVAL');
  if ((parseInt(sysNet(name, 'flags'), 16) & IFF_UP) === 0) {
    fail(`interface is down; bring it up first (ip link set ${name} up)`, 'ENETDOWN');
  }
  return { mtu: Number(sysNet(name, 'mtu')), mac: parseMac(sysNet(name, 'address')) };
}

/** An 802.1Q tag follows the MACs (the one tag the kernel allows past MTU + 14 on a packet socket). */
function tagged(buf: Uint8Array, off: number): boolean {
  return buf[off + 12] === 0x81 && buf[off + 13] === 0x00;
}

export class PcapPort implements Port {
  readonly name: string;
  /** The interface's MTU (read from /sys when opened). */
  readonly mtu: number;
  /** MAC of the interface (the kernel's side; the device answers for its own config MAC). */
  readonly mac: Uint8Array;
  /** Largest untagged frame sent: MTU + Ethernet header (4 more with a VLAN tag). */
  readonly maxFrame: number;

  private readonly cap: CapHandle;
  /** [0, SLOT): cap's receive slot; [SLOT, 2*SLOT): the send slot; then the batch area. */
  private readonly whole: Uint8Array;
  private readonly capView: Buffer;
  private readonly txView: Buffer;
  private readonly rx: FrameBatch;
  private readonly rxCap: number;
  private rxPos = 2 * SLOT;
  private onBatch: ((b: FrameBatch) => void) | null = null;
  private scheduled = false;
  private isClosed = false;
  private nRxFrames = 0;
  private nRxBytes = 0;
  private nRxBatches = 0;
  private nTxLate = 0;
  private nRxOversize = 0;
  private nRxTruncated = 0;
  private nTxFrames = 0;
  private nTxOversize = 0;
  private nTxErrors = 0;
  /** The last message of a refused send. */
  lastTxError = '';

  private constructor(name: string, cap: CapHandle, mtu: number, mac: Uint8Array, opts: PcapOpenOptions) {
    this.name = name;
    this.cap = cap;
    this.mtu = mtu;
    this.mac = mac;
    this.maxFrame = mtu + ETH_HLEN;
    const frames = opts.batchFrames ?? DEFAULT_BATCH_FRAMES;
    const bytes = opts.batchBytes ?? DEFAULT_BATCH_BYTES;
    const ab = new ArrayBuffer(2 * SLOT + bytes);
    this.whole = new Uint8Array(ab);
    this.capView = Buffer.from(ab, 0, SLOT);
    this.txView = Buffer.from(ab, SLOT, SLOT);
    this.rx = { count: 0, buf: this.whole, off: new Int32Array(frames), len: new Int32Array(frames) };
    this.rxCap = frames;
  }

  /**
   * Attaches to an existing Ethernet interface in the current network
   * namespace. Needs CAP_NET_RAW. Throws PcapError with `code` (ENODEV,
   * ENETDOWN, EINVAL, EPERM, EIO) and `iface`.
   */
  static open(opts: PcapOpenOptions): PcapPort {
    const frames = opts.batchFrames ?? DEFAULT_BATCH_FRAMES;
    const bytes = opts.batchBytes ?? DEFAULT_BATCH_BYTES;
    const ring = opts.ringBytes ?? DEFAULT_RING;
    if (!Number.isInteger(frames) || frames < 1 || frames > 65536) {
      throw new RangeError(`batchFrames must be an integer within 1..65536 (got ${frames})`);
    }
    if (!Number.isInteger(bytes) || bytes < SLOT || bytes > 1 << 30) {
      throw new RangeError(`batchBytes must be an integer within ${SLOT}..${1 << 30} (got ${bytes})`);
    }
    if (!Number.isInteger(ring) || ring < SLOT || ring > 1 << 30) {
      throw new RangeError(`ringBytes must be an integer within ${SLOT}..${1 << 30} (got ${ring})`);
    }
    const { Cap } = loadCap();
    const { mtu, mac } = checkInterface(opts.name);
    const cap = new Cap();
    const port = new PcapPort(opts.name, cap, mtu, mac, opts);
    let link: string;
    try {
      link = cap.open(opts.name, opts.filter ?? 'inbound', ring, port.capView);
    } catch (err) {
      failedHandles.push(cap);
      const msg = (err as Error).message;
      const code = /permission|not permitted/i.test(msg)
        ? 'EPERM'
        : /no such device/i.test(msg)
          ? 'ENODEV'
          : 'EIO';
      throw new PcapError(`pcap ${opts.name}: ${msg} (${code})`, code, opts.name);
    }
    if (link !== 'ETHERNET') {
      cap.close();
      throw new PcapError(`pcap ${opts.name}: link type ${link}, not Ethernet`, 'EINVAL', opts.name);
    }
    cap.on('packet', (n, truncated) => port.received(n, truncated));
    return port;
  }

  get closed(): boolean {
    return this.isClosed;
  }

  get rxFrames(): number {
    return this.nRxFrames;
  }

  get rxBytes(): number {
    return this.nRxBytes;
  }

  get rxBatches(): number {
    return this.nRxBatches;
  }

  /** Frames received longer than MTU + 18: GSO/GRO frames (offloads on the far side), delivered anyway. */
  get rxOversize(): number {
    return this.nRxOversize;
  }

  /** Frames cut by libpcap's snap length (never with cap's 65535). Dropped. */
  get rxTruncated(): number {
    return this.nRxTruncated;
  }

  get txFrames(): number {
    return this.nTxFrames;
  }

  /** Frames longer than MTU + 14 (+ 4 if tagged) or shorter than 14 given to send(); dropped, not sent. */
  get txOversize(): number {
    return this.nTxOversize;
  }

  /** Frames pcap_sendpacket refused (ENOBUFS, ENETDOWN...). */
  get txErrors(): number {
    return this.nTxErrors;
  }

  /** Frames given to send() that never reached the kernel (oversize, refused, or sent after close). */
  get txDropped(): number {
    return this.nTxOversize + this.nTxErrors + this.nTxLate;
  }

  start(onBatch: (batch: FrameBatch) => void): void {
    if (this.isClosed) throw new Error(`pcap ${this.name} is closed`);
    if (this.onBatch) throw new Error(`pcap ${this.name} is already started`);
    this.onBatch = onBatch;
  }

  /** Stops delivering (frames received meanwhile are dropped); start() may be called again. */
  stop(): void {
    this.onBatch = null;
    this.rx.count = 0;
    this.rxPos = 2 * SLOT;
  }

  send(buf: Uint8Array, off: number, len: number): void {
    if (this.isClosed) {
      this.nTxLate++;
      return;
    }
    if (len < ETH_HLEN || (len > this.maxFrame && (len > this.maxFrame + VLAN_HLEN || !tagged(buf, off)))) {
      this.nTxOversize++;
      return;
    }
    let out: Uint8Array = this.txView;
    if (off === 0) {
      out = buf; // cap sends from the start of the view it is given
    } else if (buf.buffer === this.whole.buffer) {
      const from = buf.byteOffset + off;
      this.whole.copyWithin(SLOT, from, from + len);
    } else {
      const w = this.whole;
      for (let i = 0; i < len; i++) w[SLOT + i] = buf[off + i]!;
    }
    try {
      this.cap.send(out, len);
      this.nTxFrames++;
    } catch (err) {
      this.nTxErrors++;
      this.lastTxError = (err as Error).message;
    }
  }

  /** Nothing is queued: send() hands each frame to libpcap at once. */
  flush(): void {}

  /** Stops capturing and closes the handle. Safe to call more than once. */
  close(): void {
    if (this.isClosed) return;
    this.isClosed = true;
    this.onBatch = null;
    this.cap.close();
  }

  private received(n: number, truncated: boolean): void {
    if (this.onBatch === null) return;
    if (truncated) {
      this.nRxTruncated++;
      return;
    }
    const rx = this.rx;
    if (rx.count === this.rxCap || this.rxPos + n > this.whole.length) this.deliver();
    const pos = this.rxPos;
    this.whole.copyWithin(pos, 0, n);
    rx.off[rx.count] = pos;
    rx.len[rx.count] = n;
    rx.count++;
    this.rxPos = (pos + n + 7) & ~7;
    this.nRxFrames++;
    this.nRxBytes += n;
    if (n > this.maxFrame + VLAN_HLEN) this.nRxOversize++;
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(this.deliverLater);
    }
  }

  private readonly deliverLater = (): void => {
    this.scheduled = false;
    this.deliver();
  };

  private deliver(): void {
    const rx = this.rx;
    if (rx.count === 0) return;
    const cb = this.onBatch;
    this.nRxBatches++;
    try {
      if (cb) cb(rx);
    } finally {
      rx.count = 0;
      this.rxPos = 2 * SLOT;
    }
  }
}
