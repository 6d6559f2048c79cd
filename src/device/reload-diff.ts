/**
 * Which parts of a new config a running device cannot take without a
 * restart. Everything in a DeviceConfig is fixed except the keys a reload
 * applies (LIVE below); the fixed parts of the old and new config are
 * compared as plain values and each difference is named by its config path
 * ("ports[1].mtu: 1500 -> 9000"). New config keys are fixed until the reload
 * learns to apply them, so a key nobody taught it about is refused rather
 * than silently ignored. Line numbers are not compared (a comment added above
 * a port is not a change).
 */
import type { DeviceConfig } from '../config/types.js';
import { formatIp } from '../wire/addr.js';

/** DeviceConfig keys a reload applies (src/device/reload.ts). */
const LIVE = new Set([
  'source',
  'name',
  'policy',
  'virtualServers',
  'masquerade',
  'resetOnExpiry',
  'verifyChecksums',
  'defaultZone',
  'zones',
  'conntrack',
  'runAs',
]);

/** Keys never compared: where a value was written, not what it is. */
const IGNORED = new Set(['line', 'col']);

/** Config paths for DeviceConfig's own names where they differ (the rest: camelCase -> kebab-case). */
const CONFIG_NAME: Record<string, string> = {
  conntrack: 'sessions',
  maxSessions: 'max',
  virtualServers: 'virtual-servers',
  routerMode: 'router mode (ports with an address)',
  addresses: 'address',
  iface: 'interface',
  timeoutMs: 'timeout (ms)',
};

/** The differences between the fixed parts of two configs, each as "path: before -> after" (at most `limit`). */
export function restartNeeded(before: DeviceConfig, after: DeviceConfig, limit = 8): string[] {
  const out: string[] = [];
  diff(fixed(before), fixed(after), '', out, limit);
  return out;
}

function fixed(cfg: DeviceConfig): Record<string, unknown> {
  const f: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(cfg)) if (!LIVE.has(k)) f[k] = v;
  // Of the session settings only the timeouts and TCP tracking options change live.
  f.conntrack = { maxSessions: cfg.conntrack.maxSessions, zoneByVlan: cfg.conntrack.zoneByVlan };
  // Zones: the set (names, in order: ids are in every session and port); their networks change live.
  f.zones = cfg.zones.map((z) => z.name);
  // The process switched to this user at start; it cannot become another one.
  f.user = cfg.runAs?.user ?? null;
  f.group = cfg.runAs?.group ?? null;
  return f;
}

function plain(v: unknown): unknown {
  if (v instanceof Uint32Array && v.length === 4) return formatIp(v);
  if (ArrayBuffer.isView(v)) return Array.from(v as unknown as ArrayLike<number>);
  if (v && typeof v === 'object' && 'text' in v && 'words' in v) return (v as { text: unknown }).text;
  return v;
}

function segment(k: string): string {
  return CONFIG_NAME[k] ?? k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}

function show(v: unknown): string {
  if (v === null || v === undefined) return 'none';
  if (Array.isArray(v))
    return v.every((x) => typeof x !== 'object') ? `[${v.join(', ')}]` : `${v.length} entries`;
  if (typeof v === 'object') return 'a block';
  return String(v);
}

function diff(a: unknown, b: unknown, path: string, out: string[], limit: number): void {
  if (out.length >= limit) return;
  a = plain(a);
  b = plain(b);
  if (Object.is(a, b)) return;
  const where = path || '(config)';
  if (Array.isArray(a) && Array.isArray(b)) {
    if (
      a.length !== b.length &&
      a.every((x) => typeof x !== 'object') &&
      b.every((x) => typeof x !== 'object')
    ) {
      out.push(`${where}: ${show(a)} -> ${show(b)}`);
      return;
    }
    if (a.length !== b.length) {
      out.push(`${where}: ${a.length} -> ${b.length} entries`);
      return;
    }
    for (let i = 0; i < a.length; i++) diff(a[i], b[i], `${path}[${i}]`, out, limit);
    return;
  }
  if (a && b && typeof a === 'object' && typeof b === 'object' && !Array.isArray(a) && !Array.isArray(b)) {
    const ao = a as Record<string, unknown>;
    const bo = b as Record<string, unknown>;
    const keys = new Set([...Object.keys(ao), ...Object.keys(bo)]);
    const named = (k: string): string => {
      const p = path ? `${path}.${segment(k)}` : segment(k);
      // A port is easier to find by its name than by its index.
      if (path.startsWith('ports[') && !path.includes('.') && k !== 'name' && typeof ao.name === 'string')
        return `${path} (${ao.name}).${segment(k)}`;
      return p;
    };
    for (const k of keys) if (!IGNORED.has(k)) diff(ao[k], bo[k], named(k), out, limit);
    return;
  }
  out.push(`${where}: ${show(a)} -> ${show(b)}`);
}
