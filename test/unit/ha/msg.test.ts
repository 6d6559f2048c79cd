/** Sync message format: header and record round trips, and every decode error. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  checkBody,
  HEADER_LEN,
  MAC_LEN,
  MAX_BODY,
  ME_BAD_BODY,
  ME_BAD_FLAGS,
  ME_BAD_LENGTH,
  ME_BAD_MAGIC,
  ME_BAD_RECORD,
  ME_BAD_TYPE,
  ME_BAD_VERSION,
  ME_OK,
  ME_TRUNCATED,
  MF_ACK,
  MF_BULK,
  MsgHeader,
  msgErrorName,
  readHeader,
  T_ACK,
  T_BULK_END,
  T_NACK,
  T_SESSIONS,
  writeHeader,
} from '../../../src/ha/msg.js';
import {
  BodyWriter,
  checkRecords,
  decodeRecord,
  encodeRecord,
  OP_DELETE,
  OP_INSERT,
  OP_UPDATE,
  recordLenOf,
  RF_TCP,
  RF_V6,
  SessionRecord,
  settleRecord,
  viewOf,
} from '../../../src/ha/msg-records.js';
import { wr32 } from '../../../src/wire/bytes.js';

const u32 = fc.integer({ min: 0, max: 0xffffffff });
const v4addr = u32.map((a) => Uint32Array.of(0, 0, 0xffff, a));
const v6addr = fc.tuple(u32, u32, u32, u32).map((w) => Uint32Array.from(w));

interface RecSpec {
  op: number;
  zone: number;
  proto: number;
  v6: boolean;
  addrs: Uint32Array[];
  origPorts: number;
  replyPorts: number;
  version: number;
  owner: number;
  flags: number;
  state: number;
  portOrig: number;
  portReply: number;
  aux: number;
  lifetimeMs: number;
  tcp: number[];
}

const recSpec: fc.Arbitrary<RecSpec> = fc.boolean().chain((v6) =>
  fc.record({
    op: fc.constantFrom(OP_INSERT, OP_UPDATE, OP_DELETE),
    zone: fc.integer({ min: 0, max: 4095 }),
    proto: fc.constantFrom(6, 17, 1, 58, 47),
    v6: fc.constant(v6),
    addrs: fc.array(v6 ? v6addr : v4addr, { minLength: 4, maxLength: 4 }),
    origPorts: u32,
    replyPorts: u32,
    version: fc.maxSafeNat(),
    owner: u32,
    flags: fc.integer({ min: 0, max: 255 }),
    state: fc.integer({ min: 0, max: 255 }),
    portOrig: fc.integer({ min: 0, max: 255 }),
    portReply: fc.integer({ min: 0, max: 255 }),
    aux: u32,
    lifetimeMs: u32,
    tcp: fc.array(u32, { minLength: 12, maxLength: 12 }),
  }),
);

function toRecord(s: RecSpec, rec = new SessionRecord()): SessionRecord {
  rec.op = s.op;
  rec.zoneProto = ((s.zone << 8) | s.proto) >>> 0;
  rec.oSrc.set(s.addrs[0]!);
  rec.oDst.set(s.addrs[1]!);
  rec.rSrc.set(s.addrs[2]!);
  rec.rDst.set(s.addrs[3]!);
  rec.origPorts = s.origPorts;
  rec.replyPorts = s.replyPorts;
  rec.version = s.version;
  rec.owner = s.owner;
  rec.flags = s.flags;
  rec.state = s.state;
  rec.portOrig = s.portOrig;
  rec.portReply = s.portReply;
  rec.aux = s.aux;
  rec.lifetimeMs = s.lifetimeMs;
  rec.tcp.set(s.tcp);
  settleRecord(rec);
  return rec;
}

/** The fields a record carries, as plain data (TCP words only when present). */
function plain(r: SessionRecord) {
  return {
    op: r.op,
    zoneProto: r.zoneProto,
    addrs: [r.oSrc, r.oDst, r.rSrc, r.rDst].map((a) => Array.from(a)),
    origPorts: r.origPorts,
    replyPorts: r.replyPorts,
    version: r.version,
    owner: r.owner,
    flags: r.flags,
    state: r.state,
    portOrig: r.portOrig,
    portReply: r.portReply,
    aux: r.aux,
    lifetimeMs: r.lifetimeMs,
    hasTcp: r.hasTcp,
    tcp: r.hasTcp ? Array.from(r.tcp) : [],
  };
}

function header(over: Partial<MsgHeader> = {}): MsgHeader {
  return Object.assign(new MsgHeader(), {
    type: T_SESSIONS,
    flags: MF_ACK | MF_BULK,
    sender: 0xdeadbeef,
    receiver: 7,
    senderEpoch: 1767225600123,
    receiverEpoch: 2 ** 52 + 5,
    pn: 2 ** 40 + 3,
    seq: 0xfffffffe,
    window: 0xfffffff0,
    ack: 12345,
    count: 0,
    bodyLen: 0,
    age: 0xfedcba98,
    ...over,
  });
}

