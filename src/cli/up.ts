// `wgts up FILE`, `wgts down IFNAME|FILE`, `wgts show [IFNAME] [--json]`: run an interface from a
// config file in the foreground, stop it, and look at running interfaces.
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { InvalidArgumentError, Option, type Command } from 'commander';
import { processAlive } from '../config/lock.js';
import { LOG_FORMAT_ENV, LOG_FORMATS, logFormatFromEnv, type LogFormat } from '../device/log.js';
import { DEFAULT_SOCKET_DIR } from '../device/uapi/server.js';
import { sweepStaleRules } from '../gateway/iptables.js';
import { runCommand } from '../gateway/netcfg.js';
import { interfaceNameOf, UpError } from '../gateway/plan.js';
import { runUp } from '../gateway/runtime.js';
import { formatShow, listUapiInterfaces, showInterface, type ShowInterface } from '../gateway/show.js';
import { readStatus, statusPath } from '../gateway/status.js';
import { runWatch } from './watch.js';

/** How long `wgts down` waits for the interface to disappear (ms). */
export const DOWN_TIMEOUT_MS = 10_000;
const DOWN_POLL_MS = 50;

/** Whether a network device of this name exists in the current network namespace (/proc/net/dev). */
export function linkExists(ifname: string): boolean {
  const text = readFileSync('/proc/net/dev', 'utf8');
  return text.split('\n').some((l) => l.trim().startsWith(`${ifname}:`));
}

/** The interface a `wgts down` argument names: a config path (`x/gw0.conf`) or a bare name. */
export function downTarget(arg: string): string {
  return arg.endsWith('.conf') || arg.includes('/') ? interfaceNameOf(arg) : interfaceNameOf(`${arg}.conf`);
}

/**
 * Stops the interface `ifname`: deletes its UAPI socket (the daemon, wgts up or wireguard-go,
 * sees that and shuts down), then waits until the TUN is gone from this namespace and, for a
 * `wgts up`, its status file too (removed after every change was undone). Throws when there is no
 * such interface or it does not stop within `timeoutMs`.
 */
export async function downInterface(ifname: string, timeoutMs = DOWN_TIMEOUT_MS, socketDir = DEFAULT_SOCKET_DIR): Promise<void> {
  const sock = join(socketDir, `${ifname}.sock`);
  if (!existsSync(sock)) throw new Error(`no such interface: ${ifname} (no ${sock})`);
  const status = statusPath(ifname);
  const owner = readStatus(ifname)?.pid;
  // A status file whose process is gone (killed with SIGKILL) is stale: nobody will remove it.
  const waitStatus = owner !== undefined && processAlive(owner);
  if (owner !== undefined && !waitStatus) rmSync(status, { force: true });
  rmSync(sock, { force: true });
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!linkExists(ifname) && !(waitStatus && existsSync(status))) return;
    await sleep(DOWN_POLL_MS);
  }
  throw new Error(`${ifname} did not go down within ${timeoutMs / 1000} s`);
}

/** --interval: seconds, 0.1 to 3600. */
function secondsOption(value: string): number {
  const n = Number(value);
  if (!/^[0-9]+(\.[0-9]+)?$/.test(value) || n < 0.1 || n > 3600) throw new InvalidArgumentError('expected seconds between 0.1 and 3600');
  return n;
}

/** --count: a positive whole number. */
function countOption(value: string): number {
  if (!/^[1-9][0-9]{0,8}$/.test(value)) throw new InvalidArgumentError('expected a positive whole number');
  return Number(value);
}

