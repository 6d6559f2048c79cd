import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, defaultConfig, loadConfigFile, parseConfig } from '../../../src/config/load.js';
import { DEFAULT_CONFIG_YAML } from '../../../src/config/default.js';
import type { ConfigIssue } from '../../../src/config/schema.js';
import { defaultConntrackConfig } from '../../../src/session/conntrack.js';

/** Parses text that must be refused; returns the issues. */
function issuesOf(text: string, file = 'test.yaml'): ConfigIssue[] {
  try {
    parseConfig(text, file);
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    const err = e as ConfigError;
    expect(err.name).toBe('ConfigError');
    expect(err.file).toBe(file);
    // The message is one `file:line:col: path: message` line per issue.
    expect(err.message.split('\n')).toEqual(
      err.issues.map((i) => `${file}:${i.line}:${i.col}: ${i.path}: ${i.message}`),
    );
    return err.issues;
  }
  throw new Error('expected a ConfigError');
}

/** The one issue of a text with exactly one problem. */
function oneIssue(text: string): ConfigIssue {
  const issues = issuesOf(text);
  expect(issues).toHaveLength(1);
  return issues[0]!;
}

const texts = (p: { text: string }[] | null): string[] | null => (p ? p.map((x) => x.text) : null);

describe('default config', () => {
  it('is valid: zones inside/outside (outside default), one inside-out rule, drop by default', () => {
    const c = defaultConfig();
    expect(c.source).toBe('<default>');
    expect(c.name).toBe('sdev');
    expect(c.zones.map((z) => z.name)).toEqual(['inside', 'outside']);
    expect(texts(c.zones[0]!.networks)).toEqual([
      '10.0.0.0/8',
      '172.16.0.0/12',
      '192.168.0.0/16',
      '169.254.0.0/16',
      'fc00::/7',
      'fe80::/10',
    ]);
    expect(c.zones[1]!.networks).toEqual([]);
    expect(c.defaultZone).toBe(1);
    expect(c.policy.defaultAction).toBe('drop');
    expect(c.policy.rules).toHaveLength(1);
    expect(c.policy.rules[0]).toEqual({
      name: 'inside-out',
      from: 0,
      to: -1,
      src: null,
      dst: null,
      proto: -1,
      sport: null,
      dport: null,
      icmpType: -1,
      action: 'accept',
      log: false,
      line: 16,
    });
    expect(DEFAULT_CONFIG_YAML.split('\n')[15]).toContain('- name: inside-out');
    expect(c.conntrack).toEqual(defaultConntrackConfig());
    expect(c.ports).toEqual([]);
    expect(c.fragments).toEqual({ maxDatagrams: 1024, maxBytes: 4 * 1024 * 1024, timeoutMs: 30000 });
    expect(c.resetOnExpiry).toBe(false);
    expect(c.verifyChecksums).toBe(false);
  });

  it('an empty file gives the built-in defaults with zones inside/outside and no rules', () => {
    const c = parseConfig('', 'empty.yaml');
    expect(c.zones.map((z) => z.name)).toEqual(['inside', 'outside']);
    expect(c.defaultZone).toBe(1);
    expect(c.policy).toEqual({ defaultAction: 'drop', rules: [] });
    expect(c.conntrack).toEqual(defaultConntrackConfig());
  });
});

