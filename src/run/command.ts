/**
 * `sdev run -c lab.yaml [--ready-file F]`: the live device as a process. Opens
 * the TAP and pcap ports, logs them, writes "PID\nready\n" to the ready file once they
 * are open (atomically, so a script polling for it never reads half of it),
 * and on SIGINT/SIGTERM closes everything, removes the ready file and exits 0.
 */
import { renameSync, rmSync, writeFileSync } from 'node:fs';
import { ConfigError } from '../config/load.js';
import type { DeviceConfig } from '../config/types.js';
import { VERDICT_NAMES } from '../device/verdict.js';
import { reasonName } from '../session/reasons.js';
import { createLogger, type Logger } from './log.js';
import { livePortsOf, runLive, type LiveCounters, type LiveHandle } from './live.js';
import { cannotSwitch, dropPrivileges, resolveRunAs, type RunAsIds } from './privilege.js';
import { reloadConfig } from './reload.js';
import { startRunControl } from './control.js';

export interface RunCommandOptions {
  readyFile?: string;
  log?: Logger;
  /** Seconds between counter lines in the log (0: none; default 0). */
  statsInterval?: number;
  /** Control API socket, overriding the config's control.socket (`--control PATH`). */
  controlSocket?: string;
}

/** Exit codes: 0 closed on a signal; 1 the ports could not be opened; 2 nothing to run. */
export async function runCommand(cfg: DeviceConfig, opts: RunCommandOptions = {}): Promise<void> {
  const log = opts.log ?? createLogger();
  if (livePortsOf(cfg).length === 0) {
    log.error('no port has a tap: or pcap: interface; nothing to run', { config: cfg.source });
    process.exit(2);
  }
  // `user:` is resolved (an unknown one refused with its line) before anything opens.
  let runAs: RunAsIds | null = null;
  try {
    runAs = resolveRunAs(cfg);
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    const n = e.issues.length;
    log.error(`config refused (${n} problem${n > 1 ? 's' : ''}):\n${e.message}`, {
      config: cfg.source,
      problems: e.message.split('\n'),
    });
    process.exit(2);
  }
  const cannot = runAs ? cannotSwitch(runAs) : null;
  if (cannot) {
    log.error('cannot switch user', { config: cfg.source, error: cannot });
    process.exit(2);
  }
  let live: LiveHandle;
  try {
    live = await runLive(cfg, { log });
  } catch (err) {
    const e = err as Error & { code?: string; iface?: string };
    log.error('could not open the ports', {
      config: cfg.source,
      code: e.code,
      iface: e.iface,
      error: e.message,
    });
    process.exit(1);
  }
  for (const p of live.counters().ports) {
    log.info('port open', {
      port: p.name,
      index: p.index,
      kind: p.kind,
      iface: p.tap,
      kernelMac: p.mac,
      mtu: p.mtu,
    });
  }
  log.info('device running', {
    config: cfg.source,
    name: cfg.name,
    ports: cfg.ports.length,
    routerMode: cfg.routerMode,
    virtualServers: cfg.virtualServers.length,
    pid: process.pid,
  });

  // Control API (sessions, stats, vs, metrics, reload): after the ports, before privileges and the ready file.
  const control = await startRunControl(live, cfg, {
    log,
    socket: opts.controlSocket,
    reload: () => reloadConfig(live.device, log),
  });
  if (!control) {
    await live.close();
    process.exit(1);
  }

  process.on('SIGHUP', () => {
    try {
      reloadConfig(live.device, log);
    } catch (e) {
      log.error('reload failed', { error: (e as Error).stack ?? String(e) });
    }
  });
  // Privileges go after everything that needs them (ports, control socket: above), before the ready file.
  if (runAs) {
    try {
      // The control socket is ours to remove at exit (in a sticky directory only its owner may).
      log.info('privileges dropped', { ...dropPrivileges(runAs, { chown: [control.socket] }) });
    } catch (e) {
      log.error('could not drop privileges; stopping', { user: runAs.user, error: (e as Error).message });
      await live.close();
      process.exit(1);
    }
  }

  const ready = opts.readyFile;
  if (ready) {
    const tmp = `${ready}.${process.pid}.tmp`;
    try {
      writeFileSync(tmp, `${process.pid}\nready\n`);
      renameSync(tmp, ready);
    } catch (e) {
      const as = runAs ? ` (as ${runAs.user}: its directory must be writable by that user)` : '';
      log.error(`could not write the ready file${as}; stopping`, {
        readyFile: ready,
        error: (e as Error).message,
      });
      await live.close();
      process.exit(1);
    }
  }

  const stats = opts.statsInterval && opts.statsInterval > 0 ? opts.statsInterval * 1000 : 0;
  const statsTimer = stats ? setInterval(() => log.info('counters', countersFields(live)), stats) : null;

  const closeAll = async (): Promise<void> => {
    await control.close(); // first, so no request reads closed ports; removes the socket file
    await live.close();
  };
  await new Promise<void>((resolve) => {
    let stopping = false;
    const stop = (signal: string): void => {
      if (stopping) return;
      stopping = true;
      log.info('stopping', { signal });
      if (statsTimer) clearInterval(statsTimer);
      void closeAll().then(() => {
        try {
          if (ready) rmSync(ready, { force: true });
        } catch (e) {
          log.warn('could not remove the ready file', { readyFile: ready, error: (e as Error).message });
        }
        log.info('stopped', countersFields(live));
        resolve();
      });
    };
    process.on('SIGINT', () => stop('SIGINT'));
    process.on('SIGTERM', () => stop('SIGTERM'));
  });
  process.exit(0);
}

function countersFields(live: LiveHandle): Record<string, unknown> {
  const c: LiveCounters = live.counters();
  const st = live.device.stats;
  const verdicts = Object.fromEntries(VERDICT_NAMES.map((n, i) => [n, st.verdicts[i]]).filter((e) => e[1]));
  const drops = Object.fromEntries(
    Array.from(st.dropsByReason, (n, r) => [reasonName(r), n] as const).filter((e) => e[1] > 0),
  );
  return {
    packetsIn: st.packetsIn,
    verdicts,
    drops,
    unroutable: c.unroutable,
    errors: c.errors,
    ports: Object.fromEntries(
      c.ports.map((p) => [p.name, { in: p.framesIn, out: p.framesOut, txDropped: p.txDropped }]),
    ),
  };
}
