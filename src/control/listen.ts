/**
 * Where the control server listens: a Unix socket (mode 0660; a stale file
 * left by a dead process is removed, a live device answering on it is never
 * displaced), and optionally TCP on a loopback address only, since the API has
 * no authentication.
 */
import { lstatSync, mkdirSync, unlinkSync } from 'node:fs';
import { connect, isIPv4, isIPv6 } from 'node:net';
import { dirname } from 'node:path';

/** Refused before anything listens: a bad address, a busy socket, a path that is not a socket. */
export class ControlListenError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ControlListenError';
  }
}

/** Longest Unix socket path Linux takes (sun_path is 108 bytes with its NUL). */
export const MAX_SOCKET_PATH = 107;

/** The default socket of a device: /run/sdev/<name>.sock. */
export function defaultSocketPath(deviceName: string): string {
  return `/run/sdev/${deviceName}.sock`;
}

export interface HttpAddress {
  host: string;
  port: number;
}

/** True for 127.0.0.0/8, ::1, ::ffff:127.x and "localhost". */
export function isLoopbackHost(host: string): boolean {
  if (host === 'localhost') return true;
  if (isIPv4(host)) return host.startsWith('127.');
  if (isIPv6(host)) {
    const h = host.toLowerCase();
    return h === '::1' || /^(0{1,4}:){7}0{0,3}1$/.test(h) || /^::ffff:127\.\d+\.\d+\.\d+$/.test(h);
  }
  return false;
}

/** Parses "host:port" ("[::1]:9100" for IPv6) and refuses a host that is not loopback. */
export function parseHttpAddress(text: string): HttpAddress {
  const m = /^\[([^\]]+)\]:(\d+)$/.exec(text) ?? /^([^:[\]]+):(\d+)$/.exec(text);
  if (!m)
    throw new ControlListenError(
      `control http "${text}": expected host:port, e.g. 127.0.0.1:9100 or [::1]:9100`,
    );
  const host = m[1]!;
  const port = Number(m[2]);
  // Port 0: the system picks a free one (the server reports and logs it).
  if (port > 65535) throw new ControlListenError(`control http "${text}": port must be 0-65535`);
  if (!isLoopbackHost(host)) {
    throw new ControlListenError(
      `control http "${text}": ${host} is not a loopback address; the control API has no authentication, ` +
        'so it listens on 127.0.0.1, ::1 or localhost only',
    );
  }
  return { host, port };
}

/** Whether something accepts connections on a Unix socket (false: refused, or nothing there). */
export function socketAnswers(path: string, timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ path });
    const done = (v: boolean): void => {
      clearTimeout(timer);
      s.destroy();
      resolve(v);
    };
    // A listener that accepts but is wedged still holds the socket: treat it as alive.
    const timer = setTimeout(() => done(true), timeoutMs);
    s.once('connect', () => done(true));
    s.once('error', () => done(false));
  });
}

/**
 * Makes `path` ready to listen on: its directory exists, and a socket file
 * there is removed when no process answers on it (stale). Refuses a path that
 * is too long, that is not a socket, or on which a live process answers.
 * Returns whether a stale file was removed.
 */
export async function prepareSocketPath(path: string): Promise<boolean> {
  if (Buffer.byteLength(path) > MAX_SOCKET_PATH) {
    throw new ControlListenError(
      `control socket ${path}: longer than ${MAX_SOCKET_PATH} bytes (a Unix socket path limit)`,
    );
  }
  try {
    mkdirSync(dirname(path), { recursive: true, mode: 0o755 });
  } catch (e) {
    throw new ControlListenError(
      `control socket ${path}: cannot create its directory: ${(e as Error).message}`,
    );
  }
  let st;
  try {
    st = lstatSync(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw new ControlListenError(`control socket ${path}: ${(e as Error).message}`);
  }
  if (!st.isSocket())
    throw new ControlListenError(`control socket ${path}: exists and is not a socket; not touching it`);
  if (await socketAnswers(path)) {
    throw new ControlListenError(
      `control socket ${path}: another device answers on it (is one already running?)`,
    );
  }
  try {
    unlinkSync(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT')
      throw new ControlListenError(
        `control socket ${path}: cannot remove the stale socket: ${(e as Error).message}`,
      );
  }
  return true;
}
