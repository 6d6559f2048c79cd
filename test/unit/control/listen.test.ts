/** The control socket's life (mode, stale files, a live owner, removal), loopback-only TCP, and the client. */
import { spawnSync } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ControlUnreachableError, controlRequest, resolveSocket } from '../../../src/control/client.js';
import { ControlListenError, isLoopbackHost, parseHttpAddress } from '../../../src/control/listen.js';
import { startControlServer, type ControlServer } from '../../../src/control/server.js';
import { Lab, tempDir } from './fixture.js';

const PY = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';
const dirs: string[] = [];
const servers: ControlServer[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await s.close();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
function dir(): string {
  const d = tempDir();
  dirs.push(d);
  return d;
}
async function start(socket: string, http?: string, log?: { info(): void; warn(m: string): void }) {
  const s = await startControlServer(new Lab().api(), { socket, http, log });
  servers.push(s);
  return s;
}

describe('the Unix socket', () => {
  it('is a socket with mode 0660, answers, and is removed on close', async () => {
    const sock = join(dir(), 'a.sock');
    const s = await start(sock);
    const st = lstatSync(sock);
    expect(st.isSocket()).toBe(true);
    expect(st.mode & 0o777).toBe(0o660);
    expect((await controlRequest(sock, 'GET', '/stats')).status).toBe(200);
    await s.close();
    expect(existsSync(sock)).toBe(false);
    await s.close(); // idempotent
    await expect(controlRequest(sock, 'GET', '/stats')).rejects.toThrow(ControlUnreachableError);
  });

  it('creates missing directories on the way', async () => {
    const sock = join(dir(), 'run', 'sdev', 'lab.sock');
    await start(sock);
    expect(lstatSync(sock).isSocket()).toBe(true);
  });

  it('removes a stale socket left by a dead process and serves on it', async () => {
    const sock = join(dir(), 'stale.sock');
    // A socket file nobody listens on: what a killed process leaves.
    const py = spawnSync(PY, [
      '-c',
      `import socket; socket.socket(socket.AF_UNIX).bind(${JSON.stringify(sock)})`,
    ]);
    expect(py.status).toBe(0);
    expect(lstatSync(sock).isSocket()).toBe(true);
    await expect(controlRequest(sock, 'GET', '/stats')).rejects.toThrow(/nothing listens on it/);
    const warned: string[] = [];
    await start(sock, undefined, { info() {}, warn: (m: string) => warned.push(m) });
    expect(warned).toEqual(['removed a stale control socket']);
    expect((await controlRequest(sock, 'GET', '/health')).status).toBe(200);
  });

  it('refuses to start when a live device answers on the socket, and leaves that one serving', async () => {
    const sock = join(dir(), 'busy.sock');
    await start(sock);
    await expect(start(sock)).rejects.toThrow(/another device answers on it/);
    await expect(start(sock)).rejects.toBeInstanceOf(ControlListenError);
    expect((await controlRequest(sock, 'GET', '/stats')).status).toBe(200);
  });

  it('refuses a path that is not a socket, and leaves the file alone', async () => {
    const file = join(dir(), 'notes.txt');
    writeFileSync(file, 'keep me');
    await expect(start(file)).rejects.toThrow(/exists and is not a socket/);
    expect(readFileSync(file, 'utf8')).toBe('keep me');
    const sub = join(dir(), 'd');
    mkdirSync(sub);
    await expect(start(sub)).rejects.toThrow(/not a socket/);
  });

  it('refuses a path too long for a Unix socket', async () => {
    await expect(start(join(dir(), 'x'.repeat(120)))).rejects.toThrow(/longer than 107 bytes/);
  });
});

describe('TCP (loopback only)', () => {
  it.each(['0.0.0.0:9100', '10.1.2.3:80', '[::]:9100', 'example.com:80', '[fe80::1]:1'])(
    'refuses %s before listening anywhere',
    async (http) => {
      const sock = join(dir(), 'c.sock');
      await expect(start(sock, http)).rejects.toThrow(
        /is not a loopback address; .* listens on 127\.0\.0\.1, ::1 or localhost only/,
      );
      expect(existsSync(sock)).toBe(false);
    },
  );

  it.each(['9100', 'localhost', '127.0.0.1:70000', '127.0.0.1:'])('refuses malformed %s', async (http) => {
    await expect(start(join(dir(), 'm.sock'), http)).rejects.toThrow(
      /expected host:port|port must be 0-65535/,
    );
  });

  it('accepts loopback forms', () => {
    for (const h of ['localhost', '127.0.0.1', '127.8.9.10', '::1', '0:0:0:0:0:0:0:1', '::ffff:127.0.0.1'])
      expect(isLoopbackHost(h)).toBe(true);
    for (const h of ['128.0.0.1', '::', '::2', 'localhost.example.com', '0.0.0.0'])
      expect(isLoopbackHost(h)).toBe(false);
    expect(parseHttpAddress('[::1]:9100')).toEqual({ host: '::1', port: 9100 });
  });

  it('serves the same API on 127.0.0.1 as on the socket; close stops both', async () => {
    const sock = join(dir(), 't.sock');
    const s = await start(sock, '127.0.0.1:0');
    expect(s.http?.host).toBe('127.0.0.1');
    expect(s.http!.port).toBeGreaterThan(0);
    const get = (path: string) =>
      new Promise<{ status: number; body: string }>((resolve, reject) => {
        const req = request({ host: '127.0.0.1', port: s.http!.port, path, agent: false }, (res) => {
          let body = '';
          res.on('data', (c: Buffer) => (body += c.toString()));
          res.on('end', () => resolve({ status: res.statusCode!, body }));
        });
        req.on('error', reject);
        req.end();
      });
    const tcp = await get('/metrics');
    const unix = await controlRequest(sock, 'GET', '/metrics');
    expect(tcp.status).toBe(200);
    expect(tcp.body).toBe(unix.body);
    await s.close();
    await expect(get('/stats')).rejects.toThrow(/ECONNREFUSED/);
    expect(existsSync(sock)).toBe(false);
  });
});

describe('the client', () => {
  it('names the socket when no device answers', async () => {
    const sock = join(dir(), 'none.sock');
    const e = await controlRequest(sock, 'GET', '/stats').catch((x: unknown) => x);
    expect(e).toBeInstanceOf(ControlUnreachableError);
    expect((e as Error).message).toBe(`no device answers on ${sock} (no such socket)`);
  });

  it('picks the socket: given, else $SDEV_SOCKET, else the only one in the directory, else sdev.sock', () => {
    const d = dir();
    expect(resolveSocket('/x/given.sock', { SDEV_SOCKET: '/y/env.sock' }, d)).toBe('/x/given.sock');
    expect(resolveSocket(undefined, { SDEV_SOCKET: '/y/env.sock' }, d)).toBe('/y/env.sock');
    expect(resolveSocket(undefined, {}, d)).toBe(join(d, 'sdev.sock'));
    writeFileSync(join(d, 'lab.sock'), '');
    expect(resolveSocket(undefined, {}, d)).toBe(join(d, 'lab.sock'));
    writeFileSync(join(d, 'fw2.sock'), '');
    expect(resolveSocket(undefined, {}, d)).toBe(join(d, 'sdev.sock'));
    expect(resolveSocket(undefined, {}, join(d, 'missing'))).toBe(join(d, 'missing', 'sdev.sock'));
  });
});
