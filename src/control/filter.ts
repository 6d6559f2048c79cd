/**
 * Session filters of the control API, with conntrack's meanings: `src`/`dst`
 * match the original tuple (conntrack -s/-d), `reply-src`/`reply-dst` the reply
 * tuple (conntrack -r/-q), `sport`/`dport` the original tuple's ports (TCP and
 * UDP only), `state` a TCP state (so it matches TCP sessions only), `zone` the
 * session zone (the outer VLAN ID with sessions.zone-by-vlan). Addresses are an
 * address or a CIDR prefix. Matching reads the table directly, so only the
 * sessions that match are turned into records.
 */
import { parsePrefix, prefixContains, type Prefix } from '../config/cidr.js';
import type { Conntrack } from '../session/conntrack.js';
import { TCP_STATE_NAMES } from '../session/tcp-states.js';
import { tcpState } from '../session/tcp-track.js';
import { PROTO_ICMP, PROTO_ICMPV6, PROTO_TCP, PROTO_UDP } from '../wire/packet.js';

export interface SessionFilter {
  /** IP protocol number. */
  proto?: number;
  src?: Prefix;
  dst?: Prefix;
  replySrc?: Prefix;
  replyDst?: Prefix;
  sport?: number;
  dport?: number;
  /** TCP state number (src/session/tcp-states.ts). */
  state?: number;
  zone?: number;
  /** At most this many sessions (the lowest ids). */
  limit?: number;
}

/** A filter value that is not what was expected (the server answers 400 with the message). */
export class FilterError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FilterError';
  }
}

export const PROTO_BY_NAME: Readonly<Record<string, number>> = {
  tcp: PROTO_TCP,
  udp: PROTO_UDP,
  icmp: PROTO_ICMP,
  icmpv6: PROTO_ICMPV6,
  gre: 47,
  esp: 50,
  sctp: 132,
};

/** TCP state names a filter may name (conntrack's). */
export const FILTER_STATES: readonly string[] = TCP_STATE_NAMES.filter(
  (n) => n !== 'NONE' && n !== 'INVALID' && n !== 'IGNORE',
);

/** The query parameters a session filter reads, in the order help text lists them. */
export const FILTER_PARAMS = [
  'proto',
  'src',
  'dst',
  'reply-src',
  'reply-dst',
  'sport',
  'dport',
  'state',
  'zone',
  'limit',
] as const;

function integer(name: string, v: string, min: number, max: number): number {
  if (!/^\d+$/.test(v) || Number(v) < min || Number(v) > max)
    throw new FilterError(`${name}: expected an integer ${min}-${max}, got "${v}"`);
  return Number(v);
}

function prefix(name: string, v: string): Prefix {
  const p = parsePrefix(v);
  if (typeof p === 'string') throw new FilterError(`${name}: expected an address or CIDR prefix, got "${v}"`);
  return p;
}

/**
 * Reads a filter from query parameters. `allowed` are other parameter names
 * the caller handles itself (e.g. `format`); any other name is refused, so a
 * typo never widens a flush to every session.
 */
