import fc from 'fast-check';
import { getTdScale } from '../../../src/session/tcp-store.js';
import { describe, expect, it } from 'vitest';
import { tcpStateName } from '../../../src/session/tcp-print.js';
import {
  DEFAULT_TCP_TIMEOUTS,
  TcpStore,
  tcpInit,
  tcpIsAssured,
  tcpState,
  tcpTimeoutMs,
  tcpTrack,
  tcpVerdictName,
} from '../../../src/session/tcp-track.js';
import { ACK, FINACK, SYN, SYNACK, cfg, seg } from './tcp-helpers.js';

/** One endpoint of a well-behaved TCP conversation. */
interface Side {
  nxt: number; // next sequence to send
  rcvNxt: number; // next sequence expected from the peer (everything received is acked)
  una: number; // highest ack received from the peer
  peerWnd: number; // the peer's last announced window, in bytes
  shift: number; // our window scale shift, when scaling is in effect
  rwnd: number; // our receive window, in bytes
  scaleOpt: number | undefined;
}

const isn = fc.oneof(
  fc
    .tuple(fc.integer({ min: 0, max: 0xffff }), fc.integer({ min: 0, max: 0xffff }))
    .map(([h, l]) => ((h << 16) | l) >>> 0),
  fc.integer({ min: 1, max: 1 << 20 }).map((d) => (0x1_0000_0000 - d) >>> 0),
);
const scale = fc.option(fc.integer({ min: 0, max: 14 }), { nil: undefined });
const step = fc.record({
  dir: fc.constantFrom(0 as const, 1 as const),
  frac: fc.double({ min: 0, max: 1, noNaN: true }),
});

const conversation = fc.record({
  cIsn: isn,
  sIsn: isn,
  cScale: scale,
  sScale: scale,
  cRwnd: fc.integer({ min: 1, max: 1 << 24 }),
  sRwnd: fc.integer({ min: 1, max: 1 << 24 }),
  sack: fc.boolean(),
  steps: fc.array(step, { maxLength: 60 }),
  closer: fc.constantFrom(0 as const, 1 as const),
  halfClose: fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 5 }),
  liberal: fc.boolean(),
});

describe('property: a well-behaved conversation is always accepted', () => {
  it('random ISNs (incl. near 2^32), window scales, segment sizes within the announced windows', () => {
    fc.assert(
      fc.property(conversation, (p) => {
        const config = cfg({ liberal: p.liberal });
        const store = new TcpStore(2);
        const id = 1;
        const scaling = p.cScale !== undefined && p.sScale !== undefined;
        const mk = (isn0: number, sc: number | undefined, rwnd: number): Side => ({
          nxt: isn0,
          rcvNxt: 0,
          una: 0,
          peerWnd: 0,
          shift: scaling ? Math.min(sc!, 14) : 0,
          rwnd,
          scaleOpt: sc,
        });
        const sides: [Side, Side] = [mk(p.cIsn, p.cScale, p.cRwnd), mk(p.sIsn, p.sScale, p.sRwnd)];
        const log: string[] = [];
        const field = (x: Side, syn: boolean) =>
          syn ? Math.min(65535, x.rwnd) : Math.max(1, Math.min(65535, Math.floor(x.rwnd / 2 ** x.shift)));
        const expectOk = (r: number, what: string) => {
          if (tcpVerdictName(r) !== 'ok') {
            throw new Error(
              `${what}: ${tcpVerdictName(r)} in ${tcpStateName(tcpState(store, id))}\n${log.join('\n')}`,
            );
          }
        };
        /** Send one segment from `dir` and deliver it to the peer. */
        const send = (dir: 0 | 1, flags: number, len: number) => {
          const x = sides[dir];
          const y = sides[dir ^ 1]!;
          const syn = (flags & SYN) !== 0;
          const win = field(x, syn);
          const pkt = seg(flags, x.nxt, x.rcvNxt, {
            len,
            win,
            wscale: syn ? x.scaleOpt : undefined,
            sackPerm: syn && p.sack,
          });
          log.push(`${dir ? 'S>C' : 'C>S'} f=${flags} seq=${x.nxt} ack=${x.rcvNxt} len=${len} win=${win}`);
          const r =
            dir === 0 && flags === SYN
              ? tcpInit(store, id, pkt, config)
              : tcpTrack(store, id, dir, pkt, config);
          expectOk(r, log[log.length - 1]!);
          const segLen = len + (syn ? 1 : 0) + (flags & 1 ? 1 : 0);
          x.nxt = (x.nxt + segLen) >>> 0;
          y.rcvNxt = x.nxt;
          if (flags & ACK) y.una = pkt.ack;
          y.peerWnd = syn ? win : win * 2 ** x.shift;
        };
        const sendData = (dir: 0 | 1, frac: number, flags = ACK) => {
          const x = sides[dir];
          const avail = ((x.una + x.peerWnd - x.nxt) | 0) > 0 ? (x.una + x.peerWnd - x.nxt) | 0 : 0;
          send(dir, flags, Math.floor(frac * Math.min(avail, 1 << 20)));
        };

        send(0, SYN, 0);
        send(1, SYNACK, 0);
        send(0, ACK, 0);
        expect(tcpStateName(tcpState(store, id))).toBe('ESTABLISHED');
        expect(tcpIsAssured(store, id)).toBe(true);
        expect(getTdScale(store, id, 0)).toBe(sides[0].shift);
        expect(getTdScale(store, id, 1)).toBe(sides[1].shift);

        for (const s of p.steps) sendData(s.dir, s.frac);
        expect(tcpStateName(tcpState(store, id))).toBe('ESTABLISHED');

        const a = p.closer;
        const b = (a ^ 1) as 0 | 1;
        send(a, FINACK, 0);
        expect(tcpStateName(tcpState(store, id))).toBe('FIN_WAIT');
        send(b, ACK, 0);
        expect(tcpStateName(tcpState(store, id))).toBe('CLOSE_WAIT');
        for (const f of p.halfClose) {
          sendData(b, f); // the other side may keep sending
          send(a, ACK, 0);
        }
        expect(tcpStateName(tcpState(store, id))).toBe('CLOSE_WAIT');
        send(b, FINACK, 0);
        expect(tcpStateName(tcpState(store, id))).toBe('LAST_ACK');
        send(a, ACK, 0);
        expect(tcpStateName(tcpState(store, id))).toBe('TIME_WAIT');
        expect(tcpTimeoutMs(store, id, DEFAULT_TCP_TIMEOUTS)).toBe(120_000);
      }),
      { numRuns: 400 },
    );
  });
});
