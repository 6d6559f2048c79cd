/**
 * The tracker: keys a decoded packet, finds or creates its session, runs the
 * protocol's state machine, refreshes its lifetime and expires it on the
 * device clock. Pure: no I/O, no wall clock (time is passed in).
 */
import { PROTO_ICMP, PROTO_ICMPV6, PROTO_TCP, PROTO_UDP, type Packet } from '../wire/packet.js';
import {
  icmpIsReply,
  icmpKind,
  innerPortsOf,
  isIcmp,
  K_INVALID,
  K_NORMAL,
  K_RELATED,
  K_UNTRACKED,
  portsOf,
  replyPorts,
} from './keys.js';
import { isV4Mapped } from './hash.js';
import { R_INVALID_ICMP, R_NO_SESSION, R_TABLE_FULL } from './reasons.js';
import { EXPIRES_OFFSET, EXPIRES_STRIDE, F_ASSURED, F_SEEN_REPLY, SessionTable } from './table.js';
import {
  TCP_IGNORE,
  TCP_OK,
  TCP_REOPEN,
  TcpStore,
  tcpCanCreate,
  tcpInit,
  tcpIsAssured,
  tcpTimeoutMs,
  tcpState,
  tcpTrackGeneral,
  tcpVerdictName,
  TCP_VERDICT_NAMES,
  type TcpConfig,
} from './tcp-track.js';
import { reasonCode, type ReasonName } from './reasons.js';
import { defaultTimeouts, type Timeouts } from './timeouts.js';
export type { Timeouts };
import { TimerWheel } from './wheel.js';
import { tcpFastAck, type TcpSegmentFields } from './tcp-fast.js';

export interface ConntrackConfig {
  maxSessions: number;
  timeouts: Timeouts;
  tcp: TcpConfig;
  /** Use the outer VLAN ID as the session zone (so equal tuples on different VLANs are different sessions). */
  zoneByVlan: boolean;
}

export function defaultConntrackConfig(): ConntrackConfig {
  return {
    maxSessions: 262144,
    timeouts: defaultTimeouts(),
    tcp: { liberal: false, loose: true },
    zoneByVlan: true,
  };
}

/** Protocol classes for counters. */
export const P_TCP = 0;
export const P_UDP = 1;
export const P_ICMP = 2;
export const P_OTHER = 3;
export const PROTO_CLASS_NAMES = ['tcp', 'udp', 'icmp', 'other'] as const;

export function protoClass(proto: number): number {
  if (proto === PROTO_TCP) return P_TCP;
  if (proto === PROTO_UDP) return P_UDP;
  if (proto === PROTO_ICMP || proto === PROTO_ICMPV6) return P_ICMP;
  return P_OTHER;
}

export class ConntrackStats {
  created = 0;
  expired = 0;
  evicted = 0;
  closed = 0;
  peak = 0;
  readonly createdByProto = new Float64Array(4);
}

export class Conntrack {
  readonly table: SessionTable;
  readonly tcp: TcpStore;
  readonly wheel: TimerWheel;
  readonly stats = new ConntrackStats();
  /** Called with a session id just before it expires (reset-on-expiry, events). */
  onExpire: ((id: number) => void) | null = null;
  /** Called with a session id just after it was created. */
  onCreate: ((id: number) => void) | null = null;
  /** Called with a session id just before it leaves the table, for any reason. */
  onRemove: ((id: number) => void) | null = null;

  /** The current packet's key: filled by `key()`. */
  readonly kSrc = new Uint32Array(4);
  readonly kDst = new Uint32Array(4);
  kPorts = 0;
  kZoneProto = 0;
  kProto = 0;
  /** The clock of the packet being tracked (see track; trackAt's callers set it). */
  now = 0;
  /**
   * After track(): a TCP session's state before the packet when the packet
   * could change it, -1 when it could not (the ESTABLISHED fast path, or not
   * TCP). Callers that follow state changes (active connections, sync) read
   * it instead of the state before and after every packet.
   */
  tcpBefore = -1;
  /** Whether both key addresses are IPv4 (IPv4-mapped): find() then takes the IPv4 lookup. */
  kV4 = false;

  private readonly rSrc = new Uint32Array(4);
  private readonly rDst = new Uint32Array(4);
  private readonly expireCb = (id: number): void => this.expire(id);

