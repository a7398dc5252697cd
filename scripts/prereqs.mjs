// The system programs each top-level command needs, the Debian package of each, and the decision
// whether the bootstrap may install what is missing with apt-get or must stop and say what to
// install. Plain JavaScript with no dependencies: it runs before `npm ci` and `tsc`.
// Used by scripts/bootstrap.mjs (npm test / lab / bench) and by `wgts lab` itself; the test
// test/scripts/prereqs.test.ts checks that every program the tests, the lab and the benchmarks run
// is listed here.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { delimiter, join } from 'node:path';

/** Program -> the Debian/Ubuntu package that provides it. */
export const PACKAGES = Object.freeze({
  // building the native addon (node-gyp)
  make: 'make',
  'g++': 'g++',
  python3: 'python3',
  // namespaces, links, sockets
  ip: 'iproute2',
  ss: 'iproute2',
  sysctl: 'procps',
  ps: 'procps',
  // WireGuard
  wg: 'wireguard-tools',
  'wg-quick': 'wireguard-tools',
  'wireguard-go': 'wireguard-go',
  // firewall / NAT
  iptables: 'iptables',
  ip6tables: 'iptables',
  nft: 'nftables',
  // traffic and probes
  ping: 'iputils-ping',
  iperf3: 'iperf3',
  ethtool: 'ethtool',
  pidstat: 'sysstat',
  nstat: 'iproute2',
  ncat: 'ncat',
  curl: 'curl',
  tcpdump: 'tcpdump',
  // a terminal a test drives like a person (`wgts show --watch`: send-keys, capture-pane)
  tmux: 'tmux',
  stty: 'coreutils',
  // limits
  prlimit: 'util-linux',
  dig: 'dnsutils',
  // tracing and privilege tools some tests wrap a process in
  strace: 'strace',
  // the idle round-trip benchmark records syscall and scheduler tracepoints
  perf: 'linux-perf',
  setpriv: 'util-linux',
  // DNS: a real resolver the tests and the lab start inside their namespaces (the binary only: the
  // `dnsmasq` package would also start a system service); a private D-Bus for the
  // systemd-resolved laptop test, whose daemon is unpacked from Debian's package (never installed:
  // the package would take over the host's /etc/resolv.conf)
  dnsmasq: 'dnsmasq-base',
  // VRRP for the failover pair (test and `lab --ha`), run inside their namespaces with their own
  // configs; Debian's keepalived.service starts only when /etc/keepalived/keepalived.conf exists
  keepalived: 'keepalived',
  'dbus-daemon': 'dbus-daemon',
  unshare: 'util-linux',
  nsenter: 'util-linux',
  mount: 'mount',
  'dpkg-deb': 'dpkg',
  'dpkg-query': 'dpkg',
  // systemd units: the tests check the generated unit offline (`systemd-analyze verify`), enable it
  // below a --root (`systemctl --root`), and run it under a private systemd of their own (PID 1 of
  // a test's PID namespace, units from a temp directory); the host's systemd is never used
  'systemd-analyze': 'systemd',
  systemctl: 'systemd',
  systemd: 'systemd',
  // the registry (issue 12): a one-member etcd the tests and `npm run bench -- registry` start in a
  // namespace, and its CLI (the tests read and edit keys directly, compact the history)
  etcd: 'etcd-server',
  etcdctl: 'etcd-client',
  // certificates for the registry's TLS test (a CA, the member's and a client's)
  openssl: 'openssl',
  // always there on Debian (essential packages), listed so a scan of the tests finds them
  getent: 'libc-bin',
  tar: 'tar',
  cat: 'coreutils',
  mkdir: 'coreutils',
  nice: 'coreutils',
  printenv: 'coreutils',
  sh: 'dash',
  bash: 'bash',
});

/** Programs every command needs before anything else: building the native addon. */
const BUILD = ['make', 'g++', 'python3'];

/** Programs each command runs. */
export const NEEDS = Object.freeze({
  test: [...BUILD, 'ip', 'ss', 'sysctl', 'ps', 'wg', 'wg-quick', 'wireguard-go', 'iptables', 'ip6tables', 'nft', 'ping', 'iperf3', 'ncat', 'curl', 'dig', 'getent', 'tar', 'cat', 'mkdir', 'printenv', 'sh', 'bash',
    'strace', 'setpriv', 'tcpdump', 'prlimit', 'dnsmasq', 'dbus-daemon', 'unshare', 'nsenter', 'mount', 'dpkg-deb', 'dpkg-query', 'ethtool', 'nstat', 'tmux', 'stty',
    'systemd-analyze', 'systemctl', 'systemd', 'nice', 'keepalived', 'etcd', 'etcdctl', 'openssl'],
  lab: [...BUILD, 'ip', 'wg', 'wg-quick', 'wireguard-go', 'iptables', 'ip6tables', 'curl', 'getent', 'ping', 'iperf3', 'dnsmasq', 'keepalived', 'etcd', 'etcdctl'],
  bench: [...BUILD, 'ip', 'ss', 'sysctl', 'wg', 'wireguard-go', 'ping', 'iperf3', 'pidstat', 'perf', 'nice', 'etcd', 'etcdctl'],
  fuzz: [...BUILD, 'ip', 'ss', 'wg', 'wireguard-go', 'ping', 'iperf3', 'tcpdump'],
  soak: [...BUILD, 'ip', 'ss', 'wg', 'wireguard-go', 'ping', 'iperf3'],
});

const UPDATE_ARGS = ['-qq', 'update'];
const INSTALL_ARGS = ['-qq', '-y', 'install', '--no-install-recommends'];

/** Apt lists older than this are refreshed before installing. */
export const LISTS_MAX_AGE_MS = 7 * 24 * 3600 * 1000;