const FULL = `# every key
device:
  name: edge-1
sessions:
  max: 1000
  zone-by-vlan: false
  reset-on-expiry: true
  verify-checksums: true
  tcp:
    liberal: true
    loose: false
  timeouts:
    tcp:
      syn-sent: 11
      syn-recv: 12
      established: 7440
      fin-wait: 14
      close-wait: 15
      last-ack: 16
      time-wait: 17
      close: 18
      syn-sent2: 19
    udp:
      unreplied: 31
      replied: 121
    icmp: 61
    generic: 601.5
fragments:
  max-datagrams: 2048
  max-bytes: 1048576
  timeout: 2.5
zones:
  inside:
    networks: [10.0.0.0/8, fd00::/8]
  dmz:
    networks:
      - 192.168.50.0/24
  outside:
    default: true
ports:
  - name: lan
    zone: inside
    match:
      interface: 3
      vlan: 10
      mac: 02:00:00:00:00:AA
      networks: [10.0.0.0/8]
  - name: wan
    zone: outside
policy:
  default: reject
  rules:
    - name: web
      from: outside
      to: dmz
      src: 0.0.0.0/0
      dst: [192.168.50.10/32, 192.168.50.11]
      proto: tcp
      sport: 1024-65535
      dport: [80, 443, 8000-8080]
      action: accept
      log: true
    - from: any
      to: any
      proto: icmp
      icmp-type: 8
      action: accept
    - proto: 47
      action: drop
    - proto: udp
      dport: 53
      src: 2001:db8::/32
      action: reject
      log: false
`;

describe('a full valid config', () => {
  const c = parseConfig(FULL, 'full.yaml');

  it('reads device, sessions and timeouts (seconds)', () => {
    expect(c.source).toBe('full.yaml');
    expect(c.name).toBe('edge-1');
    expect(c.resetOnExpiry).toBe(true);
    expect(c.verifyChecksums).toBe(true);
    expect(c.conntrack).toEqual({
      maxSessions: 1000,
      zoneByVlan: false,
      tcp: { liberal: true, loose: false },
      timeouts: {
        tcp: {
          synSent: 11,
          synRecv: 12,
          established: 7440,
          finWait: 14,
          closeWait: 15,
          lastAck: 16,
          timeWait: 17,
          close: 18,
          synSent2: 19,
          retrans: 300,
          unack: 300,
        },
        udp: { unreplied: 31, replied: 121 },
        icmp: 61,
        generic: 601.5,
      },
    });
  });

  it('converts the fragments timeout to ms', () => {
    expect(c.fragments).toEqual({ maxDatagrams: 2048, maxBytes: 1048576, timeoutMs: 2500 });
  });

  it('reads zones in order with their networks and the default zone', () => {
    expect(c.zones.map((z) => [z.name, texts(z.networks)])).toEqual([
      ['inside', ['10.0.0.0/8', 'fd00::/8']],
      ['dmz', ['192.168.50.0/24']],
      ['outside', []],
    ]);
    expect(c.defaultZone).toBe(2);
    expect(c.zones[0]!.networks[0]!.len).toBe(104);
  });

  it('reads ports with zone ids and normalised match fields', () => {
    expect(c.ports.map((p) => ({ ...p, match: { ...p.match, networks: texts(p.match.networks) } }))).toEqual([
      {
        name: 'lan',
        zone: 0,
        tap: null,
        pcap: null,
        mac: null,
        addresses: [],
        mtu: 1500,
        vips: [],
        offload: false,
        match: { iface: 3, vlan: 10, mac: '0200000000aa', networks: ['10.0.0.0/8'] },
      },
      {
        name: 'wan',
        zone: 2,
        tap: null,
        pcap: null,
        mac: null,
        addresses: [],
        mtu: 1500,
        vips: [],
        offload: false,
        match: { iface: -1, vlan: -1, mac: '', networks: [] },
      },
    ]);
  });

  it('reads rules: zone ids, proto numbers, flattened port ranges, icmp-type, lines', () => {
    expect(c.policy.defaultAction).toBe('reject');
    const rules = c.policy.rules.map((r) => ({ ...r, src: texts(r.src), dst: texts(r.dst) }));
    const lines = FULL.split('\n');
    const lineOf = (s: string): number => lines.findIndex((l) => l.includes(s)) + 1;
    expect(rules).toEqual([
      {
        name: 'web',
        from: 2,
        to: 1,
        src: ['0.0.0.0/0'],
        dst: ['192.168.50.10/32', '192.168.50.11'],
        proto: 6,
        sport: [1024, 65535],
        dport: [80, 80, 443, 443, 8000, 8080],
        icmpType: -1,
        action: 'accept',
        log: true,
        line: lineOf('- name: web'),
      },
      {
        name: 'rule-2',
        from: -1,
        to: -1,
        src: null,
        dst: null,
        proto: 1,
        sport: null,
        dport: null,
        icmpType: 8,
        action: 'accept',
        log: false,
        line: lineOf('- from: any'),
      },
      {
        name: 'rule-3',
        from: -1,
        to: -1,
        src: null,
        dst: null,
        proto: 47,
        sport: null,
        dport: null,
        icmpType: -1,
        action: 'drop',
        log: false,
        line: lineOf('- proto: 47'),
      },
      {
        name: 'rule-4',
        from: -1,
        to: -1,
        src: ['2001:db8::/32'],
        dst: null,
        proto: 17,
        sport: null,
        dport: [53, 53],
        icmpType: -1,
        action: 'reject',
        log: false,
        line: lineOf('- proto: udp'),
      },
    ]);
    expect(rules[0]!.line).toBe(53);
  });

  it('accepts every protocol name', () => {
    const names = { any: -1, tcp: 6, udp: 17, icmp: 1, icmpv6: 58, gre: 47, esp: 50, sctp: 132 };
    for (const [n, num] of Object.entries(names)) {
      const cfg = parseConfig(`policy:\n  rules:\n    - { proto: ${n}, action: drop }\n`, 'p.yaml');
      expect(cfg.policy.rules[0]!.proto).toBe(num);
    }
  });

  it('a rule name that YAML reads as a number is still a string', () => {
    const cfg = parseConfig('policy:\n  rules:\n    - { name: 42, action: drop }\n', 'n.yaml');
    expect(cfg.policy.rules[0]!.name).toBe('42');
  });
});

