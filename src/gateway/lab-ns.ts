// System primitives of `wgts lab`: running commands (in a named network namespace or not), the
// namespaces themselves with their /etc/netns overrides, veth links, long-lived detached processes,
// and taking all of it down again. Everything here is synchronous so that the lab's teardown can
// run from a signal or exit handler with nothing else in flight.
//
// The lab uses src/io/netns.ts only for running commands, not its Netns class: that class
// removes its namespaces and kills its processes whenever this process exits, and
// `wgts lab --keep` must leave them running after it.
// Lab processes are started detached (own process group: Ctrl-C in the terminal reaches only the
// lab command, whose handler then tears down in order) and found again through `ip netns pids`.
import { spawn } from 'node:child_process';
import { namespacePids, trySh } from '../io/netns.js';
import { accessSync, closeSync, constants, existsSync, mkdirSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { delimiter, join } from 'node:path';

/** Where `ip netns` keeps named namespaces. */
export const NETNS_RUN_DIR = '/run/netns';
/** Where `ip netns exec` finds per-namespace files it bind-mounts over /etc. */
export const NETNS_ETC_DIR = '/etc/netns';

/** Outcome of one command. */
export interface RunResult {
  /** Exit status; -1 when it did not start, was killed or ran out of time. */
  status: number;
  stdout: string;
  stderr: string;
}

/** Options of run / runIn. */
export interface RunOptions {
  env?: NodeJS.ProcessEnv;
  /** Kill the command after this long (default 20 s). */
  timeoutMs?: number;
}

const DEFAULT_TIMEOUT_MS = 20_000;

/** Runs a command to completion (no shell); never throws. */
export function run(cmd: string, args: readonly string[], opts: RunOptions = {}): RunResult {
  return trySh(cmd, args, { timeoutMs: opts.timeoutMs ?? DEFAULT_TIMEOUT_MS, ...(opts.env ? { env: opts.env } : {}) });
}

/** Like run, but throws (with the command and its stderr) unless it exits 0; returns stdout. */
export function runOk(cmd: string, args: readonly string[], opts: RunOptions = {}): string {
  const r = run(cmd, args, opts);
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}): ${r.stderr.trim()}`);
  return r.stdout;
}

/** `ip netns exec NS CMD ARGS` through run. */
export function runIn(ns: string, cmd: string, args: readonly string[], opts: RunOptions = {}): RunResult {
  return run('ip', ['netns', 'exec', ns, cmd, ...args], opts);
}

/** `ip netns exec NS CMD ARGS` through runOk. */
export function runInOk(ns: string, cmd: string, args: readonly string[], opts: RunOptions = {}): string {
  return runOk('ip', ['netns', 'exec', ns, cmd, ...args], opts);
}

/** The full path of an executable found in `path` (default $PATH), or null. */
export function which(cmd: string, path: string = process.env.PATH ?? ''): string | null {
  for (const dir of path.split(delimiter)) {
    if (dir === '') continue;
    const p = join(dir, cmd);
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {
      // not here
    }
  }
  return null;
}

const sleeper = new Int32Array(new SharedArrayBuffer(4));
/** Blocks the thread for `ms` (teardown may run where no event loop turns any more). */
export function sleepSync(ms: number): void {
  Atomics.wait(sleeper, 0, 0, ms);
}

/** Named namespaces whose name starts with `prefix`. */
export function namespacesWithPrefix(prefix: string): string[] {
  try {
    return readdirSync(NETNS_RUN_DIR).filter((n) => n.startsWith(prefix)).sort();
  } catch {
    return [];
  }
}

/** The host's nsswitch.conf with hosts resolved from files and DNS only (no mDNS, no systemd-resolved). */
function labNsswitch(): string {
  let host = '';
  try {
    host = readFileSync('/etc/nsswitch.conf', 'utf8');
  } catch {
    // no nsswitch.conf: glibc's defaults for the other databases
  }
  const kept = host.split('\n').filter((l) => l.trim() !== '' && !/^\s*hosts\s*:/.test(l));
  return `${['# wgts lab: names come from /etc/hosts and the resolv.conf of this namespace only', ...kept, 'hosts: files dns'].join('\n')}\n`;
}

/** resolv.conf of a lab namespace until the tunnel's DNS replaces it: its own loopback, where nothing listens. */
export const GUARD_RESOLV_CONF = '# wgts lab: no resolver outside the lab namespaces\nnameserver 127.0.0.1\n';

/**
 * Creates the namespace `name` with lo up. First come the files `ip netns exec` bind-mounts over
 * /etc inside it, so nothing there can ever ask the host's resolvers: GUARD_RESOLV_CONF (on the
 * laptop, `wgts up` or the resolvconf shim replace it with the tunnel's DNS), a hosts file with
 * localhost only, and an nsswitch.conf without the host's resolver modules.
 */
export function createNamespace(name: string): void {
  const etc = join(NETNS_ETC_DIR, name);
  mkdirSync(etc, { recursive: true, mode: 0o755 });
  writeFileSync(join(etc, 'resolv.conf'), GUARD_RESOLV_CONF, { mode: 0o644 });
  writeFileSync(join(etc, 'hosts'), '127.0.0.1\tlocalhost\n::1\tlocalhost\n', { mode: 0o644 });
  writeFileSync(join(etc, 'nsswitch.conf'), labNsswitch(), { mode: 0o644 });
  runOk('ip', ['netns', 'add', name]);
  runInOk(name, 'ip', ['link', 'set', 'lo', 'up']);
}

/** One end of a veth pair: namespace, interface name, address (CIDR) or none. */
export interface VethEnd {
  ns: string;
  ifname: string;
  address?: string;
}

/** A veth pair created directly inside two namespaces (never in the host's), both ends up. */
export function vethPair(a: VethEnd, b: VethEnd): void {
  runOk('ip', ['link', 'add', a.ifname, 'netns', a.ns, 'type', 'veth', 'peer', 'name', b.ifname, 'netns', b.ns]);
  for (const end of [a, b]) {
    if (end.address !== undefined) runInOk(end.ns, 'ip', ['address', 'add', end.address, 'dev', end.ifname]);
    runInOk(end.ns, 'ip', ['link', 'set', end.ifname, 'up']);
  }
}

/** A process started by spawnIn. */
export interface LabProcess {
  /** Exit code, or -1 when killed by a signal; null while it runs (as far as this process saw). */
  exitCode(): number | null;
}

/**
 * Starts `cmd args` inside `ns` detached (own process group), stdout and stderr appended to
 * `logPath`, and lets this process exit without waiting for it.
 */
export function spawnIn(ns: string, cmd: string, args: readonly string[], logPath: string, env: NodeJS.ProcessEnv = process.env): LabProcess {
  const fd = openSync(logPath, 'a', 0o600);
  try {
    const child = spawn('ip', ['netns', 'exec', ns, cmd, ...args], { detached: true, stdio: ['ignore', fd, fd], env });
    let code: number | null = null;
    child.on('exit', (c) => { code = c ?? -1; });
    child.on('error', () => { code = -1; });
    child.unref();
    return { exitCode: () => code };
  } finally {
    closeSync(fd);
  }
}

function signal(pids: readonly number[], sig: NodeJS.Signals): void {
  for (const pid of pids) {
    try {
      process.kill(pid, sig);
    } catch {
      // already gone
    }
  }
}

/**
 * Ends every process in the namespaces: SIGTERM (a `wgts up` then undoes its changes, wireguard-go
 * removes its socket), up to `graceMs` for them to go, then SIGKILL for what is left. Returns how
 * many processes there were and how many had to be killed.
 */
export function stopNamespaceProcesses(namespaces: readonly string[], graceMs: number): { stopped: number; killed: number } {
  const all = (): number[] => namespaces.flatMap((ns) => namespacePids(ns));
  const first = all();
  signal(first, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  let left = all();
  while (left.length > 0 && Date.now() < deadline) {
    sleepSync(50);
    left = all();
  }
  signal(left, 'SIGKILL');
  for (let i = 0; i < 20 && all().length > 0; i++) sleepSync(50);
  return { stopped: first.length, killed: left.length };
}

/** Deletes the namespace (its links go with it) and its /etc/netns directory. */
export function deleteNamespace(ns: string): void {
  if (existsSync(join(NETNS_RUN_DIR, ns))) run('ip', ['netns', 'delete', ns], { timeoutMs: 5000 });
  rmSync(join(NETNS_ETC_DIR, ns), { recursive: true, force: true });
}
