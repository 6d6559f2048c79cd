/**
 * The control API of a live device, end to end: the real CLI runs the device
 * (`sdev run --control S`) on two TAPs moved into network namespaces made for
 * this run (a client, and a server namespace holding both real servers' addresses);
 * real TCP, UDP traffic from python3 goes through it; then `sdev sessions`, `sdev
 * stats --json`, `sdev vs`, `sdev sessions --flush` and `sdev reload` run as
 * subprocesses and their output is checked against what was sent; /metrics is
 * read over the loopback TCP listener. The device is stopped by PID (SIGTERM)
 * and its socket must be gone. Needs root, /dev/net/tun, the TAP addon, python3.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StatsJson } from '../../src/control/api.js';
import { tapAvailable } from '../../src/io/tap.js';
import { REPO } from '../support/captures.js';

const PY = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';
const isRoot = process.getuid?.() === 0;
const hasIp = spawnSync('ip', ['-V'], { stdio: 'ignore' }).status === 0;
const hasPython = spawnSync(PY, ['-c', 'pass'], { stdio: 'ignore' }).status === 0;
const enabled = isRoot && hasIp && hasPython && tapAvailable();

const P = `sdc${process.pid.toString(36)}`;
const NS_C = `${P}cl`;
const NS_S = `${P}sv`;
const TAPS = [`${P}t0`, `${P}t1`];
const children: ChildProcess[] = [];
let dir = '';
let sock = '';
let httpPort = 0;
let device: ChildProcess | null = null;
let deviceLog = '';

/** The labs' Python helpers; this test uses `serve` and `clients`. */
const TOOLS = join(REPO, 'scripts/lab/tools.py');

function ip(args: string[], allowFail = false): void {
  const r = spawnSync('ip', args, { encoding: 'utf8', timeout: 10000 });
  if (r.status !== 0 && !allowFail) throw new Error(`ip ${args.join(' ')}: ${r.stderr}`);
}

/** Runs the CLI from source; resolves with exit code and output. */
function sdev(args: string[]): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve) => {
    const c = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], {
      cwd: REPO,
      env: { ...process.env, SDEV_SOCKET: '' },
    });
    let out = '';
    let err = '';
    c.stdout.on('data', (d: Buffer) => (out += d.toString()));
    c.stderr.on('data', (d: Buffer) => (err += d.toString()));
    c.on('close', (code) => resolve({ code, out, err }));
  });
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      s.close(() => resolve(typeof a === 'object' && a ? a.port : 0));
    });
  });
}

function httpGet(path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const r = request({ host: '127.0.0.1', port: httpPort, path, agent: false }, (res) => {
      let b = '';
      res.on('data', (d: Buffer) => (b += d.toString()));
      res.on('end', () => resolve(b));
    });
    r.on('error', reject);
    r.end();
  });
}

