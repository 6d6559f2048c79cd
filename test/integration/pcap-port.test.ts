/**
 * PcapPort against the real kernel, on a veth whose other end is in a network
 * namespace made for this run. Needs root and `ip netns`; skipped otherwise.
 * The full device on pcap ports (client, server and device namespaces) is in
 * pcap-device.test.ts.
 *
 * Ports are closed before the links go away: cap aborts the process when an
 * open interface disappears (native-notes/libpcap.md).
 */
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FrameBatch } from '../../src/io/port.js';
import { PcapError, PcapPort, pcapAvailable } from '../../src/io/pcap-port.js';
import { REPO } from '../support/captures.js';

const isRoot = process.getuid?.() === 0;
const hasNetns = spawnSync('ip', ['netns', 'list'], { stdio: 'ignore' }).status === 0;
const enabled = isRoot && hasNetns && pcapAvailable();
const PY = 'python3';
const TOOLS = join(REPO, 'test/integration/pcap-lab.py');

const pre = `sq${process.pid.toString(36)}`;
const PEER_NS = `${pre}pe`;
const A0 = `${pre}a0`; // ours, in the test's namespace
const A1 = `${pre}a1`; // the peer's, 10.78.0.2/24
const DOWN = `${pre}dn`;
const PEER_IP = [10, 78, 0, 2];
const OUR_IP = [10, 78, 0, 1];

const open = new Set<PcapPort>();

