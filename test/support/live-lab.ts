/**
 * A two-namespace lab around a real `sdev run` process, for integration
 * tests: sdev creates two TAPs in the root namespace; `lan` moves into a
 * client namespace (10.0.1.2/24, gateway 10.0.1.1) and `srv` into a server
 * namespace (10.0.2.11/24, gateway 10.0.2.1). The device routes between them
 * and balances VIP 10.0.0.100:80 to 10.0.2.11:8080, where a Python echo
 * server listens.
 *
 * Every name has a per-run prefix; `cleanup` (also run on process exit) kills
 * what it started by PID and deletes the namespaces and links it made.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tapAvailable } from '../../src/io/tap.js';
import { REPO } from './captures.js';

export const PY = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';
export const labEnabled =
  process.getuid?.() === 0 &&
  spawnSync('ip', ['-V'], { stdio: 'ignore' }).status === 0 &&
  spawnSync(PY, ['-c', 'pass'], { stdio: 'ignore' }).status === 0 &&
  tapAvailable();

/** The labs' Python helpers (ping, connect, echo-server, session, bulk...), run inside the namespaces. */
export const TOOLS = join(REPO, 'scripts/lab/tools.py');

export interface LabOptions {
  /** Extra top-level YAML (user:, sessions:, ...). */
  extra?: string;
  /** The policy rules (YAML flow list). */
  rules?: string;
  /** `offload:` of the lan and srv ports (absent: the default). */
  offload?: { lan?: boolean; srv?: boolean };
}

/** The lab's config; the control socket is in the lab's directory. */
export function labConfig(lab: { p: string; controlSocket: string }, o: LabOptions = {}): string {
  const p = lab.p;
  const off = (v: boolean | undefined): string => (v === undefined ? '' : `, offload: ${v}`);
  return `# integration lab ${p}
${o.extra ?? ''}
device: { name: ${p} }
control: { socket: ${lab.controlSocket} }
zones:
  inside: { networks: [10.0.1.0/24] }
  dmz: { networks: [10.0.2.0/24] }
  outside: { default: true }
ports:
  - { name: lan, zone: inside, tap: ${p}t0, mac: '02:5e:00:00:01:01', address: [10.0.1.1/24], vips: [10.0.0.100]${off(o.offload?.lan)} }
  - { name: srv, zone: dmz, tap: ${p}t1, mac: '02:5e:00:00:02:01', address: [10.0.2.1/24]${off(o.offload?.srv)} }
virtual-servers:
  - name: web
    vip: 10.0.0.100
    proto: tcp
    port: 80
    reals: [ { address: 10.0.2.11, port: 8080 } ]
policy:
  default: drop
  rules: ${o.rules ?? '[ { name: inside-out, from: inside, to: any, action: accept } ]'}
`;
}

export class LiveLab {
  readonly p: string;
  readonly dir: string;
  readonly client: string;
  readonly server: string;
  readonly configFile: string;
  readonly readyFile: string;
  readonly controlSocket: string;
  sdev: ChildProcess | null = null;
  /** sdev's stderr so far (its JSON log lines). */
  log = '';
  exit: Promise<{ code: number | null; signal: string | null }> | null = null;
  private readonly children = new Set<ChildProcess>();
  private readonly onExit = (): void => this.cleanup();

  constructor(tag: string) {
    this.p = `${tag}${process.pid.toString(36)}`;
    this.dir = mkdtempSync(join(tmpdir(), `sdev-${tag}-`));
    this.client = `${this.p}c`;
    this.server = `${this.p}s`;
    this.configFile = join(this.dir, 'sdev.yaml');
    this.readyFile = join(this.dir, 'ready');
    this.controlSocket = join(this.dir, 'control.sock');
    chmodSync(this.dir, 0o755);
    process.once('exit', this.onExit);
  }

  /** Writes the config file (mode 0644). */
  writeConfig(yaml: string): void {
    writeFileSync(this.configFile, yaml, { mode: 0o644 });
  }

