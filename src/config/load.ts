/**
 * Loading a config: YAML text -> schema check with line numbers -> semantic
 * checks (names that must exist) -> a normalised DeviceConfig. A bad config is
 * refused as a whole with every problem listed, before anything starts.
 */
import { readFileSync } from 'node:fs';
import { LineCounter, parseDocument, type Document, type Node } from 'yaml';
import { defaultConntrackConfig } from '../session/conntrack.js';
import { parsePrefix, type Prefix } from './cidr.js';
import { DEFAULT_CONFIG_YAML } from './default.js';
import { validate, type ConfigIssue } from './schema.js';
import { CONFIG_SPEC, PROTOCOLS } from './spec.js';
import { normaliseHa } from './ha.js';
import type {
  HealthCheckConfig,
  Action,
  DeviceConfig,
  MasqueradeConfig,
  PortConfig,
  RuleConfig,
  VirtualServerConfig,
  ZoneConfig,
} from './types.js';
import { HEALTH_DEFAULTS } from '../lb/health.js';
import { MAGLEV_DEFAULT_SIZE, maglevSizeProblem } from '../lb/maglev.js';
import { ipWords } from '../wire/addr.js';

export class ConfigError extends Error {
  constructor(
    readonly file: string,
    readonly issues: ConfigIssue[],
  ) {
    super(issues.map((i) => `${file}:${i.line}:${i.col}: ${i.path}: ${i.message}`).join('\n'));
    this.name = 'ConfigError';
  }
}

/* eslint-disable @typescript-eslint/no-explicit-any */
type Plain = any;

const PROTO_NUMBERS: Record<string, number> = {
  any: -1,
  tcp: 6,
  udp: 17,
  icmp: 1,
  icmpv6: 58,
  gre: 47,
  esp: 50,
  sctp: 132,
};

export function loadConfigFile(path: string): DeviceConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new ConfigError(path, [{ line: 0, col: 0, path: '(file)', message: (e as Error).message }]);
  }
  return parseConfig(text, path);
}

export function defaultConfig(): DeviceConfig {
  return parseConfig(DEFAULT_CONFIG_YAML, '<default>');
}

/** Parses and validates config text; throws ConfigError listing every issue. */
export function parseConfig(text: string, file: string): DeviceConfig {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  const issues: ConfigIssue[] = doc.errors.map((e) => {
    const p = lines.linePos(e.pos[0]);
    return { line: p.line, col: p.col, path: '(yaml)', message: e.message.split('\n')[0]! };
  });
  if (issues.length === 0) {
    if (doc.contents === null) return normalise({}, file, doc, lines, issues);
    issues.push(...validate(doc, CONFIG_SPEC, lines));
  }
  if (issues.length) throw new ConfigError(file, issues);
  const cfg = normalise(doc.toJS() as Plain, file, doc, lines, issues);
  if (issues.length) throw new ConfigError(file, issues);
  return cfg;
}

