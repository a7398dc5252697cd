// Test harness for WireGuard interfaces in network namespaces: start wgts-go or Debian's
// wireguard-go in a namespace, configure it with the real `wg` tool, read `wg show` back.
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Netns, sh, trySh, waitFor } from './netns.js';
import { repoRoot as findRepoRoot } from './vectors.js';

export type Impl = 'wgts' | 'wireguard-go';

/** The repository root (the directory holding package.json). */
export const repoRoot = findRepoRoot();

export const wgtsGoScript = join(repoRoot, 'dist', 'src', 'cli', 'wgts-go.js');
export const wgtsScript = join(repoRoot, 'dist', 'src', 'cli', 'wgts.js');

let ifCounter = 0;
/** A short interface name unique to this test process (UAPI sockets share /var/run/wireguard). */
export function uniqueIfname(prefix = 'wt'): string {
  return `${prefix}${process.pid % 100000}${String.fromCharCode(97 + (ifCounter++ % 26))}`.slice(0, 15);
}

export const socketPath = (ifname: string): string => `/var/run/wireguard/${ifname}.sock`;

export function genkey(): { priv: string; pub: string } {
  const priv = sh('wg', ['genkey']).trim();
  const pub = sh('wg', ['pubkey'], { input: `${priv}\n` }).trim();
  return { priv, pub };
}

const tmp = mkdtempSync(join(tmpdir(), 'wgts-test-'));
process.on('exit', () => rmSync(tmp, { recursive: true, force: true }));
let fileCounter = 0;
/** Writes a private temp file (0600) and returns its path. */
export function secretFile(content: string): string {
  const p = join(tmp, `f${fileCounter++}`);
  writeFileSync(p, content, { mode: 0o600 });
  return p;
}

export interface Daemon {
  impl: Impl;
  ifname: string;
  ns: Netns;
  proc: ChildProcess;
  log: () => string;
  stop(): Promise<void>;
}

/**
 * Starts `impl` in the foreground inside `ns` creating TUN `ifname`; resolves once its UAPI socket
 * exists. `wireguardGo` is the wireguard-go binary to run (default: `wireguard-go` on PATH).
 */
export async function startDaemon(impl: Impl, ns: Netns, ifname: string, env: NodeJS.ProcessEnv = {}, wireguardGo = 'wireguard-go'): Promise<Daemon> {
  const fullEnv = { ...process.env, LOG_LEVEL: 'verbose', WG_I_PREFER_BUGGY_USERSPACE_TO_POLISHED_KMOD: '1', ...env };
  const proc = impl === 'wgts'
    ? ns.spawn(process.execPath, ['--enable-source-maps', wgtsGoScript, '-f', ifname], { env: fullEnv })
    : ns.spawn(wireguardGo, ['-f', ifname], { env: fullEnv });
  let out = '';
  proc.stdout?.on('data', (d: Buffer) => { out += d.toString(); });
  proc.stderr?.on('data', (d: Buffer) => { out += d.toString(); });
  let exited = false;
  proc.on('exit', () => { exited = true; });
  await waitFor(async () => {
    if (exited) throw new Error(`${impl} exited early:\n${out}`);
    return existsSync(socketPath(ifname)) && await socketLive(socketPath(ifname));
  }, 10_000, 25, `${impl} ${ifname} socket`).catch((e: unknown) => { proc.kill('SIGKILL'); throw e; });
  return {
    impl, ifname, ns, proc,
    log: () => out,
    async stop(): Promise<void> {
      if (exited) return;
      proc.kill('SIGTERM');
      await waitFor(() => exited, 5000, 25, `${impl} exit`).catch(() => { proc.kill('SIGKILL'); });
    },
  };
}

/** The version a wireguard-go binary reports (`0.0.20250522`), or the path when it says none. */
export function goVersion(binary: string): string {
  const r = trySh(binary, ['--version']);
  const m = /v?(\d+\.\d+\.\d+)/.exec(r.stdout + r.stderr);
  return m ? (m[1] as string) : binary;
}

/** True when something accepts connections on the UNIX socket at `path`. */
export function socketLive(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const c = connect(path);
    c.once('connect', () => { c.destroy(); resolve(true); });
    c.once('error', () => resolve(false));
  });
}

/** `wg ARGS` inside the daemon's namespace. */
export function wg(d: { ns: Netns }, args: string[], input?: string): string {
  return d.ns.exec('wg', args, input === undefined ? {} : { input });
}