  constructor(readonly cfg: ConntrackConfig) {
    this.table = new SessionTable(cfg.maxSessions);
    this.tcp = new TcpStore(cfg.maxSessions);
    this.wheel = new TimerWheel(cfg.maxSessions, this.table.f64, 4096, 100, EXPIRES_STRIDE, EXPIRES_OFFSET);
  }

  /** Bytes of memory per session slot: table, index, wheel and TCP state. */
  bytesPerSession(): number {
    return (
      this.table.bytesPerSession() +
      this.wheel.bytesPerSession() +
      typedBytes(this.tcp) / this.cfg.maxSessions
    );
  }

  /**
   * Computes the key of a decoded (non-fragment) IP packet into kSrc/kDst/kPorts/kZoneProto.
   * Returns K_NORMAL, K_RELATED (ICMP error: the key is the quoted tuple), K_UNTRACKED or K_INVALID.
   */
  key(pkt: Packet): number {
    const zone = this.cfg.zoneByVlan ? pkt.vlanOuter : 0;
    let proto = pkt.l4Proto;
    let kind = K_NORMAL;
    if (isIcmp(proto)) {
      if (pkt.icmpIsError) {
        // As conntrack does: look up the quoted packet's tuple inverted, so the
        // entry found is the direction the error itself travels (and, with
        // NAT, the quoted post-translation packet still finds its session).
        kind = K_RELATED;
        proto = pkt.innerL4Proto;
        copy4(pkt.innerDst, this.kSrc);
        copy4(pkt.innerSrc, this.kDst);
        this.kPorts = replyPorts(proto, innerPortsOf(pkt));
        this.kProto = proto;
        this.kZoneProto = ((zone << 8) | proto) >>> 0;
        this.kV4 = isV4Mapped(this.kSrc, 0) && isV4Mapped(this.kDst, 0);
        return kind;
      }
      kind = icmpKind(proto, pkt.icmpType);
      if (kind !== K_NORMAL) return kind;
    }
    copy4(pkt.src, this.kSrc);
    copy4(pkt.dst, this.kDst);
    this.kPorts = portsOf(pkt);
    this.kProto = proto;
    this.kZoneProto = ((zone << 8) | proto) >>> 0;
    this.kV4 = pkt.ipVersion === 4 || (isV4Mapped(this.kSrc, 0) && isV4Mapped(this.kDst, 0));
    return kind;
  }

  /** Finds the session of the current key: (id << 1) | dir, or -1. An expired session is removed here. */
  find(nowMs: number): number {
    const t = this.table;
    // Words passed as signed numbers: no heap number per call for a word of 2^31 or more.
    const e = this.kV4
      ? t.lookup4(this.kZoneProto, this.kSrc[3]! | 0, this.kDst[3]! | 0, this.kPorts | 0)
      : t.lookup(this.kZoneProto, this.kSrc, this.kDst, this.kPorts);
    if (e < 0) return -1;
    // The expiry read in place: a double returned by a call V8 did not inline is boxed.
    if (t.f64[(e >> 1) * EXPIRES_STRIDE + EXPIRES_OFFSET]! <= nowMs) {
      this.expire(e >> 1);
      return -1;
    }
    return e;
  }

  /** 0 when this packet may start a session, else a drop reason. */
  canCreate(pkt: Packet): number {
    const proto = pkt.l4Proto;
    if (proto === PROTO_TCP) return tcpReason(tcpCanCreate(pkt, this.cfg.tcp));
    if (isIcmp(proto)) {
      if (pkt.icmpIsError || icmpIsReply(proto, pkt.icmpType)) return R_NO_SESSION;
      return icmpKind(proto, pkt.icmpType) === K_NORMAL ? 0 : R_INVALID_ICMP;
    }
    return 0;
  }

