// `wgts ha ...`: a failover pair of gateways behind one address held by keepalived (VRRP); see
// src/gateway/ha/ and README, Failover.
//   wgts ha kick IFNAME [--endpoints FILE] [--wait S]   handshakes with every laptop whose endpoint is known
//   wgts ha keepalived-conf --wg IF --interface IF --vip CIDR ...   the keepalived config of one gateway
import { fileURLToPath } from 'node:url';
import { InvalidArgumentError, type Command } from 'commander';
import { readEndpoints } from '../gateway/ha/endpoints.js';
import { keepalivedConf } from '../gateway/ha/keepalived.js';
import { formatKick, kick } from '../gateway/ha/kick.js';
import { which } from '../gateway/lab-ns.js';
import { runCommand } from './gateway.js';

function intOption(min: number, max: number) {
  return (value: string): number => {
    if (!/^[0-9]{1,3}$/.test(value) || Number(value) < min || Number(value) > max) throw new InvalidArgumentError(`expected a whole number, ${min}-${max}`);
    return Number(value);
  };
}

function secondsOption(min: number, max: number) {
  return (value: string): number => {
    if (!/^[0-9]{1,3}(\.[0-9]{1,2})?$/.test(value) || Number(value) < min || Number(value) > max) throw new InvalidArgumentError(`expected seconds, ${min}-${max}`);
    return Number(value);
  };
}

/** How keepalived should run this wgts: `wgts` on the PATH, else this Node with this script. */
function wgtsInvocation(): string[] {
  const onPath = which('wgts');
  return onPath !== null ? [onPath] : [process.execPath, fileURLToPath(new URL('./wgts.js', import.meta.url))];
}

interface ConfFlags {
  wg: string;
  interface: string;
  vip: string;
  routerId: number;
  priority: number;
  advertInt: number;
  endpoints?: string;
}

/** Registers `wgts ha`. */
export function registerHaCommands(program: Command): void {
  const ha = program.command('ha').description('a failover pair of gateways behind one address (keepalived / VRRP)');
  ha
    .command('kick')
    .description('start a handshake with every peer whose endpoint is known (run by keepalived when this gateway takes over the address)')
    .argument('<interface>', 'the wgts interface, e.g. gw0')
    .option('--endpoints <file>', 'endpoints for peers the interface has none for (`wgts up --endpoints-file` of the pair, or `wg show IF endpoints` output)')
    .option('--wait <seconds>', 'wait this long for the handshakes and say which came (0: do not wait)', secondsOption(0, 60), 2)
    .action((ifname: string, flags: { endpoints?: string; wait: number }) => runCommand(async () => {
      const shared = flags.endpoints === undefined ? new Map<string, string>() : await readEndpoints(flags.endpoints);
      process.stdout.write(formatKick(ifname, await kick(ifname, shared, flags.wait * 1000)));
    }));
  ha
    .command('keepalived-conf')
    .description('print the keepalived config of one gateway of the pair (same wgts config on each, its own priority)')
    .requiredOption('--wg <ifname>', 'the wgts interface (the config file name without .conf)')
    .requiredOption('--interface <ifname>', 'the interface facing the laptops: VRRP runs there and the address goes there')
    .requiredOption('--vip <cidr>', "the pair's endpoint address with its prefix, e.g. 198.51.100.10/24 (the laptops' Endpoint)")
    .option('--router-id <n>', 'VRRP router id, the same on both gateways, unique on the link', intOption(1, 255), 51)
    .option('--priority <n>', 'VRRP priority (1-254)', intOption(1, 254), 200)
    .option('--advert-int <seconds>', 'seconds between VRRP advertisements (fractions use VRRPv3)', secondsOption(0.01, 255), 1)
    .option('--endpoints <file>', 'the endpoints file the pair shares (both run `wgts up --endpoints-file FILE`)')
    .action((flags: ConfFlags) => runCommand(async () => {
      const wg = which('wg');
      if (wg === null) throw new Error('wg (wireguard-tools) is not installed: the health check runs `wg show IF`');
      process.stdout.write(keepalivedConf({
        wgIf: flags.wg, vrrpIf: flags.interface, vip: flags.vip, routerId: flags.routerId, priority: flags.priority, advertInt: flags.advertInt,
        ...(flags.endpoints === undefined ? {} : { endpointsFile: flags.endpoints }), wgts: wgtsInvocation(), wg,
      }));
    }));
}
