/**
 * The pipeline's entry: one call per frame, no allocation on the way: decode
 * into one reused Packet, the router's and HA's ingress stages, reassembly of
 * fragments, then the session stages (core.ts). Every frame ends with one
 * verdict and, when dropped, one reason from the closed list. Pure: the
 * clock is passed in, output goes to an injected sink.
 */
import type { DeviceConfig } from '../config/types.js';
import { FRAG_CODE_NAMES, FRAG_COMPLETE, FRAG_HELD } from '../l3/reassembly.js';
import { ADDR_OWN } from '../l3/routes.js';
import type { HealthProbes } from '../lb/probes.js';
import {
  R_NON_IP,
  R_NOT_OUR_MAC,
  R_PEER_NOT_TRUSTED,
  R_TO_DEVICE,
  reasonCode,
  type ReasonName,
} from '../session/reasons.js';
import { EXPIRES_OFFSET, EXPIRES_STRIDE, F_DNAT, F_SNAT, F_V6 } from '../session/table.js';
import { decodeFrame, decodeIp } from '../wire/decode.js';
import { FastSegment, readSegment } from '../wire/fast-segment.js';
import { ETH_ARP, LINKTYPE_ETHERNET, Packet, PROTO_TCP } from '../wire/packet.js';
import { DeviceCore } from './core.js';
import { SyncStage } from './sync-stage.js';
import { HA_DECAP, HA_SYNC, HA_UNTRUSTED } from './ha-stage.js';
import { reloadDevice, type ReloadSummary } from './reload.js';
import { IN_CONSUMED, IN_TO_DEVICE } from './route-stage.js';
import { V_CONSUMED, V_FORWARDED, V_HELD } from './verdict.js';

/** fast(): not a frame it takes; nothing was changed. */
const NOT_FAST = -1;

function fastNatPacket(): Packet {
  const q = new Packet();
  q.ipVersion = 4;
  q.src.set([0, 0, 0xffff, 0]);
  q.dst.set([0, 0, 0xffff, 0]);
  return q;
}

export type { FrameSink } from './core.js';

/** Timer granularity of the device clock (the timing wheel's tick). */
const TICK_MS = 100;

/** Reassembly result codes mapped to drop reasons (0 for held/complete). */
const FRAG_REASON = Int32Array.from(FRAG_CODE_NAMES, (n) =>
  n === 'frag-held' || n === 'frag-complete' ? 0 : reasonCode(n as ReasonName),
);

export class Device extends DeviceCore {
  private readonly pkt = new Packet();
  private readonly inner = new Packet();
  private readonly frag = new Packet();
  private readonly seg = new FastSegment();
  /** The few fields of a packet the fast path's NAT reads (an IPv4 TCP/UDP packet, whole). */
  private readonly natPkt = fastNatPacket();
  /** Off only to compare the two paths (tests, benches). */
  fastPath = true;
  /** Frames the session fast path forwarded (a part of stats.verdicts' forwarded). */
  fastFrames = 0;
  private readonly tmpAddr = new Uint32Array([0, 0, 0xffff, 0]);
  private nextTick = -Infinity;
  /** The offload header of the frame the next process() call gets (see offloaded()). */
  private rxVnet = 0;
  private rxCsum = 0;
  /** The time of the frame processAtClock() gets next (ms). */
  clock = 0;
  /** The time of the frame being processed (ms; the device clock `now` never goes back). */
  private frameTime = 0;

  /**
   * Moves the device clock: expires sessions and stale fragments due by then.
   * A session's lifetime is exact regardless (a lookup finds an expired
   * session gone); this reclaims them, at most one timer tick late.
   */
  advance(nowMs: number): void {
    if (nowMs < this.now) return;
    this.now = nowMs;
    this.nextTick = (Math.floor(nowMs / TICK_MS) + 1) * TICK_MS;
    this.ct.advance(nowMs);
    this.reasm.expire(nowMs);
  }

