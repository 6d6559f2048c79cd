/**
 * `sdev run` on two pcap ports: a router between real veths. Namespaces made
 * for this run: `client` (10.0.1.2/24 via 10.0.1.1), `server` (10.0.2.11/24
 * via 10.0.2.1, an HTTP server on :8080) and `dev`, which holds the other end
 * of both veth pairs and runs the device. Those ends have no IPv4 address and
 * no IPv6, so the kernel of `dev` stays silent and only the device answers.
 * Needs root and `ip netns`; skipped otherwise.
 *
 * Checks ping to the device and through it, HTTP to the server and to the VIP,
 * and that the device never takes in what goes out of its interfaces: frames
 * the `dev` host injects on them, and its own.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pcapAvailable } from '../../src/io/pcap-port.js';
import { REPO } from '../support/captures.js';

const isRoot = process.getuid?.() === 0;
const hasNetns = spawnSync('ip', ['netns', 'list'], { stdio: 'ignore' }).status === 0;
const enabled = isRoot && hasNetns && pcapAvailable();
const PY = 'python3';
const TOOLS = join(REPO, 'test/integration/pcap-lab.py');

const pre = `sr${process.pid.toString(36)}`;
const CL = `${pre}client`;
const SV = `${pre}server`;
const DV = `${pre}dev`;
const LAN_MAC = '02:5e:00:00:01:01';
const SRV_MAC = '02:5e:00:00:02:01';
const INJECTED = 300;

let dir = '';
let device: ChildProcess | null = null;
let deviceErr = '';
let deviceExit: Promise<number | null> = Promise.resolve(null);
let web: ChildProcess | null = null;
const rx0: Record<string, number> = {};
const tx0: Record<string, number> = {};

function run(cmd: string, args: string[], allowFail = false): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 30000 });
  if (r.status !== 0 && !allowFail)
    throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}): ${r.stderr}`);
  return r.stdout;
}
const inNs = (ns: string, args: string[], allowFail = false): string =>
  run('ip', ['netns', 'exec', ns, ...args], allowFail);
const tool = (ns: string, args: string[]): string => inNs(ns, [PY, TOOLS, ...args]).trim();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const stat = (link: string, what: 'rx_packets' | 'tx_packets'): number =>
  Number(inNs(DV, ['cat', `/sys/class/net/${link}/statistics/${what}`]));
const curl = (url: string): string => inNs(CL, ['curl', '-s', '-m', '5', url], true);

function config(): string {
  return `# sdev on two pcap ports, written by test/integration/pcap-device.test.ts
device:
  name: ${pre}
zones:
  inside: { networks: [10.0.1.0/24] }
  dmz: { networks: [10.0.2.0/24] }
  outside: { default: true }
ports:
  - name: lan
    zone: inside
    pcap: ${pre}d0
    mac: ${LAN_MAC}
    address: [10.0.1.1/24]
    vips: [10.0.0.100]
  - name: servers
    zone: dmz
    pcap: ${pre}d1
    mac: ${SRV_MAC}
    address: [10.0.2.1/24]
virtual-servers:
  - name: web
    vip: 10.0.0.100
    proto: tcp
    port: 80
    reals:
      - { address: 10.0.2.11, port: 8080 }
policy:
  default: drop
  rules:
    - { name: inside-out, from: inside, to: any, action: accept }
`;
}

function kill(child: ChildProcess | null, signal: NodeJS.Signals): void {
  if (child?.pid !== undefined && child.exitCode === null && child.signalCode === null) {
    try {
      process.kill(child.pid, signal);
    } catch {
      // already gone
    }
  }
}

async function cleanup(): Promise<void> {
  // The device first: cap aborts a process whose interface disappears.
  if (device && device.exitCode === null && device.signalCode === null) {
    kill(device, 'SIGTERM');
    await Promise.race([deviceExit, sleep(5000)]);
    kill(device, 'SIGKILL');
  }
  kill(web, 'SIGKILL');
  for (const ns of [DV, CL, SV]) {
    run('ip', ['netns', 'del', ns], true);
    rmSync(`/etc/netns/${ns}`, { recursive: true, force: true });
  }
  if (dir) rmSync(dir, { recursive: true, force: true });
}

/** The JSON log line with this msg, from the device's stderr. */
function logLine(msg: string): Record<string, unknown> | undefined {
  for (const line of deviceErr.split('\n')) {
    if (!line.startsWith('{')) continue; // libpcap's own warnings go to stderr too
    const o = JSON.parse(line) as Record<string, unknown>;
    if (o.msg === msg) return o;
  }
  return undefined;
}

