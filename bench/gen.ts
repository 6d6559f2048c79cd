/**
 * Synthetic TCP traffic for the benchmarks: a classic pcap (Ethernet, microsecond timestamps) of
 * `packets` frames over `flows` concurrent TCP connections, realistic for the default firewall:
 * clients in 10.0.0.0/8 (inside) talk to public servers (outside, 198.18.0.0/15) on port 443.
 *
 * Every connection does SYN, SYN-ACK, ACK (with MSS, window scale 7 and SACK-permitted), then
 * data segments alternating direction (client request 20..300 bytes, server response 100..1000
 * bytes), each acknowledging everything the other side sent, and a FIN/ACK, FIN/ACK, ACK
 * teardown. Sequence and ack numbers are exact and always in window, so a correct tracker
 * forwards every packet.
 *
 * `flows` slots are served round-robin (packet i belongs to slot i % flows), so about `flows`
 * sessions are live at any time. Each slot emits packets / flows packets: its connections are
 * about that long, varied by +-`jitter` and cut to fit, so a slot holds one or two connections,
 * sessions open and close throughout the capture, and every connection completes its teardown
 * (when packets / flows >= 7). Timestamps advance 1 microsecond per packet. Deterministic for a
 * given seed.
 *
 * Load-balanced traffic (optional, see `GenOptions.serverAddr` and `replyFrom`): the client
 * side of every connection goes to one fixed destination (a VIP and its port) and the server's
 * side comes from the real server the caller names for that connection (what a NAT load
 * balancer's replies look like before it rewrites them back to the VIP). The random draws are
 * the same with or without these options, so the same seed gives the same clients, ports,
 * sequence numbers, lengths and payload sizes.
 *
 * Generation time is not measured by the benches; 1,000,000 packets take a few seconds.
 */
import { PcapWriter } from '../src/io/pcap-writer.js';
import { buildFrameInto } from '../src/wire/build.js';
import { internetChecksum, pseudoSum4 } from '../src/wire/checksum.js';
import { PROTO_TCP, TCP_ACK, TCP_FIN, TCP_PSH, TCP_SYN } from '../src/wire/packet.js';

export interface GenOptions {
  packets: number;
  /** Concurrent connections (round-robin slots). */
  flows: number;
  seed: number;
  /** Relative spread of connection lengths around packets / flows (default 0.5; 0 = all equal). */
  jitter?: number;
  /** Destination of every client packet (IPv4 as a number), e.g. a VIP; default a random server in 198.18.0.0/15. */
  serverAddr?: number;
  /** Destination port of every client packet (default 443). */
  serverPort?: number;
  /**
   * Where the server's packets of connection `flowIndex` (0, 1, ... in start order) come from,
   * given the client's address and port; default the client's destination (serverAddr, serverPort).
   * Called once per connection, when it starts.
   */
  replyFrom?: (flowIndex: number, clientAddr: number, clientPort: number) => { addr: number; port: number };
}

export interface GenResult {
  packets: number;
  /** Connections started. */
  connections: number;
  /** Connections that completed their teardown within the capture. */
  completed: number;
  bytes: number;
}

/** Small deterministic PRNG (mulberry32). */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const BASE_SEC = 1_700_000_000;
const CLIENT_NET = 0x0a000000; // 10.0.0.0/8
const SERVER_NET = 0xc6120000; // 198.18.0.0/15
const SERVER_PORT = 443;
const WSCALE = 7;
const WINDOW = 502; // scaled by 2^7: 64256 bytes
const CLIENT_MAC = new Uint8Array([0x02, 0, 0, 0, 0xc1, 0x01]);
const SERVER_MAC = new Uint8Array([0x02, 0, 0, 0, 0x5e, 0x01]);

