/** The pino logger of `sdev run`: JSON lines, levels from SDEV_LOG_LEVEL, pretty lines, synchronous stderr. */
import { spawnSync } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger, envLogLevel, type LoggerOptions } from '../../../src/run/log.js';
import { REPO } from '../../support/captures.js';

function capture(opts: Omit<LoggerOptions, 'stream'> = {}) {
  const lines: string[] = [];
  const log = createLogger({ ...opts, stream: { write: (s: string) => lines.push(s) } });
  return { log, lines };
}

const saved = process.env.SDEV_LOG_LEVEL;
afterEach(() => {
  if (saved === undefined) delete process.env.SDEV_LOG_LEVEL;
  else process.env.SDEV_LOG_LEVEL = saved;
});

describe('createLogger (pino)', () => {
  it('writes one JSON object per line with level name, ISO time, pid, msg and the fields', () => {
    delete process.env.SDEV_LOG_LEVEL;
    const { log, lines } = capture();
    const before = Date.now();
    log.info('port open', { port: 'lan', index: 0, mtu: 1500 });
    log.error('could not open the ports', { code: 'EPERM', iface: 't0' });
    expect(lines).toHaveLength(2);
    for (const l of lines) expect(l.endsWith('\n') && l.indexOf('\n') === l.length - 1).toBe(true);
    const a = JSON.parse(lines[0]!) as Record<string, unknown>;
    expect(a).toMatchObject({ level: 'info', msg: 'port open', port: 'lan', index: 0, mtu: 1500 });
    expect(a.pid).toBe(process.pid);
    const t = Date.parse(a.time as string);
    expect(t).toBeGreaterThanOrEqual(before - 1);
    expect(t).toBeLessThanOrEqual(Date.now() + 1);
    expect(a.time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    expect(JSON.parse(lines[1]!)).toMatchObject({ level: 'error', code: 'EPERM', iface: 't0' });
  });

  it('drops lines below the level; the default level comes from SDEV_LOG_LEVEL', () => {
    const w = capture({ level: 'warn' });
    w.log.debug('d');
    w.log.info('i');
    w.log.warn('w');
    w.log.error('e');
    expect(w.lines.map((l) => (JSON.parse(l) as { msg: string }).msg)).toEqual(['w', 'e']);

    process.env.SDEV_LOG_LEVEL = 'debug';
    const d = capture();
    d.log.debug('visible');
    expect(d.lines.map((l) => (JSON.parse(l) as { level: string }).level)).toEqual(['debug']);

    process.env.SDEV_LOG_LEVEL = 'ERROR';
    const e = capture();
    e.log.warn('hidden');
    e.log.error('shown');
    expect(e.lines).toHaveLength(1);
  });

  it('an SDEV_LOG_LEVEL that is no level logs at info and says so once', () => {
    process.env.SDEV_LOG_LEVEL = 'loud';
    expect(envLogLevel()).toBeNull();
    const { log, lines } = capture();
    log.debug('hidden');
    log.info('shown');
    expect(lines).toHaveLength(2);
    const first = JSON.parse(lines[0]!) as Record<string, unknown>;
    expect(first).toMatchObject({ level: 'warn', SDEV_LOG_LEVEL: 'loud' });
    expect(first.msg).toMatch(/not a level/);
    expect((JSON.parse(lines[1]!) as { msg: string }).msg).toBe('shown');
  });

  it('pretty: one readable line per call with the level, message and fields, no JSON', () => {
    const { log, lines } = capture({ pretty: true, colorize: false, level: 'info' });
    log.warn('port stopped receiving', { port: 'lan', code: 'ENODEV' });
    expect(lines).toHaveLength(1);
    const l = lines[0]!;
    expect(l).toMatch(/^\[\d\d:\d\d:\d\d\.\d{3}\] WARN: port stopped receiving /);
    expect(l).toContain('"port":"lan"');
    expect(l).toContain('"code":"ENODEV"');
    expect(l.endsWith('\n')).toBe(true);
    expect(() => JSON.parse(l) as unknown).toThrow();
  });

  it.skipIf(spawnSync('script', ['--version']).status !== 0)(
    'on a terminal the default is a coloured pino-pretty line (script(1) gives stderr a pty)',
    () => {
      const code =
        "import { createLogger } from './src/run/log.ts'; createLogger().info('on a tty', { port: 'lan' });";
      const cmd = `${process.execPath} --import tsx --input-type=module -e "${code}"`;
      const r = spawnSync('script', ['-qec', cmd, '/dev/null'], {
        cwd: REPO,
        encoding: 'utf8',
        timeout: 30_000,
      });
      expect(r.status).toBe(0);
      // eslint-disable-next-line no-control-regex
      const plain = r.stdout.replace(/\x1b\[\d+m/g, '').trim();
      expect(plain).toMatch(/^\[\d\d:\d\d:\d\d\.\d{3}\] INFO: on a tty \{"port":"lan"\}$/);
      expect(r.stdout).toContain('\x1b[');
    },
  );

  it('on stderr (not a TTY) the last line before process.exit is written', () => {
    const code = [
      "import { createLogger } from './src/run/log.ts';",
      'const log = createLogger();',
      "for (let i = 0; i < 200; i++) log.info('line', { i });",
      "log.error('last words', { code: 3 });",
      'process.exit(3);',
    ].join('\n');
    const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], {
      cwd: REPO,
      encoding: 'utf8',
      env: { ...process.env, SDEV_LOG_LEVEL: 'info' },
      timeout: 30_000,
    });
    expect(r.status).toBe(3);
    const lines = r.stderr.trim().split('\n');
    expect(lines).toHaveLength(201);
    expect(JSON.parse(lines[200]!)).toMatchObject({ level: 'error', msg: 'last words', code: 3 });
    expect((JSON.parse(lines[199]!) as { i: number }).i).toBe(199);
  });
});
