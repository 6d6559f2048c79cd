/** The validated, normalised configuration the device runs with. */
import type { ConntrackConfig } from '../session/conntrack.js';
import type { Prefix } from './cidr.js';

export type Action = 'accept' | 'drop' | 'reject';

export interface ZoneConfig {
  name: string;
  networks: Prefix[];
}

export interface PortMatch {
  /** pcapng interface index (global across sections). */
  iface: number;
  vlan: number;
  /** Source MAC as 12 hex digits, or ''. */
  mac: string;
  networks: Prefix[];
}

export interface PortConfig {
  name: string;
  zone: number;
  match: PortMatch;
  /** Live: the TAP interface to create or attach. */
  tap: string | null;
  /** Live: an existing interface (veth, NIC) to attach to with libpcap; never together with tap. */
  pcap: string | null;
  /** Router mode: the device's MAC on this port, its addresses (CIDR text), MTU and the VIPs it answers ARP for. */
  mac: string | null;
  addresses: string[];
  mtu: number;
  vips: string[];
  /**
   * Live TAP: open it with offloads (IFF_VNET_HDR + TUNSETOFFLOAD): the kernel
   * hands over TCP frames of up to 64 KiB and leaves checksums to finish.
   * Default on for TAP ports of a device without `ha`; never for pcap ports.
   */
  offload: boolean;
}

export interface RouteConfig {
  prefix: string;
  /** Port index. */
  port: number;
  via: string | null;
}

export interface RuleConfig {
  name: string;
  /** Zone ids, -1 = any. */
  from: number;
  to: number;
  src: Prefix[] | null;
  dst: Prefix[] | null;
  /** IP protocol number, -1 = any. */
  proto: number;
  sport: number[] | null; // flat [lo, hi, lo, hi, ...]
  dport: number[] | null;
  icmpType: number;
  action: Action;
  log: boolean;
  line: number;
}

export interface RealConfig {
  addr: Uint32Array;
  /** 0: the port the client asked for. */
  port: number;
  weight: number;
  up: boolean;
}

export interface HealthCheckConfig {
  /** tcp: SYN, a SYN-ACK is up; icmp: echo, a reply is up. */
  type: 'tcp' | 'icmp';
  /** TCP port to probe (0: the real's port, else the virtual server's). */
  port: number;
  intervalMs: number;
  rise: number;
  fall: number;
  timeoutMs: number;
}

export interface VirtualServerConfig {
  name: string;
  vip: Uint32Array;
  /** 6 or 17. */
  proto: number;
  /** 0 = any port. */
  port: number;
  scheduler: 'rr' | 'wrr' | 'lc' | 'wlc' | 'sh' | 'mh';
  persistenceMs: number;
  /** nat: destination NAT only (replies must come back through the device); fullnat: source too. */
  mode: 'nat' | 'fullnat';
  snat: Uint32Array | null;
  mhTableSize: number;
  /** Active health checks of the reals (live only; null: none, reals are as `up` says). */
  health: HealthCheckConfig | null;
  reals: RealConfig[];
}

export interface MasqueradeConfig {
  /** Zone ids, -1 = any. */
  from: number;
  to: number;
  /** The address sessions from `from` to `to` leave with. */
  address: Uint32Array;
  /** Source ports (and ICMP echo ids) to allocate from. */
  portLo: number;
  portHi: number;
}

export interface HaPeerConfig {
  name: string;
  node: number;
  /** Its address on the ha link (sync and GRE go there). */
  address: Uint32Array;
  /** Its MAC per port index (null where not given): mac-rewrite sends there. */
  macs: (Uint8Array | null)[];
  /** Its addresses this device takes over when it dies, with the port they are on. */
  takeover: { port: number; addr: Uint32Array }[];
}

export interface HaConfig {
  node: number;
  /** What to do with a packet of a session another device owns. */
  mode: 'off' | 'sync' | 'mac-rewrite' | 'gre';
  /** Port index of the link that carries sync and GRE. */
  link: number;
  key: Uint8Array;
  syncPort: number;
  defer: boolean;
  deferTimeoutMs: number;
  peers: HaPeerConfig[];
}

export interface DeviceConfig {
  source: string;
  name: string;
  conntrack: ConntrackConfig;
  resetOnExpiry: boolean;
  verifyChecksums: boolean;
  fragments: { maxDatagrams: number; maxBytes: number; timeoutMs: number };
  zones: ZoneConfig[];
  /** Zone of an address that is in no zone's networks. */
  defaultZone: number;
  ports: PortConfig[];
  policy: { defaultAction: Action; rules: RuleConfig[] };
  virtualServers: VirtualServerConfig[];
  masquerade: MasqueradeConfig[];
  /** Static routes (router mode; connected routes come from port addresses). */
  routes: RouteConfig[];
  /** True when any port has addresses: the device routes (ARP/ND, TTL, ICMP errors) instead of bridging. */
  routerMode: boolean;
  /** The redundant pair (null: a single device). */
  ha: HaConfig | null;
  /** `user:` / `group:`: whom `sdev run` becomes once its ports are open (null: it stays as started). */
  runAs: RunAsConfig | null;
  /** `control:`: where `sdev run` serves its control API (socket null: /run/sdev/<name>.sock; http null: no TCP). */
  control?: { socket: string | null; http: string | null };
}

export interface RunAsConfig {
  /** A user name, or a numeric uid as text. */
  user: string;
  /** A group name or numeric gid as text; null: the user's primary group. */
  group: string | null;
  /** Where `user:` and `group:` are written, for errors (an unknown user). */
  at: { user: { line: number; col: number }; group: { line: number; col: number } };
}