  /**
   * Creates a session for the current key. The reply tuple is the reversed
   * original unless `nat` is given (its rSrc/rDst/rPorts). Returns the id or
   * -R_TABLE_FULL. When the table is full, a session that is not assured near
   * the new one's hash is evicted first, as conntrack's early drop does.
   */
  create(pkt: Packet, nowMs: number, frameLen: number, nat?: NatTuple): number {
    const t = this.table;
    let rSrc: Uint32Array = this.rSrc;
    let rDst: Uint32Array = this.rDst;
    let rp: number;
    if (nat) {
      rSrc = nat.rSrc;
      rDst = nat.rDst;
      rp = nat.rPorts;
    } else {
      copy4(this.kDst, rSrc);
      copy4(this.kSrc, rDst);
      rp = replyPorts(this.kProto, this.kPorts);
    }
    let id = t.insert(this.kZoneProto, this.kSrc, this.kDst, this.kPorts, rSrc, rDst, rp, nowMs);
    if (id === -1) {
      const victim = t.evictionCandidate(this.kZoneProto, this.kSrc, this.kDst, this.kPorts);
      if (victim < 0) return -R_TABLE_FULL;
      this.stats.evicted++;
      this.drop(victim);
      id = t.insert(this.kZoneProto, this.kSrc, this.kDst, this.kPorts, rSrc, rDst, rp, nowMs);
    }
    if (id < 0) return -R_TABLE_FULL;
    const proto = this.kProto;
    let timeoutMs: number;
    if (proto === PROTO_TCP) {
      tcpInit(this.tcp, id, pkt, this.cfg.tcp);
      timeoutMs = tcpTimeoutMs(this.tcp, id, this.cfg.timeouts.tcp);
    } else if (proto === PROTO_UDP) timeoutMs = this.cfg.timeouts.udp.unreplied * 1000;
    else if (isIcmp(proto)) timeoutMs = this.cfg.timeouts.icmp * 1000;
    else timeoutMs = this.cfg.timeouts.generic * 1000;
    t.setExpires(id, nowMs + timeoutMs);
    t.count1(id << 1, frameLen);
    this.wheel.schedule(id);
    const st = this.stats;
    st.created++;
    st.createdByProto[protoClass(proto)]++;
    if (t.count > st.peak) st.peak = t.count;
    if (this.onCreate) this.onCreate(id);
    return id;
  }

  /**
   * Runs a packet of an existing session (entry = (id << 1) | dir) through its
   * protocol's tracker and refreshes its lifetime. Returns 0, a drop reason,
   * or REOPEN (a SYN on a closed session: remove it and create anew).
   */
  track(entry: number, pkt: Packet, nowMs: number, frameLen: number, related: boolean): number {
    // Small enough to be inlined where it is called: the clock goes through a
    // field, so no heap number is made for it per packet (trackAt is not inlined).
    this.now = nowMs;
    return this.trackAt(entry, pkt, frameLen, related);
  }

  /** track() at the time in `now` (set it first: a double passed as an argument is a heap number). */
  trackAt(entry: number, pkt: Packet, frameLen: number, related: boolean): number {
    const id = entry >> 1;
    const dir = entry & 1;
    const t = this.table;
    this.tcpBefore = -1;
    if (related) {
      t.count1(entry, frameLen);
      return 0;
    }
    const proto = this.kProto;
    if (proto === PROTO_UDP) {
      this.trackUdp(entry, frameLen);
      return 0;
    }
    let timeoutMs: number;
    let flags = t.flags(id);
    if (proto === PROTO_TCP) {
      let r = TCP_OK;
      if (!tcpFastAck(this.tcp, id, dir, pkt, this.cfg.tcp)) {
        this.tcpBefore = tcpState(this.tcp, id);
        r = tcpTrackGeneral(this.tcp, id, dir as 0 | 1, pkt, this.cfg.tcp);
      }
      if (r === TCP_IGNORE) {
        // conntrack's "ignore": let it through, change nothing, do not refresh.
        t.count1(entry, frameLen);
        return 0;
      }
      if (r !== TCP_OK) return r === TCP_REOPEN ? REOPEN : tcpReason(r);
      if (dir === 1) flags |= F_SEEN_REPLY;
      if (tcpIsAssured(this.tcp, id)) flags |= F_ASSURED;
      timeoutMs = tcpTimeoutMs(this.tcp, id, this.cfg.timeouts.tcp);
    } else {
      if (flags & F_SEEN_REPLY) flags |= F_ASSURED;
      if (dir === 1) flags |= F_SEEN_REPLY;
      if (isIcmp(proto)) {
        timeoutMs = this.cfg.timeouts.icmp * 1000;
        if (proto === PROTO_ICMP || proto === PROTO_ICMPV6) flags &= ~F_ASSURED;
      } else timeoutMs = this.cfg.timeouts.generic * 1000;
    }
    this.commit(entry, flags, timeoutMs, frameLen);
    return 0;
  }

