/** Test helpers for the TCP tracker: build Packets and script connections. */
import { expect } from 'vitest';
import { Packet, TCP_ACK, TCP_FIN, TCP_RST, TCP_SYN } from '../../../src/wire/packet.js';
import { tcpStateName } from '../../../src/session/tcp-print.js';
import {
  DEFAULT_TCP_CONFIG,
  TCP_OK,
  TcpStore,
  tcpInit,
  tcpState,
  tcpTrack,
  tcpVerdictName,
  type TcpConfig,
} from '../../../src/session/tcp-track.js';

export const SYN = TCP_SYN;
export const SYNACK = TCP_SYN | TCP_ACK;
export const ACK = TCP_ACK;
export const FINACK = TCP_FIN | TCP_ACK;
export const RST = TCP_RST;
export const RSTACK = TCP_RST | TCP_ACK;

export interface SegOpts {
  win?: number;
  len?: number;
  wscale?: number;
  sackPerm?: boolean;
  sack?: number;
}

export function seg(flags: number, seq: number, ack: number, o: SegOpts = {}): Packet {
  const p = new Packet();
  p.tcpFlags = flags;
  p.seq = seq >>> 0;
  p.ack = ack >>> 0;
  p.window = o.win ?? 65535;
  p.payloadLen = o.len ?? 0;
  p.wscale = o.wscale ?? -1;
  p.sackPermitted = o.sackPerm ?? false;
  if (o.sack !== undefined) {
    p.hasSack = true;
    p.sackMaxRight = o.sack >>> 0;
  }
  return p;
}

export const cfg = (over: Partial<TcpConfig> = {}): TcpConfig => ({ ...DEFAULT_TCP_CONFIG, ...over });

export function name(code: number): string {
  return tcpVerdictName(code);
}

/**
 * A scripted connection: client is dir 0, server dir 1. `c` / `s` are each
 * side's next sequence number (snd.nxt).
 */
export class Conn {
  readonly store = new TcpStore(4);
  readonly id = 1;
  c: number;
  s: number;
  constructor(
    public cIsn = 1000,
    public sIsn = 5000,
    public config: TcpConfig = cfg(),
  ) {
    this.c = cIsn;
    this.s = sIsn;
  }
  get state(): string {
    return tcpStateName(tcpState(this.store, this.id));
  }
  init(p: Packet): string {
    return name(tcpInit(this.store, this.id, p, this.config));
  }
  send(dir: 0 | 1, p: Packet): string {
    return name(tcpTrack(this.store, this.id, dir, p, this.config));
  }
  /** Client SYN, server SYN-ACK, client ACK; asserts each step. */
  handshake(
    o: { cWin?: number; sWin?: number; cScale?: number; sScale?: number; sack?: boolean } = {},
  ): this {
    const sack = o.sack ?? false;
    expect(this.init(seg(SYN, this.c, 0, { win: o.cWin, wscale: o.cScale, sackPerm: sack }))).toBe('ok');
    this.c = (this.c + 1) >>> 0;
    expect(this.state).toBe('SYN_SENT');
    expect(this.send(1, seg(SYNACK, this.s, this.c, { win: o.sWin, wscale: o.sScale, sackPerm: sack }))).toBe(
      'ok',
    );
    this.s = (this.s + 1) >>> 0;
    expect(this.state).toBe('SYN_RECV');
    expect(this.send(0, seg(ACK, this.c, this.s, { win: o.cWin }))).toBe('ok');
    expect(this.state).toBe('ESTABLISHED');
    return this;
  }
  /** Send `len` bytes from a side, acking everything from the other; returns the verdict name. */
  data(dir: 0 | 1, len: number, win?: number): string {
    const seq = dir === 0 ? this.c : this.s;
    const ack = dir === 0 ? this.s : this.c;
    const r = this.send(dir, seg(ACK, seq, ack, { len, win }));
    if (r === 'ok') {
      if (dir === 0) this.c = (this.c + len) >>> 0;
      else this.s = (this.s + len) >>> 0;
    }
    return r;
  }
  fin(dir: 0 | 1): string {
    const r = this.send(dir, seg(FINACK, dir === 0 ? this.c : this.s, dir === 0 ? this.s : this.c));
    if (dir === 0) this.c = (this.c + 1) >>> 0;
    else this.s = (this.s + 1) >>> 0;
    return r;
  }
  ack(dir: 0 | 1): string {
    return this.send(dir, seg(ACK, dir === 0 ? this.c : this.s, dir === 0 ? this.s : this.c));
  }
}

export { TCP_OK };
