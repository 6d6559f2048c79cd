/**
 * Offloaded frames in the pipeline (live TAP ports with IFF_VNET_HDR; see
 * src/wire/offload.ts for the formats).
 *
 * On the way in (`intake`), right after decoding: a partial checksum on an
 * ordinary frame is finished here (cheap: such frames are small), so the
 * rest of the pipeline sees finished frames. A GSO TCP frame (up to 64 KiB
 * standing for many segments) goes through as one packet with its checksum
 * still partial: `p.vnet` says so, NAT keeps the partial form right
 * (partialEnter/Leave), the router checks the segment size against the MTU.
 * Metadata the frame does not match is refused (`bad-offload`).
 *
 * On the way out (`send`): to a port that takes offloads the GSO frame goes
 * whole and the kernel cuts it there; to any other port it is cut here into
 * MTU-sized segments with full checksums.
 */
import { R_BAD_OFFLOAD } from '../session/reasons.js';
import {
  GSO_NONE,
  VNET_F_NEEDS_CSUM,
  finishChecksum,
  finishPartial,
  offloadUsable,
  segmentTcp,
  vnetFlags,
  vnetGsoSize,
  vnetGsoType,
} from '../wire/offload.js';
import { PROTO_UDP, type Packet } from '../wire/packet.js';

/** Where the device's output frames go. */
export interface FrameSink {
  send(port: number, buf: Uint8Array, off: number, len: number): void;
  /** Whether `port` takes offloaded frames (a TAP with IFF_VNET_HDR). */
  offloads?(port: number): boolean;
  /**
   * Sends a frame with its offload metadata: `vnet` packed as in
   * src/wire/offload.ts, `csum` = csumStart | csumOffset << 16 and `hdrLen`
   * (bytes up to the payload) relative to the frame's start.
   */
  sendOffloaded?(
    port: number,
    buf: Uint8Array,
    off: number,
    len: number,
    vnet: number,
    csum: number,
    hdrLen: number,
  ): void;
}

export interface OffloadCounters {
  /** GSO frames received (each stands for several segments). */
  gsoIn: number;
  /** GSO frames sent whole to a port that takes offloads. */
  gsoOut: number;
  /** GSO frames cut into segments here, and the segments that made. */
  gsoSegmented: number;
  segments: number;
  /** Partial checksums finished here on the way in. */
  checksumsFinished: number;
}

export class OffloadStage {
  readonly counters: OffloadCounters = {
    gsoIn: 0,
    gsoOut: 0,
    gsoSegmented: 0,
    segments: 0,
    checksumsFinished: 0,
  };
  private seg: Uint8Array | null = null;
  private segPort = -1;
  private readonly emitSegment: (buf: Uint8Array, off: number, len: number) => void;

  constructor(
    private readonly sink: FrameSink,
    private readonly emit: (port: number, buf: Uint8Array, off: number, len: number) => void,
  ) {
    this.emitSegment = (buf, off, len) => this.emit(this.segPort, buf, off, len);
  }

  /**
   * A decoded frame (starting at `off`) that came with offload metadata.
   * Returns 0 (p.vnet set for a GSO frame kept whole) or a drop reason.
   */
  intake(p: Packet, off: number, vnet: number, csum: number): number {
    const partial = (vnetFlags(vnet) & VNET_F_NEEDS_CSUM) !== 0;
    if (!offloadUsable(p, off, vnet, csum)) {
      if (vnetGsoType(vnet) !== GSO_NONE) return R_BAD_OFFLOAD;
      if (!partial) return 0;
      // A partial checksum somewhere else than a TCP/UDP header of this packet: finish it where it says.
      const end = p.ipVersion !== 0 ? p.ipEnd : p.end;
      const start = off + (csum & 0xffff);
      const at = start + (csum >>> 16);
      if (at + 2 > end) return R_BAD_OFFLOAD;
      finishChecksum(p.buf, start, end, at, p.l4Proto === PROTO_UDP && at === p.l4Off + 6);
      this.counters.checksumsFinished++;
      return 0;
    }
    if (vnetGsoType(vnet) === GSO_NONE) {
      if (partial) {
        finishPartial(p);
        this.counters.checksumsFinished++;
      }
      return 0;
    }
    p.vnet = vnet;
    this.counters.gsoIn++;
    return 0;
  }

  /** Sends the GSO frame of `p` (at buf[off, off + len)) on `port`: whole, or cut here. */
  send(p: Packet, port: number, buf: Uint8Array, off: number, len: number, txByPort: Float64Array): void {
    const sink = this.sink;
    if (sink.sendOffloaded !== undefined && sink.offloads !== undefined && sink.offloads(port)) {
      this.counters.gsoOut++;
      txByPort[port]!++;
      const start = p.l4Off - off;
      sink.sendOffloaded(port, buf, off, len, p.vnet, start | (16 << 16), start + p.tcpHeaderLen);
      return;
    }
    this.counters.gsoSegmented++;
    this.segPort = port;
    this.seg ??= new Uint8Array(65536 + 256);
    this.counters.segments += segmentTcp(p, off, vnetGsoSize(p.vnet), this.seg, this.emitSegment);
  }
}
