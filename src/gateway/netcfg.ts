// The host-side configuration `wgts up` performs around a running interface: addresses, MTU, link
// state and routes (`ip`; a route never replaces or shadows an existing one), sysctls (/proc/sys
// of the current network namespace), host firewall rules (iptables.ts: tagged `wgts:IF:PID`) and
// split DNS (`resolvectl`: search domains and no default DNS route; or /etc/netns/NAME/resolv.conf
// inside a named namespace).
//
// Every change that outlives the TUN device is recorded on an UndoStack together with how to take
// it back, so that exit (signal, `wgts down`, TUN deleted) restores the host as it was; entries
// also carry a synchronous variant, which the process's 'exit' handler runs for whatever an
// uncaught exception or process.exit() left (unwindSync). Addresses, MTU, link state and routes of
// the TUN are not recorded: the kernel drops them with the device, which is always deleted on exit.
// Forwarding sysctls are set but not restored (see setSysctl): other things on the host depend on
// them once they are on.
import { execFile, spawnSync } from 'node:child_process';
import { promises as fsp, readdirSync, rmdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { formatCidr, parseCidr, type Cidr } from '../config/ip.js';
import { processAlive } from '../config/lock.js';
import { writeFileAtomic, writeFileAtomicSync } from '../config/write.js';
import { iptablesCommand, ruleArgs, ruleKey, ruleTag, type FirewallRule } from './iptables.js';

/** Runs a program with arguments and resolves with its stdout; rejects with a message holding stderr. */
export type CommandRunner = (cmd: string, args: readonly string[], input?: string) => Promise<string>;

/** How long one external command may take (ms). */
const COMMAND_TIMEOUT_MS = 10_000;

/** The default CommandRunner: execFile with a time limit, no shell; a missing program is named as such. */
export const runCommand: CommandRunner = (cmd, args, input) => new Promise((resolve, reject) => {
  const child = execFile(cmd, [...args], { timeout: COMMAND_TIMEOUT_MS, encoding: 'utf8' }, (err, stdout, stderr) => {
    if (err && (err as NodeJS.ErrnoException).code === 'ENOENT') reject(new Error(`${cmd} is not installed (not found in PATH=${process.env.PATH ?? ''})`));
    else if (err) reject(new Error(`${cmd} ${args.join(' ')}: ${stderr.trim() || err.message}`));
    else resolve(stdout);
  });
  if (input !== undefined) child.stdin?.end(input);
});

/** runCommand's synchronous twin, for undoing on the way out of a dying process. Throws on failure. */
export function runCommandSync(cmd: string, args: readonly string[]): void {
  const r = spawnSync(cmd, [...args], { timeout: COMMAND_TIMEOUT_MS, encoding: 'utf8' });
  if (r.error) throw r.error;
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${(r.stderr ?? '').trim()}`);
}

/** One recorded change: a key naming it (for taking it back early) and how to undo it. */
interface UndoEntry {
  readonly key: string;
  readonly undo: () => Promise<void> | void;
  /** The same, synchronously (for the process's 'exit' handler); absent when nothing outlives the process. */
  readonly undoSync?: () => void;
}

/**
 * Changes to take back, newest first. Entries are keyed so one change can be undone early (a
 * masquerade rule whose network left the config) without disturbing the others.
 */
export class UndoStack {
  private readonly entries: UndoEntry[] = [];

  /**
   * Records how to undo the change `key` (keys are unique; a second push of a key is a bug), and
   * optionally how to do it synchronously when the process is about to die.
   */
  push(key: string, undo: () => Promise<void> | void, undoSync?: () => void): void {
    if (this.has(key)) throw new Error(`undo entry ${key} recorded twice`);
    this.entries.push(undoSync ? { key, undo, undoSync } : { key, undo });
  }

  has(key: string): boolean {
    return this.entries.some((e) => e.key === key);
  }

  /** The recorded keys, oldest first. */
  keys(): string[] {
    return this.entries.map((e) => e.key);
  }

  /** Undoes the change `key` now and forgets it; false when there is no such entry. */
  async take(key: string): Promise<boolean> {
    const i = this.entries.findIndex((e) => e.key === key);
    if (i < 0) return false;
    const [e] = this.entries.splice(i, 1);
    await e.undo();
    return true;
  }

  /** Undoes everything, newest first; a failing step is reported and the rest still run. */
  async unwind(report: (key: string, error: unknown) => void): Promise<void> {
    while (this.entries.length > 0) {
      const e = this.entries.pop() as UndoEntry;
      try {
        await e.undo();
      } catch (err) {
        report(e.key, err);
      }
    }
  }

  /**
   * Undoes what is left synchronously, newest first (the 'exit' handler of a process that could
   * not run unwind: an uncaught exception, process.exit()). Entries without a synchronous variant
   * are dropped; failures are reported and the rest still run.
   */
  unwindSync(report: (key: string, error: unknown) => void): void {
    while (this.entries.length > 0) {
      const e = this.entries.pop() as UndoEntry;
      try {
        e.undoSync?.();
      } catch (err) {
        report(e.key, err);
      }
    }
  }
}

/** The /proc/sys path of a dotted sysctl name (net.ipv4.ip_forward -> /proc/sys/net/ipv4/ip_forward). */
export function sysctlPath(name: string): string {
  if (!/^[a-z0-9_]+(\.[a-z0-9_-]+)+$/.test(name)) throw new Error(`bad sysctl name ${name}`);
  return join('/proc/sys', ...name.split('.'));
}

/** The name of the network namespace this process runs in, when it is one of /run/netns (else null). */
export function currentNetnsName(netnsDir = '/run/netns'): string | null {
  let self;
  try {
    self = statSync('/proc/self/ns/net');
  } catch {
    return null;
  }
  let names: string[];
  try {
    names = readdirSync(netnsDir);
  } catch {
    return null;
  }
  for (const name of names.sort()) {
    try {
      const st = statSync(join(netnsDir, name));
      if (st.ino === self.ino && st.dev === self.dev) return name;
    } catch {
      // a namespace being deleted: skip it
    }
  }
  return null;
}

/** An existing route a new one would shadow or be shadowed by: `10.124.0.0/16 dev eth0`. */
export interface RouteConflict {
  readonly route: string;
  readonly overlaps: string;
  /** The device of the existing route, when it has one. */
  readonly dev?: string;
}

/** How split DNS was set up, for the log and the status. */
export type SplitDnsMethod =
  | { kind: 'resolvectl' }
  | { kind: 'netns-resolv-conf'; path: string }
  | { kind: 'manual'; instructions: string };

export interface NetConfigOptions {
  run?: CommandRunner;
  /** Where named namespaces' /etc overrides live (default /etc/netns). */
  netnsEtcDir?: string;
  /** Where `ip netns` keeps its namespaces (default /run/netns). */
  netnsDir?: string;
}

/** The host configuration around one interface, with everything lasting recorded on `undo`. */
export class NetConfig {
  readonly undo = new UndoStack();
  private readonly run: CommandRunner;
  private readonly netnsEtcDir: string;
  private readonly netnsDir: string;

  constructor(readonly ifname: string, opts: NetConfigOptions = {}) {
    this.run = opts.run ?? runCommand;
    this.netnsEtcDir = opts.netnsEtcDir ?? '/etc/netns';
    this.netnsDir = opts.netnsDir ?? '/run/netns';
  }

  /** The comment that tags this interface's iptables rules (the interface and this process). */
  get ruleTag(): string {
    return ruleTag(this.ifname);
  }

  // ------------------------------------------------------------ link, addresses, routes

  /** `ip address add CIDR dev IF` (host bits kept: 10.123.0.1/24). */
  async addAddress(cidr: string): Promise<void> {
    await this.run('ip', [cidr.includes(':') ? '-6' : '-4', 'address', 'add', cidr, 'dev', this.ifname, ...(cidr.includes(':') ? ['nodad'] : [])]);
  }

  async setMtu(mtu: number): Promise<void> {
    await this.run('ip', ['link', 'set', 'dev', this.ifname, 'mtu', String(mtu)]);
  }

  async linkUp(): Promise<void> {
    await this.run('ip', ['link', 'set', 'dev', this.ifname, 'up']);
  }

  /** `ip route add CIDR dev IF`: fails when the same route exists (never replaces another one). */
  async addRoute(cidr: string): Promise<void> {
    await this.run('ip', [cidr.includes(':') ? '-6' : '-4', 'route', 'add', cidr, 'dev', this.ifname]);
  }

  /**
   * Routes of the main table, other than this interface's and the default route, that overlap one
   * of `cidrs` (contain it or lie inside it): adding `cidrs` would shadow them or be shadowed by
   * them (the laptop's LAN, a Docker network, a VPN).
   */
  async routeConflicts(cidrs: readonly string[]): Promise<RouteConflict[]> {
    const out: RouteConflict[] = [];
    for (const family of [4, 6] as const) {
      const mine = cidrs.filter((c) => c.includes(':') === (family === 6));
      if (mine.length === 0) continue;
      const text = await this.run('ip', [`-${family}`, '-j', 'route', 'show', 'table', 'main']);
      for (const r of parseRoutes(text, family)) {
        if (r.dev === this.ifname || r.cidr.prefix === 0) continue;
        if (family === 6 && (r.cidr.address.startsWith('fe80:') || r.cidr.address.startsWith('ff'))) continue;
        for (const c of mine) {
          const p = parseCidr(c, { prefixOptional: true, hostBits: 'mask' });
          if (p.ok && cidrsOverlap(p.value.cidr, r.cidr)) out.push(r.dev === undefined ? { route: c, overlaps: r.text } : { route: c, overlaps: r.text, dev: r.dev });
        }
      }
    }
    return out;
  }

  /** `ip route del CIDR dev IF`. */
  async deleteRoute(cidr: string): Promise<void> {
    await this.run('ip', [cidr.includes(':') ? '-6' : '-4', 'route', 'del', cidr, 'dev', this.ifname]);
  }

  // ------------------------------------------------------------ sysctl

  /**
   * Sets a sysctl of this namespace; with `restore` the previous value comes back on unwind (and
   * on exit after an uncaught exception). Returns the previous value when it changed, else null.
   */
  async setSysctl(name: string, value: string, restore: boolean): Promise<string | null> {
    const path = sysctlPath(name);
    const before = (await fsp.readFile(path, 'utf8')).trim();
    if (before === value) return null;
    await fsp.writeFile(path, `${value}\n`);
    const key = `sysctl:${name}`;
    if (restore && !this.undo.has(key)) this.undo.push(key, () => fsp.writeFile(path, `${before}\n`), () => writeFileSync(path, `${before}\n`));
    return before;
  }

  // ------------------------------------------------------------ host firewall

  /** Adds a tagged iptables rule (see iptables.ts); it is deleted on unwind, or early by removeRule. */
  async addRule(r: FirewallRule): Promise<void> {
    const key = ruleKey(r);
    if (this.undo.has(key)) return;
    const cmd = iptablesCommand(r.family);
    const tag = this.ruleTag;
    await this.run(cmd, ruleArgs(r, tag, 'add'));
    this.undo.push(key, async () => { await this.run(cmd, ruleArgs(r, tag, 'delete')); }, () => runCommandSync(cmd, ruleArgs(r, tag, 'delete')));
  }

  /** Deletes a rule added by addRule (no longer in the config). */
  async removeRule(r: FirewallRule): Promise<void> {
    await this.undo.take(ruleKey(r));
  }

  // ------------------------------------------------------------ split DNS

  /**
   * Points lookups of `domains` (all names when empty) at `servers`, through systemd-resolved
   * when it runs, else through the resolv.conf of the named namespace this process runs in;
   * otherwise nothing is changed and the method carries instructions. Undone on unwind.
   */
  async setSplitDns(servers: readonly string[], domains: readonly string[]): Promise<SplitDnsMethod> {
    // A named network namespace first: there, resolvectl would talk to the HOST's resolver (its
    // D-Bus is shared) about an interface index that means something else on the host.
    const ns = currentNetnsName(this.netnsDir);
    if (ns !== null) {
      const path = join(this.netnsEtcDir, ns, 'resolv.conf');
      // One resolv.conf cannot send each domain to its own server (glibc asks the first one for
      // everything): while another wgts up of this namespace owns it, it is left alone.
      const owner = resolvConfOwner(await fsp.readFile(path, 'utf8').catch(() => ''));
      if (owner !== null && owner.ifname !== this.ifname && processAlive(owner.pid)) {
        return {
          kind: 'manual',
          instructions: `DNS left unchanged: ${path} serves ${owner.ifname} (wgts up, pid ${owner.pid}), and one resolv.conf cannot send each domain to its own DNS server; `
            + `names${domains.length ? ` under ${domains.join(', ')}` : ''} of ${this.ifname} resolve at ${servers.join(', ')} (e.g. dig @${servers[0] ?? '?'} NAME) or through systemd-resolved, where each tunnel gets its own DNS and domains`,
        };
      }
      await this.replaceFile(path, resolvConf(servers, domains, this.ifname), 'dns:resolv.conf');
      return { kind: 'netns-resolv-conf', path };
    }
    if (await this.resolvedRuns()) {
      await this.run('resolvectl', ['dns', this.ifname, ...servers]);
      this.undo.push('dns:resolvectl', async () => { await this.run('resolvectl', ['revert', this.ifname]); }, () => runCommandSync('resolvectl', ['revert', this.ifname]));
      if (domains.length > 0) {
        // Search domains (not only routing-only `~domain`): `app` is tried as `app.zerops`, and
        // names under them go to this link. Not the default route: every other name keeps going
        // to the laptop's own DNS. Without domains the link stays a default route, as with
        // wg-quick, where the tunnel's DNS then answers everything.
        await this.run('resolvectl', ['domain', this.ifname, ...domains]);
        await this.run('resolvectl', ['default-route', this.ifname, 'false']);
      }
      return { kind: 'resolvectl' };
    }
    const lines = servers.map((s) => `nameserver ${s}`);
    if (domains.length > 0) lines.push(`search ${domains.join(' ')}`);
    return {
      kind: 'manual',
      instructions: `no systemd-resolved and not in a named network namespace: DNS left unchanged; to use the tunnel's DNS put\n  ${lines.join('\n  ')}\ninto /etc/resolv.conf (or your resolver's configuration)`,
    };
  }

  private async resolvedRuns(): Promise<boolean> {
    try {
      await this.run('resolvectl', ['status']);
      return true;
    } catch {
      return false;
    }
  }

  /**
   * Writes `content` to `path` (0644, atomically); unwind puts back what was there before: the old
   * content and mode, or no file, removing the directories again that were created for it.
   */
  private async replaceFile(path: string, content: string, key: string): Promise<void> {
    const dir = dirname(path);
    let backup: { content: Buffer; mode: number } | null = null;
    try {
      const st = await fsp.stat(path);
      backup = { content: await fsp.readFile(path), mode: st.mode & 0o7777 };
    } catch (e) {
      if (errorCode(e) !== 'ENOENT') throw e;
    }
    // The first directory mkdir created (e.g. /etc/netns when it did not exist), if any.
    const created = await fsp.mkdir(dir, { recursive: true, mode: 0o755 });
    await writeFileAtomic(path, content, 0o644);
    // Synchronous: it runs from the 'exit' handler too, and then the async unwind has nothing to wait for.
    const restore = (): void => {
      if (backup) {
        writeFileAtomicSync(path, backup.content, backup.mode);
        return;
      }
      rmSync(path, { force: true });
      if (created === undefined) return;
      // Remove the directories created for the file again, innermost first, while empty.
      for (let d = dir; d.length >= created.length; d = dirname(d)) {
        try {
          rmdirSync(d);
        } catch {
          break;
        }
      }
    };
    this.undo.push(key, restore, restore);
  }
}

/** resolv.conf text for `servers` and search `domains`, marked as written by the wgts up of `ifname`. */
export function resolvConf(servers: readonly string[], domains: readonly string[], ifname = '', pid = process.pid): string {
  let out = ifname === ''
    ? '# written by wgts up; restored when the interface goes down\n'
    : `# written by wgts up of ${ifname} (pid ${pid}); restored when the interface goes down\n`;
  for (const s of servers) out += `nameserver ${s}\n`;
  if (domains.length > 0) out += `search ${domains.join(' ')}\n`;
  return out;
}

