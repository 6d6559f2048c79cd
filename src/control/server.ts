/**
 * The control API over HTTP/1.1 (node:http), on a Unix socket and optionally
 * on loopback TCP:
 *
 *   GET    /sessions[?filters][&format=text]  sessions (JSON, or `conntrack -L` lines)
 *   DELETE /sessions[?filters]                flush the matching sessions -> { flushed: N }
 *   GET    /stats                             counters
 *   GET    /vs[?format=text]                  virtual servers (JSON, or `ipvsadm -Ln` text)
 *   GET    /health                            per real server: up/down, last transition
 *   GET    /metrics                           Prometheus text
 *   POST   /reload                            reload the config (501 when the process cannot)
 *
 * Errors are JSON `{ "error": "..." }`: 400 a bad parameter (saying what was
 * expected), 404 an unknown path, 405 a wrong method, 409 a reload already
 * running, 422 a reload refused, 500 a failure inside.
 */
import { chmodSync, lstatSync, unlinkSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { ipvsadmText, vsJson } from '../lb/ipvsadm.js';
import { conntrackLine } from '../session/list.js';
import type { ControlApi } from './api.js';
import { FilterError, parseFilter } from './filter.js';
import { parseHttpAddress, prepareSocketPath, type HttpAddress } from './listen.js';
import { createMetrics, type DeviceMetrics } from './metrics.js';

/** What the server logs through (the run layer's Logger fits). */
export interface ControlLog {
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
}

export interface ControlServerOptions {
  /** Unix socket path. */
  socket: string;
  /** Also listen on TCP "host:port" (loopback only). */
  http?: string | null;
  log?: ControlLog;
  /** Export process metrics on /metrics too. */
  processMetrics?: boolean;
}

export interface ControlServer {
  readonly socket: string;
  /** The TCP address actually bound (port 0 in the options picks one), when listening on TCP. */
  readonly http: HttpAddress | null;
  /** Stops listening, ends open connections and removes the socket file. Idempotent. */
  close(): Promise<void>;
}

const SOCKET_MODE = 0o660;
const quiet: ControlLog = { info() {}, warn() {} };

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

function send(res: ServerResponse, status: number, type: string, body: string, headers = {}): void {
  res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body), ...headers });
  res.end(body);
}

function json(res: ServerResponse, status: number, value: unknown, headers = {}): void {
  send(res, status, 'application/json; charset=utf-8', JSON.stringify(value, null, 2) + '\n', headers);
}

function text(res: ServerResponse, body: string): void {
  send(res, 200, 'text/plain; charset=utf-8', body);
}

/** `format` of a request: json unless format=text where text is offered. */
function formatOf(q: URLSearchParams, textOk: boolean): 'json' | 'text' {
  const f = q.get('format');
  if (f === null || f === 'json') return 'json';
  if (f === 'text' && textOk) return 'text';
  throw new HttpError(400, `format: expected ${textOk ? 'json or text' : 'json'}, got "${f}"`);
}

function noParams(q: URLSearchParams, allowed: string[]): void {
  for (const k of q.keys())
    if (!allowed.includes(k))
      throw new HttpError(
        400,
        `unknown parameter "${k}"${allowed.length ? `; expected ${allowed.join(', ')}` : ''}`,
      );
}

function method(req: IncomingMessage, allowed: string[]): void {
  if (!allowed.includes(req.method ?? ''))
    throw new HttpError(405, `${req.method} not allowed here; use ${allowed.join(' or ')}`, {
      allow: allowed.join(', '),
    });
}

