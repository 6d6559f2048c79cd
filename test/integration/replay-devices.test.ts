/**
 * `sdev replay` of captures taken at both devices of an HA pair, through the
 * CLI as a user runs it: two pcap files or one pcapng with an interface per
 * device; the asymmetric flows in the summary, the per-device figures, the
 * outputs, and clear errors for missing or corrupt captures.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CaptureBatch, openCapture } from '../../src/io/capture-reader.js';
import { writeCapture } from '../support/capture.js';
import { CAPTURES, REPO, capture } from '../support/captures.js';
import { pairScenario, writePairPcapng } from '../support/ha-captures.js';

const tmp = mkdtempSync(join(tmpdir(), 'sdev-devices-'));
const sc = pairScenario();
const fw1 = join(tmp, 'fw1.pcap');
const fw2 = join(tmp, 'fw2.pcap');
const both = join(tmp, 'both.pcapng');

function sdev(...args: string[]) {
  return spawnSync(process.execPath, ['--import', 'tsx', join(REPO, 'src/cli/main.ts'), ...args], {
    encoding: 'utf8',
    cwd: REPO,
  });
}

function json(path: string) {
  return JSON.parse(readFileSync(path, 'utf8'));
}

/** A device's summary without what names it (its name and what it read). */
function figures(s: Record<string, unknown>) {
  const { device: _d, capture: _c, ...rest } = s;
  return rest;
}

