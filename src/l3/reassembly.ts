/**
 * IPv4 / IPv6 fragment reassembly before tracking and policy (as Linux
 * conntrack's nf_defrag does), bounded in memory and time.
 *
 * Policy (a firewall, so strict; see reassembly-codes.ts for the codes):
 * - Key: IP version, source, destination, identification, and for IPv4 the
 *   protocol. IPv6 leaves the protocol out (RFC 8200 §4.5: the Fragment
 *   headers' next-header values may differ; the first fragment's is used).
 * - Any overlap drops the whole datagram ('frag-overlap'; RFC 5722, applied to
 *   IPv4 too, as Linux has done since 2018). An exact retransmission (same
 *   offset, length, MF and bytes) is not an overlap: the copy is dropped with
 *   'frag-duplicate' and the datagram carries on.
 * - Any bad fragment of a datagram in progress (malformed, tiny, oversize, too
 *   many) drops the whole datagram with that reason; a bad fragment with no
 *   datagram in progress is refused on its own.
 * - An IPv6 atomic fragment (offset 0, M = 0) completes at once on its own
 *   and never touches a datagram in progress (RFC 6946).
 * - Time: a partial datagram lives timeoutMs from its first fragment (not
 *   refreshed by later ones, like Linux's ipfrag_time). add() expires stale
 *   datagrams first, so expire() need only be called when idle.
 * - Limits: when all maxDatagrams slots are busy, or the byte pool has too few
 *   free blocks for a new fragment, the OLDEST partial datagram is evicted and
 *   counted as 'frag-no-memory' (repeatedly, until the fragment fits), so a
 *   flood of incomplete datagrams cannot shut out new ones for timeoutMs (pf
 *   drops stale fragments similarly; Linux refuses new ones instead). Only a
 *   datagram that cannot fit even alone is refused with 'frag-no-memory'.
 *
 * Memory: everything is allocated in the constructor: per-slot and
 * per-fragment typed arrays (maxDatagrams × maxFragmentsPerDatagram records),
 * an open-addressing hash table (reassembly-table.ts), and one arena holding
 * a BlockPool of floor(maxBytes / 256) blocks for the held fragment frames
 * (charged by the block, so stats.heldBytes <= maxBytes always holds) plus
 * the two output buffers `fragBuf` and `datagram`, of 65535 + 256 ×
 * maxFragmentsPerDatagram bytes each: one datagram may hold at most that many
 * frame bytes ('frag-oversize' beyond). Nothing is allocated per fragment:
 * frames are copied in with a loop, and moved inside the arena with
 * copyWithin.
 */
import type { Packet } from '../wire/packet.js';
import { BlockPool, copyIn } from './reassembly-pool.js';
import { FragTable } from './reassembly-table.js';
import { checkFirstFragment, finishIpv4, finishIpv6 } from './reassembly-ip.js';
import {
  DEFAULT_REASSEMBLY_CONFIG,
  FRAG_CODE_NAMES,
  FRAG_COMPLETE,
  FRAG_DUPLICATE,
  FRAG_HELD,
  FRAG_MALFORMED,
  FRAG_NO_MEMORY,
  FRAG_OVERLAP,
  FRAG_OVERSIZE,
  FRAG_TIMEOUT,
  FRAG_TINY,
  FRAG_TOO_MANY,
  type FragDropName,
  type ReassemblyConfig,
  type ReassemblyStats,
} from './reassembly-codes.js';

export * from './reassembly-codes.js';

/** Pool block size. */
const BLOCK = 256;
/** Header bytes (L2 + IP + extension headers) allowed per fragment in a datagram's frame budget. */
const HDR_BUDGET = 256;

export class Reassembler {
  readonly cfg: Readonly<Required<ReassemblyConfig>>;
  readonly stats: ReassemblyStats;

  /** After FRAG_COMPLETE: the reassembled frame in [0, datagramLen). Valid until the next add(). */
  readonly datagram: Uint8Array;
  datagramLen = 0;
  /** After FRAG_COMPLETE: the original fragment frames in arrival order. Valid until the next add(). */
  fragCount = 0;
  readonly fragBuf: Uint8Array;
  readonly fragOff: Int32Array;
  readonly fragLen: Int32Array;

