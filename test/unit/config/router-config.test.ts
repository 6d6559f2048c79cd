import { describe, expect, it } from 'vitest';
import { ConfigError, parseConfig } from '../../../src/config/load.js';

const issues = (yaml: string) => {
  try {
    parseConfig(yaml, 'r.yaml');
  } catch (e) {
    if (e instanceof ConfigError) return e.issues.map((i) => `${i.line}: ${i.path}: ${i.message}`);
    throw e;
  }
  return [];
};

describe('router-mode config', () => {
  it('a port with addresses turns router mode on; a TAP port is matched by its own index', () => {
    const c = parseConfig(
      `
ports:
  - { name: lan, zone: inside, tap: sdl0, mac: '02:00:00:00:00:01', address: [10.0.1.1/24, 'fd00:1::1/64'], vips: [10.0.0.100], mtu: 9000 }
  - { name: srv, zone: outside, tap: sdl1, mac: '02:00:00:00:00:02', address: [10.0.2.1/24] }
routes:
  - { prefix: 0.0.0.0/0, port: srv, via: 10.0.2.254 }
`,
      'r.yaml',
    );
    expect(c.routerMode).toBe(true);
    expect(c.ports.map((p) => [p.name, p.tap, p.match.iface, p.mtu, p.addresses.length])).toEqual([
      ['lan', 'sdl0', 0, 9000, 2],
      ['srv', 'sdl1', 1, 1500, 1],
    ]);
    expect(c.routes).toEqual([{ prefix: '0.0.0.0/0', port: 1, via: '10.0.2.254' }]);
  });

  it('refuses a routed TAP port without a MAC, a route to an unknown port, and bad interface names', () => {
    expect(
      issues(`
ports:
  - { name: lan, zone: inside, tap: sdl0, address: [10.0.1.1/24] }
routes:
  - { prefix: 10.9.0.0/16, port: nowhere }
`),
    ).toEqual([
      '3: ports[0]: a routed port needs a mac',
      '5: routes[0].port: unknown port "nowhere"; ports are: lan',
    ]);
    expect(issues(`ports:\n  - { name: lan, zone: inside, tap: 'way-too-long-a-name' }\n`)[0]).toContain(
      'ports[0].tap: expected a TAP interface name: "way-too-long-a-name" is not an interface name (1-15 characters)',
    );
  });
});