/** The wgts up that wrote a resolv.conf (its first line), or null. */
export function resolvConfOwner(text: string): { ifname: string; pid: number } | null {
  const m = /^# written by wgts up of (\S+) \(pid ([0-9]+)\);/.exec(text);
  return m ? { ifname: m[1] as string, pid: Number(m[2]) } : null;
}

/** A route of `ip -j route show`: its destination prefix and its text for messages. */
interface ListedRoute {
  cidr: Cidr;
  dev: string | undefined;
  text: string;
}

/** The objects of a JSON array as `ip -j` prints it (empty output, not JSON or not an array: none). */
export function jsonRows(json: string): Record<string, unknown>[] {
  let rows: unknown;
  try {
    rows = JSON.parse(json === '' ? '[]' : json);
  } catch {
    return [];
  }
  return Array.isArray(rows) ? rows.filter((r): r is Record<string, unknown> => typeof r === 'object' && r !== null) : [];
}

/** The routes of `ip -FAMILY -j route show` output (default routes have prefix 0). */
export function parseRoutes(json: string, family: 4 | 6): ListedRoute[] {
  const out: ListedRoute[] = [];
  for (const row of jsonRows(json)) {
    const dst = typeof row.dst === 'string' ? row.dst : '';
    const dev = typeof row.dev === 'string' ? row.dev : undefined;
    const type = typeof row.type === 'string' ? `${row.type} ` : '';
    const text = dst === 'default' ? (family === 4 ? '0.0.0.0/0' : '::/0') : dst;
    const p = parseCidr(text, { prefixOptional: true, hostBits: 'mask' });
    if (!p.ok) continue;
    const proto = typeof row.protocol === 'string' ? ` proto ${row.protocol}` : '';
    out.push({ cidr: p.value.cidr, dev, text: `${type}${formatCidr(p.value.cidr)}${dev ? ` dev ${dev}` : ''}${proto}` });
  }
  return out;
}

/** Whether two prefixes of one family share an address (one contains the other). */
export function cidrsOverlap(a: Cidr, b: Cidr): boolean {
  if (a.family !== b.family) return false;
  const bits = Math.min(a.prefix, b.prefix);
  const x = parseCidr(`${a.address}/${bits}`, { prefixOptional: false, hostBits: 'mask' });
  const y = parseCidr(`${b.address}/${bits}`, { prefixOptional: false, hostBits: 'mask' });
  return x.ok && y.ok && x.value.cidr.address === y.value.cidr.address;
}

function errorCode(e: unknown): string | undefined {
  return typeof e === 'object' && e !== null && 'code' in e ? String((e as { code: unknown }).code) : undefined;
}

