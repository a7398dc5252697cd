// `wgts-go [-f|--foreground] IFNAME` (also `wgts daemon`): the wireguard-go process contract.
// Without -f the parent starts a detached copy of itself in the foreground, waits until that child
// has created the TUN and the UAPI socket (it reports over an inherited pipe, fd 3), and returns;
// the child keeps running. Exit codes and messages follow wireguard-go.
// Started by a service manager (Type=notify, $NOTIFY_SOCKET set), the foreground process tells it
// READY=1 once the TUN and the socket exist, and STOPPING=1 when it shuts down. `--log-format json`
// (or WGTS_LOG_FORMAT=json, for wg-quick, which passes no options) writes one JSON object per line.
import { spawn } from 'node:child_process';
import type { Command } from 'commander';
import { createWriteStream } from 'node:fs';
import { createLogger, levelFromEnv, LOG_FORMAT_ENV, logFormatFromEnv, LogLevel, parseLogFormat, type LogFormat } from '../device/log.js';
import { crashInProgress, EXIT_CRASH, exitCleanlyOnCrash } from '../io/crash.js';
import { runInterface } from '../io/interface.js';
import { NOTIFY_SOCKET_ENV, ServiceNotifier } from '../io/notify.js';
import { VERSION } from './version.js';


const USAGE = (prog: string): string => `Usage: ${prog} [-f/--foreground] [--log-format text|json] INTERFACE-NAME\n`;

export interface DaemonArgs { foreground: boolean; ifname: string; logFormat?: LogFormat }

export function parseDaemonArgs(argv: string[]): DaemonArgs | 'version' | null {
  if (argv.length === 1 && (argv[0] === '--version' || argv[0] === '-v')) return 'version';
  let foreground = false;
  let logFormat: LogFormat | undefined;
  const rest: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    if (a === '-f' || a === '--foreground') {
      foreground = true;
    } else if (a === '--log-format' || a.startsWith('--log-format=')) {
      const v = a === '--log-format' ? argv[++i] : a.slice('--log-format='.length);
      const f = v === undefined ? null : parseLogFormat(v);
      if (f === null) return null;
      logFormat = f;
    } else {
      rest.push(a);
    }
  }
  if (rest.length !== 1 || !rest[0]) return null;
  return logFormat === undefined ? { foreground, ifname: rest[0] } : { foreground, ifname: rest[0], logFormat };
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
  let format: LogFormat;
  try {
    format = args.logFormat ?? logFormatFromEnv();
  } catch (e) {
    process.stderr.write(`${prog}: ${e instanceof Error ? e.message : String(e)}\n`);
    return 1;
  }
  const foreground = args.foreground || process.env.WG_PROCESS_FOREGROUND === '1';
  if (foreground) return runForeground(args.ifname, format);
  return startBackground(args.ifname, self, format);
}

async function runForeground(ifname: string, format: LogFormat): Promise<number> {
  const log = createLogger(ifname, levelFromEnv(process.env.LOG_LEVEL), undefined, undefined, { format });
  const notifier = ServiceNotifier.fromEnv((m) => log.error(m, { event: 'notify' }));
  // In the background child, fd 3 is the readiness pipe to the parent.
  const ready = process.env.WGTS_READY_FD === '3' ? createWriteStream('', { fd: 3 }) : null;
  const report = (line: string): void => { if (ready) { ready.write(line); ready.end(); } };
  log.verbose(`Starting wgts-go version ${VERSION}`);
  // An uncaught exception: logged (even at LOG_LEVEL=silent: it ends the process), TUN and socket
  // removed, exit EXIT_CRASH.
  let iface: Awaited<ReturnType<typeof runInterface>> | undefined;
  // The crash line is written whatever LOG_LEVEL says (a logger at level Error, even when silent).
  const crashLog = createLogger(ifname, LogLevel.Error, undefined, undefined, { format });
  exitCleanlyOnCrash((m) => crashLog.error(m, { event: 'crash' }), async () => { await iface?.close('crashed'); });
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
  notifier.ready(`wgts-go ${ifname}: TUN and /var/run/wireguard/${ifname}.sock ready`);
  const running = iface;
  const stop = (why: string): void => { log.verbose(why); notifier.stopping(why); void running.close(); };
  process.once('SIGTERM', () => stop('Received SIGTERM, shutting down'));
  process.once('SIGINT', () => stop('Received SIGINT, shutting down'));
  const reason = await running.closed;
  log.verbose(`Shutting down (${reason})`);
  return crashInProgress() ? EXIT_CRASH : 0;
}

function startBackground(ifname: string, self: readonly string[], format: LogFormat): Promise<number> {
  const level = levelFromEnv(process.env.LOG_LEVEL);
  const passLogs = process.env.LOG_LEVEL !== undefined && level !== LogLevel.Silent;
  // The detached child is not the process a service manager started: it must not notify in its name.
  const env: NodeJS.ProcessEnv = { ...process.env, WG_PROCESS_FOREGROUND: '1', WGTS_READY_FD: '3', [LOG_FORMAT_ENV]: format };
  delete env[NOTIFY_SOCKET_ENV];
  const child = spawn(process.execPath, [...self, '-f', ifname], {
    detached: true,
    stdio: ['ignore', passLogs ? 'inherit' : 'ignore', passLogs ? 'inherit' : 'ignore', 'pipe'],
    env,
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