  /**
   * trackAt() of a segment that tcpFastAck takes (an in-window ESTABLISHED
   * ACK/data segment of the session at `entry`), for the device's session
   * fast path: false, having changed nothing, for any other segment. Like
   * trackAt, reads the clock from `now`.
   */
  trackFastAck(entry: number, seg: TcpSegmentFields, frameLen: number): boolean {
    const id = entry >> 1;
    const dir = entry & 1;
    this.tcpBefore = -1;
    if (!tcpFastAck(this.tcp, id, dir, seg, this.cfg.tcp)) return false;
    let flags = this.table.flags(id);
    if (dir === 1) flags |= F_SEEN_REPLY;
    if (tcpIsAssured(this.tcp, id)) flags |= F_ASSURED;
    this.commit(entry, flags, tcpTimeoutMs(this.tcp, id, this.cfg.timeouts.tcp), frameLen);
    return true;
  }

  /** trackAt() of a UDP packet (not RELATED) of the session at `entry`; also the session fast path's. */
  trackUdp(entry: number, frameLen: number): void {
    this.tcpBefore = -1;
    let flags = this.table.flags(entry >> 1);
    if (flags & F_SEEN_REPLY) flags |= F_ASSURED;
    if ((entry & 1) === 1) flags |= F_SEEN_REPLY;
    const u = this.cfg.timeouts.udp;
    this.commit(entry, flags, (flags & F_SEEN_REPLY ? u.replied : u.unreplied) * 1000, frameLen);
  }

  /** The end of tracking a packet: the session's flags, counters and expiry (refreshed from `now`). */
  private commit(entry: number, flags: number, timeoutMs: number, frameLen: number): void {
    const t = this.table;
    const id = entry >> 1;
    t.setFlags(id, flags);
    t.count1(entry, frameLen);
    const f64 = t.f64;
    const at = id * EXPIRES_STRIDE + EXPIRES_OFFSET;
    const old = f64[at]!;
    const next = this.now + timeoutMs;
    f64[at] = next;
    if (next < old) this.wheel.schedule(id);
  }

  /** Moves the clock: expires every session due at or before nowMs. */
  advance(nowMs: number): void {
    this.wheel.advance(nowMs, this.expireCb);
  }

  /** Expires a session now (its lifetime ran out). */
  expire(id: number): void {
    if (!this.table.isUsed(id)) return;
    if (this.onExpire) this.onExpire(id);
    this.stats.expired++;
    this.drop(id);
  }

  /** Removes a session without counting it as expired (flush, reopen, eviction). */
  drop(id: number): void {
    if (this.onRemove && this.table.isUsed(id)) this.onRemove(id);
    this.wheel.cancel(id);
    this.table.remove(id);
  }
}

/** A NAT-translated reply tuple for `create`. */
export interface NatTuple {
  rSrc: Uint32Array;
  rDst: Uint32Array;
  rPorts: number;
}

/** Copies a 4-word address (TypedArray.set costs more than this for 4 elements). */
function copy4(from: Uint32Array, to: Uint32Array): void {
  to[0] = from[0]!;
  to[1] = from[1]!;
  to[2] = from[2]!;
  to[3] = from[3]!;
}

/** Bytes held in the typed arrays that are own properties of `o`. */
function typedBytes(o: object): number {
  let n = 0;
  for (const v of Object.values(o)) if (ArrayBuffer.isView(v)) n += v.byteLength;
  return n;
}

/** Drop reason of each TCP tracker code (0 for the accepting codes). */
const TCP_REASON = Int32Array.from(TCP_VERDICT_NAMES, (n) =>
  n === 'ok' || n === 'ignore' || n === 'reopen' ? 0 : reasonCode(n as ReasonName),
);

function tcpReason(code: number): number {
  return code === TCP_OK ? 0 : TCP_REASON[code] || reasonCode(tcpVerdictName(code) as ReasonName);
}

/** `track` result: the session was closed and this SYN opens a new one. */
export const REOPEN = -1;
export { K_INVALID, K_NORMAL, K_RELATED, K_UNTRACKED };
