// A cross-process lock for read-modify-write cycles on a config file, so that two `wgts peer add`
// runs never lose a peer.
//
// The lock is the file `PATH.lock`, holding `PID STARTTIME` of its owner (STARTTIME: field 22 of
// /proc/PID/stat, so a pid reused after a crash or reboot is not mistaken for the owner). It is
// created atomically with its content: written to a private temp file, then hard-linked to the
// lock name (link fails with EEXIST when the lock is held). Release removes it.
//
// Stale locks: when the owner is dead the lock is broken, but only while holding the guard
// `PATH.lock.break` (taken the same way). Under the guard the lock is read again and removed only
// if it still names the same dead owner; since a held lock changes only by being removed, and
// removals of others' locks happen only under the guard, a live owner's lock is never removed.
// A guard whose owner is dead is removed directly (the guard is held for microseconds, so this
// needs a crash inside that window).
import { randomBytes } from 'node:crypto';
import { link, readdir, readFile, unlink, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { readFileSync } from 'node:fs';

/** How long to wait for a held lock and how often to look again. */
export interface LockOptions {
  /** Give up after this many milliseconds (default 10 000). */
  timeoutMs?: number;
  /** Poll interval in milliseconds (default 15, with jitter). */
  pollMs?: number;
}

/** The start time of a process (clock ticks since boot), or undefined when /proc has no entry. */
function processStartTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Field 2 (comm) may hold spaces and parentheses; the fields after the last ')' start at 3.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

/** True while process `pid` (started at `start`, when known) is running. */
export function processAlive(pid: number, start?: string): boolean {
  try {
    process.kill(pid, 0);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  if (start === undefined) return true;
  const now = processStartTime(pid);
  return now === undefined || now === start;
}

const OWN_TOKEN = `${process.pid} ${processStartTime(process.pid) ?? '-'}\n`;

/** Creates `path` holding our token, atomically; false when it already exists. */
async function createExclusive(path: string): Promise<boolean> {
  const tmp = `${path}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
  await writeFile(tmp, OWN_TOKEN, { mode: 0o600, flag: 'wx' });
  try {
    await link(tmp, path);
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw e;
  } finally {
    await unlink(tmp);
  }
}

/** The token in a lock file, or undefined when it vanished in the meantime. */
async function readToken(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
}

/** Whether a token names a process that is gone. An unreadable token is treated as live. */
function tokenStale(token: string): boolean {
  const m = /^([0-9]+) (\S+)\n$/.exec(token);
  if (!m) return false;
  return !processAlive(Number(m[1]), m[2] === '-' ? undefined : m[2]);
}

async function removeIfSame(path: string, token: string): Promise<void> {
  if ((await readToken(path)) === token) {
    try { await unlink(path); } catch (e) { if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e; }
  }
}

/**
 * Removes the lock at `lockPath` if it still holds `token` of a dead owner, under the guard.
 * Returns true when the lock is gone (so acquiring may be retried at once).
 */
async function breakStale(lockPath: string, token: string): Promise<boolean> {
  const guard = `${lockPath}.break`;
  if (!(await createExclusive(guard))) {
    const g = await readToken(guard);
    if (g !== undefined && tokenStale(g)) await removeIfSame(guard, g);
    return false;
  }
  try {
    const again = await readToken(lockPath);
    if (again === token && tokenStale(again)) await unlink(lockPath);
    return again === undefined || again === token;
  } finally {
    await unlink(guard);
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * Runs `fn` while holding the lock `path + '.lock'` and releases it afterwards (also when `fn`
 * throws). Waits while another process (or another call in this one) holds it; throws when
 * `timeoutMs` passes first.
 */
export async function withFileLock<T>(path: string, fn: () => Promise<T> | T, opts: LockOptions = {}): Promise<T> {
  const lockPath = `${path}.lock`;
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const pollMs = opts.pollMs ?? 15;
  const deadline = Date.now() + timeoutMs;
  while (!(await createExclusive(lockPath))) {
    const holder = await readToken(lockPath);
    // Retry at once when the lock just vanished or was stale and got broken.
    if (holder === undefined || (tokenStale(holder) && (await breakStale(lockPath, holder)))) continue;
    if (Date.now() >= deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${lockPath} (held by pid ${holder.split(' ')[0]})`);
    }
    await sleep(pollMs * (0.5 + Math.random()));
  }
  try {
    await sweepDeadTemps(lockPath);
    return await fn();
  } finally {
    await removeIfSame(lockPath, OWN_TOKEN);
  }
}

/**
 * Removes the temp files (`LOCK.PID.HEX.tmp`, `LOCK.break.PID.HEX.tmp`) that createExclusive of a
 * process killed between its write and its unlink left behind. Only files of dead pids go.
 */
async function sweepDeadTemps(lockPath: string): Promise<void> {
  const dir = dirname(lockPath);
  const prefix = `${basename(lockPath)}.`;
  let names: string[];
  try { names = await readdir(dir); } catch { return; }
  for (const name of names) {
    if (!name.startsWith(prefix) || !name.endsWith('.tmp')) continue;
    const m = /^(?:break\.)?(\d+)\.[0-9a-f]+\.tmp$/.exec(name.slice(prefix.length));
    if (!m || processAlive(Number(m[1]))) continue;
    await unlink(join(dir, name)).catch(() => undefined);
  }
}