export function parseFilter(q: URLSearchParams, allowed: readonly string[] = []): SessionFilter {
  const f: SessionFilter = {};
  const seen = new Set<string>();
  for (const [k, v] of q) {
    if (seen.has(k)) throw new FilterError(`${k}: given twice`);
    seen.add(k);
    if (allowed.includes(k)) continue;
    if (v === '') throw new FilterError(`${k}: expected a value`);
    switch (k) {
      case 'proto': {
        const byName = PROTO_BY_NAME[v.toLowerCase()];
        if (byName !== undefined) f.proto = byName;
        else if (/^\d+$/.test(v) && Number(v) <= 255) f.proto = Number(v);
        else
          throw new FilterError(
            `proto: expected one of ${Object.keys(PROTO_BY_NAME).join(', ')} or 0-255, got "${v}"`,
          );
        break;
      }
      case 'src':
        f.src = prefix(k, v);
        break;
      case 'dst':
        f.dst = prefix(k, v);
        break;
      case 'reply-src':
        f.replySrc = prefix(k, v);
        break;
      case 'reply-dst':
        f.replyDst = prefix(k, v);
        break;
      case 'sport':
        f.sport = integer(k, v, 0, 65535);
        break;
      case 'dport':
        f.dport = integer(k, v, 0, 65535);
        break;
      case 'state': {
        const s = FILTER_STATES.indexOf(v.toUpperCase());
        if (s < 0)
          throw new FilterError(`state: expected a TCP state (${FILTER_STATES.join(', ')}), got "${v}"`);
        f.state = TCP_STATE_NAMES.indexOf(FILTER_STATES[s]!);
        break;
      }
      case 'zone':
        f.zone = integer(k, v, 0, 0xffffff);
        break;
      case 'limit':
        f.limit = integer(k, v, 1, 0x7fffffff);
        break;
      default:
        throw new FilterError(
          `unknown parameter "${k}"; expected ${[...FILTER_PARAMS, ...allowed].join(', ')}`,
        );
    }
  }
  return f;
}

/** The filter as query parameters (the inverse of parseFilter, for clients and logs). */
export function filterQuery(f: SessionFilter): URLSearchParams {
  const q = new URLSearchParams();
  if (f.proto !== undefined) q.set('proto', String(f.proto));
  if (f.src) q.set('src', f.src.text);
  if (f.dst) q.set('dst', f.dst.text);
  if (f.replySrc) q.set('reply-src', f.replySrc.text);
  if (f.replyDst) q.set('reply-dst', f.replyDst.text);
  if (f.sport !== undefined) q.set('sport', String(f.sport));
  if (f.dport !== undefined) q.set('dport', String(f.dport));
  if (f.state !== undefined) q.set('state', TCP_STATE_NAMES[f.state]!);
  if (f.zone !== undefined) q.set('zone', String(f.zone));
  if (f.limit !== undefined) q.set('limit', String(f.limit));
  return q;
}

/** A reusable matcher over one conntrack table (one scratch address, no allocation per session). */
export class SessionMatcher {
  private readonly a = new Uint32Array(4);
  constructor(
    private readonly ct: Conntrack,
    private readonly f: SessionFilter,
  ) {}

  /** Whether the session in slot `id` (a used slot) matches. */
  matches(id: number): boolean {
    const f = this.f;
    const t = this.ct.table;
    const zp = t.zoneProto(id);
    const proto = zp & 0xff;
    if (f.proto !== undefined && proto !== f.proto) return false;
    if (f.zone !== undefined && zp >>> 8 !== f.zone) return false;
    if (f.sport !== undefined || f.dport !== undefined) {
      if (proto !== PROTO_TCP && proto !== PROTO_UDP) return false;
      const ports = t.ports(id, 0);
      if (f.sport !== undefined && ports >>> 16 !== f.sport) return false;
      if (f.dport !== undefined && (ports & 0xffff) !== f.dport) return false;
    }
    if (f.state !== undefined && (proto !== PROTO_TCP || tcpState(this.ct.tcp, id) !== f.state)) return false;
    return (
      this.addr(id, 0, 0, f.src) &&
      this.addr(id, 0, 1, f.dst) &&
      this.addr(id, 1, 0, f.replySrc) &&
      this.addr(id, 1, 1, f.replyDst)
    );
  }

  private addr(id: number, dir: number, which: number, p: Prefix | undefined): boolean {
    if (!p) return true;
    this.ct.table.readAddr(id, dir, which, this.a);
    return prefixContains(p, this.a);
  }
}

/** For messages: "proto=6 src=10.0.0.0/8" ('' for no filter). */
export function filterText(f: SessionFilter): string {
  return [...filterQuery(f)].map(([k, v]) => `${k}=${v}`).join(' ');
}
