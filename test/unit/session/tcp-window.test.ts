import { describe, expect, it } from 'vitest';
import {
  TDF_DATA_UNACK,
  getTdFlags,
  getTdScale,
  tcpMaxEnd,
  tcpMaxWin,
  tcpNextSeq,
} from '../../../src/session/tcp-store.js';
import { ACK, Conn, RST, cfg, seg } from './tcp-helpers.js';

describe('window tracking', () => {
  it('accepts in-window data both ways and tracks td_end / td_maxend', () => {
    const c = new Conn().handshake();
    expect(c.data(0, 1400)).toBe('ok');
    expect(c.data(1, 1400)).toBe('ok');
    expect(c.data(0, 1400)).toBe('ok');
    expect(tcpNextSeq(c.store, c.id, 0)).toBe(c.c);
    expect(tcpNextSeq(c.store, c.id, 1)).toBe(c.s);
    // the client may send up to what the server acked plus its window
    expect(tcpMaxEnd(c.store, c.id, 0)).toBe((c.c - 1400 + 65535) >>> 0);
  });

  it('drops data far beyond the window', () => {
    const c = new Conn().handshake();
    expect(c.send(0, seg(ACK, c.c + 10_000_000, c.s, { len: 100 }))).toBe('out-of-window');
    expect(c.send(0, seg(ACK, c.c + 3 * 65535, c.s, { len: 100 }))).toBe('out-of-window');
    // just past the edge by less than the receiver's window: conntrack's overrun tolerance
    expect(c.send(0, seg(ACK, c.c + 65535 + 1, c.s, { len: 100 }))).toBe('ignore');
    expect(c.send(0, seg(ACK, c.c + 65535, c.s, { len: 0 }))).toBe('ok'); // exactly at the edge
    expect(c.state).toBe('ESTABLISHED');
  });

  it('drops an ACK for data never sent', () => {
    const c = new Conn().handshake();
    c.data(1, 100);
    expect(c.send(0, seg(ACK, c.c, c.s + 1))).toBe('out-of-window');
    expect(c.send(0, seg(ACK, c.c, c.s + 5000))).toBe('out-of-window');
    expect(c.send(0, seg(ACK, c.c, c.s))).toBe('ok');
  });

  it('a small overrun of the receive window is let through unchanged and remembered', () => {
    const c = new Conn();
    c.handshake({ sWin: 1000 });
    expect(c.data(0, 1500)).toBe('ok'); // starts inside the window
    const seq = c.c;
    expect(c.send(0, seg(ACK, seq, c.s, { len: 100 }))).toBe('ignore'); // starts beyond it
    expect(tcpNextSeq(c.store, c.id, 0)).toBe((seq + 100) >>> 0);
    expect(getTdFlags(c.store, c.id, 0) & TDF_DATA_UNACK).toBe(TDF_DATA_UNACK);
    expect(c.send(1, seg(ACK, c.s, seq + 100, { win: 1000 }))).toBe('ok'); // its ACK passes
  });

  it('old retransmitted data below the window: ignored (current conntrack) or dropped (strictLowerBound)', () => {
    for (const strict of [false, true]) {
      const c = new Conn(1000, 5000, cfg({ strictLowerBound: strict }));
      c.handshake({ cScale: 2, sScale: 2 });
      for (let i = 0; i < 10; i++) {
        expect(c.data(0, 60000)).toBe('ok');
        expect(c.data(1, 0, 65535)).toBe('ok');
      }
      const r = c.send(0, seg(ACK, 1001, c.s, { len: 100 }));
      expect(r).toBe(strict ? 'out-of-window' : 'ignore');
    }
  });

  it('an overly delayed ACK (below td_end - MAXACKWINDOW) is ignored', () => {
    const c = new Conn();
    c.handshake({ cScale: 3, sScale: 3, cWin: 8000 }); // client window 64000: MAXACKWINDOW is 66000
    const s0 = c.s;
    for (let i = 0; i < 5; i++) {
      expect(c.data(1, 60000)).toBe('ok');
      expect(c.data(0, 0, 8000)).toBe('ok');
    }
    expect(c.send(0, seg(ACK, c.c, s0))).toBe('ignore');
    expect(c.send(0, seg(ACK, c.c, c.s - 50000))).toBe('ok'); // within 66000
  });

  describe('window scaling', () => {
    const script = (c: Conn): string[] => {
      const out = [c.data(1, 0, 1000)]; // server: window field 1000
      out.push(c.data(0, 1000), c.data(0, 60000), c.data(0, 60000));
      return out;
    };
    it('both sides offer wscale: the scaled window (1000 << 7) is honoured', () => {
      const c = new Conn();
      c.handshake({ cScale: 7, sScale: 7, sWin: 1000 });
      expect(getTdScale(c.store, c.id, 0)).toBe(7);
      expect(getTdScale(c.store, c.id, 1)).toBe(7);
      expect(script(c)).toEqual(['ok', 'ok', 'ok', 'ok']);
      expect(tcpMaxEnd(c.store, c.id, 0)).toBe((1001 + (1000 << 7)) >>> 0);
    });
    it.each([
      ['client only', 7, undefined],
      ['server only', undefined, 7],
    ])('%s offers wscale: no scaling, big data beyond the window is dropped', (_n, cs, ss) => {
      const c = new Conn();
      c.handshake({ cScale: cs, sScale: ss, sWin: 1000 });
      expect(getTdScale(c.store, c.id, 0)).toBe(0);
      expect(getTdScale(c.store, c.id, 1)).toBe(0);
      expect(script(c)).toEqual(['ok', 'ok', 'ok', 'out-of-window']);
    });
    it('scale above 14 is clamped', () => {
      const c = new Conn();
      c.handshake({ cScale: 20, sScale: 9 });
      expect(getTdScale(c.store, c.id, 0)).toBe(14);
      expect(getTdScale(c.store, c.id, 1)).toBe(9);
    });
    it('the window of a SYN is never scaled', () => {
      const c = new Conn();
      c.handshake({ cScale: 7, sScale: 7, sWin: 100 });
      // after the SYN-ACK (window 100, unscaled) the client may send 100 bytes
      expect(tcpMaxWin(c.store, c.id, 1)).toBe(100);
      expect(tcpMaxEnd(c.store, c.id, 0)).toBe(c.c + 100);
      // the same window field in a later segment is scaled
      expect(c.data(1, 0, 100)).toBe('ok');
      expect(tcpMaxWin(c.store, c.id, 1)).toBe(100 << 7);
      expect(tcpMaxEnd(c.store, c.id, 0)).toBe(c.c + (100 << 7));
    });
  });

  describe('SACK', () => {
    it('a SACK block beyond what was sent is dropped when SACK is permitted', () => {
      const c = new Conn();
      c.handshake({ sack: true });
      c.data(1, 1000);
      expect(c.send(0, seg(ACK, c.c, c.s - 1000, { sack: c.s + 10 }))).toBe('out-of-window');
      expect(c.send(0, seg(ACK, c.c, c.s - 1000, { sack: c.s }))).toBe('ok');
    });
    it('SACK blocks are not looked at without SACK-permitted', () => {
      const c = new Conn();
      c.handshake({ sack: false });
      c.data(1, 1000);
      expect(c.send(0, seg(ACK, c.c, c.s - 1000, { sack: c.s + 10 }))).toBe('ok');
    });
  });

  it('sequence numbers wrap around 2^32', () => {
    const c = new Conn(0xffff_fff0, 0xffff_ff00);
    c.handshake({ cScale: 4, sScale: 4 });
    for (let i = 0; i < 20; i++) {
      expect(c.data(0, 1460)).toBe('ok');
      expect(c.data(1, 1000)).toBe('ok');
    }
    expect(c.c).toBeLessThan(0x1_0000);
    expect(tcpNextSeq(c.store, c.id, 0)).toBe(c.c);
    expect(c.data(0, 100)).toBe('ok');
    // beyond the window across the wrap
    expect(c.send(0, seg(ACK, (c.c + 0x4000_0000) >>> 0, c.s, { len: 1 }))).toBe('out-of-window');
    // a RST at the exact next sequence (just past the wrap) closes
    expect(c.send(1, seg(RST, c.s, 0))).toBe('ok');
    expect(c.state).toBe('CLOSE');
  });

  it('liberal mode accepts out-of-window data but still updates the windows', () => {
    const c = new Conn(1000, 5000, cfg({ liberal: true }));
    c.handshake();
    const far = (c.c + 10_000_000) >>> 0;
    expect(c.send(0, seg(ACK, far, c.s, { len: 100 }))).toBe('ok');
    expect(tcpNextSeq(c.store, c.id, 0)).toBe((far + 100) >>> 0);
    expect(c.send(1, seg(ACK, c.s, far + 100))).toBe('ok'); // and its ACK is in window now
    expect(c.send(0, seg(ACK, c.c, c.s + 999))).toBe('ok'); // bad ACK accepted too
    expect(c.state).toBe('ESTABLISHED');
  });

  it('keepalive probes (seq one below) and their ACKs pass', () => {
    const c = new Conn().handshake();
    c.data(0, 100);
    c.data(1, 0);
    expect(c.send(0, seg(ACK, c.c - 1, c.s))).toBe('ok');
    expect(c.send(1, seg(ACK, c.s, c.c))).toBe('ok');
  });
});