/** Slot state: one live connection per slot. */
class Conn {
  client = 0;
  server = 0;
  /** Source address and port of the server's packets (the server itself, or a real behind a VIP). */
  rserver = 0;
  rport = 0;
  cport = 0;
  /** Next sequence number of each side (after the handshake: what it sends next). */
  cseq = 0;
  sseq = 0;
  /** Packets this connection will have and packets emitted so far. */
  length = 0;
  step = 0;
  /** Packets this slot still has to emit, this connection's included. */
  budget = 0;
}

const ETH = 14;
const IP = ETH;
const TCP = IP + 20;
const DATA = TCP + 20;

function wr16(b: Uint8Array, o: number, v: number): void {
  b[o] = v >>> 8;
  b[o + 1] = v;
}
function wr32(b: Uint8Array, o: number, v: number): void {
  b[o] = v >>> 24;
  b[o + 1] = v >>> 16;
  b[o + 2] = v >>> 8;
  b[o + 3] = v;
}

/**
 * Writes an Ethernet/IPv4/TCP frame without options (every packet but SYN and SYN-ACK) into
 * `f` and returns its length. Patches the fields of one fixed layout and computes both
 * checksums in full (much faster than going through buildFrame's general path).
 */
function emitPlain(
  f: Uint8Array,
  fromClient: boolean,
  src: number,
  dst: number,
  sport: number,
  dport: number,
  seq: number,
  ack: number,
  flags: number,
  len: number,
  id: number,
): number {
  f.set(fromClient ? SERVER_MAC : CLIENT_MAC, 0);
  f.set(fromClient ? CLIENT_MAC : SERVER_MAC, 6);
  wr16(f, 12, 0x0800);
  f[IP] = 0x45;
  f[IP + 1] = 0;
  wr16(f, IP + 2, 40 + len);
  wr16(f, IP + 4, id);
  wr16(f, IP + 6, 0x4000); // DF
  f[IP + 8] = 64;
  f[IP + 9] = PROTO_TCP;
  wr16(f, IP + 10, 0);
  wr32(f, IP + 12, src);
  wr32(f, IP + 16, dst);
  wr16(f, IP + 10, internetChecksum(f, IP, 20));
  wr16(f, TCP, sport);
  wr16(f, TCP + 2, dport);
  wr32(f, TCP + 4, seq);
  wr32(f, TCP + 8, ack);
  f[TCP + 12] = 5 << 4;
  f[TCP + 13] = flags;
  wr16(f, TCP + 14, WINDOW);
  wr16(f, TCP + 16, 0);
  wr16(f, TCP + 18, 0);
  f.fill(0, DATA, DATA + len);
  wr16(f, TCP + 16, internetChecksum(f, TCP, 20 + len, pseudoSum4(src, dst, PROTO_TCP, 20 + len)));
  return DATA + len;
}

