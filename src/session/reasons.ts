/**
 * The closed list of drop reasons. Every dropped packet carries exactly one.
 * Decode errors come first with the wire layer's codes, so a decode error code
 * is also its reason code. Features return these codes; the device counts,
 * logs and writes them into traces and pcapng comments.
 */
import { DECODE_ERRORS } from '../wire/errors.js';

const PIPELINE_REASONS = [
  'non-ip', // an EtherType the device does not forward
  'no-session', // a packet that cannot start a session and matches none
  'policy-deny', // a rule (or the default policy) drops it
  'policy-reject', // a rule rejects it (a RST or ICMP unreachable was sent)
  'invalid-tcp-flags',
  'out-of-window',
  'invalid-tcp-state',
  'invalid-icmp', // an ICMP type that neither starts nor belongs to a session
  'table-full',
  'bad-checksum',
  'frag-overlap',
  'frag-oversize',
  'frag-too-many',
  'frag-no-memory',
  'frag-timeout',
  'frag-malformed',
  'frag-duplicate',
  'frag-tiny',
  'ttl-exceeded',
  'no-route',
  'too-big', // over the egress MTU (DF set / IPv6), or needing fragmentation the device does not do
  'not-routable', // link broadcast/multicast, martian or link-local destination for forwarding
  'neighbour-queue-full', // waiting for ARP/ND resolution with the queue full
  'to-device', // addressed to the device, for no service it runs
  'no-real-server', // a virtual server with no usable real server
  'nat-exhausted', // masquerade found no free source port
  'peer-not-trusted',
  'martian', // a source address that cannot be real (loopback, multicast source)
  'not-our-mac', // router mode: a unicast frame for another MAC (flooded by a bridge)
  'bad-offload', // a TAP's offload header (GSO) the frame does not match
] as const;

export const REASONS = [...DECODE_ERRORS, ...PIPELINE_REASONS] as const;
export type ReasonName = (typeof REASONS)[number];

const CODES = new Map<string, number>(REASONS.map((n, i) => [n, i]));

/** The code of a reason name; throws on a name outside the closed list (a programming error). */
export function reasonCode(name: ReasonName): number {
  const c = CODES.get(name);
  if (c === undefined) throw new Error(`unknown drop reason ${name}`);
  return c;
}

export function reasonName(code: number): ReasonName {
  return REASONS[code] ?? 'ok';
}

export const R_NON_IP = reasonCode('non-ip');
export const R_NO_SESSION = reasonCode('no-session');
export const R_POLICY_DENY = reasonCode('policy-deny');
export const R_POLICY_REJECT = reasonCode('policy-reject');
export const R_INVALID_TCP_FLAGS = reasonCode('invalid-tcp-flags');
export const R_OUT_OF_WINDOW = reasonCode('out-of-window');
export const R_INVALID_TCP_STATE = reasonCode('invalid-tcp-state');
export const R_INVALID_ICMP = reasonCode('invalid-icmp');
export const R_TABLE_FULL = reasonCode('table-full');
export const R_BAD_CHECKSUM = reasonCode('bad-checksum');
export const R_TTL_EXCEEDED = reasonCode('ttl-exceeded');
export const R_TOO_BIG = reasonCode('too-big');
export const R_NOT_ROUTABLE = reasonCode('not-routable');
export const R_NEIGH_QUEUE_FULL = reasonCode('neighbour-queue-full');
export const R_TO_DEVICE = reasonCode('to-device');
export const R_NO_ROUTE = reasonCode('no-route');
export const R_NO_REAL_SERVER = reasonCode('no-real-server');
export const R_NAT_EXHAUSTED = reasonCode('nat-exhausted');
export const R_PEER_NOT_TRUSTED = reasonCode('peer-not-trusted');
export const R_MARTIAN = reasonCode('martian');
export const R_NOT_OUR_MAC = reasonCode('not-our-mac');
export const R_BAD_OFFLOAD = reasonCode('bad-offload');
