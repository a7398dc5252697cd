// `wgts env FILE` and `wgts run FILE -- COMMAND [ARGS...]`: the project variables this laptop is
// granted by its gateway, fetched over the tunnel (src/gateway/env/client.ts), printed as
// `export NAME='value'` lines for a shell, or put into the environment of one command. Nothing is
// written to disk: the values live in this process's memory and in the command's environment.
//
// `wgts run` behaves like env(1) for the command: its exit status is wgts's (a command killed by a
// signal kills wgts with the same signal), 125 when wgts itself fails (no tunnel, no answer), 126
// when the command cannot be run, 127 when it is not found. Signals sent to wgts (SIGTERM, SIGHUP,
// SIGUSR1, SIGUSR2) are passed on to the command; SIGINT and SIGQUIT too, except when stdin is a
// terminal: the terminal sends those to the command itself already (it is in the same foreground
// process group), and passing them on would deliver each Ctrl-C twice.
import { spawn } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import { constants as osConstants } from 'node:os';
import type { Command } from 'commander';
import { parseConfig } from '../config/parse.js';
import { EnvFetchError, fetchEnv, gatewayAddressOf, interfaceOfFile, isIpLiteral, tunnelProblem, type FetchedEnv } from '../gateway/env/client.js';
import { exportLines } from '../gateway/env/names.js';
import { ENV_PORT } from '../gateway/env/service.js';
import { portOption, runCommand } from './gateway.js';

interface EnvFlags {
  gateway?: string;
  port: number;
  json?: boolean;
}

/** Exit statuses of `wgts run` itself, as env(1) has them. */
export const RUN_FAILED = 125;
export const RUN_CANNOT_EXECUTE = 126;
export const RUN_NOT_FOUND = 127;

const GATEWAY_HELP = "the gateway's tunnel address (default: read from FILE: its DNS server inside the AllowedIPs, else its one /32 or /128)";

/** The gateway's tunnel address for FILE (or --gateway), after checking that the tunnel carries it. */
async function gatewayFor(file: string, flags: EnvFlags): Promise<string> {
  if (flags.gateway !== undefined && !isIpLiteral(flags.gateway)) throw new EnvFetchError(`--gateway ${flags.gateway}: not an IP address`);
  let address = flags.gateway;
  if (address === undefined) {
    let text: string;
    try {
      text = await fsp.readFile(file, 'utf8');
    } catch (e) {
      throw new EnvFetchError(`cannot read ${file} (${e instanceof Error ? e.message : String(e)}): it tells the gateway's tunnel address; run as the file's owner, or give --gateway ADDRESS`);
    }
    const parsed = parseConfig(text, file);
    if (!parsed.ok) throw new EnvFetchError(parsed.errors.map((e) => e.message).join('\n'));
    if (parsed.config.gateway) throw new EnvFetchError(`${file} is a gateway config: give the laptop's client config (the one \`wgts peer add\` printed)`);
    const found = gatewayAddressOf(parsed.config, file);
    if (!found.ok) throw new EnvFetchError(found.error);
    address = found.address;
  }
  const problem = await tunnelProblem(address, interfaceOfFile(file), file);
  if (problem !== null) throw new EnvFetchError(problem);
  return address;
}

/** Fetches the granted variables and says on stderr what is missing or left out. */
async function granted(file: string, flags: EnvFlags): Promise<FetchedEnv> {
  const address = await gatewayFor(file, flags);
  const got = await fetchEnv(address, flags.port);
  for (const s of got.skipped) process.stderr.write(`wgts: warning: left out ${s}\n`);
  if (got.unavailable.length > 0) {
    process.stderr.write(`wgts: warning: the gateway cannot read the variables of ${got.unavailable.join(', ')} right now (its log says why): they are missing\n`);
  }
  if (got.vars.size === 0) {
    process.stderr.write(got.grants.length === 0
      ? `wgts: the gateway grants ${got.peer} no variables (Env = lines in its [Peer] of the gateway config)\n`
      : `wgts: the grants of ${got.peer} (${got.grants.join(', ')}) match no variable the gateway holds\n`);
  }
  return got;
}

