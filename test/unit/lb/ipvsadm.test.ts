import { describe, expect, it } from 'vitest';
import { addrPort, ipvsadmText, vsJson, type VsView } from '../../../src/lb/ipvsadm.js';
import { ipWords } from '../../../src/wire/addr.js';

const HEAD = [
  'IP Virtual Server version 1.2.1 (size=4096)',
  'Prot LocalAddress:Port Scheduler Flags',
  '  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn',
];

function real(
  text: string,
  port: number,
  forward: string,
  weight: number,
  active = 0,
  inactive = 0,
  up = true,
) {
  return { addr: ipWords(text), port, forward, weight, active, inactive, up };
}

const web: VsView = {
  proto: 'TCP',
  vip: ipWords('10.0.0.100'),
  port: 80,
  scheduler: 'rr',
  reals: [real('10.0.2.11', 8080, 'Masq', 1), real('10.0.2.12', 8080, 'Masq', 2, 5, 17)],
};

describe('ipvsadmText', () => {
  it('prints the title and an IPv4 service exactly like ipvsadm -Ln', () => {
    expect(ipvsadmText([web])).toBe(
      [
        ...HEAD,
        'TCP  10.0.0.100:80 rr',
        '  -> 10.0.2.11:8080               Masq    1      0          0         ',
        '  -> 10.0.2.12:8080               Masq    2      5          17        ',
        '',
      ].join('\n'),
    );
  });

  it('puts every column of a real line under its header', () => {
    const lines = ipvsadmText([web]).split('\n');
    const head = lines[2]!;
    for (const l of lines.slice(4, 6)) {
      expect(l.indexOf('Masq')).toBe(head.indexOf('Forward'));
      expect(l.length).toBe(head.indexOf('InActConn') + 10);
    }
    expect(lines[5]!.indexOf(' 2 ') + 1).toBe(head.indexOf('Weight'));
    expect(lines[5]!.indexOf(' 5 ') + 1).toBe(head.indexOf('ActiveConn'));
    expect(lines[5]!.indexOf(' 17 ') + 1).toBe(head.indexOf('InActConn'));
  });

  it('shows persistence as a flag after the scheduler', () => {
    const v: VsView = { ...web, scheduler: 'wlc', persistentSec: 300, reals: [web.reals[0]!] };
    expect(ipvsadmText([v])).toBe(
      [
        ...HEAD,
        'TCP  10.0.0.100:80 wlc persistent 300',
        '  -> 10.0.2.11:8080               Masq    1      0          0         ',
        '',
      ].join('\n'),
    );
  });

  it('prints IPv6 in brackets; long addresses push the columns as printf does', () => {
    const v: VsView = {
      proto: 'UDP',
      vip: ipWords('fd00::100'),
      port: 53,
      scheduler: 'sh',
      reals: [
        real('fd00::2:11', 53, 'Route', 3, 1, 2),
        real('2001:db8:1234:5678:9abc:def0:1:2', 8053, 'Tunnel', 1, 0, 4),
      ],
    };
    expect(ipvsadmText([v], { sort: false })).toBe(
      [
        ...HEAD,
        'UDP  [fd00::100]:53 sh',
        '  -> [fd00::2:11]:53              Route   3      1          2         ',
        '  -> [2001:db8:1234:5678:9abc:def0:1:2]:8053 Tunnel  1      0          4         ',
        '',
      ].join('\n'),
    );
  });

  it('marks a down real with "(down)" after the last column, weight shown as is', () => {
    const v: VsView = {
      ...web,
      reals: [
        real('10.0.2.11', 8080, 'Masq', 1, 3, 4, false),
        real('10.0.2.13', 8080, 'FullNat', 10, 1234567, 0),
      ],
    };
    expect(ipvsadmText([v])).toBe(
      [
        ...HEAD,
        'TCP  10.0.0.100:80 rr',
        '  -> 10.0.2.11:8080               Masq    1      3          4          (down)',
        '  -> 10.0.2.13:8080               FullNat 10     1234567    0         ',
        '',
      ].join('\n'),
    );
  });

  it('sorts services (IPv4 first, TCP before UDP, address, port) and reals (address, port) like ipvsadm', () => {
    const mk = (proto: string, vip: string, port: number, reals: ReturnType<typeof real>[]): VsView => ({
      proto,
      vip: ipWords(vip),
      port,
      scheduler: 'rr',
      reals,
    });
    const views = [
      mk('TCP', 'fd00::100', 443, []),
      mk('UDP', '10.0.0.100', 53, [real('10.0.3.2', 53, 'Masq', 1)]),
      mk('TCP', '192.168.1.1', 80, []),
      mk('TCP', '10.0.0.100', 443, []),
      mk('TCP', '10.0.0.100', 80, [
        real('200.0.0.1', 80, 'Route', 1),
        real('10.0.2.12', 8081, 'Route', 1),
        real('10.0.2.12', 8080, 'Route', 1),
        real('1.2.3.4', 80, 'Route', 1),
      ]),
    ];
    expect(ipvsadmText(views)).toBe(
      [
        ...HEAD,
        'TCP  10.0.0.100:80 rr',
        '  -> 1.2.3.4:80                   Route   1      0          0         ',
        '  -> 10.0.2.12:8080               Route   1      0          0         ',
        '  -> 10.0.2.12:8081               Route   1      0          0         ',
        '  -> 200.0.0.1:80                 Route   1      0          0         ',
        'TCP  10.0.0.100:443 rr',
        'TCP  192.168.1.1:80 rr',
        'UDP  10.0.0.100:53 rr',
        '  -> 10.0.3.2:53                  Masq    1      0          0         ',
        'TCP  [fd00::100]:443 rr',
        '',
      ].join('\n'),
    );
    // the input is not reordered
    expect(views[0]!.proto).toBe('TCP');
    expect(views[4]!.reals[0]!.port).toBe(80);
  });

  it('with sort: false keeps the given order; size is configurable; no services is just the title', () => {
    const other: VsView = { ...web, vip: ipWords('10.0.0.1'), reals: [] };
    const text = ipvsadmText([web, other], { sort: false, size: 1048576 });
    const lines = text.split('\n');
    expect(lines[0]).toBe('IP Virtual Server version 1.2.1 (size=1048576)');
    expect(lines[3]).toBe('TCP  10.0.0.100:80 rr');
    expect(lines[6]).toBe('TCP  10.0.0.1:80 rr');
    expect(ipvsadmText([])).toBe(HEAD.join('\n') + '\n');
  });
});

