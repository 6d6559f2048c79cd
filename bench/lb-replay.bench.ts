/**
 * Load-balancer replay throughput against the firewall-only replay: two captures of the same
 * shape (1,000,000 packets over 10,000 concurrent TCP connections, bench/gen.ts, same seed, so
 * the same clients, ports, sequence numbers and sizes):
 *   (1) the firewall-only capture: clients in 10.0.0.0/8 -> servers in 198.18.0.0/15:443,
 *       replayed with `defaultConfig()`;
 *   (2) the same connections to the VIP 198.18.0.100:443, the server side coming from one of 8
 *       reals 198.18.1.1-8:8443, replayed with a config that balances the VIP over them with
 *       `scheduler: mh` (Maglev, NAT mode: the device rewrites the client's packets to the real
 *       and the real's replies back to the VIP).
 * Measured in the same run: each config in processes of its own (bench/lb-replay-child.ts, as
 * `sdev replay` runs), processes alternating, a warm-up in each, medians; wall clock and CPU.
 *
 * How the generator knows which real answers each connection: it asks the same scheduler code
 * the device uses. The bench builds `VirtualServers` (src/lb/vs.ts) from the parsed LB config
 * and calls `vs.pick(0, pkt, 0)` with the client's address and port for every connection
 * (gen.ts `replyFrom`). Maglev is a pure function of the reals and the client tuple, so a fresh
 * instance picks what the device's does. A wrong guess would not go unnoticed: a reply from the
 * wrong real matches no session and is dropped, and the bench checks that nothing is dropped.
 *
 * Checks and prints that both replays forwarded every packet (dropsByReason otherwise: a bug to
 * report) and that the LB summary's virtual servers show connections on all 8 reals.
 * `npx tsx bench/run.ts lb-replay`
 */
import { spawnSync } from 'node:child_process';
import { rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseConfig } from '../src/config/load.js';
import type { DeviceConfig } from '../src/config/types.js';
import { VirtualServers } from '../src/lb/vs.js';
import type { ReplaySummary } from '../src/replay/summary.js';
import { Packet } from '../src/wire/packet.js';
import { generateTcpCapture } from './gen.js';
import { fmt, median } from './util.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));

const PACKETS = 1_000_000;
const FLOWS = 10_000;
/** Processes per config (alternating), and rounds in each after its warm-up. */
const PROCESSES = 4;
const ROUNDS = 3;
const TARGET_RATIO = 0.8;
const VIP = 0xc6120064; // 198.18.0.100
const VIP_PORT = 443;
const REALS = 8;
const REAL_PORT = 8443;

export const LB_YAML = `
zones:
  inside: { networks: [10.0.0.0/8] }
  outside: { default: true }
virtual-servers:
  - name: web
    vip: 198.18.0.100
    proto: tcp
    port: ${VIP_PORT}
    scheduler: mh
    reals:
${Array.from({ length: REALS }, (_x, i) => `      - { address: 198.18.1.${i + 1}, port: ${REAL_PORT} }`).join('\n')}
policy: { rules: [ { from: inside, action: accept } ] }
`;

/** Packets per second by wall-clock time and by this process's CPU time (user + system). */
interface Rate {
  wall: number;
  cpu: number;
}

/** Runs bench/lb-replay-child.ts on one capture with one config in a process of its own. */
function child(kind: 'fw' | 'lb', file: string): { rates: Rate[]; summary: ReplaySummary } {
  const r = spawnSync(
    process.execPath,
    ['--import', 'tsx', path.join(HERE, 'lb-replay-child.ts'), kind, file, String(ROUNDS)],
    {
      encoding: 'utf8',
      maxBuffer: 64 << 20,
    },
  );
  const line = r.stdout.trim().split('\n').pop() ?? '';
  if (r.status !== 0 || !line.startsWith('{'))
    throw new Error(`lb-replay child ${kind} failed: ${r.stderr || r.stdout}`);
  return JSON.parse(line) as { rates: Rate[]; summary: ReplaySummary };
}

function ipText(a: number): string {
  return [a >>> 24, (a >>> 16) & 0xff, (a >>> 8) & 0xff, a & 0xff].join('.');
}

