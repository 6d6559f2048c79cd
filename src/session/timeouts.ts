/** Session timeouts in seconds, with Linux conntrack's defaults (DESIGN.md). */
import { DEFAULT_TCP_TIMEOUTS, type TcpTimeouts } from './tcp-timeouts.js';
export interface Timeouts {
  tcp: TcpTimeouts;
  udp: { unreplied: number; replied: number };
  icmp: number;
  generic: number;
}

export function defaultTimeouts(): Timeouts {
  return {
    tcp: { ...DEFAULT_TCP_TIMEOUTS },
    udp: { unreplied: 30, replied: 120 },
    icmp: 30,
    generic: 600,
  };
}
