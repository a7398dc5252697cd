// A private systemd for tests: Debian's /usr/bin/systemd as PID 1 of its own PID, mount and cgroup
// namespaces, inside a test network namespace, loading units ONLY from a temporary directory
// ($SYSTEMD_UNIT_PATH, no generators), so `systemctl start wgts@IF` runs the generated unit with
// its real sandbox, Type=notify and ExecReload, while this host's own systemd configuration (or
// its absence) is never touched: it gets a private /run (with /run/netns bound in). Its cgroups are subgroups this helper creates below this
// process's own cgroup in every hierarchy (mounted again inside its cgroup namespace, so systemd
// sees them as the root) and removes again, with everything in them killed, at stop() or exit.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type Netns, trySh, waitFor } from './netns.js';

/** Targets the unit refers to, as empty stubs (the distribution's units are not loaded). */
const STUB_TARGETS = ['sysinit', 'basic', 'shutdown', 'multi-user', 'network', 'network-online', 'nss-lookup'];
/** The target systemd starts: nothing but itself. */
const TEST_TARGET = 'wgts-test.target';

/** One cgroup hierarchy mounted below /sys/fs/cgroup. */
interface Hierarchy { mountpoint: string; fstype: 'cgroup' | 'cgroup2'; options: string }

/** The cgroup mounts of this process (from /proc/self/mountinfo). */
function hierarchies(): Hierarchy[] {
  const out: Hierarchy[] = [];
  for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const [left, right] = line.split(' - ');
    if (!left || !right) continue;
    const mountpoint = left.split(' ')[4] ?? '';
    const [fstype, , options] = right.split(' ');
    if ((fstype === 'cgroup' || fstype === 'cgroup2') && mountpoint.startsWith('/sys/fs/cgroup')) {
      const opts = (options ?? '').split(',').filter((o) => o !== 'rw' && o !== 'ro' && !o.startsWith('release_agent='));
      // A named v1 hierarchy without controllers must be mounted with `none`, or the kernel tries to attach them all.
      if (fstype === 'cgroup' && opts.every((o) => o.startsWith('name=') || o === 'xattr' || o === 'clone_children')) opts.unshift('none');
      out.push({ mountpoint, fstype, options: opts.join(',') });
    }
  }
  return out;
}

/** This process's cgroup path in hierarchy `h` (from /proc/self/cgroup). */
function ownPath(h: Hierarchy): string {
  const want = h.fstype === 'cgroup2' ? '' : h.options.split(',').filter((o) => o !== 'none' && o !== 'clone_children' && o !== 'xattr').sort().join(',');
  for (const line of readFileSync('/proc/self/cgroup', 'utf8').split('\n')) {
    const m = /^[0-9]+:([^:]*):(.*)$/.exec(line);
    if (m && (m[1] as string).split(',').sort().join(',') === want) return m[2] === '/' ? '' : (m[2] as string);
  }
  throw new Error(`no cgroup of this process for ${h.mountpoint} (${h.options})`);
}

export interface PrivateSystemd {
  /** systemd's pid as this process sees it. */
  readonly pid: number;
  /** `systemctl ARGS` against it. */
  systemctl(args: string[], timeoutMs?: number): { status: number; stdout: string; stderr: string };
  /** What systemd printed so far (its own log, on the console). */
  log(): string;
  /** Kills it and everything it started, removes its cgroups. */
  stop(): Promise<void>;
}

let counter = 0;

/**
 * Starts systemd in `ns` with the units of `unitDir` (stub targets are added there), `work` for
 * its scripts. Resolves once it reports running.
 */
