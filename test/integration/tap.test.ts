/**
 * TAP port against the real kernel: a TAP created by our addon is moved into a
 * network namespace made for this run, the namespace's kernel talks to us
 * through it. Needs root and /dev/net/tun; skipped otherwise.
 *
 * Everything is named with a per-run prefix and removed in afterAll, on
 * failure too; child processes are killed by PID.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FrameBatch } from '../../src/io/port.js';
import { TapPort, tapAvailable, type TapError } from '../../src/io/tap.js';

const isRoot = process.getuid?.() === 0;
const hasIp = spawnSync('ip', ['-V'], { stdio: 'ignore' }).status === 0;
const PY = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';
const hasPython = spawnSync(PY, ['-c', 'pass'], { stdio: 'ignore' }).status === 0;
const enabled = isRoot && hasIp && hasPython && tapAvailable();

const prefix = `sd${process.pid.toString(36)}`;
const NS = `${prefix}ns`;
const NS2 = `${prefix}nx`;
const TAP0 = `${prefix}t0`;
const TAP1 = `${prefix}t1`;
const TAP2 = `${prefix}t2`;
const TAP3 = `${prefix}t3`;
const CHILD_TAPS = [`${prefix}c0`, `${prefix}c1`, `${prefix}c2`];

// Our side of the link (the "device") and the namespace's side.
const DEV_MAC = Uint8Array.of(0x02, 0x73, 0x64, 0x65, 0x76, 0x01);
const DEV_IP = [10, 77, 0, 1];
const NS_IP = [10, 77, 0, 2];

const children = new Set<ChildProcess>();

function ip(args: string[], allowFail = false): string {
  const r = spawnSync('ip', args, { encoding: 'utf8', timeout: 10000 });
  if (r.status !== 0 && !allowFail) {
    throw new Error(`ip ${args.join(' ')} failed (${r.status}): ${r.stderr}`);
  }
  return r.stdout;
}

function linkExists(name: string, ns?: string): boolean {
  const args = ns ? ['-n', ns, 'link', 'show', name] : ['link', 'show', name];
  return spawnSync('ip', args, { stdio: 'ignore' }).status === 0;
}

function cleanup(): void {
  for (const c of children) {
    if (c.pid !== undefined && c.exitCode === null && c.signalCode === null) {
      try {
        process.kill(c.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }
  children.clear();
  for (const ns of [NS, NS2]) ip(['netns', 'del', ns], true);
  for (const name of [TAP0, TAP1, TAP2, TAP3, ...CHILD_TAPS]) {
    if (linkExists(name)) ip(['link', 'del', name], true);
  }
}

// ------------------------------------------------------------ frame building

/** Internet checksum (RFC 1071) over several byte ranges. */
function csum(...parts: Uint8Array[]): number {
  let s = 0;
  for (const b of parts) {
    for (let i = 0; i + 1 < b.length; i += 2) s += (b[i] << 8) | b[i + 1];
    if (b.length & 1) s += b[b.length - 1] << 8;
  }
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  return ~s & 0xffff;
}

function wr16(b: Uint8Array, o: number, v: number): void {
  b[o] = v >>> 8;
  b[o + 1] = v & 0xff;
}

function arpReply(dstMac: Uint8Array, dstIp: number[]): Uint8Array {
  const f = new Uint8Array(42);
  f.set(dstMac, 0);
  f.set(DEV_MAC, 6);
  wr16(f, 12, 0x0806);
  wr16(f, 14, 1); // Ethernet
  wr16(f, 16, 0x0800); // IPv4
  f[18] = 6;
  f[19] = 4;
  wr16(f, 20, 2); // reply
  f.set(DEV_MAC, 22);
  f.set(DEV_IP, 28);
  f.set(dstMac, 32);
  f.set(dstIp, 38);
  return f;
}

function udpFrame(
  dstMac: Uint8Array,
  dstIp: number[],
  sport: number,
  dport: number,
  payload: string,
): Uint8Array {
  const data = new TextEncoder().encode(payload);
  const udpLen = 8 + data.length;
  const f = new Uint8Array(14 + 20 + udpLen);
  f.set(dstMac, 0);
  f.set(DEV_MAC, 6);
  wr16(f, 12, 0x0800);
  f[14] = 0x45;
  wr16(f, 16, 20 + udpLen);
  wr16(f, 18, 0x1234);
  f[22] = 64;
  f[23] = 17;
  f.set(DEV_IP, 26);
  f.set(dstIp, 30);
  wr16(f, 24, csum(f.subarray(14, 34)));
  wr16(f, 34, sport);
  wr16(f, 36, dport);
  wr16(f, 38, udpLen);
  f.set(data, 42);
  // pseudo-header: addresses, zero, protocol, UDP length
  const pseudo = new Uint8Array(12);
  pseudo.set(f.subarray(26, 34), 0);
  pseudo[9] = 17;
  wr16(pseudo, 10, udpLen);
  const c = csum(pseudo, f.subarray(34));
  wr16(f, 40, c === 0 ? 0xffff : c);
  return f;
}

