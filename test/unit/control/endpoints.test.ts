/** /stats, /vs, /health, /reload and the error paths, over a real socket against a real Device. */
import { afterEach, describe, expect, it } from 'vitest';
import type { RealHealth, StatsJson } from '../../../src/control/api.js';
import { VERDICT_NAMES } from '../../../src/device/verdict.js';
import { ipvsadmText, vsJson } from '../../../src/lb/ipvsadm.js';
import { reasonCode } from '../../../src/session/reasons.js';
import { Lab, serve, standardMix, type Served } from './fixture.js';

let s: Served | null = null;
afterEach(async () => {
  await s?.close();
  s = null;
});

describe('GET /stats', () => {
  it('gives the device counters: packets, verdicts, drops by reason, sessions, ports', async () => {
    const lab = new Lab();
    standardMix(lab);
    s = await serve(lab);
    const st = await s.json<StatsJson>('/stats');
    const d = lab.dev.stats;
    expect(st.packetsIn).toBe(lab.verdicts.length);
    expect(st.packetsIn).toBe(d.packetsIn);
    expect(st.bytesIn).toBe(d.bytesIn);
    expect(st.fastPathFrames).toBe(lab.dev.fastFrames);
    expect(st.fastPathFrames).toBeGreaterThan(0);
    expect(st.verdicts).toEqual(Object.fromEntries(VERDICT_NAMES.map((n, i) => [n, d.verdicts[i]])));
    expect(st.verdicts.forwarded).toBe(lab.verdicts.filter((v) => v === 'forwarded').length);
    expect(st.dropsByReason).toEqual({ 'policy-deny': 1 });
    expect(d.dropsByReason[reasonCode('policy-deny')]).toBe(1);
    expect(st.sessions).toEqual({
      current: 7,
      max: lab.dev.cfg.conntrack.maxSessions,
      created: 7,
      expired: 0,
      evicted: 0,
      flushed: 0,
      peak: 7,
    });
    expect(st.ports.map((p) => p.name)).toEqual(lab.dev.ports.names);
    expect(st.ports.map((p) => p.framesOut)).toEqual(Array.from(d.txByPort));
    expect(st.ports.reduce((n, p) => n + p.framesOut, 0)).toBe(lab.sent.length);
    expect(st.device).toBe('sdev');
    expect(st.live).toBeUndefined();
  });

  it('counts expiry: after the timers run past the UDP timeout the unreplied sessions are gone', async () => {
    const lab = new Lab();
    standardMix(lab);
    s = await serve(lab);
    lab.clock = 40_000; // 30 s unreplied UDP, 30 s ICMP
    lab.dev.tick(lab.clock);
    const st = await s.json<StatsJson>('/stats');
    expect(st.sessions.expired).toBe(lab.dev.ct.stats.expired);
    expect(st.sessions.expired).toBeGreaterThanOrEqual(2);
    expect(st.sessions.current).toBe(7 - st.sessions.expired);
    expect(st.sessions.peak).toBe(7);
  });

  it('takes per-port counters and live counters from the driver when given', async () => {
    const lab = new Lab();
    const ports = [
      {
        name: 'lan',
        interface: 'tap0',
        framesIn: 5,
        bytesIn: 500,
        framesOut: 3,
        bytesOut: 300,
        txDropped: 1,
      },
    ];
    s = await serve(
      lab,
      lab.api({ ports: () => ports, live: () => ({ unroutable: 2, errors: 0, ticks: 9 }) }),
    );
    const st = await s.json<StatsJson>('/stats');
    expect(st.ports).toEqual(ports);
    expect(st.live).toEqual({ unroutable: 2, errors: 0, ticks: 9 });
  });
});

describe('GET /vs', () => {
  it('JSON: the virtual servers with names and the counters the device keeps', async () => {
    const lab = new Lab();
    standardMix(lab);
    s = await serve(lab);
    const got = await s.json<(ReturnType<typeof vsJson>[number] & { name: string })[]>('/vs');
    const views = lab.dev.lb.vs.views();
    expect(got).toEqual(vsJson(views).map((v, i) => ({ name: lab.dev.cfg.virtualServers[i]!.name, ...v })));
    expect(got[0]!.name).toBe('web');
    // A (ESTABLISHED) and C (SYN_SENT) on .11, B (ESTABLISHED) on .12.
    expect(got[0]!.reals.map((r) => [r.address, r.activeConns, r.inactiveConns, r.up])).toEqual([
      ['10.0.2.11:8080', 1, 1, true],
      ['10.0.2.12:8080', 1, 0, true],
    ]);
    expect(got[1]!.reals.map((r) => [r.address, r.activeConns, r.inactiveConns, r.up])).toEqual([
      ['10.0.2.11:53', 0, 1, true],
      ['10.0.2.13:53', 0, 0, false],
    ]);
  });

  it('format=text: the ipvsadm -Ln text', async () => {
    const lab = new Lab();
    standardMix(lab);
    s = await serve(lab);
    const r = await s.get('/vs?format=text');
    expect(r.status).toBe(200);
    expect(r.body).toBe(ipvsadmText(lab.dev.lb.vs.views()));
    expect(r.body).toMatch(/^TCP {2}10\.0\.0\.100:80 rr\n {2}-> 10\.0\.2\.11:8080 +Masq +1 +1 +1 +\n/m);
    expect(r.body).toMatch(/^ {2}-> 10\.0\.2\.13:53 +Masq +1 +0 +0 +\(down\)$/m);
  });
});

