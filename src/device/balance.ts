/**
 * The load-balancing stage: for a packet that starts a session, the virtual
 * server it is addressed to and the real server the scheduler picks; the NAT
 * reply tuple the session is created with; and, for every later packet, the
 * rewrite and the real server's connection counters (IPVS's active =
 * ESTABLISHED TCP, inactive = everything else).
 */
import type { VirtualServerConfig } from '../config/types.js';
import { NO_REAL, VirtualServers } from '../lb/vs.js';
import { Nat } from '../nat/nat.js';
import type { Conntrack, NatTuple } from '../session/conntrack.js';
import { F_DNAT, F_SNAT } from '../session/table.js';
import { TCP_STATE_ESTABLISHED } from '../session/tcp-states.js';
import { tcpState } from '../session/tcp-track.js';
import { PROTO_TCP, type Packet } from '../wire/packet.js';

/** `select` results besides a virtual server index. */
export const LB_NONE = -1; // not addressed to a virtual server
export const LB_NO_REAL = -2; // a virtual server with no usable real server

export class Balancer {
  /** Replaced by a config reload (src/device/reload.ts), which remaps the sessions' aux words. */
  vs: VirtualServers;
  /** The pick of the last `select`: real index and address. */
  real = -1;
  readonly realAddr = new Uint32Array(4);
  private vsIdx = -1;

  constructor(
    cfg: VirtualServerConfig[],
    private readonly ct: Conntrack,
    private readonly nat: Nat,
  ) {
    this.vs = new VirtualServers(cfg);
    const prev = ct.onRemove;
    ct.onRemove = (id) => {
      if (prev) prev(id);
      this.released(id);
    };
  }

  get enabled(): boolean {
    return this.vs.count > 0;
  }

  /** For a packet starting a session: the virtual server index, LB_NONE or LB_NO_REAL. */
  select(p: Packet, nowMs: number): number {
    const v = this.vs.match(p);
    this.vsIdx = v;
    if (v < 0) return LB_NONE;
    const r = this.vs.pick(v, p, nowMs);
    if (r < 0) return LB_NO_REAL;
    this.real = r;
    const a = this.vs.pools[v]!.addr;
    for (let k = 0; k < 4; k++) this.realAddr[k] = a[r * 4 + k]!;
    return v;
  }

  /** The reply tuple for the session `select` chose, or null when no SNAT port is free. */
  tuple(p: Packet): NatTuple | null {
    const cfg = this.vs.cfg[this.vsIdx]!;
    const realPort = this.vs.realPort[this.vsIdx]![this.real]!;
    if (!cfg.snat) return this.nat.replyTuple(p, this.realAddr, realPort, null, 0);
    // Full-NAT: a source port on the SNAT address that no session to this real uses yet.
    const rp = realPort || p.dstPort;
    const zp = this.ct.kZoneProto;
    let port = p.srcPort < 1024 ? 1024 + p.srcPort : p.srcPort;
    for (let tries = 0; tries < 4096; tries++) {
      const t = this.nat.replyTuple(p, this.realAddr, realPort, cfg.snat, port);
      if (this.ct.table.lookup(zp, t.rSrc, t.rDst, ((rp << 16) | port) >>> 0) < 0) return t;
      port = port >= 65535 ? 1024 : port + 1;
    }
    return null;
  }

  /** A session was created for the last `select`: mark it NATed and count it on its real. */
  created(id: number, p: Packet): void {
    const t = this.ct.table;
    const snat = this.vs.cfg[this.vsIdx]!.snat !== null;
    t.setFlags(id, t.flags(id) | F_DNAT | (snat ? F_SNAT : 0));
    t.setAux(id, ((this.vsIdx << 16) | this.real) >>> 0);
    const active = p.l4Proto === PROTO_TCP && tcpState(this.ct.tcp, id) === TCP_STATE_ESTABLISHED;
    this.vs.pools[this.vsIdx]!.connUp(this.real, active);
  }

  /** After a packet of a load-balanced session: moves it between active and inactive on its real. */
  counted(entry: number, p: Packet, stateBefore: number): void {
    const id = entry >> 1;
    const aux = this.ct.table.aux(id);
    if ((aux & 0xffff) === NO_REAL || p.l4Proto !== PROTO_TCP) return;
    const was = stateBefore === TCP_STATE_ESTABLISHED;
    const is = tcpState(this.ct.tcp, id) === TCP_STATE_ESTABLISHED;
    if (was !== is) this.vs.pools[aux >>> 16]!.connMove(aux & 0xffff, was, is);
  }

  private released(id: number): void {
    const aux = this.ct.table.aux(id);
    if ((aux & 0xffff) === NO_REAL) return;
    const proto = this.ct.table.zoneProto(id) & 0xff;
    const active = proto === PROTO_TCP && tcpState(this.ct.tcp, id) === TCP_STATE_ESTABLISHED;
    this.vs.pools[aux >>> 16]!.connDown(aux & 0xffff, active);
  }
}
