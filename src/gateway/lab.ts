// `wgts lab`: the whole product on one machine, in network namespaces, in about ten seconds.
//
//   wgts-lab-app     10.124.0.10/24  app: HTTP :3000 (and :3001), iperf3 server
//   wgts-lab-db      10.124.0.11/24  db: TCP :5432 sending a banner line
//        | veth app0 / db0, both on the bridge br0 in wgts-lab-gw
//   wgts-lab-gw      br0 10.124.0.1/24 (the project network); inet0 192.0.2.1/24 ("internet");
//                    `wgts up wgtslab-gw.conf`: tunnel 10.123.0.1/24, DNS, masquerade, access rules
//        | veth inet0 / eth0 (TEST-NET-1, exists only between these two namespaces)
//   wgts-lab-laptop  eth0 192.0.2.2/24; `wgts up` (or wg-quick + wireguard-go) of a client config
//
// One step gives app a route to the tunnel subnet for a moment and has it open a connection to a
// service on the laptop: the gateway refuses it (only flows the laptop started come back).
// The project hosts have only their /24: no default route and no route to the tunnel subnet, so
// every answer the laptop gets proves the gateway's masquerade. No namespace has a default route or
// a link to the host; every namespace gets a resolv.conf pointing at its own loopback until the
// tunnel's DNS replaces it on the laptop, so no lookup can reach the host's resolvers. The gateway
// host's own resolver is the lab's: dnsmasq on 127.0.0.53 in wgts-lab-gw (where a host would run
// systemd-resolved's stub), answering only its own records (www.example.com), which the gateway's
// resolv.conf names: the gateway forwards names it does not hold there, as it does on a real host.
// The lab's files (configs, service scripts, shims, logs) live in /run/wgts-lab, whose creation
// also claims the lab: a second `wgts lab` refuses to start.
//
// Teardown (end of a run without --keep, a failed setup, Ctrl-C, SIGTERM, exit) is synchronous:
// SIGTERM to every process in the lab namespaces (each `wgts up` undoes its changes as on
// `wgts down`), SIGKILL after a grace period, delete the namespaces, /etc/netns/wgts-lab-*,
// stale sockets and status files of the lab's interfaces, and /run/wgts-lab. `wgts lab --clean`
// runs the same removal on whatever wgts-lab-* namespaces exist.
import { existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, rmSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { DEFAULT_SOCKET_DIR } from '../device/uapi/server.js';
import {
  createNamespace, deleteNamespace, GUARD_RESOLV_CONF, namespacesWithPrefix, NETNS_ETC_DIR, runIn, runInOk,
  spawnIn, stopNamespaceProcesses, vethPair, which, type LabProcess,
} from './lab-ns.js';
import { writeLabFiles, type LabFiles } from './lab-files.js';
import { addPeer, initGateway } from './onboard.js';
import { showInterface, type ShowPeer } from './show.js';
import { HaLabRun, LAB_HA_IF } from './ha/lab-ha.js';
import { HaPair } from './ha/pair.js';
import { poll, Report, secondsSince } from './lab-report.js';
import { readStatus, statusPath } from './status.js';

/** Every lab namespace name starts with this; `wgts lab --clean` removes exactly those. */
export const LAB_PREFIX = 'wgts-lab-';
/** The lab's directory: configs, scripts, logs. Creating it claims the lab. */
export const LAB_DIR = '/run/wgts-lab';
/** Marker in LAB_DIR: /etc/netns did not exist before the lab, so removing the lab removes it too. */
const ETC_NETNS_MARKER = 'etc-netns-created';

/** The lab's namespaces. */
export const LAB_NS = { gw: `${LAB_PREFIX}gw`, app: `${LAB_PREFIX}app`, db: `${LAB_PREFIX}db`, laptop: `${LAB_PREFIX}laptop` } as const;

/**
 * Interface names (= config file names without .conf). Distinct from everyday names like gw0 or
 * wg0 because UAPI sockets (/var/run/wireguard) and status files (/var/run/wgts) are machine-wide.
 */
export const LAB_IF = { gw: 'wgtslab-gw', laptop: 'wgtslab-laptop', limited: 'wgtslab-limited' } as const;

const APP = '10.124.0.10';
const DB = '10.124.0.11';
const NETWORK = '10.124.0.0/24';
const GW_PROJECT_IP = '10.124.0.1';
const GW_PROJECT = `${GW_PROJECT_IP}/24`;
const TUNNEL = '10.123.0.1/24';
const GW_INTERNET = '192.0.2.1';
const LAPTOP_INTERNET = '192.0.2.2';
const LISTEN_PORT = 51820;
const DOMAIN = 'zerops';
const LIMITED_ALLOW = `${APP}:3000/tcp`;
/** The gateway host's resolver (a systemd-resolved-style stub address) and the outside name it knows. */
const HOST_RESOLVER = '127.0.0.53';
const OUTSIDE_NAME = 'www.example.com';
const OUTSIDE_ADDRESS = '203.0.113.80';
/** The port of the service the laptop runs for the inbound step (the db script on the laptop's tunnel address). */
const LAPTOP_SERVICE_PORT = 5432;
const APP_BODY = `hello from app (${APP})\n`;
/** What db sends a client that reaches it through the gateway (masquerade: the gateway's address). */
const DB_BANNER = `db ${DB}:5432 ready; client ${GW_PROJECT_IP}`;

/** How long processes get to exit after SIGTERM before they are killed (ms). */
const STOP_GRACE_MS = 5000;
/** Connect timeout of the probes that expect a blocked port (ms). */
const BLOCKED_TIMEOUT_MS = 1500;

/** Which WireGuard the laptop runs. */
export type LabPeer = 'wgts' | 'wireguard-go';

/** Options of runLab. */
export interface LabOptions {
  /** Leave the lab running after the demonstration. */
  keep: boolean;
  peer: LabPeer;
  /** Length of the iperf3 run. */
  seconds: number;
  /** The failover pair (two gateways, keepalived, kill -9 of the active one) instead of the tour. */
  ha?: boolean;
  /** The wgts CLI script, run with this Node (`wgts up`, `wgts down` inside the namespaces). */
  wgtsScript: string;
  /** How the user runs wgts, for the printed hints (e.g. `wgts` or `node /x/dist/src/cli/wgts.js`). */
  wgtsCommand: string;
  write: (text: string) => void;
}

/** The client config as the lab prints it: secrets replaced by `(hidden)`. */
export function redactConfig(text: string): string {
  return text.replace(/^(\s*(?:PrivateKey|PresharedKey)\s*=).*$/gim, '$1 (hidden)');
}

/** Received bits per second of an `iperf3 -J` client run (0 when none), and its error message. */
export function iperfResult(json: string): { bitsPerSecond: number; error?: string } {
  let v: unknown;
  try {
    v = JSON.parse(json);
  } catch {
    return { bitsPerSecond: 0, error: 'no JSON from iperf3' };
  }
  if (typeof v !== 'object' || v === null) return { bitsPerSecond: 0, error: 'no JSON object from iperf3' };
  const error = 'error' in v && typeof v.error === 'string' ? v.error : undefined;
  const end = 'end' in v ? v.end : null;
  const recv = typeof end === 'object' && end !== null && 'sum_received' in end ? end.sum_received : null;
  const bps = typeof recv === 'object' && recv !== null && 'bits_per_second' in recv && typeof recv.bits_per_second === 'number' ? recv.bits_per_second : 0;
  return error === undefined ? { bitsPerSecond: bps } : { bitsPerSecond: 0, error };
}

/** Socket and status file paths of the lab's interfaces. */
function labInterfaceFiles(): string[] {
  return [...Object.values(LAB_IF), ...Object.values(LAB_HA_IF)].flatMap((i) => [join(DEFAULT_SOCKET_DIR, `${i}.sock`), statusPath(i)]);
}

/** /etc/netns directories of lab namespaces. */
function labEtcDirs(): string[] {
  try {
    return readdirSync(NETNS_ETC_DIR).filter((n) => n.startsWith(LAB_PREFIX)).map((n) => join(NETNS_ETC_DIR, n));
  } catch {
    return [];
  }
}

/** What is left of a lab on this machine: its namespaces and its files (for the refusal and --clean). */
function leftovers(): { namespaces: string[]; files: string[] } {
  return {
    namespaces: namespacesWithPrefix(LAB_PREFIX),
    files: [...labEtcDirs(), ...labInterfaceFiles().filter((f) => existsSync(f)), ...(existsSync(LAB_DIR) ? [LAB_DIR] : [])],
  };
}

/** `namespaces a, b` and/or `files x, y`. */
function describe(left: { namespaces: string[]; files: string[] }): string {
  return [
    ...(left.namespaces.length ? [`namespaces ${left.namespaces.join(', ')}`] : []),
    ...(left.files.length ? [`files ${left.files.join(', ')}`] : []),
  ].join('; ');
}

/**
 * Removes a lab: stops the processes in `namespaces`, deletes them, every /etc/netns/wgts-lab-*
 * directory, the lab interfaces' stale sockets and status files, and LAB_DIR (and /etc/netns when
 * the lab created it). Synchronous, idempotent.
 */
function removeLab(namespaces: readonly string[]): { stopped: number; killed: number } {
  const procs = stopNamespaceProcesses(namespaces, STOP_GRACE_MS);
  for (const ns of namespaces) deleteNamespace(ns);
  for (const d of labEtcDirs()) rmSync(d, { recursive: true, force: true });
  for (const f of labInterfaceFiles()) rmSync(f, { force: true });
  const etcCreated = existsSync(join(LAB_DIR, ETC_NETNS_MARKER));
  rmSync(LAB_DIR, { recursive: true, force: true });
  if (etcCreated) {
    try {
      rmdirSync(NETNS_ETC_DIR);
    } catch {
      // not empty: someone else's namespaces use it
    }
  }
  return procs;
}

const isRoot = (): boolean => typeof process.getuid === 'function' && process.getuid() === 0;

/** `wgts lab --clean`: removes every wgts-lab-* namespace, the processes in them and the lab's files. */
export function cleanLab(write: (text: string) => void): number {
  if (!isRoot()) {
    write('wgts lab --clean: needs root (network namespaces): run it with sudo\n');
    return 1;
  }
  const left = leftovers();
  if (left.namespaces.length === 0 && left.files.length === 0) {
    write('wgts lab --clean: nothing to clean (no wgts-lab-* namespaces or lab files)\n');
    return 0;
  }
  const procs = removeLab(left.namespaces);
  write(`wgts lab --clean: stopped ${procs.stopped} process(es)${procs.killed ? ` (${procs.killed} killed)` : ''}; removed ${describe(left)}\n`);
  return 0;
}

/**
 * The programs the lab runs: required ones, those the wireguard-go variant adds, and optional ones
 * (their steps are skipped when absent). scripts/prereqs.mjs lists them with their Debian
 * packages for `npm run lab`, which installs what is missing; a test keeps the two in step.
 */
export const LAB_PROGRAMS = {
  required: ['ip', 'wg', 'iptables', 'curl', 'getent'],
  wireguardGo: ['wireguard-go', 'wg-quick'],
  optional: ['iperf3', 'ping', 'dnsmasq'],
} as const;

function prerequisites(peer: LabPeer): { missing: string[]; optional: Set<string> } {
  const required: string[] = [...LAB_PROGRAMS.required, ...(peer === 'wireguard-go' ? LAB_PROGRAMS.wireguardGo : [])];
  const missing = required.filter((c) => which(c) === null);
  const optional = new Set<string>(LAB_PROGRAMS.optional.filter((c) => which(c) !== null));
  return { missing, optional };
}

/** The Debian packages of `programs`, from scripts/prereqs.mjs (shipped with the package). */
async function debianPackages(programs: string[]): Promise<string | null> {
  try {
    const m = (await import(new URL('../../../scripts/prereqs.mjs', import.meta.url).href)) as { packagesFor?: unknown };
    if (typeof m.packagesFor === 'function') {
      const pkgs: unknown = m.packagesFor(programs);
      if (Array.isArray(pkgs)) return pkgs.join(' ');
    }
  } catch {
    // not shipped: name the programs only
  }
  return null;
}

/** Thrown by a setup step that failed (already reported): the lab cannot go on. */
class SetupFailed extends Error {}

/** The last line of a lab run: how many checks passed or failed, and how long it took. */
function summaryOf(r: Report, t0: number): { failed: number; text: string } {
  const { pass, fail, skip } = r.counts;
  const total = pass + fail + skip;
  const text = fail === 0
    ? `all ${pass} checks passed${skip ? ` (${skip} skipped)` : ''} in ${secondsSince(t0)}`
    : `${fail} of ${total} checks failed in ${secondsSince(t0)}`;
  return { failed: fail, text };
}

/** `wgts lab --ha`: the failover pair's steps (ha/lab-ha.ts) with the lab's teardown. */
class HaRun {
  private readonly r: Report;
  private readonly ha: HaLabRun;
  private removed = false;

  constructor(o: LabOptions) {
    this.r = new Report(o.write);
    this.ha = new HaLabRun(this.r, { prefix: LAB_PREFIX, dir: LAB_DIR, wgtsScript: o.wgtsScript, wgtsCommand: o.wgtsCommand });
  }

  header(): void { this.ha.header(); }
  steps(): Promise<boolean> { return this.ha.steps(); }
  keepHints(): void { this.ha.keepHints(); }
  summary(t0: number): { failed: number; text: string } { return summaryOf(this.r, t0); }

  remove(): { stopped: number; killed: number } | null {
    if (this.removed) return null;
    this.removed = true;
    return removeLab(this.ha.pair.namespaces());
  }
}

/** One lab run: what it created (for teardown) and the steps. */
class LabRun {
  private readonly r: Report;
  private readonly namespaces: string[] = [];
  private removed = false;
  private readonly gwFile = join(LAB_DIR, `${LAB_IF.gw}.conf`);
  private readonly env: NodeJS.ProcessEnv;
  /** The full profile's tunnel address (from `peer add`). */
  private laptopAddress = '';

  constructor(private readonly o: LabOptions, private readonly tools: Set<string>, private readonly files: LabFiles) {
    this.r = new Report(o.write);
    // Without LOG_LEVEL, wireguard-go's daemon (started by wg-quick) detaches from wg-quick's output
    // pipes; with it, it would keep them open and wg-quick's caller would wait for its end.
    const { LOG_LEVEL: _ignored, ...env } = process.env;
    this.env = env;
  }

  /** Removes everything this run created (idempotent, synchronous). */
  remove(): { stopped: number; killed: number } | null {
    if (this.removed) return null;
    this.removed = true;
    return removeLab(this.namespaces);
  }

  private log(name: string): string {
    return join(LAB_DIR, `${name}.log`);
  }

  /** The last lines of a log without stack frames, for a failure report (the lab's logs hold no keys). */
  private tail(name: string, lines = 6): string[] {
    try {
      const text = readFileSync(this.log(name), 'utf8').split('\n').filter((l) => l.trim() !== '' && !/^\s+at /.test(l));
      return text.slice(-lines).map((l) => `${name}.log: ${l}`);
    } catch {
      return [];
    }
  }

  private profileFile(ifname: string): string {
    return join(LAB_DIR, `${ifname}.conf`);
  }

  /** Environment of the laptop's WireGuard: the DNS shims first in PATH, wg-quick's userspace choice. */
  private laptopEnv(): NodeJS.ProcessEnv {
    return {
      ...this.env,
      PATH: `${this.files.bin}:${this.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin'}`,
      WG_QUICK_USERSPACE_IMPLEMENTATION: 'wireguard-go',
      WG_I_PREFER_BUGGY_USERSPACE_TO_POLISHED_KMOD: '1',
    };
  }

  header(): void {
    const laptop = this.o.peer === 'wgts' ? 'wgts up' : 'wg-quick + wireguard-go';
    this.r.line(`wgts lab: a WireGuard gateway, a project network and a laptop, in network namespaces (laptop: ${laptop})`);
    this.r.line(`  ${LAB_NS.app.padEnd(16)} ${APP}   app: http :3000, :3001`);
    this.r.line(`  ${LAB_NS.db.padEnd(16)} ${DB}   db: tcp :5432`);
    this.r.line(`  ${LAB_NS.gw.padEnd(16)} ${GW_PROJECT_IP} (project bridge), ${GW_INTERNET}:${LISTEN_PORT} ("internet"), tunnel ${TUNNEL}`);
    this.r.line(`  ${LAB_NS.laptop.padEnd(16)} ${LAPTOP_INTERNET} ("internet"); reaches the project only through the tunnel`);
    if (this.tools.has('dnsmasq')) this.r.line(`  ${''.padEnd(16)} the gateway host's resolver: dnsmasq on ${HOST_RESOLVER} in ${LAB_NS.gw} (knows ${OUTSIDE_NAME})`);
    if (this.o.peer === 'wireguard-go' && existsSync('/sys/module/wireguard')) {
      this.r.line('  note: the kernel WireGuard module is loaded, so wg-quick uses it instead of wireguard-go');
    }
    this.r.line();
  }

  /** Namespaces, links, services; checks the lab's routing invariants. */
  async setup(): Promise<void> {
    const t0 = Date.now();
    if (!existsSync(NETNS_ETC_DIR)) writeFileSync(join(LAB_DIR, ETC_NETNS_MARKER), '');
    try {
      for (const ns of [LAB_NS.gw, LAB_NS.app, LAB_NS.db, LAB_NS.laptop]) {
        this.namespaces.push(ns);
        createNamespace(ns);
      }
      runInOk(LAB_NS.gw, 'ip', ['link', 'add', 'br0', 'type', 'bridge']);
      runInOk(LAB_NS.gw, 'ip', ['address', 'add', GW_PROJECT, 'dev', 'br0']);
      runInOk(LAB_NS.gw, 'ip', ['link', 'set', 'br0', 'up']);
      for (const [ns, port, addr] of [[LAB_NS.app, 'app0', APP], [LAB_NS.db, 'db0', DB]] as const) {
        vethPair({ ns: LAB_NS.gw, ifname: port }, { ns, ifname: 'eth0', address: `${addr}/24` });
        runInOk(LAB_NS.gw, 'ip', ['link', 'set', port, 'master', 'br0']);
      }
      vethPair({ ns: LAB_NS.gw, ifname: 'inet0', address: `${GW_INTERNET}/24` }, { ns: LAB_NS.laptop, ifname: 'eth0', address: `${LAPTOP_INTERNET}/24` });
    } catch (e) {
      this.r.result('fail', `namespaces and links: ${e instanceof Error ? e.message : String(e)}`);
      throw new SetupFailed();
    }
    if (this.tools.has('dnsmasq')) this.hostResolver();
    const app = spawnIn(LAB_NS.app, process.execPath, [this.files.app, APP], this.log('app'), this.env);
    const db = spawnIn(LAB_NS.db, process.execPath, [this.files.db, DB], this.log('db'), this.env);
    if (this.tools.has('iperf3')) spawnIn(LAB_NS.app, 'iperf3', ['-s', '-B', APP], this.log('iperf3'), this.env);
    const ready = (name: string, p: LabProcess): boolean => {
      if (p.exitCode() !== null) throw new Error(`${name} exited`);
      return existsSync(this.log(name)) && readFileSync(this.log(name), 'utf8').includes('ready');
    };
    const up = await poll(() => (ready('app', app) && ready('db', db) ? true : null), 10_000).catch(() => null);
    if (!up) {
      this.r.result('fail', 'services app and db did not start', [...this.tail('app'), ...this.tail('db')]);
      throw new SetupFailed();
    }
    const broken = [
      ...this.namespaces.filter((ns) => runIn(ns, 'ip', ['route', 'show', 'default']).stdout.trim() !== '').map((ns) => `${ns} has a default route`),
      ...[LAB_NS.app, LAB_NS.db].filter((ns) => runIn(ns, 'ip', ['route', 'get', '10.123.0.2']).status === 0).map((ns) => `${ns} has a route to the tunnel`),
      ...(runIn(LAB_NS.laptop, 'ip', ['route', 'get', APP]).status === 0 ? ['the laptop reaches the project without the tunnel'] : []),
    ];
    const text = `namespaces, bridge, "internet" link, services (${secondsSince(t0)}); no default routes, project hosts have no route to the tunnel`;
    if (!this.r.result(broken.length ? 'fail' : 'pass', text, broken)) throw new SetupFailed();
  }

  /**
   * The gateway host's resolver: dnsmasq on 127.0.0.53 in the gateway namespace with only its own
   * records (it asks nobody), and the namespace's resolv.conf naming it, as a host's names its stub.
   */
  private hostResolver(): void {
    spawnIn(LAB_NS.gw, 'dnsmasq', [
      '--keep-in-foreground', '--no-resolv', '--no-hosts', '--conf-file=/dev/null', '--pid-file=', '--user=root',
      `--listen-address=${HOST_RESOLVER}`, '--bind-interfaces', '--port=53', '--address=/#/', '--log-queries', '--log-facility=-',
      `--host-record=${OUTSIDE_NAME},${OUTSIDE_ADDRESS},60`,
    ], this.log('dnsmasq'), this.env);
    writeFileSync(join(NETNS_ETC_DIR, LAB_NS.gw, 'resolv.conf'), `# wgts lab: the gateway host's resolver\nnameserver ${HOST_RESOLVER}\n`, { mode: 0o644 });
  }

  /** `wgts gateway init` and `wgts peer add` (the full and the restricted profile). */
  async configs(): Promise<void> {
    const gw = basename(this.gwFile);
    try {
      await initGateway(this.gwFile, {
        address: [TUNNEL], networks: [NETWORK], endpoint: `${GW_INTERNET}:${LISTEN_PORT}`, listenPort: LISTEN_PORT, domain: DOMAIN,
        hosts: [`app=${APP}`, `db=${DB}`], force: false,
      });
      this.r.result('pass', `wgts gateway init ${gw} --address ${TUNNEL} --network ${NETWORK} --endpoint ${GW_INTERNET}:${LISTEN_PORT} --host app=${APP} --host db=${DB}`);
      const full = await addPeer(this.gwFile, 'laptop', { out: this.profileFile(LAB_IF.laptop) });
      this.laptopAddress = full.address;
      const config = redactConfig(full.clientConfig).trimEnd().split('\n');
      this.r.result('pass', `wgts peer add ${gw} laptop --out ${LAB_IF.laptop}.conf: ${full.address}, client config:`, config);
      const limited = await addPeer(this.gwFile, 'limited', { allow: [LIMITED_ALLOW], out: this.profileFile(LAB_IF.limited) });
      this.r.result('pass', `wgts peer add ${gw} limited --allow ${LIMITED_ALLOW} --out ${LAB_IF.limited}.conf: ${limited.address}`);
    } catch (e) {
      this.r.result('fail', `gateway config: ${e instanceof Error ? e.message : String(e)}`);
      throw new SetupFailed();
    }
  }

  /** Starts `wgts up IFNAME.conf` in `ns`; true once its status file exists, false when it exits or takes 15 s. */
  private async wgtsUp(ns: string, ifname: string): Promise<boolean> {
    const p = spawnIn(ns, process.execPath, [this.o.wgtsScript, 'up', this.profileFile(ifname)], this.log(ifname), ns === LAB_NS.laptop ? this.laptopEnv() : this.env);
    return (await poll(() => (p.exitCode() !== null ? false : readStatus(ifname) !== null ? true : null), 15_000)) === true;
  }

  async gatewayUp(): Promise<void> {
    const t0 = Date.now();
    const ok = await this.wgtsUp(LAB_NS.gw, LAB_IF.gw);
    const text = `gateway: wgts up ${LAB_IF.gw}.conf in ${LAB_NS.gw} (${secondsSince(t0)})`;
    if (!this.r.result(ok ? 'pass' : 'fail', text, ok ? [] : this.tail(LAB_IF.gw))) throw new SetupFailed();
  }

  /** Starts the laptop's profile `ifname`; the command shown, or an error with log lines. */
  private async laptopUp(ifname: string): Promise<{ ok: boolean; command: string; details: string[] }> {
    const file = this.profileFile(ifname);
    if (this.o.peer === 'wgts') {
      const ok = await this.wgtsUp(LAB_NS.laptop, ifname);
      return { ok, command: `wgts up ${basename(file)}`, details: ok ? [] : this.tail(ifname) };
    }
    const r = runIn(LAB_NS.laptop, 'wg-quick', ['up', file], { env: this.laptopEnv() });
    return { ok: r.status === 0, command: `wg-quick up ${basename(file)}`, details: r.status === 0 ? [] : r.stderr.trim().split('\n').slice(-6) };
  }

  /** Stops the laptop's profile `ifname` (`wgts down` or `wg-quick down`). */
  private laptopDown(ifname: string): { ok: boolean; command: string; details: string[] } {
    const r = this.o.peer === 'wgts'
      ? runIn(LAB_NS.laptop, process.execPath, [this.o.wgtsScript, 'down', ifname], { env: this.env })
      : runIn(LAB_NS.laptop, 'wg-quick', ['down', this.profileFile(ifname)], { env: this.laptopEnv() });
    const command = this.o.peer === 'wgts' ? `wgts down ${ifname}` : `wg-quick down ${ifname}.conf`;
    return { ok: r.status === 0, command, details: r.status === 0 ? [] : r.stderr.trim().split('\n').slice(-6) };
  }

  async laptopStart(): Promise<void> {
    const t0 = Date.now();
    const up = await this.laptopUp(LAB_IF.laptop);
    if (!this.r.result(up.ok ? 'pass' : 'fail', `laptop: ${up.command} in ${LAB_NS.laptop} (${secondsSince(t0)})`, up.details)) throw new SetupFailed();
  }

  /** The gateway's view of the peer called `name` (wgts show), null when absent. */
  private async gatewayPeer(name: string): Promise<ShowPeer | null> {
    const shown = await showInterface(LAB_IF.gw).catch(() => null);
    return shown?.peers.find((p) => p.name === name) ?? null;
  }

  /** Both sides saw a handshake: `wg show` on the laptop, `wgts show` on the gateway. */
  async handshake(): Promise<boolean> {
    const seen = await poll(async () => {
      const out = runIn(LAB_NS.laptop, 'wg', ['show', LAB_IF.laptop, 'latest-handshakes']).stdout;
      const at = Number(out.trim().split('\t')[1] ?? 0);
      const peer = await this.gatewayPeer('laptop');
      return at > 0 && peer !== null && peer.latestHandshake > 0 ? { at, peer } : null;
    }, 5000);
    if (!seen) return this.r.result('fail', 'handshake: none within 5 s (wg show on the laptop, wgts show on the gateway)', this.tail(LAB_IF.gw));
    const ago = Math.max(0, Math.round(Date.now() / 1000 - seen.at));
    return this.r.result('pass', `handshake: wg show ${LAB_IF.laptop}: ${ago} s ago; wgts show ${LAB_IF.gw}: peer laptop from ${seen.peer.endpoint ?? '?'}`);
  }

  resolve(): boolean {
    const r = runIn(LAB_NS.laptop, 'getent', ['hosts', 'app'], { timeoutMs: 10_000 });
    const line = r.stdout.trim().split('\n')[0]?.replace(/\s+/g, ' ') ?? '';
    return this.r.result(line.startsWith(`${APP} `) ? 'pass' : 'fail', `getent hosts app: ${line || `no answer ${r.stderr.trim()}`}`);
  }

  /** A name outside the project: the laptop's only DNS is the gateway, which asks the gateway host's resolver. */
  outsideName(): boolean {
    const what = `getent hosts ${OUTSIDE_NAME}`;
    if (!this.tools.has('dnsmasq')) return this.r.result('skip', `${what}: skipped, the lab's resolver needs dnsmasq (apt-get install dnsmasq-base)`);
    const r = runIn(LAB_NS.laptop, 'getent', ['hosts', OUTSIDE_NAME], { timeoutMs: 10_000 });
    const line = r.stdout.trim().split('\n')[0]?.replace(/\s+/g, ' ') ?? '';
    const ok = line.startsWith(`${OUTSIDE_ADDRESS} `);
    return this.r.result(ok ? 'pass' : 'fail', `${what}: ${line || `no answer ${r.stderr.trim()}`}${ok ? ` (the gateway forwarded it to the gateway host's resolver, ${HOST_RESOLVER})` : ''}`,
      ok ? [] : this.tail('dnsmasq'));
  }

  /** `curl -s http://app:3000/` from the laptop: ok when the body is app's page; the body or curl's exit status. */
  private curlApp(): { ok: boolean; text: string } {
    const r = runIn(LAB_NS.laptop, 'curl', ['-s', '-m', '5', 'http://app:3000/'], { timeoutMs: 10_000 });
    return { ok: r.status === 0 && r.stdout === APP_BODY, text: r.status === 0 ? r.stdout.trim() : `curl exited ${r.status}` };
  }

  curl(): boolean {
    const c = this.curlApp();
    return this.r.result(c.ok ? 'pass' : 'fail', `curl -s http://app:3000/: ${c.text}`);
  }

  /** TCP probes from the laptop (probe.mjs): by target, open + banner or the error. */
  private probe(timeoutMs: number, targets: readonly string[], from: string = LAB_NS.laptop): Map<string, { open: boolean; banner?: string; error?: string }> {
    const r = runIn(from, process.execPath, [this.files.probe, String(timeoutMs), ...targets], { timeoutMs: timeoutMs + 10_000 });
    const out = new Map<string, { open: boolean; banner?: string; error?: string }>();
    for (const line of r.stdout.split('\n')) {
      try {
        const v: unknown = JSON.parse(line);
        if (typeof v === 'object' && v !== null && 'target' in v && 'open' in v && typeof v.target === 'string' && typeof v.open === 'boolean') {
          out.set(v.target, {
            open: v.open,
            ...('banner' in v && typeof v.banner === 'string' ? { banner: v.banner } : {}),
            ...('error' in v && typeof v.error === 'string' ? { error: v.error } : {}),
          });
        }
      } catch {
        // not a result line
      }
    }
    return out;
  }

  db(): boolean {
    const p = this.probe(3000, ['db:5432']).get('db:5432');
    const ok = p?.open === true && p.banner === DB_BANNER;
    const text = p?.open ? `${p.banner ?? ''}${ok ? ' (the project sees the gateway: masquerade)' : ''}` : p?.error ?? 'probe failed';
    return this.r.result(ok ? 'pass' : 'fail', `db:5432 banner: ${text}`);
  }

  throughput(): boolean {
    const what = `iperf3 laptop -> app, ${this.o.seconds} s`;
    if (!this.tools.has('iperf3')) return this.r.result('skip', `${what}: skipped, iperf3 is not installed (apt-get install iperf3)`);
    const r = runIn(LAB_NS.laptop, 'iperf3', ['-c', 'app', '-t', String(this.o.seconds), '-J'], { timeoutMs: (this.o.seconds + 15) * 1000 });
    const result = iperfResult(r.stdout);
    return result.bitsPerSecond > 0
      ? this.r.result('pass', `${what}: ${(result.bitsPerSecond / 1e6).toFixed(0)} Mbit/s`)
      : this.r.result('fail', `${what}: ${result.error ?? (r.stderr.trim() || `exited ${r.status}`)}`);
  }

  rtt(): boolean {
    if (!this.tools.has('ping')) return this.r.result('skip', 'ping app: skipped, ping is not installed (apt-get install iputils-ping)');
    const r = runIn(LAB_NS.laptop, 'ping', ['-c', '5', '-i', '0.2', '-W', '1', '-w', '5', 'app'], { timeoutMs: 10_000 });
    const count = r.stdout.match(/(\d+) packets transmitted, (\d+) received/);
    const rtt = r.stdout.match(/= ([\d.]+)\/([\d.]+)\/([\d.]+)\//);
    const ok = r.status === 0 && count !== null && rtt !== null;
    return this.r.result(ok ? 'pass' : 'fail', ok && count && rtt
      ? `ping app: ${count[2]}/${count[1]} replies, RTT min/avg/max ${rtt[1]}/${rtt[2]}/${rtt[3]} ms`
      : `ping app: ${r.stdout.trim().split('\n').pop() ?? `exited ${r.status}`}`);
  }

  /**
   * The project cannot reach into the laptop: app gets a route to the tunnel subnet (so only the
   * gateway stands in the way), the laptop serves a port on its tunnel address, and app's
   * connection to it is refused by the gateway (its refused counter for the laptop grows); the
   * laptop's own connection to app still works.
   */
  async inbound(): Promise<boolean> {
    const target = `${this.laptopAddress}:${LAPTOP_SERVICE_PORT}`;
    this.r.heading(`inbound: app opens a connection to a service on the laptop (${target}), with a route to the tunnel`);
    // Runs until the lab's teardown stops every process of its namespaces.
    spawnIn(LAB_NS.laptop, process.execPath, [this.files.db, this.laptopAddress], this.log('laptop-service'), this.env);
    const route = ['route', 'add', '10.123.0.0/24', 'via', GW_PROJECT_IP];
    const routed = runIn(LAB_NS.app, 'ip', route);
    try {
      const listening = await poll(() => (existsSync(this.log('laptop-service')) && readFileSync(this.log('laptop-service'), 'utf8').includes('ready') ? true : null), 5000);
      if (!listening || routed.status !== 0) {
        return this.r.check('fail', `setup: ${listening ? '' : 'the laptop service did not start '}${routed.status !== 0 ? `ip ${route.join(' ')}: ${routed.stderr.trim()}` : ''}`);
      }
      const before = (await this.gatewayPeer('laptop'))?.refused ?? 0;
      const p = this.probe(BLOCKED_TIMEOUT_MS, [target], LAB_NS.app).get(target);
      const blocked = p !== undefined && !p.open && (p.error ?? '').startsWith('no connection');
      let ok = this.r.check(blocked ? 'pass' : 'fail', `app -> ${target} refused: ${p ? (p.open ? `connected (${p.banner || 'no banner'})` : p.error) : 'probe failed'}`);
      const refused = await poll(async () => {
        const n = (await this.gatewayPeer('laptop'))?.refused ?? 0;
        return n > before ? n : null;
      }, 3000);
      ok = this.r.check(refused ? 'pass' : 'fail', `wgts show ${LAB_IF.gw}: peer laptop, refused packets: ${refused ?? before} (answers to what the laptop starts pass; AllowInbound opens ports)`) && ok;
      const c = this.curlApp();
      return this.r.check(c.ok ? 'pass' : 'fail', `meanwhile the laptop -> curl -s http://app:3000/: ${c.text}`) && ok;
    } finally {
      if (routed.status === 0) runIn(LAB_NS.app, 'ip', ['route', 'del', '10.123.0.0/24']);
    }
  }

  /** Switches the laptop from profile `from` to `to`: one check line. */
  private async switchProfile(from: string, to: string, what: string): Promise<boolean> {
    const t0 = Date.now();
    const down = this.laptopDown(from);
    const up = down.ok ? await this.laptopUp(to) : { ok: false, command: '', details: [] };
    const ok = this.r.check(down.ok && up.ok ? 'pass' : 'fail', `${what}: ${down.command}; ${up.command || '(not started)'} (${secondsSince(t0)})`);
    for (const d of [...down.details, ...up.details]) this.r.line(`        ${d}`);
    return ok;
  }

  /** The restricted profile reaches app:3000 only; the gateway counts what it refused. */
  async accessRule(): Promise<boolean> {
    this.r.heading(`access rule: the laptop switches to profile "limited" (--allow ${LIMITED_ALLOW})`);
    if (!(await this.switchProfile(LAB_IF.laptop, LAB_IF.limited, 'switch'))) return false;
    const c = this.curlApp();
    let ok = this.r.check(c.ok ? 'pass' : 'fail', `curl -s http://app:3000/: ${c.text}`);
    const probes = this.probe(BLOCKED_TIMEOUT_MS, ['db:5432', 'app:3001']);
    for (const t of ['db:5432', 'app:3001']) {
      const p = probes.get(t);
      const blocked = p !== undefined && !p.open && (p.error ?? '').startsWith('no connection');
      ok = this.r.check(blocked ? 'pass' : 'fail', `${t} blocked: ${p ? (p.open ? `reachable (${p.banner || 'connected'})` : p.error) : 'probe failed'}`) && ok;
    }
    const denied = await poll(async () => {
      const p = await this.gatewayPeer('limited');
      return p !== null && (p.denied ?? 0) > 0 ? p.denied : null;
    }, 3000);
    ok = this.r.check(denied ? 'pass' : 'fail', `wgts show ${LAB_IF.gw}: peer limited, denied packets: ${denied ?? 0}`) && ok;
    if (this.o.keep) ok = (await this.switchProfile(LAB_IF.limited, LAB_IF.laptop, 'back to the full profile (--keep)')) && ok;
    return ok;
  }

  /** Runs every step; true when the lab is up (setup passed), whatever the demonstration found. */
  async steps(): Promise<boolean> {
    try {
      await this.setup();
      await this.configs();
      await this.gatewayUp();
      await this.laptopStart();
    } catch (e) {
      if (e instanceof SetupFailed) return false;
      throw e;
    }
    if (!(await this.handshake())) {
      this.r.result('fail', 'the remaining steps need the tunnel: not run');
      return true;
    }
    const demo: (() => unknown)[] = [
      () => this.resolve(), () => this.outsideName(), () => this.curl(), () => this.db(), () => this.throughput(), () => this.rtt(), () => this.inbound(), () => this.accessRule(),
    ];
    for (const step of demo) {
      // A turn of the event loop between steps: a Ctrl-C is handled before the next one starts.
      await new Promise((resolve) => setImmediate(resolve));
      await step();
    }
    return true;
  }

  summary(t0: number): { failed: number; text: string } {
    return summaryOf(this.r, t0);
  }

  keepHints(): void {
    const w = this.o.wgtsCommand;
    this.r.line('the lab keeps running (--keep):');
    this.r.line(`  the laptop:        sudo ip netns exec ${LAB_NS.laptop} bash   then: curl http://app:3000, getent hosts db, getent hosts ${OUTSIDE_NAME}, iperf3 -c app`);
    this.r.line(`  the gateway:       sudo ${w} show ${LAB_IF.gw}`);
    this.r.line(`  configs and logs:  ${LAB_DIR}`);
    this.r.line(`  remove it:         sudo ${w} lab --clean`);
  }
}

/**
 * `wgts lab`: checks prerequisites, builds the lab, runs the demonstration steps and removes the lab
 * again (unless `keep` and the setup succeeded). Returns the exit code: 0 when every check passed.
 */
export async function runLab(o: LabOptions): Promise<number> {
  const w = o.write;
  if (!isRoot()) {
    w('wgts lab: needs root (network namespaces, TUN devices): run it with sudo\n');
    return 1;
  }
  const pre = prerequisites(o.peer);
  const optional = pre.optional;
  const missing = o.ha ? [...new Set([...pre.missing, ...HaPair.missing()])] : pre.missing;
  if (missing.length > 0) {
    const pkgs = await debianPackages(missing);
    w(`wgts lab: missing program(s): ${missing.join(', ')}. ${pkgs === null ? 'Install the packages that provide them' : `Install them (Debian/Ubuntu): sudo apt-get install -y ${pkgs}`}\n`
      + '  (from a clone, `sudo npm run lab` installs them itself)\n');
    return 1;
  }
  const left = leftovers();
  if (left.namespaces.length > 0 || left.files.length > 0) {
    w(`wgts lab: a lab already exists (${describe(left)}).\n  enter it: sudo ip netns exec ${LAB_NS.laptop} bash\n  remove it: sudo ${o.wgtsCommand} lab --clean\n`);
    return 1;
  }
  try {
    mkdirSync(LAB_DIR, { mode: 0o700 });
  } catch (e) {
    w(`wgts lab: cannot create ${LAB_DIR}: ${e instanceof Error ? e.message : String(e)}\n`);
    return 1;
  }
  let lab: LabRun | HaRun;
  if (o.ha) {
    if (!existsSync(NETNS_ETC_DIR)) writeFileSync(join(LAB_DIR, ETC_NETNS_MARKER), '');
    lab = new HaRun(o);
  } else {
    let files: LabFiles;
    try {
      files = writeLabFiles(LAB_DIR, join(NETNS_ETC_DIR, LAB_NS.laptop, 'resolv.conf'), GUARD_RESOLV_CONF);
    } catch (e) {
      rmSync(LAB_DIR, { recursive: true, force: true });
      w(`wgts lab: cannot write the lab's files: ${e instanceof Error ? e.message : String(e)}\n`);
      return 1;
    }
    lab = new LabRun(o, optional, files);
  }

  const t0 = Date.now();
  let keepIt = false;
  const onExit = (): void => {
    if (!keepIt) lab.remove();
  };
  const onSignal = (sig: NodeJS.Signals) => (): void => {
    w(`\ninterrupted (${sig}): removing the lab\n`);
    lab.remove();
    process.exit(130);
  };
  const handlers = (['SIGINT', 'SIGTERM', 'SIGHUP'] as const).map((sig) => [sig, onSignal(sig)] as const);
  process.on('exit', onExit);
  for (const [sig, h] of handlers) process.on(sig, h);
  try {
    lab.header();
    const labUp = await lab.steps();
    const s = lab.summary(t0);
    if (o.keep && labUp) {
      keepIt = true;
      w(`\n${s.text}\n`);
      lab.keepHints();
    } else {
      const procs = lab.remove();
      w(`\n${s.text}; lab removed (${procs?.stopped ?? 0} processes stopped, namespaces and files deleted)\n`);
    }
    return s.failed === 0 ? 0 : 1;
  } finally {
    if (!keepIt) lab.remove();
    process.off('exit', onExit);
    for (const [sig, h] of handlers) process.off(sig, h);
  }
}
