/**
 * Session-sync messages, version 1: a fixed 60-byte header, a body, and a
 * 32-byte HMAC-SHA256 trailer over everything before it (README, "Session
 * sync protocol", has the byte table). All fields are big-endian. Header
 * decoding writes into a reused MsgHeader; nothing here allocates or throws:
 * malformed input gives a named error code.
 *
 * Two numbers order a sender's messages: the packet number `pn` (every
 * message, 64-bit, from 1 per sender epoch: the replay window) and the
 * sequence `seq` of the reliable stream (only session and bulk messages; a
 * retransmission keeps its seq and gets a new pn).
 */
import { rd16, rd32, wr16, wr32 } from '../wire/bytes.js';
import { checkRecords, rd64, wr64 } from './msg-records.js';

export const MSG_MAGIC = 0x53444841; // "SDHA"
export const MSG_VERSION = 1;
export const HEADER_LEN = 60;
export const MAC_LEN = 32;
/** Largest message this node sends (header, body and MAC): fits a 1500-byte MTU with IPv6 and UDP headers. */
export const MAX_MSG = 1400;
export const MAX_BODY = MAX_MSG - HEADER_LEN - MAC_LEN;

// ---- Types ----
export const T_SESSIONS = 1; // records: insert, update, delete (sequenced)
export const T_ACK = 2; // the header's cumulative ack only
export const T_NACK = 3; // cumulative ack + the highest seq received + missing ranges
export const T_BULK_REQUEST = 4; // "send me everything you hold"
export const T_BULK_START = 5; // (sequenced) body: bulk id, sessions in the sender's table
export const T_BULK_END = 6; // (sequenced) body: bulk id, records sent, bulk flags
export const T_HEARTBEAT = 7; // liveness; carries the ack
export const MSG_TYPE_NAMES = [
  '',
  'sessions',
  'ack',
  'nack',
  'bulk-request',
  'bulk-start',
  'bulk-end',
  'heartbeat',
] as const;

/** Types carried by the reliable stream (they have a seq and are acknowledged). */
export function isSequenced(type: number): boolean {
  return type === T_SESSIONS || type === T_BULK_START || type === T_BULK_END;
}

/** Types a node may send before it knows the receiver's epoch (receiver epoch 0). */
export function mayBeUnaddressed(type: number): boolean {
  return type === T_HEARTBEAT || type === T_BULK_REQUEST;
}

// ---- Header flags ----
export const MF_ACK = 0x0001; // the ack field is valid
export const MF_RETRANSMIT = 0x0002; // this seq was sent before
export const MF_BULK = 0x0004; // a sessions message that belongs to a bulk transfer
const MF_KNOWN = MF_ACK | MF_RETRANSMIT | MF_BULK;

// ---- Bulk flags (BULK_END body) ----
/** The sender's table is authoritative for the sessions it owns: the receiver may drop those the bulk did not carry. */
export const BF_AUTHORITATIVE = 1;

// ---- Field offsets ----
export const H_MAGIC = 0;
export const H_VERSION = 4;
export const H_TYPE = 5;
export const H_FLAGS = 6;
export const H_SENDER = 8;
export const H_RECEIVER = 12;
export const H_SENDER_EPOCH = 16;
export const H_RECEIVER_EPOCH = 24;
export const H_PN = 32;
export const H_SEQ = 40;
export const H_WINDOW = 44;
export const H_ACK = 48;
export const H_COUNT = 52;
export const H_BODY_LEN = 54;
/** Milliseconds between the first transmission of this seq and this one (records' lifetimes are that much older). */
export const H_AGE = 56;

/** NACK body: highest seq received (4), then `count` ranges of (first, last) missing seqs (8 each). */
export const NACK_MAX_RANGES = 64;

// ---- Errors ----
export const MSG_ERRORS = [
  'ok',
  'truncated', // shorter than header + MAC
  'bad-magic',
  'bad-version',
  'bad-type',
  'bad-flags', // a reserved flag bit is set
  'bad-length', // body length does not match the message length
  'bad-body', // a body that does not fit its type (count, size, ranges)
  'bad-record', // a session record with a bad op, flags or length
] as const;
export type MsgErrorName = (typeof MSG_ERRORS)[number];
export const ME_OK = 0;
export const ME_TRUNCATED = 1;
export const ME_BAD_MAGIC = 2;
export const ME_BAD_VERSION = 3;
export const ME_BAD_TYPE = 4;
export const ME_BAD_FLAGS = 5;
export const ME_BAD_LENGTH = 6;
export const ME_BAD_BODY = 7;
export const ME_BAD_RECORD = 8;

export function msgErrorName(code: number): MsgErrorName {
  return MSG_ERRORS[code] ?? 'ok';
}

/** A decoded (or to-be-encoded) header. Epochs and pn are integers below 2^53. */
export class MsgHeader {
  type = 0;
  flags = 0;
  sender = 0;
  receiver = 0;
  senderEpoch = 0;
  receiverEpoch = 0;
  pn = 0;
  seq = 0;
  /** Oldest seq the sender still retransmits: anything before it is given up. */
  window = 0;
  ack = 0;
  count = 0;
  bodyLen = 0;
  /** Ms since the first transmission of this seq. */
  age = 0;
  /** Where the body starts in the buffer (decode only). */
  bodyOff = 0;
}

