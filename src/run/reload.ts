/**
 * Reloading the config of a running `sdev run` (SIGHUP, or the control API's
 * POST /reload): re-read the file the device was started with, validate it,
 * apply it through Device.reload, and log what changed. A file that does not
 * validate is refused with its problems as `sdev check-config` prints them
 * (file:line:col: path: what was expected); a change that needs a restart is
 * refused naming what changed. Either way the running config stays as it was.
 *
 * Synchronous from start to end (read, parse, apply), so it never runs in the
 * middle of a batch and two reloads cannot interleave.
 */
import { userInfo } from 'node:os';
import { ConfigError, loadConfigFile } from '../config/load.js';
import type { DeviceConfig } from '../config/types.js';
import type { Device } from '../device/device.js';
import { ReloadRefused, type ReloadSummary } from '../device/reload.js';
import { startHealthChecks } from './health.js';
import type { Logger } from './log.js';

/** What a reload answers (the control API's ReloadOutcome has the same shape). */
export interface ReloadResult {
  ok: boolean;
  /** One line when ok ("reloaded FILE: ..."), else why it was refused (may span lines: one per problem). */
  message: string;
  /** What changed, when ok. */
  summary?: ReloadSummary;
}

export interface ReloadOptions {
  /** The file to read (default: the file the running config came from). */
  file?: string;
}

/** Re-reads the config file and applies it to the running device, or refuses it and changes nothing. */
export function reloadConfig(dev: Device, log: Logger, opts: ReloadOptions = {}): ReloadResult {
  const file = opts.file ?? dev.cfg.source;
  let next: DeviceConfig;
  try {
    next = loadConfigFile(file);
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    const n = e.issues.length;
    let message = `config refused (${n} problem${n > 1 ? 's' : ''}):\n${e.message}`;
    if (e.issues[0]?.path === '(file)' && /EACCES|EPERM/.test(e.message) && process.getuid?.() !== 0) {
      message += `\n(the device runs as ${whoAmI()} since it dropped its privileges: the file must be readable by that user)`;
    }
    log.error('reload refused: the config does not validate; the running config stays', {
      config: file,
      problems: e.issues.map((i) => `${e.file}:${i.line}:${i.col}: ${i.path}: ${i.message}`),
    });
    return { ok: false, message };
  }
  const prevVs = dev.cfg.virtualServers.length;
  let s: ReloadSummary;
  try {
    s = dev.reload(next);
  } catch (e) {
    if (!(e instanceof ReloadRefused)) throw e;
    log.error(e.restart ? 'reload refused: restart needed' : 'reload refused', {
      config: file,
      problems: e.problems,
    });
    return { ok: false, message: e.message };
  }
  if (next.virtualServers.some((v) => v.health) && !dev.probes) startHealthChecks(dev, next, log);
  const message = `reloaded ${file}: ${describe(s)}`;
  log.info('config reloaded', {
    config: file,
    rules: `${s.rules.before} -> ${s.rules.after}${s.rules.changed ? ' (changed)' : ''}`,
    defaultAction: s.defaultAction.after,
    virtualServers: `${prevVs} -> ${next.virtualServers.length}`,
    vsAdded: s.virtualServers.added,
    vsRemoved: s.virtualServers.removed,
    vsChanged: s.virtualServers.changed,
    realsAdded: s.reals.added.map((r) => `${r.vs} ${r.real}`),
    realsRemoved: s.reals.removed.map((r) => `${r.vs} ${r.real} (${r.sessions ?? 0} sessions continue)`),
    realsReweighted: s.reals.reweighted.map((r) => `${r.vs} ${r.real}`),
    zonesChanged: s.zonesChanged,
    masquerade: s.masquerade,
    timeouts: s.timeouts,
    resetOnExpiry: s.resetOnExpiry ?? undefined,
    verifyChecksums: s.verifyChecksums ?? undefined,
    sessionsRemapped: s.sessionsRemapped,
  });
  return { ok: true, message, summary: s };
}

/** One line: what a reload changed. */
export function describe(s: ReloadSummary): string {
  const parts: string[] = [];
  const r = s.rules;
  parts.push(`rules ${r.before} -> ${r.after}${r.changed ? ' (changed)' : ' (unchanged)'}`);
  if (s.defaultAction.before !== s.defaultAction.after)
    parts.push(`default ${s.defaultAction.before} -> ${s.defaultAction.after}`);
  const v = s.virtualServers;
  const vs = [
    ...v.added.map((n) => `+${n}`),
    ...v.removed.map((n) => `-${n}`),
    ...v.changed.map((n) => `~${n}`),
  ];
  parts.push(vs.length ? `virtual servers ${vs.join(' ')}` : 'virtual servers unchanged');
  const reals = [
    ...s.reals.added.map((x) => `+${x.vs} ${x.real}`),
    ...s.reals.removed.map((x) => `-${x.vs} ${x.real} (${x.sessions ?? 0} sessions continue)`),
  ];
  if (reals.length) parts.push(`reals ${reals.join(', ')}`);
  if (s.reals.reweighted.length)
    parts.push(`weights ${s.reals.reweighted.map((x) => `${x.vs} ${x.real}`).join(', ')}`);
  if (s.zonesChanged.length) parts.push(`zone networks ${s.zonesChanged.join(', ')}`);
  if (s.masquerade) parts.push('masquerade changed');
  if (s.timeouts) parts.push('timeouts changed');
  if (s.resetOnExpiry !== null) parts.push(`reset-on-expiry ${s.resetOnExpiry ? 'on' : 'off'}`);
  if (s.verifyChecksums !== null) parts.push(`verify-checksums ${s.verifyChecksums ? 'on' : 'off'}`);
  return parts.join('; ');
}

function whoAmI(): string {
  const uid = process.getuid?.() ?? -1;
  try {
    return `${userInfo().username} (uid ${uid})`;
  } catch {
    return `uid ${uid}`;
  }
}
