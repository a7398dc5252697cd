// The service manager's readiness protocol (sd_notify(3)), for `Type=notify` units: when systemd
// (or anything speaking the protocol) starts a process it names an AF_UNIX datagram socket in
// $NOTIFY_SOCKET, an absolute path or `@name` for an abstract one, and the process sends
// newline-separated `KEY=VALUE` states to it: READY=1 once it serves, RELOADING=1 (with
// MONOTONIC_USEC, which systemd 253's Type=notify-reload requires) when a reload begins and
// READY=1 again when it is done, STOPPING=1 when it shuts down, STATUS=... a line for
// `systemctl status`. Node has no AF_UNIX datagram sockets; the addon sends the datagram.
//
// The variable is taken out of the environment when read (as sd_notify's unset_environment), so
// programs the process runs (ip, iptables, resolvectl) never talk to the manager in its name.
// Without the variable every call is a no-op. A failed send is reported once and never stops the
// process: a manager that went away is not a reason to drop a tunnel.
import { getSystemErrorName } from 'node:util';
import { loadAddon } from './native.js';

/** The environment variable naming the socket. */
export const NOTIFY_SOCKET_ENV = 'NOTIFY_SOCKET';

/** STATUS= is one line; longer texts are cut here (characters). */
const STATUS_MAX = 200;

/** Sends one datagram; 0 or an errno. */
export type NotifySend = (socketPath: string, message: string) => number;

/** The current CLOCK_MONOTONIC in microseconds (libuv's hrtime reads CLOCK_MONOTONIC on Linux). */
export function monotonicUsec(): bigint {
  return process.hrtime.bigint() / 1000n;
}

/** One STATUS= value: a single line of at most STATUS_MAX characters. */
export function statusLine(text: string): string {
  const line = text.replace(/\s*\n\s*/g, '; ');
  return line.length > STATUS_MAX ? `${line.slice(0, STATUS_MAX - 1)}…` : line;
}

/** Talks to the service manager that started this process, if any. */
export class ServiceNotifier {
  private warned = false;

  /**
   * `socket`: the $NOTIFY_SOCKET value (undefined: nobody listens, every call is a no-op).
   * `onError` hears the first failed send.
   */
  constructor(readonly socket: string | undefined, private readonly onError: (message: string) => void = () => undefined,
    private readonly send: NotifySend = (path, message) => loadAddon().sdNotify(path, message)) {}

  /** The notifier of this process: reads $NOTIFY_SOCKET and removes it from the environment. */
  static fromEnv(onError?: (message: string) => void, env: NodeJS.ProcessEnv = process.env): ServiceNotifier {
    const socket = env[NOTIFY_SOCKET_ENV];
    delete env[NOTIFY_SOCKET_ENV];
    return new ServiceNotifier(socket !== undefined && socket !== '' ? socket : undefined, onError);
  }

  /** Whether a manager listens. */
  get enabled(): boolean {
    return this.socket !== undefined;
  }

  /** Serving (after the start, and after a reload): READY=1, with a status line. */
  ready(status?: string): void {
    this.notify(['READY=1', ...(status !== undefined ? [`STATUS=${statusLine(status)}`] : [])]);
  }

  /** A reload begins (READY=1 must follow when it is done). */
  reloading(status = 'reloading the config file'): void {
    this.notify(['RELOADING=1', `MONOTONIC_USEC=${monotonicUsec()}`, `STATUS=${statusLine(status)}`]);
  }

  /** Shutting down. */
  stopping(status = 'stopping'): void {
    this.notify(['STOPPING=1', `STATUS=${statusLine(status)}`]);
  }

  /** A new status line only. */
  status(text: string): void {
    this.notify([`STATUS=${statusLine(text)}`]);
  }

  private notify(lines: readonly string[]): void {
    if (this.socket === undefined) return;
    let err: number;
    try {
      err = this.send(this.socket, `${lines.join('\n')}\n`);
    } catch (e) {
      this.fail(e instanceof Error ? e.message : String(e));
      return;
    }
    if (err !== 0) this.fail(errnoName(err));
  }

  private fail(why: string): void {
    if (this.warned) return;
    this.warned = true;
    this.onError(`cannot notify the service manager at ${NOTIFY_SOCKET_ENV}=${this.socket} (${why}); carrying on without it`);
  }
}

function errnoName(err: number): string {
  try {
    return getSystemErrorName(-err);
  } catch {
    return `errno ${err}`;
  }
}