function normalise(
  raw: Plain,
  file: string,
  doc: Document,
  lines: LineCounter,
  issues: ConfigIssue[],
): DeviceConfig {
  const lineOf = (path: (string | number)[]): { line: number; col: number } => {
    const node = doc.getIn(path, true) as Node | undefined;
    const p = lines.linePos(node?.range?.[0] ?? 0);
    return { line: p.line, col: p.col };
  };
  const problem = (path: (string | number)[], message: string): void => {
    // Same path form as the schema's issues: keys joined by dots, list indexes in brackets.
    const text = path.reduce<string>(
      (s, k) => (typeof k === 'number' ? `${s}[${k}]` : s ? `${s}.${k}` : k),
      '',
    );
    issues.push({ ...lineOf(path), path: text, message });
  };

  const ct = defaultConntrackConfig();
  const s = raw.sessions ?? {};
  if (s.max !== undefined) ct.maxSessions = s.max;
  if (s['zone-by-vlan'] !== undefined) ct.zoneByVlan = s['zone-by-vlan'];
  if (s.tcp?.liberal !== undefined) ct.tcp.liberal = s.tcp.liberal;
  if (s.tcp?.loose !== undefined) ct.tcp.loose = s.tcp.loose;
  const to = s.timeouts ?? {};
  const camel = (k: string): string => k.replace(/-(\w)/g, (_m, c: string) => c.toUpperCase());
  for (const [k, v] of Object.entries(to.tcp ?? {}))
    (ct.timeouts.tcp as unknown as Record<string, number>)[camel(k)] = v as number;
  if (to.udp?.unreplied !== undefined) ct.timeouts.udp.unreplied = to.udp.unreplied;
  if (to.udp?.replied !== undefined) ct.timeouts.udp.replied = to.udp.replied;
  if (to.icmp !== undefined) ct.timeouts.icmp = to.icmp;
  if (to.generic !== undefined) ct.timeouts.generic = to.generic;

  const zones: ZoneConfig[] = [];
  let defaultZone = -1;
  for (const [zname, z] of Object.entries((raw.zones ?? {}) as Record<string, Plain>)) {
    zones.push({ name: zname, networks: prefixes(z?.networks) });
    if (z?.default === true) {
      if (defaultZone >= 0)
        problem(
          ['zones', zname, 'default'],
          `only one zone may be the default; "${zones[defaultZone]!.name}" already is`,
        );
      defaultZone = zones.length - 1;
    }
  }
  if (zones.length === 0) {
    zones.push({ name: 'inside', networks: [] }, { name: 'outside', networks: [] });
  }
  if (defaultZone < 0) {
    const outside = zones.findIndex((z) => z.name === 'outside');
    defaultZone = outside >= 0 ? outside : zones.length - 1;
  }
  const zoneId = (path: (string | number)[], zname: string | undefined): number => {
    if (zname === undefined || zname === 'any') return -1;
    const i = zones.findIndex((z) => z.name === zname);
    if (i < 0) problem(path, `unknown zone "${zname}"; zones are: ${zones.map((z) => z.name).join(', ')}`);
    return i;
  };

  const ports: PortConfig[] = ((raw.ports ?? []) as Plain[]).map((p, i) => {
    const m = p.match ?? {};
    const zone = zoneId(['ports', i, 'zone'], p.zone);
    const routed = Array.isArray(p.address) && p.address.length > 0;
    return {
      name: p.name,
      zone: zone < 0 ? defaultZone : zone,
      tap: p.tap ?? null,
      pcap: p.pcap === undefined ? null : String(p.pcap),
      mac: p.mac ?? null,
      addresses: (p.address ?? []).map(String),
      mtu: p.mtu ?? 1500,
      vips: (p.vips ?? []).map(String),
      // Settled below, once `ha` is known.
      offload: p.offload === true,
      match: {
        // A routed or live (tap/pcap) port is the port its frames arrive on: the live driver passes its index.
        iface: m.interface ?? (routed || p.tap || p.pcap ? i : -1),
        vlan: m.vlan ?? -1,
        mac: typeof m.mac === 'string' ? m.mac.replace(/[:-]/g, '').toLowerCase() : '',
        networks: prefixes(m.networks),
      },
    };
  });
  const seenPorts = new Set<string>();
  ports.forEach((p, i) => {
    if (seenPorts.has(p.name)) problem(['ports', i, 'name'], `port name "${p.name}" is used twice`);
    seenPorts.add(p.name);
  });

  if (ports.length + zones.length > 255) {
    problem(
      ['ports'],
      `at most 255 ports and zones together (the session keeps each direction's port in a byte); got ${ports.length + zones.length}`,
    );
  }
  const pol = raw.policy ?? {};
  const rules: RuleConfig[] = ((pol.rules ?? []) as Plain[]).map((r, i) => ({
    // The schema lets a number through as a rule name (name: 42); RuleConfig.name is a string.
    name: r.name === undefined ? `rule-${i + 1}` : String(r.name),
    from: zoneId(['policy', 'rules', i, 'from'], r.from),
    to: zoneId(['policy', 'rules', i, 'to'], r.to),
    src: r.src === undefined ? null : prefixes(r.src),
    dst: r.dst === undefined ? null : prefixes(r.dst),
    proto:
      r.proto === undefined
        ? -1
        : typeof r.proto === 'number'
          ? r.proto
          : PROTO_NUMBERS[r.proto as (typeof PROTOCOLS)[number]]!,
    sport: r.sport === undefined ? null : portRanges(r.sport),
    dport: r.dport === undefined ? null : portRanges(r.dport),
    icmpType: r['icmp-type'] ?? -1,
    action: r.action as Action,
    log: r.log === true,
    line: lineOf(['policy', 'rules', i]).line,
  }));
  rules.forEach((r, i) => {
    if ((r.sport || r.dport) && r.proto !== 6 && r.proto !== 17 && r.proto !== 132) {
      problem(['policy', 'rules', i], 'ports need proto tcp, udp or sctp');
    }
    if (r.icmpType >= 0 && r.proto !== 1 && r.proto !== 58)
      problem(['policy', 'rules', i], 'icmp-type needs proto icmp or icmpv6');
  });

  const virtualServers: VirtualServerConfig[] = ((raw['virtual-servers'] ?? []) as Plain[]).map((v, i) => {
    const vs: VirtualServerConfig = {
      name: String(v.name),
      vip: words(v.vip),
      proto: v.proto === 'udp' ? 17 : 6,
      port: v.port ?? 0,
      scheduler: v.scheduler ?? 'rr',
      persistenceMs: (v.persistence ?? 0) * 1000,
      mode: v.mode ?? 'nat',
      snat: v.snat === undefined ? null : words(v.snat),
      mhTableSize: v['mh-table-size'] ?? MAGLEV_DEFAULT_SIZE,
      health: healthOf(v['health-check'] as Plain | undefined),
      reals: (v.reals as Plain[]).map((r) => ({
        addr: words(r.address),
        port: r.port ?? 0,
        weight: r.weight ?? 1,
        up: r.up !== false,
      })),
    };
    if (vs.health?.type === 'tcp' && !vs.health.port && !vs.port && vs.reals.some((r) => !r.port))
      problem(
        ['virtual-servers', i, 'health-check'],
        'a tcp health check needs a port (the reals have none)',
      );
    if (vs.mode === 'fullnat' && !vs.snat)
      problem(['virtual-servers', i, 'mode'], 'fullnat needs an snat address');
    if (vs.scheduler === 'mh') {
      const why = maglevSizeProblem(vs.mhTableSize, vs.reals.length);
      if (why) problem(['virtual-servers', i, 'mh-table-size'], why);
    }
    const v6 = (a: Uint32Array) => !(a[0] === 0 && a[1] === 0 && a[2] === 0xffff);
    vs.reals.forEach((r, j) => {
      if (v6(r.addr) !== v6(vs.vip))
        problem(
          ['virtual-servers', i, 'reals', j, 'address'],
          'a real server must be of the same IP version as the VIP',
        );
    });
    return vs;
  });
  const vsKeys = new Map<string, number>();
  virtualServers.forEach((v, i) => {
    const k = `${v.vip.join('.')}/${v.proto}/${v.port}`;
    if (vsKeys.has(k))
      problem(
        ['virtual-servers', i, 'vip'],
        `the same VIP, protocol and port as virtual server ${virtualServers[vsKeys.get(k)!]!.name}`,
      );
    vsKeys.set(k, i);
  });

  const masquerade: MasqueradeConfig[] = ((raw.masquerade ?? []) as Plain[]).map((m, i) => {
    const [lo, hi] = portRanges(m.ports ?? '1024-65535');
    if (lo! < 1) problem(['masquerade', i, 'ports'], 'ports must start at 1 or above');
    return {
      from: zoneId(['masquerade', i, 'from'], m.from),
      to: zoneId(['masquerade', i, 'to'], m.to),
      address: words(m.address),
      portLo: lo!,
      portHi: hi!,
    };
  });

  const routerMode = ports.some((p) => p.addresses.length > 0);
  ports.forEach((p, i) => {
    if (routerMode && (p.tap || p.pcap) && !p.mac) problem(['ports', i], 'a routed port needs a mac');
    if (p.tap && p.pcap) problem(['ports', i, 'pcap'], 'a port takes either tap: or pcap:, not both');
  });
  const routes = ((raw.routes ?? []) as Plain[]).map((r, i) => {
    const port = ports.findIndex((p) => p.name === r.port);
    if (port < 0)
      problem(
        ['routes', i, 'port'],
        `unknown port "${r.port}"; ports are: ${ports.map((p) => p.name).join(', ')}`,
      );
    return { prefix: String(r.prefix), port, via: r.via === undefined ? null : String(r.via) };
  });

  if (raw.group !== undefined && raw.user === undefined)
    problem(['group'], 'needs a user: as well (the group is switched to along with the user)');
  const runAs =
    raw.user === undefined
      ? null
      : {
          user: String(raw.user),
          group: raw.group === undefined ? null : String(raw.group),
          at: { user: lineOf(['user']), group: lineOf(['group']) },
        };

  const ha = normaliseHa(raw.ha, ports, problem);
  if (ha && !routerMode) problem(['ha'], 'ha needs router mode (ports with addresses)');
  ((raw.ports ?? []) as Plain[]).forEach((rp, i) => {
    const p = ports[i]!;
    if (rp.offload === true && p.pcap)
      problem(['ports', i, 'offload'], 'offload needs a tap: port (libpcap frames carry no offload header)');
    else if (rp.offload === true && ha)
      problem(
        ['ports', i, 'offload'],
        'offload is not supported with ha (redirected and held frames are plain)',
      );
    p.offload = p.tap !== null && !ha && rp.offload !== false;
  });
  // In sync mode each device may see one direction of a connection only (that is the point):
  // window tracking cannot work there, and the handshake is half seen (pf's sloppy state).
  if (ha?.mode === 'sync') {
    ct.tcp.liberal = true;
    ct.tcp.asymmetric = true;
  }

  const fr = raw.fragments ?? {};
  return {
    source: file,
    name: raw.device?.name ?? 'sdev',
    control: { socket: raw.control?.socket ?? null, http: raw.control?.http ?? null },
    conntrack: ct,
    resetOnExpiry: s['reset-on-expiry'] === true,
    verifyChecksums: s['verify-checksums'] === true,
    fragments: {
      maxDatagrams: fr['max-datagrams'] ?? 1024,
      maxBytes: fr['max-bytes'] ?? 4 * 1024 * 1024,
      timeoutMs: (fr.timeout ?? 30) * 1000,
    },
    zones,
    defaultZone,
    ports,
    policy: { defaultAction: (pol.default ?? 'drop') as Action, rules },
    virtualServers,
    masquerade,
    routes,
    routerMode,
    runAs,
    ha,
  };
}

