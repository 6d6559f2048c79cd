/** `pcap:` ports: an existing interface attached with libpcap, the alternative to `tap:`. */
import { describe, expect, it } from 'vitest';
import { ConfigError, parseConfig } from '../../../src/config/load.js';

const issues = (yaml: string): string[] => {
  try {
    parseConfig(yaml, 'p.yaml');
  } catch (e) {
    if (e instanceof ConfigError) return e.issues.map((i) => `${i.line}: ${i.path}: ${i.message}`);
    throw e;
  }
  return [];
};

describe('pcap ports in the config', () => {
  it('reads pcap: next to tap:, matches both by their own index, and keeps match.interface apart', () => {
    const c = parseConfig(
      `
zones: { inside: {}, dmz: {}, outside: { default: true } }
ports:
  - { name: lan, zone: inside, pcap: veth-lan0, mac: '02:00:00:00:00:01', address: [10.0.1.1/24] }
  - { name: srv, zone: dmz, tap: sdt1, mac: '02:00:00:00:00:02', address: [10.0.2.1/24] }
  - { name: mon, zone: outside, pcap: 'eth0.100', mac: '02:00:00:00:00:03', match: { interface: 7 } }
`,
      'p.yaml',
    );
    expect(c.ports.map((p) => [p.name, p.tap, p.pcap, p.match.iface])).toEqual([
      ['lan', null, 'veth-lan0', 0],
      ['srv', 'sdt1', null, 1],
      // match.interface is a pcapng interface index, not the libpcap interface: it wins when given.
      ['mon', null, 'eth0.100', 7],
    ]);
  });

  it('a bridged (unrouted) pcap port is matched by its own index too', () => {
    const c = parseConfig(`ports:\n  - { name: lan, zone: inside, pcap: veth0 }\n`, 'p.yaml');
    expect(c.routerMode).toBe(false);
    expect(c.ports[0]!.match.iface).toBe(0);
    expect(c.ports[0]!.pcap).toBe('veth0');
  });

  it('refuses tap: and pcap: on one port, with the line of the pcap key', () => {
    expect(
      issues(`zones: { inside: {}, outside: { default: true } }
ports:
  - name: lan
    zone: inside
    tap: sdt0
    pcap: veth0
`),
    ).toEqual(['6: ports[0].pcap: a port takes either tap: or pcap:, not both']);
  });

  it('refuses a routed pcap port without a mac', () => {
    expect(
      issues(`ports:
  - { name: lan, zone: inside, pcap: veth0, address: [10.0.1.1/24] }
  - { name: srv, zone: outside, pcap: veth1, mac: '02:00:00:00:00:02', address: [10.0.2.1/24] }
`),
    ).toEqual(['2: ports[0]: a routed port needs a mac']);
  });

  it('refuses interface names that are too long or not text', () => {
    expect(issues(`ports:\n  - { name: lan, zone: inside, pcap: 'a-name-of-16-chr' }\n`)).toEqual([
      '2: ports[0].pcap: expected an existing interface to attach to with libpcap: "a-name-of-16-chr" is not an interface name (1-15 characters)',
    ]);
    expect(issues(`ports:\n  - { name: lan, zone: inside, pcap: 'bad/name' }\n`)[0]).toContain(
      '"bad/name" is not an interface name',
    );
    // A number is a valid name (YAML reads `pcap: 42` as a number): kept as text.
    expect(parseConfig(`ports:\n  - { name: lan, zone: inside, pcap: 42 }\n`, 'p.yaml').ports[0]!.pcap).toBe(
      '42',
    );
    expect(issues(`ports:\n  - { name: lan, zone: inside, pcap: [eth0] }\n`)[0]).toMatch(
      /^2: ports\[0\]\.pcap: expected/,
    );
  });
});

describe('offload: on ports', () => {
  const ports = (extra: string, ha = ''): string => `zones: { inside: {}, outside: { default: true } }
ports:
  - { name: lan, zone: inside, tap: sdt0, mac: '02:00:00:00:00:01', address: [10.0.1.1/24]${extra} }
  - { name: wan, zone: outside, pcap: veth1, mac: '02:00:00:00:00:02', address: [10.0.2.1/24] }
  - { name: mon, zone: outside, match: { vlan: 7 } }
${ha}`;
  const HA = `ha:
  node: 1
  mode: sync
  link: wan
  key: 000102030405060708090a0b0c0d0e0f
  peers: [ { name: fw2, node: 2, address: 10.0.2.2 } ]
`;

  it('is on for TAP ports by default, off for pcap and capture ports, and off when asked', () => {
    expect(parseConfig(ports(''), 'o.yaml').ports.map((p) => p.offload)).toEqual([true, false, false]);
    expect(parseConfig(ports(', offload: false'), 'o.yaml').ports.map((p) => p.offload)).toEqual([
      false,
      false,
      false,
    ]);
  });

  it('is off by default with ha, and refused there when asked for, with its line', () => {
    expect(parseConfig(ports('', HA), 'o.yaml').ports.map((p) => p.offload)).toEqual([false, false, false]);
    expect(issues(ports(', offload: true', HA))).toEqual([
      '3: ports[0].offload: offload is not supported with ha (redirected and held frames are plain)',
    ]);
  });

  it('is refused on a pcap port, with its line', () => {
    expect(
      issues(`ports:
  - { name: lan, zone: inside, pcap: veth0, offload: true }
`),
    ).toEqual(['2: ports[0].offload: offload needs a tap: port (libpcap frames carry no offload header)']);
  });
});
