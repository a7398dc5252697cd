// `wgts-go [-f|--foreground] IFNAME` (also `wgts daemon`): the wireguard-go process contract.
// Without -f the parent starts a detached copy of itself in the foreground, waits until that child
// has created the TUN and the UAPI socket (it reports over an inherited pipe, fd 3), and returns;
// the child keeps running. Exit codes and messages follow wireguard-go.
import { spawn } from 'node:child_process';
import type { Command } from 'commander';
import { createWriteStream } from 'node:fs';
import { createLogger, levelFromEnv, LogLevel } from '../device/log.js';
import { crashInProgress, EXIT_CRASH, exitCleanlyOnCrash } from '../io/crash.js';
import { runInterface } from '../io/interface.js';
import { VERSION } from './version.js';


const USAGE = (prog: string): string => `Usage: ${prog} [-f/--foreground] INTERFACE-NAME\n`;

export interface DaemonArgs { foreground: boolean; ifname: string }

export function parseDaemonArgs(argv: string[]): DaemonArgs | 'version' | null {
  if (argv.length === 1 && (argv[0] === '--version' || argv[0] === '-v')) return 'version';
  let foreground = false;
  const rest: string[] = [];
  for (const a of argv) {
    if (a === '-f' || a === '--foreground') foreground = true;
    else rest.push(a);
  }
  if (rest.length !== 1 || !rest[0]) return null;
  return { foreground, ifname: rest[0] };
}

/**
 * Runs the daemon command; resolves with the process exit code (the foreground case resolves when
 * the interface stops). `self` is how to start this program again (script + leading arguments),
 * used for the background child.
 */
export async function daemonMain(prog: string, argv: string[], self: readonly string[]): Promise<number> {
  const args = parseDaemonArgs(argv);
  if (args === 'version') {
    process.stdout.write(`wgts-go v${VERSION}\n\nUserspace WireGuard daemon for ${process.platform}-${process.arch} in TypeScript.\nInformation available at https://www.wireguard.com.\n`);
    return 0;
  }
  if (!args) { process.stderr.write(USAGE(prog)); return 2; }
  if (!/^[A-Za-z0-9_=+.-]{1,15}$/.test(args.ifname)) {
    process.stderr.write(`${prog}: invalid interface name: ${args.ifname}\n`);
    return 1;
  }
  const foreground = args.foreground || process.env.WG_PROCESS_FOREGROUND === '1';
  if (foreground) return runForeground(args.ifname);
  return startBackground(args.ifname, self);
}

async function runForeground(ifname: string): Promise<number> {
  const log = createLogger(ifname);
  // In the background child, fd 3 is the readiness pipe to the parent.
  const ready = process.env.WGTS_READY_FD === '3' ? createWriteStream('', { fd: 3 }) : null;
  const report = (line: string): void => { if (ready) { ready.write(line); ready.end(); } };
  log.verbose(`Starting wgts-go version ${VERSION}`);
  // An uncaught exception: logged (even at LOG_LEVEL=silent: it ends the process), TUN and socket
  // removed, exit EXIT_CRASH.
  let iface: Awaited<ReturnType<typeof runInterface>> | undefined;
  exitCleanlyOnCrash((m) => process.stderr.write(`ERROR: (${ifname}) ${m}\n`), async () => { await iface?.close('crashed'); });
  try {
    iface = await runInterface(ifname, log);
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    log.error(msg);
    report(`error ${msg}\n`);
    if (!ready) process.stderr.write(`${msg}\n`);
    return 1;
  }
  report('ready\n');
  const running = iface;
  const stop = (why: string): void => { log.verbose(why); void running.close(); };
  process.once('SIGTERM', () => stop('Received SIGTERM, shutting down'));
  process.once('SIGINT', () => stop('Received SIGINT, shutting down'));
  const reason = await running.closed;
  log.verbose(`Shutting down (${reason})`);
  return crashInProgress() ? EXIT_CRASH : 0;
}

function startBackground(ifname: string, self: readonly string[]): Promise<number> {
  const level = levelFromEnv(process.env.LOG_LEVEL);
  const passLogs = process.env.LOG_LEVEL !== undefined && level !== LogLevel.Silent;
  const child = spawn(process.execPath, [...self, '-f', ifname], {
    detached: true,
    stdio: ['ignore', passLogs ? 'inherit' : 'ignore', passLogs ? 'inherit' : 'ignore', 'pipe'],
    env: { ...process.env, WG_PROCESS_FOREGROUND: '1', WGTS_READY_FD: '3' },
  });
  return new Promise((resolve) => {
    let said = '';
    const pipe = child.stdio[3];
    const finish = (code: number): void => {
      child.removeAllListeners('exit');
      pipe?.removeAllListeners();
      child.unref();
      (pipe as { destroy?: () => void } | null)?.destroy?.();
      resolve(code);
    };
    pipe?.on('data', (d: Buffer) => {
      said += d.toString();
      if (said.startsWith('ready\n')) finish(0);
    });
    pipe?.on('end', () => {
      if (said.startsWith('error ')) { process.stderr.write(said.slice(6)); finish(1); }
    });
    child.on('exit', (code) => {
      if (!said.startsWith('ready')) {
        if (said.startsWith('error ')) process.stderr.write(said.slice(6));
        finish(code === 0 ? 1 : code ?? 1);
      }
    });
  });
}

/** `wgts daemon [-f] IFNAME`: the same as `wgts-go`. */
export function registerDaemonCommand(program: Command): void {
  program
    .command('daemon')
    .description('run a WireGuard interface configured over UAPI, exactly like wireguard-go (same as wgts-go)')
    .argument('<args...>', '[-f|--foreground] IFNAME')
    .allowUnknownOption()
    .helpOption(false)
    .action(async (args: string[]) => {
      const script = process.argv[1] ?? '';
      process.exit(await daemonMain('wgts daemon', args, [script, 'daemon']));
    });
}
