/** The `sdev` command line: wiring and printing only. */
import { writeFileSync } from 'node:fs';
import { Command, InvalidArgumentError } from 'commander';
import { ConfigError, defaultConfig, loadConfigFile } from '../config/load.js';
import { CaptureError } from '../io/capture-reader.js';
import { TraceFilterError, parseTraceFilter } from '../device/trace.js';
import { replay } from '../replay/replay.js';
import { summaryText } from '../replay/summary.js';
import { conntrackLine } from '../session/list.js';
import { progressBar } from './progress.js';
import { runCommand } from '../run/command.js';
import { addControlCommands } from './control-commands.js';
import {
  isDeviceReplay,
  parseCount,
  parseInterfaceMap,
  replayDevicesCommand,
  type DeviceReplayFlags,
} from './replay-devices.js';

const program = new Command();
program
  .name('sdev')
  .description('User-space session device: stateful firewall and L4 load balancer on raw Ethernet frames')
  .version('0.1.0');

function loadOrExit(path: string | undefined) {
  try {
    return path ? loadConfigFile(path) : defaultConfig();
  } catch (e) {
    if (e instanceof ConfigError) {
      process.stderr.write(
        `sdev: config refused (${e.issues.length} problem${e.issues.length > 1 ? 's' : ''}):\n${e.message}\n`,
      );
      process.exit(2);
    }
    throw e;
  }
}

program
  .command('check-config')
  .description('validate a YAML config; print each problem with its line and what was expected')
  .argument('<file>', 'config file')
  .action((file: string) => {
    const cfg = loadOrExit(file);
    process.stdout.write(
      `${file}: ok (${cfg.zones.length} zones, ${cfg.ports.length} ports, ${cfg.policy.rules.length} rules, ` +
        `max ${cfg.conntrack.maxSessions} sessions)\n`,
    );
  });

program
  .command('replay')
  .description(
    "run a capture through the device on the capture's own clock; with captures taken at several devices " +
      '(several files, or one pcapng whose interfaces are the devices) run each through its own device ' +
      'and report the asymmetric flows',
  )
  .argument('<captures...>', 'pcap or pcapng file; several: one per device (NAME=FILE names the device)')
  .option(
    '-c, --config <file>',
    'YAML config (default: the embedded stateful firewall); repeat for one config per device',
    (v: string, prev?: string[]) => [...(prev ?? []), v],
  )
  .option('--per-interface', 'one pcapng: each of its interfaces is a device (named by if_name, else ifN)')
  .option(
    '--device-of-interface <map>',
    'one pcapng: which device each interface is, e.g. 0=fw1,1=fw2 (0=fw1,1=fw1,2=fw2 gives fw1 two)',
    parseInterfaceMap,
  )
  .option(
    '--list-asymmetric <n>',
    'several devices: how many asymmetric flows to list (default 20)',
    parseCount,
  )
  .option(
    '-w, --write <file>',
    'write the frames the device would have sent (.pcap, or .pcapng with one interface per port, ' +
      'named DEVICE:PORT with several devices)',
  )
  .option(
    '--verdicts <file>',
    'write every input packet with a comment "verdict reason session-id" (pcapng; interfaces DEVICE:IF with several devices)',
  )
  .option('--json <file>', 'write the summary as JSON')
  .option('--sessions <file>', 'write the session table at the end as JSON')
  .option('-L, --list', 'print the session table at the end, as conntrack -L does')
  .option('--vs', 'print the virtual servers and their real servers at the end, as ipvsadm -Ln does')
  .option(
    '--trace <filter>',
    'print a per-packet trace for packets matching FILTER ("all", "host A and port N", "reason no-session")',
    (v) => {
      try {
        parseTraceFilter(v);
      } catch (e) {
        if (e instanceof TraceFilterError) throw new InvalidArgumentError(e.message);
        throw e;
      }
      return v;
    },
  )
  .option('-q, --quiet', 'print nothing but errors')
  .action((captures: string[], o: DeviceReplayFlags & { config?: string[] }) => {
    if (isDeviceReplay(captures, o)) {
      const configs = (o.config ?? [undefined]).map((c) => loadOrExit(c));
      replayDevicesCommand(captures, configs, o);
      return;
    }
    const capture = captures[0]!;
    if ((o.config?.length ?? 0) > 1) {
      process.stderr.write('sdev: several configs need several devices (captures, or --per-interface)\n');
      process.exit(2);
    }
    const config = loadOrExit(o.config?.[0]);
    const bar = !o.quiet && process.stderr.isTTY ? progressBar(process.stderr) : null;
    let result;
    try {
      result = replay({
        capture,
        config,
        out: o.write,
        verdicts: o.verdicts,
        trace: o.trace,
        traceWrite: (t) => process.stdout.write(t),
        progress: bar ? (n, f) => bar.update(n, f) : undefined,
      });
    } catch (e) {
      bar?.done();
      if (e instanceof CaptureError) {
        process.stderr.write(`sdev: ${e.message}\n`);
        process.exit(2);
      }
      throw e;
    }
    bar?.done();
    const { summary, sessions } = result;
    if (o.json) writeFileSync(o.json, JSON.stringify(summary, null, 2) + '\n');
    if (o.sessions) writeFileSync(o.sessions, JSON.stringify(sessions, null, 2) + '\n');
    if (!o.quiet) process.stdout.write(summaryText(summary));
    if (o.list) for (const s of sessions) process.stdout.write(conntrackLine(s) + '\n');
    if (o.vs) process.stdout.write(result.vsText);
    if (result.captureError) {
      process.stderr.write(`sdev: ${result.captureError.message}\n`);
      process.exitCode = 3;
    }
  });

program
  .command('run')
  .description(
    'run the device live on the TAP and libpcap interfaces of the config (needs root or CAP_NET_ADMIN + CAP_NET_RAW)',
  )
  .requiredOption('-c, --config <file>', 'YAML config whose ports name a tap: or pcap: interface')
  .option('--ready-file <file>', 'write "PID\\nready" here once the ports are open (removed on exit)')
  .option('--control <socket>', 'control API socket (default: control.socket, else /run/sdev/NAME.sock)')
  .option('--stats <seconds>', 'log the counters every N seconds', (v) => {
    const n = Number(v);
    if (!Number.isFinite(n) || n < 0) throw new InvalidArgumentError('a number of seconds (>= 0)');
    return n;
  })
  .action(async (o: { config: string; readyFile?: string; stats?: number; control?: string }) => {
    const config = loadOrExit(o.config);
    await runCommand(config, { readyFile: o.readyFile, statsInterval: o.stats, controlSocket: o.control });
  });

addControlCommands(program);

program.parseAsync(process.argv).catch((e: unknown) => {
  process.stderr.write(`sdev: ${(e as Error).message}\n`);
  process.exit(1);
});
