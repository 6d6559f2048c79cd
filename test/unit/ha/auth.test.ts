/** Authentication of sync messages: MAC, replay window, epochs, peers; every rejection named and counted. */
import { describe, expect, it } from 'vitest';
import {
  parseKey,
  REJECT_NAMES,
  REPLAY_WINDOW,
  ReplayWindow,
  RJ_BAD_MAC,
  RJ_MALFORMED,
  RJ_NOT_PEER,
  RJ_OK,
  RJ_REPLAY,
  SyncAuth,
} from '../../../src/ha/auth.js';
import {
  HEADER_LEN,
  MAC_LEN,
  MsgHeader,
  T_BULK_REQUEST,
  T_HEARTBEAT,
  T_SESSIONS,
  writeHeader,
} from '../../../src/ha/msg.js';
import { BodyWriter, OP_INSERT, SessionRecord, settleRecord } from '../../../src/ha/msg-records.js';
import { KEY, rng } from './helpers.js';

const A = 1; // the sender
const B = 2; // the receiver
const EPOCH_A = 1_767_225_600_000;
const EPOCH_B = 1_767_225_700_000;

/** A record body (one UDP session) so messages have something to tamper with. */
function body(): { buf: Uint8Array; len: number } {
  const w = new BodyWriter(200);
  const r = new SessionRecord();
  r.op = OP_INSERT;
  r.zoneProto = 17;
  r.oSrc.set([0, 0, 0xffff, 0x0a000102]);
  r.oDst.set([0, 0, 0xffff, 0x08080808]);
  r.rSrc.set(r.oDst);
  r.rDst.set(r.oSrc);
  r.origPorts = (40000 << 16) | 53;
  r.replyPorts = (53 << 16) | 40000;
  r.owner = A;
  r.version = 1;
  r.lifetimeMs = 30000;
  settleRecord(r);
  w.add(r);
  return { buf: w.buf, len: w.len };
}

/** A message from `signer`'s node to B, signed. */
function msg(signer: SyncAuth, over: Partial<MsgHeader> = {}): Uint8Array {
  const bd = body();
  const h = Object.assign(new MsgHeader(), {
    type: T_SESSIONS,
    sender: signer.node,
    receiver: B,
    senderEpoch: signer.epoch,
    receiverEpoch: EPOCH_B,
    pn: 1,
    seq: 1,
    window: 1,
    count: 1,
    bodyLen: bd.len,
    ...over,
  });
  if (h.type !== T_SESSIONS) {
    h.count = 0;
    h.bodyLen = 0;
  }
  const b = new Uint8Array(HEADER_LEN + h.bodyLen + MAC_LEN);
  writeHeader(b, 0, h);
  if (h.bodyLen) b.set(bd.buf.subarray(0, bd.len), HEADER_LEN);
  signer.sign(b, 0, HEADER_LEN + h.bodyLen);
  return b;
}

const receiver = (epoch = EPOCH_B) => new SyncAuth(KEY, B, epoch, [A, 3]);
const senderA = (epoch = EPOCH_A, key = KEY) => new SyncAuth(key, A, epoch, [B]);
const verify = (rx: SyncAuth, m: Uint8Array) => rx.verify(m, 0, m.length, new MsgHeader());

describe('sync key', () => {
  it('parses hex and base64 of at least 16 bytes', () => {
    expect(parseKey('00112233445566778899aabbccddeeff')).toEqual(
      Uint8Array.from([
        0, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff,
      ]),
    );
    expect(parseKey(Buffer.from(KEY).toString('base64'))).toEqual(KEY);
  });

  it('refuses short, odd and non-key text with what was expected', () => {
    expect(() => parseKey('00112233')).toThrow('sync key: expected at least 16 bytes, got 4');
    expect(() => parseKey('c2hvcnQ=')).toThrow('at least 16 bytes, got 5');
    expect(() => parseKey('not a key!')).toThrow('sync key: expected hex digits or base64');
    expect(() => parseKey('')).toThrow('expected hex digits or base64');
    expect(() => new SyncAuth(new Uint8Array(15), 1, 1, [2])).toThrow(/at least 16 bytes/);
  });
});