/** The real (address, port) the device's scheduler picks for each client, from the same code. */
function maglevReplies(cfg: DeviceConfig): {
  replyFrom: (flow: number, clientAddr: number, clientPort: number) => { addr: number; port: number };
  perReal: Map<string, number>;
} {
  const vs = new VirtualServers(cfg.virtualServers);
  const pkt = new Packet();
  pkt.src[2] = 0xffff; // IPv4-mapped, as decodeFrame stores it
  pkt.l4Proto = 6;
  const pool = vs.pools[0]!;
  const perReal = new Map<string, number>();
  const replyFrom = (
    _flow: number,
    clientAddr: number,
    clientPort: number,
  ): { addr: number; port: number } => {
    pkt.src[3] = clientAddr;
    pkt.srcPort = clientPort;
    const r = vs.pick(0, pkt, 0);
    if (r < 0) throw new Error('no real available');
    const addr = pool.addr[r * 4 + 3]!;
    const port = vs.realPort[0]![r]! || VIP_PORT;
    const key = `${ipText(addr)}:${port}`;
    perReal.set(key, (perReal.get(key) ?? 0) + 1);
    return { addr, port };
  };
  return { replyFrom, perReal };
}

interface VsRealJson {
  address: string;
  activeConns: number;
  inactiveConns: number;
}

/** Prints whether the replay forwarded every packet; returns whether it did. */
function checkForwarded(name: string, s: ReplaySummary): boolean {
  if (s.dropped === 0 && s.forwarded === PACKETS) {
    console.log(`check: ${name} replay forwarded every packet (${s.forwarded} of ${s.packetsIn}): OK`);
    return true;
  }
  console.log(
    `check: FAILED - ${name} replay forwarded ${s.forwarded}, dropped ${s.dropped} of ${s.packetsIn} ` +
      `(a bug: the capture is valid TCP); dropsByReason ${JSON.stringify(s.dropsByReason)}`,
  );
  return false;
}

