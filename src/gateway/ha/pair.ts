// A failover pair in network namespaces, for `wgts lab --ha` and the failover test:
//
//   PREFIX-app     10.124.0.10/24  app: HTTP :3000, db-style banner :5432 (names the client), echo :7000
//   PREFIX-gwa     proj0 10.124.0.2/24, eth0 10.201.0.2/24 (+ the VIP 10.200.0.1/24 while MASTER);
//                  keepalived (VRRP router id 51)
//   PREFIX-gwb     proj0 10.124.0.3/24, eth0 10.201.0.3/24 (+ the VIP while MASTER); keepalived
//   PREFIX-laptop  eth0 10.200.0.10/24; wg-quick + wireguard-go, Endpoint = the VIP
//   PREFIX-etcd    10.210.0.5/24: a one-member etcd, the registry both gateways run from
//                  (`wgts up etcd://10.210.0.5:2379/wgts/shop --ifname IF_A|IF_B`: one identity)
//   PREFIX-sw      three bridges without addresses: brI (the "internet" side: both gateways and the
//                  laptop; VRRP advertisements stay on it), brP (the project network) and brM (the
//                  gateways' management link to etcd: gwa 10.210.0.2, gwb 10.210.0.3; neither the
//                  laptop nor the project reaches it)
//
// The gateways' own addresses (VRRP's source) are outside the VIP's subnet: the connected route
// of VIP/24 is the only way to the laptop, so every packet a gateway sends the laptop leaves from
// the VIP and the laptop's endpoint stays on it (see keepalived.ts). No namespace has a default
// route; every namespace gets a guard resolv.conf (nothing answers on its loopback), the gateways
// forward no DNS (Upstream = none), the laptop's resolv.conf is the tunnel's DNS only.
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DEFAULT_SOCKET_DIR } from '../../device/uapi/server.js';
import { createNamespace, deleteNamespace, GUARD_RESOLV_CONF, NETNS_ETC_DIR, runIn, runInOk, spawnIn, stopNamespaceProcesses, vethPair, which } from '../lab-ns.js';
import { writeLabFiles, type LabFiles } from '../lab-files.js';
import { poll } from '../lab-report.js';
import { readStatus, statusPath } from '../status.js';
import { readEndpoints } from './endpoints.js';
import { writeHaFiles, type HaFiles } from './files.js';
import { keepalivedConf } from './keepalived.js';

export const HA_VIP = '10.200.0.1';
export const HA_LAPTOP = '10.200.0.10';
export const HA_APP = '10.124.0.10';
export const HA_PORT = 51820;
/** The project address each gateway masquerades to. */
export const HA_GW_PROJECT = { a: '10.124.0.2', b: '10.124.0.3' } as const;
const HA_GW_OWN = { a: '10.201.0.2/24', b: '10.201.0.3/24' } as const;
const NETWORK = '10.124.0.0/24';
const TUNNEL = '10.123.0.1/24';
const ECHO_PORT = 7000;
/** The registry: etcd's client address on the management link, and the gateway's prefix. */
export const HA_ETCD = '10.210.0.5:2379';
export const HA_REGISTRY = `etcd://${HA_ETCD}/wgts/shop`;
const HA_GW_MGMT = { a: '10.210.0.2/24', b: '10.210.0.3/24' } as const;
const BANNER_PORT = 5432;
/** What app's :3000 answers (lab-files.ts). */
export const HA_APP_BODY = `hello from app (${HA_APP})\n`;
/** Programs the pair needs besides node. */
export const HA_PROGRAMS = ['ip', 'wg', 'wg-quick', 'wireguard-go', 'keepalived', 'curl', 'etcd', 'etcdctl'] as const;

export type Side = 'a' | 'b';
export const other = (s: Side): Side => (s === 'a' ? 'b' : 'a');

/** Names and places of one pair. */
export interface HaPairOptions {
  /** Namespace name prefix (e.g. `wgts-lab-ha-` or `wgts-PID-ha-`). */
  prefix: string;
  /** Interface names: the two gateways (copies of one config) and the laptop. */
  ifnames: { a: string; b: string; laptop: string };
  /** A private directory for configs, programs, logs (created by the caller). */
  dir: string;
  /** The wgts CLI script, run with this Node. */
  wgtsScript: string;
  /** Whether keepalived runs `wgts ha kick` when each gateway becomes MASTER. */
  kick: { a: boolean; b: boolean };
}

