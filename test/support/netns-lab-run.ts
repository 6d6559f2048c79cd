/**
 * Runs `scripts/netns-lab.sh test <topology>` for the netns integration tests
 * (one per topology), and finds what a run left behind.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { tapAvailable } from '../../src/io/tap.js';
import { REPO } from './captures.js';

/** Root, /dev/net/tun with the TAP addon, python3 and these commands. */
export function labAvailable(commands: string[]): boolean {
  const hasTools = commands.every(
    (c) => spawnSync(c, ['--version'], { stdio: 'ignore' }).error === undefined,
  );
  const hasPython = existsSync('/usr/bin/python3') || spawnSync('python3', ['-c', 'pass']).status === 0;
  return process.getuid?.() === 0 && hasTools && hasPython && tapAvailable();
}

export interface LabRun {
  code: number | null;
  out: string;
  err: string;
  seconds: number;
}

/** The script with SDEV_LAB_PREFIX = prefix; SIGTERM after `limitMs` (the script cleans up on it). */
export function runLabTest(topology: 'single' | 'pair', prefix: string, limitMs = 230_000): Promise<LabRun> {
  const t0 = Date.now();
  return new Promise((resolve) => {
    const child = spawn('bash', [join(REPO, 'scripts/netns-lab.sh'), 'test', topology], {
      cwd: REPO,
      env: { ...process.env, SDEV_LAB_PREFIX: prefix },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const timer = setTimeout(() => child.kill('SIGTERM'), limitMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, out, err, seconds: (Date.now() - t0) / 1000 });
    });
  });
}

/** Namespaces and links whose names start with the prefix. */
export function leftovers(prefix: string): string[] {
  const ns = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout.split('\n');
  const links = spawnSync('ip', ['-o', 'link'], { encoding: 'utf8' }).stdout.split('\n');
  return [
    ...ns.map((l) => l.split(' ')[0]!).filter((n) => n.startsWith(prefix)),
    ...links.map((l) => (l.split(': ')[1] ?? '').split('@')[0]!).filter((n) => n.startsWith(prefix)),
  ];
}
