/**
 * The HA pair lab end to end: `scripts/netns-lab.sh test pair` builds the
 * namespaces and bridges, runs two `sdev run` (fw1, fw2) with three TAPs each,
 * and for every ha mode restarts both devices and sends 200 HTTP requests and
 * a 10 s iperf3 over asymmetric paths (client -> fw1 -> server -> fw2 ->
 * client); then kills fw1 during an iperf3 (mode sync with defer).
 * Needs root, /dev/net/tun, the built TAP addon, python3, curl and iperf3;
 * skipped otherwise.
 */
import { describe, expect, it } from 'vitest';
import { labAvailable, leftovers, runLabTest } from '../support/netns-lab-run.js';

const enabled = labAvailable(['ip', 'bridge', 'curl', 'iperf3', 'bash']);
const PREFIX = `sdp${process.pid.toString(36)}`;

describe.skipIf(!enabled)('netns lab: HA pair (root, /dev/net/tun, TAP addon, iperf3)', () => {
  it('off drops the asymmetric replies; sync with defer, mac-rewrite and gre carry them; fw2 takes over from a killed fw1', async () => {
    const r = await runLabTest('pair', PREFIX);
    const table = r.out + (r.code === 0 ? '' : `\n--- stderr ---\n${r.err}`);
    const done = String.raw`iperf3 \d+ Mbit\/s`;
    expect(table).toMatch(
      /^PASS +off +HTTP 0\/200, iperf3 failed \(.*\); fw2 dropped: .*(no-session|policy-deny) [1-9]\d*/m,
    );
    expect(table).toMatch(/^PASS +sync +HTTP \d+\/200, iperf3 .*\(measured only/m);
    for (const mode of ['mac-rewrite', 'gre'])
      expect(table).toMatch(new RegExp(`^PASS +${mode} +HTTP 200/200, ${done}$`, 'm'));
    expect(table).toMatch(
      new RegExp(
        `^PASS +sync\\+defer +HTTP 200/200, ${done}; defer added p50 \\d+\\.\\d ms, p99 \\d+\\.\\d ms \\([1-9]\\d* held`,
        'm',
      ),
    );
    expect(table).toMatch(
      new RegExp(
        `^PASS +failover \\(sync\\+defer, fw1 killed at 3 s\\) +${done}; [1-9]\\d* MB acked before the kill; client's 10\\.0\\.1\\.1: 02:5d:02:00:01:01; takeover \\d+ ms after the kill$`,
        'm',
      ),
    );
    expect(table).not.toMatch(/^FAIL/m);
    expect(table).toMatch(/^all 6 scenarios passed$/m);
    expect(r.code).toBe(0);
    expect(leftovers(PREFIX)).toEqual([]);
    console.log(`netns pair lab: ${r.seconds.toFixed(0)} s`);
  }, 240_000);
});
