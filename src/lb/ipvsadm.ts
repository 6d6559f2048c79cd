/**
 * Virtual servers printed the way `ipvsadm -Ln` prints them, and as plain JSON.
 *
 * Layout (learned from ipvsadm's list output and its print formats; no code
 * copied):
 *
 *     IP Virtual Server version 1.2.1 (size=4096)
 *     Prot LocalAddress:Port Scheduler Flags
 *       -> RemoteAddress:Port           Forward Weight ActiveConn InActConn
 *     TCP  10.0.0.100:80 rr persistent 300
 *       -> 10.0.2.11:8080               Masq    1      0          0
 *
 * - Service line: protocol, two spaces, `addr:port` (IPv6 in brackets:
 *   `[fd00::100]:80`), one space, scheduler, then the flags: ` persistent N`
 *   when `persistentSec` is set. As ipvsadm does for IPv4 services, the
 *   "PROT  addr:port" part is cut at 33 characters (never reached by numeric
 *   IPv4).
 * - Real line: `  -> ` then the address padded to 28 columns, forward method
 *   padded to 7, weight to 6, active and inactive connections to 10 each,
 *   one space between columns. Like ipvsadm, the last column is padded too,
 *   so lines end in spaces. IPv4 services cut the address at 28 characters.
 * - Order: like `ipvsadm -L` without `--nosort`, services are sorted by
 *   family (IPv4 first), protocol number (TCP, UDP, SCTP, others by name),
 *   address, port; reals by address then port. Addresses compare as unsigned
 *   numbers (ipvsadm's subtraction-based compare misorders addresses more
 *   than 2^31 apart; that quirk is not reproduced). `{ sort: false }` keeps
 *   the given order.
 * - Down reals: ipvsadm has no health column (keepalived removes a failed
 *   real or sets its weight to 0). Here a real that is down keeps its line
 *   and its configured weight, and gets ` (down)` after the InActConn column
 *   (after its padding, so the marks line up in one column). Reals that are
 *   up print exactly as ipvsadm would.
 */
import { formatIp } from '../wire/addr.js';

export interface VsRealView {
  addr: Uint32Array;
  port: number;
  forward: 'Masq' | 'Route' | 'Tunnel' | 'FullNat' | string;
  weight: number;
  active: number;
  inactive: number;
  up: boolean;
}

export interface VsView {
  proto: 'TCP' | 'UDP' | string;
  vip: Uint32Array;
  port: number;
  scheduler: string;
  persistentSec?: number;
  reals: VsRealView[];
}

export interface IpvsadmTextOptions {
  /** Connection table size shown in the title line. Default 4096. */
  size?: number;
  /** Sort services and reals as ipvsadm does. Default true. */
  sort?: boolean;
}

export const IPVS_VERSION = '1.2.1';

const TITLE_PROT = 'Prot LocalAddress:Port Scheduler Flags';
const TITLE_REAL = '  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn';

function isV4(w: Uint32Array): boolean {
  return w[0] === 0 && w[1] === 0 && w[2] === 0xffff;
}

/** `a.b.c.d:port` or `[v6]:port`. */
export function addrPort(w: Uint32Array, port: number): string {
  return isV4(w) ? `${formatIp(w)}:${port}` : `[${formatIp(w)}]:${port}`;
}

function padEnd(s: string, n: number): string {
  return s.length >= n ? s : s + ' '.repeat(n - s.length);
}

const PROTO_ORDER: Record<string, number> = { TCP: 6, UDP: 17, SCTP: 132 };

function protoRank(p: string): number {
  return PROTO_ORDER[p.toUpperCase()] ?? 1000;
}

/** Unsigned compare of 4-word addresses (IPv4-mapped sort before other IPv6 by family first). */
function cmpAddr(a: Uint32Array, b: Uint32Array): number {
  for (let k = 0; k < 4; k++) {
    const x = a[k]! >>> 0;
    const y = b[k]! >>> 0;
    if (x !== y) return x < y ? -1 : 1;
  }
  return 0;
}

