/**
 * `user:` / `group:`: names resolved through the system's user database (an
 * unknown one refused with its config line), and the switch itself, done in a
 * child process (it is for good): afterwards nothing can bring root back.
 */
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../../src/config/load.js';
import { resolveRunAs } from '../../../src/run/privilege.js';
import { REPO } from '../../support/captures.js';
import { config } from '../../support/run.js';

const id = (args: string[]): string => spawnSync('id', args, { encoding: 'utf8' }).stdout.trim();
const hasNobody = spawnSync('id', ['nobody'], { stdio: 'ignore' }).status === 0;
const isRoot = process.getuid?.() === 0;

function refusal(yaml: string): { line: number; col: number; path: string; message: string } {
  try {
    resolveRunAs(config(yaml));
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    const i = (e as ConfigError).issues;
    expect(i).toHaveLength(1);
    return i[0]!;
  }
  throw new Error('not refused');
}

describe.skipIf(!hasNobody)('resolveRunAs', () => {
  it('resolves a user to its uid and primary group, or to the group given', () => {
    expect(resolveRunAs(config('user: nobody'))).toEqual({
      user: 'nobody',
      uid: Number(id(['-u', 'nobody'])),
      group: id(['-gn', 'nobody']),
      gid: Number(id(['-g', 'nobody'])),
    });
    const daemonGid = Number(
      spawnSync('getent', ['group', 'daemon'], { encoding: 'utf8' }).stdout.split(':')[2],
    );
    expect(resolveRunAs(config('user: nobody\ngroup: daemon'))).toMatchObject({
      group: 'daemon',
      gid: daemonGid,
    });
    expect(resolveRunAs(config(`user: ${id(['-u', 'nobody'])}`))).toMatchObject({ user: 'nobody' });
    expect(resolveRunAs(config('user: 54321\ngroup: 54321'))).toEqual({
      user: '54321',
      uid: 54321,
      group: '54321',
      gid: 54321,
    });
    expect(resolveRunAs(config('zones: { a: {} }'))).toBeNull();
  });

  it('refuses an unknown user or group, root, and a bare uid without group, each at its line', () => {
    expect(refusal('device: { name: x }\nuser: nosuchuser9\n')).toEqual({
      line: 2,
      col: 7,
      path: 'user',
      message: 'unknown user "nosuchuser9" (no passwd entry)',
    });
    expect(refusal('user: nobody\ngroup: nosuchgroup9')).toMatchObject({ line: 2, col: 8, path: 'group' });
    expect(refusal('user: root').message).toMatch(/is root/);
    expect(refusal('user: 54321').message).toMatch(/no passwd entry: give group:/);
    expect(() => config('group: daemon')).toThrow(/test\.yaml:1:8: group: needs a user: as well/);
    expect(() => config('user: "bad name"')).toThrow(/user: .*a user or group name, or a numeric id/);
  });
});

describe.skipIf(!hasNobody || !isRoot)('dropPrivileges (in a child process)', () => {
  it('switches every id, leaves no capability and no way back; the check finds a process that could', () => {
    const code = `
      import { writeFileSync } from 'node:fs';
      import { resolveRunAs, dropPrivileges, stillPrivileged } from './src/run/privilege.ts';
      import { parseConfig } from './src/config/load.ts';
      const ids = resolveRunAs(parseConfig('user: nobody', 'x.yaml'));
      const before = stillPrivileged(ids);
      const dropped = dropPrivileges(ids);
      let rootWrite = 'refused';
      try { writeFileSync('/root/.sdev-privilege-test', 'x'); rootWrite = 'allowed'; } catch (e) { rootWrite = e.code; }
      console.log(JSON.stringify({ before, dropped, after: stillPrivileged(ids), rootWrite, uid: process.getuid() }));
    `;
    const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], {
      cwd: REPO,
      encoding: 'utf8',
      timeout: 30_000,
    });
    expect(r.stderr).toBe('');
    const o = JSON.parse(r.stdout) as {
      before: string[];
      dropped: { already: boolean; uid: number };
      after: string[];
      rootWrite: string;
      uid: number;
    };
    const nobody = Number(id(['-u', 'nobody']));
    // As root the check sees everything that is still privileged (and setuid(0) would succeed).
    expect(o.before.join('\n')).toMatch(/uid\/euid are 0\/0/);
    expect(o.before.join('\n')).toMatch(/setuid\(0\) succeeded/);
    expect(o.before.join('\n')).toMatch(/keeps capabilities/);
    expect(o.dropped).toMatchObject({ already: false, uid: nobody });
    expect(o.after).toEqual([]);
    expect(o.uid).toBe(nobody);
    expect(o.rootWrite).toBe('EACCES');
  });
});
