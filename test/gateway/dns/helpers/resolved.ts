// A laptop running a REAL systemd-resolved, without touching the host's resolver.
//
// The daemon runs inside the laptop's network namespace and a private mount namespace
// (`unshare --mount`): a tmpfs over /run hides the host's D-Bus, systemd state and named
// namespaces (so `wgts up` there sees no named namespace and takes its resolvectl path), a private
// dbus-daemon serves the system bus at /run/dbus/system_bus_socket, a tmpfs over /etc/systemd holds
// the test's resolved.conf (the "LAN" DNS server, no fallback servers, no LLMNR/mDNS), and the
// systemd-resolve user resolved drops to exists only in a bind-mounted copy of /etc/passwd. The
// host's /etc/resolv.conf, D-Bus and systemd are never used or changed.
//
// Where the host has no systemd-resolved (Debian's package would take over /etc/resolv.conf when
// installed), its binaries come from the Debian package itself, fetched with `apt-get download`
// (the version of the installed libsystemd-shared, whose library they link against, or the
// candidate version of both when that is not installed) and unpacked with `dpkg-deb -x` into a
// cache under the temp directory: nothing is installed.
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Netns, trySh, waitFor } from '../../../helpers/netns.js';

/** Where the daemon and resolvectl are, and a library directory when libsystemd-shared was unpacked too. */
export interface ResolvedBinaries {
  daemon: string;
  resolvectl: string;
  libDir: string | null;
  /** Where they came from, for the test's log. */
  source: string;
}

const HOST_DAEMONS = ['/lib/systemd/systemd-resolved', '/usr/lib/systemd/systemd-resolved'];

/** A debian package version of `pkg`: the installed one, else apt's candidate; null when unknown. */
function versionOf(pkg: string): { installed: boolean; version: string } | null {
  const q = trySh('dpkg-query', ['-W', '-f', '${Status} ${Version}', pkg]);
  const m = /^install ok installed (\S+)$/.exec(q.stdout.trim());
  if (q.status === 0 && m) return { installed: true, version: m[1] as string };
  const policy = trySh('apt-cache', ['policy', pkg]).stdout;
  const cand = /Candidate: (\S+)/.exec(policy)?.[1];
  return cand && cand !== '(none)' ? { installed: false, version: cand } : null;
}

/**
 * systemd-resolved and resolvectl: the host's when installed, else unpacked from Debian's packages
 * (cached). Returns why not when neither works (not a Debian system, no network to the archive).
 */