describe('GET /health', () => {
  it('per real: up or down and weight; lastTransition only when health checks report one', async () => {
    const lab = new Lab();
    s = await serve(lab);
    const h = await s.json<RealHealth[]>('/health');
    expect(h).toEqual([
      { vs: 'web', real: '10.0.2.11:8080', up: true, weight: 1 },
      { vs: 'web', real: '10.0.2.12:8080', up: true, weight: 1 },
      { vs: 'dns', real: '10.0.2.11:53', up: true, weight: 1 },
      { vs: 'dns', real: '10.0.2.13:53', up: false, weight: 1 },
    ]);
    await s.close();
    // A real marked down at run time (as a health checker does), with its transition reported.
    lab.dev.lb.vs.pools[0]!.setUp(1, false);
    const at = Date.UTC(2026, 0, 2, 3, 4, 5);
    s = await serve(
      lab,
      lab.api({ lastTransition: (v, slot) => (v === 0 && slot === 1 ? { up: false, atMs: at } : undefined) }),
    );
    const h2 = await s.json<RealHealth[]>('/health');
    expect(h2[1]).toEqual({
      vs: 'web',
      real: '10.0.2.12:8080',
      up: false,
      weight: 1,
      lastTransition: { up: false, at: '2026-01-02T03:04:05.000Z' },
    });
    expect(h2[0]!.lastTransition).toBeUndefined();
  });
});

describe('POST /reload', () => {
  it('501 with a clear message when the process cannot reload', async () => {
    s = await serve(new Lab());
    const r = await s.get('/reload', 'POST');
    expect(r.status).toBe(501);
    expect(JSON.parse(r.body).error).toMatch(/cannot reload/);
  });

  it('200 when the reload succeeds, 422 with the message when it is refused, 409 while one runs', async () => {
    const lab = new Lab();
    let calls = 0;
    let release: (() => void) | null = null;
    const outcomes = [
      { ok: true, message: 'reloaded: 2 virtual servers' },
      { ok: false, message: 'lab.yaml:3:5: sessions.max: cannot change while running' },
    ];
    s = await serve(
      lab,
      lab.api({
        reload: async () => {
          const r = outcomes[calls++ % 2]!;
          if (calls === 3) await new Promise<void>((res) => (release = res));
          return r;
        },
      }),
    );
    const ok = await s.get('/reload', 'POST');
    expect([ok.status, JSON.parse(ok.body)]).toEqual([
      200,
      { ok: true, message: 'reloaded: 2 virtual servers' },
    ]);
    const no = await s.get('/reload', 'POST');
    expect([no.status, JSON.parse(no.body)]).toEqual([
      422,
      { ok: false, error: 'lab.yaml:3:5: sessions.max: cannot change while running' },
    ]);
    const slow = s.get('/reload', 'POST');
    while (!release) await new Promise((r) => setTimeout(r, 5));
    const busy = await s.get('/reload', 'POST');
    expect(busy.status).toBe(409);
    expect(JSON.parse(busy.body).error).toMatch(/already running/);
    (release as () => void)();
    expect((await slow).status).toBe(200);
    expect(calls).toBe(3);
  });
});

describe('errors', () => {
  it('404 JSON for an unknown path, 405 with Allow for a wrong method, 400 for stray parameters', async () => {
    s = await serve(new Lab());
    const nf = await s.get('/session');
    expect(nf.status).toBe(404);
    expect(nf.contentType).toMatch(/^application\/json/);
    expect(JSON.parse(nf.body).error).toMatch(/^no such endpoint \/session; endpoints: \/sessions/);
    const wrong = await s.get('/stats', 'DELETE');
    expect(wrong.status).toBe(405);
    expect(JSON.parse(wrong.body).error).toMatch(/DELETE not allowed here; use GET/);
    const stray = await s.get('/stats?verbose=1');
    expect(stray.status).toBe(400);
    expect(JSON.parse(stray.body).error).toMatch(/unknown parameter "verbose"/);
    const text = await s.get('/stats?format=text');
    expect(text.status).toBe(400);
    expect(JSON.parse(text.body).error).toBe('format: expected json, got "text"');
  });

  it('500 with the message when the API throws, and the server keeps serving', async () => {
    const lab = new Lab();
    const api = lab.api();
    api.stats = () => {
      throw new Error('counters unavailable');
    };
    s = await serve(lab, api);
    const r = await s.get('/stats');
    expect([r.status, JSON.parse(r.body)]).toEqual([500, { error: 'counters unavailable' }]);
    expect((await s.get('/vs')).status).toBe(200);
  });
});
