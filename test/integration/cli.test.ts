/** The sdev command line as a user runs it: the built bin, real files, exit codes. */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO } from '../support/captures.js';

const tmp = mkdtempSync(join(tmpdir(), 'sdev-cli-'));
const bin = join(REPO, 'bin/sdev.js');
const sample = join(REPO, 'samples/lab.pcap');

function sdev(...args: string[]) {
  return spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', cwd: REPO });
}

beforeAll(() => {
  // The bin runs the compiled dist/; build it when it is missing or stale (scripts/setup does the same).
  if (!existsSync(join(REPO, 'dist/cli/main.js')) || process.env.SDEV_REBUILD !== '0') {
    execFileSync('npx', ['--no-install', 'tsc', '-p', 'tsconfig.build.json'], {
      cwd: REPO,
      stdio: 'inherit',
    });
  }
}, 120000);
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('sdev CLI', () => {
  it('--help lists the commands', () => {
    const r = sdev('--help');
    expect(r.status).toBe(0);
    for (const c of ['replay', 'check-config']) expect(r.stdout).toContain(c);
  });

  it('replay of the bundled sample writes the JSON summary with the documented keys', () => {
    const json = join(tmp, 'summary.json');
    const sessions = join(tmp, 'sessions.json');
    const r = sdev('replay', sample, '--json', json, '--sessions', sessions, '-L');
    expect(r.status).toBe(0);
    const s = JSON.parse(readFileSync(json, 'utf8'));
    for (const k of [
      'packetsIn',
      'forwarded',
      'dropped',
      'dropsByReason',
      'sessionsCreated',
      'sessionsExpired',
      'peakSessions',
      'sessionsByProtocol',
      'tcpFinalStates',
    ]) {
      expect(s, k).toHaveProperty(k);
    }
    expect(s.packetsIn).toBe(44);
    expect(s.dropsByReason).toEqual({
      'policy-deny': 4,
      'out-of-window': 1,
      'malformed-ipv4': 1,
      'non-ip': 1,
    });
    expect(s.tcpFinalStates).toEqual({ ESTABLISHED: 1, TIME_WAIT: 2 });
    expect(r.stdout).toMatch(
      /^tcp\s+6 \d+ TIME_WAIT src=10\.0\.1\.2 dst=93\.184\.216\.34 sport=40001 dport=80 /m,
    );
    const list = JSON.parse(readFileSync(sessions, 'utf8'));
    expect(list).toHaveLength(s.sessionsActive);
  });

  it('replay --verdicts comments every packet; tshark reads them', () => {
    const verdicts = join(tmp, 'v.pcapng');
    expect(sdev('replay', sample, '--verdicts', verdicts, '-q').status).toBe(0);
    const tshark = spawnSync('tshark', ['-r', verdicts, '-T', 'fields', '-e', 'frame.comment'], {
      encoding: 'utf8',
    });
    if (tshark.error) return; // tshark not installed: covered where it is
    const comments = tshark.stdout.trim().split('\n');
    expect(comments).toHaveLength(44);
    expect(comments.filter((c) => c.startsWith('dropped policy-deny 0'))).toHaveLength(4);
    expect(comments.every((c) => /^(forwarded|dropped|held) [a-z0-9-]+ \d+$/.test(c))).toBe(true);
  });

  it('replay --trace prints the stages of matching packets only', () => {
    const r = sdev('replay', sample, '--trace', 'reason out-of-window', '-q');
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('verdict: dropped out-of-window session #5');
    expect(r.stdout.match(/^#\d+/gm)).toHaveLength(1);
    const bad = sdev('replay', sample, '--trace', 'colour red');
    expect(bad.status).not.toBe(0);
    expect(bad.stderr).toContain('unknown trace filter');
  });

  it('check-config accepts a good file and refuses a bad one with file:line:col and what was expected', () => {
    const good = join(tmp, 'good.yaml');
    writeFileSync(
      good,
      'zones:\n  inside: { networks: [10.0.0.0/8] }\n  outside: { default: true }\npolicy:\n  rules:\n    - { from: inside, action: accept }\n',
    );
    const ok = sdev('check-config', good);
    expect(ok.status).toBe(0);
    expect(ok.stdout).toContain('ok (2 zones, 0 ports, 1 rules');
    const bad = join(tmp, 'bad.yaml');
    writeFileSync(bad, 'sessions:\n  max: lots\npolicy:\n  rules:\n    - { from: dmz, action: alow }\n');
    const r = sdev('check-config', bad);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain(
      `${bad}:2:8: sessions.max: expected an integer from 1 to 16777216, got "lots"`,
    );
    expect(r.stderr).toContain(
      `${bad}:5:28: policy.rules[0].action: expected one of accept, drop, reject, got "alow"`,
    );
  });

  it('replay refuses a bad config before reading anything, and a bad capture with the offset', () => {
    const bad = join(tmp, 'bad2.yaml');
    writeFileSync(bad, 'zones: [inside]\n');
    const r = sdev('replay', sample, '-c', bad);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain(':1:8: zones: expected a mapping of zone names');
    const junk = join(tmp, 'junk.pcap');
    writeFileSync(junk, Buffer.from('not a capture at all, really'));
    const j = sdev('replay', junk);
    expect(j.status).toBe(2);
    expect(j.stderr).toMatch(/byte offset 0/);
  });
});