export function resolvedBinaries(): ResolvedBinaries | { unavailable: string } {
  const hostDaemon = HOST_DAEMONS.find((p) => existsSync(p));
  const hostCtl = ['/usr/bin/resolvectl', '/bin/resolvectl'].find((p) => existsSync(p));
  if (hostDaemon && hostCtl) return { daemon: hostDaemon, resolvectl: hostCtl, libDir: null, source: 'installed on this host' };
  if (trySh('dpkg-deb', ['--version']).status !== 0 || trySh('apt-get', ['--version']).status !== 0) {
    return { unavailable: 'no systemd-resolved here, and no apt-get/dpkg-deb to unpack Debian\'s package' };
  }
  const shared = versionOf('libsystemd-shared');
  if (shared === null) return { unavailable: 'apt knows no libsystemd-shared version' };
  const cache = join(tmpdir(), `wgts-systemd-resolved-${shared.version.replace(/[^A-Za-z0-9.+~-]/g, '_')}`);
  const found = (root: string): ResolvedBinaries | null => {
    const daemon = HOST_DAEMONS.map((p) => join(root, p)).find((p) => existsSync(p));
    const ctl = join(root, 'usr', 'bin', 'resolvectl');
    if (!daemon || !existsSync(ctl)) return null;
    const lib = join(root, 'usr', 'lib', 'x86_64-linux-gnu', 'systemd');
    return { daemon, resolvectl: ctl, libDir: shared.installed ? null : existsSync(lib) ? lib : join(root, 'usr', 'lib', 'systemd'), source: `Debian package ${shared.version}, unpacked in ${root}` };
  };
  const cached = found(cache);
  if (cached) return cached;
  const work = mkdtempSync(join(tmpdir(), 'wgts-resolved-fetch-'));
  try {
    const pkgs = [`systemd-resolved=${shared.version}`, ...(shared.installed ? [] : [`libsystemd-shared=${shared.version}`])];
    const dl = trySh('sh', ['-c', `cd '${work}' && apt-get download -q ${pkgs.join(' ')}`], { timeoutMs: 120_000 });
    if (dl.status !== 0) return { unavailable: `apt-get download ${pkgs.join(' ')} failed: ${dl.stderr.trim()}` };
    const root = join(work, 'root');
    mkdirSync(root);
    for (const deb of readdirSync(work).filter((f) => f.endsWith('.deb'))) {
      const x = trySh('dpkg-deb', ['-x', join(work, deb), root]);
      if (x.status !== 0) return { unavailable: `dpkg-deb -x ${deb}: ${x.stderr.trim()}` };
    }
    try {
      renameSync(root, cache);
    } catch {
      // another test process unpacked it first: use that one
    }
    return found(cache) ?? { unavailable: `the unpacked packages hold no systemd-resolved (${cache})` };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/** A command running next to a private systemd-resolved (see the file comment). */
export interface ResolvedLaptop {
  /** The command's output so far (stdout + stderr), then the setup's. */
  out(): string;
  exit(): number | null;
  /** Runs a program in the command's network and mount namespaces (its resolved, its /run). */
  exec(cmd: string, args: string[]): { status: number; stdout: string; stderr: string };
  kill(sig: NodeJS.Signals): void;
}

const BUS_CONF = `<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN" "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path=/run/dbus/system_bus_socket</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <allow own="*"/>
    <allow send_destination="*"/>
    <allow receive_sender="*"/>
  </policy>
</busconfig>
`;

/**
 * Starts systemd-resolved (global DNS = `lanDns`) in `ns` inside a private mount namespace, then
 * runs `command` there (PATH has resolvectl first). Resolves once the command runs; the caller
 * waits for what it prints. Everything started here lives in `ns` and ends when `ns` is deleted.
 */
export async function startResolvedLaptop(ns: Netns, bins: ResolvedBinaries, lanDns: string, command: string[]): Promise<ResolvedLaptop> {
  const dir = mkdtempSync(join(tmpdir(), 'wgts-resolved-'));
  process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'bus.conf'), BUS_CONF);
  const passwd = readFileSync('/etc/passwd', 'utf8');
  const group = readFileSync('/etc/group', 'utf8');
  writeFileSync(join(dir, 'passwd'), /^systemd-resolve:/m.test(passwd) ? passwd : `${passwd}systemd-resolve:x:64990:64990:systemd Resolver:/:/usr/sbin/nologin\n`);
  writeFileSync(join(dir, 'group'), /^systemd-resolve:/m.test(group) ? group : `${group}systemd-resolve:x:64990:\n`);
  mkdirSync(join(dir, 'bin'));
  writeFileSync(join(dir, 'bin', 'resolvectl'), `#!/bin/sh\n${bins.libDir ? `LD_LIBRARY_PATH='${bins.libDir}' ` : ''}exec '${bins.resolvectl}' "$@"\n`, { mode: 0o755 });
  const env = bins.libDir ? `LD_LIBRARY_PATH='${bins.libDir}' ` : '';
  const script = [
    'set -e',
    'mount -t tmpfs tmpfs /run',
    'mkdir -p /run/dbus /run/systemd',
    'mount -t tmpfs tmpfs /etc/systemd',
    `printf '[Resolve]\\nDNS=${lanDns}\\nFallbackDNS=\\nLLMNR=no\\nMulticastDNS=no\\nDNSSEC=no\\nDNSOverTLS=no\\n' > /etc/systemd/resolved.conf`,
    `mount --bind '${join(dir, 'passwd')}' /etc/passwd`,
    `mount --bind '${join(dir, 'group')}' /etc/group`,
    `dbus-daemon --config-file='${join(dir, 'bus.conf')}' --fork --nopidfile`,
    `${env}'${bins.daemon}' > '${join(dir, 'resolved.log')}' 2>&1 &`,
    `i=0; until '${join(dir, 'bin', 'resolvectl')}' status >/dev/null 2>&1; do i=$((i+1)); [ $i -lt 100 ] || { echo 'systemd-resolved did not come up'; cat '${join(dir, 'resolved.log')}'; exit 1; }; sleep 0.1; done`,
    'echo "resolved up"',
    `export PATH='${join(dir, 'bin')}':"$PATH"`,
    `exec ${command.map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ')}`,
  ].join('\n');
  const child: ChildProcess = ns.spawn('unshare', ['--mount', '--propagation', 'private', 'sh', '-c', script]);
  let out = '';
  let exit: number | null = null;
  child.stdout?.on('data', (d: Buffer) => { out += d.toString(); });
  child.stderr?.on('data', (d: Buffer) => { out += d.toString(); });
  child.on('exit', (code) => { exit = code ?? -1; });
  await waitFor(() => {
    if (exit !== null) throw new Error(`the resolved laptop exited ${exit}:\n${out}`);
    return out.includes('resolved up');
  }, 20_000, 50, 'systemd-resolved in the laptop namespace');
  const pid = String(child.pid);
  return {
    out: () => out,
    exit: () => exit,
    exec: (cmd, args) => trySh('nsenter', ['-t', pid, '-m', '-n', ...(cmd === 'resolvectl' ? [join(dir, 'bin', 'resolvectl')] : [cmd]), ...args], { timeoutMs: 20_000 }),
    kill: (sig) => child.kill(sig),
  };
}
