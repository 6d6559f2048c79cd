/**
 * Captures as an HA pair's two devices would take them: each conversation's
 * packets split between fw1 and fw2 by who sent them, for the asymmetric-flow
 * replay tests. Written as two pcap files or one pcapng with an interface per
 * device.
 */
import { PcapngWriter } from '../../src/io/pcapng-writer.js';
import { T0 } from './capture.js';
import { TcpConv, echoFrame, udpFrame, type TimedFrame } from './conv.js';

/** The IPv4 source of an untagged Ethernet frame. */
export function ipv4Src(frame: Uint8Array): string {
  return Array.from(frame.subarray(26, 30)).join('.');
}

/** Splits a conversation: frames sent by `client` go to `orig`, the others to `reply`. */
export function splitByDirection(
  frames: TimedFrame[],
  client: string,
  orig: TimedFrame[],
  reply: TimedFrame[],
): void {
  for (const f of frames) (ipv4Src(f.frame) === client ? orig : reply).push(f);
}

export interface PairScenario {
  fw1: TimedFrame[];
  fw2: TimedFrame[];
  /** The asymmetric flows as the summary lists them, in the order they started. */
  asymmetricLines: string[];
  counts: { flows: number; asymmetric: number; symmetric: number; mixed: number; oneWay: number };
}

/**
 * Two asymmetric TCP conversations (SYN and client ACKs at fw1, SYN-ACK and
 * server data at fw2), one whose first packet was seen at fw2 (so its
 * original direction is the server's), a symmetric TCP conversation at fw1,
 * a symmetric DNS exchange at fw2, one one-way UDP datagram at fw1, and a
 * mixed ICMP echo (requests at both, the reply at fw2). The two devices'
 * packets interleave in time.
 */
export function pairScenario(): PairScenario {
  const fw1: TimedFrame[] = [];
  const fw2: TimedFrame[] = [];
  const a = new TcpConv('10.0.1.2', 40000, '10.0.2.11', 8080, 1000).fullExchange(1.0);
  splitByDirection(a.frames, '10.0.1.2', fw1, fw2);
  const b = new TcpConv('10.0.1.3', 40001, '10.0.2.12', 8080, 2000).fullExchange(1.004);
  splitByDirection(b.frames, '10.0.1.3', fw1, fw2);
  // Seen first at fw2 (a server's packet, e.g. the capture at fw1 started late): the server is the originator.
  const late = new TcpConv('10.0.1.4', 40002, '10.0.2.11', 8080, 3000);
  late.syn(0.99); // not captured anywhere
  late.synAck(0.995);
  late.ack(1.002);
  late.data(1.003, false, 200);
  late.ack(1.005, true);
  splitByDirection(late.frames.slice(1), '10.0.1.4', fw1, fw2);
  fw1.push(...new TcpConv('10.0.1.2', 40003, '10.0.2.11', 8080, 4000).fullExchange(1.006).frames);
  fw2.push({ t: 1.2, frame: udpFrame('10.0.1.5', 5353, '10.0.2.53', 53, 40) });
  fw2.push({ t: 1.21, frame: udpFrame('10.0.2.53', 53, '10.0.1.5', 5353, 80) });
  fw1.push({ t: 1.3, frame: udpFrame('10.0.1.2', 7000, '10.0.2.99', 9, 16) });
  fw1.push({ t: 1.4, frame: echoFrame('10.0.1.2', '10.0.2.11', 7, 1) });
  fw2.push({ t: 1.41, frame: echoFrame('10.0.2.11', '10.0.1.2', 7, 1, true) });
  fw2.push({ t: 1.42, frame: echoFrame('10.0.1.2', '10.0.2.11', 7, 2) });
  fw2.push({ t: 1.43, frame: echoFrame('10.0.2.11', '10.0.1.2', 7, 2, true) });
  const byTime = (x: TimedFrame[]) => x.sort((p, q) => p.t - q.t);
  return {
    fw1: byTime(fw1),
    fw2: byTime(fw2),
    asymmetricLines: [
      'tcp 10.0.2.11:8080 -> 10.0.1.4:40002  orig@fw2 reply@fw1',
      'tcp 10.0.1.2:40000 -> 10.0.2.11:8080  orig@fw1 reply@fw2',
      'tcp 10.0.1.3:40001 -> 10.0.2.12:8080  orig@fw1 reply@fw2',
    ],
    counts: { flows: 7, asymmetric: 3, symmetric: 2, mixed: 1, oneWay: 1 },
  };
}

/** One pcapng with an interface per device (named), the frames merged by time. */
export function writePairPcapng(path: string, devices: { name: string; frames: TimedFrame[] }[]): void {
  const w = new PcapngWriter(path, { interfaces: devices.map((d) => ({ linkType: 1, name: d.name })) });
  const all = devices.flatMap((d, i) => d.frames.map((f) => ({ ...f, iface: i }))).sort((p, q) => p.t - q.t);
  for (const f of all) {
    const ns = Math.round(f.t * 1e9);
    w.write(f.frame, 0, f.frame.length, T0 + Math.floor(ns / 1e9), ns % 1e9, f.iface);
  }
  w.close();
}