export function generateTcpCapture(path: string, opts: GenOptions): GenResult {
  const { packets, flows, seed } = opts;
  if (!(flows >= 1 && packets >= 1)) throw new RangeError('packets and flows must be >= 1');
  const jitter = opts.jitter ?? 0.5;
  const serverPort = opts.serverPort ?? SERVER_PORT;
  const { serverAddr, replyFrom } = opts;
  const rnd = prng(seed);
  const meanLen = Math.max(7, Math.round(packets / flows));
  const conns: Conn[] = [];
  let started = 0;
  let completed = 0;
  let bytes = 0;

  const start = (c: Conn): void => {
    c.step = 0;
    c.length = 0;
    if (c.budget <= 0) return;
    const n = started++;
    c.client = (CLIENT_NET | ((n + 1) & 0xffffff)) >>> 0; // unique while < 16M connections
    const server = (SERVER_NET | (Math.floor(rnd() * 0x1fffe) + 1)) >>> 0; // drawn either way
    c.server = serverAddr === undefined ? server : serverAddr >>> 0;
    c.cport = 1024 + Math.floor(rnd() * 64000);
    if (replyFrom) {
      const r = replyFrom(n, c.client, c.cport);
      c.rserver = r.addr >>> 0;
      c.rport = r.port;
    } else {
      c.rserver = c.server;
      c.rport = serverPort;
    }
    c.cseq = Math.floor(rnd() * 4294967296);
    c.sseq = Math.floor(rnd() * 4294967296);
    const spread = Math.round(meanLen * jitter);
    let len = Math.max(7, meanLen - spread + Math.floor(rnd() * (2 * spread + 1)));
    // Fit the slot's budget, so that every connection that starts also completes
    // (unless the budget is below 7 packets, when the connection is cut).
    if (len > c.budget || c.budget - len < 7) len = c.budget;
    c.length = len;
  };
  for (let s = 0; s < flows; s++) {
    const c = new Conn();
    c.budget = Math.floor(packets / flows) + (s < packets % flows ? 1 : 0);
    start(c);
    conns.push(c);
  }

  const w = new PcapWriter(path, { linkType: 1, bufferSize: 4 << 20 });
  const frame = new Uint8Array(2048);
  const synSrc = new Uint32Array([0, 0, 0xffff, 0]);
  const synDst = new Uint32Array([0, 0, 0xffff, 0]);

  try {
    for (let i = 0; i < packets; i++) {
      const c = conns[i % flows]!;
      const k = c.step++;
      c.budget--;
      const left = c.length - k; // 3, 2, 1 = teardown
      // Direction: handshake c, s, c; data alternates starting with the client; teardown c, s, c.
      let fromClient: boolean;
      let flags: number;
      let len = 0;
      if (k === 0) {
        fromClient = true;
        flags = TCP_SYN;
      } else if (k === 1) {
        fromClient = false;
        flags = TCP_SYN | TCP_ACK;
      } else if (k === 2) {
        fromClient = true;
        flags = TCP_ACK;
      } else if (left > 3) {
        fromClient = (k & 1) === 1;
        flags = TCP_PSH | TCP_ACK;
        len = fromClient ? 20 + Math.floor(rnd() * 281) : 100 + Math.floor(rnd() * 901);
      } else {
        fromClient = left !== 2;
        flags = left === 1 ? TCP_ACK : TCP_FIN | TCP_ACK;
      }
      const seq = fromClient ? c.cseq : c.sseq;
      const ack = fromClient ? (k === 0 ? 0 : c.sseq) : c.cseq;
      // Sequence space consumed: SYN and FIN count one, data its length.
      const used = len + (flags & TCP_SYN ? 1 : 0) + (flags & TCP_FIN ? 1 : 0);
      if (fromClient) c.cseq = (c.cseq + used) >>> 0;
      else c.sseq = (c.sseq + used) >>> 0;

      const src = fromClient ? c.client : c.rserver;
      const dst = fromClient ? c.server : c.client;
      const sport = fromClient ? c.cport : c.rport;
      const dport = fromClient ? serverPort : c.cport;
      let n: number;
      if (flags & TCP_SYN) {
        synSrc[3] = src;
        synDst[3] = dst;
        n = buildFrameInto(
          {
            srcMac: fromClient ? CLIENT_MAC : SERVER_MAC,
            dstMac: fromClient ? SERVER_MAC : CLIENT_MAC,
            ipv4: { src: synSrc, dst: synDst, ttl: 64, df: true, id: i & 0xffff },
            tcp: {
              srcPort: sport,
              dstPort: dport,
              seq,
              ack,
              flags,
              window: 65535,
              mss: 1460,
              wscale: WSCALE,
              sackPermitted: true,
            },
          },
          frame,
          0,
        );
      } else {
        n = emitPlain(frame, fromClient, src, dst, sport, dport, seq, ack, flags, len, i & 0xffff);
      }
      w.write(frame, 0, n, BASE_SEC + Math.floor(i / 1_000_000), (i % 1_000_000) * 1000);
      bytes += n;

      if (c.step === c.length) {
        completed++;
        start(c);
      }
    }
  } finally {
    w.close();
  }
  // Slots whose next connection was prepared but never sent a packet do not count.
  return {
    packets,
    connections: started - conns.filter((c) => c.step === 0 && c.length > 0).length,
    completed,
    bytes,
  };
}