describe('message authentication', () => {
  it('accepts an authentic message once and counts it', () => {
    const rx = receiver();
    const m = msg(senderA());
    expect(verify(rx, m)).toBe(RJ_OK);
    expect(rx.newEpoch).toBe(true);
    expect(rx.peerEpoch(A)).toBe(EPOCH_A);
    expect(rx.accepted).toBe(1);
  });

  it('rejects a message signed with another key as bad-mac', () => {
    const rx = receiver();
    const forged = msg(
      senderA(
        EPOCH_A,
        KEY.map((x) => x ^ 1),
      ),
    );
    expect(verify(rx, forged)).toBe(RJ_BAD_MAC);
    expect(rx.rejected[RJ_BAD_MAC]).toBe(1);
    expect(rx.peerEpoch(A)).toBe(-1);
  });

  it('rejects every single flipped bit, anywhere in the message (header, body, MAC)', () => {
    const m = msg(senderA());
    const reasons = new Set<string>();
    for (let bit = 0; bit < m.length * 8; bit++) {
      const rx = receiver();
      const t = m.slice();
      t[bit >> 3] ^= 1 << (bit & 7);
      const r = verify(rx, t);
      expect(r, `bit ${bit}`).not.toBe(RJ_OK);
      reasons.add(REJECT_NAMES[r]!);
      if (bit >= 16 * 8) {
        // Past sender/receiver ids: only the MAC (or a header/length check) can catch it.
        expect(['bad-mac', 'malformed']).toContain(REJECT_NAMES[r]);
      }
      if (bit >= HEADER_LEN * 8) expect(REJECT_NAMES[r]).toBe('bad-mac');
    }
    expect([...reasons].sort()).toEqual(['bad-mac', 'bad-magic', 'bad-version', 'malformed', 'not-peer']);
  });

  it('rejects truncated and padded messages as malformed', () => {
    const rx = receiver();
    const m = msg(senderA());
    expect(rx.verify(m, 0, m.length - 1, new MsgHeader())).toBe(RJ_MALFORMED);
    expect(rx.verify(m, 0, 40, new MsgHeader())).toBe(RJ_MALFORMED);
    const padded = new Uint8Array(m.length + 1);
    padded.set(m);
    expect(verify(rx, padded)).toBe(RJ_MALFORMED);
    expect(rx.rejected[RJ_MALFORMED]).toBe(3);
  });

  it('drops messages from a node that is not a peer, or addressed to another node', () => {
    const rx = receiver();
    const stranger = new SyncAuth(KEY, 9, EPOCH_A, [B]);
    expect(verify(rx, msg(stranger))).toBe(RJ_NOT_PEER);
    expect(verify(rx, msg(senderA(), { receiver: 3 }))).toBe(RJ_NOT_PEER);
    expect(rx.rejected[RJ_NOT_PEER]).toBe(2);
  });

  it('rejects a replay, accepts reordering within the window, and forgets nothing inside it', () => {
    const rx = receiver();
    const tx = senderA();
    const m5 = msg(tx, { pn: 5 });
    expect(verify(rx, m5)).toBe(RJ_OK);
    expect(verify(rx, m5)).toBe(RJ_REPLAY);
    expect(verify(rx, msg(tx, { pn: 3 }))).toBe(RJ_OK); // late but new
    expect(verify(rx, msg(tx, { pn: 3 }))).toBe(RJ_REPLAY);
    expect(verify(rx, msg(tx, { pn: 5 + REPLAY_WINDOW }))).toBe(RJ_OK);
    // The window now covers top - 1023 .. top (top = 1029).
    expect(verify(rx, msg(tx, { pn: 4 }))).toBe(RJ_REPLAY); // fell out of the window, though never seen
    expect(verify(rx, msg(tx, { pn: 6 }))).toBe(RJ_OK); // the oldest number inside, unseen
    expect(verify(rx, msg(tx, { pn: 6 }))).toBe(RJ_REPLAY);
    expect(verify(rx, msg(tx, { pn: 0 }))).toBe(RJ_REPLAY); // packet numbers start at 1
    expect(rx.rejected[RJ_REPLAY]).toBe(5);
  });

  it('accepts a new epoch of a peer only when authentic, then rejects the old epoch', () => {
    const rx = receiver();
    expect(verify(rx, msg(senderA(), { pn: 100 }))).toBe(RJ_OK);
    const restarted = senderA(EPOCH_A + 5000);
    const forgedNew = msg(
      senderA(
        EPOCH_A + 5000,
        KEY.map((x) => x ^ 0x80),
      ),
      { pn: 1 },
    );
    expect(verify(rx, forgedNew)).toBe(RJ_BAD_MAC);
    expect(rx.peerEpoch(A)).toBe(EPOCH_A); // unchanged: the old window still holds
    expect(verify(rx, msg(senderA(), { pn: 101 }))).toBe(RJ_OK);
    expect(verify(rx, msg(restarted, { pn: 1 }))).toBe(RJ_OK);
    expect(rx.newEpoch).toBe(true);
    expect(rx.previousEpoch).toBe(EPOCH_A);
    expect(rx.peerEpoch(A)).toBe(EPOCH_A + 5000);
    // The old incarnation's messages, even unseen numbers, are replays now.
    expect(verify(rx, msg(senderA(), { pn: 102 }))).toBe(RJ_REPLAY);
    expect(verify(rx, msg(restarted, { pn: 2 }))).toBe(RJ_OK);
    expect(rx.newEpoch).toBe(false);
  });

  it('after its own restart, rejects everything addressed to its previous epoch', () => {
    const old = receiver(EPOCH_B);
    const recorded = [msg(senderA(), { pn: 1 }), msg(senderA(), { pn: 2, type: T_HEARTBEAT })];
    for (const m of recorded) expect(verify(old, m)).toBe(RJ_OK);
    const fresh = receiver(EPOCH_B + 1000); // same node, restarted: an empty replay window
    for (const m of recorded) expect(verify(fresh, m)).toBe(RJ_REPLAY);
    // Heartbeats and bulk requests may come before the sender knows our epoch; session data may not.
    expect(verify(fresh, msg(senderA(), { pn: 3, type: T_HEARTBEAT, receiverEpoch: 0 }))).toBe(RJ_OK);
    expect(verify(fresh, msg(senderA(), { pn: 4, type: T_BULK_REQUEST, receiverEpoch: 0 }))).toBe(RJ_OK);
    expect(verify(fresh, msg(senderA(), { pn: 5, receiverEpoch: 0 }))).toBe(RJ_REPLAY);
    expect(verify(fresh, msg(senderA(), { pn: 6, receiverEpoch: EPOCH_B + 1000 }))).toBe(RJ_OK);
  });
});

describe('replay window', () => {
  it('slides: a number is fresh once, numbers more than the window behind never', () => {
    const w = new ReplayWindow();
    const seen = new Set<number>();
    let top = 0;
    const rand = rng(42);
    const r = (n: number) => Math.floor(rand() * n);
    for (let i = 0; i < 5000; i++) {
      const pn = Math.max(1, top + r(40) - 30);
      const expectFresh = !seen.has(pn) && (pn > top || top - pn < REPLAY_WINDOW);
      expect(w.fresh(7, pn)).toBe(expectFresh);
      if (expectFresh) {
        w.commit(7, pn);
        seen.add(pn);
        top = Math.max(top, pn);
      }
    }
  });
});