describe('config errors, each with its exact line', () => {
  it('YAML syntax errors', () => {
    expect(oneIssue('sessions:\n  max: [1, 2\nzones: {}\n')).toMatchObject({
      line: 3,
      col: 1,
      path: '(yaml)',
      message: 'Flow sequence in block collection must be sufficiently indented and end with a ]',
    });
    expect(oneIssue('sessions:\n\tmax: 5\n')).toMatchObject({
      line: 2,
      col: 1,
      path: '(yaml)',
      message: 'Tabs are not allowed as indentation',
    });
    expect(oneIssue('sessions:\n  max: 5\n  max: 6\n')).toMatchObject({
      line: 3,
      col: 3,
      path: '(yaml)',
      message: 'Map keys must be unique',
    });
  });

  it('unknown top-level key lists the expected keys', () => {
    expect(oneIssue('device:\n  name: x\nsesions:\n  max: 5\n')).toEqual({
      line: 3,
      col: 1,
      path: 'sesions',
      message:
        'unknown key "sesions"; expected one of: device, control, user, group, sessions, fragments, zones, ports, routes, virtual-servers, ha, masquerade, policy',
    });
  });

  it("unknown nested key lists that mapping's keys", () => {
    expect(oneIssue('sessions:\n  tcp:\n    strict: true\n')).toEqual({
      line: 3,
      col: 5,
      path: 'sessions.tcp.strict',
      message: 'unknown key "strict"; expected one of: liberal, loose',
    });
  });

  it('wrong type', () => {
    expect(oneIssue('# c\nsessions:\n  max: lots\n')).toEqual({
      line: 3,
      col: 8,
      path: 'sessions.max',
      message: 'expected an integer from 1 to 16777216, got "lots"',
    });
    expect(oneIssue('sessions:\n  max: 0\n').message).toBe('expected an integer from 1 to 16777216, got 0');
    expect(oneIssue('sessions:\n  max: 1.5\n').message).toBe(
      'expected an integer from 1 to 16777216, got 1.5',
    );
    expect(oneIssue('sessions:\n  zone-by-vlan: yes\n').message).toBe('expected true or false, got "yes"');
    expect(oneIssue('sessions:\n  timeouts:\n    icmp: 0\n')).toMatchObject({
      line: 3,
      path: 'sessions.timeouts.icmp',
      message: 'expected a duration in seconds (> 0), got 0',
    });
    expect(oneIssue('- a\n- b\n')).toEqual({
      line: 1,
      col: 1,
      path: '(top)',
      message: 'expected a mapping, got a list',
    });
  });

  it('bad CIDR', () => {
    expect(oneIssue('zones:\n  inside:\n    networks:\n      - 10.0.0.0/8\n      - 10.0.0.300/8\n')).toEqual({
      line: 5,
      col: 9,
      path: 'zones.inside.networks[1]',
      message:
        'expected an IPv4 or IPv6 prefix such as 10.0.0.0/8: "10.0.0.300" is not an IPv4 or IPv6 address',
    });
    expect(oneIssue('zones:\n  inside:\n    networks: [10.0.0.0/33]\n')).toMatchObject({
      line: 3,
      col: 16,
      message: 'expected an IPv4 or IPv6 prefix such as 10.0.0.0/8: prefix length must be 0..32',
    });
    expect(oneIssue('policy:\n  rules:\n    - dst: 2001:db8::/129\n      action: drop\n')).toMatchObject({
      line: 3,
      path: 'policy.rules[0].dst',
      message: 'expected a prefix or a list of prefixes, got "2001:db8::/129"',
    });
  });

  it('bad port range 90-80', () => {
    expect(
      oneIssue('policy:\n  rules:\n    - proto: tcp\n      dport: 90-80\n      action: accept\n'),
    ).toEqual({
      line: 4,
      col: 14,
      path: 'policy.rules[0].dport',
      message: 'expected a port (0-65535), a range "lo-hi", or a list of them, got "90-80"',
    });
    expect(
      oneIssue('policy:\n  rules:\n    - proto: tcp\n      sport: 70000\n      action: accept\n'),
    ).toMatchObject({ line: 4, path: 'policy.rules[0].sport' });
    expect(
      oneIssue('policy:\n  rules:\n    - proto: tcp\n      dport: [80, 10-1]\n      action: accept\n'),
    ).toMatchObject({
      line: 4,
      col: 14,
      path: 'policy.rules[0].dport',
      message: expect.stringContaining('got a list'),
    });
  });

  it('unknown action, and a rule without one', () => {
    expect(issuesOf('policy:\n  default: allow\n  rules:\n    - action: permit\n')).toEqual([
      {
        line: 2,
        col: 12,
        path: 'policy.default',
        message: 'expected one of accept, drop, reject, got "allow"',
      },
      {
        line: 4,
        col: 15,
        path: 'policy.rules[0].action',
        message: 'expected one of accept, drop, reject, got "permit"',
      },
    ]);
    expect(oneIssue('policy:\n  rules:\n    - proto: tcp\n')).toEqual({
      line: 3,
      col: 7,
      path: 'policy.rules[0].action',
      message: 'missing required key "action" (one of accept, drop, reject)',
    });
  });

  it('unknown zone name in a rule names the zones', () => {
    const text =
      'zones:\n  inside: {}\n  outside: { default: true }\npolicy:\n  rules:\n    - from: inside\n      to: dmz\n      action: accept\n';
    expect(oneIssue(text)).toEqual({
      line: 7,
      col: 11,
      path: 'policy.rules[0].to',
      message: 'unknown zone "dmz"; zones are: inside, outside',
    });
  });

  it('ports with proto icmp (or none), icmp-type without icmp', () => {
    expect(
      oneIssue(
        'policy:\n  rules:\n    - name: a\n      proto: icmp\n      dport: 80\n      action: accept\n',
      ),
    ).toEqual({ line: 3, col: 7, path: 'policy.rules[0]', message: 'ports need proto tcp, udp or sctp' });
    expect(oneIssue('policy:\n  rules:\n    - { sport: 80, action: accept }\n')).toMatchObject({
      line: 3,
      message: 'ports need proto tcp, udp or sctp',
    });
    expect(oneIssue('policy:\n  rules:\n    - { proto: udp, icmp-type: 3, action: drop }\n')).toMatchObject({
      line: 3,
      path: 'policy.rules[0]',
      message: 'icmp-type needs proto icmp or icmpv6',
    });
  });

  it('two default zones', () => {
    expect(oneIssue('zones:\n  a:\n    default: true\n  b:\n    default: true\n')).toEqual({
      line: 5,
      col: 14,
      path: 'zones.b.default',
      message: 'only one zone may be the default; "a" already is',
    });
  });

  it('duplicate port names', () => {
    expect(
      oneIssue(
        'zones:\n  inside: {}\nports:\n  - name: p1\n    zone: inside\n  - name: p1\n    zone: inside\n',
      ),
    ).toEqual({
      line: 6,
      col: 11,
      path: 'ports[1].name',
      message: 'port name "p1" is used twice',
    });
  });

  it('reports several schema problems of one file together, in file order', () => {
    const text = [
      'devices:', // 1
      '  name: x', // 2
      'sessions:', // 3
      '  max: lots', // 4
      '  zone-by-vlan: yes', // 5
      'zones:', // 6
      '  inside:', // 7
      '    networks: [10.0.0.0/8, 300.1.1.1]', // 8
      'fragments:', // 9
      '  timeout: 0', // 10
      '',
    ].join('\n');
    expect(issuesOf(text).map((i) => [i.line, i.path])).toEqual([
      [1, 'devices'],
      [4, 'sessions.max'],
      [5, 'sessions.zone-by-vlan'],
      [8, 'zones.inside.networks[1]'],
      [10, 'fragments.timeout'],
    ]);
  });

  it('reports several semantic problems of one file together', () => {
    const text = [
      'zones:', // 1
      '  inside: {}', // 2
      '  outside: { default: true }', // 3
      '  dmz: { default: true }', // 4
      'ports:', // 5
      '  - { name: a, zone: inside }', // 6
      '  - { name: a, zone: lan }', // 7
      'policy:', // 8
      '  rules:', // 9
      '    - { from: inside, to: dmz2, action: accept }', // 10
      '    - { proto: icmp, dport: 1, action: drop }', // 11
      '    - { proto: tcp, icmp-type: 3, action: drop }', // 12
      '',
    ].join('\n');
    const issues = issuesOf(text);
    expect(issues.map((i) => [i.line, i.path, i.message])).toEqual([
      [4, 'zones.dmz.default', 'only one zone may be the default; "outside" already is'],
      [7, 'ports[1].zone', 'unknown zone "lan"; zones are: inside, outside, dmz'],
      [7, 'ports[1].name', 'port name "a" is used twice'],
      [10, 'policy.rules[0].to', 'unknown zone "dmz2"; zones are: inside, outside, dmz'],
      [11, 'policy.rules[1]', 'ports need proto tcp, udp or sctp'],
      [12, 'policy.rules[2]', 'icmp-type needs proto icmp or icmpv6'],
    ]);
  });
});

describe('loadConfigFile', () => {
  it('a missing file is a ConfigError', () => {
    const path = join(tmpdir(), `sdev-no-such-config-${process.pid}.yaml`);
    let err: unknown;
    try {
      loadConfigFile(path);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    const ce = err as ConfigError;
    expect(ce.file).toBe(path);
    expect(ce.issues).toHaveLength(1);
    expect(ce.issues[0]).toMatchObject({ line: 0, col: 0, path: '(file)' });
    expect(ce.issues[0]!.message).toContain('ENOENT');
    expect(ce.message.startsWith(`${path}:0:0: (file): `)).toBe(true);
  });

  it('reads a file and names it in errors', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sdev-cfg-'));
    try {
      const good = join(dir, 'good.yaml');
      writeFileSync(good, FULL);
      const c = loadConfigFile(good);
      expect(c.source).toBe(good);
      expect(c.name).toBe('edge-1');
      const bad = join(dir, 'bad.yaml');
      writeFileSync(bad, 'sessions:\n  max: lots\n');
      expect(() => loadConfigFile(bad)).toThrow(
        `${bad}:2:8: sessions.max: expected an integer from 1 to 16777216, got "lots"`,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
