// The "internet" of the gateway tests: a bridge br0 (10.200.0.1/24) in the gateway's namespace,
// with every laptop namespace on it through a veth, at 10.200.0.10, .11, ... in order.
import { guardResolvConf } from './stock-laptop.js';
import { type Netns, sh } from './netns.js';

/**
 * Puts `laptops` on a bridge in `gw` (veth `${prefix}N` on the gateway side, eth0 in the laptop);
 * with `guard`, each laptop also gets the guard resolv.conf (no lookup reaches the host's resolvers).
 */
export function internetBridge(gw: Netns, laptops: readonly Netns[], prefix: string, guard = true): void {
  gw.exec('ip', ['link', 'add', 'br0', 'type', 'bridge']);
  gw.exec('ip', ['addr', 'add', '10.200.0.1/24', 'dev', 'br0']);
  gw.exec('ip', ['link', 'set', 'br0', 'up']);
  laptops.forEach((lap, i) => {
    sh('ip', ['link', 'add', `${prefix}${i}`, 'netns', gw.name, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', lap.name]);
    gw.exec('ip', ['link', 'set', `${prefix}${i}`, 'master', 'br0', 'up']);
    lap.exec('ip', ['addr', 'add', `10.200.0.${10 + i}/24`, 'dev', 'eth0']);
    lap.exec('ip', ['link', 'set', 'eth0', 'up']);
    if (guard) guardResolvConf(lap);
  });
}
