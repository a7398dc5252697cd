// Network namespaces for the lab, the tests and the benchmarks. Every namespace, veth and process
// created here belongs to this process and is removed on exit (also after a failure or a signal).
// Namespaces get no default route and no link to the host network: traffic stays inside them.
import { execFileSync, spawn, spawnSync, type ChildProcess, type SpawnOptions } from 'node:child_process';

const created: string[] = [];
const children = new Set<ChildProcess>();
let counter = 0;

export function requireRoot(): void {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) {
    throw new Error('network namespaces need root: run this with sudo');
  }
}

type RunOpts = { input?: string; timeoutMs?: number; env?: NodeJS.ProcessEnv };

/** Runs a command (no shell) to completion and returns status and output; never throws. */
export function trySh(cmd: string, args: readonly string[], opts: RunOpts = {}): { status: number; stdout: string; stderr: string } {
  const r = spawnSync(cmd, [...args], { encoding: 'utf8', input: opts.input, timeout: opts.timeoutMs ?? 30_000, env: opts.env ?? process.env });
  const why = r.error ? r.error.message : r.signal ? `killed by ${r.signal}` : '';
  return { status: r.status ?? -1, stdout: r.stdout ?? '', stderr: (r.stderr ?? '') + why };
}

/** Like trySh, but returns stdout only and throws (command + stderr) unless it exits 0. */
export function sh(cmd: string, args: readonly string[], opts: RunOpts = {}): string {
  const r = trySh(cmd, args, opts);
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.status}: ${r.stderr.trim()}`);
  return r.stdout;
}

/** Pids of the processes inside namespace `ns` (`ip netns pids`). */
export function namespacePids(ns: string): number[] {
  return trySh('ip', ['netns', 'pids', ns], { timeoutMs: 5000 }).stdout.split(/\s+/).filter((p) => /^[0-9]+$/.test(p)).map(Number);
}

export class Netns {
  readonly name: string;
  /** Creates a namespace named `wgts-<pid>-<n>-<label>`, or exactly `opts.name`. */
  constructor(label: string, opts: { name?: string } = {}) {
    requireRoot();
    this.name = opts.name ?? `wgts-${process.pid}-${counter++}-${label}`.slice(0, 60);
    hookCleanup();
    execFileSync('ip', ['netns', 'add', this.name]);
    created.push(this.name);
    this.exec('ip', ['link', 'set', 'lo', 'up']);
  }
  /** Runs a command inside the namespace and returns stdout (throws on non-zero exit). */
  exec(cmd: string, args: string[], opts: RunOpts = {}): string {
    return sh('ip', ['netns', 'exec', this.name, cmd, ...args], opts);
  }
  tryExec(cmd: string, args: string[], opts: RunOpts = {}): { status: number; stdout: string; stderr: string } {
    return trySh('ip', ['netns', 'exec', this.name, cmd, ...args], opts);
  }
  /** Starts a long-running process inside the namespace; it is killed at exit if still running. */
  spawn(cmd: string, args: string[], opts: SpawnOptions = {}): ChildProcess {
    const child = spawn('ip', ['netns', 'exec', this.name, cmd, ...args], { stdio: ['ignore', 'pipe', 'pipe'], ...opts });
    children.add(child);
    child.on('exit', () => children.delete(child));
    return child;
  }
  /** The namespace's veth pair end `here` linked to `there` in `other`, both with the given CIDR addresses. */
  link(other: Netns, here: { ifname: string; addrs: string[] }, there: { ifname: string; addrs: string[] }): void {
    execFileSync('ip', ['link', 'add', here.ifname, 'netns', this.name, 'type', 'veth', 'peer', 'name', there.ifname, 'netns', other.name]);
    for (const a of here.addrs) this.exec('ip', ['addr', 'add', a, 'dev', here.ifname, ...(a.includes(':') ? ['nodad'] : [])]);
    for (const a of there.addrs) other.exec('ip', ['addr', 'add', a, 'dev', there.ifname, ...(a.includes(':') ? ['nodad'] : [])]);
    this.exec('ip', ['link', 'set', here.ifname, 'up']);
    other.exec('ip', ['link', 'set', there.ifname, 'up']);
  }
  delete(): void {
    const i = created.indexOf(this.name);
    if (i >= 0) created.splice(i, 1);
    killNamespacePids(this.name);
    spawnSync('ip', ['netns', 'del', this.name]);
  }
}

function killNamespacePids(ns: string): void {
  for (const pid of namespacePids(ns)) {
    try { process.kill(pid, 'SIGKILL'); } catch { /* already gone */ }
  }
}

export function cleanupAll(): void {
  for (const c of children) { try { c.kill('SIGKILL'); } catch { /* gone */ } }
  children.clear();
  while (created.length) {
    const ns = created.pop() as string;
    killNamespacePids(ns);
    spawnSync('ip', ['netns', 'del', ns]);
  }
}

let hooked = false;
/**
 * Registers the cleanup on exit and on SIGINT/SIGTERM/SIGHUP, once, when the first namespace is
 * created (not at import: commands that never create a namespace keep their own signal handling).
 */
function hookCleanup(): void {
  if (hooked) return;
  hooked = true;
  process.on('exit', cleanupAll);
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(sig, () => { cleanupAll(); process.exit(130); });
  }
}

/** Polls `check` every `everyMs` until it returns a truthy value or `timeoutMs` passes (bounded). */
export async function waitFor<T>(check: () => T | Promise<T>, timeoutMs = 10_000, everyMs = 50, what = 'condition'): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try { const v = await check(); if (v) return v; } catch (e) { last = e; }
    await new Promise((r) => setTimeout(r, everyMs));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last instanceof Error ? `: ${last.message}` : ''}`);
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
