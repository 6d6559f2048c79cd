/** The router's verdicts, options and counters (src/l3/router.ts). */
import type { NeighbourOptions } from './neighbours.js';
export type Emit = (port: number, buf: Uint8Array, off: number, len: number) => void;

/** route() verdicts. R_FORWARD: send p's (rewritten) frame on egressPort. */
export const R_FORWARD = 0;
/** For the device, not answered here (the caller's). */
export const R_LOCAL = 1;
/** An echo request to the device, answered (consumed). */
export const R_REPLY = 2;
/** Held until the next hop's MAC is known (copied into the neighbour queue). */
export const R_QUEUED = 3;
/** Dropped: could not be queued (too big, no slot). */
export const R_QUEUE_FULL = 4;
export const R_TTL_EXCEEDED = 5;
export const R_NO_ROUTE = 6;
/** Over the egress MTU with DF (IPv4) or IPv6: frag needed / packet too big sent. */
export const R_TOO_BIG = 7;
/** IPv4 over the egress MTU without DF: the caller must fragment it for egressPort (TTL not yet decremented). */
export const R_FRAGMENT = 8;
/** Not forwardable: multicast / broadcast / link-local / martian addresses, link-layer broadcast. */
export const R_NOT_ROUTABLE = 9;

export interface RouterOptions {
  maxRoutes?: number;
  maxPorts?: number;
  maxAddresses?: number;
  neighbours?: NeighbourOptions;
  /** ICMP error token bucket (Linux icmp_msgs_per_sec / icmp_msgs_burst). */
  icmpRatePerSec?: number;
  icmpBurst?: number;
  /** Set the R flag in neighbour advertisements (default true: this is a router). */
  ndRouterFlag?: boolean;
}

export interface RouterStats {
  forwarded: number;
  local: number;
  echoReplies: number;
  ttlExceeded: number;
  noRoute: number;
  tooBig: number;
  fragment: number;
  notRoutable: number;
  queued: number;
  queueFull: number;
  icmpSent: number;
  icmpRateLimited: number;
  /** Errors not sent by the RFC 1812 rules (about an ICMP error, broadcast, ...). */
  icmpSuppressed: number;
  /** Replies not sent: no route / next-hop MAC back to the source. */
  noReturnPath: number;
  requestsSent: number;
  neighbourAnswers: number;
}

/** All counters at zero. */
export function newRouterStats(): RouterStats {
  return {
    forwarded: 0,
    local: 0,
    echoReplies: 0,
    ttlExceeded: 0,
    noRoute: 0,
    tooBig: 0,
    fragment: 0,
    notRoutable: 0,
    queued: 0,
    queueFull: 0,
    icmpSent: 0,
    icmpRateLimited: 0,
    icmpSuppressed: 0,
    noReturnPath: 0,
    requestsSent: 0,
    neighbourAnswers: 0,
  };
}
