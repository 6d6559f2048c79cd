/**
 * Offloaded frames through the Device (src/device/offload-stage.ts): a GSO
 * TCP frame with a partial checksum, as a TAP with offloads hands it over,
 * through a VIP both ways. Sent whole to a port that takes offloads, its
 * partial checksum is finished here the way the receiving kernel would and
 * must equal one computed from scratch; to a port that does not, it must
 * leave as MTU-sized segments with correct checksums.
 */
import { describe, expect, it } from 'vitest';
import { Device } from '../../../src/device/device.js';
import { VERDICT_NAMES } from '../../../src/device/verdict.js';
import { reasonName } from '../../../src/session/reasons.js';
import { formatIp } from '../../../src/wire/addr.js';
import { rd16 } from '../../../src/wire/bytes.js';
import { fold, ipv4HeaderChecksumOk, l4ChecksumOk, pseudoSum } from '../../../src/wire/checksum.js';
import { decodeFrame } from '../../../src/wire/decode.js';
import {
  GSO_TCPV4,
  GSO_TCPV6,
  VNET_F_NEEDS_CSUM,
  finishChecksum,
  vnetGsoSize,
} from '../../../src/wire/offload.js';
import { Packet, PROTO_TCP, PROTO_UDP } from '../../../src/wire/packet.js';
import { TcpConv, udpFrame } from '../../support/conv.js';
import { config } from '../../support/run.js';

const CFG = config(`
zones:
  inside: { networks: [10.0.1.0/24, 'fd00:1::/64'] }
  dmz: { networks: [10.0.2.0/24, 'fd00:2::/64'] }
  outside: { default: true }
virtual-servers:
  - { name: web, vip: 10.0.0.100, proto: tcp, port: 80, reals: [ { address: 10.0.2.11, port: 8080 } ] }
  - { name: web6, vip: 'fd00::100', proto: tcp, port: 80, reals: [ { address: 'fd00:2::11', port: 8080 } ] }
policy: { rules: [ { from: inside, action: accept } ] }
`);

interface Sent {
  frame: Uint8Array;
  vnet: number;
  csum: number;
  hdrLen: number;
}

function device(offloads: boolean): { dev: Device; sent: Sent[] } {
  const sent: Sent[] = [];
  const dev = new Device(CFG, {
    send: (_port, buf, off, len) =>
      sent.push({ frame: buf.slice(off, off + len), vnet: 0, csum: 0, hdrLen: 0 }),
    ...(offloads
      ? {
          offloads: () => true,
          sendOffloaded: (
            _port: number,
            buf: Uint8Array,
            off: number,
            len: number,
            vnet: number,
            csum: number,
            hdrLen: number,
          ) => sent.push({ frame: buf.slice(off, off + len), vnet, csum, hdrLen }),
        }
      : {}),
  });
  return { dev, sent };
}

function decoded(frame: Uint8Array): Packet {
  const p = new Packet();
  expect(decodeFrame(frame, 0, frame.length, 1, p)).toBe(0);
  return p;
}

/** What Linux leaves in the checksum field of a CHECKSUM_PARTIAL frame: the folded pseudo-header sum. */
function partialize(frame: Uint8Array): Packet {
  const p = decoded(frame);
  const at = p.l4Off + (p.l4Proto === PROTO_TCP ? 16 : 6);
  const v = fold(pseudoSum(p, p.l4Proto, p.ipEnd - p.l4Off));
  frame[at] = v >>> 8;
  frame[at + 1] = v & 0xff;
  return p;
}

function feed(dev: Device, frame: Uint8Array, t: number, vnet = 0, csum = 0): string {
  if (vnet !== 0) dev.offloaded(vnet, csum);
  const v = dev.process(frame, 0, frame.length, 1, -1, t * 1000);
  return v === 1 ? `dropped ${reasonName(dev.reason)}` : VERDICT_NAMES[v]!;
}

const MSS = 1448;

/** A connection to the VIP, set up with plain frames; returns it and the device's output so far cleared. */
function connected(dev: Device, sent: Sent[], v6: boolean): TcpConv {
  const c = v6
    ? new TcpConv('fd00:1::2', 40001, 'fd00::100', 80)
    : new TcpConv('10.0.1.2', 40001, '10.0.0.100', 80);
  c.replyFrom = { addr: v6 ? 'fd00:2::11' : '10.0.2.11', port: 8080 };
  for (const f of [c.syn(0), c.synAck(0.01), c.ack(0.02)]) expect(feed(dev, f, 0)).toBe('forwarded');
  sent.length = 0;
  return c;
}

function gso(p: Packet, v6: boolean): [number, number] {
  const vnet = VNET_F_NEEDS_CSUM | ((v6 ? GSO_TCPV6 : GSO_TCPV4) << 8) | (MSS << 16);
  return [vnet, p.l4Off | (16 << 16)];
}

