/**
 * Generates samples/lab.pcap, the bundled sample `scripts/demo` replays: a
 * small office behind the device (10.0.1.0/24, fd00:1::/64 inside) and the
 * outside world, with the cases a session device is about.
 * Run: npx tsx scripts/make-sample.ts
 */
import { buildFrame } from '../src/wire/build.js';
import {
  echoFrame,
  fragmentV4,
  icmpErrorFrame,
  TcpConv,
  timeline,
  udpFrame,
  type TimedFrame,
} from '../test/support/conv.js';
import { writeCapture } from '../test/support/capture.js';

const at = (t: number, frame: Uint8Array): TimedFrame => ({ t, frame });

// 1. Web: an HTTP exchange from inside, closed normally -> TIME_WAIT.
const web = new TcpConv('10.0.1.2', 40001, '93.184.216.34', 80, 1000).fullExchange(0.1, 120, 1400);
// 2. DNS query and answer.
const dns = [
  at(0.05, udpFrame('10.0.1.2', 53001, '9.9.9.9', 53, 40)),
  at(0.07, udpFrame('9.9.9.9', 53, '10.0.1.2', 53001, 120)),
];
// 3. Ping out and back.
const ping = [
  at(1.0, echoFrame('10.0.1.3', '1.1.1.1', 7, 1)),
  at(1.02, echoFrame('1.1.1.1', '10.0.1.3', 7, 1, true)),
];
// 4. An outside host scans inside: unsolicited SYNs, dropped by policy.
const scan = [22, 23, 445].map((port, i) =>
  new TcpConv('203.0.113.9', 51000 + i, '10.0.1.2', port, 77 + i).syn(2 + i * 0.01),
);
const scanFrames = scan.map((f, i) => at(2 + i * 0.01, f));
// 5. UDP to a closed port: the ICMP port unreachable is RELATED to the session.
const probe = udpFrame('10.0.1.4', 40000, '198.51.100.7', 33434, 20);
const unreach = [at(3.0, probe), at(3.01, icmpErrorFrame('198.51.100.7', '10.0.1.4', 3, 3, probe))];
// 6. An SSH session: established, then an off-path attacker's RST far outside the window, then real traffic.
const ssh = new TcpConv('10.0.1.5', 50022, '192.0.2.22', 22, 5000);
ssh.syn(4.0);
ssh.synAck(4.01);
ssh.ack(4.02);
ssh.data(4.03, true, 40);
ssh.rst(4.05, false, 0x40000000);
ssh.data(4.06, false, 60);
ssh.ack(4.07, true);
// 7. The idle timeout lesson: a UDP "session" whose answer comes after the 30 s unreplied timeout.
const late = [
  at(5.0, udpFrame('10.0.1.6', 5060, '192.0.2.50', 5060, 200)),
  at(40.0, udpFrame('192.0.2.50', 5060, '10.0.1.6', 5060, 300)),
];
// 8. A fragmented UDP datagram (1200 bytes in 8-byte-aligned fragments), reassembled before tracking.
const big = udpFrame('10.0.1.7', 7000, '192.0.2.70', 7000, 1200);
const frags = fragmentV4(big, '10.0.1.7', '192.0.2.70', 0x4242, 400).map((f, i) => at(6 + i * 0.001, f));
// 9. IPv6: a client on fd00:1::2 fetches from 2001:db8::80.
const web6 = new TcpConv('fd00:1::2', 40100, '2001:db8::80', 80, 9000).fullExchange(7.0, 80, 600);
// 10. A malformed frame: IPv4 header length 3 (IHL < 5).
const bad = udpFrame('10.0.1.8', 1, '192.0.2.1', 2, 8);
bad[14] = 0x43;
// 11. A non-IP frame (LLDP).
const lldp = buildFrame({ dstMac: '01:80:c2:00:00:0e', etherType: 0x88cc, payload: new Uint8Array(32) });

const frames = timeline(web.frames, dns, ping, scanFrames, unreach, ssh.frames, late, frags, web6.frames, [
  at(8.0, bad),
  at(8.5, lldp),
]);
writeCapture(new URL('../samples/lab.pcap', import.meta.url).pathname, frames);
console.log(`samples/lab.pcap: ${frames.length} frames`);
