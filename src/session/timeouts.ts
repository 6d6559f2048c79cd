/** Session timeouts in seconds, with Linux conntrack's defaults (DESIGN.md). */
export interface Timeouts {
  tcp: {
    synSent: number;
    synRecv: number;
    established: number;
    finWait: number;
    closeWait: number;
    lastAck: number;
    timeWait: number;
    close: number;
    synSent2: number;
  };
  udp: { unreplied: number; replied: number };
  icmp: number;
  generic: number;
}

export function defaultTimeouts(): Timeouts {
  return {
    tcp: {
      synSent: 120,
      synRecv: 60,
      established: 432000,
      finWait: 120,
      closeWait: 60,
      lastAck: 30,
      timeWait: 120,
      close: 10,
      synSent2: 120,
    },
    udp: { unreplied: 30, replied: 120 },
    icmp: 30,
    generic: 600,
  };
}