  /** Timers of a live device (call every ~100 ms): sessions, fragments, neighbour resolution, health probes. */
  tick(nowMs: number): void {
    if (nowMs >= this.nextTick) this.advance(nowMs);
    if (this.rs) this.rs.tick(nowMs);
    if (this.probes) this.probes.tick(this.lb.vs, nowMs);
    if (this.sync) this.sync.tick(nowMs);
  }

  /** End of a batch of frames (live): what the batch left pending goes out (sync updates, acks). */
  endBatch(nowMs: number): void {
    if (this.sync) this.sync.flush(nowMs);
  }

  /**
   * Live only, ha mode sync: session sync with the peers over the ha link.
   * `epochMs` marks this run (the wall clock at start: larger after every
   * restart, so peers see one). Replay never syncs.
   */
  enableSync(epochMs: number): SyncStage | null {
    const ha = this.cfg.ha;
    if (!this.sync && ha && ha.mode === 'sync' && this.rs)
      this.sync = new SyncStage(
        ha,
        this.cfg.ports,
        this.ct,
        this.rs.router,
        (port, buf, off, len) => this.emit(port, buf, off, len),
        epochMs,
      );
    return this.sync;
  }

  /** Live only (replay keeps health as configured): probes reals of `health-check` servers; router mode. */
  enableHealthChecks(seed?: number): HealthProbes | null {
    if (this.rs && !this.probes) this.probes = this.rs.enableProbes(seed);
    return this.probes;
  }

  /**
   * Live, from a TAP with offloads: the frame of the next process() call came
   * with this virtio_net_hdr (packed as in src/wire/offload.ts).
   */
  offloaded(vnet: number, csum: number): void {
    this.rxVnet = vnet;
    this.rxCsum = csum;
  }

  /** Applies a new config without losing a session (reload.ts); throws ReloadRefused, changing nothing. */
  reload(next: DeviceConfig): ReloadSummary {
    return reloadDevice(this, next, (port, buf, off, len) => this.emit(port, buf, off, len));
  }

  /**
   * Processes one frame that arrived at `nowMs` (capture interface `iface`,
   * -1 when none). Returns the verdict; `reason`, `session` and `outPort`
   * describe it. `wireLen`: the frame's length on the wire when a capture's
   * snaplen cut it to `len` (see decodeFrame); sessions count wire bytes.
   */
  process(
    buf: Uint8Array,
    off: number,
    len: number,
    linkType: number,
    iface: number,
    nowMs: number,
    wireLen = len,
  ): number {
    this.clock = nowMs;
    return this.processAtClock(buf, off, len, linkType, iface, wireLen);
  }

  /**
   * process() at the time in `clock` (ms). Loops that cannot count on
   * process() being inlined set the field and call this: a double passed as an
   * argument to a call that is not inlined is a new heap number per frame.
   */
  processAtClock(
    buf: Uint8Array,
    off: number,
    len: number,
    linkType: number,
    iface: number,
    wireLen = len,
  ): number {
    const nowMs = this.clock;
    this.frameTime = nowMs;
    // Timers run once per tick, not per packet; the clock itself moves every packet.
    if (nowMs >= this.nextTick) this.advance(nowMs);
    else if (nowMs > this.now) this.now = nowMs;
    if (this.fastPath) {
      const v = this.fast(buf, off, len, linkType, wireLen);
      if (v !== NOT_FAST) return v;
    }
    return this.frame(buf, off, len, linkType, iface, wireLen);
  }