  private readonly pool: BlockPool;
  /** Most frame bytes one datagram may hold: 65535 of payload plus HDR_BUDGET per fragment. */
  private readonly frameBudget: number;
  /** One buffer: pool blocks, then fragBuf at fragBase, then datagram at dgBase. */
  private readonly arena: Uint8Array;
  private readonly fragBase: number;
  private readonly dgBase: number;
  private readonly maxFrags: number;
  private readonly minFrag: number;

  private readonly t: FragTable;

  constructor(cfg: Partial<ReassemblyConfig> = {}) {
    const c: Required<ReassemblyConfig> = { ...DEFAULT_REASSEMBLY_CONFIG };
    for (const k of Object.keys(cfg) as (keyof ReassemblyConfig)[]) {
      const v = cfg[k];
      if (v !== undefined) c[k] = v;
    }
    checkInt('maxDatagrams', c.maxDatagrams, 1, 1 << 20);
    checkInt('maxBytes', c.maxBytes, 4 * BLOCK, 2 ** 31 - 1);
    checkInt('maxFragmentsPerDatagram', c.maxFragmentsPerDatagram, 2, 8192);
    checkInt('minFragmentSize', c.minFragmentSize, 0, 65535);
    if (!(c.timeoutMs > 0)) throw new RangeError(`timeoutMs must be > 0, got ${c.timeoutMs}`);
    this.cfg = Object.freeze(c);

    const S = c.maxDatagrams;
    const F = c.maxFragmentsPerDatagram;
    this.maxFrags = F;
    this.minFrag = c.minFragmentSize;
    const blocks = Math.floor(c.maxBytes / BLOCK);
    this.frameBudget = 65535 + F * HDR_BUDGET;
    this.fragBase = blocks * BLOCK;
    this.dgBase = this.fragBase + this.frameBudget;
    this.arena = new Uint8Array(this.dgBase + this.frameBudget);
    this.pool = new BlockPool(this.arena, blocks, BLOCK);
    this.fragBuf = this.arena.subarray(this.fragBase, this.dgBase);
    this.datagram = this.arena.subarray(this.dgBase);
    this.fragOff = new Int32Array(F);
    this.fragLen = new Int32Array(F);

    this.t = new FragTable(S, F, c.hashSeed);

    const dropped = {} as Record<FragDropName, number>;
    for (let i = 2; i < FRAG_CODE_NAMES.length; i++) dropped[FRAG_CODE_NAMES[i] as FragDropName] = 0;
    this.stats = {
      held: 0,
      heldFragments: 0,
      heldBytes: 0,
      completed: 0,
      atomic: 0,
      dropped,
      droppedFragments: 0,
    };
  }

  /** Bytes the pool can hold (maxBytes rounded down to whole blocks). */
  get capacityBytes(): number {
    return this.pool.blockCount * BLOCK;
  }

