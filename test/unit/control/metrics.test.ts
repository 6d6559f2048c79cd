/** GET /metrics: Prometheus text that parses, whose values are the device's own counters. */
import { afterEach, describe, expect, it } from 'vitest';
import { METRIC_NAMES } from '../../../src/control/metrics.js';
import { VERDICT_NAMES } from '../../../src/device/verdict.js';
import { REASONS, reasonCode } from '../../../src/session/reasons.js';
import { Lab, serve, standardMix, type Served } from './fixture.js';

let s: Served | null = null;
afterEach(async () => {
  await s?.close();
  s = null;
});

interface Exposition {
  types: Map<string, string>;
  help: Map<string, string>;
  /** `name{a="x",b="y"}` (labels sorted) -> value. */
  samples: Map<string, number>;
}

/** A strict reader of the Prometheus text format (0.0.4); throws on any line it does not accept. */
function parseExposition(text: string): Exposition {
  const out: Exposition = { types: new Map(), help: new Map(), samples: new Map() };
  const NAME = '[a-zA-Z_:][a-zA-Z0-9_:]*';
  // Values as Prometheus reads them (Go's ParseFloat: NaN and Inf in any case; prom-client writes "Nan").
  const sample = new RegExp(`^(${NAME})(?:\\{(.*)\\})? (-?[0-9.e+-]+|[Nn][Aa][Nn]|[+-]?[Ii]nf)$`);
  const label = /^([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\["\\n])*)"(?:,|$)/;
  expect(text.endsWith('\n')).toBe(true);
  for (const line of text.slice(0, -1).split('\n')) {
    if (line === '') continue;
    let m = new RegExp(`^# HELP (${NAME}) (.*)$`).exec(line);
    if (m) {
      out.help.set(m[1]!, m[2]!);
      continue;
    }
    m = new RegExp(`^# TYPE (${NAME}) (counter|gauge|histogram|summary|untyped)$`).exec(line);
    if (m) {
      out.types.set(m[1]!, m[2]!);
      continue;
    }
    m = sample.exec(line);
    if (!m) throw new Error(`not a Prometheus line: ${line}`);
    const labels: string[] = [];
    let rest = m[2] ?? '';
    while (rest) {
      const l = label.exec(rest);
      if (!l) throw new Error(`bad labels in: ${line}`);
      labels.push(`${l[1]}="${l[2]}"`);
      rest = rest.slice(l[0].length);
    }
    const base = m[1]!.replace(/_(bucket|sum|count)$/, '');
    if (!out.types.has(m[1]!) && !out.types.has(base)) throw new Error(`sample before its TYPE: ${line}`);
    const key = labels.length ? `${m[1]}{${labels.sort().join(',')}}` : m[1]!;
    if (out.samples.has(key)) throw new Error(`duplicate sample: ${line}`);
    out.samples.set(key, Number(m[3]));
  }
  return out;
}

async function scrape(s: Served): Promise<Exposition> {
  const r = await s.get('/metrics');
  expect(r.status).toBe(200);
  expect(r.contentType).toMatch(/^text\/plain; version=0\.0\.4/);
  return parseExposition(r.body);
}

describe('GET /metrics', () => {
  it('parses as Prometheus text, with sdev_ names, _total on every counter and HELP on each', async () => {
    const lab = new Lab();
    standardMix(lab);
    s = await serve(lab);
    const e = await scrape(s);
    expect([...e.types.keys()].sort()).toEqual(
      // Live drivers and TAP offloads add theirs (tested in test/integration/offload.test.ts).
      METRIC_NAMES.filter((n) => !n.startsWith('sdev_live_') && !n.startsWith('sdev_offload_')).sort(),
    );
    for (const [name, type] of e.types) {
      expect(name.startsWith('sdev_')).toBe(true);
      expect(e.help.get(name)).toBeTruthy();
      if (type === 'counter') expect(name).toMatch(/_total$/);
      else expect(name).not.toMatch(/_total$/);
    }
  });

  it('its values are the device counters', async () => {
    const lab = new Lab();
    standardMix(lab);
    s = await serve(lab);
    const e = await scrape(s);
    const d = lab.dev.stats;
    const v = (k: string) => e.samples.get(k);
    VERDICT_NAMES.forEach((n, i) => expect(v(`sdev_packets_total{verdict="${n}"}`)).toBe(d.verdicts[i]));
    expect(v('sdev_packets_total{verdict="forwarded"}')).toBe(
      lab.verdicts.filter((x) => x === 'forwarded').length,
    );
    expect(v('sdev_received_bytes_total')).toBe(d.bytesIn);
    // The established connections' data and acks, the VIP's (NATed) ones too.
    expect(v('sdev_fast_path_frames_total')).toBe(lab.dev.fastFrames);
    expect(lab.dev.fastFrames).toBe(9);
    for (const r of REASONS)
      expect(v(`sdev_drops_total{reason="${r}"}`)).toBe(d.dropsByReason[reasonCode(r)]);
    expect(v('sdev_drops_total{reason="policy-deny"}')).toBe(1);
    expect(v('sdev_sessions')).toBe(7);
    expect(v('sdev_sessions')).toBe(lab.dev.ct.table.count);
    expect(v('sdev_sessions_created_total')).toBe(lab.dev.ct.stats.created);
    expect(v('sdev_sessions_expired_total')).toBe(0);
    expect(v('sdev_sessions_peak')).toBe(7);
    expect(v('sdev_sessions_max')).toBe(lab.dev.cfg.conntrack.maxSessions);
    lab.dev.ports.names.forEach((p, i) =>
      expect(v(`sdev_port_transmit_frames_total{interface="",port="${p}"}`)).toBe(d.txByPort[i]),
    );
    const real = (m: string, vs: string, r: string) => v(`${m}{real="${r}",vs="${vs}"}`);
    expect(real('sdev_real_active_sessions', 'web', '10.0.2.11:8080')).toBe(1);
    expect(real('sdev_real_inactive_sessions', 'web', '10.0.2.11:8080')).toBe(1);
    expect(real('sdev_real_active_sessions', 'web', '10.0.2.12:8080')).toBe(1);
    expect(real('sdev_real_inactive_sessions', 'dns', '10.0.2.11:53')).toBe(1);
    expect(real('sdev_real_up', 'dns', '10.0.2.13:53')).toBe(0);
    expect(real('sdev_real_up', 'web', '10.0.2.12:8080')).toBe(1);
    expect(real('sdev_real_weight', 'web', '10.0.2.12:8080')).toBe(1);
    expect(v('sdev_device_info{device="sdev"}')).toBe(1);
  });

  it('reads the counters at each scrape: later traffic, expiry and a flush show in the next one', async () => {
    const lab = new Lab();
    standardMix(lab);
    s = await serve(lab);
    const first = await scrape(s);
    lab.clock = 40_000;
    lab.dev.tick(lab.clock);
    await s.get('/sessions?proto=tcp&state=ESTABLISHED', 'DELETE');
    const next = await scrape(s);
    const st = lab.dev.ct.stats;
    expect(next.samples.get('sdev_sessions_expired_total')).toBe(st.expired);
    expect(st.expired).toBeGreaterThan(0);
    expect(next.samples.get('sdev_sessions_flushed_total')).toBe(2);
    expect(next.samples.get('sdev_sessions')).toBe(lab.dev.ct.table.count);
    expect(next.samples.get('sdev_sessions')).toBe(first.samples.get('sdev_sessions')! - st.expired - 2);
    expect(next.samples.get('sdev_real_active_sessions{real="10.0.2.11:8080",vs="web"}')).toBe(0);
  });

  it('per-port receive/transmit and live counters when the driver gives them; process metrics on request', async () => {
    const lab = new Lab();
    const api = lab.api({
      ports: () => [
        {
          name: 'lan',
          interface: 'sdt0',
          framesIn: 10,
          bytesIn: 1000,
          framesOut: 4,
          bytesOut: 400,
          txDropped: 2,
        },
      ],
      live: () => ({ unroutable: 3, errors: 1, ticks: 50 }),
    });
    s = await serve(lab, api);
    const e = await scrape(s);
    const l = '{interface="sdt0",port="lan"}';
    expect(
      ['receive_frames', 'receive_bytes', 'transmit_frames', 'transmit_bytes', 'transmit_drops'].map((m) =>
        e.samples.get(`sdev_port_${m}_total${l}`),
      ),
    ).toEqual([10, 1000, 4, 400, 2]);
    expect(e.samples.get('sdev_live_unroutable_frames_total')).toBe(3);
    expect(e.samples.get('sdev_live_errors_total')).toBe(1);
    expect([...e.types.keys()].some((n) => n.startsWith('sdev_process_'))).toBe(false);

    const { createMetrics } = await import('../../../src/control/metrics.js');
    const withProcess = parseExposition(await createMetrics(api, { processMetrics: true }).text());
    expect(withProcess.types.get('sdev_process_cpu_user_seconds_total')).toBe('counter');
    expect(withProcess.samples.get('sdev_sessions')).toBe(0);
  });
});
