/**
 * `user:` / `group:` in the config: `sdev run` starts as root to create its
 * TAPs (and bind its control socket), then becomes that user for good:
 * setgroups([]), setgid, setuid, in that order (each later call needs the
 * privilege the earlier ones keep). Then it checks that it cannot come back:
 * every id (real, effective, saved, filesystem) of every thread is the user's,
 * no capability is left, and setuid(0) / setgid(0) / setgroups fail.
 *
 * What keeps working: the open TAP (and pcap) file descriptors, which the
 * kernel checked when they were opened. What no longer does: opening ports,
 * and anything in a directory the user may not write. The names are resolved
 * (and an unknown one refused with its config line) before anything opens.
 */
import { spawnSync } from 'node:child_process';
import { chownSync, readdirSync, readFileSync } from 'node:fs';
import { ConfigError } from '../config/load.js';
import type { DeviceConfig } from '../config/types.js';

export interface RunAsIds {
  user: string;
  uid: number;
  group: string;
  gid: number;
}

interface Entry {
  name: string;
  id: number;
  /** passwd: the primary gid. */
  gid: number;
}

/** A passwd or group entry by name or number, through NSS (getent), else the files in /etc. */
function lookup(db: 'passwd' | 'group', key: string): Entry | null {
  const r = spawnSync('getent', [db, key], { encoding: 'utf8', timeout: 10_000 });
  let line: string | undefined;
  if (r.error === undefined && r.status === 0) line = r.stdout.split('\n')[0];
  else if (r.error !== undefined) {
    // No getent: read the file.
    let text = '';
    try {
      text = readFileSync(`/etc/${db}`, 'utf8');
    } catch {
      return null;
    }
    const numeric = /^\d+$/.test(key);
    line = text.split('\n').find((l) => {
      const f = l.split(':');
      return numeric ? f[2] === key : f[0] === key;
    });
  }
  if (!line) return null;
  const f = line.split(':');
  return { name: f[0]!, id: Number(f[2]), gid: db === 'passwd' ? Number(f[3]) : Number(f[2]) };
}

/**
 * The uid and gid `user:` / `group:` name, or null when the config has no
 * `user:`. Throws ConfigError (file, line, column) for an unknown user or
 * group, or for root.
 */
export function resolveRunAs(cfg: DeviceConfig): RunAsIds | null {
  const r = cfg.runAs;
  if (!r) return null;
  const refuse = (where: { line: number; col: number }, path: string, message: string): never => {
    throw new ConfigError(cfg.source, [{ ...where, path, message }]);
  };
  const numeric = (v: string): boolean => /^\d+$/.test(v);
  const pw = lookup('passwd', r.user);
  if (!pw && !numeric(r.user)) refuse(r.at.user, 'user', `unknown user "${r.user}" (no passwd entry)`);
  const uid = pw ? pw.id : Number(r.user);
  if (uid === 0) refuse(r.at.user, 'user', `"${r.user}" is root: name an unprivileged user to switch to`);
  let gid: number;
  let group: string;
  if (r.group !== null) {
    const gr = lookup('group', r.group);
    if (!gr && !numeric(r.group)) refuse(r.at.group, 'group', `unknown group "${r.group}" (no group entry)`);
    gid = gr ? gr.id : Number(r.group);
    group = gr ? gr.name : r.group;
  } else if (pw) {
    gid = pw.gid;
    group = lookup('group', String(gid))?.name ?? String(gid);
  } else {
    return refuse(r.at.user, 'user', `uid ${r.user} has no passwd entry: give group: as well`);
  }
  if (gid === 0)
    refuse(r.group !== null ? r.at.group : r.at.user, 'group', 'the group is root (gid 0): name another');
  return { user: pw ? pw.name : r.user, uid, group, gid };
}

