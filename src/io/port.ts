/**
 * What the pipeline sees of a port, whatever is behind it (TAP, libpcap,
 * capture file). Frames arrive in batches that the port owns and reuses:
 * the receiver must finish with a batch before returning from the callback.
 */
export interface FrameBatch {
  /** Number of frames in this batch. */
  count: number;
  /** One buffer holding every frame of the batch. */
  buf: Uint8Array;
  /** Start offset and length of frame i in `buf`. */
  off: Int32Array;
  len: Int32Array;
  /**
   * Ports with offloads (TAP with IFF_VNET_HDR): frame i's virtio_net_hdr,
   * packed as in src/wire/offload.ts (flags | gsoType << 8 | gsoSize << 16,
   * and csumStart | csumOffset << 16). Absent otherwise.
   */
  vnet?: Uint32Array;
  csum?: Uint32Array;
}

export interface Port {
  readonly name: string;
  /** Largest L3 packet the port carries (1500 by default). */
  readonly mtu: number;
  /** Starts delivering received frames; one call per batch. */
  start(onBatch: (batch: FrameBatch) => void): void;
  /** Queues one frame for sending (copied before return). */
  send(buf: Uint8Array, off: number, len: number): void;
  /** Sends everything queued (one native crossing for the batch). */
  flush(): void;
  close(): void;
}