/** The first directory on PATH (plus the sbin directories root has) holding an executable `cmd`. */
export function which(cmd, path = process.env.PATH ?? '') {
  const dirs = [...path.split(delimiter), '/usr/local/sbin', '/usr/sbin', '/sbin'].filter(Boolean);
  for (const d of dirs) {
    const p = join(d, cmd);
    try {
      if (statSync(p).isFile() && (statSync(p).mode & 0o111) !== 0) return p;
    } catch {
      // not here
    }
  }
  return null;
}

/** The packages providing `programs`, deduplicated, in the order first needed. */
export function packagesFor(programs) {
  const out = [];
  for (const p of programs) {
    const pkg = PACKAGES[p];
    if (pkg === undefined) throw new Error(`no Debian package known for program '${p}' (add it to scripts/prereqs.mjs)`);
    if (!out.includes(pkg)) out.push(pkg);
  }
  return out;
}

/** 'debian' when /etc/os-release names Debian, Ubuntu or a derivative of them; else its ID or 'unknown'. */
export function distroFamily(osRelease) {
  const field = (k) => (osRelease.match(new RegExp(`^${k}=["']?([^"'\\n]*)`, 'm')) ?? [])[1] ?? '';
  const ids = `${field('ID')} ${field('ID_LIKE')}`.toLowerCase().split(/\s+/).filter(Boolean);
  if (ids.some((i) => i === 'debian' || i === 'ubuntu')) return 'debian';
  return ids[0] ?? 'unknown';
}

/**
 * What to do about missing programs. Input: `missing` programs, `root`, `family` (distroFamily),
 * `noApt` (WGTS_NO_APT=1), `hasApt` (apt-get on PATH), `listsAgeMs` (age of the newest apt list,
 * null when there is none). Returns { action: 'none' } | { action: 'install', packages, update,
 * command } | { action: 'stop', packages, reason, message }.
 */
export function decide({ what, missing, root, family, noApt, hasApt, listsAgeMs }) {
  if (missing.length === 0) return { action: 'none' };
  const packages = packagesFor(missing);
  const need = `${what} needs ${missing.join(', ')}`;
  let reason = null;
  if (noApt) reason = 'WGTS_NO_APT=1 is set';
  else if (!root) reason = 'not running as root';
  else if (family !== 'debian') reason = `this is not Debian or Ubuntu (${family})`;
  else if (!hasApt) reason = 'apt-get is not on PATH';
  if (reason !== null) {
    const how = family === 'debian'
      ? `sudo apt-get install -y ${packages.join(' ')}`
      : `install the packages that provide ${missing.join(', ')} (on Debian: ${packages.join(' ')})`;
    return { action: 'stop', packages, reason, message: `${need}, which are missing; ${reason}, so nothing was installed.\nInstall them: ${how}` };
  }
  const update = listsAgeMs === null || listsAgeMs > LISTS_MAX_AGE_MS;
  const args = [...INSTALL_ARGS, ...packages];
  const install = `apt-get ${args.join(' ')}`;
  return { action: 'install', packages, update, args, command: update ? `apt-get ${UPDATE_ARGS.join(' ')} && ${install}` : install };
}

/** Age in ms of the newest package list under `dir`, or null when there is none. */
export function aptListsAge(dir = '/var/lib/apt/lists', now = Date.now()) {
  let newest = 0;
  try {
    for (const f of readdirSync(dir)) {
      if (f.includes('_Packages')) newest = Math.max(newest, statSync(join(dir, f)).mtimeMs);
    }
  } catch {
    return null;
  }
  return newest === 0 ? null : Math.max(0, now - newest);
}

function run(cmd, args, log) {
  const r = spawnSync(cmd, args, { stdio: ['ignore', 'inherit', 'inherit'], env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
  if (r.status !== 0) log(`${cmd} ${args.join(' ')} failed (${r.error?.message ?? r.status ?? r.signal})`);
  return r.status === 0;
}

/**
 * Makes sure the programs `what` ('test' | 'lab' | 'bench') needs are there: installs them with
 * apt-get where it may, prints the one line it runs. Returns true when everything is present
 * afterwards; otherwise prints what to install and returns false.
 */
export function ensurePrograms(what, log = (line) => console.log(line)) {
  const programs = NEEDS[what];
  if (programs === undefined) throw new Error(`unknown command '${what}' (${Object.keys(NEEDS).join(', ')})`);
  const missing = programs.filter((p) => which(p) === null);
  const osRelease = existsSync('/etc/os-release') ? readFileSync('/etc/os-release', 'utf8') : '';
  const d = decide({
    what,
    missing,
    root: typeof process.getuid === 'function' && process.getuid() === 0,
    family: distroFamily(osRelease),
    noApt: process.env.WGTS_NO_APT === '1',
    hasApt: which('apt-get') !== null,
    listsAgeMs: aptListsAge(),
  });
  if (d.action === 'none') return true;
  if (d.action === 'stop') {
    log(`[bootstrap] ${d.message}`);
    return false;
  }
  log(`[bootstrap] ${what} needs ${missing.join(', ')}: ${d.command}`);
  let ok = (!d.update || run('apt-get', UPDATE_ARGS, log)) && run('apt-get', d.args, log);
  // Lists judged fresh can still lack a package version that was superseded: refresh once and retry.
  if (!ok && !d.update) {
    log(`[bootstrap] apt-get ${UPDATE_ARGS.join(' ')} && ${d.command}`);
    ok = run('apt-get', UPDATE_ARGS, log) && run('apt-get', d.args, log);
  }
  const still = programs.filter((p) => which(p) === null);
  if (still.length > 0) {
    log(`[bootstrap] still missing after apt-get: ${still.join(', ')} (packages: ${packagesFor(still).join(' ')})`);
    return false;
  }
  return ok;
}