function words(v: Plain): Uint32Array {
  return ipWords(String(v));
}

function prefixes(v: Plain): Prefix[] {
  if (v === undefined || v === null) return [];
  const list = Array.isArray(v) ? v : [v];
  return list.map((t) => parsePrefix(String(t))).filter((p): p is Prefix => typeof p !== 'string');
}

function portRanges(v: Plain): number[] {
  const list = Array.isArray(v) ? v : [v];
  const out: number[] = [];
  for (const item of list) {
    const [lo, hi] = String(item).split('-').map(Number);
    out.push(lo!, hi ?? lo!);
  }
  return out;
}

/** A virtual server's `health-check` block (HAProxy's defaults: 2 s, rise 2, fall 3; timeout = interval). */
function healthOf(h: Plain | undefined): HealthCheckConfig | null {
  if (!h || h.type === 'none') return null;
  const intervalMs = ((h.interval as number | undefined) ?? HEALTH_DEFAULTS.intervalMs / 1000) * 1000;
  return {
    type: h.type === 'icmp' ? 'icmp' : 'tcp',
    port: (h.port as number | undefined) ?? 0,
    intervalMs,
    rise: (h.rise as number | undefined) ?? HEALTH_DEFAULTS.rise,
    fall: (h.fall as number | undefined) ?? HEALTH_DEFAULTS.fall,
    timeoutMs: ((h.timeout as number | undefined) ?? intervalMs / 1000) * 1000,
  };
}
