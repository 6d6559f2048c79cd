import { getTdScale } from '../../../src/session/tcp-store.js';
import { describe, expect, it } from 'vitest';
import {
  DEFAULT_TCP_TIMEOUTS,
  TCP_IGNORE,
  TCP_INVALID_FLAGS,
  TCP_NO_SESSION,
  TCP_OK,
  TCP_OUT_OF_WINDOW,
  TCP_REOPEN,
  tcpIsAssured,
  tcpIsDrop,
  tcpSeenReply,
  tcpTimeoutMs,
  tcpVerdictName,
} from '../../../src/session/tcp-track.js';
import { tcpDescribe } from '../../../src/session/tcp-print.js';
import { ACK, Conn, FINACK, RST, RSTACK, SYN, SYNACK, cfg, seg } from './tcp-helpers.js';

const T = DEFAULT_TCP_TIMEOUTS;
const timeout = (c: Conn) => tcpTimeoutMs(c.store, c.id, T);

describe('verdict codes', () => {
  it('names and drop classification', () => {
    expect(tcpVerdictName(TCP_OK)).toBe('ok');
    expect(tcpVerdictName(TCP_IGNORE)).toBe('ignore');
    expect(tcpVerdictName(TCP_REOPEN)).toBe('reopen');
    expect(tcpVerdictName(TCP_INVALID_FLAGS)).toBe('invalid-tcp-flags');
    expect(tcpVerdictName(TCP_OUT_OF_WINDOW)).toBe('out-of-window');
    expect(tcpVerdictName(TCP_NO_SESSION)).toBe('no-session');
    expect([TCP_OK, TCP_IGNORE, TCP_REOPEN].map(tcpIsDrop)).toEqual([false, false, false]);
    expect(tcpIsDrop(TCP_OUT_OF_WINDOW)).toBe(true);
  });
});