async function waitFor(what: string, ok: () => boolean, ms = 30000): Promise<void> {
  const until = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > until)
      throw new Error(`timed out waiting for ${what}\n--- device log ---\n${deviceLog}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Starts a process in a namespace; resolves with its first stdout line. */
function inNs(ns: string, args: string[]): Promise<string> {
  const c = spawn('ip', ['netns', 'exec', ns, PY, TOOLS, ...args]);
  children.push(c);
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    c.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('\n')) resolve(out.split('\n')[0]!);
    });
    c.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    c.on('close', (code) => reject(new Error(`${args[0]} exited ${code}: ${err}`)));
  });
}

function cleanup(): void {
  for (const c of [...children, ...(device ? [device] : [])]) {
    if (c.pid !== undefined && c.exitCode === null && c.signalCode === null) {
      try {
        process.kill(c.pid, 'SIGKILL');
      } catch {
        // gone
      }
    }
  }
  ip(['netns', 'del', NS_C], true);
  ip(['netns', 'del', NS_S], true);
  for (const t of TAPS) ip(['link', 'del', t], true);
  if (dir) rmSync(dir, { recursive: true, force: true });
}

describe.skipIf(!enabled)('control API of a live device (root, netns, TAP)', () => {
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'sdev-ctl-it-'));
    sock = join(dir, 'ctl.sock');
    httpPort = await freePort();
    writeFileSync(
      join(dir, 'lab.yaml'),
      `device: { name: ctl }
control: { socket: ${join(dir, 'unused.sock')}, http: '127.0.0.1:${httpPort}' }
zones:
  inside: { networks: [10.0.1.0/24] }
  dmz: { networks: [10.0.2.0/24] }
  outside: { default: true }
ports:
  - { name: lan, zone: inside, tap: ${TAPS[0]}, mac: '02:5c:00:00:01:01', address: [10.0.1.1/24], vips: [10.0.0.100] }
  - { name: servers, zone: dmz, tap: ${TAPS[1]}, mac: '02:5c:00:00:02:01', address: [10.0.2.1/24] }
virtual-servers:
  - name: web
    vip: 10.0.0.100
    proto: tcp
    port: 80
    scheduler: rr
    reals: [ { address: 10.0.2.11, port: 8080 }, { address: 10.0.2.12, port: 8080 } ]
policy: { rules: [ { from: inside, action: accept } ] }
`,
    );
    const ready = join(dir, 'ready');
    device = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        'src/cli/main.ts',
        'run',
        '-c',
        join(dir, 'lab.yaml'),
        '--ready-file',
        ready,
        '--control',
        sock,
      ],
      { cwd: REPO, stdio: ['ignore', 'ignore', 'pipe'] },
    );
    device.stderr!.on('data', (d: Buffer) => (deviceLog += d.toString()));
    await waitFor('the ready file', () => existsSync(ready) || device!.exitCode !== null);
    expect(device.exitCode).toBe(null);
    for (const [ns, tap, addrs, gw] of [
      [NS_C, TAPS[0]!, ['10.0.1.2/24'], '10.0.1.1'],
      [NS_S, TAPS[1]!, ['10.0.2.11/24', '10.0.2.12/24'], '10.0.2.1'],
    ] as const) {
      ip(['netns', 'add', ns]);
      ip(['-n', ns, 'link', 'set', 'lo', 'up']);
      ip(['link', 'set', 'dev', tap, 'netns', ns]);
      for (const a of addrs) ip(['-n', ns, 'addr', 'add', a, 'dev', tap]);
      ip(['-n', ns, 'link', 'set', tap, 'up']);
      ip(['-n', ns, 'route', 'add', 'default', 'via', gw]);
    }
    expect(await inNs(NS_S, ['serve', '10.0.2.11', '10.0.2.12'])).toBe('ready');
  }, 60000);

  afterAll(() => cleanup());

  it('the CLI shows, counts and flushes what went through, and the socket goes with the device', async () => {
    // 6 connections opened and closed, 2 held open (rr: 4 per real), 3 UDP datagrams echoed.
    const sent = await inNs(NS_C, ['clients', '6', '2', '60']);
    const words = sent.split(' ');
    expect(words.slice(-2)).toEqual(['udp', '3']);
    const answers = words.slice(0, 8);
    expect(answers.filter((a) => a === '10.0.2.11')).toHaveLength(4);
    expect(answers.filter((a) => a === '10.0.2.12')).toHaveLength(4);

    // sdev sessions: conntrack -L lines of the 8 VIP connections (2 ESTABLISHED) and the UDP flow.
    const list = await sdev(['sessions', '--socket', sock]);
    expect(list.code).toBe(0);
    const lines = list.out.trim().split('\n');
    const vip = lines.filter((l) =>
      /^tcp +6 \d+ \w+ src=10\.0\.1\.2 dst=10\.0\.0\.100 sport=\d+ dport=80 /.test(l),
    );
    expect(vip).toHaveLength(8);
    expect(vip.filter((l) => / ESTABLISHED /.test(l))).toHaveLength(2);
    expect(vip.filter((l) => / src=10\.0\.2\.11 dst=10\.0\.1\.2 sport=8080 /.test(l))).toHaveLength(4);
    const udp = (await sdev(['sessions', '--socket', sock, '-p', 'udp', '--dport', '9999'])).out
      .trim()
      .split('\n');
    expect(udp).toHaveLength(1);
    expect(udp[0]).toMatch(
      /^udp +17 \d+ src=10\.0\.1\.2 dst=10\.0\.2\.11 sport=40000 dport=9999 packets=3 bytes=\d+ src=10\.0\.2\.11 dst=10\.0\.1\.2 sport=9999 dport=40000 packets=3 bytes=\d+ \[ASSURED\] /,
    );
    const json = JSON.parse(
      (await sdev(['sessions', '--socket', sock, '--json', '--state', 'ESTABLISHED'])).out,
    );
    expect(json.map((s: { original: { dport: number } }) => s.original.dport)).toEqual([80, 80]);

    // sdev stats --json: every frame the ports received went through the device once.
    const stats = JSON.parse((await sdev(['stats', '--socket', sock, '--json'])).out) as StatsJson;
    expect(stats.device).toBe('ctl');
    expect(stats.ports.map((p) => [p.name, p.interface])).toEqual([
      ['lan', TAPS[0]],
      ['servers', TAPS[1]],
    ]);
    expect(stats.packetsIn).toBe(stats.ports.reduce((n, p) => n + p.framesIn!, 0));
    expect(Object.values(stats.verdicts).reduce((a, b) => a + b)).toBe(stats.packetsIn);
    // At least: 8 connections x (SYN, ACK, data, FIN...) each way, 3 datagrams each way.
    expect(stats.verdicts.forwarded).toBeGreaterThanOrEqual(8 * 3 * 2 + 6);
    expect(stats.sessions.created).toBeGreaterThanOrEqual(9);
    expect(stats.sessions.current).toBe(lines.length);
    expect(stats.live).toMatchObject({ errors: 0 });

    // sdev vs: ipvsadm -Ln with both reals, one open connection and three closed on each.
    const vs = await sdev(['vs', '--socket', sock]);
    expect(vs.code).toBe(0);
    expect(vs.out).toMatch(/^TCP {2}10\.0\.0\.100:80 rr$/m);
    expect(vs.out).toMatch(/^ {2}-> 10\.0\.2\.11:8080 +Masq +1 +1 +3 +$/m);
    expect(vs.out).toMatch(/^ {2}-> 10\.0\.2\.12:8080 +Masq +1 +1 +3 +$/m);

    // /metrics on the loopback listener agrees.
    const metrics = await httpGet('/metrics');
    expect(metrics).toMatch(/^sdev_real_active_sessions\{vs="web",real="10\.0\.2\.11:8080"\} 1$/m);
    expect(metrics).toMatch(
      new RegExp(`^sdev_port_receive_frames_total\\{port="lan",interface="${TAPS[0]}"\\} \\d+$`, 'm'),
    );
    expect(metrics).toMatch(/^sdev_process_cpu_user_seconds_total \d/m);

    // A bad filter: one line saying what was expected, exit 1, nothing flushed.
    const bad = await sdev(['sessions', '--socket', sock, '--flush', '--sport', '99999']);
    expect([bad.code, bad.err]).toEqual([1, 'sdev: sport: expected an integer 0-65535, got "99999"\n']);

    // Flush the two open connections: exactly those go.
    const fl = await sdev(['sessions', '--socket', sock, '--flush', '-p', 'tcp', '--state', 'ESTABLISHED']);
    expect([fl.code, fl.out]).toEqual([0, '2 flow entries have been deleted.\n']);
    const after = (await sdev(['sessions', '--socket', sock])).out.trim().split('\n');
    expect(after.filter((l) => / ESTABLISHED /.test(l))).toEqual([]);
    expect(after.length).toBeGreaterThanOrEqual(lines.length - 2);
    expect(after.length).toBeLessThanOrEqual(lines.length - 2 + 2); // the kernel may have sent a frame or two since
    const vs2 = (await sdev(['vs', '--socket', sock])).out;
    expect(vs2).toMatch(/^ {2}-> 10\.0\.2\.11:8080 +Masq +1 +0 +3 +$/m);
    const st2 = JSON.parse((await sdev(['stats', '--socket', sock, '--json'])).out) as StatsJson;
    expect(st2.sessions.flushed).toBe(2);

    // Reload with the same file: accepted through the API.
    const rl = await sdev(['reload', '--socket', sock]);
    expect(rl.code).toBe(0);
    expect(rl.out).toMatch(/^reloaded .*lab\.yaml/);

    // Stop by PID: the socket goes, the CLI says nobody answers.
    const dev = device!;
    const exited = new Promise<number | null>((r) => dev.once('exit', (code) => r(code)));
    process.kill(dev.pid!, 'SIGTERM');
    expect(await exited).toBe(0);
    expect(existsSync(sock)).toBe(false);
    expect(existsSync(join(dir, 'unused.sock'))).toBe(false);
    const gone = await sdev(['stats', '--socket', sock]);
    expect([gone.code, gone.err]).toEqual([1, `sdev: no device answers on ${sock} (no such socket)\n`]);
    expect(readFileSync(join(dir, 'lab.yaml'), 'utf8')).toContain('control:');
    expect(deviceLog).toMatch(/control API listening/);
  }, 90000);
});
