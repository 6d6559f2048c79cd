/**
 * The commands that talk to a running device over its control socket:
 * `sdev sessions`, `sdev stats`, `sdev vs`, `sdev reload`. Wiring and printing
 * only; the device answers (src/control/server.ts).
 */
import type { Command } from 'commander';
import type { StatsJson } from '../control/api.js';
import {
  ControlUnreachableError,
  controlRequest,
  errorMessage,
  resolveSocket,
  type ControlResponse,
} from '../control/client.js';

const SOCKET_HELP =
  'control socket (default: $SDEV_SOCKET, else the only socket in /run/sdev, else /run/sdev/sdev.sock)';

/** One request; on no answer or an error status prints one line and exits 1. */
async function ask(socketOpt: string | undefined, method: string, path: string): Promise<ControlResponse> {
  const socket = resolveSocket(socketOpt);
  let r: ControlResponse;
  try {
    r = await controlRequest(socket, method, path);
  } catch (e) {
    if (e instanceof ControlUnreachableError) {
      process.stderr.write(`sdev: ${e.message}\n`);
      process.exit(1);
    }
    throw e;
  }
  if (r.status !== 200) {
    process.stderr.write(`sdev: ${errorMessage(r)}\n`);
    process.exit(1);
  }
  return r;
}

interface SessionsOptions {
  socket?: string;
  json?: boolean;
  flush?: boolean;
  proto?: string;
  src?: string;
  dst?: string;
  replySrc?: string;
  replyDst?: string;
  sport?: string;
  dport?: string;
  state?: string;
  zone?: string;
  limit?: string;
}

function sessionsQuery(o: SessionsOptions): URLSearchParams {
  const q = new URLSearchParams();
  const pairs: [string, string | undefined][] = [
    ['proto', o.proto],
    ['src', o.src],
    ['dst', o.dst],
    ['reply-src', o.replySrc],
    ['reply-dst', o.replyDst],
    ['sport', o.sport],
    ['dport', o.dport],
    ['state', o.state],
    ['zone', o.zone],
    ['limit', o.limit],
  ];
  for (const [k, v] of pairs) if (v !== undefined) q.set(k, v);
  return q;
}

/** `sdev stats` without --json. */
export function statsText(s: StatsJson): string {
  const list = (r: Record<string, number>): string =>
    Object.entries(r)
      .filter((e) => e[1] > 0)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ') || 'none';
  const v = s.verdicts;
  const ss = s.sessions;
  const lines = [
    `device    ${s.device} (up ${s.uptimeSeconds} s)`,
    `packets   ${s.packetsIn} in, ${v.forwarded ?? 0} forwarded (${s.fastPathFrames} by the session fast path), ${v.dropped ?? 0} dropped, ` +
      `${v.consumed ?? 0} consumed, ${v.held ?? 0} held`,
    `drops     ${list(s.dropsByReason)}`,
    `sessions  ${ss.current} now (peak ${ss.peak}, max ${ss.max}), ${ss.created} created, ` +
      `${ss.expired} expired, ${ss.evicted} evicted, ${ss.flushed} flushed`,
  ];
  for (const p of s.ports) {
    const parts: string[] = [];
    if (p.framesIn !== undefined) parts.push(`in ${p.framesIn} frames ${p.bytesIn ?? 0} bytes`);
    parts.push(`out ${p.framesOut} frames${p.bytesOut !== undefined ? ` ${p.bytesOut} bytes` : ''}`);
    if (p.txDropped) parts.push(`${p.txDropped} not sent`);
    lines.push(`port      ${p.name}${p.interface ? ` (${p.interface})` : ''}: ${parts.join(', ')}`);
  }
  const o = s.offload;
  if (o)
    lines.push(
      `offload   ${o.gsoIn} GSO frames in, ${o.gsoOut} out whole, ${o.gsoSegmented} cut into ` +
        `${o.segments} segments; ${o.checksumsFinished} checksums finished`,
    );
  if (s.live && (s.live.errors || s.live.unroutable))
    lines.push(`live      ${s.live.errors} errors, ${s.live.unroutable} unroutable`);
  return lines.join('\n') + '\n';
}

export function addControlCommands(program: Command): void {
  program
    .command('sessions')
    .description('list the sessions of a running device as conntrack -L does (or flush them: --flush)')
    .option('--socket <path>', SOCKET_HELP)
    .option('--json', 'print JSON records')
    .option('-F, --flush', 'delete the matching sessions (all when no filter), as conntrack -F / -D do')
    .option('-p, --proto <proto>', 'tcp, udp, icmp, icmpv6, ... or a number')
    .option('-s, --src <addr>', 'original source address or prefix (conntrack -s)')
    .option('-d, --dst <addr>', 'original destination address or prefix (conntrack -d)')
    .option('-r, --reply-src <addr>', 'reply source address or prefix (conntrack -r)')
    .option('-q, --reply-dst <addr>', 'reply destination address or prefix (conntrack -q)')
    .option('--sport <port>', 'original source port')
    .option('--dport <port>', 'original destination port')
    .option('--state <state>', 'TCP state (ESTABLISHED, TIME_WAIT, ...)')
    .option('--zone <zone>', 'session zone (the VLAN ID with sessions.zone-by-vlan)')
    .option('--limit <n>', 'at most N sessions (lowest ids first)')
    .action(async (o: SessionsOptions) => {
      const q = sessionsQuery(o);
      if (o.flush) {
        const r = await ask(o.socket, 'DELETE', `/sessions?${q}`);
        const n = (JSON.parse(r.body) as { flushed: number }).flushed;
        process.stdout.write(
          o.json ? `${JSON.stringify({ flushed: n })}\n` : `${n} flow entries have been deleted.\n`,
        );
        return;
      }
      if (!o.json) q.set('format', 'text');
      process.stdout.write((await ask(o.socket, 'GET', `/sessions?${q}`)).body);
    });

  program
    .command('stats')
    .description("a running device's counters: packets, verdicts, drops by reason, sessions, ports")
    .option('--socket <path>', SOCKET_HELP)
    .option('--json', 'print JSON')
    .action(async (o: { socket?: string; json?: boolean }) => {
      const r = await ask(o.socket, 'GET', '/stats');
      process.stdout.write(o.json ? r.body : statsText(JSON.parse(r.body) as StatsJson));
    });

  program
    .command('vs')
    .description("a running device's virtual servers and real servers, as ipvsadm -Ln prints them")
    .option('--socket <path>', SOCKET_HELP)
    .option('--json', 'print JSON')
    .action(async (o: { socket?: string; json?: boolean }) => {
      process.stdout.write((await ask(o.socket, 'GET', o.json ? '/vs' : '/vs?format=text')).body);
    });

  program
    .command('reload')
    .description('make a running device re-read its config file (as SIGHUP does)')
    .option('--socket <path>', SOCKET_HELP)
    .action(async (o: { socket?: string }) => {
      const r = await ask(o.socket, 'POST', '/reload');
      process.stdout.write(`${(JSON.parse(r.body) as { message: string }).message}\n`);
    });
}