describe.skipIf(!enabled)('sdev run on pcap ports between veths (root, ip netns)', () => {
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), `${pre}-`));
    for (const ns of [CL, SV, DV]) {
      // `ip netns exec` mounts these over /etc: names resolve locally, no DNS query leaves the lab.
      mkdirSync(`/etc/netns/${ns}`, { recursive: true });
      writeFileSync(`/etc/netns/${ns}/hosts`, '127.0.0.1 localhost\n10.0.2.11 server\n10.0.1.2 client\n');
      writeFileSync(`/etc/netns/${ns}/resolv.conf`, 'nameserver 127.0.0.1\n');
      run('ip', ['netns', 'add', ns]);
      inNs(ns, ['sysctl', '-qw', 'net.ipv6.conf.all.disable_ipv6=1', 'net.ipv6.conf.default.disable_ipv6=1']);
      inNs(ns, ['ip', 'link', 'set', 'lo', 'up']);
    }
    run('ip', [
      'link',
      'add',
      `${pre}c0`,
      'netns',
      CL,
      'type',
      'veth',
      'peer',
      'name',
      `${pre}d0`,
      'netns',
      DV,
    ]);
    run('ip', [
      'link',
      'add',
      `${pre}s0`,
      'netns',
      SV,
      'type',
      'veth',
      'peer',
      'name',
      `${pre}d1`,
      'netns',
      DV,
    ]);
    // Whole checksummed frames of at most MTU size on the wire, as from a real NIC (native-notes/libpcap.md).
    tool(CL, ['offloads-off', `${pre}c0`]);
    tool(SV, ['offloads-off', `${pre}s0`]);
    tool(DV, ['offloads-off', `${pre}d0`, `${pre}d1`]);
    inNs(DV, ['ip', 'link', 'set', `${pre}d0`, 'up']);
    inNs(DV, ['ip', 'link', 'set', `${pre}d1`, 'up']);
    inNs(CL, ['ip', 'addr', 'add', '10.0.1.2/24', 'dev', `${pre}c0`]);
    inNs(CL, ['ip', 'link', 'set', `${pre}c0`, 'up']);
    inNs(CL, ['ip', 'route', 'add', 'default', 'via', '10.0.1.1']);
    inNs(SV, ['ip', 'addr', 'add', '10.0.2.11/24', 'dev', `${pre}s0`]);
    inNs(SV, ['ip', 'link', 'set', `${pre}s0`, 'up']);
    inNs(SV, ['ip', 'route', 'add', 'default', 'via', '10.0.2.1']);
    mkdirSync(join(dir, 'www'));
    writeFileSync(join(dir, 'www/index.html'), 'pcap-srv\n');
    web = spawn('ip', ['netns', 'exec', SV, PY, '-m', 'http.server', '8080', '--bind', '10.0.2.11'], {
      cwd: join(dir, 'www'),
      stdio: 'ignore',
    });
    // The web server is up once it answers from its own namespace (that stays off the wire).
    for (let i = 0; i < 50 && !inNs(SV, ['curl', '-s', '-m', '1', 'http://10.0.2.11:8080/'], true); i++) {
      await sleep(100);
    }
    writeFileSync(join(dir, 'cfg.yaml'), config());
    // From here every frame on d0 and d1 is counted: the device's ports must account for all of them.
    for (const l of ['d0', 'd1']) {
      rx0[l] = stat(`${pre}${l}`, 'rx_packets');
      tx0[l] = stat(`${pre}${l}`, 'tx_packets');
    }
    const ready = join(dir, 'ready');
    device = spawn(
      'ip',
      [
        'netns',
        'exec',
        DV,
        process.execPath,
        '--import',
        'tsx',
        'src/cli/main.ts',
        'run',
        '-c',
        join(dir, 'cfg.yaml'),
        '--ready-file',
        ready,
      ],
      { cwd: REPO, stdio: ['ignore', 'ignore', 'pipe'] },
    );
    const d = device;
    d.stderr!.on('data', (b: Buffer) => (deviceErr += b.toString()));
    deviceExit = new Promise((resolve) => d.on('close', (code) => resolve(code)));
    const until = Date.now() + 40000;
    while (!existsSync(ready) && Date.now() < until && d.exitCode === null) await sleep(100);
    if (!existsSync(ready)) throw new Error(`the device did not start:\n${deviceErr}`);
  }, 60000);

  afterAll(cleanup, 30000);

  it('opened both pcap ports', () => {
    const open = deviceErr
      .split('\n')
      .filter((l) => l.startsWith('{') && l.includes('"port open"'))
      .map((l) => JSON.parse(l) as { port: string; kind: string; iface: string });
    expect(open.map((o) => [o.port, o.kind, o.iface])).toEqual([
      ['lan', 'pcap', `${pre}d0`],
      ['servers', 'pcap', `${pre}d1`],
    ]);
  });

  it('answers ping from the client', () => {
    expect(tool(CL, ['ping', '10.0.1.1', '3'])).toBe('3/3');
  });

  it('routes ping and an HTTP exchange from the client to the server', () => {
    expect(tool(CL, ['ping', '10.0.2.11', '3'])).toBe('3/3');
    expect(curl('http://10.0.2.11:8080/')).toBe('pcap-srv\n');
  });

  it('balances HTTP to the VIP onto the real server', () => {
    for (let i = 0; i < 3; i++) expect(curl('http://10.0.0.100/')).toBe('pcap-srv\n');
  });

  it('never takes in frames sent out of its interfaces (injected by the dev host, or its own)', async () => {
    // Echo requests to the device, as the client would send them, but sent out of d0 by dev's host:
    // outgoing on d0. A device that read them would answer each one.
    expect(
      tool(DV, [
        'echo-inject',
        `${pre}d0`,
        '02:00:00:00:01:02',
        LAN_MAC,
        '10.0.1.2',
        '10.0.1.1',
        String(INJECTED),
      ]),
    ).toBe(String(INJECTED));
    await sleep(300);
    kill(device, 'SIGTERM');
    expect(await deviceExit).toBe(0);
    const stopped = logLine('stopped') as {
      packetsIn: number;
      ports: Record<string, { in: number; out: number; txDropped: number }>;
    };
    expect(stopped).toBeDefined();
    const { lan, servers } = stopped.ports;
    const rx = { d0: stat(`${pre}d0`, 'rx_packets') - rx0.d0!, d1: stat(`${pre}d1`, 'rx_packets') - rx0.d1! };
    const tx = { d0: stat(`${pre}d0`, 'tx_packets') - tx0.d0!, d1: stat(`${pre}d1`, 'tx_packets') - tx0.d1! };
    // The injected frames did go out of d0, next to what the device sent there.
    expect(tx.d0).toBe(lan!.out - lan!.txDropped + INJECTED);
    expect(tx.d1).toBe(servers!.out - servers!.txDropped);
    // What the device took in is what arrived from the wire: at most the first frame after open
    // missing (libpcap), nothing more. Reading the injected frames (or its own) would add hundreds.
    for (const [port, link] of [
      [lan!, 'd0'],
      [servers!, 'd1'],
    ] as const) {
      expect(port.in).toBeLessThanOrEqual(rx[link]);
      expect(port.in).toBeGreaterThanOrEqual(rx[link] - 1);
    }
    expect(lan!.out).toBeLessThan(INJECTED);
    expect(stopped.packetsIn).toBe(lan!.in + servers!.in);
    expect(lan!.in).toBeGreaterThan(10);
  });
});
