/**
 * `user:` in the config of a real `sdev run`: it opens its TAPs as root,
 * then runs as that user (every id of every thread, no capabilities), keeps
 * forwarding, reloads a config the user can read (and refuses, saying why,
 * one it cannot), and still cleans up on SIGTERM. An unknown user is refused
 * with its config line before any TAP exists.
 * Needs root, /dev/net/tun, the TAP addon and python3; skipped otherwise.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LiveLab, labConfig, labEnabled, procStatus } from '../support/live-lab.js';

const idOf = (flag: string): number => Number(spawnSync('id', [flag, 'nobody'], { encoding: 'utf8' }).stdout);
const hasNobody = spawnSync('id', ['nobody'], { stdio: 'ignore' }).status === 0;

describe.skipIf(!labEnabled || !hasNobody)('sdev run with user: (root, /dev/net/tun, netns)', () => {
  let lab: LiveLab;

  beforeAll(() => {
    lab = new LiveLab('sdp');
    // The ready file is written after the switch: its directory must let nobody create and remove it.
    chmodSync(lab.dir, 0o1777);
  });

  afterAll(() => lab?.cleanup());

  it('an unknown user is refused with its config line before any TAP is created', async () => {
    lab.writeConfig(labConfig(lab, { extra: 'user: nosuchuser9' }));
    await expect(lab.start()).rejects.toThrow(/exited before ready/);
    const exit = await lab.exit!;
    expect(exit.code).toBe(2);
    const refused = lab
      .logLines()
      .find(
        (l) =>
          l.msg ===
          `config refused (1 problem):\n${lab.configFile}:2:7: user: unknown user "nosuchuser9" (no passwd entry)`,
      );
    expect(refused).toMatchObject({ level: 'error', config: lab.configFile });
    expect(lab.linkExists(`${lab.p}t0`)).toBe(false);
    expect(lab.logLines().some((l) => l.msg === 'port open')).toBe(false);
  }, 30_000);

  it('runs as nobody after ready, still forwards, reloads what it can read, cleans up on SIGTERM', async () => {
    lab.log = '';
    lab.writeConfig(labConfig(lab, { extra: 'user: nobody' }));
    await lab.start();
    const pid = lab.sdev!.pid!;
    const uid = idOf('-u');
    const gid = idOf('-g');
    const st = procStatus(pid);
    expect(st.Uid!.split(/\s+/).map(Number)).toEqual([uid, uid, uid, uid]);
    expect(st.Gid!.split(/\s+/).map(Number)).toEqual([gid, gid, gid, gid]);
    expect(st.Groups === '' || st.Groups === String(gid)).toBe(true);
    expect(st.CapEff).toMatch(/^0+$/);
    expect(st.CapPrm).toMatch(/^0+$/);
    expect(await lab.waitLog('privileges dropped')).toMatchObject({
      user: 'nobody',
      uid,
      gid,
      already: false,
    });

    await lab.wire();
    expect(lab.py(lab.client, ['ping', '10.0.1.1', '3']).out).toBe('3/3');
    expect(lab.py(lab.client, ['connect', '10.0.0.100', '80', '3']).out).toBe('connected');

    // A config nobody cannot read: refused with the reason, the device keeps running on the old one.
    chmodSync(lab.configFile, 0o600);
    lab.signal('SIGHUP');
    const refused = await lab.waitLog(/^reload refused/);
    expect((refused.problems as string[]).join('\n')).toMatch(/EACCES/);
    chmodSync(lab.configFile, 0o644);
    lab.writeConfig(
      labConfig(lab, { extra: 'user: nobody', rules: '[ { from: inside, to: any, action: reject } ]' }),
    );
    lab.signal('SIGHUP');
    expect(await lab.waitLog('config reloaded')).toMatchObject({ rules: '1 -> 1 (changed)' });
    expect(lab.py(lab.client, ['connect', '10.0.0.100', '80', '3']).out).toBe('Connection refused');
    // Switching to another user is not something a reload can do.
    lab.writeConfig(labConfig(lab, { extra: 'user: daemon' }));
    lab.signal('SIGHUP');
    expect((await lab.waitLog('reload refused: restart needed')).problems).toEqual([
      'user: nobody -> daemon',
    ]);

    lab.signal('SIGTERM');
    const exit = await lab.exit!;
    expect(exit.code).toBe(0);
    expect(existsSync(lab.readyFile)).toBe(false);
    expect(existsSync(lab.controlSocket)).toBe(false); // chowned to nobody before the switch
    expect(lab.linkExists(`${lab.p}t0`, lab.client)).toBe(false);
    expect(lab.linkExists(`${lab.p}t1`, lab.server)).toBe(false);
    expect(lab.logLines().some((l) => l.level === 'warn' || l.level === 'error')).toBe(true); // the EACCES reload
    expect(lab.logLines().filter((l) => l.msg === 'could not remove the ready file')).toEqual([]);
  }, 90_000);
});
