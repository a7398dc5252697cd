// Running the wgts CLI in tests: one-shot commands and `wgts up FILE` kept running in a namespace.
import { readStatus, type InterfaceStatus, type ReloadStatus } from '../../src/gateway/status.js';
import { type Netns, trySh, waitFor } from './netns.js';
import { wgtsScript } from './wg.js';

/** A running `wgts up`: its output so far, its exit code (null while running), a kill switch. */
export interface UpProc { out: () => string; exit: () => number | null; kill: (sig: NodeJS.Signals) => void; pid: () => number }

/** `wgts ARGS` inside `ns`, or on the host for commands that only edit files. */
export function wgts(args: string[], ns?: Netns): { status: number; stdout: string; stderr: string } {
  return ns
    ? ns.tryExec(process.execPath, [wgtsScript, ...args], { timeoutMs: 20_000 })
    : trySh(process.execPath, [wgtsScript, ...args], { timeoutMs: 20_000 });
}

/** wgts() that throws with stderr unless the command exits 0; returns stdout. */
export function wgtsOk(args: string[], ns?: Netns): string {
  const r = wgts(args, ns);
  if (r.status !== 0) throw new Error(`wgts ${args.join(' ')} failed (${r.status}): ${r.stderr}`);
  return r.stdout;
}

/**
 * Starts `wgts up FILE` in `ns` (interface `ifname`, the file's basename) and resolves once its
 * status file exists, i.e. once everything it sets up is up. The process is added to `procs`;
 * `env` adds to its environment, `args` to its command line (e.g. --ifname for a registry).
 */
export async function startUp(ns: Netns, file: string, ifname: string, procs: UpProc[], env: NodeJS.ProcessEnv = {}, args: string[] = []): Promise<UpProc> {
  let out = '';
  let exit: number | null = null;
  const child = ns.spawn(process.execPath, ['--enable-source-maps', wgtsScript, 'up', file, ...args], { env: { ...process.env, LOG_LEVEL: 'error', ...env } });
  child.stdout?.on('data', (d: Buffer) => { out += d.toString(); });
  child.stderr?.on('data', (d: Buffer) => { out += d.toString(); });
  child.on('exit', (code) => { exit = code ?? -1; });
  // The pid of `wgts up` itself (the child is `ip netns exec`, which execs it: the same process).
  const p: UpProc = { out: () => out, exit: () => exit, kill: (sig) => child.kill(sig), pid: () => child.pid ?? -1 };
  procs.push(p);
  await waitFor(() => { if (exit !== null) throw new Error(`wgts up ${ifname} exited ${exit}:\n${out}`); return readStatus(ifname) !== null; }, 15_000, 25, `wgts up ${ifname}`);
  return p;
}

/** The status file of a running `wgts up` (throws when there is none). */
export function statusOf(ifname: string): InterfaceStatus {
  const s = readStatus(ifname);
  if (!s) throw new Error(`no status file for ${ifname}`);
  return s;
}

/**
 * Waits until the `wgts up` of `ifname` reports a reload attempted at or after `since` (ms) that
 * succeeded (`ok`) or failed; returns its reload status.
 */
export async function reloadedSince(ifname: string, since: number, ok: boolean, timeoutMs = 5000): Promise<ReloadStatus> {
  const found = await waitFor(() => {
    const r = statusOf(ifname).reload;
    return r !== undefined && r.ok === ok && r.at >= since ? r : null;
  }, timeoutMs, 25, `a ${ok ? 'successful' : 'failed'} reload of ${ifname}`);
  if (found === null) throw new Error('unreachable: waitFor returns a value');
  return found;
}

/** Stops every `wgts up` of `procs` still running (SIGTERM, then SIGKILL after 10 s). */
export async function stopUps(procs: readonly UpProc[]): Promise<void> {
  for (const p of procs) if (p.exit() === null) p.kill('SIGTERM');
  await waitFor(() => procs.every((p) => p.exit() !== null), 10_000, 25, 'wgts up exits').catch(() => procs.forEach((p) => p.kill('SIGKILL')));
}