/** Register up, down and show on the `wgts` program. */
export function registerUpCommands(program: Command): void {
  program
    .command('up')
    .description('run the interface of a config file (gateway or laptop) in the foreground; the name is the file name without .conf. A gateway in a registry (etcd://HOST:PORT[,HOST:PORT...]/PREFIX) is applied live from an etcd watch')
    .argument('<file>', 'config file, e.g. /etc/wgts/gw0.conf, or a registry URL etcd://10.0.0.5:2379/wgts/shop')
    .option('--ifname <name>', "with a registry: the interface name (default: PREFIX's last segment)")
    .addOption(new Option('--log-format <format>', `log lines as text or one JSON object per line (default: $${LOG_FORMAT_ENV} or text)`).choices(LOG_FORMATS))
    .option('--endpoints-file <file>', 'failover pair: keep FILE current with where each peer was last seen (merged, 0600), for `wgts ha kick --endpoints FILE` on the gateway that takes over')
    .action(async (file: string, opts: { logFormat?: LogFormat; ifname?: string; endpointsFile?: string }) => {
      let logFormat: LogFormat;
      try {
        logFormat = opts.logFormat ?? logFormatFromEnv();
      } catch (e) {
        process.stderr.write(`wgts: ${e instanceof Error ? e.message : String(e)}\n`);
        process.exit(1);
      }
      process.exit(await runUp(file, {
        logFormat,
        ...(opts.ifname === undefined ? {} : { ifname: opts.ifname }),
        ...(opts.endpointsFile === undefined ? {} : { endpointsFile: opts.endpointsFile }),
      }));
    });

  program
    .command('down')
    .description('stop a running interface (wgts up, wgts-go or wireguard-go) and wait until it is gone')
    .argument('<interface>', 'interface name or its config file')
    .action(async (arg: string) => {
      try {
        await downInterface(downTarget(arg));
      } catch (e) {
        const lines = e instanceof UpError ? e.messages : [e instanceof Error ? e.message : String(e)];
        for (const l of lines) process.stderr.write(`wgts: ${l}\n`);
        process.exitCode = 1;
      }
      // Whatever a crashed wgts left in this namespace (any interface name) goes too.
      try {
        const swept = await sweepStaleRules(runCommand, (name) => readStatus(name)?.pid ?? null);
        for (const [name, n] of swept) process.stdout.write(`wgts: removed ${n} firewall rule(s) of ${name} left by a wgts that no longer runs\n`);
      } catch (e) {
        process.stderr.write(`wgts: removing stale firewall rules: ${e instanceof Error ? e.message : String(e)}\n`);
      }
    });

  program
    .command('show')
    .description('show running interfaces like `wg show`, with peer names and denied packets of wgts up')
    .argument('[interface]', 'one interface (default: all)')
    .option('--json', 'machine-readable output: one object for an interface, an array for all')
    .option('--watch', 'keep watching: rates (bit/s, packets/s) per peer, handshake age, online (a handshake within 3 minutes), denied / refused packets; redrawn in place on a terminal (q or Ctrl-C quits), plain lines when piped')
    .option('--interval <seconds>', 'with --watch: seconds between looks (default 1)', secondsOption, 1)
    .option('--count <n>', 'with --watch: stop after N looks', countOption)
    .action(async (name: string | undefined, opts: { json?: boolean; watch?: boolean; interval: number; count?: number }) => {
      const names = name === undefined ? listUapiInterfaces() : [name];
      if (name !== undefined && !existsSync(join(DEFAULT_SOCKET_DIR, `${name}.sock`))) {
        process.stderr.write(`wgts: no such interface: ${name}\n`);
        process.exitCode = 1;
        return;
      }
      if (opts.watch) {
        if (opts.json) {
          process.stderr.write('wgts: --watch and --json do not go together (use --watch with a pipe for plain lines)\n');
          process.exitCode = 1;
          return;
        }
        process.exitCode = await runWatch({ name: name ?? null, intervalMs: Math.round(opts.interval * 1000), ...(opts.count === undefined ? {} : { count: opts.count }) });
        return;
      }
      const shown: ShowInterface[] = [];
      for (const n of names) {
        try {
          shown.push(await showInterface(n));
        } catch (e) {
          process.stderr.write(`wgts: ${n}: ${e instanceof Error ? e.message : String(e)}\n`);
          process.exitCode = 1;
        }
      }
      if (opts.json) {
        process.stdout.write(`${JSON.stringify(name === undefined ? shown : shown[0] ?? null, null, 2)}\n`);
      } else {
        process.stdout.write(shown.map((s) => formatShow(s)).join('\n'));
      }
    });
}
