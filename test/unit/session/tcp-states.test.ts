import { describe, expect, it } from 'vitest';
import {
  TCP_IDX_ACK,
  TCP_IDX_FIN,
  TCP_IDX_NAMES,
  TCP_IDX_NONE,
  TCP_IDX_RST,
  TCP_IDX_SYN,
  TCP_IDX_SYNACK,
  TCP_STATE_COUNT,
  TCP_STATE_ESTABLISHED,
  TCP_STATE_SYN_SENT2,
  TCP_STATE_TIME_WAIT,
  tcpNextState,
  tcpPacketIndex,
  tcpValidFlags,
} from '../../../src/session/tcp-states.js';
import { tcpStateName } from '../../../src/session/tcp-print.js';
import {
  TCP_ACK,
  TCP_CWR,
  TCP_ECE,
  TCP_FIN,
  TCP_PSH,
  TCP_RST,
  TCP_SYN,
  TCP_URG,
} from '../../../src/wire/packet.js';

describe('state names', () => {
  it('uses conntrack names', () => {
    expect(tcpStateName(0)).toBe('NONE');
    expect(tcpStateName(1)).toBe('SYN_SENT');
    expect(tcpStateName(TCP_STATE_ESTABLISHED)).toBe('ESTABLISHED');
    expect(tcpStateName(TCP_STATE_TIME_WAIT)).toBe('TIME_WAIT');
    expect(tcpStateName(TCP_STATE_SYN_SENT2)).toBe('SYN_SENT2');
    expect(tcpStateName(99)).toBe('UNKNOWN(99)');
  });
});

describe('packet class', () => {
  it('RST > SYN(/ACK) > FIN > ACK > none', () => {
    expect(tcpPacketIndex(TCP_RST | TCP_SYN | TCP_ACK)).toBe(TCP_IDX_RST);
    expect(tcpPacketIndex(TCP_SYN)).toBe(TCP_IDX_SYN);
    expect(tcpPacketIndex(TCP_SYN | TCP_ACK | TCP_FIN)).toBe(TCP_IDX_SYNACK);
    expect(tcpPacketIndex(TCP_FIN | TCP_ACK)).toBe(TCP_IDX_FIN);
    expect(tcpPacketIndex(TCP_ACK | TCP_PSH)).toBe(TCP_IDX_ACK);
    expect(tcpPacketIndex(TCP_PSH)).toBe(TCP_IDX_NONE);
  });
});

describe('valid flag sets (conntrack tcp_valid_flags)', () => {
  const valid = [
    ['SYN', TCP_SYN],
    ['SYN+URG', TCP_SYN | TCP_URG],
    ['SYN+ACK', TCP_SYN | TCP_ACK],
    ['RST', TCP_RST],
    ['RST+ACK', TCP_RST | TCP_ACK],
    ['FIN+ACK', TCP_FIN | TCP_ACK],
    ['FIN+ACK+URG', TCP_FIN | TCP_ACK | TCP_URG],
    ['ACK', TCP_ACK],
    ['ACK+URG', TCP_ACK | TCP_URG],
  ] as const;
  const invalid = [
    ['none', 0],
    ['FIN', TCP_FIN],
    ['SYN+FIN', TCP_SYN | TCP_FIN],
    ['SYN+RST', TCP_SYN | TCP_RST],
    ['SYN+FIN+ACK', TCP_SYN | TCP_FIN | TCP_ACK],
    ['SYN+ACK+URG', TCP_SYN | TCP_ACK | TCP_URG],
    ['RST+URG', TCP_RST | TCP_URG],
    ['RST+ACK+URG', TCP_RST | TCP_ACK | TCP_URG],
    ['FIN+RST', TCP_FIN | TCP_RST],
    ['FIN+URG', TCP_FIN | TCP_URG],
    ['URG', TCP_URG],
    ['PSH', TCP_PSH],
    ['FIN+PSH+URG (xmas)', TCP_FIN | TCP_PSH | TCP_URG],
    ['all flags', 0xff],
  ] as const;
  it.each(valid)('%s is valid, also with PSH/ECE/CWR', (_n, f) => {
    for (const extra of [0, TCP_PSH, TCP_ECE, TCP_CWR, TCP_PSH | TCP_ECE | TCP_CWR]) {
      expect(tcpValidFlags(f | extra)).toBe(true);
    }
  });
  it.each(invalid)('%s is invalid', (_n, f) => {
    expect(tcpValidFlags(f)).toBe(false);
    expect(tcpValidFlags(f | TCP_ECE | TCP_CWR)).toBe(false);
  });
  it('exactly 9 of the 32 FIN/SYN/RST/ACK/URG combinations are valid', () => {
    let n = 0;
    for (let f = 0; f < 256; f++) {
      if (f & (TCP_PSH | TCP_ECE | TCP_CWR)) continue;
      if (tcpValidFlags(f)) n++;
    }
    expect(n).toBe(9);
  });
});

/*
 * The expected table, spelled independently of the implementation's layout:
 * one string per (direction, packet class) with the outcome for each state in
 * the order NONE SYN_SENT SYN_RECV ESTABLISHED FIN_WAIT CLOSE_WAIT LAST_ACK
 * TIME_WAIT CLOSE SYN_SENT2 (conntrack's tcp_conntracks).
 */
