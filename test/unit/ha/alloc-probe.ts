/**
 * Run by alloc.test.ts in a child process (plain Node ESM through tsx, as in
 * production): exports, encodes, decodes and imports record updates of 1000
 * IPv4 sessions (TCP with window words, UDP, ICMP, DNAT'd TCP) a million
 * times after a warm-up. Prints the line "--- measured ---" before the
 * measured part and "imported N" after it; --trace-gc shows any scavenge.
 */
import { MAX_BODY } from '../../../src/ha/msg.js';
import { BodyWriter, decodeRecord, OP_UPDATE, SessionRecord } from '../../../src/ha/msg-records.js';
import { SyncTable } from '../../../src/ha/sessions.js';
import { Conntrack, defaultConntrackConfig } from '../../../src/session/conntrack.js';
import { F_ASSURED, F_DNAT } from '../../../src/session/table.js';
import { TCP_WORDS } from '../../../src/session/tcp-store.js';

const mk = () => new Conntrack({ ...defaultConntrackConfig(), maxSessions: 4096 });
const ct = mk();
const t = ct.table;
const ids: number[] = [];
const a4 = (v: number) => Uint32Array.of(0, 0, 0xffff, v >>> 0);
for (let i = 0; i < 1000; i++) {
  const kind = i % 4;
  const proto = kind === 1 ? 17 : kind === 2 ? 1 : 6;
  const c = a4(0x0a000000 + i);
  const s = a4(kind === 3 ? 0x0a000064 : 0xc6120000 + i);
  const r = kind === 3 ? a4(0x0a00020b) : s;
  const sp = 1024 + i;
  const oPorts = kind === 2 ? ((i << 16) | 8) >>> 0 : ((sp << 16) | 443) >>> 0;
  const rPorts = kind === 2 ? (i << 16) >>> 0 : ((443 << 16) | sp) >>> 0;
  const id = t.insert((((i % 3) << 8) | proto) >>> 0, c, s, oPorts, r, c, rPorts, 0);
  t.setFlags(id, t.flags(id) | F_ASSURED | (kind === 3 ? F_DNAT : 0));
  t.setAux(id, kind === 3 ? 1 : 0xffff);
  t.setExpires(id, 1_767_225_600_000 + 3_600_000);
  ct.wheel.schedule(id);
  for (let w = 0; w < TCP_WORDS; w++) ct.tcp.data[id * TCP_WORDS + w] = (i * 2654435761 + w * 97) >>> 0;
  ids.push(id);
}
const src = new SyncTable(ct, 1);
const dst = new SyncTable(mk(), 2);
const rec = new SessionRecord();
const back = new SessionRecord();
const w = new BodyWriter(MAX_BODY);
let now = 1_767_225_600_000; // wall-clock-sized times, as a live device has
const round = (): void => {
  now += 1;
  for (const id of ids) {
    src.touch(id, now);
    src.exportSession(id, OP_UPDATE, now, rec);
    w.reset();
    w.add(rec);
    decodeRecord(w.view, 0, back);
    dst.importRecord(back, now, 7);
  }
};
for (let i = 0; i < 300; i++) round();
(globalThis as { gc?: () => void }).gc?.();
console.log('--- measured ---');
for (let i = 0; i < 1000; i++) round();
console.log(`imported ${dst.imported[0]! + dst.imported[1]!}`);