for (const v6 of [false, true]) {
  const ip = v6 ? 'IPv6' : 'IPv4';
  const vip = v6 ? 'fd00::100:80' : '10.0.0.100:80';
  const real = v6 ? 'fd00:2::11:8080' : '10.0.2.11:8080';
  const ends = (p: Packet): string => `${formatIp(p.src)}:${p.srcPort} > ${formatIp(p.dst)}:${p.dstPort}`;

  describe(`a GSO frame through a VIP (${ip})`, () => {
    it('goes whole to a port with offloads, NATed both ways, its partial checksum right', () => {
      const { dev, sent } = device(true);
      const c = connected(dev, sent, v6);
      const up = c.data(1, true, 20_000);
      expect(feed(dev, up, 1, ...gso(partialize(up), v6))).toBe('forwarded');
      const down = c.data(1.1, false, 30_000);
      expect(feed(dev, down, 1.1, ...gso(partialize(down), v6))).toBe('forwarded');
      expect(sent.length).toBe(2);
      const client = v6 ? 'fd00:1::2:40001' : '10.0.1.2:40001';
      for (const [s, want] of [
        [sent[0]!, `${client} > ${real}`],
        [sent[1]!, `${vip} > ${client}`],
      ] as const) {
        const p = decoded(s.frame);
        expect(ends(p)).toBe(want);
        expect(vnetGsoSize(s.vnet)).toBe(MSS);
        expect(s.csum).toBe(p.l4Off | (16 << 16));
        expect(s.hdrLen).toBe(p.l4Off + p.tcpHeaderLen);
        if (!v6) expect(ipv4HeaderChecksumOk(p)).toBe(true);
        // What the receiving kernel (or a NIC) does: sum from csum_start, store at csum_offset.
        expect(l4ChecksumOk(p)).toBe(false);
        finishChecksum(s.frame, p.l4Off, p.ipEnd, p.l4Off + 16, false);
        expect(l4ChecksumOk(decoded(s.frame))).toBe(true);
      }
      expect(dev.offload.counters).toMatchObject({ gsoIn: 2, gsoOut: 2, gsoSegmented: 0 });
    });

    it('is cut into MSS segments with full checksums for a port without offloads', () => {
      const { dev, sent } = device(false);
      const c = connected(dev, sent, v6);
      const up = c.data(1, true, 20_000);
      expect(feed(dev, up, 1, ...gso(partialize(up), v6))).toBe('forwarded');
      expect(sent.length).toBe(Math.ceil(20_000 / MSS));
      let bytes = 0;
      for (const s of sent) {
        const p = decoded(s.frame);
        expect(s.vnet).toBe(0);
        expect(ends(p)).toMatch(new RegExp(` > ${real.replace(/[.]/g, '\\.')}$`));
        expect(l4ChecksumOk(p)).toBe(true);
        if (!v6) expect(ipv4HeaderChecksumOk(p)).toBe(true);
        expect(p.payloadLen).toBeLessThanOrEqual(MSS);
        bytes += p.payloadLen;
      }
      expect(bytes).toBe(20_000);
      expect(dev.offload.counters).toMatchObject({ gsoIn: 1, gsoSegmented: 1, segments: sent.length });
      // The session counted the whole frame once.
      expect(dev.stats.verdicts[0]).toBe(4);
    });
  });
}

describe('offload metadata on ordinary frames', () => {
  it('a partial checksum without GSO is finished on the way in', () => {
    const { dev, sent } = device(true);
    const c = connected(dev, sent, false);
    const f = c.data(1, true, 500);
    const real = rd16(f, 34 + 16);
    const p = partialize(f);
    expect(rd16(f, p.l4Off + 16)).not.toBe(real);
    expect(feed(dev, f, 1, VNET_F_NEEDS_CSUM, p.l4Off | (16 << 16))).toBe('forwarded');
    expect(sent.length).toBe(1);
    expect(sent[0]!.vnet).toBe(0);
    expect(l4ChecksumOk(decoded(sent[0]!.frame))).toBe(true);
    expect(dev.offload.counters.checksumsFinished).toBe(1);
  });

  it('GSO metadata on a frame that is not TCP is dropped bad-offload', () => {
    const { dev } = device(true);
    const f = udpFrame('10.0.1.2', 5000, '10.0.2.11', 53, 2000);
    const p = partialize(f);
    expect(p.l4Proto).toBe(PROTO_UDP);
    const vnet = VNET_F_NEEDS_CSUM | (GSO_TCPV4 << 8) | (MSS << 16);
    expect(feed(dev, f, 0, vnet, p.l4Off | (6 << 16))).toBe('dropped bad-offload');
    // The metadata was for that frame only: the next one is plain.
    expect(feed(dev, udpFrame('10.0.1.2', 5000, '10.0.2.11', 53, 20), 0.1)).toBe('forwarded');
  });
});