  /**
   * Feed one fragment (decoded; pkt.buf[pkt.base, pkt.base + frameLen) is the
   * frame). Returns FRAG_HELD, FRAG_COMPLETE, or a drop code for this frame.
   */
  add(pkt: Packet, frameLen: number, nowMs: number): number {
    this.fragCount = 0;
    this.datagramLen = 0;
    this.expire(nowMs);

    const buf = pkt.buf;
    const base = pkt.base;
    const v = pkt.ipVersion;
    let payStart: number;
    let maxPayload: number;
    if (v === 4) {
      payStart = pkt.l3Off + pkt.ipHeaderLen;
      maxPayload = 65535 - pkt.ipHeaderLen;
    } else if (v === 6 && pkt.ip6FragOff >= 0) {
      payStart = pkt.ip6FragOff + 8;
      maxPayload = 65535 - (pkt.ip6FragOff - pkt.l3Off - 40);
    } else {
      return this.refuse(FRAG_MALFORMED);
    }
    const payEnd = pkt.ipEnd;
    const len = payEnd - payStart;
    if (len <= 0 || payStart < base || payEnd > base + frameLen || frameLen > buf.length - base) {
      return this.refuse(FRAG_MALFORMED);
    }
    const off = pkt.fragOffset;
    const mf = pkt.moreFragments;
    const end = off + len;
    if (off === 0 && !mf) return this.atomic(pkt, frameLen, payStart, len);

    const t = this.t;
    const h = t.hashKey(pkt);
    let s = t.lookup(pkt, h);

    let code = 0;
    if (mf && (len & 7) !== 0) code = FRAG_MALFORMED;
    else if (mf && len < this.minFrag) code = FRAG_TINY;
    else if (end > maxPayload) code = FRAG_OVERSIZE;
    else if (off === 0) {
      const proto = v === 4 ? pkt.l4Proto : buf[pkt.ip6FragOff];
      code = checkFirstFragment(buf, proto, v === 6, payStart, payEnd);
    }
    if (code !== 0) return s >= 0 ? this.kill(s, code, 1) : this.refuse(code);

    const pool = this.pool;
    const nb = pool.blocksFor(frameLen);
    if (s >= 0) {
      const F = this.maxFrags;
      const b = s * F;
      const n = t.sCount[s];
      const total = t.sTotal[s];
      if (n >= F) return this.kill(s, FRAG_TOO_MANY, 1);
      if (!mf) {
        if ((total >= 0 && end !== total) || end < t.sMaxEnd[s]) return this.kill(s, FRAG_MALFORMED, 1);
      } else if (total >= 0 && end > total) {
        return this.kill(s, FRAG_MALFORMED, 1);
      }
      const mfBit = mf ? 1 : 0;
      for (let j = 0; j < n; j++) {
        const fo = t.fOff[b + j];
        const fl = t.fLen[b + j];
        if (off < fo + fl && fo < end) {
          if (
            fo === off &&
            fl === len &&
            t.fMf[b + j] === mfBit &&
            pool.equals(t.fBlock[b + j], t.fPay[b + j], len, buf, payStart)
          ) {
            return this.refuse(FRAG_DUPLICATE);
          }
          return this.kill(s, FRAG_OVERLAP, 1);
        }
      }
      if (t.sFrameBytes[s] + frameLen > this.frameBudget) return this.kill(s, FRAG_OVERSIZE, 1);
      if (t.sBlocks[s] + nb > pool.blockCount) return this.kill(s, FRAG_NO_MEMORY, 1);
      while (pool.freeBlocks < nb) if (!this.evictOldest(s)) return this.kill(s, FRAG_NO_MEMORY, 1);
    } else {
      if (frameLen > this.frameBudget) return this.refuse(FRAG_OVERSIZE);
      if (nb > pool.blockCount) return this.refuse(FRAG_NO_MEMORY);
      while (pool.freeBlocks < nb) if (!this.evictOldest(-1)) return this.refuse(FRAG_NO_MEMORY);
      if (t.full) this.evictOldest(-1);
      s = t.create(pkt, h, nowMs);
      this.stats.held++;
    }

    // Store the frame.
    const j = t.sCount[s]++;
    const i = s * this.maxFrags + j;
    t.fBlock[i] = pool.store(buf, base, frameLen);
    t.fFrame[i] = frameLen;
    t.fPay[i] = payStart - base;
    t.fOff[i] = off;
    t.fLen[i] = len;
    t.fMf[i] = mf ? 1 : 0;
    t.sFrameBytes[s] += frameLen;
    t.sBlocks[s] += nb;
    t.sRecv[s] += len;
    if (end > t.sMaxEnd[s]) t.sMaxEnd[s] = end;
    if (!mf) t.sTotal[s] = end;
    if (off === 0) {
      t.sFirst[s] = j;
      t.sL3[s] = pkt.l3Off - base;
      t.sHdr[s] = (v === 4 ? payStart : pkt.ip6FragOff) - base;
    }
    this.stats.heldFragments++;
    this.stats.heldBytes = (pool.blockCount - pool.freeBlocks) * BLOCK;

    // No overlaps and nothing beyond the end, so the bytes add up only when every hole is filled.
    if (t.sTotal[s] >= 0 && t.sRecv[s] === t.sTotal[s]) return this.complete(s);
    return FRAG_HELD;
  }

  /** Drop partial datagrams whose first fragment is timeoutMs old or older; returns how many. */
  expire(nowMs: number): number {
    let n = 0;
    const limit = this.cfg.timeoutMs;
    const t = this.t;
    while (t.head >= 0 && nowMs - t.sBorn[t.head] >= limit) {
      this.kill(t.head, FRAG_TIMEOUT, 0);
      n++;
    }
    return n;
  }

  // ------------------------------------------------------------------------

