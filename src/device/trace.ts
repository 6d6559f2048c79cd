/**
 * Per-packet trace (as VPP's): each stage a packet passes and what it decided.
 * Off unless asked for; a filter picks which packets are printed. Tracing
 * allocates (strings); it is never on when performance matters.
 *
 * Filter: "all", or terms joined by "and": host A, src A, dst A, port N,
 * proto tcp|udp|icmp|icmpv6|N, verdict forwarded|dropped|held, reason NAME,
 * session N.
 */
import { formatAddress } from '../config/cidr.js';
import type { Conntrack } from '../session/conntrack.js';
import { reasonName } from '../session/reasons.js';
import { tcpStateName } from '../session/tcp-print.js';
import { tcpState } from '../session/tcp-track.js';
import { decodeErrorName } from '../wire/errors.js';
import { PROTO_ICMP, PROTO_ICMPV6, PROTO_TCP, PROTO_UDP, type Packet } from '../wire/packet.js';
import type { DeviceCore as Device } from './core.js';
import { VERDICT_NAMES } from './verdict.js';

type Term = (t: Tracer, d: Device) => boolean;

const PROTO_NAMES: Record<number, string> = {
  [PROTO_TCP]: 'tcp',
  [PROTO_UDP]: 'udp',
  [PROTO_ICMP]: 'icmp',
  [PROTO_ICMPV6]: 'icmpv6',
};

export class TraceFilterError extends Error {}

export function parseTraceFilter(text: string): Term[] {
  const t = text.trim();
  if (t === '' || t === 'all') return [];
  return t.split(/\s+and\s+/).map((term) => {
    const [k, v, extra] = term.trim().split(/\s+/);
    if (!k || v === undefined || extra !== undefined) {
      throw new TraceFilterError(
        `bad trace filter term "${term}": expected e.g. "host 10.0.0.1", "port 80", "reason no-session"`,
      );
    }
    switch (k) {
      case 'host':
        return (tr) => tr.srcText === v || tr.dstText === v;
      case 'src':
        return (tr) => tr.srcText === v;
      case 'dst':
        return (tr) => tr.dstText === v;
      case 'port': {
        const n = Number(v);
        return (tr) => tr.srcPort === n || tr.dstPort === n;
      }
      case 'proto':
        return (tr) => tr.protoText === v || String(tr.proto) === v;
      case 'verdict':
        return (_tr, d) => VERDICT_NAMES[d.verdict] === v;
      case 'reason':
        return (_tr, d) => d.verdict === 1 && reasonName(d.reason) === v;
      case 'session': {
        const n = Number(v);
        return (_tr, d) => d.session === n;
      }
      default:
        throw new TraceFilterError(
          `unknown trace filter "${k}": use host, src, dst, port, proto, verdict, reason or session`,
        );
    }
  });
}

export class Tracer {
  srcText = '';
  dstText = '';
  srcPort = 0;
  dstPort = 0;
  proto = -1;
  protoText = '';
  private lines: string[] = [];
  private readonly terms: Term[];

  constructor(
    filter: string,
    private readonly write: (text: string) => void,
  ) {
    this.terms = parseTraceFilter(filter);
  }

  begin(n: number, nowMs: number, iface: number): void {
    this.lines = [`#${n} t=${(nowMs / 1000).toFixed(6)}${iface >= 0 ? ` if=${iface}` : ''}`];
    this.srcText = this.dstText = this.protoText = '';
    this.srcPort = this.dstPort = 0;
    this.proto = -1;
  }

  decoded(p: Packet): void {
    if (p.error !== 0) {
      this.note('decode', `${decodeErrorName(p.error)} at byte ${p.errorOffset}`);
      return;
    }
    if (p.ipVersion === 0) {
      this.note('decode', `ethertype 0x${p.etherType.toString(16).padStart(4, '0')}`);
      return;
    }
    this.srcText = formatAddress(p.src);
    this.dstText = formatAddress(p.dst);
    this.proto = p.l4Proto;
    this.protoText = PROTO_NAMES[p.l4Proto] ?? String(p.l4Proto);
    const l4 = p.l4Proto === PROTO_TCP || p.l4Proto === PROTO_UDP;
    if (l4) {
      this.srcPort = p.srcPort;
      this.dstPort = p.dstPort;
    }
    const ends = l4
      ? `${this.srcText}:${p.srcPort} > ${this.dstText}:${p.dstPort}`
      : `${this.srcText} > ${this.dstText}`;
    const vlan = p.vlanCount ? ` vlan ${p.vlanOuter}${p.vlanCount > 1 ? `/${p.vlanInner}` : ''}` : '';
    const extra = p.l4Proto === PROTO_TCP ? ` [${tcpFlagsText(p.tcpFlags)}] seq ${p.seq} ack ${p.ack}` : '';
    const icmp =
      p.l4Proto === PROTO_ICMP || p.l4Proto === PROTO_ICMPV6 ? ` type ${p.icmpType} code ${p.icmpCode}` : '';
    const frag = p.isFragment ? ` frag off ${p.fragOffset}${p.moreFragments ? '+' : ''}` : '';
    this.note('decode', `ipv${p.ipVersion}${vlan} ${this.protoText} ${ends}${extra}${icmp}${frag}`);
  }

  note(stage: string, text: string): void {
    this.lines.push(`  ${stage}: ${text}`);
  }

  sessionHit(ct: Conntrack, entry: number, related: boolean): void {
    const id = entry >> 1;
    const state = ct.kProto === PROTO_TCP ? ` ${tcpStateName(tcpState(ct.tcp, id))}` : '';
    this.note(
      'session',
      `hit #${ct.table.serial(id)} ${entry & 1 ? 'reply' : 'original'}${related ? ' (related ICMP error)' : ''}${state}`,
    );
  }

  policy(d: Device, inPort: number, outPort: number, act: number): void {
    const names = d.ports.names;
    const zones = d.policy.zoneNames;
    const zi = zones[d.ports.zone[inPort]!];
    const zo = zones[d.ports.zone[outPort]!];
    const action = ['accept', 'drop', 'reject'][act];
    this.note(
      'policy',
      `${names[inPort]}(${zi}) -> ${names[outPort]}(${zo}): ${action} by ${d.policy.ruleName(d.policy.lastRule)}`,
    );
  }

  created(ct: Conntrack, id: number): void {
    const state = ct.kProto === PROTO_TCP ? ` ${tcpStateName(tcpState(ct.tcp, id))}` : '';
    this.note('session', `created #${ct.table.serial(id)}${state}`);
  }

  end(d: Device): void {
    for (const term of this.terms) if (!term(this, d)) return;
    const v = VERDICT_NAMES[d.verdict];
    const detail =
      d.verdict === 1 ? ` ${reasonName(d.reason)}` : d.outPort >= 0 ? ` -> ${d.ports.names[d.outPort]}` : '';
    this.lines.push(`  verdict: ${v}${detail}${d.session ? ` session #${d.session}` : ''}`);
    this.write(this.lines.join('\n') + '\n');
  }
}

export function tcpFlagsText(f: number): string {
  let s = '';
  if (f & 0x02) s += 'S';
  if (f & 0x01) s += 'F';
  if (f & 0x04) s += 'R';
  if (f & 0x08) s += 'P';
  if (f & 0x10) s += '.';
  if (f & 0x20) s += 'U';
  if (f & 0x40) s += 'E';
  if (f & 0x80) s += 'W';
  return s || 'none';
}