function cmpService(a: VsView, b: VsView): number {
  const fa = isV4(a.vip) ? 0 : 1;
  const fb = isV4(b.vip) ? 0 : 1;
  if (fa !== fb) return fa - fb;
  const pa = protoRank(a.proto);
  const pb = protoRank(b.proto);
  if (pa !== pb) return pa - pb;
  if (a.proto !== b.proto) return a.proto < b.proto ? -1 : 1;
  return cmpAddr(a.vip, b.vip) || a.port - b.port;
}

function cmpReal(a: VsRealView, b: VsRealView): number {
  return cmpAddr(a.addr, b.addr) || a.port - b.port;
}

function serviceLine(v: VsView): string {
  let name = `${v.proto}  ${addrPort(v.vip, v.port)}`;
  if (isV4(v.vip)) name = name.slice(0, 33);
  let line = `${name} ${v.scheduler}`;
  if (v.persistentSec !== undefined) line += ` persistent ${v.persistentSec}`;
  return line;
}

function realLine(r: VsRealView, v4Service: boolean): string {
  let name = addrPort(r.addr, r.port);
  if (v4Service) name = name.slice(0, 28);
  const line =
    `  -> ${padEnd(name, 28)} ${padEnd(r.forward, 7)} ${padEnd(String(r.weight), 6)} ` +
    `${padEnd(String(r.active), 10)} ${padEnd(String(r.inactive), 10)}`;
  return r.up ? line : `${line} (down)`;
}

/** The text of `ipvsadm -Ln` for these virtual servers (each line ends in "\n"). */
export function ipvsadmText(views: VsView[], opts?: IpvsadmTextOptions): string {
  const sort = opts?.sort ?? true;
  const lines = [
    `IP Virtual Server version ${IPVS_VERSION} (size=${opts?.size ?? 4096})`,
    TITLE_PROT,
    TITLE_REAL,
  ];
  const services = sort ? [...views].sort(cmpService) : views;
  for (const v of services) {
    lines.push(serviceLine(v));
    const reals = sort ? [...v.reals].sort(cmpReal) : v.reals;
    const v4 = isV4(v.vip);
    for (const r of reals) lines.push(realLine(r, v4));
  }
  return lines.join('\n') + '\n';
}

export interface VsRealJson {
  address: string;
  addr: string;
  port: number;
  forward: string;
  weight: number;
  activeConns: number;
  inactiveConns: number;
  up: boolean;
}

export interface VsJson {
  proto: string;
  address: string;
  vip: string;
  port: number;
  scheduler: string;
  persistentSec: number | null;
  activeConns: number;
  inactiveConns: number;
  realsUp: number;
  reals: VsRealJson[];
}

/**
 * Plain JSON of the virtual servers, in the given order: addresses as text
 * (`addr`: bare, `address`: `addr:port` with IPv6 in brackets), every counter,
 * and per service the sums of the reals' counters and the number of reals up.
 */
export function vsJson(views: VsView[]): VsJson[] {
  return views.map((v) => {
    let active = 0;
    let inactive = 0;
    let up = 0;
    const reals = v.reals.map((r): VsRealJson => {
      active += r.active;
      inactive += r.inactive;
      if (r.up) up++;
      return {
        address: addrPort(r.addr, r.port),
        addr: formatIp(r.addr),
        port: r.port,
        forward: r.forward,
        weight: r.weight,
        activeConns: r.active,
        inactiveConns: r.inactive,
        up: r.up,
      };
    });
    return {
      proto: v.proto,
      address: addrPort(v.vip, v.port),
      vip: formatIp(v.vip),
      port: v.port,
      scheduler: v.scheduler,
      persistentSec: v.persistentSec ?? null,
      activeConns: active,
      inactiveConns: inactive,
      realsUp: up,
      reals,
    };
  });
}
