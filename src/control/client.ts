/**
 * The client side of the control API, for the CLI: one HTTP request over the
 * device's Unix socket, and which socket to use when none is given.
 */
import { readdirSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { defaultSocketPath } from './listen.js';

export const SOCKET_DIR = '/run/sdev';

/** No device answered (no socket file, nobody listening, no permission, or no answer in time). */
export class ControlUnreachableError extends Error {
  constructor(
    readonly socket: string,
    why: string,
  ) {
    super(`no device answers on ${socket} (${why})`);
    this.name = 'ControlUnreachableError';
  }
}

export interface ControlResponse {
  status: number;
  contentType: string;
  body: string;
}

/**
 * The socket to talk to: the one given, else $SDEV_SOCKET, else the only
 * socket in /run/sdev (one device running), else /run/sdev/sdev.sock (the
 * default device name's).
 */
export function resolveSocket(
  given?: string,
  env: NodeJS.ProcessEnv = process.env,
  dir = SOCKET_DIR,
): string {
  if (given) return given;
  if (env.SDEV_SOCKET) return env.SDEV_SOCKET;
  let socks: string[] = [];
  try {
    socks = readdirSync(dir).filter((f) => f.endsWith('.sock'));
  } catch {
    // no directory: no device has run here
  }
  if (socks.length === 1) return join(dir, socks[0]!);
  return dir === SOCKET_DIR ? defaultSocketPath('sdev') : join(dir, 'sdev.sock');
}

/** One request; rejects with ControlUnreachableError when nothing answers on the socket. */
export function controlRequest(
  socket: string,
  method: string,
  path: string,
  timeoutMs = 10000,
): Promise<ControlResponse> {
  return new Promise((resolve, reject) => {
    const req = request(
      { socketPath: socket, method, path, agent: false, headers: { host: 'sdev' } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          clearTimeout(timer);
          resolve({
            status: res.statusCode ?? 0,
            contentType: String(res.headers['content-type'] ?? ''),
            body: Buffer.concat(chunks).toString('utf8'),
          });
        });
        res.on('error', (e) => {
          clearTimeout(timer);
          reject(e);
        });
      },
    );
    const timer = setTimeout(() => {
      req.destroy();
      reject(new ControlUnreachableError(socket, `no answer in ${timeoutMs / 1000} s`));
    }, timeoutMs);
    req.on('error', (e: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      const why: Record<string, string> = {
        ENOENT: 'no such socket',
        ECONNREFUSED: 'nothing listens on it',
        EACCES: 'permission denied',
        ENOTSOCK: 'not a socket',
      };
      reject(new ControlUnreachableError(socket, why[e.code ?? ''] ?? e.message));
    });
    req.end();
  });
}

/** The `error` of a JSON error body, or the body itself. */
export function errorMessage(r: ControlResponse): string {
  try {
    const v = JSON.parse(r.body) as { error?: unknown };
    if (typeof v.error === 'string') return v.error;
  } catch {
    // not JSON
  }
  return r.body.trim() || `HTTP ${r.status}`;
}
