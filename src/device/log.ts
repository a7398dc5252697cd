// Logging in wireguard-go's style: `LEVEL: (ifname) 2006/01/02 15:04:05 message` on stdout/stderr,
// level chosen by LOG_LEVEL (verbose|debug, error, silent; default error) exactly like wireguard-go.
// Nothing secret is ever passed here: callers log public keys in the short form only (`peerLabel`).

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

export interface Logger {
  readonly level: LogLevel;
  verbose(msg: string): void;
  error(msg: string): void;
}

function stamp(d: Date): string {
  const p = (n: number): string => String(n).padStart(2, '0');
  return `${d.getFullYear()}/${p(d.getMonth() + 1)}/${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

export function createLogger(ifname: string, level: LogLevel = levelFromEnv(process.env.LOG_LEVEL),
  out: (line: string) => void = (l) => process.stdout.write(l), err: (line: string) => void = (l) => process.stderr.write(l)): Logger {
  return {
    level,
    verbose(msg: string): void {
      if (level >= LogLevel.Verbose) out(`DEBUG: (${ifname}) ${stamp(new Date())} ${msg}\n`);
    },
    error(msg: string): void {
      if (level >= LogLevel.Error) err(`ERROR: (${ifname}) ${stamp(new Date())} ${msg}\n`);
    },
  };
}

/** wireguard-go's peer label: `peer(` + first 4 and last 4 base64 characters of the public key + `)`. */
export function peerLabel(publicKeyBase64: string): string {
  return `peer(${publicKeyBase64.slice(0, 4)}…${publicKeyBase64.slice(39, 43)})`;
}
