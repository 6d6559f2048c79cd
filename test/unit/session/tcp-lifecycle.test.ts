import { describe, expect, it } from 'vitest';
import {
  DEFAULT_TCP_TIMEOUTS,
  TCP_INVALID_FLAGS,
  TCP_NO_SESSION,
  TCP_OK,
  TcpStore,
  tcpCanCreate,
  tcpIsAssured,
  tcpTimeoutMs,
  tcpTrack,
} from '../../../src/session/tcp-track.js';
import { TCP_STATE_NAMES } from '../../../src/session/tcp-states.js';
import {
  CF_SEEN_REPLY,
  M_CFLAGS,
  TCP_WORDS,
  TDF_LIBERAL,
  W_META,
  getTdFlags,
  tcpMaxWin,
} from '../../../src/session/tcp-store.js';
import { TCP_FIN, TCP_SYN, TCP_URG } from '../../../src/wire/packet.js';
import { ACK, Conn, FINACK, RST, SYN, SYNACK, cfg, seg } from './tcp-helpers.js';

const T = DEFAULT_TCP_TIMEOUTS;
const timeout = (c: Conn) => tcpTimeoutMs(c.store, c.id, T);

describe('session creation and loose pickup', () => {
  it('tcpCanCreate', () => {
    const loose = cfg();
    const strict = cfg({ loose: false });
    expect(tcpCanCreate(seg(SYN, 1, 0), strict)).toBe(TCP_OK);
    expect(tcpCanCreate(seg(SYN | TCP_URG, 1, 0), strict)).toBe(TCP_OK);
    expect(tcpCanCreate(seg(ACK, 1, 1), loose)).toBe(TCP_OK);
    expect(tcpCanCreate(seg(ACK, 1, 1), strict)).toBe(TCP_NO_SESSION);
    expect(tcpCanCreate(seg(SYNACK, 1, 1), loose)).toBe(TCP_NO_SESSION);
    expect(tcpCanCreate(seg(FINACK, 1, 1), loose)).toBe(TCP_NO_SESSION);
    expect(tcpCanCreate(seg(RST, 1, 0), loose)).toBe(TCP_NO_SESSION);
    expect(tcpCanCreate(seg(TCP_SYN | TCP_FIN, 1, 0), loose)).toBe(TCP_INVALID_FLAGS);
    expect(tcpCanCreate(seg(0, 1, 0), loose)).toBe(TCP_INVALID_FLAGS);
  });

  it('mid-stream pickup: ESTABLISHED, liberal, assured after a reply and one more packet', () => {
    const c = new Conn(10_000, 20_000);
    expect(c.init(seg(ACK, 10_000, 20_000, { len: 100, win: 300 }))).toBe('ok');
    expect(c.state).toBe('ESTABLISHED');
    expect(getTdFlags(c.store, c.id, 0) & TDF_LIBERAL).toBe(TDF_LIBERAL);
    expect(getTdFlags(c.store, c.id, 1) & TDF_LIBERAL).toBe(TDF_LIBERAL);
    expect(timeout(c)).toBe(300_000); // no reply yet: at most UNACK
    expect(tcpIsAssured(c.store, c.id)).toBe(false);
    // window scale is unknown after pickup: huge segments must still pass
    expect(c.send(1, seg(ACK, 20_000, 10_100, { len: 60_000, win: 50 }))).toBe('ok');
    expect(tcpIsAssured(c.store, c.id)).toBe(false);
    expect(c.send(0, seg(ACK, 10_100, 80_000, { len: 200_000, win: 20 }))).toBe('ok');
    expect(tcpIsAssured(c.store, c.id)).toBe(true);
  });

  it('pickup off: tcpInit refuses and leaves the session cleared', () => {
    const c = new Conn(1, 1, cfg({ loose: false }));
    expect(c.init(seg(ACK, 1, 1))).toBe('no-session');
    expect(c.state).toBe('NONE');
  });

  it('invalid flags are dropped in any state', () => {
    const c = new Conn().handshake();
    for (const f of [0, TCP_FIN, TCP_SYN | TCP_FIN, TCP_SYN | RST, 0xff]) {
      expect(tcpTrack(c.store, c.id, 0, seg(f, c.c, c.s), c.config)).toBe(TCP_INVALID_FLAGS);
    }
    expect(c.state).toBe('ESTABLISHED');
  });
});

describe('timeouts', () => {
  const names = [
    'synSent',
    'synRecv',
    'established',
    'finWait',
    'closeWait',
    'lastAck',
    'timeWait',
    'close',
    'synSent2',
  ] as const;
  it.each(names.map((n, i) => [TCP_STATE_NAMES[i + 1]!, n, i + 1] as const))('%s uses %s', (_s, key, st) => {
    const store = new TcpStore(2);
    store.data[1 * TCP_WORDS + W_META] = st | (CF_SEEN_REPLY << M_CFLAGS); // seen reply, nothing else
    expect(tcpTimeoutMs(store, 1, T)).toBe(T[key] * 1000);
  });

  it("defaults are conntrack's", () => {
    expect(T).toMatchObject({
      synSent: 120,
      synRecv: 60,
      established: 432000,
      finWait: 120,
      closeWait: 60,
      lastAck: 30,
      timeWait: 120,
      close: 10,
      synSent2: 120,
      retrans: 300,
      unack: 300,
    });
  });

  it('unacknowledged data shortens ESTABLISHED to UNACK until acked', () => {
    const c = new Conn().handshake();
    c.data(0, 1000);
    expect(timeout(c)).toBe(300_000);
    c.data(1, 0);
    expect(timeout(c)).toBe(432000_000);
  });

  it('retransmissions beyond maxRetrans use RETRANS', () => {
    const c = new Conn().handshake();
    c.data(0, 100);
    for (let i = 0; i < 3; i++) expect(c.send(0, seg(ACK, c.c - 100, c.s, { len: 100 }))).toBe('ok');
    expect(timeout(c)).toBe(300_000);
    c.data(1, 0);
    expect(timeout(c)).toBe(432000_000);
  });

  it('a zero window uses RETRANS', () => {
    const c = new Conn().handshake();
    c.data(1, 0, 0);
    expect(timeout(c)).toBe(300_000);
  });

  it('custom timeouts, shorter states keep their own', () => {
    const c = new Conn().handshake();
    c.data(0, 1000);
    const t = { ...T, established: 100, unack: 200 };
    expect(tcpTimeoutMs(c.store, c.id, t)).toBe(100_000);
  });
});

describe('TcpStore', () => {
  it('uses BYTES_PER_SESSION bytes a session and clear() resets one session only', () => {
    const store = new TcpStore(8);
    const arrays = Object.values(store).filter((v): v is Uint8Array | Uint32Array => ArrayBuffer.isView(v));
    expect(arrays.reduce((n, a) => n + a.byteLength, 0) / 8).toBe(TcpStore.BYTES_PER_SESSION);
    const a = new Conn().handshake();
    const b = new Conn();
    b.handshake();
    a.store.clear(a.id);
    expect(a.state).toBe('NONE');
    expect(tcpMaxWin(a.store, a.id, 0)).toBe(0);
    expect(tcpIsAssured(a.store, a.id)).toBe(false);
    expect(b.state).toBe('ESTABLISHED');
  });
});
