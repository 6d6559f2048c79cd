/**
 * The `ha:` block: this device as one of a redundant pair (or more). Its
 * schema, and its normalised form once the ports are known (peers' MACs per
 * port index, takeover addresses with the port whose network holds them).
 */
import { parsePrefix, prefixContains } from './cidr.js';
import type { Field, Spec } from './schema.js';
import type { HaConfig, HaPeerConfig, PortConfig } from './types.js';
import { ipWords, macBytes } from '../wire/addr.js';

export const HA_MODES = ['off', 'sync', 'mac-rewrite', 'gre'] as const;
/** conntrackd's UDP port. */
export const HA_SYNC_PORT = 3780;

const opt = (spec: Spec): Field => ({ spec });
const req = (spec: Spec): Field => ({ spec, required: true });
const obj = (fields: Record<string, Field>): Spec => ({ kind: 'object', fields });
const num = (min: number, max: number): Spec => ({ kind: 'number', min, max, integer: true });

const address: Spec = {
  kind: 'string',
  check: (v) =>
    typeof parsePrefix(v) !== 'string' && !v.includes('/') ? null : `"${v}" is not an IP address`,
  doc: 'an IPv4 or IPv6 address',
};
const mac: Spec = {
  kind: 'string',
  check: (v) => (/^([0-9a-fA-F]{2}[:-]){5}[0-9a-fA-F]{2}$/.test(v) ? null : `"${v}" is not a MAC address`),
  doc: 'a MAC address such as 02:00:00:00:00:01',
};
const key: Spec = {
  kind: 'string',
  check: (v) =>
    /^([0-9a-fA-F]{2}){16,}$/.test(v) ? null : 'the key must be at least 16 bytes written as hex digits',
  doc: 'a shared key: 32 or more hex digits',
};

export const HA_SPEC: Spec = obj({
  node: req(num(1, 255)),
  mode: opt({ kind: 'string', enum: HA_MODES }),
  link: req({ kind: 'string', doc: 'the name of the port that carries sync and GRE' }),
  key: req(key),
  'sync-port': opt(num(1, 65535)),
  defer: opt({ kind: 'boolean' }),
  'defer-timeout': opt({ kind: 'number', min: 0.001, max: 1, doc: 'seconds (at most 1)' }),
  peers: req({
    kind: 'array',
    minItems: 1,
    of: obj({
      name: req({ kind: 'string' }),
      node: req(num(1, 255)),
      address: req(address),
      macs: opt({
        kind: 'object',
        fields: {},
        open: mac,
        doc: "a mapping of port names to the peer's MAC there",
      }),
      takeover: opt({ kind: 'array', of: address }),
    }),
  }),
});

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Plain = any;
type Problem = (path: (string | number)[], message: string) => void;

/** The normalised `ha:` block (null when absent), checked against the ports. */
export function normaliseHa(raw: Plain, ports: PortConfig[], problem: Problem): HaConfig | null {
  if (raw === undefined || raw === null) return null;
  const names = ports.map((p) => p.name);
  const portIndex = (path: (string | number)[], name: string): number => {
    const i = names.indexOf(name);
    if (i < 0) problem(path, `unknown port "${name}"; ports are: ${names.join(', ')}`);
    return i;
  };
  const link = portIndex(['ha', 'link'], String(raw.link));
  if (link >= 0 && ports[link]!.addresses.length === 0)
    problem(['ha', 'link'], 'the ha link port needs an address (sync and GRE are sent from it)');
  const node = Number(raw.node);
  const peers: HaPeerConfig[] = (raw.peers as Plain[]).map((p, i) => {
    if (Number(p.node) === node)
      problem(['ha', 'peers', i, 'node'], `the peer has this device's own node id ${node}`);
    const macs: (Uint8Array | null)[] = ports.map(() => null);
    for (const [port, m] of Object.entries((p.macs ?? {}) as Record<string, string>)) {
      const k = portIndex(['ha', 'peers', i, 'macs', port], port);
      if (k >= 0) macs[k] = macBytes(m);
    }
    const takeover = ((p.takeover ?? []) as string[]).map((a, j) => {
      const addr = ipWords(a);
      const port = ports.findIndex((q) => q.addresses.some((c) => holds(c, addr)));
      if (port < 0)
        problem(['ha', 'peers', i, 'takeover', j], `${a} is in none of this device's port networks`);
      return { port, addr };
    });
    return {
      name: String(p.name),
      node: Number(p.node),
      address: ipWords(String(p.address)),
      macs,
      takeover,
    };
  });
  const mode = (raw.mode ?? 'off') as HaConfig['mode'];
  if (mode === 'mac-rewrite')
    peers.forEach((p, i) => {
      if (!p.macs.some((m) => m))
        problem(['ha', 'peers', i, 'macs'], "mac-rewrite needs the peer's MACs on the shared ports");
    });
  if (raw.defer === true && mode !== 'sync') problem(['ha', 'defer'], 'defer needs mode: sync');
  return {
    node,
    mode,
    link,
    key: Uint8Array.from(Buffer.from(String(raw.key), 'hex')),
    syncPort: raw['sync-port'] ?? HA_SYNC_PORT,
    defer: raw.defer === true,
    deferTimeoutMs: (raw['defer-timeout'] ?? 0.02) * 1000,
    peers,
  };
}

/** Whether the prefix written as `cidr` ("10.0.1.1/24") holds `addr`. */
function holds(cidr: string, addr: Uint32Array): boolean {
  const p = parsePrefix(cidr);
  return typeof p !== 'string' && prefixContains(p, addr);
}
