// `wgts gateway init FILE ...`: creates a gateway config (a new private key, the tunnel subnet,
// the project networks, the public endpoint, DNS names). Also the small helpers the onboarding
// commands share: repeatable options and turning a failure into `wgts: message` + exit code 1.
import { InvalidArgumentError, type Command } from 'commander';
import { DEFAULT_DOMAIN, DEFAULT_LISTEN_PORT, initGateway } from '../gateway/onboard.js';

/** Commander option parser for repeatable options: appends each value (the first call gets no list). */
export function collect(value: string, previous: readonly string[] = []): string[] {
  return [...previous, value];
}

/**
 * Runs a command's work; when it throws, prints the message on stderr (each line prefixed with
 * `wgts: `) and sets exit code 1. Messages never contain private keys: the onboarding errors
 * name files, options and rules only.
 */
export async function runCommand(work: () => Promise<void>): Promise<void> {
  try {
    await work();
  } catch (e) {
    const message = e instanceof Error ? e.message : String(e);
    process.stderr.write(message.split('\n').map((line) => `wgts: ${line}\n`).join(''));
    process.exitCode = 1;
  }
}

/** A port option (1-65535, decimal). */
export function portOption(value: string): number {
  if (!/^[0-9]{1,5}$/.test(value) || Number(value) < 1 || Number(value) > 65535) {
    throw new InvalidArgumentError('expected a port number (1-65535)');
  }
  return Number(value);
}

interface InitFlags {
  address: string[];
  network: string[];
  endpoint: string;
  listenPort: number;
  domain: string;
  host?: string[];
  upstream?: string[];
  force?: boolean;
}

/** Registers `wgts gateway init`. */
export function registerGatewayCommands(program: Command): void {
  const gateway = program.command('gateway').description('create and manage a project-network gateway config');
  gateway
    .command('init')
    .description('write a new gateway config FILE (fresh private key, mode 0600)')
    .argument('<file>', 'config file to create, e.g. /etc/wireguard/wg0.conf')
    .requiredOption('--address <cidr>', "gateway tunnel address with the peers' subnet, e.g. 10.123.0.1/24; repeat to add an IPv6 one", collect)
    .requiredOption('--network <cidr>', 'project network behind the gateway, e.g. 10.124.0.0/24; repeatable', collect)
    .requiredOption('--endpoint <host:port>', 'public HOST:PORT laptops connect to, e.g. vpn.example.com:51820')
    .option('--listen-port <port>', 'UDP port the gateway listens on', portOption, DEFAULT_LISTEN_PORT)
    .option('--domain <name>', 'DNS domain of the project network', DEFAULT_DOMAIN)
    .option('--host <name=ip>', 'a DNS name for a service in the networks, e.g. app=10.124.0.10; repeatable', collect)
    .option('--upstream <addr|none>', "resolver for names the gateway does not hold: IP, IP:PORT or [IPv6]:PORT, repeatable, tried in order; 'none' refuses them (default: the gateway host's own resolvers, from its resolv.conf)", collect)
    .option('--force', 'replace FILE if it exists (its key and peers are lost)')
    .action((file: string, flags: InitFlags) => runCommand(async () => {
      const r = await initGateway(file, {
        address: flags.address,
        networks: flags.network,
        endpoint: flags.endpoint,
        listenPort: flags.listenPort,
        domain: flags.domain,
        hosts: flags.host ?? [],
        upstream: flags.upstream ?? [],
        force: flags.force === true,
      });
      process.stdout.write(`wrote ${file}: gateway ${r.addresses.join(', ')}, public key ${r.publicKey}\n`
        + `add laptops with: wgts peer add ${file} NAME\n`);
    }));
}