export async function startSystemd(ns: Netns, unitDir: string, work: string): Promise<PrivateSystemd> {
  for (const t of STUB_TARGETS) writeFileSync(join(unitDir, `${t}.target`), `[Unit]\nDescription=stub ${t}\n`);
  writeFileSync(join(unitDir, TEST_TARGET), '[Unit]\nDescription=wgts test\n');
  const name = `wgts-sd-${process.pid}-${counter++}`;
  const hs = hierarchies();
  const dirs: string[] = [];
  const cleanup = (): void => {
    for (const d of dirs) killAll(d);
    for (const d of dirs) removeTree(d);
  };
  process.on('exit', cleanup);
  for (const h of hs) {
    const d = join(h.mountpoint, ownPath(h), name);
    mkdirSync(d);
    dirs.push(d);
    if (h.options.split(',').includes('cpuset')) {
      for (const f of ['cpuset.cpus', 'cpuset.mems']) writeFileSync(join(d, f), readFileSync(join(d, '..', f)));
    }
  }
  // Inside: /proc of the new PID namespace, a private /run, and the cgroup hierarchies mounted
  // again within the new cgroup namespace (`ip netns exec` remounted /sys without them).
  const tmpfsRoot = !hs.some((h) => h.mountpoint === '/sys/fs/cgroup');
  const mounts = hs.map((h) => `mkdir -p ${h.mountpoint} && mount -t ${h.fstype}${h.options ? ` -o ${h.options}` : ''} ${h.fstype} ${h.mountpoint}`);
  const inner = join(work, `${name}-inner.sh`);
  writeFileSync(inner, [
    'set -e',
    'mount -t proc proc /proc',
    // A private /run, keeping /run/netns: `wgts up` finds the name of its namespace there.
    `mkdir -p ${work}/${name}-netns && mount --rbind /run/netns ${work}/${name}-netns`,
    'mount -t tmpfs tmpfs /run',
    `mkdir /run/netns && mount --move ${work}/${name}-netns /run/netns`,
    ...(tmpfsRoot ? ['mount -t tmpfs -o mode=755 tmpfs /sys/fs/cgroup'] : []),
    ...mounts,
    `exec env -i container=wgts-test SYSTEMD_UNIT_PATH=${unitDir} SYSTEMD_GENERATOR_PATH=/nonexistent PATH=/usr/sbin:/usr/bin:/sbin:/bin `
      + `systemd --system --log-target=console --unit=${TEST_TARGET}`,
    '',
  ].join('\n'));
  const boot = join(work, `${name}-boot.sh`);
  writeFileSync(boot, [
    ...dirs.map((d) => `echo $$ > ${d}/cgroup.procs`),
    `exec ip netns exec ${ns.name} unshare --mount --pid --fork --cgroup --propagation private -- sh ${inner}`,
    '',
  ].join('\n'));
  let log = '';
  const child: ChildProcess = spawn('sh', [boot], { stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout?.on('data', (d: Buffer) => { log += d.toString(); });
  child.stderr?.on('data', (d: Buffer) => { log += d.toString(); });
  let exited = false;
  child.on('exit', () => { exited = true; });
  const pid = await waitFor(() => {
    if (exited) throw new Error(`the private systemd exited: ${log}`);
    return childNamed(child.pid ?? -1, 'systemd');
  }, 10_000, 50, 'systemd to start');
  const systemctl = (args: string[], timeoutMs = 60_000): { status: number; stdout: string; stderr: string } =>
    trySh('nsenter', ['-t', String(pid), '-m', '-p', '-n', 'systemctl', ...args], { timeoutMs });
  await waitFor(() => /^(running|degraded)$/m.test(systemctl(['is-system-running']).stdout), 20_000, 100, `systemd running (${log})`);
  return {
    pid,
    systemctl,
    log: () => log,
    async stop(): Promise<void> {
      try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ }
      await waitFor(() => exited, 10_000, 25, 'systemd gone').catch(() => undefined);
      cleanup();
      process.off('exit', cleanup);
    },
  };
}

/** The pid of a child of `parent` whose command is `comm`, or 0. */
function childNamed(parent: number, comm: string): number {
  for (const e of readdirSync('/proc')) {
    if (!/^[0-9]+$/.test(e)) continue;
    try {
      const stat = readFileSync(`/proc/${e}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(fields[1]) === parent && readFileSync(`/proc/${e}/comm`, 'utf8').trim() === comm) return Number(e);
    } catch {
      // gone meanwhile
    }
  }
  return 0;
}

/** SIGKILL to every process in the cgroup `dir` and below. */
function killAll(dir: string): void {
  if (!existsSync(dir)) return;
  for (const e of readdirSync(dir, { withFileTypes: true })) if (e.isDirectory()) killAll(join(dir, e.name));
  try {
    for (const p of readFileSync(join(dir, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean)) {
      try { process.kill(Number(p), 'SIGKILL'); } catch { /* gone */ }
    }
  } catch {
    // removed meanwhile
  }
}

/** Removes the cgroup `dir` and its subgroups (innermost first), retrying while processes die. */
function removeTree(dir: string): void {
  if (!existsSync(dir)) return;
  for (const e of readdirSync(dir, { withFileTypes: true })) if (e.isDirectory()) removeTree(join(dir, e.name));
  for (let i = 0; i < 50; i++) {
    try {
      rmdirSync(dir);
      return;
    } catch {
      killAll(dir);
      const until = Date.now() + 20;
      while (Date.now() < until) { /* a short pause: the 'exit' handler cannot wait asynchronously */ }
    }
  }
}
