/**
 * The device's ports as the pipeline sees them: configured ports (matched by
 * pcapng interface, VLAN, source MAC or source network) followed by one
 * implicit port per zone. A frame that matches no configured port arrives on
 * the port of its source address's zone; a new session leaves by the port
 * whose networks hold its destination, else by the destination zone's port.
 */
import type { DeviceConfig } from '../config/types.js';
import { prefixContains, type Prefix } from '../config/cidr.js';
import type { Policy } from '../policy/policy.js';
import type { Packet } from '../wire/packet.js';

export class PortTable {
  readonly names: string[];
  /** Zone id of each port. */
  readonly zone: Int32Array;
  private readonly nConfigured: number;
  private readonly iface: Int32Array;
  private readonly vlan: Int32Array;
  private readonly mac: Uint8Array;
  private readonly hasMac: Uint8Array;
  private readonly nets: Prefix[][];
  private readonly zoneBase: number;

  constructor(
    cfg: DeviceConfig,
    /** Replaced by a config reload along with the device's policy (zone networks). */
    public policy: Policy,
  ) {
    const ports = cfg.ports;
    this.nConfigured = ports.length;
    this.names = [...ports.map((p) => p.name), ...cfg.zones.map((z) => z.name)];
    this.zone = Int32Array.from([...ports.map((p) => p.zone), ...cfg.zones.map((_z, i) => i)]);
    this.iface = Int32Array.from(ports.map((p) => p.match.iface));
    this.vlan = Int32Array.from(ports.map((p) => p.match.vlan));
    this.mac = new Uint8Array(ports.length * 6);
    this.hasMac = new Uint8Array(ports.length);
    ports.forEach((p, i) => {
      if (!p.match.mac) return;
      this.hasMac[i] = 1;
      for (let b = 0; b < 6; b++) this.mac[i * 6 + b] = parseInt(p.match.mac.slice(b * 2, b * 2 + 2), 16);
    });
    this.nets = ports.map((p) => p.match.networks);
    this.zoneBase = ports.length;
  }

  get count(): number {
    return this.names.length;
  }

  /** The port a packet arrived on (`iface` is the capture interface index, -1 when none). */
  ingress(p: Packet, iface: number): number {
    for (let i = 0; i < this.nConfigured; i++) {
      if (this.iface[i]! >= 0 && this.iface[i] !== iface) continue;
      if (this.vlan[i]! >= 0 && this.vlan[i] !== p.vlanOuter) continue;
      if (this.hasMac[i] && !this.macMatches(i, p)) continue;
      const nets = this.nets[i]!;
      if (nets.length && !containsAny(nets, p.src)) continue;
      return i;
    }
    return this.zoneBase + this.policy.zoneOf(p.src);
  }

  /** The port that leads to an address. */
  egress(addr: Uint32Array): number {
    for (let i = 0; i < this.nConfigured; i++) {
      const nets = this.nets[i]!;
      if (nets.length && containsAny(nets, addr)) return i;
    }
    return this.zoneBase + this.policy.zoneOf(addr);
  }

  private macMatches(i: number, p: Packet): boolean {
    if (p.ethOff < 0) return false;
    const b = p.buf;
    const o = p.ethOff + 6;
    for (let k = 0; k < 6; k++) if (b[o + k] !== this.mac[i * 6 + k]) return false;
    return true;
  }
}

function containsAny(nets: Prefix[], a: Uint32Array): boolean {
  for (let i = 0; i < nets.length; i++) if (prefixContains(nets[i]!, a)) return true;
  return false;
}