/** Why this process cannot switch to `ids` (not started as root), or null when it can. */
export function cannotSwitch(ids: RunAsIds): string | null {
  if (process.geteuid?.() === 0) return null;
  if (process.geteuid?.() === ids.uid && process.getegid?.() === ids.gid) return null;
  return `user: ${ids.user} needs sdev run to start as root (it runs as uid ${process.geteuid?.()})`;
}

export interface DropOptions {
  /**
   * Files made before the switch that the process must still remove at exit:
   * given to the user first (owner only; the group stays), so that in a
   * sticky directory such as /tmp the user may unlink them.
   */
  chown?: string[];
}

/** What dropPrivileges did, for the log. */
export interface Dropped extends RunAsIds {
  /** Already running as the user: nothing to do. */
  already: boolean;
  chowned: string[];
}

/** Becomes `ids` for good, or throws (the caller stops: the process may be half switched). */
export function dropPrivileges(ids: RunAsIds, opts: DropOptions = {}): Dropped {
  const chowned: string[] = [];
  if (process.geteuid!() !== 0) {
    const why = cannotSwitch(ids);
    if (why) throw new Error(why);
    const left = stillPrivileged(ids);
    if (left.length) throw new Error(`running as ${ids.user} but ${left.join('; ')}`);
    return { ...ids, already: true, chowned };
  }
  for (const p of opts.chown ?? []) {
    chownSync(p, ids.uid, -1);
    chowned.push(p);
  }
  process.setgroups!([]);
  process.setgid!(ids.gid);
  process.setuid!(ids.uid);
  const left = stillPrivileged(ids);
  if (left.length) throw new Error(`switched to ${ids.user} but ${left.join('; ')}`);
  return { ...ids, already: false, chowned };
}

/** What shows this process could regain root or act as another user; [] when nothing does. */
export function stillPrivileged(ids: RunAsIds): string[] {
  const out: string[] = [];
  const ids4 = [process.getuid!(), process.geteuid!()];
  if (ids4.some((u) => u !== ids.uid)) out.push(`uid/euid are ${ids4.join('/')}`);
  const gids = [process.getgid!(), process.getegid!()];
  if (gids.some((g) => g !== ids.gid)) out.push(`gid/egid are ${gids.join('/')}`);
  const extra = process.getgroups!().filter((g) => g !== ids.gid);
  if (extra.length) out.push(`supplementary groups ${extra.join(',')} remain`);
  // Every thread (libuv's pool too): real, effective, saved and filesystem ids, and capabilities.
  let tasks: string[] = [];
  try {
    tasks = readdirSync('/proc/self/task');
  } catch {
    // no procfs: the checks above and below still run
  }
  for (const t of tasks) {
    let st = '';
    try {
      st = readFileSync(`/proc/self/task/${t}/status`, 'utf8');
    } catch {
      continue; // the thread ended
    }
    const field = (k: string): string => new RegExp(`^${k}:\\s*(.*)$`, 'm').exec(st)?.[1] ?? '';
    const uids = field('Uid').split(/\s+/).map(Number);
    const gidsT = field('Gid').split(/\s+/).map(Number);
    if (uids.some((u) => u !== ids.uid)) out.push(`thread ${t} has uids ${uids.join(' ')}`);
    if (gidsT.some((g) => g !== ids.gid)) out.push(`thread ${t} has gids ${gidsT.join(' ')}`);
    for (const cap of ['CapEff', 'CapPrm']) {
      const v = field(cap);
      if (v && !/^0+$/.test(v)) out.push(`thread ${t} keeps capabilities (${cap} ${v})`);
    }
  }
  const mustFail = (what: string, f: () => void): void => {
    try {
      f();
      out.push(`${what} succeeded`);
    } catch {
      // refused: as it should be
    }
  };
  mustFail('setuid(0)', () => process.setuid!(0));
  mustFail('setgid(0)', () => process.setgid!(0));
  mustFail('setgroups([0])', () => process.setgroups!([0]));
  return out;
}