/** The JSON lines of a log file (other lines skipped). */
function jsonLines(path: string): Record<string, unknown>[] {
  if (!existsSync(path)) return [];
  const out: Record<string, unknown>[] = [];
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    try {
      const v: unknown = JSON.parse(line);
      if (typeof v === 'object' && v !== null && !Array.isArray(v)) out.push(v as Record<string, unknown>);
    } catch {
      // not JSON
    }
  }
  return out;
}

/** The outcome of one outage measurement. */
export interface Outage {
  attempts: number;
  failures: number;
  /** Longest interruption seen (ms): last answer before it to the first answer after it. */
  longestMs: number;
  /** Still failing when the measurement stopped. */
  down: boolean;
}

/** What the held-open connection saw. */
export interface HeldConnection {
  before: string;
  after: string;
}

/** One failover pair: setup, the steps the lab and the test run, teardown. */
export class HaPair {
  readonly ns: { sw: string; a: string; b: string; laptop: string; app: string; etcd: string };
  private readonly created: string[] = [];
  private labFiles: LabFiles | null = null;
  private haFiles: HaFiles | null = null;
  readonly endpointsFile: string;
  private removed = false;
  private readonly env: NodeJS.ProcessEnv;

  constructor(private readonly o: HaPairOptions) {
    const p = o.prefix;
    this.ns = { sw: `${p}sw`, a: `${p}gwa`, b: `${p}gwb`, laptop: `${p}laptop`, app: `${p}app`, etcd: `${p}etcd` };
    this.endpointsFile = join(o.dir, 'endpoints');
    const { LOG_LEVEL: _ignored, ...env } = process.env;
    this.env = env;
  }

  /** Every namespace this pair created. */
  namespaces(): string[] {
    return [...this.created];
  }

  log(name: string): string {
    return join(this.o.dir, `${name}.log`);
  }

  conf(ifname: string): string {
    return join(this.o.dir, `${ifname}.conf`);
  }

  /** The programs the pair needs that are missing. */
  static missing(): string[] {
    return HA_PROGRAMS.filter((c) => which(c) === null);
  }

  /** Namespaces, bridges, links, addresses, the project's services. */
  async setup(): Promise<void> {
    for (const n of [this.ns.sw, this.ns.a, this.ns.b, this.ns.laptop, this.ns.app, this.ns.etcd]) {
      this.created.push(n);
      createNamespace(n);
    }
    this.labFiles = writeLabFiles(this.o.dir, join(NETNS_ETC_DIR, this.ns.laptop, 'resolv.conf'), GUARD_RESOLV_CONF);
    this.haFiles = writeHaFiles(this.o.dir);
    for (const br of ['brI', 'brP', 'brM']) {
      runInOk(this.ns.sw, 'ip', ['link', 'add', br, 'type', 'bridge']);
      runInOk(this.ns.sw, 'ip', ['link', 'set', br, 'up']);
    }
    const ends: [string, string, string, string][] = [
      [this.ns.a, 'eth0', HA_GW_OWN.a, 'brI'], [this.ns.b, 'eth0', HA_GW_OWN.b, 'brI'], [this.ns.laptop, 'eth0', `${HA_LAPTOP}/24`, 'brI'],
      [this.ns.a, 'proj0', `${HA_GW_PROJECT.a}/24`, 'brP'], [this.ns.b, 'proj0', `${HA_GW_PROJECT.b}/24`, 'brP'], [this.ns.app, 'eth0', `${HA_APP}/24`, 'brP'],
      [this.ns.a, 'mgmt0', HA_GW_MGMT.a, 'brM'], [this.ns.b, 'mgmt0', HA_GW_MGMT.b, 'brM'], [this.ns.etcd, 'eth0', `${HA_ETCD.split(':')[0] ?? ''}/24`, 'brM'],
    ];
    ends.forEach(([ns, ifname, address, br], i) => {
      vethPair({ ns: this.ns.sw, ifname: `p${i}` }, { ns, ifname, address });
      runInOk(this.ns.sw, 'ip', ['link', 'set', `p${i}`, 'master', br]);
    });
    const lab = this.labFiles;
    const ha = this.haFiles;
    const procs = [
      spawnIn(this.ns.app, process.execPath, [lab.app, HA_APP], this.log('app'), this.env),
      spawnIn(this.ns.app, process.execPath, [lab.db, HA_APP], this.log('banner'), this.env),
      spawnIn(this.ns.app, process.execPath, [ha.echo, HA_APP, String(ECHO_PORT)], this.log('echo'), this.env),
    ];
    const ready = await poll(() => {
      if (procs.some((p) => p.exitCode() !== null)) throw new Error(`a project service exited: ${this.tail('app', 'banner', 'echo').join('; ')}`);
      return ['app', 'banner', 'echo'].every((n) => existsSync(this.log(n)) && readFileSync(this.log(n), 'utf8').includes('ready')) ? true : null;
    }, 10_000);
    if (!ready) throw new Error('the project services did not start');
    await this.startEtcd();
    const routed = this.created.filter((ns) => runIn(ns, 'ip', ['route', 'show', 'default']).stdout.trim() !== '');
    if (routed.length > 0) throw new Error(`default route in ${routed.join(', ')}`);
  }