const EXPECTED: Record<string, string> = {
  'orig SYN': 'SYN_SENT SYN_SENT IGNORE IGNORE IGNORE IGNORE IGNORE SYN_SENT SYN_SENT SYN_SENT2',
  'orig SYN-ACK': 'INVALID INVALID SYN_RECV INVALID INVALID INVALID INVALID INVALID INVALID SYN_RECV',
  'orig FIN': 'INVALID INVALID FIN_WAIT FIN_WAIT LAST_ACK LAST_ACK LAST_ACK TIME_WAIT CLOSE INVALID',
  'orig ACK':
    'ESTABLISHED INVALID ESTABLISHED ESTABLISHED CLOSE_WAIT CLOSE_WAIT TIME_WAIT TIME_WAIT CLOSE INVALID',
  'orig RST': 'INVALID CLOSE CLOSE CLOSE CLOSE CLOSE CLOSE CLOSE CLOSE CLOSE',
  'orig NONE': 'INVALID INVALID INVALID INVALID INVALID INVALID INVALID INVALID INVALID INVALID',
  'reply SYN': 'INVALID SYN_SENT2 INVALID INVALID INVALID INVALID INVALID SYN_SENT INVALID SYN_SENT2',
  'reply SYN-ACK': 'INVALID SYN_RECV IGNORE IGNORE IGNORE IGNORE IGNORE IGNORE IGNORE SYN_RECV',
  'reply FIN': 'INVALID INVALID FIN_WAIT FIN_WAIT LAST_ACK LAST_ACK LAST_ACK TIME_WAIT CLOSE INVALID',
  'reply ACK': 'INVALID IGNORE SYN_RECV ESTABLISHED CLOSE_WAIT CLOSE_WAIT TIME_WAIT TIME_WAIT CLOSE IGNORE',
  'reply RST': 'INVALID CLOSE CLOSE CLOSE CLOSE CLOSE CLOSE CLOSE CLOSE CLOSE',
  'reply NONE': 'INVALID INVALID INVALID INVALID INVALID INVALID INVALID INVALID INVALID INVALID',
};

describe('transition table', () => {
  const cases: [string, number, number, number, string][] = [];
  for (const [dirName, dir] of [
    ['orig', 0],
    ['reply', 1],
  ] as const) {
    for (let idx = 0; idx < 6; idx++) {
      const row = EXPECTED[`${dirName} ${TCP_IDX_NAMES[idx]}`]!.split(' ');
      for (let st = 0; st < TCP_STATE_COUNT; st++) {
        cases.push([`${dirName} ${TCP_IDX_NAMES[idx]} in ${tcpStateName(st)}`, dir, idx, st, row[st]!]);
      }
    }
  }
  it.each(cases)('%s -> %s', (_label, dir, idx, st, want) => {
    expect(tcpStateName(tcpNextState(dir, idx, st))).toBe(want);
  });

  it('documented conntrack transitions', () => {
    const S = (n: string) => tcpStateNameToNum(n);
    const t = (dir: number, idx: number, from: string) => tcpStateName(tcpNextState(dir, idx, S(from)));
    expect(t(0, TCP_IDX_SYN, 'NONE')).toBe('SYN_SENT'); // new connection
    expect(t(0, TCP_IDX_SYN, 'SYN_SENT')).toBe('SYN_SENT'); // retransmitted SYN
    expect(t(1, TCP_IDX_SYN, 'SYN_SENT')).toBe('SYN_SENT2'); // simultaneous open
    expect(t(1, TCP_IDX_SYNACK, 'SYN_SENT')).toBe('SYN_RECV'); // standard open
    expect(t(0, TCP_IDX_SYNACK, 'SYN_SENT')).toBe('INVALID'); // client can't send SYN then SYN/ACK
    expect(t(0, TCP_IDX_ACK, 'SYN_SENT')).toBe('INVALID'); // no SYN/ACK seen yet
    expect(t(1, TCP_IDX_ACK, 'SYN_SENT')).toBe('IGNORE'); // maybe half-open connection
    expect(t(0, TCP_IDX_ACK, 'SYN_RECV')).toBe('ESTABLISHED');
    expect(t(0, TCP_IDX_FIN, 'SYN_SENT')).toBe('INVALID'); // wait for SYN/ACK first
    expect(t(0, TCP_IDX_FIN, 'ESTABLISHED')).toBe('FIN_WAIT');
    expect(t(1, TCP_IDX_ACK, 'FIN_WAIT')).toBe('CLOSE_WAIT');
    expect(t(1, TCP_IDX_FIN, 'CLOSE_WAIT')).toBe('LAST_ACK');
    expect(t(0, TCP_IDX_ACK, 'LAST_ACK')).toBe('TIME_WAIT');
    expect(t(0, TCP_IDX_SYN, 'TIME_WAIT')).toBe('SYN_SENT'); // reopen
    expect(t(1, TCP_IDX_SYN, 'TIME_WAIT')).toBe('SYN_SENT'); // reopen, roles switched
    expect(t(0, TCP_IDX_SYN, 'ESTABLISHED')).toBe('IGNORE');
    expect(t(1, TCP_IDX_SYNACK, 'ESTABLISHED')).toBe('IGNORE'); // late retransmitted SYN/ACK
    expect(t(0, TCP_IDX_RST, 'NONE')).toBe('INVALID');
    expect(t(1, TCP_IDX_RST, 'ESTABLISHED')).toBe('CLOSE');
  });
});

function tcpStateNameToNum(n: string): number {
  for (let i = 0; i < TCP_STATE_COUNT; i++) if (tcpStateName(i) === n) return i;
  throw new Error(n);
}
