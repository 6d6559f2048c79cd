/**
 * The device never throws on bad input: arbitrary bytes and mutated real
 * frames, through a config with every feature on (policy, NAT, masquerade,
 * reassembly, reset-on-expiry), each get exactly one verdict, and every drop
 * has a reason from the closed list.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Device } from '../../../src/device/device.js';
import { V_DROPPED, VERDICT_NAMES } from '../../../src/device/verdict.js';
import { REASONS } from '../../../src/session/reasons.js';
import { echoFrame, fragmentV4, icmpErrorFrame, TcpConv, udpFrame } from '../../support/conv.js';
import { config } from '../../support/run.js';

const cfg = () =>
  config(`
sessions: { max: 64, reset-on-expiry: true, timeouts: { udp: { unreplied: 1 } } }
zones:
  inside: { networks: [10.0.1.0/24, 'fd00:1::/64'] }
  dmz: { networks: [10.0.2.0/24] }
  outside: { default: true }
virtual-servers:
  - { name: web, vip: 10.0.0.100, proto: tcp, port: 80, scheduler: mh, mh-table-size: 251, reals: [ { address: 10.0.2.11 } ] }
  - { name: dns, vip: 10.0.0.53, proto: udp, port: 53, mode: fullnat, snat: 10.0.2.1, reals: [ { address: 10.0.2.12 } ] }
masquerade:
  - { from: inside, to: outside, address: 198.51.100.1, ports: 2000-2003 }
policy:
  rules:
    - { from: outside, proto: tcp, dport: 23, action: reject }
    - { from: inside, action: accept }
`);

function seeds(): Uint8Array[] {
  const c = new TcpConv('10.0.1.2', 40000, '10.0.0.100', 80).fullExchange(0);
  const q = udpFrame('10.0.1.3', 5353, '10.0.0.53', 53);
  return [
    ...c.frames.map((f) => f.frame),
    q,
    icmpErrorFrame('10.0.2.12', '10.0.2.1', 3, 3, q),
    echoFrame('10.0.1.2', '192.0.2.1', 9, 1),
    echoFrame('fd00:1::2', '2001:db8::1', 9, 1),
    ...fragmentV4(udpFrame('10.0.1.4', 1, '192.0.2.9', 2, 300), '10.0.1.4', '192.0.2.9', 77, 104),
    new TcpConv('203.0.113.1', 1000, '10.0.1.2', 23).syn(0),
  ];
}

describe('the device on hostile input', () => {
  it('arbitrary and mutated frames: never a throw, one verdict each, reasons from the closed list', () => {
    const base = seeds();
    const frame = fc.oneof(
      fc.uint8Array({ minLength: 0, maxLength: 200 }),
      fc
        .tuple(
          fc.integer({ min: 0, max: base.length - 1 }),
          fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 6 }),
          fc.nat(),
        )
        .map(([i, edits, cut]) => {
          const f = base[i]!.slice();
          for (const [at, v] of edits) f[at % f.length] = v;
          return f.subarray(0, Math.max(0, f.length - (cut % 8)));
        }),
      fc.integer({ min: 0, max: base.length - 1 }).map((i) => base[i]!.slice()),
    );
    fc.assert(
      fc.property(
        fc.array(fc.tuple(frame, fc.integer({ min: 0, max: 3000 })), { minLength: 1, maxLength: 60 }),
        (seq) => {
          let sent = 0;
          const dev = new Device(cfg(), { send: () => void sent++ });
          let t = 0;
          for (const [f, dt] of seq) {
            t += dt;
            const v = dev.process(f, 0, f.length, 1, -1, t);
            expect(VERDICT_NAMES[v]).toBeDefined();
            if (v === V_DROPPED) expect(REASONS[dev.reason]).toBeDefined();
          }
          const st = dev.stats;
          expect(st.packetsIn).toBe(seq.length);
          expect(st.verdicts.reduce((a, b) => a + b, 0)).toBe(seq.length);
          // Every forwarded frame left by some port (a completed datagram may leave as several).
          expect(sent).toBeGreaterThanOrEqual(st.verdicts[0]!);
        },
      ),
      { numRuns: 300 },
    );
  });
});