  /** A one-member etcd in PREFIX-etcd, its data in DIR/etcd; resolves once it answers. */
  private async startEtcd(): Promise<void> {
    const client = `http://${HA_ETCD}`;
    const peer = `http://${HA_ETCD.replace(/:[0-9]+$/, ':2380')}`;
    const p = spawnIn(this.ns.etcd, 'etcd', [
      '--name', 'wgts-ha', '--data-dir', join(this.o.dir, 'etcd'), '--listen-client-urls', client, '--advertise-client-urls', client,
      '--listen-peer-urls', peer, '--initial-advertise-peer-urls', peer, '--initial-cluster', `wgts-ha=${peer}`,
      '--initial-cluster-state', 'new', '--log-level', 'warn', '--logger', 'zap',
    ], this.log('etcd'), this.env);
    const healthy = await poll(() => {
      if (p.exitCode() !== null) throw new Error(`etcd exited: ${this.tail('etcd').join('; ')}`);
      return runIn(this.ns.etcd, 'etcdctl', ['--endpoints', client, '--dial-timeout', '1s', 'endpoint', 'health'], { env: { ...this.env, ETCDCTL_API: '3' }, timeoutMs: 5000 }).status === 0 ? true : null;
    }, 20_000);
    if (!healthy) throw new Error(`etcd did not answer within 20 s: ${this.tail('etcd').join('; ')}`);
  }

  /** `wgts ARGS` in namespace `ns` (the gateway hosts reach etcd); stdout, throws with stderr. */
  private wgts(ns: string, args: string[]): string {
    const r = runIn(ns, process.execPath, [this.o.wgtsScript, ...args], { env: this.env, timeoutMs: 30_000 });
    if (r.status !== 0) throw new Error(`wgts ${args.join(' ')}: ${r.stderr.trim()}`);
    return r.stdout;
  }

  /** The last lines of logs, for failure reports (they hold no keys). */
  tail(...names: string[]): string[] {
    return names.flatMap((n) => {
      try {
        return readFileSync(this.log(n), 'utf8').split('\n').filter((l) => l.trim() !== '' && !/^\s+at /.test(l)).slice(-4).map((l) => `${n}.log: ${l}`);
      } catch {
        return [];
      }
    });
  }

  /** `wgts gateway init` into the registry and the laptop's `wgts peer add`, from gateway A's host. */
  configs(): { laptopAddress: string } {
    this.wgts(this.ns.a, ['gateway', 'init', HA_REGISTRY, '--name', 'shop', '--address', TUNNEL, '--network', NETWORK, '--endpoint', `${HA_VIP}:${HA_PORT}`,
      '--listen-port', String(HA_PORT), '--host', `app=${HA_APP}`, '--upstream', 'none']);
    const laptop = this.conf(this.o.ifnames.laptop);
    this.wgts(this.ns.a, ['peer', 'add', HA_REGISTRY, 'laptop', '--out', laptop]);
    const address = /^Address = ([0-9.]+)\/32$/m.exec(readFileSync(laptop, 'utf8'))?.[1];
    if (address === undefined) throw new Error(`no Address in ${laptop}`);
    return { laptopAddress: address };
  }

  /** Starts `wgts up` of side `s` from the registry with the shared endpoints file; resolves once its status file exists. */
  async gatewayUp(s: Side): Promise<void> {
    const ifname = this.o.ifnames[s];
    const p = spawnIn(this.ns[s], process.execPath, [this.o.wgtsScript, 'up', HA_REGISTRY, '--ifname', ifname, '--endpoints-file', this.endpointsFile], this.log(ifname), this.env);
    const up = await poll(() => (p.exitCode() !== null ? false : readStatus(ifname)?.pid !== undefined && this.alive(ifname) ? true : null), 15_000);
    if (up !== true) throw new Error(`wgts up ${ifname}.conf did not start: ${this.tail(ifname).join('; ')}`);
  }

