/**
 * Wire decode throughput: decodeFrame over ~1M in-memory frames (IPv4 TCP
 * with options, IPv4 UDP, IPv6 TCP, 802.1Q IPv4 TCP), against a same-run
 * baseline that only reads the EtherType and the IP addresses with a DataView.
 * A second line runs decodeFrameGeneral (the decoder without the fast path of
 * src/wire/fast.ts) over the same frames, for the fast path's share.
 */
import { buildFrame, type FrameSpec } from '../src/wire/build.js';
import { decodeFrame, decodeFrameGeneral } from '../src/wire/decode.js';
import { Packet } from '../src/wire/packet.js';
import { fmt, medianOf, mpps } from './util.js';

const N = 1_000_000;

function templates(): Uint8Array[] {
  const tcpOpts = { mss: 1460, wscale: 7, sackPermitted: true, timestamps: [1, 2] as const };
  const v4 = { src: '10.0.1.2', dst: '10.0.2.11', df: true };
  const v6 = { src: '2001:db8::1', dst: '2001:db8::2' };
  const specs: [FrameSpec, number][] = [
    [
      {
        ipv4: v4,
        tcp: { srcPort: 1, dstPort: 80, flags: 0x10, timestamps: [5, 6] },
        payload: new Uint8Array(0),
      },
      20,
    ],
    [{ ipv4: v4, tcp: { srcPort: 1, dstPort: 80, flags: 0x02, ...tcpOpts } }, 5],
    [
      {
        ipv4: v4,
        tcp: { srcPort: 1, dstPort: 80, flags: 0x18, timestamps: [5, 6] },
        payload: new Uint8Array(100),
      },
      15,
    ],
    [{ ipv4: v4, udp: { srcPort: 1, dstPort: 53 }, payload: new Uint8Array(40) }, 25],
    [
      {
        ipv6: v6,
        tcp: { srcPort: 1, dstPort: 443, flags: 0x10, timestamps: [5, 6] },
        payload: new Uint8Array(20),
      },
      20,
    ],
    [
      { vlans: [42], ipv4: v4, tcp: { srcPort: 1, dstPort: 8080, flags: 0x10 }, payload: new Uint8Array(30) },
      15,
    ],
  ];
  const out: Uint8Array[] = [];
  for (const [s, w] of specs) for (let i = 0; i < w; i++) out.push(buildFrame(s));
  return out;
}

function corpus(): { buf: Uint8Array; offs: Int32Array; lens: Int32Array } {
  const t = templates();
  let seed = 12345;
  const rnd = (): number => (seed = (seed * 1103515245 + 12345) & 0x7fffffff);
  const pick = new Int32Array(N);
  let total = 0;
  for (let i = 0; i < N; i++) {
    pick[i] = rnd() % t.length;
    total += t[pick[i]!]!.length;
  }
  const buf = new Uint8Array(total);
  const offs = new Int32Array(N);
  const lens = new Int32Array(N);
  let o = 0;
  for (let i = 0; i < N; i++) {
    const f = t[pick[i]!]!;
    buf.set(f, o);
    const l3 = f[12] === 0x81 ? 18 : 14;
    const l4 = f[l3]! >> 4 === 6 ? l3 + 40 : l3 + 20;
    buf[o + l4] = rnd() & 0xff; // vary the source port and address
    buf[o + l3 + 15] = rnd() & 0xff;
    offs[i] = o;
    lens[i] = f.length;
    o += f.length;
  }
  return { buf, offs, lens };
}

export async function run(): Promise<void> {
  const { buf, offs, lens } = corpus();
  const p = new Packet();
  let sink = 0;

  const decodeRound = (): number => {
    const t0 = process.hrtime.bigint();
    let acc = 0;
    for (let i = 0; i < N; i++) {
      decodeFrame(buf, offs[i]!, lens[i]!, 1, p);
      acc += p.srcPort + p.src[3]!;
    }
    sink ^= acc;
    return mpps(N, process.hrtime.bigint() - t0);
  };

  const q = new Packet();
  const generalRound = (): number => {
    const t0 = process.hrtime.bigint();
    let acc = 0;
    for (let i = 0; i < N; i++) {
      decodeFrameGeneral(buf, offs[i]!, lens[i]!, 1, q);
      acc += q.srcPort + q.src[3]!;
    }
    sink ^= acc;
    return mpps(N, process.hrtime.bigint() - t0);
  };

  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const baselineRound = (): number => {
    const t0 = process.hrtime.bigint();
    let acc = 0;
    for (let i = 0; i < N; i++) {
      let o = offs[i]!;
      let et = dv.getUint16(o + 12);
      o += 14;
      if (et === 0x8100) {
        et = dv.getUint16(o + 2);
        o += 4;
      }
      if (et === 0x0800) acc += dv.getUint32(o + 12) + dv.getUint32(o + 16);
      else if (et === 0x86dd) {
        for (let k = 8; k < 40; k += 4) acc += dv.getUint32(o + k);
      }
    }
    sink ^= acc;
    return mpps(N, process.hrtime.bigint() - t0);
  };

  const base = await medianOf(5, baselineRound);
  const dec = await medianOf(5, decodeRound);
  const gen = await medianOf(5, generalRound);
  console.log(`frames: ${N} (${fmt(buf.length / N, 1)} B avg; IPv4 TCP+opts, UDP, IPv6 TCP, 802.1Q)`);
  console.log(`decodeFrame (full L2-L4, TCP options):  ${fmt(dec)} Mpps`);
  console.log(`decodeFrameGeneral (no fast path):      ${fmt(gen)} Mpps`);
  console.log(`baseline (DataView: EtherType + IPs):   ${fmt(base)} Mpps`);
  console.log(`ratio decode/baseline: ${fmt(dec / base)}   (sink ${sink & 1})`);
}