/** Runs `command` with `vars` added to this environment; resolves when it is gone (see the module comment). */
export function runWith(vars: ReadonlyMap<string, string>, command: string, args: readonly string[]): Promise<{ code: number } | { signal: NodeJS.Signals }> {
  return new Promise((resolve) => {
    const child = spawn(command, [...args], { stdio: 'inherit', env: { ...process.env, ...Object.fromEntries(vars) } });
    const fromTerminal = process.stdin.isTTY === true;
    const handlers = new Map<NodeJS.Signals, () => void>();
    for (const sig of ['SIGTERM', 'SIGHUP', 'SIGUSR1', 'SIGUSR2', 'SIGINT', 'SIGQUIT'] as const) {
      const passOn = !(fromTerminal && (sig === 'SIGINT' || sig === 'SIGQUIT'));
      const h = (): void => { if (passOn && child.exitCode === null && child.signalCode === null) child.kill(sig); };
      handlers.set(sig, h);
      process.on(sig, h);
    }
    const done = (r: { code: number } | { signal: NodeJS.Signals }): void => {
      for (const [sig, h] of handlers) process.off(sig, h);
      resolve(r);
    };
    child.once('error', (e: NodeJS.ErrnoException) => {
      process.stderr.write(`wgts: ${command}: ${e.code === 'ENOENT' ? 'command not found' : e.message}\n`);
      done({ code: e.code === 'ENOENT' ? RUN_NOT_FOUND : RUN_CANNOT_EXECUTE });
    });
    child.once('exit', (code, signal) => done(signal !== null ? { signal } : { code: code ?? RUN_FAILED }));
  });
}

/** Ends this process as the command ended: the same exit status, or death by the same signal. */
function exitLike(r: { code: number } | { signal: NodeJS.Signals }): void {
  if ('code' in r) process.exit(r.code);
  process.kill(process.pid, r.signal);
  // A signal whose default action does not end a process (or that is caught): 128 + its number, as shells report it.
  setTimeout(() => process.exit(128 + (osConstants.signals[r.signal] ?? 0)), 200).unref();
}

/** Registers `wgts env` and `wgts run`. */
export function registerEnvCommands(program: Command): void {
  program
    .command('env')
    .description("print the project variables this laptop is granted, as export NAME='value' lines (the tunnel must be up)")
    .argument('<file>', "the laptop's client config (wgts up / wg-quick up FILE)")
    .option('--gateway <address>', GATEWAY_HELP)
    .option('--port <port>', "port of the gateway's variables service", portOption, ENV_PORT)
    .option('--json', 'print a JSON object {NAME: value} instead')
    .action((file: string, flags: EnvFlags) => runCommand(async () => {
      const got = await granted(file, flags);
      if (flags.json) process.stdout.write(`${JSON.stringify(Object.fromEntries([...got.vars].sort(([a], [b]) => (a < b ? -1 : 1))), null, 2)}\n`);
      else process.stdout.write(exportLines(got.vars));
    }));

  program
    .command('run')
    .description('run COMMAND with the project variables this laptop is granted in its environment (nothing written to disk)')
    .usage('[options] FILE -- COMMAND [ARGS...]')
    .argument('<file>', "the laptop's client config (wgts up / wg-quick up FILE)")
    .argument('<command...>', 'the command and its arguments, after --')
    .option('--gateway <address>', GATEWAY_HELP)
    .option('--port <port>', "port of the gateway's variables service", portOption, ENV_PORT)
    .action(async (file: string, command: string[], flags: EnvFlags) => {
      let got: FetchedEnv;
      try {
        got = await granted(file, flags);
      } catch (e) {
        process.stderr.write((e instanceof Error ? e.message : String(e)).split('\n').map((l) => `wgts: ${l}\n`).join(''));
        process.exit(RUN_FAILED);
      }
      const [cmd, ...args] = command;
      exitLike(await runWith(got.vars, cmd as string, args));
    });
}
