/**
 * A real Device fed real frames, with the control server on a Unix socket in a
 * temp dir, queried over real HTTP. The device clock is the frames' time.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DeviceConfig } from '../../../src/config/types.js';
import { Device } from '../../../src/device/device.js';
import { VERDICT_NAMES } from '../../../src/device/verdict.js';
import type { ControlApi } from '../../../src/control/api.js';
import { controlRequest, type ControlResponse } from '../../../src/control/client.js';
import { deviceControlApi, type DeviceApiOptions } from '../../../src/control/device-api.js';
import { startControlServer, type ControlServer } from '../../../src/control/server.js';
import { reasonName } from '../../../src/session/reasons.js';
import { echoFrame, TcpConv, udpFrame, type TimedFrame } from '../../support/conv.js';
import { config } from '../../support/run.js';

export const LB_YAML = `
zones:
  inside: { networks: [10.0.1.0/24] }
  dmz: { networks: [10.0.2.0/24] }
  outside: { default: true }
virtual-servers:
  - name: web
    vip: 10.0.0.100
    proto: tcp
    port: 80
    scheduler: rr
    reals: [ { address: 10.0.2.11, port: 8080 }, { address: 10.0.2.12, port: 8080 } ]
  - name: dns
    vip: 10.0.0.53
    proto: udp
    port: 53
    reals: [ { address: 10.0.2.11 }, { address: 10.0.2.13, up: false } ]
policy: { rules: [ { from: inside, action: accept } ] }
`;

export class Lab {
  readonly dev: Device;
  /** Device clock, ms: the time of the last frame. */
  clock = 0;
  readonly sent: { port: number; frame: Uint8Array }[] = [];
  readonly verdicts: string[] = [];

  constructor(cfg: DeviceConfig = config(LB_YAML)) {
    this.dev = new Device(cfg, {
      send: (port, buf, off, len) => this.sent.push({ port, frame: buf.slice(off, off + len) }),
    });
  }

  /** Processes frames (copies: NAT rewrites in place); returns each verdict (`dropped:reason` for drops). */
  feed(frames: TimedFrame[]): string[] {
    return frames.map((f) => {
      const frame = f.frame.slice();
      this.clock = Math.max(this.clock, f.t * 1000);
      const v = this.dev.process(frame, 0, frame.length, 1, f.iface ?? -1, f.t * 1000);
      const s = v === 1 ? `dropped:${reasonName(this.dev.reason)}` : VERDICT_NAMES[v]!;
      this.verdicts.push(s);
      return s;
    });
  }

  api(opts: Partial<DeviceApiOptions> = {}): ControlApi {
    return deviceControlApi(() => this.dev, { now: () => this.clock, ...opts });
  }
}

/** A client connection to the VIP answered by `real`, up to ESTABLISHED with data both ways. */
export function vipConn(client: string, cport: number, real: string, t: number, established = true): TcpConv {
  const c = new TcpConv(client, cport, '10.0.0.100', 80, cport * 3);
  c.replyFrom = { addr: real, port: 8080 };
  c.syn(t);
  if (!established) return c;
  c.synAck(t + 0.01);
  c.ack(t + 0.02);
  c.data(t + 0.03, true, 50);
  c.data(t + 0.04, false, 500);
  return c;
}

/**
 * The standard mix: A and B established to the VIP (rr: A -> .11, B -> .12),
 * C a SYN to the VIP (-> .11), a direct connection closed to TIME_WAIT, UDP to
 * the DNS VIP answered, UDP to the outside unanswered, a ping, and an
 * unsolicited SYN from outside (dropped policy-deny).
 */
export function standardMix(lab: Lab): { a: TcpConv; b: TcpConv; c: TcpConv } {
  const a = vipConn('10.0.1.2', 40001, '10.0.2.11', 1);
  const b = vipConn('10.0.1.2', 40002, '10.0.2.12', 2);
  const c = vipConn('10.0.1.3', 40003, '10.0.2.11', 3, false);
  const direct = new TcpConv('10.0.1.2', 50000, '198.51.100.7', 443, 99).fullExchange(4);
  const dnsQ = udpFrame('10.0.1.2', 5353, '10.0.0.53', 53);
  const dnsA = udpFrame('10.0.2.11', 53, '10.0.1.2', 5353);
  const lone = udpFrame('10.0.1.4', 1234, '8.8.8.8', 53);
  const ping = echoFrame('10.0.1.2', '198.51.100.7', 7, 1);
  const scan = new TcpConv('203.0.113.9', 51000, '10.0.1.2', 22).syn(6);
  lab.feed([...a.frames, ...b.frames, ...c.frames, ...direct.frames]);
  lab.feed([
    { t: 5, frame: dnsQ },
    { t: 5.01, frame: dnsA },
    { t: 5.02, frame: lone },
    { t: 5.03, frame: ping },
    { t: 6, frame: scan },
  ]);
  return { a, b, c };
}

export interface Served {
  lab: Lab;
  server: ControlServer;
  socket: string;
  dir: string;
  get(path: string, method?: string): Promise<ControlResponse>;
  json<T = unknown>(path: string, method?: string): Promise<T>;
  close(): Promise<void>;
}

export function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'sdev-ctl-'));
}

export async function serve(lab: Lab, api: ControlApi = lab.api()): Promise<Served> {
  const dir = tempDir();
  const socket = join(dir, 'control.sock');
  let server: ControlServer;
  try {
    server = await startControlServer(api, { socket });
  } catch (e) {
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
  const get = (path: string, method = 'GET') => controlRequest(socket, method, path);
  return {
    lab,
    server,
    socket,
    dir,
    get,
    async json<T>(path: string, method = 'GET'): Promise<T> {
      const r = await get(path, method);
      if (r.status !== 200) throw new Error(`${method} ${path}: ${r.status} ${r.body}`);
      return JSON.parse(r.body) as T;
    },
    async close() {
      await server.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
