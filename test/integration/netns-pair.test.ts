/**
 * The HA pair lab end to end: `scripts/netns-lab.sh test pair` builds the
 * namespaces and bridges, runs two `sdev run` (fw1, fw2) with three TAPs each,
 * and for every ha mode restarts both devices and sends 200 HTTP requests and
 * a 10 s iperf3 over asymmetric paths (client -> fw1 -> server -> fw2 ->
 * client); then kills fw1 during an iperf3 (mode sync with defer).
 * Needs root, /dev/net/tun, the built TAP addon, python3, curl and iperf3;
 * skipped otherwise.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { tapAvailable } from '../../src/io/tap.js';
import { REPO } from '../support/captures.js';

const isRoot = process.getuid?.() === 0;
const hasTools = ['ip', 'bridge', 'curl', 'iperf3', 'bash'].every(
  (c) => spawnSync(c, ['--version'], { stdio: 'ignore' }).error === undefined,
);
const hasPython = existsSync('/usr/bin/python3') || spawnSync('python3', ['-c', 'pass']).status === 0;
const enabled = isRoot && hasTools && hasPython && tapAvailable();

const PREFIX = `sdp${process.pid.toString(36)}`;

function leftovers(): string[] {
  const ns = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout.split('\n');
  const links = spawnSync('ip', ['-o', 'link'], { encoding: 'utf8' }).stdout.split('\n');
  return [
    ...ns.map((l) => l.split(' ')[0]!).filter((n) => n.startsWith(PREFIX)),
    ...links.map((l) => (l.split(': ')[1] ?? '').split('@')[0]!).filter((n) => n.startsWith(PREFIX)),
  ];
}

function runLab(): Promise<{ code: number | null; out: string; err: string; seconds: number }> {
  const t0 = Date.now();
  return new Promise((resolve) => {
    const child = spawn('bash', [join(REPO, 'scripts/netns-lab.sh'), 'test', 'pair'], {
      cwd: REPO,
      env: { ...process.env, SDEV_LAB_PREFIX: PREFIX },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const timer = setTimeout(() => child.kill('SIGTERM'), 230_000);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, out, err, seconds: (Date.now() - t0) / 1000 });
    });
  });
}

describe.skipIf(!enabled)('netns lab: HA pair (root, /dev/net/tun, TAP addon, iperf3)', () => {
  it('off drops the asymmetric replies; sync with defer, mac-rewrite and gre carry them; fw2 takes over from a killed fw1', async () => {
    const r = await runLab();
    const table = r.out + (r.code === 0 ? '' : `\n--- stderr ---\n${r.err}`);
    const done = String.raw`iperf3 \d+ Mbit\/s`;
    expect(table).toMatch(
      /^PASS +off +HTTP 0\/200, iperf3 failed \(.*\); fw2 dropped: .*(no-session|policy-deny) [1-9]\d*/m,
    );
    expect(table).toMatch(/^PASS +sync +HTTP \d+\/200, iperf3 .*\(measured only/m);
    for (const mode of ['mac-rewrite', 'gre'])
      expect(table).toMatch(new RegExp(`^PASS +${mode} +HTTP 200/200, ${done}$`, 'm'));
    expect(table).toMatch(
      new RegExp(
        `^PASS +sync\\+defer +HTTP 200/200, ${done}; defer added p50 \\d+\\.\\d ms, p99 \\d+\\.\\d ms \\([1-9]\\d* held`,
        'm',
      ),
    );
    expect(table).toMatch(
      new RegExp(
        `^PASS +failover \\(sync\\+defer, fw1 killed at 3 s\\) +${done}; [1-9]\\d* MB acked before the kill; client's 10\\.0\\.1\\.1: 02:5d:02:00:01:01; takeover \\d+ ms after the kill$`,
        'm',
      ),
    );
    expect(table).not.toMatch(/^FAIL/m);
    expect(table).toMatch(/^all 6 scenarios passed$/m);
    expect(r.code).toBe(0);
    expect(leftovers()).toEqual([]);
    console.log(`netns pair lab: ${r.seconds.toFixed(0)} s`);
  }, 240_000);
});
