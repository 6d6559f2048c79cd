/**
 * The live device's logger, over pino: one JSON object per line on stderr
 * ({ level, time, pid, msg, ...fields }, level as its name, time as ISO 8601),
 * or a readable line from pino-pretty when stderr is a terminal. Both write
 * synchronously on the calling thread (no worker, no transport), so the last
 * line before process.exit is never lost. The level comes from the options,
 * else SDEV_LOG_LEVEL (trace, debug, info, warn, error, fatal), else info.
 *
 * Callers see only the small `Logger` interface (`log.info(msg, fields)`).
 */
import { pino, stdTimeFunctions, type DestinationStream } from 'pino';
import { prettyFactory } from 'pino-pretty';

export type LogLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal';
export type LogFields = Record<string, unknown>;

export const LOG_LEVELS: readonly LogLevel[] = ['trace', 'debug', 'info', 'warn', 'error', 'fatal'];

export interface Logger {
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
}

export interface LoggerOptions {
  /** Where lines go (process.stderr, written through fd 2). */
  stream?: { write(s: string): unknown; isTTY?: boolean };
  /** Lowest level written (default: SDEV_LOG_LEVEL, else 'info'). */
  level?: LogLevel;
  /** pino-pretty lines instead of JSON (default: when the stream is a TTY). */
  pretty?: boolean;
  /** Colours in pretty lines (default: with pretty on a TTY). */
  colorize?: boolean;
}

export function isLogLevel(v: string | undefined): v is LogLevel {
  return v !== undefined && (LOG_LEVELS as readonly string[]).includes(v);
}

/** The level SDEV_LOG_LEVEL asks for ('info' when unset), or null for a name that is not a level. */
export function envLogLevel(env: NodeJS.ProcessEnv = process.env): LogLevel | null {
  const v = env.SDEV_LOG_LEVEL;
  if (v === undefined || v === '') return 'info';
  const l = v.toLowerCase();
  return isLogLevel(l) ? l : null;
}

export function createLogger(opts: LoggerOptions = {}): Logger {
  const out = opts.stream ?? process.stderr;
  const pretty = opts.pretty ?? out.isTTY === true;
  let dest: DestinationStream;
  if (pretty) {
    const fmt = prettyFactory({
      colorize: opts.colorize ?? out.isTTY === true,
      translateTime: 'SYS:HH:MM:ss.l',
      ignore: 'pid,hostname',
      singleLine: true,
    });
    dest = { write: (line: string) => void out.write(fmt(line)) };
  } else if (out === process.stderr) {
    // SonicBoom on fd 2 in sync mode: written before the call returns.
    dest = pino.destination({ fd: 2, sync: true });
  } else {
    dest = { write: (line: string) => void out.write(line) };
  }
  const env = envLogLevel();
  const p = pino(
    {
      level: opts.level ?? env ?? 'info',
      base: { pid: process.pid },
      timestamp: stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      serializers: { error: pino.stdSerializers.err, err: pino.stdSerializers.err },
    },
    dest,
  );
  const at =
    (level: 'debug' | 'info' | 'warn' | 'error') =>
    (msg: string, fields?: LogFields): void => {
      if (fields) p[level](fields, msg);
      else p[level](msg);
    };
  const log: Logger = { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
  if (!opts.level && env === null) {
    log.warn('SDEV_LOG_LEVEL is not a level; logging at info', {
      SDEV_LOG_LEVEL: process.env.SDEV_LOG_LEVEL,
      levels: LOG_LEVELS.join(', '),
    });
  }
  return log;
}

/** A logger that writes nothing. */
export const silentLogger: Logger = { debug() {}, info() {}, warn() {}, error() {} };
