/** GET/DELETE /sessions over a real Unix socket against a real Device fed real frames. */
import { afterEach, describe, expect, it } from 'vitest';
import { conntrackLine, listSessions, type SessionRecord } from '../../../src/session/list.js';
import { TcpConv } from '../../support/conv.js';
import { Lab, serve, standardMix, vipConn, type Served } from './fixture.js';

let s: Served | null = null;
afterEach(async () => {
  await s?.close();
  s = null;
});

const tuple = (r: SessionRecord) =>
  `${r.proto} ${r.original.src}:${r.original.sport ?? r.original.id} > ${r.original.dst}:${r.original.dport ?? r.original.type}` +
  ` | ${r.reply.src}:${r.reply.sport ?? r.reply.id} > ${r.reply.dst}:${r.reply.dport ?? r.reply.type} ${r.state}`;

describe('GET /sessions', () => {
  it('lists every session with its tuples and state, as the table holds them', async () => {
    const lab = new Lab();
    standardMix(lab);
    s = await serve(lab);
    const got = await s.json<SessionRecord[]>('/sessions');
    expect(got).toEqual(listSessions(lab.dev.ct, lab.clock));
    expect(got.map(tuple)).toEqual([
      'tcp 10.0.1.2:40001 > 10.0.0.100:80 | 10.0.2.11:8080 > 10.0.1.2:40001 ESTABLISHED',
      'tcp 10.0.1.2:40002 > 10.0.0.100:80 | 10.0.2.12:8080 > 10.0.1.2:40002 ESTABLISHED',
      'tcp 10.0.1.3:40003 > 10.0.0.100:80 | 10.0.2.11:8080 > 10.0.1.3:40003 SYN_SENT',
      'tcp 10.0.1.2:50000 > 198.51.100.7:443 | 198.51.100.7:443 > 10.0.1.2:50000 TIME_WAIT',
      'udp 10.0.1.2:5353 > 10.0.0.53:53 | 10.0.2.11:53 > 10.0.1.2:5353 REPLIED',
      'udp 10.0.1.4:1234 > 8.8.8.8:53 | 8.8.8.8:53 > 10.0.1.4:1234 UNREPLIED',
      'icmp 10.0.1.2:7 > 198.51.100.7:8 | 198.51.100.7:7 > 10.0.1.2:0 UNREPLIED',
    ]);
    expect(lab.verdicts.at(-1)).toBe('dropped:policy-deny');
    expect(got[0]!.original.packets).toBe(3);
    expect(got[0]!.reply.packets).toBe(2);
  });

  it('format=text gives the conntrack -L lines of the same records', async () => {
    const lab = new Lab();
    standardMix(lab);
    s = await serve(lab);
    const r = await s.get('/sessions?format=text');
    expect(r.status).toBe(200);
    expect(r.contentType).toMatch(/^text\/plain/);
    const lines = listSessions(lab.dev.ct, lab.clock).map(conntrackLine);
    expect(r.body).toBe(lines.join('\n') + '\n');
    expect(r.body).toMatch(
      /^tcp +6 \d+ ESTABLISHED src=10\.0\.1\.2 dst=10\.0\.0\.100 sport=40001 dport=80 .* src=10\.0\.2\.11 dst=10\.0\.1\.2 sport=8080 dport=40001 /m,
    );
  });

  it('leaves out sessions whose lifetime ran out but the timers have not reaped yet', async () => {
    const lab = new Lab();
    lab.feed(new TcpConv('10.0.1.2', 40010, '198.51.100.7', 80).fullExchange(0).frames); // TIME_WAIT, 120 s
    s = await serve(lab);
    expect(await s.json<unknown[]>('/sessions')).toHaveLength(1);
    lab.clock = 200_000; // the device has not run since, so the session is still in the table
    expect(lab.dev.ct.table.count).toBe(1);
    expect(await s.json<unknown[]>('/sessions')).toEqual([]);
  });

  const filters: [string, (r: SessionRecord) => boolean][] = [
    ['proto=udp', (r) => r.proto === 'udp'],
    ['proto=6', (r) => r.proto === 'tcp'],
    ['proto=icmp', (r) => r.proto === 'icmp'],
    ['src=10.0.1.2', (r) => r.original.src === '10.0.1.2'],
    ['src=10.0.1.0/30', (r) => ['10.0.1.2', '10.0.1.3'].includes(r.original.src)],
    ['dst=10.0.0.0/24', (r) => r.original.dst.startsWith('10.0.0.')],
    ['reply-src=10.0.2.11', (r) => r.reply.src === '10.0.2.11'],
    ['reply-dst=10.0.1.4', (r) => r.reply.dst === '10.0.1.4'],
    ['dport=80', (r) => r.original.dport === 80],
    ['sport=40002', (r) => r.original.sport === 40002],
    ['proto=tcp&dport=443', (r) => r.proto === 'tcp' && r.original.dport === 443],
    ['state=ESTABLISHED', (r) => r.proto === 'tcp' && r.state === 'ESTABLISHED'],
    ['state=syn_sent', (r) => r.state === 'SYN_SENT'],
    ['state=TIME_WAIT&src=10.0.1.2', (r) => r.state === 'TIME_WAIT'],
    ['dst=10.0.0.100&reply-src=10.0.2.11&state=ESTABLISHED', (r) => r.original.sport === 40001],
    ['zone=0', () => true],
    ['zone=5', () => false],
    ['src=fd00::/8', () => false],
    ['src=0.0.0.0/0', () => true],
  ];
  it.each(filters)('filter %s selects the same sessions as the records say', async (q, pick) => {
    const lab = new Lab();
    standardMix(lab);
    s = await serve(lab);
    const all = listSessions(lab.dev.ct, lab.clock);
    const want = all.filter(pick).map((r) => r.id);
    const got = (await s.json<SessionRecord[]>(`/sessions?${q}`)).map((r) => r.id);
    expect(got).toEqual(want);
    if (q !== 'zone=5' && !q.startsWith('src=fd00')) expect(got.length).toBeGreaterThan(0);
    if (!['zone=0', 'src=0.0.0.0/0'].includes(q)) expect(got.length).toBeLessThan(all.length);
  });

  it('limit keeps the lowest ids; format=text takes filters too', async () => {
    const lab = new Lab();
    standardMix(lab);
    s = await serve(lab);
    const all = listSessions(lab.dev.ct, lab.clock);
    expect((await s.json<SessionRecord[]>('/sessions?limit=2')).map((r) => r.id)).toEqual(
      all.slice(0, 2).map((r) => r.id),
    );
    const text = (await s.get('/sessions?proto=udp&format=text')).body;
    expect(text).toBe(
      all
        .filter((r) => r.proto === 'udp')
        .map((r) => conntrackLine(r) + '\n')
        .join(''),
    );
  });

  const bad: [string, RegExp][] = [
    ['proto=foo', /^proto: expected one of tcp, udp, icmp.* or 0-255, got "foo"$/],
    ['proto=300', /^proto: expected/],
    ['src=10.0.0.300', /^src: expected an address or CIDR prefix, got "10\.0\.0\.300"$/],
    ['dst=10.0.0.0/33', /^dst: expected an address or CIDR prefix/],
    ['sport=70000', /^sport: expected an integer 0-65535, got "70000"$/],
    ['dport=http', /^dport: expected an integer 0-65535/],
    ['state=OPEN', /^state: expected a TCP state \(SYN_SENT, SYN_RECV, ESTABLISHED.*\), got "OPEN"$/],
    ['limit=0', /^limit: expected an integer 1-/],
    ['zone=-1', /^zone: expected an integer/],
    ['dports=80', /^unknown parameter "dports"; expected proto, src, dst, reply-src, reply-dst/],
    ['src=', /^src: expected a value$/],
    ['sport=1&sport=2', /^sport: given twice$/],
    ['format=xml', /^format: expected json or text, got "xml"$/],
  ];
  it.each(bad)('400 for %s, saying what was expected', async (q, msg) => {
    const lab = new Lab();
    s = await serve(lab);
    const r = await s.get(`/sessions?${q}`);
    expect(r.status).toBe(400);
    expect(JSON.parse(r.body).error).toMatch(msg);
  });
});

