/**
 * Packets the device sends on its own: the answer to a rejected packet (TCP
 * RST, or ICMP unreachable) and, with `reset-on-expiry`, a RST to both ends
 * of a TCP session whose idle timeout ran out, so applications fail fast
 * instead of hanging. Replies to packets are written in place into one
 * preallocated buffer; expiry resets are built from the session's tuples.
 */
import { PROTO_TCP, PROTO_UDP, TCP_ACK, TCP_RST, type Packet } from '../wire/packet.js';
import { writeIcmpError, writeTcpReset } from '../wire/reply.js';
import { buildFrameInto, type FrameSpec } from '../wire/build.js';
import type { Conntrack } from '../session/conntrack.js';
import { TCP_STATE_CLOSE, TCP_STATE_TIME_WAIT } from '../session/tcp-states.js';
import { tcpNextSeq, tcpState } from '../session/tcp-track.js';

export interface Emit {
  (port: number, buf: Uint8Array, off: number, len: number): void;
}

export class Responder {
  /** Frames the device generated. */
  generated = 0;
  /**
   * Router mode: expiry resets are routed (next hop's MAC) instead of sent on
   * the session's port with the session's MACs, which belong to a bridge.
   */
  originate: ((buf: Uint8Array, off: number, len: number) => unknown) | null = null;
  private readonly out = new Uint8Array(2048);
  /** Orig-direction MACs (dst then src) per session, kept only for reset-on-expiry. */
  private readonly macs: Uint8Array | null;
  private readonly a = new Uint32Array(4);
  private readonly b = new Uint32Array(4);

  constructor(
    capacity: number,
    resetOnExpiry: boolean,
    private readonly emit: Emit,
  ) {
    this.macs = resetOnExpiry ? new Uint8Array(capacity * 12) : null;
  }

  /** Answers a rejected packet on the port it came from: RST for TCP, ICMP unreachable otherwise. */
  reject(p: Packet, port: number): void {
    let n: number;
    if (p.l4Proto === PROTO_TCP) n = writeTcpReset(p, this.out, 0);
    else if (p.ipVersion === 4)
      n = writeIcmpError(p, this.out, 0, 3, p.l4Proto === PROTO_UDP ? 3 : 13, 0, null);
    else n = writeIcmpError(p, this.out, 0, 1, p.l4Proto === PROTO_UDP ? 4 : 1, 0, null);
    if (n > 0) this.send(port, n);
  }

  /** Remembers the MACs of a new session's first packet (for resets at expiry). */
  remember(id: number, p: Packet): void {
    if (!this.macs || p.ethOff < 0) return;
    this.macs.set(p.buf.subarray(p.ethOff, p.ethOff + 12), id * 12);
  }

  /** An expiring session (Conntrack.onExpire): resets toward both of its ports. */
  expired(ct: Conntrack, id: number): void {
    this.resetOnExpiry(ct, id, ct.table.port(id << 1), ct.table.port((id << 1) | 1));
  }

  /**
   * Sends a RST to each end of an expiring TCP session that is not already
   * closing, with the sequence number each end expects next. `ports` are the
   * session's egress ports [toward the original destination, toward the originator].
   */
  resetOnExpiry(ct: Conntrack, id: number, towardServer: number, towardClient: number): void {
    if (!this.macs) return;
    if ((ct.table.zoneProto(id) & 0xff) !== PROTO_TCP) return;
    const state = tcpState(ct.tcp, id);
    if (state === TCP_STATE_TIME_WAIT || state === TCP_STATE_CLOSE) return;
    const t = ct.table;
    const m = this.macs.subarray(id * 12, id * 12 + 12);
    const dstMac = m.subarray(0, 6);
    const srcMac = m.subarray(6, 12);
    const zone = t.zoneProto(id) >>> 8;
    const vlans = zone ? [zone] : undefined;
    // To the server: as if from the client, on the reply tuple reversed.
    t.readAddr(id, 1, 1, this.a);
    t.readAddr(id, 1, 0, this.b);
    const rp = t.ports(id, 1);
    this.buildReset(
      towardServer,
      srcMac,
      dstMac,
      vlans,
      this.a,
      this.b,
      rp & 0xffff,
      rp >>> 16,
      tcpNextSeq(ct.tcp, id, 0),
      tcpNextSeq(ct.tcp, id, 1),
    );
    // To the client: as if from the server, on the original tuple reversed.
    t.readAddr(id, 0, 1, this.a);
    t.readAddr(id, 0, 0, this.b);
    const op = t.ports(id, 0);
    this.buildReset(
      towardClient,
      dstMac,
      srcMac,
      vlans,
      this.a,
      this.b,
      op & 0xffff,
      op >>> 16,
      tcpNextSeq(ct.tcp, id, 1),
      tcpNextSeq(ct.tcp, id, 0),
    );
  }

  private buildReset(
    port: number,
    srcMac: Uint8Array,
    dstMac: Uint8Array,
    vlans: number[] | undefined,
    src: Uint32Array,
    dst: Uint32Array,
    sport: number,
    dport: number,
    seq: number,
    ack: number,
  ): void {
    const v4 = src[0] === 0 && src[1] === 0 && src[2] === 0xffff;
    const spec: FrameSpec = {
      srcMac,
      dstMac,
      vlans,
      ...(v4 ? { ipv4: { src, dst } } : { ipv6: { src, dst } }),
      tcp: { srcPort: sport, dstPort: dport, seq, ack, flags: TCP_RST | TCP_ACK, window: 0 },
    };
    const n = buildFrameInto(spec, this.out, 0);
    if (this.originate) {
      this.generated++;
      this.originate(this.out, 0, n);
    } else this.send(port, n);
  }

  private send(port: number, n: number): void {
    this.generated++;
    this.emit(port, this.out, 0, n);
  }
}
