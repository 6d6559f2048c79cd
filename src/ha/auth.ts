/**
 * Authentication of sync messages: HMAC-SHA256 with a shared key over the
 * whole message before its 32-byte trailer, compared in constant time, and a
 * per-peer replay window over packet numbers (a sliding bitmap, as IPsec's
 * anti-replay), keyed by the peer's boot epoch. A newer epoch from a peer is
 * accepted only on an authentic message and resets its window; an older
 * epoch is a replay. A message must also name this node and its current
 * epoch as the receiver (only heartbeats and bulk requests may leave the
 * epoch 0, before the sender knows it), so nothing recorded before this node
 * restarted can be played back to it.
 *
 * Every rejection is named and counted. HMAC uses node:crypto (computation,
 * not I/O); it allocates a little per message, never per forwarded packet.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import {
  checkBody,
  MAC_LEN,
  ME_BAD_MAGIC,
  ME_BAD_VERSION,
  ME_OK,
  mayBeUnaddressed,
  readHeader,
  type MsgHeader,
} from './msg.js';

export const REJECT_NAMES = [
  'ok',
  'bad-magic',
  'bad-version',
  'malformed',
  'bad-mac',
  'replay',
  'not-peer',
] as const;
export type RejectName = (typeof REJECT_NAMES)[number];
export const RJ_OK = 0;
export const RJ_BAD_MAGIC = 1;
export const RJ_BAD_VERSION = 2;
export const RJ_MALFORMED = 3;
export const RJ_BAD_MAC = 4;
export const RJ_REPLAY = 5;
export const RJ_NOT_PEER = 6;

export const MIN_KEY_BYTES = 16;
/** Packet numbers the replay window remembers behind the highest one seen. */
export const REPLAY_WINDOW = 1024;

/**
 * Parses a shared key: hex (an even number of hex digits) or base64. Throws
 * an Error saying what was expected when it is neither or shorter than 16 bytes.
 */
export function parseKey(text: string): Uint8Array {
  const s = text.trim();
  let key: Uint8Array;
  if (/^(?:[0-9a-fA-F]{2})+$/.test(s)) key = Uint8Array.from(Buffer.from(s, 'hex'));
  else if (/^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/.test(s) && s.length > 0)
    key = Uint8Array.from(Buffer.from(s, 'base64'));
  else throw new Error('sync key: expected hex digits or base64');
  if (key.length < MIN_KEY_BYTES)
    throw new Error(`sync key: expected at least ${MIN_KEY_BYTES} bytes, got ${key.length}`);
  return key;
}

/** One peer's replay state: its epoch, the highest packet number seen and a bitmap of the window below it. */
export class ReplayWindow {
  epoch = -1;
  top = 0;
  private readonly bits = new Uint32Array(REPLAY_WINDOW / 32);

  /** Would `pn` of `epoch` be new? (Does not record it.) */
  fresh(epoch: number, pn: number): boolean {
    if (epoch > this.epoch) return pn >= 1;
    if (epoch < this.epoch || pn < 1) return false;
    if (pn > this.top) return true;
    if (this.top - pn >= REPLAY_WINDOW) return false;
    const i = pn % REPLAY_WINDOW;
    return (this.bits[i >>> 5]! & (1 << (i & 31))) === 0;
  }

  /** Records `pn` of `epoch` (fresh() said yes). */
  commit(epoch: number, pn: number): void {
    if (epoch !== this.epoch) {
      this.epoch = epoch;
      this.top = 0;
      this.bits.fill(0);
    }
    if (pn > this.top) {
      // Clear the bits of the numbers the window slides over.
      if (pn - this.top >= REPLAY_WINDOW) this.bits.fill(0);
      else for (let n = this.top + 1; n < pn; n++) this.clear(n % REPLAY_WINDOW);
      this.top = pn;
    }
    const i = pn % REPLAY_WINDOW;
    this.bits[i >>> 5]! |= 1 << (i & 31);
  }

  private clear(i: number): void {
    this.bits[i >>> 5]! &= ~(1 << (i & 31));
  }
}

export class SyncAuth {
  /** Rejections by reason (index: RJ_*). */
  readonly rejected = new Float64Array(REJECT_NAMES.length);
  accepted = 0;
  /** After an accepted verify: the sender's epoch was new to us (first contact or a restart). */
  newEpoch = false;
  /** After an accepted verify: the epoch we knew for the sender before (-1: none). */
  previousEpoch = -1;
  private readonly key: Uint8Array;
  private readonly peerIds: Uint32Array;
  private readonly windows: ReplayWindow[];

  constructor(
    key: Uint8Array,
    /** This node's id and boot epoch. */
    readonly node: number,
    readonly epoch: number,
    peers: readonly number[],
  ) {
    if (key.length < MIN_KEY_BYTES) throw new RangeError(`sync key must be at least ${MIN_KEY_BYTES} bytes`);
    if (node === 0 || peers.includes(0) || peers.includes(node))
      throw new RangeError('node ids must be nonzero and distinct');
    this.key = Uint8Array.from(key);
    this.peerIds = Uint32Array.from(peers);
    this.windows = peers.map(() => new ReplayWindow());
  }

  /** The epoch we know for `peer` (-1 when we have not heard from it). */
  peerEpoch(peer: number): number {
    const i = this.peerIds.indexOf(peer);
    return i < 0 ? -1 : this.windows[i]!.epoch;
  }

  /** Writes the MAC of b[off, off + len) at off + len. Returns len + MAC_LEN. */
  sign(b: Uint8Array, off: number, len: number): number {
    const mac = createHmac('sha256', this.key)
      .update(b.subarray(off, off + len))
      .digest();
    b.set(mac, off + len);
    return len + MAC_LEN;
  }

  /**
   * Checks the message in b[off, off + len): header, sender among the peers
   * and this node as receiver, MAC, body, receiver epoch, replay. Fills `h`.
   * Returns RJ_OK (the packet number is then recorded) or the counted reason.
   */
  verify(b: Uint8Array, off: number, len: number, h: MsgHeader): number {
    this.newEpoch = false;
    const e = readHeader(b, off, len, h);
    if (e !== ME_OK)
      return this.reject(
        e === ME_BAD_MAGIC ? RJ_BAD_MAGIC : e === ME_BAD_VERSION ? RJ_BAD_VERSION : RJ_MALFORMED,
      );
    const p = h.receiver === this.node ? this.peerIds.indexOf(h.sender) : -1;
    if (p < 0) return this.reject(RJ_NOT_PEER);
    const macOff = off + len - MAC_LEN;
    const mac = createHmac('sha256', this.key).update(b.subarray(off, macOff)).digest();
    if (!timingSafeEqual(mac, b.subarray(macOff, macOff + MAC_LEN))) return this.reject(RJ_BAD_MAC);
    if (checkBody(b, h) !== ME_OK) return this.reject(RJ_MALFORMED);
    const w = this.windows[p]!;
    if (h.receiverEpoch !== this.epoch && !(h.receiverEpoch === 0 && mayBeUnaddressed(h.type)))
      return this.reject(RJ_REPLAY);
    if (!w.fresh(h.senderEpoch, h.pn)) return this.reject(RJ_REPLAY);
    this.previousEpoch = w.epoch;
    this.newEpoch = h.senderEpoch !== w.epoch;
    w.commit(h.senderEpoch, h.pn);
    this.accepted++;
    return RJ_OK;
  }

  private reject(reason: number): number {
    this.rejected[reason]!++;
    return reason;
  }
}
