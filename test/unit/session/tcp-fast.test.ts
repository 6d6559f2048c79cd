import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { tcpFastAck } from '../../../src/session/tcp-fast.js';
import {
  DEFAULT_TCP_TIMEOUTS,
  TCP_OK,
  TcpStore,
  tcpInit,
  tcpIsAssured,
  tcpTimeoutMs,
  tcpTrack,
  tcpTrackGeneral,
  type TcpConfig,
} from '../../../src/session/tcp-track.js';
import { TCP_ACK, TCP_FIN, TCP_PSH, TCP_RST, TCP_SYN, TCP_URG } from '../../../src/wire/packet.js';
import { ACK, Conn, cfg, seg } from './tcp-helpers.js';

/** One step of a conversation: who sends, how far off the expected numbers, what. */
const step = fc.record({
  dir: fc.constantFrom<0 | 1>(0, 1),
  kind: fc.constantFrom('data', 'data', 'data', 'ack', 'retrans', 'fin', 'rst', 'syn', 'odd'),
  seqOff: fc.oneof(
    fc.constant(0),
    fc.constant(0),
    fc.integer({ min: -3000, max: 3000 }),
    fc.integer({ min: -0x7fffffff, max: 0x7fffffff }),
  ),
  ackOff: fc.oneof(fc.constant(0), fc.constant(0), fc.integer({ min: -200_000, max: 3000 })),
  len: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 1460 }), fc.integer({ min: 1, max: 65535 })),
  win: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 65535 }), fc.constant(65535)),
  sack: fc.option(fc.integer({ min: -5000, max: 5000 }), { nil: undefined }),
});

const config = fc.record({
  liberal: fc.boolean(),
  loose: fc.constant(true),
  maxRetrans: fc.integer({ min: 1, max: 15 }),
  strictLowerBound: fc.boolean(),
  ignoreInvalidRst: fc.boolean(),
});

const FLAGS: Record<string, number> = {
  data: TCP_ACK | TCP_PSH,
  ack: TCP_ACK,
  retrans: TCP_ACK,
  fin: TCP_FIN | TCP_ACK,
  rst: TCP_RST | TCP_ACK,
  syn: TCP_SYN,
  odd: TCP_ACK | TCP_URG,
};

