/**
 * A tiny structured logger for the live device: one JSON object per line on
 * stderr ({ time, level, msg, ...fields }), or a short human-readable line when
 * stderr is a terminal. No dependency; pino-compatible field names.
 */

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export type LogFields = Record<string, unknown>;

const RANK: Record<LogLevel, number> = { debug: 20, info: 30, warn: 40, error: 50 };

export interface Logger {
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
}

export interface LoggerOptions {
  /** Where lines go (process.stderr). */
  stream?: { write(s: string): unknown; isTTY?: boolean };
  /** Lowest level written ('info'; SDEV_LOG_LEVEL overrides the default). */
  level?: LogLevel;
  /** Human-readable lines instead of JSON (default: when the stream is a TTY). */
  pretty?: boolean;
  /** Clock (Date.now), for tests. */
  now?: () => number;
}

function isLevel(v: string | undefined): v is LogLevel {
  return v !== undefined && v in RANK;
}

function plain(v: unknown): unknown {
  if (v instanceof Error) return { name: v.name, message: v.message, code: (v as { code?: unknown }).code };
  if (typeof v === 'bigint') return v.toString();
  return v;
}

function prettyValue(v: unknown): string {
  const p = plain(v);
  if (typeof p === 'string') return /[\s"=]/.test(p) ? JSON.stringify(p) : p;
  return JSON.stringify(p);
}

export function createLogger(opts: LoggerOptions = {}): Logger {
  const stream = opts.stream ?? process.stderr;
  const envLevel = process.env.SDEV_LOG_LEVEL;
  const min = RANK[opts.level ?? (isLevel(envLevel) ? envLevel : 'info')];
  const pretty = opts.pretty ?? stream.isTTY === true;
  const now = opts.now ?? Date.now;
  const write = (level: LogLevel, msg: string, fields?: LogFields): void => {
    if (RANK[level] < min) return;
    const t = now();
    if (pretty) {
      const time = new Date(t).toISOString().slice(11, 23);
      let line = `${time} ${level.toUpperCase().padEnd(5)} ${msg}`;
      if (fields) for (const [k, v] of Object.entries(fields)) line += ` ${k}=${prettyValue(v)}`;
      stream.write(line + '\n');
      return;
    }
    const rec: LogFields = { time: new Date(t).toISOString(), level, msg };
    if (fields) for (const [k, v] of Object.entries(fields)) if (!(k in rec)) rec[k] = plain(v);
    stream.write(JSON.stringify(rec) + '\n');
  };
  return {
    debug: (m, f) => write('debug', m, f),
    info: (m, f) => write('info', m, f),
    warn: (m, f) => write('warn', m, f),
    error: (m, f) => write('error', m, f),
  };
}

/** A logger that writes nothing. */
export const silentLogger: Logger = { debug() {}, info() {}, warn() {}, error() {} };
