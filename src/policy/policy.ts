/**
 * The firewall policy: zones by address, ordered rules, a default action.
 * Consulted only for a packet that starts a session; packets of existing
 * sessions skip the rules (as with conntrack's ESTABLISHED,RELATED accept).
 */
import type { Action, DeviceConfig, RuleConfig } from '../config/types.js';
import { prefixContains, type Prefix } from '../config/cidr.js';
import { PROTO_ICMP, PROTO_ICMPV6, type Packet } from '../wire/packet.js';

export const ACT_ACCEPT = 0;
export const ACT_DROP = 1;
export const ACT_REJECT = 2;
const ACTION_CODE: Record<Action, number> = { accept: ACT_ACCEPT, drop: ACT_DROP, reject: ACT_REJECT };

export class Policy {
  readonly zoneNames: string[];
  /** Index of the rule that decided the last `evaluate`, -1 for the default. */
  lastRule = -1;
  /** Per-rule hit counters. */
  readonly hits: Float64Array;
  private readonly zoneNets: Prefix[][];
  private readonly defaultZone: number;
  private readonly rules: RuleConfig[];
  private readonly actions: Uint8Array;
  private readonly defaultAction: number;

  constructor(cfg: DeviceConfig) {
    this.zoneNames = cfg.zones.map((z) => z.name);
    this.zoneNets = cfg.zones.map((z) => z.networks);
    this.defaultZone = cfg.defaultZone;
    this.rules = cfg.policy.rules;
    this.actions = Uint8Array.from(this.rules.map((r) => ACTION_CODE[r.action]));
    this.defaultAction = ACTION_CODE[cfg.policy.defaultAction];
    this.hits = new Float64Array(this.rules.length + 1);
  }

  ruleName(i: number): string {
    return i < 0 ? 'default' : this.rules[i]!.name;
  }

  /** The zone an address belongs to: the first zone whose networks contain it, else the default zone. */
  zoneOf(addr: Uint32Array): number {
    const zn = this.zoneNets;
    for (let z = 0; z < zn.length; z++) {
      const nets = zn[z]!;
      for (let i = 0; i < nets.length; i++) if (prefixContains(nets[i]!, addr)) return z;
    }
    return this.defaultZone;
  }

  /** Decides a new session from zone `from` to zone `to`: ACT_ACCEPT, ACT_DROP or ACT_REJECT. */
  evaluate(from: number, to: number, pkt: Packet): number {
    const rules = this.rules;
    for (let i = 0; i < rules.length; i++) {
      const r = rules[i]!;
      if (r.from >= 0 && r.from !== from) continue;
      if (r.to >= 0 && r.to !== to) continue;
      if (r.proto >= 0 && r.proto !== pkt.l4Proto) continue;
      if (r.src && !anyContains(r.src, pkt.src)) continue;
      if (r.dst && !anyContains(r.dst, pkt.dst)) continue;
      if (r.sport && !inRanges(r.sport, pkt.srcPort)) continue;
      if (r.dport && !inRanges(r.dport, pkt.dstPort)) continue;
      if (
        r.icmpType >= 0 &&
        !((pkt.l4Proto === PROTO_ICMP || pkt.l4Proto === PROTO_ICMPV6) && pkt.icmpType === r.icmpType)
      ) {
        continue;
      }
      this.lastRule = i;
      this.hits[i]!++;
      return this.actions[i]!;
    }
    this.lastRule = -1;
    this.hits[rules.length]!++;
    return this.defaultAction;
  }
}

function anyContains(list: Prefix[], a: Uint32Array): boolean {
  for (let i = 0; i < list.length; i++) if (prefixContains(list[i]!, a)) return true;
  return false;
}

function inRanges(r: number[], port: number): boolean {
  for (let i = 0; i < r.length; i += 2) if (port >= r[i]! && port <= r[i + 1]!) return true;
  return false;
}
