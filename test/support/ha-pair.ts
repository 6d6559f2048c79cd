/** Configs of the two devices of an HA pair (DESIGN.md's pair lab addresses), for unit tests. */
import type { DeviceConfig } from '../../src/config/types.js';
import { config } from './run.js';

export const CLIENT_MAC = '02:00:00:00:01:02';
export const SRV_MAC = '02:00:00:00:02:11';
export const FW_MACS = [
  { lan: '02:5d:01:00:01:01', servers: '02:5d:01:00:02:01', ha: '02:5d:01:00:03:01' },
  { lan: '02:5d:02:00:01:01', servers: '02:5d:02:00:02:01', ha: '02:5d:02:00:03:01' },
];
export const HA_KEY = '000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f';
/** fw<n>'s addresses on lan, servers and ha. */
export const FW_ADDRS = [
  ['10.0.1.1', '10.0.2.2', '10.0.3.1'],
  ['10.0.1.3', '10.0.2.1', '10.0.3.2'],
];

/** fw1 or fw2: ports lan (0), servers (1), ha (2); `extra` lines go into the ha block. */
export function fwConfig(n: 1 | 2, mode: string, extra = ''): DeviceConfig {
  const me = FW_MACS[n - 1]!;
  const peer = FW_MACS[2 - n]!;
  const a = FW_ADDRS[n - 1]!;
  return config(`
zones:
  inside: { networks: [10.0.1.0/24] }
  dmz: { networks: [10.0.2.0/24] }
  ha: { networks: [10.0.3.0/24] }
sessions: { max: 4096 }
ports:
  - { name: lan, zone: inside, mac: '${me.lan}', address: [${a[0]}/24] }
  - { name: servers, zone: dmz, mac: '${me.servers}', address: [${a[1]}/24] }
  - { name: ha, zone: ha, mac: '${me.ha}', address: [${a[2]}/24] }
policy: { rules: [ { from: inside, action: accept } ] }
ha:
  node: ${n}
  mode: ${mode}
  link: ha
  key: ${HA_KEY}
${extra}
  peers:
    - name: fw${3 - n}
      node: ${3 - n}
      address: 10.0.3.${3 - n}
      macs: { lan: '${peer.lan}', servers: '${peer.servers}', ha: '${peer.ha}' }
      takeover: [${FW_ADDRS[2 - n]![0]}]
`);
}