  /**
   * The session fast path: an ordinary packet of an established flow
   * (readSegment's frame shape) that its session passes (for TCP the
   * tracker's fast case, tcpFastAck; any UDP packet of a session), with its
   * IPv4 NAT if it has one, is forwarded here with none of the general decode
   * and stages. Exactly what frame() would do with it
   * (test/unit/device/fast-path.test.ts replays captures both ways and
   * compares everything). NOT_FAST, having changed nothing, for any other
   * frame, and whenever a stage that needs the general path is on: router
   * mode, ha, offload metadata, a trace, checksum verification.
   */
  private fast(buf: Uint8Array, off: number, len: number, linkType: number, wireLen: number): number {
    if (
      linkType !== LINKTYPE_ETHERNET ||
      wireLen > len ||
      this.rs !== null ||
      this.ha !== null ||
      this.sync !== null ||
      this.tracer !== null ||
      this.rxVnet !== 0 ||
      this.cfg.verifyChecksums
    )
      return NOT_FAST;
    const s = this.seg;
    if (readSegment(buf, off, off + len, s) !== 0) return NOT_FAST;
    const ct = this.ct;
    const t = ct.table;
    const zp = ((ct.cfg.zoneByVlan ? s.vlan : 0) << 8) | s.proto;
    const e = s.v6 ? t.lookup(zp, s.src6, s.dst6, s.ports) : t.lookup4(zp, s.src, s.dst, s.ports);
    if (e < 0) return NOT_FAST;
    const id = e >> 1;
    if (t.f64[id * EXPIRES_STRIDE + EXPIRES_OFFSET]! <= this.now) return NOT_FAST;
    const flags = t.flags(id);
    const nat = flags & (F_DNAT | F_SNAT);
    // NAT here is Nat.rewrite's IPv4 case: IPv6, or a session kept in the IPv6 slab, takes the general path.
    if (nat !== 0 && (s.v6 || (flags & F_V6) !== 0)) return NOT_FAST;
    ct.now = this.now;
    if (s.proto !== PROTO_TCP) ct.trackUdp(e, len);
    else if (!ct.trackFastAck(e, s, len)) return NOT_FAST;
    // The NAT of hit(): Nat.rewrite's IPv4 case reads these fields only.
    if (nat !== 0) {
      const q = this.natPkt;
      q.buf = buf;
      q.l3Off = s.l3;
      q.l4Off = s.l4;
      q.ipEnd = s.ipEnd;
      q.l4Proto = s.proto;
      q.src[3] = s.src;
      q.dst[3] = s.dst;
      q.srcPort = s.ports >>> 16;
      q.dstPort = s.ports & 0xffff;
      this.nat.rewrite(t, e, q);
    }
    // What frame(), judge(), hit(), out() and end() leave for such a frame.
    const st = this.stats;
    st.packetsIn++;
    st.bytesIn += len;
    this.fastFrames++;
    this.redirected = false;
    this.decapsulated = false;
    this.deferTicket = -1;
    this.natted = nat !== 0;
    this.session = t.serial(id);
    const port = t.port(e);
    this.outPort = port;
    this.emit(port, buf, off, len);
    return this.end(V_FORWARDED, 0);
  }

