// Logging in wireguard-go's style: `LEVEL: (ifname) 2006/01/02 15:04:05 message` on stdout/stderr,
// level chosen by LOG_LEVEL (verbose|debug, error, silent; default error) exactly like wireguard-go.
// Or, with the format `json`, one JSON object per line on the same streams: time (ISO 8601, UTC),
// level (debug, info, warn, error), interface, the peer's name and short key where a line is about
// a peer, the event (a stable name where one is given) and the message.
// Nothing secret is ever passed here: callers name peers by public key (`LogContext.peer`), which
// is only ever printed in the short form (`abcd…wxyz`), and no message carries a private or
// preshared key.

export const enum LogLevel { Silent = 0, Error = 1, Verbose = 2 }

export function levelFromEnv(value: string | undefined): LogLevel {
  switch (value) {
    case 'verbose':
    case 'debug':
      return LogLevel.Verbose;
    case 'silent':
      return LogLevel.Silent;
    default:
      return LogLevel.Error;
  }
}

/** How log lines are written. */
export type LogFormat = 'text' | 'json';
export const LOG_FORMATS: readonly LogFormat[] = ['text', 'json'];
/** The environment variable choosing the format where no option can (wgts-go started by wg-quick). */
export const LOG_FORMAT_ENV = 'WGTS_LOG_FORMAT';

/** A format name, or null when it is none. */
export function parseLogFormat(value: string): LogFormat | null {
  return (LOG_FORMATS as readonly string[]).includes(value) ? (value as LogFormat) : null;
}

/** The format of $WGTS_LOG_FORMAT (text when unset); throws naming the bad value. */
export function logFormatFromEnv(env: NodeJS.ProcessEnv = process.env): LogFormat {
  const v = env[LOG_FORMAT_ENV];
  if (v === undefined || v === '') return 'text';
  const f = parseLogFormat(v);
  if (f === null) throw new Error(`${LOG_FORMAT_ENV}=${v}: the log format is text or json`);
  return f;
}

/** What a log line is about, beyond its message. */
export interface LogContext {
  /** A stable name of the kind of event (`up`, `reload`, `peer-added`, ...). */
  event?: string;
  /** The base64 public key of the peer the line is about (printed in the short form only). */
  peer?: string;
  /** The peer's name, when the caller knows it better than the names lookup (a removed peer). */
  name?: string;
}

/** Peer names by base64 public key, where the caller knows them (a gateway's [Peer] Name). */
export type PeerNames = (publicKeyBase64: string) => string | undefined;

export interface Logger {
  readonly level: LogLevel;
  verbose(msg: string, ctx?: LogContext): void;
  error(msg: string, ctx?: LogContext): void;
}

function stamp(d: Date): string {
  const p = (n: number): string => String(n).padStart(2, '0');
  return `${d.getFullYear()}/${p(d.getMonth() + 1)}/${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

/** The short form of a base64 public key: first 4 and last 4 characters (wireguard-go's). */
export function shortKey(publicKeyBase64: string): string {
  return `${publicKeyBase64.slice(0, 4)}…${publicKeyBase64.slice(39, 43)}`;
}

/** One JSON log line's fields, in the order they are written. */
export interface LogRecord {
  time: string;
  level: 'debug' | 'info' | 'warn' | 'error';
  interface: string;
  peer?: string;
  key?: string;
  event?: string;
  message: string;
}

/** A JSON log line (with its newline): the LogRecord fields in their order, absent ones left out. */
export function jsonLogLine(level: LogRecord['level'], ifname: string, message: string, ctx: LogContext = {}, names?: PeerNames, now = new Date()): string {
  const rec: Partial<LogRecord> = { time: now.toISOString(), level, interface: ifname };
  if (ctx.peer !== undefined) {
    const name = ctx.name ?? names?.(ctx.peer);
    if (name !== undefined) rec.peer = name;
    rec.key = shortKey(ctx.peer);
  }
  if (ctx.event !== undefined) rec.event = ctx.event;
  rec.message = message;
  return `${JSON.stringify(rec)}\n`;
}

export interface LoggerOptions {
  format?: LogFormat;
  /** Names for the `peer` field of JSON lines. */
  names?: PeerNames;
}

export function createLogger(ifname: string, level: LogLevel = levelFromEnv(process.env.LOG_LEVEL),
  out: (line: string) => void = (l) => process.stdout.write(l), err: (line: string) => void = (l) => process.stderr.write(l),
  opts: LoggerOptions = {}): Logger {
  if (opts.format === 'json') {
    return {
      level,
      verbose(msg: string, ctx?: LogContext): void {
        if (level >= LogLevel.Verbose) out(jsonLogLine('debug', ifname, msg, ctx, opts.names));
      },
      error(msg: string, ctx?: LogContext): void {
        if (level >= LogLevel.Error) err(jsonLogLine('error', ifname, msg, ctx, opts.names));
      },
    };
  }
  const text = (msg: string, ctx?: LogContext): string => (ctx?.peer !== undefined ? `${peerLabel(ctx.peer)} - ${msg}` : msg);
  return {
    level,
    verbose(msg: string, ctx?: LogContext): void {
      if (level >= LogLevel.Verbose) out(`DEBUG: (${ifname}) ${stamp(new Date())} ${text(msg, ctx)}\n`);
    },
    error(msg: string, ctx?: LogContext): void {
      if (level >= LogLevel.Error) err(`ERROR: (${ifname}) ${stamp(new Date())} ${text(msg, ctx)}\n`);
    },
  };
}

/** wireguard-go's peer label: `peer(` + first 4 and last 4 base64 characters of the public key + `)`. */
export function peerLabel(publicKeyBase64: string): string {
  return `peer(${shortKey(publicKeyBase64)})`;
}