  /** Starts `sdev run` on the config; resolves when the ready file appears (rejects if it exits first). */
  async start(env: NodeJS.ProcessEnv = {}): Promise<void> {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', 'src/cli/main.ts', 'run', '-c', this.configFile, '--ready-file', this.readyFile],
      { cwd: REPO, stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, ...env } },
    );
    this.sdev = child;
    this.children.add(child);
    child.stderr!.on('data', (d: Buffer) => (this.log += d.toString()));
    this.exit = new Promise((resolve) =>
      child.on('close', (code, signal) => {
        this.children.delete(child);
        resolve({ code, signal });
      }),
    );
    let exited = false;
    void this.exit.then(() => (exited = true));
    await waitFor(() => existsSync(this.readyFile) || exited, 'the ready file', 30_000);
    if (!existsSync(this.readyFile)) throw new Error(`sdev exited before ready:\n${this.log}`);
  }

  /** Moves the TAPs into the namespaces, addresses them, starts the echo server on 10.0.2.11:8080. */
  async wire(): Promise<void> {
    const { p, client, server } = this;
    for (const ns of [client, server]) {
      ip(['netns', 'add', ns]);
      ip(['-n', ns, 'link', 'set', 'lo', 'up']);
    }
    const side = (ns: string, tap: string, addr: string, gw: string): void => {
      ip(['link', 'set', 'dev', tap, 'netns', ns]);
      ip(['-n', ns, 'addr', 'add', addr, 'dev', tap]);
      ip(['-n', ns, 'link', 'set', tap, 'up']);
      ip(['-n', ns, 'route', 'add', 'default', 'via', gw]);
    };
    side(client, `${p}t0`, '10.0.1.2/24', '10.0.1.1');
    side(server, `${p}t1`, '10.0.2.11/24', '10.0.2.1');
    this.bg(server, ['echo-server', '10.0.2.11', '8080']);
    await waitFor(
      () => this.py(server, ['connect', '10.0.2.11', '8080', '1']).status === 0,
      'the echo server',
      10_000,
    );
  }

  /** Runs a tools.py command (scripts/lab/tools.py) in a namespace, synchronously. */
  py(ns: string, args: string[], timeoutMs = 20_000): { status: number | null; out: string } {
    const r = spawnSync('ip', ['netns', 'exec', ns, PY, TOOLS, ...args], {
      encoding: 'utf8',
      timeout: timeoutMs,
    });
    return { status: r.status, out: `${r.stdout}${r.stderr}`.trim() };
  }

  /** Starts a tools.py command in a namespace in the background, stdin and stdout piped. */
  bg(ns: string, args: string[]): { child: ChildProcess; lines: string[] } {
    const child = spawn('ip', ['netns', 'exec', ns, PY, TOOLS, ...args], {
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    this.children.add(child);
    child.on('close', () => this.children.delete(child));
    const lines: string[] = [];
    let buf = '';
    child.stdout!.on('data', (d: Buffer) => {
      buf += d.toString();
      const parts = buf.split('\n');
      buf = parts.pop()!;
      lines.push(...parts);
    });
    child.stderr!.on('data', (d: Buffer) => lines.push(`stderr: ${d.toString().trim()}`));
    return { child, lines };
  }

  /** sdev's JSON log lines, parsed. */
  logLines(): Record<string, unknown>[] {
    return this.log
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
  }

  /** Waits for a log line with this msg, after `skip` lines of that msg. */
  waitLog(msg: string | RegExp, skip = 0, ms = 10_000): Promise<Record<string, unknown>> {
    const hit = (l: Record<string, unknown>): boolean =>
      typeof msg === 'string' ? l.msg === msg : msg.test(String(l.msg));
    return waitFor(() => this.logLines().filter(hit)[skip], `log line "${String(msg)}"\n${this.log}`, ms);
  }

  signal(sig: NodeJS.Signals): void {
    if (this.sdev?.pid !== undefined) process.kill(this.sdev.pid, sig);
  }

  linkExists(name: string, ns?: string): boolean {
    const args = ns ? ['-n', ns, 'link', 'show', name] : ['link', 'show', name];
    return spawnSync('ip', args, { stdio: 'ignore' }).status === 0;
  }

  cleanup(): void {
    for (const c of this.children) {
      if (c.pid !== undefined && c.exitCode === null && c.signalCode === null) {
        try {
          process.kill(c.pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
    }
    this.children.clear();
    for (const ns of [this.client, this.server]) ip(['netns', 'del', ns], true);
    for (const t of [`${this.p}t0`, `${this.p}t1`]) if (this.linkExists(t)) ip(['link', 'del', t], true);
    rmSync(this.dir, { recursive: true, force: true });
    process.removeListener('exit', this.onExit);
  }
}

export function ip(args: string[], allowFail = false): string {
  const r = spawnSync('ip', args, { encoding: 'utf8', timeout: 10_000 });
  if (r.status !== 0 && !allowFail) throw new Error(`ip ${args.join(' ')} failed (${r.status}): ${r.stderr}`);
  return r.stdout;
}

export async function waitFor<T>(probe: () => T | undefined | false, what: string, ms = 5000): Promise<T> {
  const until = Date.now() + ms;
  for (;;) {
    const v = probe();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Reads /proc/PID/status fields (Uid, Gid, Groups, CapEff...). */
export function procStatus(pid: number): Record<string, string> {
  const out: Record<string, string> = {};
  for (const l of readFileSync(`/proc/${pid}/status`, 'utf8').split('\n')) {
    const i = l.indexOf(':');
    if (i > 0) out[l.slice(0, i)] = l.slice(i + 1).trim();
  }
  return out;
}