describe('DELETE /sessions', () => {
  it('flushes exactly the matching sessions and answers with the count', async () => {
    const lab = new Lab();
    standardMix(lab);
    s = await serve(lab);
    const before = listSessions(lab.dev.ct, lab.clock);
    const r = await s.get('/sessions?dst=10.0.0.100&dport=80', 'DELETE');
    expect(r.status).toBe(200);
    expect(JSON.parse(r.body)).toEqual({ flushed: 3 });
    const after = await s.json<SessionRecord[]>('/sessions');
    expect(after).toEqual(listSessions(lab.dev.ct, lab.clock));
    expect(after.map((x) => x.id)).toEqual(
      before.filter((x) => !(x.original.dst === '10.0.0.100' && x.original.dport === 80)).map((x) => x.id),
    );
    expect(lab.dev.ct.table.count).toBe(before.length - 3);
    // The virtual server's connection counters follow (through the table's remove hook).
    const pool = lab.dev.lb.vs.pools[0]!;
    expect([pool.active(0), pool.inactive(0), pool.active(1)]).toEqual([0, 0, 0]);
    const st = await s.json<{ sessions: { flushed: number; current: number } }>('/stats');
    expect(st.sessions).toMatchObject({ flushed: 3, current: before.length - 3 });
  });

  it('the device treats the next packets of a flushed session as new', async () => {
    const lab = new Lab();
    const { a, b } = standardMix(lab);
    s = await serve(lab);
    // Before: the real's answers of A and B are replies of their sessions.
    expect(lab.feed([{ t: 7, frame: a.data(7, false, 100) }])).toEqual(['forwarded']);
    const maxId = Math.max(...listSessions(lab.dev.ct, lab.clock).map((x) => x.id));
    expect(JSON.parse((await s.get('/sessions?sport=40001', 'DELETE')).body)).toEqual({ flushed: 1 });
    // After: A's answer from the dmz starts nothing (dmz -> inside is not allowed); B's still flows.
    expect(lab.feed([{ t: 8, frame: a.data(8, false, 100) }])).toEqual(['dropped:policy-deny']);
    expect(lab.feed([{ t: 8.1, frame: b.data(8.1, false, 100) }])).toEqual(['forwarded']);
    // The client's next segment is picked up as a new session (loose pickup) with a new id.
    const created = lab.dev.ct.stats.created;
    expect(lab.feed([{ t: 9, frame: a.data(9, true, 10) }])).toEqual(['forwarded']);
    expect(lab.dev.ct.stats.created).toBe(created + 1);
    const now = await s.json<SessionRecord[]>('/sessions?sport=40001');
    expect(now).toHaveLength(1);
    expect(now[0]!.id).toBeGreaterThan(maxId);
    expect(now[0]!.original.packets).toBe(1);
  });

  it('with no filter flushes everything; a bad filter flushes nothing', async () => {
    const lab = new Lab();
    standardMix(lab);
    s = await serve(lab);
    const n = lab.dev.ct.table.count;
    const bad = await s.get('/sessions?dprt=80', 'DELETE');
    expect(bad.status).toBe(400);
    expect(lab.dev.ct.table.count).toBe(n);
    expect(JSON.parse((await s.get('/sessions?limit=1', 'DELETE')).body)).toEqual({ flushed: 1 });
    expect(JSON.parse((await s.get('/sessions', 'DELETE')).body)).toEqual({ flushed: n - 1 });
    expect(lab.dev.ct.table.count).toBe(0);
    expect(await s.json('/sessions')).toEqual([]);
  });

  it('a new connection after a flush of its server goes through the scheduler again', async () => {
    const lab = new Lab();
    standardMix(lab);
    s = await serve(lab);
    await s.get('/sessions', 'DELETE');
    // rr picked .11, .12, .11 before the flush: the next is .12.
    expect(lab.feed(vipConn('10.0.1.9', 41000, '10.0.2.12', 10).frames)).toEqual(
      new Array(5).fill('forwarded'),
    );
    const v = await s.json<{ reals: { activeConns: number; inactiveConns: number }[] }[]>('/vs');
    expect(v[0]!.reals.map((r) => [r.activeConns, r.inactiveConns])).toEqual([
      [0, 0],
      [1, 0],
    ]);
  });
});
