/**
 * The asymmetry section of a multi-device replay summary: the counts and the
 * first asymmetric flows, as JSON and as lines in the style of `conntrack -L`
 * (`tcp 10.0.1.2:40000 -> 10.0.2.11:8080  orig@fw1 reply@fw2`). Off the fast path.
 */
import { formatAddress } from '../config/cidr.js';
import { PROTO_ICMP, PROTO_ICMPV6, PROTO_TCP, PROTO_UDP } from '../wire/packet.js';
import type { FlowPath, FlowPathCounts, FlowPaths } from './asymmetry.js';

const PROTO_NAMES: Record<number, string> = {
  [PROTO_TCP]: 'tcp',
  [PROTO_UDP]: 'udp',
  [PROTO_ICMP]: 'icmp',
  [PROTO_ICMPV6]: 'icmpv6',
};

/** One listed flow in the JSON summary. */
export interface AsymmetricFlowJson {
  proto: string;
  src: string;
  dst: string;
  sport?: number;
  dport?: number;
  /** ICMP queries: identifier and request type. */
  id?: number;
  type?: number;
  /** VLAN IDs, outermost first (absent when untagged). */
  vlan?: number[];
  /** Devices that saw the original and the reply direction. */
  orig: string[];
  reply: string[];
  packets: { orig: number; reply: number };
}

export interface AsymmetryJson extends FlowPathCounts {
  /** The devices, in the order of their bits. */
  devices: string[];
  /** The first `listed.length` asymmetric flows in the order they started (at most the list limit). */
  listed: AsymmetricFlowJson[];
}

function names(mask: number, devices: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < devices.length; i++) if (mask & (1 << i)) out.push(devices[i]!);
  return out;
}

function vlans(f: FlowPath): number[] | undefined {
  if (f.vlanOuter === 0 && f.vlanInner === 0) return undefined;
  return f.vlanInner ? [f.vlanOuter, f.vlanInner] : [f.vlanOuter];
}

export function flowJson(f: FlowPath, devices: readonly string[]): AsymmetricFlowJson {
  const l4 = f.protoNumber === PROTO_TCP || f.protoNumber === PROTO_UDP;
  const icmp = f.protoNumber === PROTO_ICMP || f.protoNumber === PROTO_ICMPV6;
  const v = vlans(f);
  return {
    proto: PROTO_NAMES[f.protoNumber] ?? String(f.protoNumber),
    src: formatAddress(f.src),
    ...(l4 ? { sport: f.sport } : {}),
    dst: formatAddress(f.dst),
    ...(l4 ? { dport: f.dport } : {}),
    ...(icmp ? { id: f.sport, type: f.dport } : {}),
    ...(v ? { vlan: v } : {}),
    orig: names(f.origSeen, devices),
    reply: names(f.replySeen, devices),
    packets: { orig: f.origPackets, reply: f.replyPackets },
  };
}

export function asymmetryJson(paths: FlowPaths, devices: readonly string[], limit: number): AsymmetryJson {
  return {
    ...paths.counts(),
    devices: [...devices],
    listed: paths.asymmetricFlows(limit).map((f) => flowJson(f, devices)),
  };
}

function endpoint(addr: string, port: number | undefined): string {
  if (port === undefined) return addr;
  return addr.includes(':') ? `[${addr}]:${port}` : `${addr}:${port}`;
}

/** `tcp 10.0.1.2:40000 -> 10.0.2.11:8080  orig@fw1 reply@fw2` (with ` vlan=10` / ` id=7` when they apply). */
export function flowLine(r: AsymmetricFlowJson): string {
  const id = r.id !== undefined ? ` id=${r.id}` : '';
  const vlan = r.vlan ? ` vlan=${r.vlan.join('/')}` : '';
  return (
    `${r.proto} ${endpoint(r.src, r.sport)} -> ${endpoint(r.dst, r.dport)}${id}${vlan}` +
    `  orig@${r.orig.join(',')} reply@${r.reply.join(',')}`
  );
}

/** The asymmetry section as text: one line of counts, then the listed flows. */
export function asymmetryText(a: AsymmetryJson): string {
  const lines = [
    `flows     ${a.flows} over ${a.devices.length} devices: ${a.asymmetric} asymmetric, ` +
      `${a.symmetric} symmetric, ${a.mixed} mixed, ${a.oneWay} one-way`,
  ];
  if (a.otherPackets || a.overflowPackets) {
    lines.push(
      `          ${a.otherPackets} packets in no flow` +
        (a.overflowPackets ? `, ${a.overflowPackets} packets of flows beyond the table` : ''),
    );
  }
  if (a.listed.length) {
    const more = a.asymmetric - a.listed.length;
    lines.push(`asymmetric${more > 0 ? ` (first ${a.listed.length} of ${a.asymmetric})` : ''}:`);
    for (const r of a.listed) lines.push(`  ${flowLine(r)}`);
  }
  return lines.join('\n') + '\n';
}
