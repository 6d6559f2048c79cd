/**
 * The run layer's side: the `control:` config key, which socket `sdev run`
 * uses, and the ControlApi over a live handle (runLive with in-memory ports):
 * per-port and driver counters, health transitions, reload, and a refused start.
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { RealHealth, StatsJson } from '../../../src/control/api.js';
import { controlRequest } from '../../../src/control/client.js';
import type { ControlServer } from '../../../src/control/server.js';
import { ConfigError, parseConfig } from '../../../src/config/load.js';
import type { FrameBatch } from '../../../src/io/port.js';
import { controlSocketOf, startRunControl } from '../../../src/run/control.js';
import { runLive, type LiveHandle, type LivePort } from '../../../src/run/live.js';
import type { Logger } from '../../../src/run/log.js';
import { buildFrame } from '../../../src/wire/build.js';
import { tempDir } from './fixture.js';

/** An in-memory port: frames go in as one batch, sent frames are kept. */
class MemPort implements LivePort {
  readonly mtu = 1500;
  readonly mac = new Uint8Array([2, 0, 0, 0, 9, 9]);
  onBatch: ((b: FrameBatch) => void) | null = null;
  sent = 0;
  constructor(readonly name: string) {}
  start(onBatch: (b: FrameBatch) => void): void {
    this.onBatch = onBatch;
  }
  send(): void {
    this.sent++;
  }
  flush(): void {}
  close(): void {}
  deliver(frames: Uint8Array[]): void {
    const buf = new Uint8Array(frames.reduce((n, f) => n + f.length, 0));
    const off = new Int32Array(frames.length);
    const len = new Int32Array(frames.length);
    let o = 0;
    frames.forEach((f, i) => {
      buf.set(f, o);
      off[i] = o;
      len[i] = f.length;
      o += f.length;
    });
    this.onBatch!({ count: frames.length, buf, off, len });
  }
}

const YAML = (control = '') => `device: { name: wired }
${control}
zones: { inside: {}, dmz: {}, outside: { default: true } }
ports:
  - { name: lan, zone: inside, tap: mem0, mac: '02:00:00:00:00:01', address: [10.0.1.1/24], vips: [10.0.0.100] }
  - { name: srv, zone: dmz, tap: mem1, mac: '02:00:00:00:00:02', address: [10.0.2.1/24] }
virtual-servers:
  - name: web
    vip: 10.0.0.100
    proto: tcp
    port: 80
    health-check: { type: tcp, interval: 3600 }
    reals: [ { address: 10.0.2.11, port: 8080 }, { address: 10.0.2.12, port: 8080 } ]
policy: { rules: [ { from: inside, action: accept } ] }
`;

const ping = (seq: number) =>
  buildFrame({
    srcMac: '02:00:00:00:01:02',
    dstMac: '02:00:00:00:00:01',
    ipv4: { src: '10.0.1.2', dst: '10.0.1.1' },
    icmp: { type: 8, code: 0, id: 1, seq },
    payload: new Uint8Array(20),
  });

function recorder(): Logger & { lines: string[] } {
  const lines: string[] = [];
  const rec = (lvl: string) => (msg: string, f?: Record<string, unknown>) =>
    lines.push(`${lvl} ${msg}${f ? ' ' + JSON.stringify(f) : ''}`);
  return { lines, debug: rec('debug'), info: rec('info'), warn: rec('warn'), error: rec('error') };
}

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function live(log: Logger, control = ''): Promise<{ h: LiveHandle; ports: Map<string, MemPort> }> {
  const ports = new Map<string, MemPort>();
  const h = await runLive(parseConfig(YAML(control), 'wired.yaml'), {
    log,
    tickMs: 1_000_000,
    openPort: (o) => {
      const p = new MemPort(o.name);
      ports.set(o.name, p);
      return p;
    },
  });
  cleanups.push(() => h.close());
  return { h, ports };
}