export async function run(): Promise<void> {
  const tag = `${process.pid}`;
  const fwFile = path.join(os.tmpdir(), `sdev-lb-replay-bench-fw-${tag}.pcap`);
  const lbFile = path.join(os.tmpdir(), `sdev-lb-replay-bench-lb-${tag}.pcap`);
  try {
    const lbCfg = parseConfig(LB_YAML, '<lb-replay bench>');

    let t0 = Date.now();
    const g1 = generateTcpCapture(fwFile, { packets: PACKETS, flows: FLOWS, seed: 1 });
    console.log(
      `capture (1) firewall: ${g1.packets} packets, ${g1.connections} TCP connections (${g1.completed} with teardown), ` +
        `${FLOWS} concurrent, ${fmt(statSync(fwFile).size / 1e6, 1)} MB, generated in ${fmt((Date.now() - t0) / 1000, 1)} s`,
    );
    t0 = Date.now();
    const { replyFrom, perReal } = maglevReplies(lbCfg);
    const g2 = generateTcpCapture(lbFile, {
      packets: PACKETS,
      flows: FLOWS,
      seed: 1,
      serverAddr: VIP,
      serverPort: VIP_PORT,
      replyFrom,
    });
    console.log(
      `capture (2) LB: ${g2.packets} packets, ${g2.connections} TCP connections (${g2.completed} with teardown) ` +
        `to VIP ${ipText(VIP)}:${VIP_PORT}, replies from ${REALS} reals :${REAL_PORT} (Maglev picks by vs.pick), ` +
        `${fmt(statSync(lbFile).size / 1e6, 1)} MB, generated in ${fmt((Date.now() - t0) / 1000, 1)} s`,
    );
    console.log(
      `  connections per real in the capture: ${[...perReal.entries()]
        .sort()
        .map(([k, n]) => `${k} ${n}`)
        .join(', ')}`,
    );

    // Each config in processes of its own, as `sdev replay` runs (one process replaying both
    // tunes its compiled code to whichever config came first), alternating so noise hits both.
    const fw: Rate[] = [];
    const lb: Rate[] = [];
    let fwLast: ReplaySummary | null = null;
    let lbLast: ReplaySummary | null = null;
    for (let k = 0; k < PROCESSES; k++) {
      const f = child('fw', fwFile);
      fw.push(...f.rates);
      fwLast = f.summary;
      const l = child('lb', lbFile);
      lb.push(...l.rates);
      lbLast = l.summary;
    }
    const wall = (xs: Rate[]): number => median(xs.map((x) => x.wall));
    const cpu = (xs: Rate[]): number => median(xs.map((x) => x.cpu));
    const ns = (x: number): string => fmt(1000 / x, 0).padStart(5);
    const show = (xs: Rate[]): string => xs.map((x) => fmt(x.wall)).join(' ');
    console.log(
      `Mpps, medians of ${PROCESSES} processes x ${ROUNDS} rounds (each after a warm-up), one config per process, ` +
        `processes alternating; wall clock, and by CPU time:`,
    );
    const line = (name: string, xs: Rate[]): void =>
      console.log(
        `${name} ${fmt(wall(xs)).padStart(5)} Mpps (${ns(wall(xs))} ns/pkt) | cpu ${fmt(cpu(xs)).padStart(5)} Mpps (${ns(cpu(xs))} ns/pkt) | wall rounds [${show(xs)}]`,
      );
    line('(1) replay, firewall, defaultConfig():  ', fw);
    line('(2) replay, LB VIP -> 8 reals (mh, NAT):', lb);
    const rw = wall(lb) / wall(fw);
    const rc = cpu(lb) / cpu(fw);
    const verdict = (x: number): string => (x >= TARGET_RATIO ? 'met' : 'MISSED');
    console.log(
      `ratio LB / firewall: ${fmt(rw, 3)} wall -> ${verdict(rw)}, ${fmt(rc, 3)} cpu -> ${verdict(rc)} ` +
        `(target >= ${TARGET_RATIO})`,
    );

    for (const [name, s] of [
      ['firewall', fwLast!],
      ['LB', lbLast!],
    ] as const) {
      console.log(
        `${name} summary: ${s.packetsIn} in, ${s.forwarded} forwarded, ${s.dropped} dropped; ` +
          `sessions ${s.sessionsCreated} created, peak ${s.peakSessions}, ${s.sessionsActive} at end; ` +
          `tcp end ${JSON.stringify(s.tcpFinalStates)}`,
      );
    }
    checkForwarded('firewall', fwLast!);
    checkForwarded('LB', lbLast!);

    const vsList = (lbLast!.virtualServers ?? []) as { address: string; reals: VsRealJson[] }[];
    const v = vsList[0];
    if (!v) console.log('check: FAILED - the LB summary has no virtual servers');
    else {
      const conns = v.reals.map((r) => r.activeConns + r.inactiveConns);
      const total = conns.reduce((a, b) => a + b, 0);
      console.log(
        `LB summary virtual server ${v.address}: ${v.reals
          .map((r) => `${r.address} ${r.activeConns}A/${r.inactiveConns}I`)
          .join(', ')}`,
      );
      const mismatched = v.reals.filter((r, i) => conns[i]! !== (perReal.get(r.address) ?? 0)).length;
      if (mismatched === 0 && total === g2.connections) {
        console.log(`check: the device's per-real sessions equal the generator's Maglev picks: OK`);
      } else {
        console.log(
          `check: FAILED - ${mismatched} reals' session counts differ from the generator's picks ` +
            `(${total} sessions, ${g2.connections} connections)`,
        );
      }
      const used = conns.filter((n) => n > 0).length;
      const mean = total / Math.max(1, conns.length);
      const spread =
        conns.length > 0
          ? `min ${fmt(Math.min(...conns) / mean, 2)}x, max ${fmt(Math.max(...conns) / mean, 2)}x mean`
          : '';
      if (used === REALS && v.reals.length === REALS) {
        console.log(`check: sessions on all ${REALS} reals (${total} at end; ${spread}): OK`);
      } else {
        console.log(
          `check: FAILED - sessions on ${used} of ${v.reals.length} reals (expected ${REALS}): ${spread}`,
        );
      }
    }
  } finally {
    rmSync(fwFile, { force: true });
    rmSync(lbFile, { force: true });
  }
}