/** A whole message (zero MAC) with the given body. */
function message(h: MsgHeader, body: Uint8Array): Uint8Array {
  const b = new Uint8Array(HEADER_LEN + body.length + MAC_LEN);
  h.bodyLen = body.length;
  writeHeader(b, 0, h);
  b.set(body, HEADER_LEN);
  return b;
}

describe('sync message header', () => {
  it('round-trips every field, 64-bit ones included', () => {
    const h = header({ count: 0 });
    const b = message(h, new Uint8Array(0));
    const out = new MsgHeader();
    expect(readHeader(b, 0, b.length, out)).toBe(ME_OK);
    expect(out).toEqual({ ...h, bodyOff: HEADER_LEN });
  });

  it('decodes at an offset inside a larger buffer', () => {
    const m = message(header({ type: T_ACK }), new Uint8Array(0));
    const big = new Uint8Array(m.length + 100);
    big.set(m, 37);
    const out = new MsgHeader();
    expect(readHeader(big, 37, m.length, out)).toBe(ME_OK);
    expect(out.bodyOff).toBe(37 + HEADER_LEN);
    expect(out.ack).toBe(12345);
  });

  it('names each header error', () => {
    const good = message(header({ type: T_ACK }), new Uint8Array(0));
    const out = new MsgHeader();
    const tweak = (f: (b: Uint8Array) => void, len = good.length) => {
      const b = good.slice();
      f(b);
      return msgErrorName(readHeader(b, 0, len, out));
    };
    expect(tweak(() => {}, HEADER_LEN + MAC_LEN - 1)).toBe('truncated');
    expect(readHeader(good, 10, good.length, out)).toBe(ME_TRUNCATED); // runs past the buffer
    expect(tweak((b) => (b[0] = 0x54))).toBe('bad-magic');
    expect(tweak((b) => (b[4] = 2))).toBe('bad-version');
    expect(tweak((b) => (b[5] = 0))).toBe('bad-type');
    expect(tweak((b) => (b[5] = 8))).toBe('bad-type');
    expect(tweak((b) => (b[7] = 0x80))).toBe('bad-flags');
    expect(tweak((b) => (b[55] = 1))).toBe('bad-length');
    expect([ME_BAD_MAGIC, ME_BAD_VERSION, ME_BAD_TYPE, ME_BAD_FLAGS, ME_BAD_LENGTH]).toEqual([2, 3, 4, 5, 6]);
  });

  it('checks bodies by type: counts, sizes and NACK ranges', () => {
    const out = new MsgHeader();
    const check = (h: MsgHeader, body: Uint8Array) => {
      const b = message(h, body);
      expect(readHeader(b, 0, b.length, out)).toBe(ME_OK);
      return checkBody(b, out);
    };
    expect(check(header({ type: T_ACK }), new Uint8Array(0))).toBe(ME_OK);
    expect(check(header({ type: T_ACK }), new Uint8Array(4))).toBe(ME_BAD_BODY);
    expect(check(header({ type: T_ACK, count: 1 }), new Uint8Array(0))).toBe(ME_BAD_BODY);
    expect(check(header({ type: T_BULK_END }), new Uint8Array(12))).toBe(ME_OK);
    expect(check(header({ type: T_BULK_END }), new Uint8Array(8))).toBe(ME_BAD_BODY);
    expect(check(header({ type: T_SESSIONS, count: 0 }), new Uint8Array(0))).toBe(ME_BAD_BODY);
    // NACK: ack 100, highest 120, missing 101-103 and 110-110.
    const nack = (ranges: number[][], high = 120, flags = MF_ACK) => {
      const body = new Uint8Array(4 + ranges.length * 8);
      wr32(body, 0, high);
      ranges.forEach(([f, l], i) => {
        wr32(body, 4 + i * 8, f!);
        wr32(body, 8 + i * 8, l!);
      });
      return check(header({ type: T_NACK, flags, ack: 100, count: ranges.length }), body);
    };
    expect(
      nack([
        [101, 103],
        [110, 110],
      ]),
    ).toBe(ME_OK);
    expect(
      nack(
        [
          [101, 103],
          [110, 110],
        ],
        120,
        0,
      ),
    ).toBe(ME_BAD_BODY); // a NACK must carry its ack
    expect(nack([[100, 103]])).toBe(ME_BAD_BODY); // at or before the ack
    expect(nack([[105, 103]])).toBe(ME_BAD_BODY); // reversed
    expect(
      nack([
        [110, 112],
        [101, 103],
      ]),
    ).toBe(ME_BAD_BODY); // out of order
    expect(nack([[101, 120]])).toBe(ME_BAD_BODY); // reaches the highest received
    expect(nack([])).toBe(ME_BAD_BODY);
  });
});