  /** Whether the `wgts up` of `ifname` (by its status file's pid) runs. */
  private alive(ifname: string): boolean {
    const pid = readStatus(ifname)?.pid;
    if (pid === undefined) return false;
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  }

  /** kill -9 of side `s`'s `wgts up`; its pid. */
  killGateway(s: Side): number {
    const pid = readStatus(this.o.ifnames[s])?.pid;
    if (pid === undefined) throw new Error(`no status file for ${this.o.ifnames[s]}`);
    process.kill(pid, 'SIGKILL');
    return pid;
  }

  /** Starts keepalived of side `s` with the config `wgts ha keepalived-conf` prints (kick per options). */
  keepalived(s: Side): string {
    const file = join(this.o.dir, `keepalived-${s}.conf`);
    const text = keepalivedConf({
      wgIf: this.o.ifnames[s], vrrpIf: 'eth0', vip: `${HA_VIP}/24`, routerId: 51, priority: 200, advertInt: 1,
      endpointsFile: this.endpointsFile, wgts: [process.execPath, this.o.wgtsScript], wg: which('wg') ?? '/usr/bin/wg', name: `wgts-ha-${s}`,
    });
    writeFileSync(file, this.o.kick[s] ? text : text.replace(/^ {2}notify_master .*\n/m, ''));
    spawnIn(this.ns[s], 'keepalived', ['--dont-fork', '--log-console', '--log-detail', '--no-syslog', '--vrrp', '-f', file,
      '-p', join(this.o.dir, `keepalived-${s}.pid`), '-r', join(this.o.dir, `keepalived-${s}-vrrp.pid`)], this.log(`keepalived-${s}`), this.env);
    return file;
  }

  /** Which side holds the VIP now (null: none; 'both' would be a split brain). */
  master(): Side | 'both' | null {
    const has = (s: Side): boolean => runIn(this.ns[s], 'ip', ['-4', '-o', 'address', 'show', 'dev', 'eth0']).stdout.includes(` ${HA_VIP}/24 `);
    const a = has('a');
    const b = has('b');
    return a && b ? 'both' : a ? 'a' : b ? 'b' : null;
  }

  /** Waits until side `s` alone holds the VIP; ms waited, or null after `ms`. */
  async waitMaster(s: Side, ms: number): Promise<number | null> {
    const t0 = Date.now();
    return (await poll(() => (this.master() === s ? Date.now() - t0 : null), ms));
  }

  /** The VRRP state changes keepalived of side `s` logged (`Entering MASTER STATE`, ...). */
  vrrpStates(s: Side): string[] {
    if (!existsSync(this.log(`keepalived-${s}`))) return [];
    return [...readFileSync(this.log(`keepalived-${s}`), 'utf8').matchAll(/Entering ([A-Z]+) STATE/g)].map((m) => m[1] ?? '');
  }

  private laptopEnv(): NodeJS.ProcessEnv {
    return {
      ...this.env,
      PATH: `${this.labFiles?.bin ?? ''}:${this.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin'}`,
      WG_QUICK_USERSPACE_IMPLEMENTATION: 'wireguard-go',
      WG_I_PREFER_BUGGY_USERSPACE_TO_POLISHED_KMOD: '1',
    };
  }

  /** `wg-quick up` of the laptop's config (wireguard-go). */
  laptopUp(): void {
    const r = runIn(this.ns.laptop, 'wg-quick', ['up', this.conf(this.o.ifnames.laptop)], { env: this.laptopEnv() });
    if (r.status !== 0) throw new Error(`wg-quick up failed: ${r.stderr.trim().split('\n').slice(-4).join('; ')}`);
  }

  /** The MAC address of side `s`'s "internet" interface. */
  macOf(s: Side): string {
    return /link\/ether ([0-9a-f:]{17})/.exec(runIn(this.ns[s], 'ip', ['link', 'show', 'dev', 'eth0']).stdout)?.[1] ?? '';
  }

  /** The MAC address the laptop's neighbour table holds for the VIP ('' when none). */
  laptopNeighbor(): string {
    return /lladdr ([0-9a-f:]{17})/.exec(runIn(this.ns.laptop, 'ip', ['neigh', 'show', HA_VIP, 'dev', 'eth0']).stdout)?.[1] ?? '';
  }

