// `wgts lab [--keep] [--peer wgts|wireguard-go] [--seconds N]` and `wgts lab --clean`: the whole
// product (gateway, project network, laptop) in network namespaces on this machine, demonstrated
// step by step; see src/gateway/lab.ts.
import { fileURLToPath } from 'node:url';
import { InvalidArgumentError, Option, type Command } from 'commander';
import { cleanLab, runLab, type LabPeer } from '../gateway/lab.js';
import { which } from '../gateway/lab-ns.js';

/** Longest iperf3 run the lab accepts (s). */
const MAX_SECONDS = 60;

function secondsOption(value: string): number {
  if (!/^[0-9]+$/.test(value) || Number(value) < 1 || Number(value) > MAX_SECONDS) {
    throw new InvalidArgumentError(`expected whole seconds, 1-${MAX_SECONDS}`);
  }
  return Number(value);
}

interface LabFlags {
  keep?: boolean;
  clean?: boolean;
  peer: LabPeer;
  seconds: number;
  ha?: boolean;
}

/** Registers `wgts lab`. */
export function registerLabCommand(program: Command): void {
  program
    .command('lab')
    .description('run a gateway, a project network (app, db) and a laptop in network namespaces and show that it all works')
    .option('--keep', 'leave the lab running afterwards (remove it with --clean)')
    .addOption(new Option('--peer <impl>', 'WireGuard of the laptop: wgts up, or wg-quick with wireguard-go').choices(['wgts', 'wireguard-go']).default('wgts'))
    .option('--seconds <n>', 'length of the iperf3 throughput run', secondsOption, 3)
    .option('--ha', 'the failover pair instead: two gateways with one config behind one address (keepalived), kill -9 of the active one, the interruption measured')
    .option('--clean', 'only remove a lab left running (wgts-lab-* namespaces, their processes, the lab files)')
    .action(async (flags: LabFlags) => {
      const write = (text: string): void => { process.stdout.write(text); };
      if (flags.clean) {
        process.exitCode = cleanLab(write);
        return;
      }
      const wgtsScript = fileURLToPath(new URL('./wgts.js', import.meta.url));
      process.exitCode = await runLab({
        keep: flags.keep === true,
        peer: flags.peer,
        seconds: flags.seconds,
        ha: flags.ha === true,
        wgtsScript,
        wgtsCommand: which('wgts') !== null ? 'wgts' : `node ${wgtsScript}`,
        write,
      });
    });
}
