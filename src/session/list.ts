/**
 * Reading the session table for people: records for JSON and lines in the
 * form `conntrack -L` prints. Off the fast path.
 */
import { formatAddress } from '../config/cidr.js';
import { PROTO_ICMP, PROTO_ICMPV6, PROTO_TCP, PROTO_UDP } from '../wire/packet.js';
import type { Conntrack } from './conntrack.js';
import { F_ASSURED, F_SEEN_REPLY } from './table.js';
import { tcpStateName } from './tcp-print.js';
import { tcpState } from './tcp-track.js';

const PROTO_NAMES: Record<number, string> = {
  [PROTO_TCP]: 'tcp',
  [PROTO_UDP]: 'udp',
  [PROTO_ICMP]: 'icmp',
  [PROTO_ICMPV6]: 'icmpv6',
};

export interface TupleRecord {
  src: string;
  dst: string;
  sport?: number;
  dport?: number;
  type?: number;
  id?: number;
  packets: number;
  bytes: number;
}

export interface SessionRecord {
  id: number;
  proto: string;
  protoNumber: number;
  zone: number;
  state: string;
  /** Seconds until it expires. */
  timeout: number;
  assured: boolean;
  seenReply: boolean;
  original: TupleRecord;
  reply: TupleRecord;
}

export function sessionRecord(ct: Conntrack, id: number, nowMs: number): SessionRecord {
  const t = ct.table;
  const zp = t.zoneProto(id);
  const proto = zp & 0xff;
  const flags = t.flags(id);
  const a = new Uint32Array(4);
  const tuple = (dir: number): TupleRecord => {
    t.readAddr(id, dir, 0, a);
    const src = formatAddress(a);
    t.readAddr(id, dir, 1, a);
    const dst = formatAddress(a);
    const ports = t.ports(id, dir);
    const rec: TupleRecord = { src, dst, packets: t.pkts(id, dir), bytes: t.bytes(id, dir) };
    if (proto === PROTO_TCP || proto === PROTO_UDP) {
      rec.sport = ports >>> 16;
      rec.dport = ports & 0xffff;
    } else if (proto === PROTO_ICMP || proto === PROTO_ICMPV6) {
      rec.type = ports & 0xffff;
      rec.id = ports >>> 16;
    }
    return rec;
  };
  let state: string;
  if (proto === PROTO_TCP) state = tcpStateName(tcpState(ct.tcp, id));
  else state = flags & F_ASSURED ? 'ASSURED' : flags & F_SEEN_REPLY ? 'REPLIED' : 'UNREPLIED';
  return {
    id: t.serial(id),
    proto: PROTO_NAMES[proto] ?? 'unknown',
    protoNumber: proto,
    zone: zp >>> 8,
    state,
    timeout: Math.max(0, Math.ceil((t.expires(id) - nowMs) / 1000)),
    assured: (flags & F_ASSURED) !== 0,
    seenReply: (flags & F_SEEN_REPLY) !== 0,
    original: tuple(0),
    reply: tuple(1),
  };
}

/** Every live session, in id order. */
export function listSessions(ct: Conntrack, nowMs: number): SessionRecord[] {
  const out: SessionRecord[] = [];
  const t = ct.table;
  for (let id = 0; id < t.capacity; id++) if (t.isUsed(id)) out.push(sessionRecord(ct, id, nowMs));
  return out.sort((x, y) => x.id - y.id);
}

/**
 * Counts the live sessions, and the live TCP ones by state name into
 * `tcpStates` (added to what it holds): what listSessions would give, with
 * no record built per session.
 */
export function countLive(ct: Conntrack, tcpStates: Map<string, number>): number {
  const t = ct.table;
  let live = 0;
  for (let id = 0; id < t.capacity; id++) {
    if (!t.isUsed(id)) continue;
    live++;
    if ((t.zoneProto(id) & 0xff) !== PROTO_TCP) continue;
    const s = tcpStateName(tcpState(ct.tcp, id));
    tcpStates.set(s, (tcpStates.get(s) ?? 0) + 1);
  }
  return live;
}

function tupleText(r: TupleRecord): string {
  let s = `src=${r.src} dst=${r.dst}`;
  if (r.sport !== undefined) s += ` sport=${r.sport} dport=${r.dport}`;
  if (r.type !== undefined) s += ` type=${r.type} code=0 id=${r.id}`;
  return `${s} packets=${r.packets} bytes=${r.bytes}`;
}

/** One line as `conntrack -L` prints it (with accounting on). */
export function conntrackLine(r: SessionRecord): string {
  const state = r.proto === 'tcp' ? ` ${r.state}` : '';
  const unreplied = r.seenReply ? '' : ' [UNREPLIED]';
  const assured = r.assured ? ' [ASSURED]' : '';
  const zone = r.zone ? ` zone=${r.zone}` : '';
  return `${r.proto.padEnd(8)} ${r.protoNumber} ${r.timeout}${state} ${tupleText(r.original)}${unreplied} ${tupleText(r.reply)}${assured} mark=0${zone} use=1 id=${r.id}`;
}
