/** Every packet ends with exactly one verdict. */
export const V_FORWARDED = 0;
export const V_DROPPED = 1;
export const V_CONSUMED = 2;
export const V_REDIRECTED = 3;
/** Held: a fragment waiting for the rest of its datagram (its fate is the datagram's). */
export const V_HELD = 4;
export const VERDICT_NAMES = ['forwarded', 'dropped', 'consumed', 'redirected', 'held'] as const;
export type VerdictName = (typeof VERDICT_NAMES)[number];

/** Counters the device keeps; figures for summaries, stats and metrics. */
export class DeviceStats {
  packetsIn = 0;
  bytesIn = 0;
  readonly verdicts = new Float64Array(VERDICT_NAMES.length);
  /** Drops per reason code (src/session/reasons.ts). */
  dropsByReason: Float64Array;
  /** Frames sent per port. */
  txByPort: Float64Array;

  constructor(reasons: number, ports: number) {
    this.dropsByReason = new Float64Array(reasons);
    this.txByPort = new Float64Array(ports);
  }
}
