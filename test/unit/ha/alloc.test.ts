/**
 * The record path creates no object per record: export, encode, decode and
 * import of 1.3 million record updates (alloc-probe.ts, in a child process
 * with --trace-gc, as production runs it). Young-generation garbage stays
 * under 32 bytes per record; one object per record (the smallest typed array
 * is over 100 bytes) would exceed it. What remains is V8 boxing the odd
 * double (wall-clock times, versions) where it decides not to inline a call.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const probe = fileURLToPath(new URL('./alloc-probe.ts', import.meta.url));

describe('allocation', () => {
  it('export -> encode -> decode -> import makes no object per record', () => {
    const r = spawnSync(process.execPath, ['--expose-gc', '--trace-gc', '--import', 'tsx', probe], {
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(r.status, r.stderr).toBe(0);
    const out = r.stdout;
    const measured = out.slice(out.indexOf('--- measured ---'), out.indexOf('imported'));
    expect(out).toContain('imported 1300000');
    // "Scavenge 10.2 (15.7) -> 6.3 (15.7) MB": what each scavenge freed.
    let freedMb = 0;
    let scavenges = 0;
    for (const m of measured.matchAll(/Scavenge ([\d.]+) \([\d.]+\) -> ([\d.]+) \([\d.]+\) MB/g)) {
      freedMb += Number(m[1]) - Number(m[2]);
      scavenges++;
    }
    const bytesPerRecord = (freedMb * 1024 * 1024) / 1_300_000;
    expect(bytesPerRecord, `${scavenges} scavenges, ${freedMb.toFixed(1)} MB`).toBeLessThan(32);
  });
});