describe('addrPort', () => {
  it('formats IPv4 bare and IPv6 in brackets', () => {
    expect(addrPort(ipWords('10.0.0.1'), 80)).toBe('10.0.0.1:80');
    expect(addrPort(ipWords('fd00::1'), 0)).toBe('[fd00::1]:0');
  });
});

describe('vsJson', () => {
  it('gives addresses as text and every counter, with totals', () => {
    const v6: VsView = {
      proto: 'UDP',
      vip: ipWords('fd00::100'),
      port: 53,
      scheduler: 'mh',
      persistentSec: 60,
      reals: [real('fd00::2:11', 53, 'Route', 3, 1, 2, false)],
    };
    const j = vsJson([web, v6]);
    expect(j).toEqual([
      {
        proto: 'TCP',
        address: '10.0.0.100:80',
        vip: '10.0.0.100',
        port: 80,
        scheduler: 'rr',
        persistentSec: null,
        activeConns: 5,
        inactiveConns: 17,
        realsUp: 2,
        reals: [
          {
            address: '10.0.2.11:8080',
            addr: '10.0.2.11',
            port: 8080,
            forward: 'Masq',
            weight: 1,
            activeConns: 0,
            inactiveConns: 0,
            up: true,
          },
          {
            address: '10.0.2.12:8080',
            addr: '10.0.2.12',
            port: 8080,
            forward: 'Masq',
            weight: 2,
            activeConns: 5,
            inactiveConns: 17,
            up: true,
          },
        ],
      },
      {
        proto: 'UDP',
        address: '[fd00::100]:53',
        vip: 'fd00::100',
        port: 53,
        scheduler: 'mh',
        persistentSec: 60,
        activeConns: 1,
        inactiveConns: 2,
        realsUp: 0,
        reals: [
          {
            address: '[fd00::2:11]:53',
            addr: 'fd00::2:11',
            port: 53,
            forward: 'Route',
            weight: 3,
            activeConns: 1,
            inactiveConns: 2,
            up: false,
          },
        ],
      },
    ]);
    // plain JSON: survives a round trip unchanged
    expect(JSON.parse(JSON.stringify(j))).toEqual(j);
  });
});
