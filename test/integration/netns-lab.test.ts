/**
 * The single-device lab end to end: `scripts/netns-lab.sh test single` builds
 * the namespaces, runs `sdev run` on two TAPs and checks ping to the device and
 * through it, load-balanced HTTP (IPv4 and IPv6) to the VIP, a blocked inbound
 * connection, iperf3, health-check failover and idle-timeout behaviour.
 * Needs root, /dev/net/tun, the built TAP addon and python3; skipped otherwise.
 */
import { describe, expect, it } from 'vitest';
import { labAvailable, leftovers, runLabTest } from '../support/netns-lab-run.js';

const enabled = labAvailable(['ip', 'curl', 'bash']);
const PREFIX = `sdl${process.pid.toString(36)}`;

describe.skipIf(!enabled)('netns lab: single device (root, /dev/net/tun, TAP addon)', () => {
  it('answers pings, balances HTTP, blocks inbound, fails over by health checks and expires idle sessions', async () => {
    const r = await runLabTest('single', PREFIX);
    const table = r.out + (r.code === 0 ? '' : `\n--- stderr ---\n${r.err}`);
    expect(table).toMatch(/^PASS +e1 ping device 10\.0\.1\.1 from client +3\/3$/m);
    expect(table).toMatch(/^PASS +e2 ping srv1 10\.0\.2\.11 through the device +3\/3$/m);
    expect(table).toMatch(
      /^PASS +a +\d+ x GET http:\/\/10\.0\.0\.100\/ .*(\d+)\/\1 answered \(srv1 [1-9]\d*, srv2 [1-9]\d*\)$/m,
    );
    expect(table).toMatch(/^PASS +b +srv1 -> client 10\.0\.1\.2:22 blocked +blocked/m);
    expect(table).toMatch(
      /^PASS +g +20 x GET http:\/\/\[fd00::100\]\/ \(IPv6\) +20\/20 answered \(srv1 [1-9]\d*, srv2 [1-9]\d*\)$/m,
    );
    expect(table).toMatch(/^PASS +d +iperf3 10 s to 10\.0\.0\.100:5201 +\d+ MB in \d+\.\d s, \d+ Mbit\/s$/m);
    expect(table).toMatch(
      /^PASS +f1 srv1 killed: health checks take it out +srv1 taken out; 20\/20 answered by srv2$/m,
    );
    expect(table).toMatch(
      /^PASS +f2 srv1 restarted: health checks bring it back +10\/10 answered \(srv1 [1-9]\d*, srv2 [1-9]\d*\)$/m,
    );
    expect(table).toMatch(/^PASS +c0 reload \(SIGHUP\).* +config reloaded, sessions kept$/m);
    expect(table).toMatch(/^PASS +c1 8 s idle > 5 s timeout: late data lost +nothing after 12 s$/m);
    expect(table).toMatch(/^PASS +c2 .*keepalive.* +data after [89]\.\d s$/m);
    expect(table).toMatch(/^PASS +c3 .*reset-on-expiry.* +reset after [5-7]\.\d s$/m);
    expect(table).toMatch(
      /^PASS +c4 reload \(SIGHUP\): the lab config again +config reloaded, sessions kept$/m,
    );
    expect(table).not.toMatch(/^FAIL/m);
    expect(r.code).toBe(0);
    expect(leftovers(PREFIX)).toEqual([]);
  }, 240_000);
});