const rd16 = (b: Uint8Array, o: number): number => (b[o] << 8) | b[o + 1];
const sameBytes = (b: Uint8Array, o: number, want: ArrayLike<number>): boolean =>
  Array.from(want).every((v, i) => b[o + i] === v);

function isArpRequestFor(f: Uint8Array, tpa: number[]): boolean {
  return f.length >= 42 && rd16(f, 12) === 0x0806 && rd16(f, 20) === 1 && sameBytes(f, 38, tpa);
}

function isUdpTo(f: Uint8Array, dst: number[], dport: number): boolean {
  return (
    f.length >= 42 && rd16(f, 12) === 0x0800 && f[23] === 17 && sameBytes(f, 30, dst) && rd16(f, 36) === dport
  );
}

// ------------------------------------------------------------ receiving

interface Received {
  frame: Uint8Array;
  batch: number;
}

const received: Received[] = [];
let batchNo = 0;
const batchSizes: number[] = [];

function onBatch(b: FrameBatch): void {
  batchNo++;
  batchSizes.push(b.count);
  for (let i = 0; i < b.count; i++) {
    // The batch is reused: copy what we keep.
    received.push({ frame: b.buf.slice(b.off[i], b.off[i] + b.len[i]), batch: batchNo });
  }
}

async function waitFor<T>(probe: () => T | undefined, what: string, ms = 5000): Promise<T> {
  const until = Date.now() + ms;
  for (;;) {
    const v = probe();
    if (v !== undefined) return v;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

function waitFrame(since: number, pred: (f: Uint8Array) => boolean, what: string): Promise<Uint8Array> {
  return waitFor(() => received.slice(since).find((r) => pred(r.frame))?.frame, what);
}

function startChild(
  cmd: string,
  args: string[],
): { child: ChildProcess; done: Promise<{ code: number | null; out: string; err: string }> } {
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  let out = '';
  let err = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (err += d.toString()));
  const done = new Promise<{ code: number | null; out: string; err: string }>((resolve) => {
    child.on('close', (code) => {
      children.delete(child);
      resolve({ code, out, err });
    });
  });
  return { child, done };
}

function killChild(child: ChildProcess): void {
  if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) {
    try {
      process.kill(child.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}

// ------------------------------------------------------------ tests

describe.skipIf(!enabled)('TapPort (root, /dev/net/tun, netns)', () => {
  let port: TapPort;
  let nsMac: Uint8Array;

  beforeAll(() => {
    cleanup(); // leftovers of a crashed run with the same PID
    process.once('exit', cleanup);
    try {
      port = TapPort.open({ name: TAP0, mtu: 1500 });
      nsMac = port.mac;
      port.start(onBatch);
      ip(['netns', 'add', NS]);
      ip(['link', 'set', 'dev', TAP0, 'netns', NS]);
      ip(['-n', NS, 'link', 'set', 'lo', 'up']);
      ip(['-n', NS, 'addr', 'add', '10.77.0.2/24', 'dev', TAP0]);
      ip(['-n', NS, 'link', 'set', TAP0, 'up']);
    } catch (err) {
      port?.close();
      cleanup();
      throw err;
    }
  });

  afterAll(() => {
    try {
      port?.close();
    } finally {
      cleanup();
      process.removeListener('exit', cleanup);
    }
  });

  it('opened the TAP with the requested name, MTU and a MAC, and it moved into the namespace', () => {
    expect(port.name).toBe(TAP0);
    expect(port.mtu).toBe(1500);
    expect(port.mac).toHaveLength(6);
    expect(port.macString).toMatch(/^([0-9a-f]{2}:){5}[0-9a-f]{2}$/);
    expect(port.fd).toBeGreaterThanOrEqual(0);
    expect(linkExists(TAP0)).toBe(false);
    expect(linkExists(TAP0, NS)).toBe(true);
    // the MAC read before the move is the one the namespace's kernel uses
    expect(ip(['-n', NS, 'link', 'show', TAP0])).toContain(port.macString);
  });

  it('receives the ARP request the namespace sends out of the TAP, answers it, then exchanges UDP', async () => {
    const since = received.length;
    const script = [
      'import socket',
      's = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)',
      "s.bind(('10.77.0.2', 0))",
      's.settimeout(8)',
      "s.sendto(b'ping-sdev', ('10.77.0.1', 7777))",
      'd, a = s.recvfrom(2048)',
      'print(d.decode(), a[0], a[1], flush=True)',
    ].join('\n');
    const { child, done } = startChild('ip', ['netns', 'exec', NS, PY, '-c', script]);
    try {
      // (a) the kernel in the namespace resolves 10.77.0.1 first
      const arp = await waitFrame(since, (f) => isArpRequestFor(f, DEV_IP), 'ARP request for 10.77.0.1');
      expect(rd16(arp, 12)).toBe(0x0806);
      expect(Array.from(arp.subarray(0, 6))).toEqual([0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);
      expect(Array.from(arp.subarray(22, 28))).toEqual(Array.from(nsMac)); // sender hardware address
      expect(Array.from(arp.subarray(28, 32))).toEqual(NS_IP); // sender protocol address

      // (b) we answer; the queued datagram follows, and we answer that too
      const txBefore = port.txFrames;
      port.send(arpReply(nsMac, NS_IP), 0, 42);
      expect(port.txPending).toBe(1);
      port.flush();
      expect(port.txPending).toBe(0);
      const udp = await waitFrame(since, (f) => isUdpTo(f, DEV_IP, 7777), 'UDP datagram to 10.77.0.1:7777');
      expect(Array.from(udp.subarray(0, 6))).toEqual(Array.from(DEV_MAC)); // resolved to our MAC
      expect(new TextDecoder().decode(udp.subarray(42, 42 + rd16(udp, 38) - 8))).toBe('ping-sdev');
      const sport = rd16(udp, 34);
      const reply = udpFrame(nsMac, NS_IP, 7777, sport, 'pong-sdev');
      port.send(reply, 0, reply.length);
      port.flush();
      expect(port.txFrames - txBefore).toBe(2);

      const r = await done;
      expect(r.err).toBe('');
      expect(r.code).toBe(0);
      expect(r.out.trim()).toBe('pong-sdev 10.77.0.1 7777');
    } finally {
      killChild(child);
    }
  });

  it('delivers a burst in batches: fewer callbacks than frames', async () => {
    // a permanent neighbour so the burst never waits for ARP
    ip([
      '-n',
      NS,
      'neigh',
      'replace',
      '10.77.0.1',
      'lladdr',
      '02:73:64:65:76:01',
      'dev',
      TAP0,
      'nud',
      'permanent',
    ]);
    const since = received.length;
    const N = 200;
    const script = [
      'import socket',
      's = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)',
      `for i in range(${N}):`,
      "    s.sendto(b'burst-%d' % i, ('10.77.0.1', 9000))",
    ].join('\n');
    // spawnSync keeps our event loop busy while the namespace sends, so the
    // frames wait in the TAP's queue (txqueuelen, 1000 by default) and are read as a batch.
    const r = spawnSync('ip', ['netns', 'exec', NS, PY, '-c', script], { encoding: 'utf8', timeout: 10000 });
    expect(r.status).toBe(0);
    const burst = () => received.slice(since).filter((x) => isUdpTo(x.frame, DEV_IP, 9000));
    await waitFor(() => (burst().length >= N ? true : undefined), `${N} burst datagrams`);
    const got = burst();
    expect(got).toHaveLength(N);
    const payloads = got.map((x) => new TextDecoder().decode(x.frame.subarray(42)));
    expect(payloads).toEqual(Array.from({ length: N }, (_, i) => `burst-${i}`));
    const batches = new Set(got.map((x) => x.batch));
    expect(batches.size).toBeLessThan(N);
    expect(Math.max(...batchSizes)).toBeGreaterThan(1);
    const st = port.stats();
    expect(st.rxFrames).toBe(port.rxFrames);
    expect(st.rxBatches).toBe(port.rxBatches);
    expect(port.rxBatches).toBeLessThan(port.rxFrames);
  });

  it('send() flushes by itself when the batch is full; refused frames count as dropped', () => {
    const p = TapPort.open({ name: TAP1, batchFrames: 4, up: true });
    try {
      const f = new Uint8Array(60);
      f.fill(0xff, 0, 6);
      f.set(DEV_MAC, 6);
      wr16(f, 12, 0x88b5); // local experimental EtherType: counted, then dropped by the stack
      for (let i = 0; i < 10; i++) p.send(f, 0, 60);
      expect(p.txFrames).toBe(8); // two automatic flushes of 4
      expect(p.txPending).toBe(2);
      p.flush();
      expect(p.txFrames).toBe(10);
      p.send(f, 0, 10); // too short for an Ethernet frame: the kernel says EINVAL
      p.flush();
      expect(p.txDropped).toBe(1);
      expect(p.stats().txErrors).toBe(1);
      expect(p.stats().lastTxErrno).toBe(22);
      const stats = JSON.parse(ip(['-s', '-j', 'link', 'show', TAP1])) as [
        { stats64: { rx: { packets: number; bytes: number } } },
      ];
      expect(stats[0].stats64.rx.packets).toBe(10);
      expect(stats[0].stats64.rx.bytes).toBe(600);
    } finally {
      p.close();
    }
    expect(linkExists(TAP1)).toBe(false); // not persistent: gone with the fd
  });

  it('close() twice is safe; a closed port drops what it is given', () => {
    const p = TapPort.open({ name: TAP1 });
    p.start(() => {});
    p.close();
    expect(() => p.close()).not.toThrow();
    expect(p.closed).toBe(true);
    expect(p.fd).toBe(-1);
    p.send(new Uint8Array(60), 0, 60);
    p.flush();
    expect(p.txDropped).toBe(1);
    expect(() => p.start(() => {})).toThrow(/closed/);
  });

  it('gives clear errors for bad names and busy interfaces', () => {
    const errOf = (name: string): TapError => {
      try {
        TapPort.open({ name }).close();
      } catch (e) {
        return e as TapError;
      }
      throw new Error(`opening ${name} did not fail`);
    };
    const long = errOf('x'.repeat(16));
    expect(long.message).toMatch(/too long/);
    expect(long.message).toContain('x'.repeat(16));
    const slash = errOf('bad/name');
    expect(slash.code).toBe('EINVAL');
    expect(slash.message).toBe('ioctl(TUNSETIFF) bad/name: EINVAL (Invalid argument)');
    const lo = errOf('lo'); // exists, but is not a TAP
    expect(lo.code).toBe('EINVAL');
    expect(lo.iface).toBe('lo');
    const held = TapPort.open({ name: TAP2 });
    try {
      const busy = errOf(TAP2);
      expect(busy.code).toBe('EBUSY');
      expect(busy.errno).toBe(-16);
      expect(busy.syscall).toBe('ioctl(TUNSETIFF)');
      expect(busy.message).toContain(TAP2);
    } finally {
      held.close();
    }
  });

  it('reports EBADFD and stops receiving when the interface disappears with its namespace', async () => {
    const errors: TapError[] = [];
    const p = TapPort.open({ name: TAP3, onError: (e) => errors.push(e) });
    try {
      p.start(() => {});
      ip(['netns', 'add', NS2]);
      ip(['link', 'set', 'dev', TAP3, 'netns', NS2]);
      ip(['netns', 'del', NS2]);
      await waitFor(() => errors[0], 'the receive error');
      expect(errors[0].code).toBe('EBADFD');
      expect(errors[0].message).toContain(TAP3);
      expect(p.lastError).toBe(errors[0]);
    } finally {
      p.close();
    }
  });

  it('a process that exits or ends without close(), or a worker that is terminated, does not crash', () => {
    const addon = fileURLToPath(new URL('../../native/build/Release/sdev_tap.node', import.meta.url));
    const [c0, c1, c2] = CHILD_TAPS;
    const body = `
      const b = require(${JSON.stringify(addon)});
      const { Worker } = require('node:worker_threads');
      const rx = () => [new Uint8Array(1 << 17), new Int32Array(16), new Int32Array(16), 65600, () => {}, () => {}];
      const mode = process.argv[1];
      if (mode === 'exit') {
        const t = new b.Tap(${JSON.stringify(c0)});
        t.start(...rx());
        setTimeout(() => process.exit(0), 50);
      } else if (mode === 'end') {
        const t = new b.Tap(${JSON.stringify(c1)});
        t.start(...rx());
        setTimeout(() => t.stop(), 50); // loop ends with the fd still open
        globalThis.keep = t;
      } else {
        const src = 'const b = require(' + JSON.stringify(${JSON.stringify(addon)}) + ');' +
          'const t = new b.Tap(' + JSON.stringify(${JSON.stringify(c2)}) + ');' +
          't.start(new Uint8Array(1 << 17), new Int32Array(16), new Int32Array(16), 65600, () => {}, () => {});' +
          'require("node:worker_threads").parentPort.postMessage("polling");';
        const w = new Worker(src, { eval: true });
        w.on('message', () => w.terminate().then(() => console.log('terminated')));
      }`;
    for (const mode of ['exit', 'end', 'worker']) {
      const r = spawnSync(process.execPath, ['-e', body, mode], { encoding: 'utf8', timeout: 15000 });
      expect({ mode, status: r.status, signal: r.signal, stderr: r.stderr }).toEqual({
        mode,
        status: 0,
        signal: null,
        stderr: '',
      });
      if (mode === 'worker') expect(r.stdout).toContain('terminated');
    }
    for (const name of CHILD_TAPS) expect(linkExists(name)).toBe(false);
  });
});