describe('three-way handshake', () => {
  it('NONE -> SYN_SENT -> SYN_RECV -> ESTABLISHED, assured on the final ACK', () => {
    const c = new Conn();
    expect(c.init(seg(SYN, 1000, 0))).toBe('ok');
    expect(c.state).toBe('SYN_SENT');
    expect(timeout(c)).toBe(120_000);
    expect(tcpIsAssured(c.store, c.id)).toBe(false);
    expect(c.send(1, seg(SYNACK, 5000, 1001))).toBe('ok');
    expect(c.state).toBe('SYN_RECV');
    expect(timeout(c)).toBe(60_000);
    expect(tcpSeenReply(c.store, c.id)).toBe(true);
    expect(tcpIsAssured(c.store, c.id)).toBe(false);
    expect(c.send(0, seg(ACK, 1001, 5001))).toBe('ok');
    expect(c.state).toBe('ESTABLISHED');
    expect(tcpIsAssured(c.store, c.id)).toBe(true);
    expect(timeout(c)).toBe(432000_000);
    expect(tcpDescribe(c.store, c.id)).toMatch(/^ESTABLISHED \[ASSURED\] orig\(end=1001/);
  });

  it('retransmitted SYN stays SYN_SENT and does not refresh the timer', () => {
    const c = new Conn();
    c.init(seg(SYN, 1000, 0));
    expect(c.send(0, seg(SYN, 1000, 0))).toBe('ignore');
    expect(c.state).toBe('SYN_SENT');
  });

  it('SYN-ACK in the original direction is invalid in SYN_SENT', () => {
    const c = new Conn();
    c.init(seg(SYN, 1000, 0));
    expect(c.send(0, seg(SYNACK, 1000, 7))).toBe('invalid-tcp-state');
    expect(c.state).toBe('SYN_SENT');
  });

  it('ACK before the SYN-ACK: invalid from the client, ignored from the server', () => {
    const c = new Conn();
    c.init(seg(SYN, 1000, 0));
    expect(c.send(0, seg(ACK, 1001, 5001))).toBe('invalid-tcp-state');
    expect(c.send(1, seg(ACK, 5000, 1001))).toBe('ignore');
    expect(c.state).toBe('SYN_SENT');
  });

  it('FIN in SYN_SENT is invalid; data after SYN_RECV closes via FIN_WAIT', () => {
    const c = new Conn();
    c.init(seg(SYN, 1000, 0));
    expect(c.send(0, seg(FINACK, 1001, 5001))).toBe('invalid-tcp-state');
    expect(c.send(1, seg(SYNACK, 5000, 1001))).toBe('ok');
    expect(c.send(0, seg(FINACK, 1001, 5001))).toBe('ok');
    expect(c.state).toBe('FIN_WAIT');
  });

  it('retransmitted SYN-ACK in SYN_RECV / ESTABLISHED is ignored', () => {
    const c = new Conn().handshake();
    expect(c.send(1, seg(SYNACK, 5000, 1001))).toBe('ignore');
    expect(c.state).toBe('ESTABLISHED');
  });

  it('SYN inside an established connection is ignored', () => {
    const c = new Conn().handshake();
    expect(c.send(0, seg(SYN, 777, 0))).toBe('ignore');
    expect(c.state).toBe('ESTABLISHED');
  });

  it('simultaneous open goes through SYN_SENT2', () => {
    const c = new Conn();
    c.init(seg(SYN, 1000, 0));
    // tracked, but like any SYN seen in SYN_SENT before a reply, it does not refresh the timer
    expect(c.send(1, seg(SYN, 5000, 0))).toBe('ignore');
    expect(c.state).toBe('SYN_SENT2');
    expect(timeout(c)).toBe(120_000);
    expect(c.send(0, seg(SYNACK, 1000, 5001))).toBe('ok');
    expect(c.state).toBe('SYN_RECV');
    expect(c.send(1, seg(ACK, 5001, 1001))).toBe('ok');
    expect(c.state).toBe('ESTABLISHED');
  });

  it('a SYN restarted with a higher ISN re-initialises the window', () => {
    const c = new Conn();
    c.init(seg(SYN, 1000, 0));
    expect(c.send(0, seg(SYN, 900_000, 0))).toBe('ignore');
    expect(c.send(1, seg(SYNACK, 5000, 900_001))).toBe('ok');
    expect(c.state).toBe('SYN_RECV');
  });
});

describe('closing', () => {
  it('client closes: FIN_WAIT, CLOSE_WAIT, LAST_ACK, TIME_WAIT', () => {
    const c = new Conn().handshake();
    expect(c.fin(0)).toBe('ok');
    expect(c.state).toBe('FIN_WAIT');
    expect(timeout(c)).toBe(120_000);
    expect(c.ack(1)).toBe('ok');
    expect(c.state).toBe('CLOSE_WAIT');
    expect(timeout(c)).toBe(60_000);
    expect(c.fin(1)).toBe('ok');
    expect(c.state).toBe('LAST_ACK');
    expect(timeout(c)).toBe(30_000);
    expect(c.ack(0)).toBe('ok');
    expect(c.state).toBe('TIME_WAIT');
    expect(timeout(c)).toBe(120_000);
    expect(c.ack(0)).toBe('ok'); // retransmitted last ACK
    expect(c.state).toBe('TIME_WAIT');
  });

  it('server closes first', () => {
    const c = new Conn().handshake();
    expect(c.data(1, 100)).toBe('ok');
    expect(c.fin(1)).toBe('ok');
    expect(c.state).toBe('FIN_WAIT');
    expect(c.ack(0)).toBe('ok');
    expect(c.state).toBe('CLOSE_WAIT');
    expect(c.data(0, 10)).toBe('ok'); // half-closed: client may still send
    expect(c.fin(0)).toBe('ok');
    expect(c.state).toBe('LAST_ACK');
    expect(c.ack(1)).toBe('ok');
    expect(c.state).toBe('TIME_WAIT');
  });

  it('simultaneous close', () => {
    const c = new Conn().handshake();
    expect(c.fin(0)).toBe('ok');
    expect(c.send(1, seg(FINACK, c.s, c.c - 1))).toBe('ok');
    c.s++;
    expect(c.state).toBe('LAST_ACK');
    expect(c.ack(0)).toBe('ok');
    expect(c.state).toBe('TIME_WAIT');
    expect(c.ack(1)).toBe('ok');
    expect(c.state).toBe('TIME_WAIT');
  });

  it('retransmitted FIN in LAST_ACK stays there', () => {
    const c = new Conn().handshake();
    c.fin(0);
    c.ack(1);
    c.fin(1);
    expect(c.send(1, seg(FINACK, c.s - 1, c.c))).toBe('ok');
    expect(c.state).toBe('LAST_ACK');
  });

  it('an RFC 5961 challenge ACK to a SYN in LAST_ACK does not count as the last ACK', () => {
    const c = new Conn().handshake();
    c.fin(1);
    c.ack(0);
    c.fin(0);
    expect(c.state).toBe('LAST_ACK');
    expect(c.send(0, seg(SYN, 424242, 0))).toBe('ignore');
    expect(c.send(1, seg(ACK, c.s, c.c))).toBe('ignore'); // the challenge ACK
    expect(c.state).toBe('LAST_ACK');
    expect(c.ack(1)).toBe('ok');
    expect(c.state).toBe('TIME_WAIT');
  });
});

describe('RST', () => {
  it('server refuses: RST+ACK acking the SYN closes; no reply seen -> expire now', () => {
    const c = new Conn();
    c.init(seg(SYN, 1000, 0));
    expect(c.send(1, seg(RSTACK, 0, 1001, { win: 0 }))).toBe('ok');
    expect(c.state).toBe('CLOSE');
    expect(timeout(c)).toBe(0);
  });

  it('RST+ACK in SYN_SENT acking something never sent is out-of-window', () => {
    const c = new Conn();
    c.init(seg(SYN, 1000, 0));
    expect(c.send(1, seg(RSTACK, 0, 1500))).toBe('out-of-window');
    expect(c.state).toBe('SYN_SENT');
  });

  it('RST from SYN_RECV closes', () => {
    const c = new Conn();
    c.init(seg(SYN, 1000, 0));
    c.send(1, seg(SYNACK, 5000, 1001));
    expect(c.send(0, seg(RST, 1001, 0))).toBe('ok');
    expect(c.state).toBe('CLOSE');
    expect(timeout(c)).toBe(10_000);
  });

  it('in-window RST at the exact sequence closes an established connection', () => {
    const c = new Conn().handshake();
    c.data(0, 500);
    c.data(1, 300);
    expect(c.send(1, seg(RST, c.s, 0))).toBe('ok');
    expect(c.state).toBe('CLOSE');
    expect(timeout(c)).toBe(10_000);
  });

  it("RST right after the sender's last segment (RST train) closes", () => {
    const c = new Conn().handshake();
    c.data(0, 100);
    c.data(1, 19);
    expect(c.send(1, seg(RSTACK, c.s, c.c))).toBe('ok');
    expect(c.state).toBe('CLOSE');
  });

  it('RST below what the peer acknowledged is out-of-window', () => {
    const c = new Conn().handshake();
    c.data(0, 500);
    c.data(1, 300);
    c.data(0, 0);
    expect(c.send(1, seg(RST, c.s - 200, 0))).toBe('out-of-window');
    expect(c.state).toBe('ESTABLISHED');
    const lax = new Conn(1000, 5000, cfg({ ignoreInvalidRst: true })).handshake();
    lax.data(0, 500);
    lax.data(1, 300);
    lax.data(0, 0);
    expect(lax.send(1, seg(RST, lax.s - 200, 0))).toBe('ok');
  });

  it('RST in window but not at the exact sequence keeps ESTABLISHED (challenge ACK may follow)', () => {
    const c = new Conn().handshake();
    c.data(0, 500);
    c.data(1, 300);
    c.data(0, 0);
    expect(c.send(1, seg(RST, c.s + 1000, 0))).toBe('ok');
    expect(c.state).toBe('ESTABLISHED');
    expect(timeout(c)).toBe(10_000); // conntrack arms the CLOSE timeout on any accepted RST
  });

  it('RST far outside the window is out-of-window', () => {
    const c = new Conn().handshake();
    expect(c.send(1, seg(RST, c.s + 10_000_000, 0))).toBe('out-of-window');
    expect(c.state).toBe('ESTABLISHED');
  });

  it('RST answering a SYN we let through in ESTABLISHED closes without a window check', () => {
    const c = new Conn().handshake();
    c.data(0, 100);
    c.data(1, 100);
    expect(c.send(0, seg(SYN, 3_000_000_000, 0))).toBe('ignore');
    expect(c.send(1, seg(RSTACK, 0, 3_000_000_001))).toBe('ok');
    expect(c.state).toBe('CLOSE');
  });

  it('RST answering a challenge ACK in SYN_SENT closes', () => {
    const c = new Conn();
    c.init(seg(SYN, 1000, 0));
    // the server still holds an old connection and answers with a challenge ACK
    expect(c.send(1, seg(ACK, 8000, 424242))).toBe('ignore');
    expect(c.send(0, seg(RST, 424242, 0))).toBe('ok');
    expect(c.state).toBe('CLOSE');
  });

  it.each([
    ['FIN_WAIT', (c: Conn) => c.fin(0)],
    ['CLOSE_WAIT', (c: Conn) => (c.fin(0), c.ack(1))],
    ['LAST_ACK', (c: Conn) => (c.fin(0), c.ack(1), c.fin(1))],
    ['TIME_WAIT', (c: Conn) => (c.fin(0), c.ack(1), c.fin(1), c.ack(0))],
  ] as const)('RST in %s closes without a window check', (st, drive) => {
    for (const dir of [0, 1] as const) {
      const c = new Conn().handshake();
      drive(c);
      expect(c.state).toBe(st);
      expect(c.send(dir, seg(RST, 123456789, 0))).toBe('ok');
      expect(c.state).toBe('CLOSE');
    }
  });
});

describe('reopen', () => {
  it('SYN in TIME_WAIT asks for a new session, from either side', () => {
    for (const dir of [0, 1] as const) {
      const c = new Conn().handshake();
      c.fin(0);
      c.ack(1);
      c.fin(1);
      c.ack(0);
      expect(c.send(dir, seg(SYN, 99999, 0))).toBe('reopen');
      expect(c.state).toBe('TIME_WAIT');
    }
  });

  it('SYN in CLOSE after the same side reset reopens', () => {
    const c = new Conn().handshake();
    c.send(0, seg(RST, c.c, 0));
    expect(c.state).toBe('CLOSE');
    expect(c.send(0, seg(SYN, 99999, 0))).toBe('reopen');
  });

  it('SYN in CLOSE after the other side reset is ignored, and its SYN-ACK resyncs', () => {
    const c = new Conn().handshake();
    c.send(1, seg(RST, c.s, 0));
    expect(c.state).toBe('CLOSE');
    expect(c.send(0, seg(SYN, 77777, 0, { wscale: 7 }))).toBe('ignore');
    expect(c.send(1, seg(SYNACK, 33333, 77778, { wscale: 7 }))).toBe('ok');
    expect(c.state).toBe('SYN_RECV');
    expect(c.send(0, seg(ACK, 77778, 33334))).toBe('ok');
    expect(c.state).toBe('ESTABLISHED');
    expect(getTdScale(c.store, c.id, 0)).toBe(7);
  });
});