  /** process() once the clock is set (`frameTime`: the frame's own time). */
  private frame(
    buf: Uint8Array,
    off: number,
    len: number,
    linkType: number,
    iface: number,
    wireLen: number,
  ): number {
    const st = this.stats;
    st.packetsIn++;
    st.bytesIn += len;
    this.redirected = this.decapsulated;
    this.deferTicket = -1;
    this.decapsulated = false;
    this.session = 0;
    this.outPort = -1;
    const p = this.pkt;
    const tr = this.tracer;
    if (tr) tr.begin(st.packetsIn, this.frameTime, iface);
    const vnet = this.rxVnet;
    if (vnet !== 0) this.rxVnet = 0;
    const err = decodeFrame(buf, off, len, linkType, p, wireLen);
    if (tr) tr.decoded(p);
    if (err !== 0) return this.drop(err);
    p.vnet = 0;
    if (vnet !== 0) {
      const r = this.offload.intake(p, off, vnet, this.rxCsum);
      if (r !== 0) return this.drop(r);
    }
    const rs = this.rs;
    const ha = this.ha;
    if (ha !== null && rs !== null && p.ipVersion !== 0) {
      const h = ha.ingress(p, rs.router.ports.kindOf(p.dst) === ADDR_OWN);
      if (h === HA_DECAP) {
        // The inner frame stands for itself: counted as the packet, not twice.
        st.packetsIn--;
        st.bytesIn -= len;
        this.decapsulated = true;
        return this.frame(buf, ha.innerOff, ha.innerLen, LINKTYPE_ETHERNET, ha.innerPort, ha.innerLen);
      }
      if (h === HA_SYNC) {
        if (this.sync) this.sync.receive(p.buf, p.payloadOff, p.payloadLen, this.frameTime);
        return this.end(V_CONSUMED, 0);
      }
      if (h === HA_UNTRUSTED) return this.drop(R_PEER_NOT_TRUSTED);
      if (!this.redirected && ha.fromPeerMac(buf, p.ethOff, iface)) this.redirected = true;
    }
    if (rs) {
      // A peer's tunnel carries frames as they were addressed to the peer.
      if (!this.redirected && rs.foreignMac(p, iface)) return this.drop(R_NOT_OUR_MAC);
      const b = rs.before(p, iface, this.now);
      if (b === IN_CONSUMED) {
        if (tr) tr.note('l3', 'for the device: answered (ARP/ND or ping)');
        return this.end(V_CONSUMED, 0);
      }
      if (b === IN_TO_DEVICE) return this.drop(R_TO_DEVICE);
      if (p.ipVersion === 0) return this.end(V_CONSUMED, 0);
    }
    if (p.ipVersion === 0) {
      if (p.etherType === ETH_ARP) {
        this.tmpAddr[3] = p.arpTpa;
        if (tr) tr.note('l2', 'arp: bridged');
        return this.forward(this.ports.egress(this.tmpAddr), buf, off, len);
      }
      return this.drop(R_NON_IP);
    }
    if (p.isFragment) return this.fragment(p, len, iface, linkType);
    return this.inspect(p, buf, off, len, iface, wireLen > len ? wireLen : len);
  }

  /** A fragment: held until its datagram is whole, then judged as the datagram. */
  private fragment(p: Packet, len: number, iface: number, linkType: number): number {
    const tr = this.tracer;
    const r = this.reasm.add(p, len, this.now);
    if (r === FRAG_HELD) {
      if (tr) tr.note('frag', 'held');
      return this.end(V_HELD, 0);
    }
    if (r !== FRAG_COMPLETE) return this.drop(FRAG_REASON[r]!);
    const ra = this.reasm;
    const q = this.inner;
    const err =
      linkType === LINKTYPE_ETHERNET || p.ethOff >= 0
        ? decodeFrame(ra.datagram, 0, ra.datagramLen, linkType, q)
        : decodeIp(ra.datagram, 0, ra.datagramLen, q);
    if (tr) tr.note('frag', `complete: ${ra.fragCount} fragments, ${ra.datagramLen} bytes`);
    if (err !== 0) return this.drop(err);
    const v = this.judge(q, ra.datagramLen, iface);
    if (v !== V_FORWARDED) return v;
    // NAT rewrote the reassembled datagram: send it whole (re-fragmenting to an egress MTU is
    // not done yet). Otherwise the fragments go out as they came.
    if (this.natted) return this.out(q, ra.datagram, 0, ra.datagramLen, iface);
    const f = this.frag;
    let last = V_FORWARDED;
    for (let i = 0; i < ra.fragCount; i++) {
      if (this.rs) decodeFrame(ra.fragBuf, ra.fragOff[i]!, ra.fragLen[i]!, linkType, f);
      last = this.out(f, ra.fragBuf, ra.fragOff[i]!, ra.fragLen[i]!, iface, i + 1 < ra.fragCount);
    }
    return last;
  }

  /** A whole (non-fragment) IP packet. */
  private inspect(
    p: Packet,
    buf: Uint8Array,
    off: number,
    len: number,
    iface: number,
    wireLen: number,
  ): number {
    const v = this.judge(p, wireLen, iface);
    if (v !== V_FORWARDED) return v;
    return this.out(p, buf, off, len, iface);
  }
}
