/**
 * reloadConfig: re-reads the config file of a running Device; a file that
 * does not validate is refused exactly as `sdev check-config` reports it, a
 * change that needs a restart is refused by name, and either way the
 * running config stays; a good file is applied and what changed is logged.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfigFile } from '../../../src/config/load.js';
import { Device } from '../../../src/device/device.js';
import { createLogger } from '../../../src/run/log.js';
import { reloadConfig } from '../../../src/run/reload.js';
import { REPO } from '../../support/captures.js';
import { TcpConv } from '../../support/conv.js';

const dir = mkdtempSync(join(tmpdir(), 'sdev-reload-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const yaml = (
  rules: string,
  reals = '[ { address: 10.0.2.11, port: 8080 }, { address: 10.0.2.12, port: 8080 } ]',
) => `
zones:
  inside: { networks: [10.0.1.0/24] }
  dmz: { networks: [10.0.2.0/24] }
  outside: { default: true }
virtual-servers:
  - name: web
    vip: 10.0.0.100
    proto: tcp
    port: 80
    reals: ${reals}
policy:
  default: drop
  rules:
${rules}
`;
const ACCEPT = '    - { name: inside-out, from: inside, action: accept }';

function setup(name: string) {
  const file = join(dir, name);
  writeFileSync(file, yaml(ACCEPT));
  const lines: string[] = [];
  const log = createLogger({ level: 'info', stream: { write: (s: string) => lines.push(s) } });
  const dev = new Device(loadConfigFile(file), { send() {} });
  const parsed = () => lines.map((l) => JSON.parse(l) as Record<string, unknown>);
  return { file, dev, log, parsed };
}

/** A SYN from the inside to the VIP: "forwarded" or "dropped". */
function syn(dev: Device, cport: number): string {
  const f = new TcpConv('10.0.1.2', cport, '10.0.0.100', 80).syn(0);
  return dev.process(f, 0, f.length, 1, -1, cport) === 1 ? 'dropped' : 'forwarded';
}

describe('reloadConfig', () => {
  it('refuses a file that does not validate with the same text as sdev check-config, and keeps the old config', () => {
    const { file, dev, log, parsed } = setup('bad.yaml');
    const before = dev.cfg;
    writeFileSync(file, yaml(`${ACCEPT}\n    - { name: x, from: nowhere, action: maybe }`));
    const r = reloadConfig(dev, log);
    expect(r.ok).toBe(false);
    const check = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'check-config', file], {
      cwd: REPO,
      encoding: 'utf8',
    });
    expect(check.status).toBe(2);
    expect(`sdev: ${r.message}\n`).toBe(check.stderr);
    expect(r.message).toContain(`${file}:16:`);
    expect(r.message).toMatch(/action: .*accept, drop, reject/);
    expect(dev.cfg).toBe(before);
    expect(syn(dev, 40001)).toBe('forwarded');
    const line = parsed().at(-1)!;
    expect(line.level).toBe('error');
    expect((line.problems as string[])[0]).toMatch(
      new RegExp(`^${file.replace(/[.]/g, '\\.')}:16:\\d+: policy\\.rules\\[1\\]`),
    );
  });

  it('refuses YAML that does not parse, with the line', () => {
    const { file, dev, log } = setup('syntax.yaml');
    writeFileSync(file, 'zones:\n  inside: { networks: [10.0.1.0/24]\n  dmz: {}\n');
    const r = reloadConfig(dev, log);
    expect(r.ok).toBe(false);
    expect(r.message).toMatch(new RegExp(`${file.replace(/[.]/g, '\\.')}:\\d+:\\d+: \\(yaml\\)`));
    expect(syn(dev, 40001)).toBe('forwarded');
  });

  it('refuses a change that needs a restart, naming it; a missing file likewise', () => {
    const { file, dev, log, parsed } = setup('restart.yaml');
    writeFileSync(file, `sessions: { max: 1000 }\n${yaml('    - { from: inside, action: drop }')}`);
    const r = reloadConfig(dev, log);
    expect(r).toEqual({
      ok: false,
      message: expect.stringMatching(/^restart needed: sessions\.max: 262144 -> 1000 /),
    });
    expect(parsed().at(-1)).toMatchObject({
      level: 'error',
      msg: 'reload refused: restart needed',
      problems: ['sessions.max: 262144 -> 1000'],
    });
    expect(syn(dev, 40001)).toBe('forwarded');
    rmSync(file);
    const gone = reloadConfig(dev, log);
    expect(gone.ok).toBe(false);
    expect(gone.message).toMatch(/ENOENT/);
  });

  it('applies a good file and logs what changed', () => {
    const { file, dev, log, parsed } = setup('good.yaml');
    expect(syn(dev, 40001)).toBe('forwarded');
    writeFileSync(
      file,
      yaml(
        `    - { name: no-web, from: inside, dst: 10.0.0.100, action: drop }\n${ACCEPT}`,
        '[ { address: 10.0.2.11, port: 8080 }, { address: 10.0.2.13, port: 8080 } ]',
      ),
    );
    const r = reloadConfig(dev, log);
    expect(r.ok).toBe(true);
    expect(r.message).toBe(
      `reloaded ${file}: rules 1 -> 2 (changed); virtual servers ~web; reals +web 10.0.2.13:8080, -web 10.0.2.12:8080 (0 sessions continue)`,
    );
    expect(syn(dev, 40002)).toBe('dropped');
    expect(parsed().at(-1)).toMatchObject({
      level: 'info',
      msg: 'config reloaded',
      config: file,
      rules: '1 -> 2 (changed)',
      vsChanged: ['web'],
      realsAdded: ['web 10.0.2.13:8080'],
      realsRemoved: ['web 10.0.2.12:8080 (0 sessions continue)'],
    });
  });
});
