/**
 * Config reload of a real `sdev run` on SIGHUP: an open TCP connection
 * through the VIP keeps delivering data across a reload whose new rule
 * refuses new connections, which the next connection meets; a broken config
 * on SIGHUP is logged with its line and the device keeps running.
 * Needs root, /dev/net/tun, the TAP addon and python3; skipped otherwise.
 */
import { existsSync, writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LiveLab, labConfig, labEnabled, waitFor } from '../support/live-lab.js';

describe.skipIf(!labEnabled)('sdev run: reload on SIGHUP (root, /dev/net/tun, netns)', () => {
  let lab: LiveLab;

  beforeAll(async () => {
    lab = new LiveLab('sdr');
    lab.writeConfig(labConfig(lab));
    await lab.start();
    await lab.wire();
  }, 60_000);

  afterAll(() => lab?.cleanup());

  it('an open connection keeps delivering data; the new rule refuses the next connection', async () => {
    const s = lab.bg(lab.client, ['session', '10.0.0.100', '80']);
    const say = async (cmd: string, n: number): Promise<string> => {
      s.child.stdin!.write(`${cmd}\n`);
      return waitFor(() => s.lines[n], `"${cmd}" answered (${s.lines.join(' | ')})`, 10_000);
    };
    await waitFor(() => s.lines[0], 'the session to open', 10_000);
    expect(s.lines[0]).toBe('open');
    expect(await say('send before', 1)).toBe('echo before');
    expect(await say('new', 2)).toBe('new connected');

    lab.writeConfig(
      labConfig(lab, {
        rules: `[ { name: no-new-web, from: inside, dst: 10.0.0.100, proto: tcp, dport: 80, action: reject },
                  { name: inside-out, from: inside, to: any, action: accept } ]`,
      }),
    );
    lab.signal('SIGHUP');
    const line = await lab.waitLog('config reloaded');
    expect(line).toMatchObject({ level: 'info', rules: '1 -> 2 (changed)', config: lab.configFile });

    expect(await say('send after the reload', 3)).toBe('echo after the reload');
    expect(await say('new', 4)).toBe('new Connection refused');
    expect(await say('send still', 5)).toBe('echo still');
    s.child.stdin!.write('quit\n');
  }, 60_000);

  it('a broken config on SIGHUP is logged with its line; the device keeps the old one and keeps running', async () => {
    const good = labConfig(lab);
    const broken = good.replace('action: accept', 'action: allow');
    const line = broken.split('\n').findIndex((l) => l.includes('action: allow')) + 1;
    writeFileSync(lab.configFile, broken);
    lab.signal('SIGHUP');
    const refused = await lab.waitLog(/^reload refused/);
    const problems = (refused.problems as string[]).join('\n');
    expect(problems).toContain(`${lab.configFile}:${line}:`);
    expect(problems).toMatch(/action: .*accept, drop, reject/);
    expect(lab.sdev!.exitCode).toBeNull();
    // Still the reject rule of the last good reload: traffic flows, new web connections are refused.
    expect(lab.py(lab.client, ['ping', '10.0.2.11', '2']).out).toBe('2/2');
    expect(lab.py(lab.client, ['connect', '10.0.0.100', '80', '3']).out).toBe('Connection refused');

    // A reload that needs a restart (a port's MTU) is refused by name.
    writeFileSync(
      lab.configFile,
      good.replace('address: [10.0.2.1/24] }', 'address: [10.0.2.1/24], mtu: 9000 }'),
    );
    lab.signal('SIGHUP');
    const restart = await lab.waitLog('reload refused: restart needed');
    expect(restart.problems).toEqual(['ports[1] (srv).mtu: 1500 -> 9000']);
    expect(lab.py(lab.client, ['connect', '10.0.0.100', '80', '3']).out).toBe('Connection refused');

    lab.signal('SIGTERM');
    const exit = await lab.exit!;
    expect(exit.code).toBe(0);
    expect(existsSync(lab.readyFile)).toBe(false);
  }, 60_000);
});
