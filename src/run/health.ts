/**
 * Active health checks of a live device: turns on the device's probes (router
 * mode: they need an address to be sent from; on even when no virtual server
 * asks yet, so a config reload can add a check), and logs every transition of a real server
 * (HAProxy's "Server web/10.0.2.11:8080 is DOWN" as a structured line).
 */
import type { DeviceConfig } from '../config/types.js';
import type { Device } from '../device/device.js';
import { formatIp } from '../wire/addr.js';
import type { Logger } from './log.js';

export function startHealthChecks(dev: Device, cfg: DeviceConfig, log: Logger): void {
  const wanted = cfg.virtualServers.filter((v) => v.health);
  // On in router mode even with no check configured yet, so a reload can add one.
  const probes = dev.enableHealthChecks();
  if (wanted.length === 0 && probes) log.debug('health checks ready; none configured');
  if (!probes) {
    if (wanted.length === 0) return;
    log.warn(
      'health checks need router mode (a port with an address to probe from); reals stay as configured',
      {
        virtualServers: wanted.map((v) => v.name),
      },
    );
    return;
  }
  probes.onChange = (v, real, up) => {
    const vs = dev.lb.vs;
    const pool = vs.pools[v]!;
    const port = vs.realPort[v]![real] || vs.cfg[v]!.port;
    const fields = {
      vs: vs.cfg[v]!.name,
      real: `${formatIp(pool.addr.subarray(real * 4, real * 4 + 4))}:${port}`,
      transitions: probes.counters.transitions,
    };
    if (up) log.info('real server up', fields);
    else log.warn('real server down', fields);
  };
  if (wanted.length === 0) return;
  log.info('health checks on', {
    virtualServers: wanted.map((v) => `${v.name} ${v.health!.type} every ${v.health!.intervalMs / 1000}s`),
  });
}