  /** The laptop's endpoint for the gateway (`wg show IF endpoints`). */
  laptopEndpoint(): string {
    return runIn(this.ns.laptop, 'wg', ['show', this.o.ifnames.laptop, 'endpoints']).stdout.trim().split('\t')[1] ?? '';
  }

  /** `curl -s http://app:3000/` from the laptop: the body or curl's exit status. */
  curl(): { ok: boolean; text: string } {
    const r = runIn(this.ns.laptop, 'curl', ['-s', '-m', '3', 'http://app:3000/'], { timeoutMs: 10_000 });
    return { ok: r.status === 0 && r.stdout === HA_APP_BODY, text: r.status === 0 ? r.stdout.trim() : `curl exited ${r.status}` };
  }

  /** A new TCP connection to app's banner port: the project-side address it came from (the masquerade). */
  masqueradedAs(): string | null {
    const r = runIn(this.ns.laptop, process.execPath, [this.labFiles?.probe ?? '', '3000', `app:${BANNER_PORT}`], { timeoutMs: 15_000 });
    const m = /client (?:::ffff:)?([0-9.]+)/.exec(r.stdout);
    return m?.[1] ?? null;
  }

  /** The peers' endpoints the pair shares (the file `wgts up --endpoints-file` keeps). */
  async sharedEndpoints(): Promise<Map<string, string>> {
    return readEndpoints(this.endpointsFile).catch(() => new Map<string, string>());
  }

  /** Starts the outage meter on the laptop (curl every 100 ms); resolves once it runs. */
  async startOutageMeter(name: string, maxSeconds: number): Promise<() => Promise<Outage>> {
    const stop = join(this.o.dir, `${name}.stop`);
    const log = this.log(name);
    spawnIn(this.ns.laptop, process.execPath, [this.haFiles?.outage ?? '', 'http://app:3000/', HA_APP_BODY, stop, String(maxSeconds)], log, this.env);
    await poll(() => (jsonLines(log).some((l) => l.ready === true) ? true : null), 10_000);
    return async () => {
      writeFileSync(stop, '');
      const summary = await poll(() => jsonLines(log).find((l) => typeof l.attempts === 'number') ?? null, 5000);
      if (summary === null) throw new Error(`the outage meter gave no summary: ${this.tail(name).join('; ')}`);
      return { attempts: Number(summary.attempts), failures: Number(summary.failures), longestMs: Number(summary.longestMs), down: summary.down === true };
    };
  }

  /** Waits (bounded) until the meter saw `ok` answers again after a failure; true when it did. */
  async meterRecovered(name: string, ms: number): Promise<boolean> {
    return (await poll(() => {
      const l = jsonLines(this.log(name)).filter((x) => typeof x.ok === 'boolean');
      const failed = l.findIndex((x) => x.ok === false);
      return failed >= 0 && l.slice(failed).some((x) => x.ok === true) ? true : null;
    }, ms)) === true;
  }

  /** Opens a TCP connection from the laptop to app's echo service; `release()` then uses it once more. */
  async holdConnection(name: string): Promise<{ before: string; release: () => Promise<string> }> {
    const trigger = join(this.o.dir, `${name}.go`);
    const log = this.log(name);
    spawnIn(this.ns.laptop, process.execPath, [this.haFiles?.hold ?? '', 'app', String(ECHO_PORT), trigger], log, this.env);
    const first = await poll(() => jsonLines(log).find((l) => l.phase === 'before') ?? null, 10_000);
    const text = (l: Record<string, unknown> | null | undefined): string => (l === null || l === undefined ? 'no result' : typeof l.echo === 'string' ? `echo "${l.echo}"` : `error ${String(l.error)}`);
    return {
      before: text(first),
      release: async () => {
        writeFileSync(trigger, '');
        return text(await poll(() => jsonLines(log).find((l) => l.phase === 'after') ?? null, 10_000));
      },
    };
  }

  /** Removes everything the pair created (idempotent, synchronous): processes, namespaces, files. */
  remove(): { stopped: number; killed: number } {
    if (this.removed) return { stopped: 0, killed: 0 };
    this.removed = true;
    const procs = stopNamespaceProcesses(this.created, 5000);
    for (const ns of this.created) deleteNamespace(ns);
    for (const i of Object.values(this.o.ifnames)) {
      rmSync(join(DEFAULT_SOCKET_DIR, `${i}.sock`), { force: true });
      rmSync(statusPath(i), { force: true });
    }
    return procs;
  }
}