/** Parses `wg show IF dump` into the interface line and peer lines. */
export function dump(d: Daemon): { iface: string[]; peers: Map<string, { endpoint: string; allowed: string; handshake: number; rx: number; tx: number; keepalive: string; psk: string }> } {
  const lines = wg(d, ['show', d.ifname, 'dump']).trim().split('\n');
  const iface = (lines.shift() ?? '').split('\t');
  const peers = new Map<string, { endpoint: string; allowed: string; handshake: number; rx: number; tx: number; keepalive: string; psk: string }>();
  for (const l of lines) {
    const [pub, psk, endpoint, allowed, hs, rx, tx, ka] = l.split('\t');
    peers.set(pub ?? '', { psk: psk ?? '', endpoint: endpoint ?? '', allowed: allowed ?? '', handshake: Number(hs), rx: Number(rx), tx: Number(tx), keepalive: ka ?? '' });
  }
  return { iface, peers };
}

/** Ping from `ns` to `addr`; true when at least one reply came back. Bounded by count and deadline. */
export function ping(ns: Netns, addr: string, opts: { count?: number; size?: number; deadline?: number } = {}): boolean {
  const args = [addr.includes(':') ? '-6' : '-4', '-c', String(opts.count ?? 1), '-W', '1', '-w', String(opts.deadline ?? 3), '-i', '0.2'];
  if (opts.size !== undefined) args.push('-s', String(opts.size), '-M', 'do');
  return ns.tryExec('ping', [...args, addr], { timeoutMs: ((opts.deadline ?? 3) + 2) * 1000 }).status === 0;
}

/** Ping average RTT in ms over `count` echoes (throws when no reply). */
export function pingRtt(ns: Netns, addr: string, count = 20): number {
  const r = ns.exec('ping', ['-c', String(count), '-i', '0.05', '-W', '1', '-w', '10', addr], { timeoutMs: 15_000 });
  const m = r.match(/= [\d.]+\/([\d.]+)\//);
  if (!m) throw new Error(`no RTT in ping output: ${r}`);
  return Number(m[1]);
}

/**
 * One iperf3 TCP run client -> server (or reverse) through `addr` for `seconds`; returns the
 * received bits per second. The one-off server is started first and waited for until it listens.
 */
export async function iperf(server: Netns, client: Netns, addr: string, seconds: number, reverse: boolean): Promise<number> {
  const srv = server.spawn('iperf3', ['-s', '-1', '-B', addr, '-p', '5201']);
  try {
    await waitFor(() => server.tryExec('ss', ['-Hltn', 'sport = :5201']).stdout.includes(':5201'), 5000, 20, 'iperf3 server listening');
    const out = client.exec('iperf3', ['-c', addr, '-p', '5201', '-t', String(seconds), '-J', ...(reverse ? ['-R'] : [])], { timeoutMs: (seconds + 25) * 1000 });
    return (JSON.parse(out) as { end: { sum_received: { bits_per_second: number } } }).end.sum_received.bits_per_second;
  } finally {
    srv.kill('SIGKILL');
  }
}

/** Result of one iperf3 UDP run, as the receiving side counted it. */
export interface UdpRun { bitsPerSecond: number; lostPercent: number; packets: number }

/**
 * One iperf3 UDP run client -> server (or reverse) through `addr` for `seconds`, offering
 * `bitrate` (iperf3 syntax, e.g. '400M') in datagrams of `size` bytes.
 */
export async function iperfUdp(server: Netns, client: Netns, addr: string, seconds: number, reverse: boolean, bitrate: string, size: number): Promise<UdpRun> {
  const srv = server.spawn('iperf3', ['-s', '-1', '-B', addr, '-p', '5201']);
  try {
    await waitFor(() => server.tryExec('ss', ['-Hltn', 'sport = :5201']).stdout.includes(':5201'), 5000, 20, 'iperf3 server listening');
    const out = client.exec('iperf3', ['-c', addr, '-p', '5201', '-u', '-b', bitrate, '-l', String(size), '-t', String(seconds), '-J', ...(reverse ? ['-R'] : [])], { timeoutMs: (seconds + 25) * 1000 });
    const sum = (JSON.parse(out) as { end: { sum: { bits_per_second: number; lost_percent: number; packets: number } } }).end.sum;
    return { bitsPerSecond: sum.bits_per_second, lostPercent: sum.lost_percent, packets: sum.packets };
  } finally {
    srv.kill('SIGKILL');
  }
}