function run(cmd: string, args: string[], allowFail = false): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 20000 });
  if (r.status !== 0 && !allowFail)
    throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}): ${r.stderr}`);
  return r.stdout;
}
const inPeer = (args: string[]): string => run('ip', ['netns', 'exec', PEER_NS, ...args]);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function openPort(name: string, filter?: string): PcapPort {
  const p = PcapPort.open({ name, filter });
  open.add(p);
  return p;
}

function closeAll(): void {
  for (const p of open) p.close();
  open.clear();
}

/** Every frame a port delivers, copied out, with the number of batches. */
function collect(port: PcapPort): { frames: Uint8Array[]; batches: number } {
  const got = { frames: [] as Uint8Array[], batches: 0 };
  port.start((b: FrameBatch) => {
    got.batches++;
    for (let i = 0; i < b.count; i++) got.frames.push(b.buf.slice(b.off[i]!, b.off[i]! + b.len[i]!));
  });
  return got;
}

const etherType = (f: Uint8Array): number => (f[12]! << 8) | f[13]!;

function frame(len: number, type: number, src: Uint8Array, tag = false): Uint8Array {
  const f = new Uint8Array(len);
  f.set([0x02, 0, 0, 0, 0, 0x09]);
  f.set(src, 6);
  if (tag) f.set([0x81, 0x00, 0x00, 0x05], 12);
  const t = tag ? 16 : 12;
  f[t] = type >> 8;
  f[t + 1] = type & 255;
  return f;
}

function arpRequest(srcMac: Uint8Array): Uint8Array {
  const f = new Uint8Array(42);
  f.fill(0xff, 0, 6);
  f.set(srcMac, 6);
  f.set([0x08, 0x06, 0, 1, 0x08, 0x00, 6, 4, 0, 1], 12);
  f.set(srcMac, 22);
  f.set(OUR_IP, 28);
  f.set(PEER_IP, 38);
  return f;
}

const peerRx = (): number => Number(inPeer(['cat', `/sys/class/net/${A1}/statistics/rx_packets`]));

function cleanup(): void {
  closeAll();
  run('ip', ['link', 'del', A0], true);
  run('ip', ['link', 'del', DOWN], true);
  run('ip', ['netns', 'del', PEER_NS], true);
}

describe.skipIf(!enabled)('PcapPort on a veth (root, ip netns, libpcap)', () => {
  beforeAll(() => {
    cleanup();
    run('ip', ['netns', 'add', PEER_NS]);
    inPeer(['sysctl', '-qw', 'net.ipv6.conf.all.disable_ipv6=1', 'net.ipv6.conf.default.disable_ipv6=1']);
    run('ip', ['link', 'add', A0, 'type', 'veth', 'peer', 'name', A1, 'netns', PEER_NS]);
    // Our end stays silent: no IPv6 (no router solicitations, no DAD) and no IPv4 address.
    writeFileSync(`/proc/sys/net/ipv6/conf/${A0}/disable_ipv6`, '1');
    run(PY, [TOOLS, 'offloads-off', A0]);
    inPeer([PY, TOOLS, 'offloads-off', A1]);
    run('ip', ['link', 'set', A0, 'up']);
    inPeer(['ip', 'addr', 'add', '10.78.0.2/24', 'dev', A1]);
    inPeer(['ip', 'link', 'set', A1, 'up']);
    run('ip', ['link', 'add', DOWN, 'type', 'veth', 'peer', 'name', `${pre}dm`]); // left down
  }, 30000);

  afterAll(cleanup);

  it('refuses a missing, a down and a non-Ethernet interface with errors that name it', () => {
    const refused = (name: string): PcapError => {
      try {
        PcapPort.open({ name });
      } catch (e) {
        expect(e).toBeInstanceOf(PcapError);
        return e as PcapError;
      }
      throw new Error(`${name} was opened`);
    };
    const missing = refused(`${pre}zz`);
    expect([missing.code, missing.iface]).toEqual(['ENODEV', `${pre}zz`]);
    expect(missing.message).toBe(`pcap ${pre}zz: no such interface in this network namespace (ENODEV)`);
    const down = refused(DOWN);
    expect(down.code).toBe('ENETDOWN');
    expect(down.message).toContain(`ip link set ${DOWN} up`);
    const lo = refused('lo');
    expect([lo.code, lo.message]).toEqual(['EINVAL', 'pcap lo: not an Ethernet interface (ARPHRD type 772)']);
  });

  it('reads the MAC and MTU from the interface', () => {
    const p = openPort(A0);
    const mac = run('cat', [`/sys/class/net/${A0}/address`]).trim();
    expect(Buffer.from(p.mac).toString('hex').match(/../g)!.join(':')).toBe(mac);
    expect(p.mtu).toBe(1500);
    p.close();
    p.close();
    expect(p.closed).toBe(true);
  });

  it('delivers what the peer sends, in batches, and never what is sent out of the interface', async () => {
    const a = openPort(A0); // inbound only (the default)
    const b = openPort(A0, ''); // both directions: shows the outgoing frames really exist
    const ga = collect(a);
    const gb = collect(b);
    for (let i = 0; i < 20; i++) a.send(frame(60, 0x88b5, a.mac), 0, 60); // injected by a itself
    for (let i = 0; i < 30; i++) b.send(frame(60, 0x88b6, a.mac), 0, 60); // by another socket
    expect([a.txFrames, b.txFrames]).toEqual([20, 30]);
    // The peer sends 200 frames while this process waits in spawnSync: they queue in the rings.
    expect(inPeer([PY, TOOLS, 'frames', A1, '200', '0x88b7']).trim()).toBe('200');
    await sleep(300);
    const count = (g: { frames: Uint8Array[] }, t: number) =>
      g.frames.filter((f) => etherType(f) === t).length;
    // b sees a's injected frames (outgoing) and every peer frame, but not its own frames.
    expect([count(gb, 0x88b5), count(gb, 0x88b6), count(gb, 0x88b7)]).toEqual([20, 0, 200]);
    // a sees no outgoing frame, neither its own nor b's: the `inbound` filter.
    expect([count(ga, 0x88b5), count(ga, 0x88b6)]).toEqual([0, 0]);
    // libpcap 1.10 runs the first frame after pcap_setfilter through its userland filter, where
    // `inbound` matches nothing: the first inbound frame after open may be lost, no other.
    const seen = new Set(ga.frames.filter((f) => etherType(f) === 0x88b7).map((f) => f[14]!));
    const missing = Array.from({ length: 200 }, (_, i) => i).filter((i) => !seen.has(i));
    expect(missing.filter((i) => i !== 0)).toEqual([]);
    expect(ga.frames.every((f) => f.length === 60)).toBe(true);
    // The burst arrived while the loop was blocked: a handful of batches, not one call per frame.
    expect(a.rxFrames).toBe(ga.frames.length);
    expect(ga.batches).toBe(a.rxBatches);
    expect(ga.batches).toBeLessThanOrEqual(5);
    closeAll();
  });

  it('hands a reply to the pipeline within milliseconds (immediate mode, not the 1 s timeout)', async () => {
    const p = openPort(A0);
    let replies = 0;
    p.start((b) => {
      for (let i = 0; i < b.count; i++) {
        const o = b.off[i]!;
        if (b.buf[o + 12] === 0x08 && b.buf[o + 13] === 0x06 && b.buf[o + 21] === 2) replies++;
      }
    });
    const req = arpRequest(p.mac);
    const waitReply = async (n: number, ms: number): Promise<boolean> => {
      const until = performance.now() + ms;
      while (replies < n && performance.now() < until) await new Promise((r) => setImmediate(r));
      return replies >= n;
    };
    // The first reply may be the frame libpcap loses (see above): send until one arrives.
    for (let i = 0; i < 3 && replies === 0; i++) {
      p.send(req, 0, req.length);
      await waitReply(1, 1500);
    }
    expect(replies).toBeGreaterThanOrEqual(1);
    const rtts: number[] = [];
    for (let i = 0; i < 10; i++) {
      const want = replies + 1;
      const t0 = performance.now();
      p.send(req, 0, req.length);
      expect(await waitReply(want, 2000)).toBe(true);
      rtts.push(performance.now() - t0);
    }
    rtts.sort((x, y) => x - y);
    expect(rtts[5]!).toBeLessThan(50);
    expect(rtts[9]!).toBeLessThan(500);
    closeAll();
  });

  it('counts and drops a frame longer than MTU + 14 (+ 4 with a VLAN tag), sends up to that', async () => {
    const p = openPort(A0);
    const before = peerRx();
    p.send(frame(1514, 0x88b5, p.mac), 0, 1514);
    p.send(frame(1518, 0x88b5, p.mac, true), 0, 1518);
    p.send(frame(1515, 0x88b5, p.mac), 0, 1515);
    p.send(frame(1519, 0x88b5, p.mac, true), 0, 1519);
    p.send(new Uint8Array(13), 0, 13);
    // A frame inside a larger buffer, at an offset (copied before sending).
    const big = new Uint8Array(3000);
    big.set(frame(100, 0x88b5, p.mac), 1000);
    p.send(big, 1000, 100);
    expect([p.txFrames, p.txOversize, p.txErrors, p.txDropped]).toEqual([3, 3, 0, 3]);
    await sleep(100);
    expect(peerRx() - before).toBe(3);
    p.close();
    p.send(frame(60, 0x88b5, p.mac), 0, 60);
    expect(p.txDropped).toBe(4);
  });
});
