/** The schema of sdev's YAML config (see README "Config"). */
import { checkPrefix } from './cidr.js';
import { HA_SPEC } from './ha.js';
import type { Field, Spec } from './schema.js';

const num = (min: number, max: number, integer = true): Spec => ({ kind: 'number', min, max, integer });
const bool: Spec = { kind: 'boolean' };
const seconds: Spec = { kind: 'number', min: 0.001, max: 31536000, doc: 'a duration in seconds (> 0)' };
const opt = (spec: Spec): Field => ({ spec });
const req = (spec: Spec): Field => ({ spec, required: true });
const obj = (fields: Record<string, Field>): Spec => ({ kind: 'object', fields });

const cidr: Spec = { kind: 'string', check: checkPrefix, doc: 'an IPv4 or IPv6 prefix such as 10.0.0.0/8' };
const name: Spec = {
  kind: 'string',
  check: (v) => (/^[A-Za-z][A-Za-z0-9_.-]{0,31}$/.test(v) ? null : `"${v}" is not a valid name`),
  doc: 'a name (letters, digits, _ . -; starting with a letter)',
};
const mac: Spec = {
  kind: 'string',
  check: (v) => (/^([0-9a-fA-F]{2}[:-]){5}[0-9a-fA-F]{2}$/.test(v) ? null : `"${v}" is not a MAC address`),
  doc: 'a MAC address such as 02:00:00:00:00:01',
};
const portRange: Spec = {
  kind: 'string',
  check: (v) => {
    const m = /^(\d+)(?:-(\d+))?$/.exec(v);
    if (!m) return `"${v}" is not a port or range like 1000-2000`;
    const lo = Number(m[1]);
    const hi = m[2] === undefined ? lo : Number(m[2]);
    return lo <= hi && hi <= 65535 ? null : `"${v}" is not within 0-65535 with low <= high`;
  },
  doc: 'a port or a range such as 1024-65535',
};
const ports: Spec = {
  kind: 'union',
  of: [
    num(0, 65535),
    portRange,
    { kind: 'array', of: { kind: 'union', of: [num(0, 65535), portRange], doc: 'a port or range' } },
  ],
  doc: 'a port (0-65535), a range "lo-hi", or a list of them',
};
const cidrs: Spec = {
  kind: 'union',
  of: [cidr, { kind: 'array', of: cidr }],
  doc: 'a prefix or a list of prefixes',
};

export const PROTOCOLS = ['any', 'tcp', 'udp', 'icmp', 'icmpv6', 'gre', 'esp', 'sctp'] as const;
export const ACTIONS = ['accept', 'drop', 'reject'] as const;

const rule: Spec = obj({
  name: opt({ kind: 'string' }),
  from: opt(name),
  to: opt(name),
  src: opt(cidrs),
  dst: opt(cidrs),
  proto: opt({
    kind: 'union',
    of: [{ kind: 'string', enum: PROTOCOLS }, num(0, 255)],
    doc: `one of ${PROTOCOLS.join(', ')} or a protocol number 0-255`,
  }),
  sport: opt(ports),
  dport: opt(ports),
  'icmp-type': opt(num(0, 255)),
  action: req({ kind: 'string', enum: ACTIONS }),
  log: opt(bool),
});

const tcpTimeouts = obj({
  'syn-sent': opt(seconds),
  'syn-recv': opt(seconds),
  established: opt(seconds),
  'fin-wait': opt(seconds),
  'close-wait': opt(seconds),
  'last-ack': opt(seconds),
  'time-wait': opt(seconds),
  close: opt(seconds),
  'syn-sent2': opt(seconds),
  retrans: opt(seconds),
  unack: opt(seconds),
});

const address: Spec = {
  kind: 'string',
  check: (v) =>
    checkPrefix(v) === null && !v.includes('/') ? null : `"${v}" is not an IPv4 or IPv6 address`,
  doc: 'an IPv4 or IPv6 address',
};
export const SCHEDULERS = ['rr', 'wrr', 'lc', 'wlc', 'sh', 'mh'] as const;
export const NAT_MODES = ['nat', 'fullnat'] as const;

