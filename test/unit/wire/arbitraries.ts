/** fast-check generators shared by the wire property tests (not a test file). */
import fc from 'fast-check';

export const u16 = fc.integer({ min: 0, max: 0xffff });
export const u32 = fc.integer({ min: 0, max: 0xffffffff });
export const port = fc.integer({ min: 1, max: 0xffff });
export const v4addr = u32.map((v) => Uint32Array.of(0, 0, 0xffff, v));
/** Any four words; `strict` leaves out the IPv4-mapped ones (so a v6 address is really v6). */
export const v6addr = (strict = true) => {
  const any = fc.tuple(u32, u32, u32, u32).map((w) => Uint32Array.from(w));
  return strict ? any.filter((w) => !(w[0] === 0 && w[1] === 0 && w[2] === 0xffff)) : any;
};

/**
 * A TCP header description for buildFrame: random ports, numbers, flags and
 * options. `wscaleMax` 14 keeps window scales valid; larger tests the clamp.
 */
export const tcpRepr = (opts: { wscaleMax?: number; sackMax?: number; ports?: fc.Arbitrary<number> } = {}) =>
  fc.record(
    {
      srcPort: opts.ports ?? port,
      dstPort: opts.ports ?? port,
      seq: u32,
      ack: u32,
      flags: fc.integer({ min: 0, max: 255 }),
      window: u16,
      mss: u16,
      wscale: fc.integer({ min: 0, max: opts.wscaleMax ?? 14 }),
      sackPermitted: fc.boolean(),
      sack: fc.array(fc.tuple(u32, u32), { minLength: 1, maxLength: opts.sackMax ?? 2 }),
      timestamps: fc.tuple(u32, u32),
    },
    { requiredKeys: ['srcPort', 'dstPort', 'flags', 'seq', 'ack', 'window'] },
  );
