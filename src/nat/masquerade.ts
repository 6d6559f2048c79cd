/**
 * Masquerade (source NAT) for sessions from one zone to another: they leave
 * with the rule's address and a source port (or ICMP echo identifier) that no
 * other session to the same destination uses. As Linux does, the client's own
 * port is kept when it is in range and free; otherwise the next free one from
 * a per-rule cursor is taken, so allocations never collide.
 */
import type { MasqueradeConfig } from '../config/types.js';
import type { NatTuple } from '../session/conntrack.js';
import { icmpReplyType, isIcmp } from '../session/keys.js';
import type { SessionTable } from '../session/table.js';
import { PROTO_TCP, PROTO_UDP, type Packet } from '../wire/packet.js';

export class Masquerade {
  readonly tuple: NatTuple = { rSrc: new Uint32Array(4), rDst: new Uint32Array(4), rPorts: 0 };
  private readonly cursor: Int32Array;
  /** Allocations that found no free port. */
  exhausted = 0;

  constructor(readonly rules: MasqueradeConfig[]) {
    this.cursor = Int32Array.from(rules, (r) => r.portLo);
  }

  get enabled(): boolean {
    return this.rules.length > 0;
  }

  /** The first rule for sessions from zone `from` to zone `to`, or -1. */
  match(from: number, to: number): number {
    const rules = this.rules;
    for (let i = 0; i < rules.length; i++) {
      const r = rules[i]!;
      if ((r.from < 0 || r.from === from) && (r.to < 0 || r.to === to)) return i;
    }
    return -1;
  }

  /**
   * The reply tuple for a new session from `p` under rule `i`: replies come
   * from p's destination to the rule's address and an allocated port. Null
   * when every port (or, for protocols without ports, the address) is taken.
   */
  allocate(i: number, p: Packet, zoneProto: number, table: SessionTable): NatTuple | null {
    const r = this.rules[i]!;
    const proto = p.l4Proto;
    const l4 = proto === PROTO_TCP || proto === PROTO_UDP;
    const t = this.tuple;
    t.rSrc.set(p.dst);
    t.rDst.set(r.address);
    if (!l4 && !isIcmp(proto)) {
      // No ports to translate (GRE, ESP, ...): the address alone, if no other session holds it.
      t.rPorts = 0;
      if (table.lookup(zoneProto, t.rSrc, t.rDst, 0) < 0) return t;
      this.exhausted++;
      return null;
    }
    // The reply tuple's ports word is (fixed << 16) | port for TCP/UDP (replies come from the
    // destination port), and (id << 16) | fixed for ICMP queries (the reply type).
    const fixed = l4 ? p.dstPort : icmpReplyType(proto, p.icmpType);
    const own = l4 ? p.srcPort : p.icmpId;
    const span = r.portHi - r.portLo + 1;
    let port = own >= r.portLo && own <= r.portHi ? own : this.cursor[i]!;
    for (let tries = 0; tries < span; tries++) {
      const ports = (l4 ? (fixed << 16) | port : (port << 16) | fixed) >>> 0;
      if (table.lookup(zoneProto, t.rSrc, t.rDst, ports) < 0) {
        t.rPorts = ports;
        if (port !== own) this.cursor[i] = port >= r.portHi ? r.portLo : port + 1;
        return t;
      }
      port = port >= r.portHi ? r.portLo : port + 1;
    }
    this.exhausted++;
    return null;
  }
}