describe('ESTABLISHED fast path', () => {
  it('leaves every verdict, timeout and stored word as the general path would', () => {
    fc.assert(
      fc.property(
        config,
        fc.record({
          cIsn: fc.integer({ min: 0, max: 0xffffffff }),
          sIsn: fc.integer({ min: 0, max: 0xffffffff }),
          cScale: fc.integer({ min: -1, max: 14 }),
          sScale: fc.integer({ min: -1, max: 14 }),
          sack: fc.boolean(),
          pickup: fc.boolean(),
        }),
        fc.array(step, { minLength: 1, maxLength: 60 }),
        (tcfg: TcpConfig, h, steps) => {
          const fast = new TcpStore(3);
          const slow = new TcpStore(3);
          const id = 1;
          let c = h.cIsn;
          let s = h.sIsn;
          const both = (dir: 0 | 1, p: ReturnType<typeof seg>, init = false): void => {
            const a = init ? tcpInit(fast, id, p, tcfg) : tcpTrack(fast, id, dir, p, tcfg);
            const b = init ? tcpInit(slow, id, p, tcfg) : tcpTrackGeneral(slow, id, dir, p, tcfg);
            expect(a).toBe(b);
            expect(Array.from(fast.data)).toEqual(Array.from(slow.data));
            expect(tcpTimeoutMs(fast, id, DEFAULT_TCP_TIMEOUTS)).toBe(
              tcpTimeoutMs(slow, id, DEFAULT_TCP_TIMEOUTS),
            );
            expect(tcpIsAssured(fast, id)).toBe(tcpIsAssured(slow, id));
          };
          if (h.pickup) {
            both(0, seg(ACK, c, s, { len: 10 }), true);
            c += 10;
          } else {
            const o = { wscale: h.cScale, sackPerm: h.sack };
            both(0, seg(TCP_SYN, c, 0, o), true);
            c += 1;
            both(1, seg(TCP_SYN | TCP_ACK, s, c, { wscale: h.sScale, sackPerm: h.sack }));
            s += 1;
            both(0, seg(ACK, c, s));
          }
          let prev = seg(ACK, c, s);
          let prevDir: 0 | 1 = 0;
          for (const st of steps) {
            if (st.kind === 'retrans') {
              both(prevDir, prev);
              continue;
            }
            const seq = (st.dir === 0 ? c : s) + st.seqOff;
            const ack = (st.dir === 0 ? s : c) + st.ackOff;
            const len = st.kind === 'data' || st.kind === 'odd' ? st.len : 0;
            const p = seg(FLAGS[st.kind]!, seq, ack, {
              len,
              win: st.win,
              sack: st.sack === undefined ? undefined : ack + st.sack,
            });
            both(st.dir, p);
            if (st.seqOff === 0) {
              const adv = len + (st.kind === 'fin' ? 1 : 0);
              if (st.dir === 0) c += adv;
              else s += adv;
            }
            prev = p;
            prevDir = st.dir;
          }
        },
      ),
      { numRuns: 400 },
    );
  });

  it('matches the general path on long retransmission runs and a window filled to zero', () => {
    const fast = new Conn(4000, 9000, cfg({ maxRetrans: 15 }));
    const slow = new TcpStore(4);
    const run = (dir: 0 | 1, p: ReturnType<typeof seg>): void => {
      expect(tcpTrack(fast.store, fast.id, dir, p, fast.config)).toBe(
        tcpTrackGeneral(slow, fast.id, dir, p, fast.config),
      );
      expect(Array.from(fast.store.data)).toEqual(Array.from(slow.data));
      expect(tcpTimeoutMs(fast.store, fast.id, DEFAULT_TCP_TIMEOUTS)).toBe(
        tcpTimeoutMs(slow, fast.id, DEFAULT_TCP_TIMEOUTS),
      );
    };
    expect(tcpInit(slow, fast.id, seg(TCP_SYN, 4000, 0), fast.config)).toBe(
      tcpInit(fast.store, fast.id, seg(TCP_SYN, 4000, 0), fast.config),
    );
    run(1, seg(TCP_SYN | TCP_ACK, 9000, 4001, { win: 1000 }));
    run(0, seg(ACK, 4001, 9001));
    const d = seg(ACK | TCP_PSH, 4001, 9001, { len: 500 });
    for (let i = 0; i < 20; i++) run(0, d);
    run(0, seg(ACK, 4501, 9001, { len: 500 }));
    run(1, seg(ACK, 9001, 5001, { win: 0 })); // acks the whole window and closes it
    run(1, seg(ACK, 9001, 5001, { win: 0 }));
    run(1, seg(ACK, 9001, 5001, { win: 2000 }));
  });

  it('takes in-window data of an established connection and writes nothing otherwise', () => {
    const k = new Conn().handshake();
    expect(tcpFastAck(k.store, k.id, 0, seg(ACK, k.c, k.s, { len: 100 }), cfg())).toBe(true);
    k.c += 100;
    const before = Array.from(k.store.data);
    // far out of window, FIN, SYN: general path
    expect(tcpFastAck(k.store, k.id, 0, seg(ACK, k.c + 10_000_000, k.s, { len: 100 }), cfg())).toBe(false);
    expect(tcpFastAck(k.store, k.id, 1, seg(TCP_FIN | TCP_ACK, k.s, k.c), cfg())).toBe(false);
    expect(tcpFastAck(k.store, k.id, 1, seg(TCP_SYN, k.s, 0), cfg())).toBe(false);
    expect(Array.from(k.store.data)).toEqual(before);
    expect(k.data(1, 0)).toBe('ok');
    expect(TCP_OK).toBe(0);
  });
});
