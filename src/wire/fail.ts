import type { Packet } from './packet.js';

/** Records a decode error on `p` (offset made relative to the frame base) and returns its code. */
export function fail(p: Packet, code: number, absOff: number): number {
  p.error = code;
  p.errorOffset = absOff - p.base;
  return code;
}