  private complete(s: number): number {
    const t = this.t;
    const F = this.maxFrags;
    const b = s * F;
    const n = t.sCount[s];
    const pool = this.pool;
    const fragBase = this.fragBase;
    let p = 0;
    for (let j = 0; j < n; j++) {
      const fl = t.fFrame[b + j];
      pool.read(t.fBlock[b + j], 0, fl, fragBase + p);
      this.fragOff[j] = p;
      this.fragLen[j] = fl;
      p += fl;
    }
    const first = t.sFirst[s];
    const hdr = t.sHdr[s];
    const l3 = t.sL3[s];
    const total = t.sTotal[s];
    const fb = fragBase + this.fragOff[first];
    const a = this.arena;
    const dg = this.dgBase;
    a.copyWithin(dg, fb, fb + hdr);
    for (let j = 0; j < n; j++) {
      const from = fragBase + this.fragOff[j] + t.fPay[b + j];
      a.copyWithin(dg + hdr + t.fOff[b + j], from, from + t.fLen[b + j]);
    }
    const ipv6 = t.sVP[s] >>> 8 === 6;
    this.fragCount = n;
    this.release(s);
    return this.finish(ipv6, l3, hdr, a[fb + hdr], total);
  }

  /** An offset-0, last fragment: a datagram on its own (RFC 6946). */
  private atomic(pkt: Packet, frameLen: number, payStart: number, len: number): number {
    if (frameLen > this.frameBudget) return this.refuse(FRAG_OVERSIZE);
    const base = pkt.base;
    const a = this.arena;
    const fb = this.fragBase;
    const dg = this.dgBase;
    copyIn(pkt.buf, base, a, fb, frameLen);
    this.fragOff[0] = 0;
    this.fragLen[0] = frameLen;
    this.fragCount = 1;
    const ipv6 = pkt.ipVersion === 6;
    const hdr = (ipv6 ? pkt.ip6FragOff : payStart) - base;
    const p = fb + payStart - base;
    a.copyWithin(dg, fb, fb + hdr);
    a.copyWithin(dg + hdr, p, p + len);
    this.stats.atomic++;
    return this.finish(ipv6, pkt.l3Off - base, hdr, a[fb + hdr], len);
  }

  /**
   * Fix the IP header of `datagram` (header bytes [0, hdr), `total` payload
   * bytes after it). The first fragment's header decides the final length, so
   * the 65535 limit is checked again here.
   */
  private finish(ipv6: boolean, l3: number, hdr: number, nextHeader: number, total: number): number {
    const d = this.datagram;
    const frames = this.fragCount;
    let code = 0;
    if (hdr - l3 - (ipv6 ? 40 : 0) + total > 65535) code = FRAG_OVERSIZE;
    else if (ipv6) code = finishIpv6(d, l3, hdr, nextHeader, total) ? 0 : FRAG_MALFORMED;
    else finishIpv4(d, l3, hdr - l3, total);
    if (code !== 0) {
      this.fragCount = 0;
      this.stats.dropped[FRAG_CODE_NAMES[code] as FragDropName]++;
      this.stats.droppedFragments += frames;
      return code;
    }
    this.datagramLen = hdr + total;
    this.stats.completed++;
    return FRAG_COMPLETE;
  }

  /** Count a refused lone frame. */
  private refuse(code: number): number {
    this.stats.dropped[FRAG_CODE_NAMES[code] as FragDropName]++;
    this.stats.droppedFragments++;
    return code;
  }

  /** Drop datagram s (and `extra` frames not stored) for `code`. */
  private kill(s: number, code: number, extra: number): number {
    this.stats.dropped[FRAG_CODE_NAMES[code] as FragDropName]++;
    this.stats.droppedFragments += this.t.sCount[s] + extra;
    this.release(s);
    return code;
  }

  /** Evict the oldest partial datagram other than `except`; false when there is none. */
  private evictOldest(except: number): boolean {
    const t = this.t;
    let s = t.head;
    if (s === except) s = t.sNext[s];
    if (s < 0) return false;
    this.kill(s, FRAG_NO_MEMORY, 0);
    return true;
  }

  /** Free slot s and its blocks. */
  private release(s: number): void {
    const t = this.t;
    const b = s * this.maxFrags;
    const n = t.sCount[s];
    for (let j = 0; j < n; j++) this.pool.release(t.fBlock[b + j]);
    t.remove(s);
    this.stats.held--;
    this.stats.heldFragments -= n;
    this.stats.heldBytes = (this.pool.blockCount - this.pool.freeBlocks) * BLOCK;
  }
}

function checkInt(name: string, v: number, min: number, max: number): void {
  if (!Number.isInteger(v) || v < min || v > max) {
    throw new RangeError(`${name} must be an integer in [${min}, ${max}], got ${v}`);
  }
}
