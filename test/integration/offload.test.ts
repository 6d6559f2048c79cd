/**
 * TAP offloads live (IFF_VNET_HDR + TUNSETOFFLOAD): a real `sdev run`
 * between a client and a server namespace, 20 MB through the VIP to an echo
 * server and back, compared byte for byte.
 *  - both ports with offloads (the default): the client's kernel hands the
 *    device TCP frames of up to 64 KiB with partial checksums; the device
 *    NATs them in that form and hands them whole to the server's TAP, whose
 *    kernel takes them as they are. The echo comes back the same way.
 *  - the server's port without offloads: the device cuts every GSO frame
 *    into MTU-sized segments with full checksums, which the server's kernel
 *    checks (a wrong checksum there loses the data: the transfer fails).
 * The control API's /stats shows which of these happened.
 * Needs root, /dev/net/tun, the TAP addon and python3; skipped otherwise.
 */
import { spawnSync } from 'node:child_process';
import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StatsJson } from '../../src/control/api.js';
import { REPO } from '../support/captures.js';
import { LiveLab, labConfig, labEnabled } from '../support/live-lab.js';

function get(socketPath: string, path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    http
      .get({ socketPath, path }, (res) => {
        let body = '';
        res.on('data', (d: Buffer) => (body += d.toString()));
        res.on('end', () => resolve(body));
      })
      .on('error', reject);
  });
}

const BYTES = 20_000_000;

for (const srvOffload of [true, false]) {
  describe.skipIf(!labEnabled)(
    `sdev run with TAP offloads, server port ${srvOffload ? 'with' : 'without'} them (root, netns)`,
    () => {
      let lab: LiveLab;

      beforeAll(async () => {
        lab = new LiveLab(srvOffload ? 'sdo' : 'sdm');
        lab.writeConfig(labConfig(lab, { offload: srvOffload ? undefined : { srv: false } }));
        await lab.start();
        await lab.wire();
      }, 60_000);

      afterAll(() => lab?.cleanup());

      it('20 MB through the VIP and back arrive unchanged', async () => {
        const r = lab.py(lab.client, ['bulk', '10.0.0.100', '80', String(BYTES)], 60_000);
        expect(r.out).toMatch(new RegExp(`^same ${BYTES} bytes in `));
        expect(r.status).toBe(0);
        const st = JSON.parse(await get(lab.controlSocket, '/stats')) as StatsJson;
        const off = st.offload!;
        expect(off).toBeDefined();
        // The client's kernel sent large frames, and they were NATed as such.
        expect(off.gsoIn).toBeGreaterThan(20);
        expect(st.dropsByReason['bad-offload']).toBeUndefined();
        if (srvOffload) {
          expect(off.gsoOut).toBeGreaterThan(20);
          expect(off.gsoSegmented).toBe(0);
        } else {
          expect(off.gsoSegmented).toBeGreaterThan(20);
          expect(off.segments).toBeGreaterThan(off.gsoSegmented);
        }
        const metrics = await get(lab.controlSocket, '/metrics');
        const gsoIn = /^sdev_offload_frames_total\{kind="gso_in"\} (\d+)$/m.exec(metrics);
        expect(Number(gsoIn?.[1])).toBeGreaterThanOrEqual(off.gsoIn);
        const text = spawnSync(
          process.execPath,
          ['--import', 'tsx', 'src/cli/main.ts', 'stats', '--socket', lab.controlSocket],
          { cwd: REPO, encoding: 'utf8' },
        ).stdout;
        expect(text).toMatch(/^offload {3}\d+ GSO frames in, \d+ out whole, \d+ cut into \d+ segments; /m);
      }, 90_000);
    },
  );
}
