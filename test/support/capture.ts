/** Writes timed frames as a pcap (nanosecond timestamps) for replay tests and the sample. */
import { PcapWriter } from '../../src/io/pcap-writer.js';
import type { TimedFrame } from './conv.js';

export const T0 = 1767225600; // 2026-01-01T00:00:00Z

export function writeCapture(path: string, frames: TimedFrame[], linkType = 1): void {
  const w = new PcapWriter(path, { linkType, nano: true });
  for (const f of frames) {
    const ns = Math.round(f.t * 1e9);
    const sec = T0 + Math.floor(ns / 1e9);
    w.write(f.frame, 0, f.frame.length, sec, ns % 1e9);
  }
  w.close();
}
