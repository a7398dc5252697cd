// `wgts gateway init FILE ...`: creates a gateway config (a new private key, the project name, the
// tunnel subnet, the project networks, the public endpoint, DNS names); `wgts gateway set` and
// `wgts gateway host add|remove` change a gateway's settings, live when it runs. Also the small
// helpers the onboarding commands share: repeatable options, turning a failure into
// `wgts: message` + exit code 1, and waiting until running gateways applied an edit.
import { InvalidArgumentError, type Command } from 'commander';
import { APPLY_TIMEOUT_MS, runningFor, waitForVersion, type ApplyOutcome } from '../gateway/applied.js';
import { addHosts, removeHosts, setGateway, type SettingsResult } from '../gateway/gateway-ops.js';
import { DEFAULT_LISTEN_PORT, initGateway } from '../gateway/onboard.js';
import { projectConfName } from '../gateway/project.js';
import { exposureWarning } from '../gateway/registry/connect.js';
import { isRegistryLocation, parseRegistryLocation } from '../gateway/registry/location.js';
import { migrateToRegistry } from '../gateway/registry/migrate.js';

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

/**
 * After an edit of FILE (store version `version`, made after `since` ms): waits until every running
 * gateway of FILE applied it and says so; a failure or a timeout goes to stderr with exit code 1.
 * Returns the outcomes (none when no gateway runs FILE: it says so).
 */
export async function reportApplied(file: string, version: string, since: number, what: string,
  wait: (s: Parameters<typeof waitForVersion>[0]) => Promise<ApplyOutcome> = (s) => waitForVersion(s, version, since)): Promise<ApplyOutcome[]> {
  const running = runningFor(file);
  if (running.length === 0) {
    process.stdout.write(`no running gateway uses ${file}: \`wgts up ${file}\` starts with it${elsewhere(file)}\n`);
    return [];
  }
  const outcomes = await Promise.all(running.map(wait));
  for (const o of outcomes) {
    if (o.kind === 'applied') process.stdout.write(`the running gateway ${o.ifname} (pid ${o.pid}) ${what} (${o.ms} ms)\n`);
    else if (o.kind === 'failed') process.stderr.write(`wgts: the running gateway ${o.ifname} (pid ${o.pid}) failed to apply the change: ${o.why}\n`);
    else process.stderr.write(`wgts: the running gateway ${o.ifname} (pid ${o.pid}) has not applied the change within ${APPLY_TIMEOUT_MS / 1000} s: ${o.why}\n`);
  }
  if (outcomes.some((o) => o.kind !== 'applied')) process.exitCode = 1;
  return outcomes;
}

/**
 * For a registry: status files are per host, so gateways of the registry elsewhere are not seen
 * here; they apply the change from their watch (`wgts show` there gives the revision).
 */
export function elsewhere(location: string): string {
  return isRegistryLocation(location) ? ' (on this host; gateways on other hosts apply it from their etcd watch)' : '';
}

/** A warning on stderr when a registry is reached without TLS over a network (the key crossed it). */
function warnExposed(location: string): void {
  if (!isRegistryLocation(location)) return;
  const w = exposureWarning(parseRegistryLocation(location));
  if (w !== null) process.stderr.write(`wgts: warning: ${w}\n`);
}

/** Prints what a settings change did: the change, laptops now holding outdated configs, rule warnings. */
function printSettings(file: string, r: SettingsResult, json: boolean): void {
  if (json) {
    process.stdout.write(`${JSON.stringify({ changed: r.changed, outdated: r.outdated, warnings: r.warnings }, null, 2)}\n`);
  } else {
    process.stdout.write(r.changed.length ? `${file}: ${r.changed.join(', ')}\n` : `${file}: nothing to change\n`);
    if (r.outdated.length > 0) {
      const who = r.outdated.map((p) => `${p.name ?? p.publicKey} (${p.fields.join(', ')})`).join(', ');
      process.stdout.write(`outdated client configs now: ${who}\nre-issue each: wgts peer config ${file} NAME (same keys) or wgts peer rekey ${file} NAME (new keys)\n`);
    }
  }
  for (const w of r.warnings) process.stderr.write(`wgts: warning: ${w}\n`);
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
  name?: string;
  domain?: string;
  host?: string[];
  upstream?: string[];
  force?: boolean;
  registry?: string;
}

