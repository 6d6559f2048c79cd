/**
 * Test and sample support: builds the frames of TCP, UDP and ICMP
 * conversations with correct sequence numbers and checksums, each stamped
 * with a time, for replay scenarios.
 */
import { buildFrame, type FrameSpec } from '../../src/wire/build.js';
import { TCP_ACK, TCP_FIN, TCP_PSH, TCP_RST, TCP_SYN } from '../../src/wire/packet.js';

export interface TimedFrame {
  t: number; // seconds
  frame: Uint8Array;
  iface?: number;
}

const CLIENT_MAC = '02:00:00:00:01:02';
const SERVER_MAC = '02:00:00:00:02:01';

function ipSpec(src: string, dst: string): Pick<FrameSpec, 'ipv4' | 'ipv6'> {
  return src.includes(':') ? { ipv6: { src, dst } } : { ipv4: { src, dst } };
}

/** A TCP conversation between a client and a server; methods append frames at time `t`. */
export class TcpConv {
  cseq: number;
  sseq: number;
  readonly frames: TimedFrame[] = [];
  constructor(
    readonly client: string,
    readonly cport: number,
    readonly server: string,
    readonly sport: number,
    isn = 1000,
    readonly vlans?: number[],
  ) {
    this.cseq = isn;
    this.sseq = isn * 7 + 12345;
  }

  /** Where the server's packets come from (a real server behind a VIP) and to (the client, or a SNAT address). */
  replyFrom?: { addr: string; port: number; to?: string; toPort?: number };

  private push(
    t: number,
    fromClient: boolean,
    flags: number,
    data = 0,
    opts: Partial<FrameSpec['tcp']> = {},
  ): Uint8Array {
    const rf = this.replyFrom;
    const [src, dst, sp, dp] = fromClient
      ? [this.client, this.server, this.cport, this.sport]
      : [rf?.addr ?? this.server, rf?.to ?? this.client, rf?.port ?? this.sport, rf?.toPort ?? this.cport];
    const seq = fromClient ? this.cseq : this.sseq;
    const ack = fromClient ? this.sseq : this.cseq;
    const frame = buildFrame({
      srcMac: fromClient ? CLIENT_MAC : SERVER_MAC,
      dstMac: fromClient ? SERVER_MAC : CLIENT_MAC,
      vlans: this.vlans,
      ...ipSpec(src, dst),
      tcp: { srcPort: sp, dstPort: dp, seq, ack: flags & TCP_ACK ? ack : 0, flags, window: 64240, ...opts },
      payload: data ? new Uint8Array(data).fill(0x61) : undefined,
    });
    let adv = data;
    if (flags & (TCP_SYN | TCP_FIN)) adv += 1;
    if (fromClient) this.cseq = (this.cseq + adv) >>> 0;
    else this.sseq = (this.sseq + adv) >>> 0;
    this.frames.push({ t, frame });
    return frame;
  }

  syn(t: number): Uint8Array {
    return this.push(t, true, TCP_SYN, 0, { mss: 1460, wscale: 7, sackPermitted: true });
  }
  synAck(t: number): Uint8Array {
    return this.push(t, false, TCP_SYN | TCP_ACK, 0, { mss: 1460, wscale: 7, sackPermitted: true });
  }
  ack(t: number, fromClient = true): Uint8Array {
    return this.push(t, fromClient, TCP_ACK);
  }
  data(t: number, fromClient: boolean, bytes: number): Uint8Array {
    return this.push(t, fromClient, TCP_PSH | TCP_ACK, bytes);
  }
  fin(t: number, fromClient: boolean): Uint8Array {
    return this.push(t, fromClient, TCP_FIN | TCP_ACK);
  }
  rst(t: number, fromClient: boolean, seqOffset = 0): Uint8Array {
    if (fromClient) this.cseq = (this.cseq + seqOffset) >>> 0;
    else this.sseq = (this.sseq + seqOffset) >>> 0;
    const f = this.push(t, fromClient, TCP_RST | TCP_ACK);
    if (fromClient) this.cseq = (this.cseq - seqOffset) >>> 0;
    else this.sseq = (this.sseq - seqOffset) >>> 0;
    return f;
  }
  /** Handshake, one request and response, and a close from the client. */
  fullExchange(t: number, request = 100, response = 1000): this {
    this.syn(t);
    this.synAck(t + 0.01);
    this.ack(t + 0.02);
    this.data(t + 0.03, true, request);
    this.ack(t + 0.04, false);
    this.data(t + 0.05, false, response);
    this.ack(t + 0.06, true);
    this.fin(t + 0.07, true);
    this.fin(t + 0.08, false);
    this.ack(t + 0.09, true);
    return this;
  }
}

export function udpFrame(
  src: string,
  sport: number,
  dst: string,
  dport: number,
  bytes = 32,
  vlans?: number[],
): Uint8Array {
  return buildFrame({
    srcMac: CLIENT_MAC,
    dstMac: SERVER_MAC,
    vlans,
    ...ipSpec(src, dst),
    udp: { srcPort: sport, dstPort: dport },
    payload: new Uint8Array(bytes).fill(0x62),
  });
}

export function echoFrame(src: string, dst: string, id: number, seq: number, reply = false): Uint8Array {
  const v6 = src.includes(':');
  const icmp = { type: v6 ? (reply ? 129 : 128) : reply ? 0 : 8, code: 0, id, seq };
  return buildFrame({
    srcMac: CLIENT_MAC,
    dstMac: SERVER_MAC,
    ...ipSpec(src, dst),
    ...(v6 ? { icmpv6: icmp } : { icmp }),
    payload: new Uint8Array(16).fill(0x63),
  });
}

/** An ICMPv4 error (type/code) from `from` quoting the IP packet inside `quoted` (an Ethernet frame). */
export function icmpErrorFrame(
  from: string,
  to: string,
  type: number,
  code: number,
  quoted: Uint8Array,
): Uint8Array {
  const ip = quoted.subarray(14, Math.min(quoted.length, 14 + 28 + 32));
  return buildFrame({
    srcMac: SERVER_MAC,
    dstMac: CLIENT_MAC,
    ipv4: { src: from, dst: to },
    icmp: { type, code },
    payload: ip,
  });
}

/** Sorts frames by time (stable) — conversations built separately interleave into one capture. */
export function timeline(...parts: TimedFrame[][]): TimedFrame[] {
  return parts.flat().sort((a, b) => a.t - b.t);
}

/** Splits an IPv4 UDP datagram (an Ethernet frame from udpFrame) into IPv4 fragments of `chunk` payload bytes. */
export function fragmentV4(
  frame: Uint8Array,
  src: string,
  dst: string,
  id: number,
  chunk = 64,
): Uint8Array[] {
  const ihl = (frame[14]! & 0x0f) * 4;
  const payload = frame.subarray(14 + ihl);
  const out: Uint8Array[] = [];
  for (let off = 0; off < payload.length; off += chunk) {
    const part = payload.subarray(off, Math.min(payload.length, off + chunk));
    out.push(
      buildFrame({
        srcMac: CLIENT_MAC,
        dstMac: SERVER_MAC,
        ipv4: { src, dst, proto: 17, id, mf: off + chunk < payload.length, fragOffset: off },
        payload: part,
      }),
    );
  }
  return out;
}
