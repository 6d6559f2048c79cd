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
 * an open-addressing hash table, a BlockPool of floor(maxBytes / 256) blocks
 * holding the fragment frames, and two output buffers. Nothing is allocated
 * per fragment.
 */
import type { Packet } from '../wire/packet.js';
import { BlockPool } from './reassembly-pool.js';
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
  private readonly maxFrags: number;
  private readonly minFrag: number;
  private readonly seed: number;

  // ---- slots (one per partial datagram) ----
  private readonly sAddr: Uint32Array; // 8 words: src, dst
  private readonly sId: Uint32Array;
  private readonly sVP: Int32Array; // version << 8 | protocol (IPv6: 0)
  private readonly sHash: Uint32Array;
  private readonly sBorn: Float64Array;
  private readonly sTotal: Int32Array; // fragmentable length once the last fragment is in, else -1
  private readonly sRecv: Int32Array; // payload bytes held
  private readonly sMaxEnd: Int32Array;
  private readonly sCount: Int32Array;
  private readonly sFrameBytes: Int32Array;
  private readonly sBlocks: Int32Array;
  private readonly sFirst: Int32Array; // index of the offset-0 fragment, -1
  private readonly sL3: Int32Array; // of the first fragment, from its frame start
  private readonly sHdr: Int32Array; // bytes of the first fragment kept as header (IPv6: up to the Fragment header)
  private readonly sPrev: Int32Array; // age list (oldest first)
  private readonly sNext: Int32Array;
  private head = -1;
  private tail = -1;
  private readonly freeSlots: Int32Array;
  private freeTop: number;

  // ---- fragments: slot s, fragment j at s * maxFrags + j ----
  private readonly fBlock: Int32Array;
  private readonly fFrame: Int32Array;
  private readonly fPay: Int32Array;
  private readonly fOff: Int32Array;
  private readonly fLen: Int32Array;
  private readonly fMf: Uint8Array;

  // ---- hash table: slot + 1, 0 empty; linear probing, backward-shift deletion ----
  private readonly table: Int32Array;
  private readonly mask: number;

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
    this.seed = c.hashSeed | 0;
    this.pool = new BlockPool(c.maxBytes, BLOCK);
    this.frameBudget = 65535 + F * HDR_BUDGET;

    this.datagram = new Uint8Array(this.frameBudget);
    this.fragBuf = new Uint8Array(this.frameBudget);
    this.fragOff = new Int32Array(F);
    this.fragLen = new Int32Array(F);

    this.sAddr = new Uint32Array(S * 8);
    this.sId = new Uint32Array(S);
    this.sVP = new Int32Array(S);
    this.sHash = new Uint32Array(S);
    this.sBorn = new Float64Array(S);
    this.sTotal = new Int32Array(S);
    this.sRecv = new Int32Array(S);
    this.sMaxEnd = new Int32Array(S);
    this.sCount = new Int32Array(S);
    this.sFrameBytes = new Int32Array(S);
    this.sBlocks = new Int32Array(S);
    this.sFirst = new Int32Array(S);
    this.sL3 = new Int32Array(S);
    this.sHdr = new Int32Array(S);
    this.sPrev = new Int32Array(S);
    this.sNext = new Int32Array(S);
    this.freeSlots = new Int32Array(S);
    for (let i = 0; i < S; i++) this.freeSlots[i] = S - 1 - i;
    this.freeTop = S;

    this.fBlock = new Int32Array(S * F);
    this.fFrame = new Int32Array(S * F);
    this.fPay = new Int32Array(S * F);
    this.fOff = new Int32Array(S * F);
    this.fLen = new Int32Array(S * F);
    this.fMf = new Uint8Array(S * F);

    let size = 16;
    while (size < S * 2) size <<= 1;
    this.table = new Int32Array(size);
    this.mask = size - 1;

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

    const h = this.hashKey(pkt);
    let s = this.lookup(pkt, h);

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
      const n = this.sCount[s];
      const total = this.sTotal[s];
      if (n >= F) return this.kill(s, FRAG_TOO_MANY, 1);
      if (!mf) {
        if ((total >= 0 && end !== total) || end < this.sMaxEnd[s]) return this.kill(s, FRAG_MALFORMED, 1);
      } else if (total >= 0 && end > total) {
        return this.kill(s, FRAG_MALFORMED, 1);
      }
      const mfBit = mf ? 1 : 0;
      for (let j = 0; j < n; j++) {
        const fo = this.fOff[b + j];
        const fl = this.fLen[b + j];
        if (off < fo + fl && fo < end) {
          if (
            fo === off &&
            fl === len &&
            this.fMf[b + j] === mfBit &&
            pool.equals(this.fBlock[b + j], this.fPay[b + j], len, buf, payStart)
          ) {
            return this.refuse(FRAG_DUPLICATE);
          }
          return this.kill(s, FRAG_OVERLAP, 1);
        }
      }
      if (this.sFrameBytes[s] + frameLen > this.frameBudget) return this.kill(s, FRAG_OVERSIZE, 1);
      if (this.sBlocks[s] + nb > pool.blockCount) return this.kill(s, FRAG_NO_MEMORY, 1);
      while (pool.freeBlocks < nb) if (!this.evictOldest(s)) return this.kill(s, FRAG_NO_MEMORY, 1);
    } else {
      if (frameLen > this.frameBudget) return this.refuse(FRAG_OVERSIZE);
      if (nb > pool.blockCount) return this.refuse(FRAG_NO_MEMORY);
      while (pool.freeBlocks < nb) if (!this.evictOldest(-1)) return this.refuse(FRAG_NO_MEMORY);
      s = this.create(pkt, h, nowMs);
    }

    // Store the frame.
    const j = this.sCount[s]++;
    const i = s * this.maxFrags + j;
    this.fBlock[i] = pool.store(buf, base, frameLen);
    this.fFrame[i] = frameLen;
    this.fPay[i] = payStart - base;
    this.fOff[i] = off;
    this.fLen[i] = len;
    this.fMf[i] = mf ? 1 : 0;
    this.sFrameBytes[s] += frameLen;
    this.sBlocks[s] += nb;
    this.sRecv[s] += len;
    if (end > this.sMaxEnd[s]) this.sMaxEnd[s] = end;
    if (!mf) this.sTotal[s] = end;
    if (off === 0) {
      this.sFirst[s] = j;
      this.sL3[s] = pkt.l3Off - base;
      this.sHdr[s] = (v === 4 ? payStart : pkt.ip6FragOff) - base;
    }
    this.stats.heldFragments++;
    this.stats.heldBytes = (pool.blockCount - pool.freeBlocks) * BLOCK;

    // No overlaps and nothing beyond the end, so the bytes add up only when every hole is filled.
    if (this.sTotal[s] >= 0 && this.sRecv[s] === this.sTotal[s]) return this.complete(s);
    return FRAG_HELD;
  }

  /** Drop partial datagrams whose first fragment is timeoutMs old or older; returns how many. */
  expire(nowMs: number): number {
    let n = 0;
    const limit = this.cfg.timeoutMs;
    while (this.head >= 0 && nowMs - this.sBorn[this.head] >= limit) {
      this.kill(this.head, FRAG_TIMEOUT, 0);
      n++;
    }
    return n;
  }

  // ------------------------------------------------------------------------

  private complete(s: number): number {
    const F = this.maxFrags;
    const b = s * F;
    const n = this.sCount[s];
    const pool = this.pool;
    const fragBuf = this.fragBuf;
    let p = 0;
    for (let j = 0; j < n; j++) {
      const fl = this.fFrame[b + j];
      pool.read(this.fBlock[b + j], 0, fl, fragBuf, p);
      this.fragOff[j] = p;
      this.fragLen[j] = fl;
      p += fl;
    }
    const first = this.sFirst[s];
    const hdr = this.sHdr[s];
    const l3 = this.sL3[s];
    const total = this.sTotal[s];
    const fb = this.fragOff[first];
    const d = this.datagram;
    d.set(fragBuf.subarray(fb, fb + hdr), 0);
    for (let j = 0; j < n; j++) {
      const src = this.fragOff[j] + this.fPay[b + j];
      d.set(fragBuf.subarray(src, src + this.fLen[b + j]), hdr + this.fOff[b + j]);
    }
    const ipv6 = this.sVP[s] >>> 8 === 6;
    this.fragCount = n;
    this.release(s);
    return this.finish(ipv6, l3, hdr, fragBuf[fb + hdr], total);
  }

  /** An offset-0, last fragment: a datagram on its own (RFC 6946). */
  private atomic(pkt: Packet, frameLen: number, payStart: number, len: number): number {
    if (frameLen > this.fragBuf.length) return this.refuse(FRAG_OVERSIZE);
    const base = pkt.base;
    const fragBuf = this.fragBuf;
    fragBuf.set(pkt.buf.subarray(base, base + frameLen), 0);
    this.fragOff[0] = 0;
    this.fragLen[0] = frameLen;
    this.fragCount = 1;
    const ipv6 = pkt.ipVersion === 6;
    const hdr = (ipv6 ? pkt.ip6FragOff : payStart) - base;
    const p = payStart - base;
    this.datagram.set(fragBuf.subarray(0, hdr), 0);
    this.datagram.set(fragBuf.subarray(p, p + len), hdr);
    this.stats.atomic++;
    return this.finish(ipv6, pkt.l3Off - base, hdr, fragBuf[hdr], len);
  }

  /** Fix the IP header of `datagram` (header bytes [0, hdr), payload of `total` after it). */
  private finish(ipv6: boolean, l3: number, hdr: number, nextHeader: number, total: number): number {
    const d = this.datagram;
    if (ipv6) {
      if (!finishIpv6(d, l3, hdr, nextHeader, total)) {
        this.fragCount = 0;
        return this.refuse(FRAG_MALFORMED);
      }
    } else {
      finishIpv4(d, l3, hdr - l3, total);
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
    this.stats.droppedFragments += this.sCount[s] + extra;
    this.release(s);
    return code;
  }

  /** Evict the oldest partial datagram other than `except`; false when there is none. */
  private evictOldest(except: number): boolean {
    let s = this.head;
    if (s === except) s = this.sNext[s];
    if (s < 0) return false;
    this.kill(s, FRAG_NO_MEMORY, 0);
    return true;
  }

  private create(pkt: Packet, h: number, nowMs: number): number {
    if (this.freeTop === 0) this.evictOldest(-1);
    const s = this.freeSlots[--this.freeTop];
    const a = s * 8;
    for (let k = 0; k < 4; k++) {
      this.sAddr[a + k] = pkt.src[k];
      this.sAddr[a + 4 + k] = pkt.dst[k];
    }
    this.sId[s] = keyId(pkt);
    this.sVP[s] = keyVP(pkt);
    this.sHash[s] = h;
    this.sBorn[s] = nowMs;
    this.sTotal[s] = -1;
    this.sRecv[s] = 0;
    this.sMaxEnd[s] = 0;
    this.sCount[s] = 0;
    this.sFrameBytes[s] = 0;
    this.sBlocks[s] = 0;
    this.sFirst[s] = -1;
    // Age list: append at the tail.
    this.sPrev[s] = this.tail;
    this.sNext[s] = -1;
    if (this.tail >= 0) this.sNext[this.tail] = s;
    else this.head = s;
    this.tail = s;
    // Hash table: first empty bucket from home.
    let i = h & this.mask;
    while (this.table[i] !== 0) i = (i + 1) & this.mask;
    this.table[i] = s + 1;
    this.stats.held++;
    return s;
  }

  /** Free slot s: its blocks, its bucket, its place in the age list. */
  private release(s: number): void {
    const F = this.maxFrags;
    const b = s * F;
    const n = this.sCount[s];
    for (let j = 0; j < n; j++) this.pool.release(this.fBlock[b + j]);
    this.sCount[s] = 0;
    // Hash table: find the bucket, then shift later members of the cluster back.
    const mask = this.mask;
    const t = this.table;
    let i = this.sHash[s] & mask;
    while (t[i] !== s + 1) i = (i + 1) & mask;
    let j = i;
    for (;;) {
      j = (j + 1) & mask;
      if (t[j] === 0) break;
      const k = this.sHash[t[j] - 1] & mask;
      // Move t[j] into the hole at i unless its home k lies cyclically in (i, j].
      if (i <= j ? i < k && k <= j : i < k || k <= j) continue;
      t[i] = t[j];
      i = j;
    }
    t[i] = 0;
    // Age list.
    const p = this.sPrev[s];
    const q = this.sNext[s];
    if (p >= 0) this.sNext[p] = q;
    else this.head = q;
    if (q >= 0) this.sPrev[q] = p;
    else this.tail = p;
    this.freeSlots[this.freeTop++] = s;
    this.stats.held--;
    this.stats.heldFragments -= n;
    this.stats.heldBytes = (this.pool.blockCount - this.pool.freeBlocks) * BLOCK;
  }

  private lookup(pkt: Packet, h: number): number {
    const mask = this.mask;
    const t = this.table;
    const id = keyId(pkt);
    const vp = keyVP(pkt);
    const src = pkt.src;
    const dst = pkt.dst;
    const a = this.sAddr;
    for (let i = h & mask; t[i] !== 0; i = (i + 1) & mask) {
      const s = t[i] - 1;
      if (this.sHash[s] !== h || this.sId[s] !== id || this.sVP[s] !== vp) continue;
      const o = s * 8;
      if (
        a[o] === src[0] &&
        a[o + 1] === src[1] &&
        a[o + 2] === src[2] &&
        a[o + 3] === src[3] &&
        a[o + 4] === dst[0] &&
        a[o + 5] === dst[1] &&
        a[o + 6] === dst[2] &&
        a[o + 7] === dst[3]
      ) {
        return s;
      }
    }
    return -1;
  }

  private hashKey(pkt: Packet): number {
    let h = mix(this.seed, keyVP(pkt));
    h = mix(h, keyId(pkt));
    const src = pkt.src;
    const dst = pkt.dst;
    h = mix(h, src[0]);
    h = mix(h, src[1]);
    h = mix(h, src[2]);
    h = mix(h, src[3]);
    h = mix(h, dst[0]);
    h = mix(h, dst[1]);
    h = mix(h, dst[2]);
    h = mix(h, dst[3]);
    h ^= h >>> 16;
    h = Math.imul(h, 0x85ebca6b);
    h ^= h >>> 13;
    return h >>> 0;
  }
}

function keyId(pkt: Packet): number {
  return pkt.ipVersion === 4 ? pkt.ipId & 0xffff : pkt.ipId >>> 0;
}

function keyVP(pkt: Packet): number {
  return pkt.ipVersion === 4 ? (4 << 8) | (pkt.l4Proto & 0xff) : 6 << 8;
}

function mix(h: number, w: number): number {
  h = Math.imul(h ^ w, 0x9e3779b1);
  return h ^ (h >>> 15);
}

function checkInt(name: string, v: number, min: number, max: number): void {
  if (!Number.isInteger(v) || v < min || v > max) {
    throw new RangeError(`${name} must be an integer in [${min}, ${max}], got ${v}`);
  }
}