describe('session records', () => {
  it('round-trip through encode/decode with every field (property)', () => {
    const buf = new Uint8Array(256);
    const view = viewOf(buf);
    const back = new SessionRecord();
    fc.assert(
      fc.property(recSpec, (s) => {
        const rec = toRecord(s);
        const end = encodeRecord(view, 3, rec);
        expect(end - 3).toBe(recordLenOf(rec.rflags()));
        expect(checkRecords(buf, 3, end - 3, 1)).toBe(0);
        expect(decodeRecord(view, 3, back)).toBe(end);
        expect(plain(back)).toEqual(plain(rec));
        expect(back.hasTcp).toBe(s.proto === 6 && s.op !== OP_DELETE);
        expect(back.v6).toBe(s.v6 && !s.addrs.every((a) => a[0] === 0 && a[1] === 0 && a[2] === 0xffff));
      }),
      { numRuns: 500 },
    );
  });

  it('pack into a body up to its size and come back in order (property)', () => {
    fc.assert(
      fc.property(fc.array(recSpec, { minLength: 1, maxLength: 40 }), (specs) => {
        const w = new BodyWriter(MAX_BODY);
        const put: ReturnType<typeof plain>[] = [];
        for (const s of specs) {
          const rec = toRecord(s);
          if (!w.add(rec)) {
            expect(w.len + rec.byteLength()).toBeGreaterThan(MAX_BODY);
            break;
          }
          put.push(plain(rec));
        }
        expect(checkRecords(w.buf, 0, w.len, w.count)).toBe(0);
        const back = new SessionRecord();
        let o = 0;
        for (const p of put) {
          o = decodeRecord(w.view, o, back);
          expect(plain(back)).toEqual(p);
        }
        expect(o).toBe(w.len);
      }),
      { numRuns: 200 },
    );
  });

  it('sizes: 56/104 bytes for IPv4 without/with TCP, 104/152 for IPv6', () => {
    expect([recordLenOf(0), recordLenOf(RF_TCP), recordLenOf(RF_V6), recordLenOf(RF_V6 | RF_TCP)]).toEqual([
      56, 104, 104, 152,
    ]);
    // A full message holds 12 IPv4 TCP records.
    expect(Math.floor(MAX_BODY / 104)).toBe(12);
  });

  it('rejects bad ops, flags, lengths, TCP words on the wrong protocol, and leftovers', () => {
    const rec = toRecord({
      op: OP_INSERT,
      zone: 1,
      proto: 17,
      v6: false,
      addrs: [1, 2, 3, 4].map((a) => Uint32Array.of(0, 0, 0xffff, a)),
      origPorts: 1,
      replyPorts: 2,
      version: 9,
      owner: 1,
      flags: 0,
      state: 0,
      portOrig: 0,
      portReply: 1,
      aux: 0xffff,
      lifetimeMs: 30000,
      tcp: new Array<number>(12).fill(0),
    });
    const buf = new Uint8Array(200);
    const n = encodeRecord(viewOf(buf), 0, rec);
    const bad = (f: (b: Uint8Array) => void, len = n, count = 1) => {
      const b = buf.slice();
      f(b);
      return checkRecords(b, 0, len, count);
    };
    expect(bad(() => {})).toBe(0);
    expect(bad((b) => (b[0] = 0))).toBe(ME_BAD_RECORD);
    expect(bad((b) => (b[0] = 4))).toBe(ME_BAD_RECORD);
    expect(bad((b) => (b[1] = 4))).toBe(ME_BAD_RECORD);
    expect(bad((b) => (b[3] = 60))).toBe(ME_BAD_RECORD); // length not what the flags say
    expect(bad((b) => (b[1] = RF_TCP))).toBe(ME_BAD_RECORD); // TCP words on UDP
    expect(bad((b) => (b[7] = 6))).toBe(ME_BAD_RECORD); // TCP insert without its words
    expect(bad(() => {}, n - 1)).toBe(ME_BAD_RECORD); // cut short
    expect(bad(() => {}, n + 4)).toBe(ME_BAD_RECORD); // bytes left over
    expect(bad(() => {}, n, 2)).toBe(ME_BAD_RECORD); // count says two
    expect(bad(() => {}, 10)).toBe(ME_BAD_RECORD);
  });

  it('never throws on random bytes or mutated messages; what passes the checks decodes', () => {
    const rec = new SessionRecord();
    const out = new MsgHeader();
    const valid = (() => {
      const w = new BodyWriter(MAX_BODY);
      w.add(toRecord(fc.sample(recSpec, { seed: 1, numRuns: 1 })[0]!));
      const h = header({ count: 1 });
      return message(h, w.buf.subarray(0, w.len));
    })();
    fc.assert(
      fc.property(
        fc.oneof(
          fc.uint8Array({ minLength: 0, maxLength: 300 }),
          fc.tuple(fc.nat(valid.length - 1), fc.integer({ min: 1, max: 255 })).map(([i, x]) => {
            const b = valid.slice();
            b[i] = b[i]! ^ x;
            return b;
          }),
        ),
        (b) => {
          const e = readHeader(b, 0, b.length, out);
          if (e !== ME_OK || checkBody(b, out) !== ME_OK || out.type !== T_SESSIONS) return;
          let o = out.bodyOff;
          const v = viewOf(b);
          for (let i = 0; i < out.count; i++) o = decodeRecord(v, o, rec);
          expect(o).toBe(out.bodyOff + out.bodyLen);
        },
      ),
      { numRuns: 2000 },
    );
  });
});