const virtualServer: Spec = obj({
  name: req(name),
  vip: req(address),
  proto: opt({ kind: 'string', enum: ['tcp', 'udp'] }),
  port: opt(num(0, 65535)),
  scheduler: opt({ kind: 'string', enum: SCHEDULERS }),
  persistence: opt({ kind: 'number', min: 0, max: 86400, doc: 'seconds (0 = off)' }),
  mode: opt({ kind: 'string', enum: NAT_MODES }),
  snat: opt(address),
  'mh-table-size': opt(num(3, 1 << 24)),
  'health-check': opt(
    obj({
      type: req({ kind: 'string', enum: ['tcp', 'icmp', 'none'] }),
      port: opt(num(1, 65535)),
      interval: opt(seconds),
      rise: opt(num(1, 100)),
      fall: opt(num(1, 100)),
      timeout: opt(seconds),
    }),
  ),
  reals: req({
    kind: 'array',
    minItems: 1,
    of: obj({ address: req(address), port: opt(num(0, 65535)), weight: opt(num(0, 65535)), up: opt(bool) }),
  }),
});

const account: Spec = {
  kind: 'union',
  of: [
    {
      kind: 'string',
      check: (v) =>
        /^[A-Za-z_][A-Za-z0-9_.-]{0,31}\$?$/.test(v) ? null : `"${v}" is not a user or group name`,
    },
    num(0, 4294967294),
  ],
  doc: 'a user or group name, or a numeric id',
};

export const CONFIG_SPEC: Spec = obj({
  device: opt(obj({ name: opt(name) })),
  control: opt(
    obj({
      socket: opt({
        kind: 'string',
        check: (v) =>
          v.length > 0 && Buffer.byteLength(v) <= 107 ? null : `"${v}" is not a socket path (1-107 bytes)`,
        doc: 'a Unix socket path',
      }),
      http: opt({
        kind: 'string',
        check: (v) =>
          /^(localhost|127\.\d{1,3}\.\d{1,3}\.\d{1,3}|\[::1\]):\d{1,5}$/.test(v) &&
          Number(v.split(':').pop()) <= 65535
            ? null
            : `"${v}" is not a loopback host:port (the control API has no authentication)`,
        doc: 'a loopback host:port such as 127.0.0.1:9100 or [::1]:9100',
      }),
    }),
  ),
  user: opt(account),
  group: opt(account),
  sessions: opt(
    obj({
      max: opt(num(1, 16777216)),
      'zone-by-vlan': opt(bool),
      'reset-on-expiry': opt(bool),
      'verify-checksums': opt(bool),
      tcp: opt(obj({ liberal: opt(bool), loose: opt(bool) })),
      timeouts: opt(
        obj({
          tcp: opt(tcpTimeouts),
          udp: opt(obj({ unreplied: opt(seconds), replied: opt(seconds) })),
          icmp: opt(seconds),
          generic: opt(seconds),
        }),
      ),
    }),
  ),
  fragments: opt(
    obj({
      'max-datagrams': opt(num(1, 1 << 20)),
      'max-bytes': opt(num(65536, 1 << 30)),
      timeout: opt(seconds),
    }),
  ),
  zones: opt({
    kind: 'object',
    fields: {},
    open: obj({ networks: opt({ kind: 'array', of: cidr }), default: opt(bool) }),
    doc: 'a mapping of zone names to { networks, default }',
  }),
  ports: opt({
    kind: 'array',
    of: obj({
      name: req(name),
      zone: req(name),
      tap: opt({
        kind: 'string',
        check: (v) =>
          /^[A-Za-z0-9_.-]{1,15}$/.test(v) ? null : `"${v}" is not an interface name (1-15 characters)`,
        doc: 'a TAP interface name',
      }),
      pcap: opt({
        kind: 'string',
        check: (v) =>
          /^[A-Za-z0-9_.:-]{1,15}$/.test(v) ? null : `"${v}" is not an interface name (1-15 characters)`,
        doc: 'an existing interface to attach to with libpcap',
      }),
      mac: opt(mac),
      address: opt({ kind: 'array', of: cidr }),
      mtu: opt(num(576, 65535)),
      offload: opt(bool),
      vips: opt({ kind: 'array', of: address }),
      match: opt(
        obj({
          interface: opt(num(0, 65535)),
          vlan: opt(num(0, 4095)),
          mac: opt(mac),
          networks: opt({ kind: 'array', of: cidr }),
        }),
      ),
    }),
  }),
  routes: opt({ kind: 'array', of: obj({ prefix: req(cidr), port: req(name), via: opt(address) }) }),
  'virtual-servers': opt({ kind: 'array', of: virtualServer }),
  ha: opt(HA_SPEC),
  masquerade: opt({
    kind: 'array',
    of: obj({ from: req(name), to: req(name), address: req(address), ports: opt(portRange) }),
  }),
  policy: opt(
    obj({
      default: opt({ kind: 'string', enum: ACTIONS }),
      rules: opt({ kind: 'array', of: rule }),
    }),
  ),
});