/** Answers one request. Exported for tests that want to drive it without a socket. */
export function controlHandler(api: ControlApi, metrics: DeviceMetrics, log: ControlLog = quiet) {
  let reloading = false;
  return async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    req.resume(); // no endpoint reads a body
    try {
      const url = new URL(req.url ?? '/', 'http://sdev');
      const q = url.searchParams;
      switch (url.pathname) {
        case '/sessions': {
          method(req, ['GET', 'DELETE']);
          if (req.method === 'DELETE') {
            const n = api.flush(parseFilter(q));
            log.info('sessions flushed', { filter: q.toString(), flushed: n });
            return json(res, 200, { flushed: n });
          }
          const fmt = formatOf(q, true);
          const list = api.sessions(parseFilter(q, ['format']));
          if (fmt === 'text') return text(res, list.map((s) => conntrackLine(s) + '\n').join(''));
          return json(res, 200, list);
        }
        case '/stats':
          method(req, ['GET']);
          noParams(q, ['format']);
          formatOf(q, false);
          return json(res, 200, api.stats());
        case '/vs': {
          method(req, ['GET']);
          noParams(q, ['format']);
          const fmt = formatOf(q, true);
          const { names, views } = api.vs();
          if (fmt === 'text') return text(res, ipvsadmText(views));
          return json(
            res,
            200,
            vsJson(views).map((v, i) => ({ name: names[i], ...v })),
          );
        }
        case '/health':
          method(req, ['GET']);
          noParams(q, ['format']);
          formatOf(q, false);
          return json(res, 200, api.health());
        case '/metrics':
          method(req, ['GET']);
          noParams(q, []);
          return send(res, 200, metrics.contentType, await metrics.text());
        case '/reload': {
          method(req, ['POST']);
          noParams(q, []);
          if (!api.reload)
            throw new HttpError(501, 'this device cannot reload its config (no reload was wired in)');
          if (reloading) throw new HttpError(409, 'a reload is already running');
          reloading = true;
          let r;
          try {
            r = await api.reload();
          } finally {
            reloading = false;
          }
          log.info(r.ok ? 'config reloaded' : 'config reload refused', { message: r.message });
          if (!r.ok) return json(res, 422, { ok: false, error: r.message });
          return json(res, 200, { ok: true, message: r.message });
        }
        default:
          throw new HttpError(
            404,
            `no such endpoint ${url.pathname}; endpoints: /sessions /stats /vs /health /metrics /reload`,
          );
      }
    } catch (e) {
      if (e instanceof HttpError) return json(res, e.status, { error: e.message }, e.headers);
      if (e instanceof FilterError) return json(res, 400, { error: e.message });
      log.warn('control request failed', { url: req.url, method: req.method, error: (e as Error).stack });
      return json(res, 500, { error: (e as Error).message });
    }
  };
}

function listen(server: Server, args: { path: string } | { host: string; port: number }): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (e: Error): void => reject(e);
    server.once('error', onError);
    server.listen(args, () => {
      server.off('error', onError);
      resolve();
    });
  });
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}

/** Starts the control server. Throws ControlListenError (or a listen error) before serving anything. */
export async function startControlServer(
  api: ControlApi,
  opts: ControlServerOptions,
): Promise<ControlServer> {
  const log = opts.log ?? quiet;
  const httpAddr = opts.http ? parseHttpAddress(opts.http) : null;
  const metrics = createMetrics(api, { processMetrics: opts.processMetrics });
  const handler = controlHandler(api, metrics, log);
  const onRequest = (req: IncomingMessage, res: ServerResponse): void => void handler(req, res);

  if (await prepareSocketPath(opts.socket))
    log.warn('removed a stale control socket', { socket: opts.socket });
  const unixServer = createServer(onRequest);
  await listen(unixServer, { path: opts.socket });
  chmodSync(opts.socket, SOCKET_MODE);
  const ino = lstatSync(opts.socket).ino;

  let tcpServer: Server | null = null;
  let bound: HttpAddress | null = null;
  if (httpAddr) {
    tcpServer = createServer(onRequest);
    try {
      await listen(tcpServer, { host: httpAddr.host, port: httpAddr.port });
    } catch (e) {
      await closeServer(unixServer);
      removeIfOurs(opts.socket, ino);
      throw e;
    }
    const a = tcpServer.address();
    bound = a && typeof a === 'object' ? { host: a.address, port: a.port } : httpAddr;
  }
  log.info('control API listening', {
    socket: opts.socket,
    http: bound ? `${bound.host}:${bound.port}` : null,
  });

  let closing: Promise<void> | null = null;
  return {
    socket: opts.socket,
    http: bound,
    close(): Promise<void> {
      closing ??= (async () => {
        await Promise.all([closeServer(unixServer), tcpServer ? closeServer(tcpServer) : null]);
        removeIfOurs(opts.socket, ino);
      })();
      return closing;
    },
  };
}

/** Removes the socket file unless another process has since put its own there. */
function removeIfOurs(path: string, ino: number): void {
  try {
    if (lstatSync(path).ino === ino) unlinkSync(path);
  } catch {
    // already gone
  }
}
