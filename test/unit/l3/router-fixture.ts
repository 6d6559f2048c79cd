/** The single-device lab (DESIGN.md) as a Router, frame builders, and decoding of what it emits. */
import { Router, type RouterOptions } from '../../../src/l3/router.js';
import { buildFrame, type FrameSpec } from '../../../src/wire/build.js';
import { decodeFrame } from '../../../src/wire/decode.js';
import { Packet } from '../../../src/wire/packet.js';

export const CLIENT_PORT = 0;
export const SERVER_PORT = 1;
export const MAC_P0 = '02:00:00:00:01:01';
export const MAC_P1 = '02:00:00:00:02:01';
export const MAC_CLIENT = '02:00:00:00:01:02';
export const MAC_SRV1 = '02:00:00:00:02:0b';
export const MAC_GW = '02:00:00:00:02:fe';

export interface Sent {
  port: number;
  frame: Uint8Array;
}

export interface Lab {
  r: Router;
  sent: Sent[];
}

export function lab(o: RouterOptions = {}, serverMtu = 1500): Lab {
  const sent: Sent[] = [];
  const r = new Router((port, buf, off, len) => sent.push({ port, frame: buf.slice(off, off + len) }), o);
  r.addPort(CLIENT_PORT, MAC_P0);
  r.addPort(SERVER_PORT, MAC_P1, serverMtu);
  r.addAddress(CLIENT_PORT, '10.0.1.1/24');
  r.addAddress(CLIENT_PORT, '2001:db8:1::1/64');
  r.addAddress(SERVER_PORT, '10.0.2.1/24');
  r.addAddress(SERVER_PORT, '2001:db8:2::1/64');
  r.addVip(CLIENT_PORT, '10.0.0.100');
  r.addRoute('0.0.0.0/0', SERVER_PORT, '10.0.2.254');
  return { r, sent };
}

/** Decodes a frame into a new Packet (throws on a decode error). */
export function decode(f: Uint8Array): Packet {
  const p = new Packet();
  const e = decodeFrame(f, 0, f.length, 1, p);
  if (e !== 0) throw new Error(`decode error ${e}`);
  return p;
}

/** Builds and decodes a frame. */
export function pkt(spec: FrameSpec): Packet {
  return decode(buildFrame(spec));
}

export function udp4(
  src: string,
  dst: string,
  ttl = 64,
  payload = 20,
  extra: Partial<FrameSpec> = {},
): Packet {
  return pkt({
    srcMac: MAC_CLIENT,
    dstMac: MAC_P0,
    ipv4: { src, dst, ttl, id: 7 },
    udp: { srcPort: 40000, dstPort: 53 },
    payload: new Uint8Array(payload).fill(0x61),
    ...extra,
  });
}

export function udp6(src: string, dst: string, hopLimit = 64, payload = 20): Packet {
  return pkt({
    srcMac: MAC_CLIENT,
    dstMac: MAC_P0,
    ipv6: { src, dst, hopLimit },
    udp: { srcPort: 40000, dstPort: 53 },
    payload: new Uint8Array(payload).fill(0x62),
  });
}

export function mac(f: Uint8Array, off: number): string {
  return [...f.subarray(off, off + 6)].map((b) => b.toString(16).padStart(2, '0')).join(':');
}