/** Writes a whole header at `off` (the body follows at off + HEADER_LEN). */
export function writeHeader(b: Uint8Array, off: number, h: MsgHeader): void {
  wr32(b, off + H_MAGIC, MSG_MAGIC);
  b[off + H_VERSION] = MSG_VERSION;
  b[off + H_TYPE] = h.type;
  wr16(b, off + H_FLAGS, h.flags);
  wr32(b, off + H_SENDER, h.sender);
  wr32(b, off + H_RECEIVER, h.receiver);
  wr64(b, off + H_SENDER_EPOCH, h.senderEpoch);
  wr64(b, off + H_RECEIVER_EPOCH, h.receiverEpoch);
  wr64(b, off + H_PN, h.pn);
  wr32(b, off + H_SEQ, h.seq);
  wr32(b, off + H_WINDOW, h.window);
  wr32(b, off + H_ACK, h.ack);
  wr16(b, off + H_COUNT, h.count);
  wr16(b, off + H_BODY_LEN, h.bodyLen);
  wr32(b, off + H_AGE, h.age);
}

/**
 * Decodes and checks the header of the message in b[off, off + len) (MAC
 * included) into `h`. Checks magic, version, type, flags and that the body
 * length fills the message exactly; the body is checked by checkBody.
 */
export function readHeader(b: Uint8Array, off: number, len: number, h: MsgHeader): number {
  if (len < HEADER_LEN + MAC_LEN || off < 0 || off + len > b.length) return ME_TRUNCATED;
  if (rd32(b, off + H_MAGIC) !== MSG_MAGIC) return ME_BAD_MAGIC;
  if (b[off + H_VERSION] !== MSG_VERSION) return ME_BAD_VERSION;
  const type = b[off + H_TYPE]!;
  if (type < T_SESSIONS || type > T_HEARTBEAT) return ME_BAD_TYPE;
  const flags = rd16(b, off + H_FLAGS);
  if ((flags & ~MF_KNOWN) !== 0) return ME_BAD_FLAGS;
  h.type = type;
  h.flags = flags;
  h.sender = rd32(b, off + H_SENDER);
  h.receiver = rd32(b, off + H_RECEIVER);
  h.senderEpoch = rd64(b, off + H_SENDER_EPOCH);
  h.receiverEpoch = rd64(b, off + H_RECEIVER_EPOCH);
  h.pn = rd64(b, off + H_PN);
  h.seq = rd32(b, off + H_SEQ);
  h.window = rd32(b, off + H_WINDOW);
  h.ack = rd32(b, off + H_ACK);
  h.count = rd16(b, off + H_COUNT);
  h.bodyLen = rd16(b, off + H_BODY_LEN);
  h.age = rd32(b, off + H_AGE);
  h.bodyOff = off + HEADER_LEN;
  if (HEADER_LEN + h.bodyLen + MAC_LEN !== len) return ME_BAD_LENGTH;
  return ME_OK;
}

/** Checks the body of a message whose header readHeader accepted. */
export function checkBody(b: Uint8Array, h: MsgHeader): number {
  const n = h.bodyLen;
  switch (h.type) {
    case T_SESSIONS:
      if (h.count === 0) return ME_BAD_BODY;
      return checkRecords(b, h.bodyOff, n, h.count);
    case T_NACK: {
      if ((h.flags & MF_ACK) === 0 || h.count === 0 || h.count > NACK_MAX_RANGES || n !== 4 + 8 * h.count)
        return ME_BAD_BODY;
      // Ranges lie after the cumulative ack, in order, up to the highest seq received.
      const high = rd32(b, h.bodyOff);
      let prev = h.ack;
      for (let i = 0; i < h.count; i++) {
        const first = rd32(b, h.bodyOff + 4 + i * 8);
        const last = rd32(b, h.bodyOff + 8 + i * 8);
        if (((first - prev) | 0) <= 0 || ((last - first) | 0) < 0 || ((high - last) | 0) <= 0)
          return ME_BAD_BODY;
        prev = last;
      }
      return ME_OK;
    }
    case T_BULK_START:
      return h.count === 0 && n === 8 ? ME_OK : ME_BAD_BODY;
    case T_BULK_END:
      return h.count === 0 && n === 12 ? ME_OK : ME_BAD_BODY;
    default:
      return h.count === 0 && n === 0 ? ME_OK : ME_BAD_BODY;
  }
}

/** NACK body accessors. */
export function nackHighest(b: Uint8Array, h: MsgHeader): number {
  return rd32(b, h.bodyOff);
}
export function nackRange(b: Uint8Array, h: MsgHeader, i: number, last: boolean): number {
  return rd32(b, h.bodyOff + 4 + i * 8 + (last ? 4 : 0));
}