/** Registers `wgts gateway init`. */
export function registerGatewayCommands(program: Command): void {
  const gateway = program.command('gateway').description('create and manage a project-network gateway config');
  gateway
    .command('init')
    .description('write a new gateway config FILE (fresh private key, mode 0600), or create the gateway in a registry (etcd://HOST:PORT/PREFIX)')
    .argument('[file]', 'config file to create, e.g. /etc/wireguard/wg0.conf, or a registry URL etcd://10.0.0.5:2379/wgts/shop')
    .option('--registry <url>', 'create the gateway in this registry instead of a file: etcd://HOST:PORT[,HOST:PORT...]/PREFIX')
    .requiredOption('--address <cidr>', "gateway tunnel address with the peers' subnet, e.g. 10.123.0.1/24; repeat to add an IPv6 one", collect)
    .requiredOption('--network <cidr>', 'project network behind the gateway, e.g. 10.124.0.0/24; repeatable', collect)
    .requiredOption('--endpoint <host:port>', 'public HOST:PORT laptops connect to, e.g. vpn.example.com:51820')
    .option('--listen-port <port>', 'UDP port the gateway listens on', portOption, DEFAULT_LISTEN_PORT)
    .option('--name <project>', "the project's name (lower-case letters, digits, '-'): laptops get its client configs as NAME.conf, interface NAME (default: from FILE's name)")
    .option('--domain <name>', 'DNS domain of the project network (default: the project name)')
    .option('--host <name=ip>', 'a DNS name for a service in the networks, e.g. app=10.124.0.10; repeatable', collect)
    .option('--upstream <addr|none>', "resolver for names the gateway does not hold: IP, IP:PORT or [IPv6]:PORT, repeatable, tried in order; 'none' refuses them (default: the gateway host's own resolvers, from its resolv.conf)", collect)
    .option('--force', 'replace FILE (or what PREFIX holds) if it exists (its key and peers are lost)')
    .action((fileArg: string | undefined, flags: InitFlags) => runCommand(async () => {
      if ((fileArg === undefined) === (flags.registry === undefined)) throw new Error('give either FILE or --registry etcd://HOST:PORT/PREFIX');
      const file = fileArg ?? flags.registry ?? '';
      const r = await initGateway(file, {
        address: flags.address,
        networks: flags.network,
        endpoint: flags.endpoint,
        listenPort: flags.listenPort,
        ...(flags.name === undefined ? {} : { name: flags.name }),
        ...(flags.domain === undefined ? {} : { domain: flags.domain }),
        hosts: flags.host ?? [],
        upstream: flags.upstream ?? [],
        force: flags.force === true,
      });
      warnExposed(file);
      process.stdout.write(`wrote ${file}: project ${r.name} (domain ${r.domain}), gateway ${r.addresses.join(', ')}, public key ${r.publicKey}\n`
        + `add laptops with: wgts peer add ${file} NAME (their configs: ${projectConfName(r.name)})\n`);
    }));

  gateway
    .command('migrate')
    .description('copy the whole state of the gateway config FILE (key, settings, peers) into a registry; FILE is left as it was')
    .argument('<file>', 'gateway config file')
    .argument('<registry>', 'etcd://HOST:PORT[,HOST:PORT...]/PREFIX (PREFIX must be empty)')
    .option('--force', 'replace what PREFIX holds (a gateway there loses its key and peers)')
    .action((file: string, url: string, flags: { force?: boolean }) => runCommand(async () => {
      const r = await migrateToRegistry(file, url, { force: flags.force === true });
      warnExposed(url);
      for (const n of r.notes) process.stdout.write(`note: ${n}\n`);
      process.stdout.write(`migrated ${file} to ${url}: project ${r.project}, ${r.peers} peer(s), public key ${r.publicKey}\n`
        + `run it with: wgts up ${url} (stop \`wgts up ${file}\` first; ${file} is no longer read)\n`);
    }));

  gateway
    .command('set')
    .description('change settings of the gateway config FILE; a running gateway applies them live, and laptops whose client configs they make outdated are named')
    .argument('<file>', 'gateway config file')
    .option('--endpoint <host:port>', 'the public HOST:PORT laptops connect to')
    .option('--network <cidr>', 'the project networks (repeatable; replaces all of them)', collect)
    .option('--domain <name>', 'the DNS domain of the project network')
    .option('--name <project>', "the project's name (names the laptops' client configs)")
    .option('--json', 'print the result as JSON')
    .action((file: string, flags: { endpoint?: string; network?: string[]; domain?: string; name?: string; json?: boolean }) => runCommand(async () => {
      if (flags.endpoint === undefined && flags.network === undefined && flags.domain === undefined && flags.name === undefined) {
        throw new Error('nothing to set: give --endpoint, --network, --domain or --name');
      }
      const since = Date.now();
      const r = await setGateway(file, {
        ...(flags.endpoint === undefined ? {} : { endpoint: flags.endpoint }),
        ...(flags.network === undefined ? {} : { networks: flags.network }),
        ...(flags.domain === undefined ? {} : { domain: flags.domain }),
        ...(flags.name === undefined ? {} : { name: flags.name }),
      });
      printSettings(file, r, flags.json === true);
      if (r.changed.length > 0 && !flags.json) await reportApplied(file, r.version, since, 'applied it');
    }));

  const host = gateway.command('host').description("add and remove the service names the gateway's DNS answers (Host = NAME=IP)");
  host
    .command('add')
    .description('add DNS names NAME=IP to FILE (each IP inside a project network); live on a running gateway')
    .argument('<file>', 'gateway config file')
    .argument('<entries...>', 'NAME=IP, e.g. app=10.124.0.10')
    .option('--json', 'print the result as JSON')
    .action((file: string, entries: string[], flags: { json?: boolean }) => runCommand(async () => {
      const since = Date.now();
      const r = await addHosts(file, entries);
      printSettings(file, r, flags.json === true);
      if (!flags.json) await reportApplied(file, r.version, since, 'answers the new names');
    }));
  host
    .command('remove')
    .description('remove DNS names from FILE: NAME (all its addresses) or NAME=IP; live on a running gateway')
    .argument('<file>', 'gateway config file')
    .argument('<names...>', 'NAME or NAME=IP')
    .option('--json', 'print the result as JSON')
    .action((file: string, names: string[], flags: { json?: boolean }) => runCommand(async () => {
      const since = Date.now();
      const r = await removeHosts(file, names);
      printSettings(file, r, flags.json === true);
      if (!flags.json) await reportApplied(file, r.version, since, 'no longer answers them');
    }));
}