beforeAll(() => {
  writeCapture(fw1, sc.fw1);
  writeCapture(fw2, sc.fw2);
  writePairPcapng(both, [
    { name: 'fw1', frames: sc.fw1 },
    { name: 'fw2', frames: sc.fw2 },
  ]);
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('sdev replay of captures taken at two devices', () => {
  let twoFiles: { asymmetric: unknown; devices: Record<string, unknown>[] };

  it('two files: lists the asymmetric flows (the first packet anywhere is the original) and counts the rest', () => {
    const out = join(tmp, 'two.json');
    const r = sdev('replay', fw1, fw2, '--json', out);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const s = json(out);
    twoFiles = s;
    expect(s.captures).toEqual([fw1, fw2]);
    expect(s.devices.map((d: { device: string }) => d.device)).toEqual(['fw1', 'fw2']);
    const { flows, asymmetric, symmetric, mixed, oneWay } = s.asymmetric;
    expect({ flows, asymmetric, symmetric, mixed, oneWay }).toEqual(sc.counts);
    expect(s.asymmetric.packets).toBe(sc.fw1.length + sc.fw2.length);
    expect(s.asymmetric.listed[1]).toEqual({
      proto: 'tcp',
      src: '10.0.1.2',
      sport: 40000,
      dst: '10.0.2.11',
      dport: 8080,
      orig: ['fw1'],
      reply: ['fw2'],
      packets: { orig: 6, reply: 4 },
    });
    expect(r.stdout).toContain(
      'flows     7 over 2 devices: 3 asymmetric, 2 symmetric, 1 mixed, 1 one-way\nasymmetric:\n' +
        sc.asymmetricLines.map((l) => `  ${l}\n`).join(''),
    );
    expect(r.stdout).toMatch(/^device {4}fw1\ncapture {3}.*fw1\.pcap\n/);
    expect(r.stdout).toContain(`\ndevice    fw2\ncapture   ${fw2}\n`);
  });

  it('each device has the figures of a replay of its capture alone', () => {
    for (const [i, file] of [fw1, fw2].entries()) {
      const out = join(tmp, `alone${i}.json`);
      const r = sdev('replay', file, '--json', out, '-q');
      expect(r.status).toBe(0);
      const alone = json(out);
      expect(alone).not.toHaveProperty('asymmetric');
      expect(twoFiles.devices[i]!.capture).toBe(file);
      expect(figures(twoFiles.devices[i]!)).toEqual(figures(alone));
      expect(twoFiles.devices[i]!.packetsIn).toBe([sc.fw1, sc.fw2][i]!.length);
    }
  });

  it('the captures given the other way round give the same flows (merged by time, not by file order)', () => {
    const out = join(tmp, 'swapped.json');
    expect(sdev('replay', `fw2=${fw2}`, `fw1=${fw1}`, '--json', out, '-q').status).toBe(0);
    const s = json(out);
    expect(s.asymmetric.devices).toEqual(['fw2', 'fw1']);
    const strip = (a: { listed: object[]; devices: string[] }) => ({ ...a, devices: undefined });
    expect(strip(s.asymmetric)).toEqual(
      strip(twoFiles.asymmetric as { listed: object[]; devices: string[] }),
    );
  });

  it('one pcapng with an interface per device: --device-of-interface and --per-interface give the same report', () => {
    for (const args of [['--device-of-interface', '0=fw1,1=fw2'], ['--per-interface']]) {
      const out = join(tmp, 'ng.json');
      const r = sdev('replay', both, ...args, '--json', out);
      expect(r.status, r.stderr).toBe(0);
      const s = json(out);
      expect(s.asymmetric).toEqual(twoFiles.asymmetric);
      expect(s.devices.map((d: { capture: string }) => d.capture)).toEqual([
        `${both} (interface 0)`,
        `${both} (interface 1)`,
      ]);
      for (const i of [0, 1]) expect(figures(s.devices[i])).toEqual(figures(twoFiles.devices[i]!));
      expect(r.stdout).toContain(sc.asymmetricLines.map((l) => `  ${l}\n`).join(''));
    }
    // Both interfaces to one device: every flow is seen whole there.
    const out = join(tmp, 'one.json');
    expect(sdev('replay', both, '--device-of-interface', '0=fw,1=fw', '--json', out, '-q').status).toBe(0);
    const one = json(out);
    expect(one.devices).toHaveLength(1);
    expect(one.asymmetric).toMatchObject({ flows: 7, asymmetric: 0, symmetric: 6, mixed: 0, oneWay: 1 });
    const bad = sdev('replay', both, '--device-of-interface', '0:fw1');
    expect(bad.status).not.toBe(0);
    expect(bad.stderr).toContain('expected INTERFACE=DEVICE');
  });

  it('--verdicts holds every input packet in time order on DEVICE:IF interfaces; -w names DEVICE:PORT', () => {
    const v = join(tmp, 'v.pcapng');
    const w = join(tmp, 'w.pcapng');
    const r = sdev('replay', fw1, fw2, '--verdicts', v, '-w', w, '-q', '--list-asymmetric', '1');
    expect(r.status, r.stderr).toBe(0);
    const reader = openCapture(v);
    const batch = new CaptureBatch(64);
    const perIf = [0, 0];
    let last = -Infinity;
    let n;
    while ((n = reader.next(batch)) > 0) {
      for (let i = 0; i < n; i++) {
        const t = batch.tsSec[i]! * 1e9 + batch.tsNsec[i]!;
        expect(t).toBeGreaterThanOrEqual(last);
        last = t;
        perIf[batch.ifIndex[i]!]!++;
      }
    }
    expect(reader.interfaces.map((i) => i.name)).toEqual(['fw1:if0', 'fw2:if0']);
    expect(perIf).toEqual([sc.fw1.length, sc.fw2.length]);
    reader.close();
    const sent = openCapture(w);
    while (sent.next(batch) > 0);
    const names = sent.interfaces.map((i) => i.name!);
    expect(names.length).toBeGreaterThan(2);
    expect(names.filter((x) => x.startsWith('fw1:'))).toHaveLength(names.length / 2);
    sent.close();
  });

  it('one config per device, and refuses configs that do not fit the devices', () => {
    const allow = join(tmp, 'allow.yaml');
    const deny = join(tmp, 'deny.yaml');
    const zones = 'zones:\n  clients: { networks: [10.0.1.0/24] }\n  servers: { networks: [10.0.2.0/24] }\n';
    writeFileSync(
      allow,
      `${zones}policy:\n  default: drop\n  rules:\n    - { name: out, from: clients, action: accept }\n`,
    );
    writeFileSync(deny, `${zones}policy:\n  default: drop\n`);
    const out = join(tmp, 'cfg.json');
    expect(sdev('replay', fw1, fw2, '-c', allow, '-c', deny, '--json', out, '-q').status).toBe(0);
    const s = json(out);
    expect(s.devices.map((d: { config: string }) => d.config)).toEqual([allow, deny]);
    expect(s.devices[0].ruleHits.out).toBeGreaterThan(0);
    expect(s.devices[1].ruleHits).not.toHaveProperty('out');
    expect(s.devices[1].dropsByReason['policy-deny']).toBeGreaterThan(0);
    const three = sdev('replay', fw1, fw2, '-c', allow, '-c', allow, '-c', deny);
    expect(three.status).toBe(2);
    expect(three.stderr).toBe('sdev: 3 configs for 2 devices: give one config for all, or one per device\n');
    const single = sdev('replay', fw1, '-c', allow, '-c', deny);
    expect(single.status).toBe(2);
    expect(single.stderr).toContain('several configs need several devices');
  });

  it('a missing, corrupt or truncated second capture: a clear error, no crash', () => {
    const missing = sdev('replay', fw1, join(tmp, 'missing.pcap'));
    expect(missing.status).toBe(2);
    expect(missing.stderr).toMatch(/^sdev: cannot open capture .*missing\.pcap: ENOENT/);
    expect(missing.stderr).not.toMatch(/\n\s+at /);
    const junk = join(tmp, 'junk.pcap');
    writeFileSync(junk, 'this is not a capture file at all');
    const corrupt = sdev('replay', fw1, junk);
    expect(corrupt.status).toBe(2);
    expect(corrupt.stderr).toContain('unknown file format');
    expect(corrupt.stdout).toBe('');
    const cut = join(tmp, 'cut.pcap');
    const bytes = readFileSync(fw2);
    writeFileSync(cut, bytes.subarray(0, bytes.length - 20));
    const out = join(tmp, 'cut.json');
    const r = sdev('replay', fw1, cut, '--json', out);
    expect(r.status).toBe(3);
    expect(r.stderr).toMatch(/cut\.pcap: .*byte offset \d+/);
    const s = json(out);
    expect(s.devices[0].packetsIn).toBe(sc.fw1.length);
    expect(s.devices[1].packetsIn).toBe(sc.fw2.length - 1);
    expect(s.captureErrors).toHaveLength(1);
    expect(r.stdout).toContain('WARNING   capture stopped early');
    const two = sdev('replay', both, fw1, '--per-interface');
    expect(two.status).toBe(2);
    expect(two.stderr).toContain('take one capture');
  });

  it('one capture and no per-interface option: no asymmetry section', () => {
    const r = sdev('replay', fw1);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^capture {3}/);
    expect(r.stdout).not.toMatch(/^(flows|device) /m);
  });

  it.skipIf(!CAPTURES)(
    'a third-party pcapng with two interfaces, one device each: three DNS flows, none asymmetric',
    () => {
      const file = capture('zeek/pcapng-multi-interface.pcapng');
      expect(existsSync(file)).toBe(true);
      const out = join(tmp, 'zeek.json');
      const r = sdev('replay', file, '--per-interface', '--json', out);
      expect(r.status, r.stderr).toBe(0);
      const s = json(out);
      expect(s.devices).toHaveLength(2);
      expect(s.devices.map((d: { packetsIn: number }) => d.packetsIn)).toEqual([2, 4]);
      expect(s.asymmetric).toMatchObject({ flows: 3, asymmetric: 0, symmetric: 3, mixed: 0, oneWay: 0 });
    },
  );
});