describe('control: in the config', () => {
  it('is optional; socket and http are read as written', () => {
    expect(parseConfig(YAML(), 'a.yaml').control).toEqual({ socket: null, http: null });
    const c = parseConfig(YAML("control: { socket: /tmp/x.sock, http: '[::1]:9100' }"), 'a.yaml');
    expect(c.control).toEqual({ socket: '/tmp/x.sock', http: '[::1]:9100' });
  });

  it.each([
    ["http: '0.0.0.0:9100'", /a\.yaml:2:\d+: control\.http: .*is not a loopback host:port/],
    ["http: '127.0.0.1:99999'", /control\.http: .*is not a loopback host:port/],
    ["socket: ''", /control\.socket: .*is not a socket path/],
    ['port: 1', /control\.port/],
  ])('refuses control: { %s } with its line', (body, msg) => {
    let err: unknown;
    try {
      parseConfig(YAML(`control: { ${body} }`), 'a.yaml');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as Error).message).toMatch(msg);
  });

  it('sdev run uses --control, else control.socket, else /run/sdev/<name>.sock', () => {
    const plain = parseConfig(YAML(), 'a.yaml');
    const withSock = parseConfig(YAML('control: { socket: /tmp/c.sock }'), 'a.yaml');
    expect(controlSocketOf(plain)).toBe('/run/sdev/wired.sock');
    expect(controlSocketOf(withSock)).toBe('/tmp/c.sock');
    expect(controlSocketOf(withSock, '/tmp/flag.sock')).toBe('/tmp/flag.sock');
  });
});

describe('the ControlApi of a live handle', () => {
  async function served(log: Logger, reload?: () => { ok: boolean; message: string }) {
    const { h, ports } = await live(log);
    const dir = tempDir();
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const socket = join(dir, 'run.sock');
    const server = (await startRunControl(h, h.device.cfg, { log, socket, reload })) as ControlServer;
    expect(server).not.toBeNull();
    cleanups.push(() => server.close());
    const get = async <T>(path: string, method = 'GET') => {
      const r = await controlRequest(socket, method, path);
      return { status: r.status, body: JSON.parse(r.body) as T };
    };
    return { h, ports, socket, get };
  }

  it('reports the ports by name and interface with the driver counters', async () => {
    const log = recorder();
    const { h, ports, get } = await served(log);
    ports.get('mem0')!.deliver([ping(1), ping(2), ping(3)]);
    const st = (await get<StatsJson>('/stats')).body;
    const c = h.counters();
    expect(st.device).toBe('wired');
    expect(st.ports).toEqual(
      c.ports.map((p) => ({
        name: p.name,
        interface: p.tap,
        framesIn: p.framesIn,
        bytesIn: p.bytesIn,
        framesOut: p.framesOut,
        bytesOut: p.bytesOut,
        txDropped: p.txDropped,
      })),
    );
    expect(st.ports[0]).toMatchObject({ name: 'lan', interface: 'mem0', framesIn: 3, framesOut: 3 });
    expect(st.verdicts.consumed).toBe(3); // the device answered the pings itself
    expect(st.live).toEqual({ unroutable: c.unroutable, errors: 0, ticks: c.ticks });
    expect(log.lines.some((l) => l.startsWith('info control API listening'))).toBe(true);
  });

  it('shows the last health transition of a real, and the probes still log it', async () => {
    const log = recorder();
    const { h, get } = await served(log);
    const probes = h.device.probes!;
    expect(probes).not.toBeNull();
    let h0 = (await get<RealHealth[]>('/health')).body;
    expect(h0.map((r) => r.lastTransition)).toEqual([undefined, undefined]);
    // What the probes do when srv 10.0.2.12 fails its checks: mark it down, tell the listener.
    const at = Date.UTC(2026, 5, 1, 12, 0, 0);
    h.device.lb.vs.pools[0]!.setUp(1, false);
    probes.onChange!(0, 1, false, at);
    h0 = (await get<RealHealth[]>('/health')).body;
    expect(h0[1]).toEqual({
      vs: 'web',
      real: '10.0.2.12:8080',
      up: false,
      weight: 1,
      lastTransition: { up: false, at: '2026-06-01T12:00:00.000Z' },
    });
    expect(h0[0]!.lastTransition).toBeUndefined();
    expect(log.lines.some((l) => l.startsWith('warn real server down') && l.includes('10.0.2.12:8080'))).toBe(
      true,
    );
  });

  it('POST /reload runs the reload it was given; without one it is 501', async () => {
    let calls = 0;
    const a = await served(recorder(), () => ({ ok: ++calls === 1, message: `reload ${calls}` }));
    expect(await a.get('/reload', 'POST')).toEqual({ status: 200, body: { ok: true, message: 'reload 1' } });
    expect(await a.get('/reload', 'POST')).toEqual({ status: 422, body: { ok: false, error: 'reload 2' } });
    const b = await served(recorder());
    expect((await b.get('/reload', 'POST')).status).toBe(501);
  });

  it('a start refused (a device already answers on the socket) is logged and gives null', async () => {
    const log = recorder();
    const first = await served(log);
    const second = await startRunControl(first.h, first.h.device.cfg, { log, socket: first.socket });
    expect(second).toBeNull();
    expect(
      log.lines.some(
        (l) => l.startsWith('error could not start the control API') && l.includes('another device answers'),
      ),
    ).toBe(true);
  });
});
