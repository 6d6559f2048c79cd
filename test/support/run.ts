/** Runs timed frames through a Device and records each verdict. */
import { parseConfig, defaultConfig } from '../../src/config/load.js';
import type { DeviceConfig } from '../../src/config/types.js';
import { Device } from '../../src/device/device.js';
import { VERDICT_NAMES } from '../../src/device/verdict.js';
import { reasonName } from '../../src/session/reasons.js';
import type { TimedFrame } from './conv.js';

export interface Outcome {
  verdict: string;
  reason: string;
  session: number;
  port: string;
}

export interface Run {
  dev: Device;
  outcomes: Outcome[];
  sent: { port: number; frame: Uint8Array }[];
}

export function config(yaml?: string): DeviceConfig {
  return yaml === undefined ? defaultConfig() : parseConfig(yaml, 'test.yaml');
}

export function run(frames: TimedFrame[], cfg: DeviceConfig = defaultConfig(), linkType = 1): Run {
  const sent: Run['sent'] = [];
  const dev = new Device(cfg, {
    send: (port, buf, off, len) => sent.push({ port, frame: buf.slice(off, off + len) }),
  });
  const outcomes = frames.map((f) => {
    // The device rewrites frames in place (NAT): give it a copy so callers keep their input.
    const frame = f.frame.slice();
    const v = dev.process(frame, 0, frame.length, linkType, f.iface ?? -1, f.t * 1000);
    return {
      verdict: VERDICT_NAMES[v]!,
      reason: v === 1 ? reasonName(dev.reason) : '',
      session: dev.session,
      port: dev.outPort >= 0 ? dev.ports.names[dev.outPort]! : '',
    };
  });
  return { dev, outcomes, sent };
}

export const at = (t: number, frame: Uint8Array): TimedFrame => ({ t, frame });
