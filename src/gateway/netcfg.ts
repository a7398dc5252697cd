// The host-side configuration `wgts up` performs around a running interface: addresses, MTU, link
// state and routes (`ip`), forwarding sysctls (/proc/sys of the current network namespace),
// masquerade rules (`iptables -t nat`, tagged with a comment naming the interface) and split DNS
// (`resolvectl`: search domains and no default DNS route; or /etc/netns/NAME/resolv.conf inside a
// named namespace).
//
// Every change that outlives the TUN device is recorded on an UndoStack together with how to take
// it back, so that exit (signal, `wgts down`, TUN deleted) restores the host as it was. Addresses,
// MTU, link state and routes of the TUN are not recorded: the kernel drops them with the device,
// which is always deleted on exit.
//
// iptables: this machine's `iptables` is iptables-nft (1.8.9, nf_tables backend), and both the nft
// and the legacy variants work inside a network namespace; rules go into the namespace the process
// runs in. We call plain `iptables` / `ip6tables` so the system's alternative is used.
import { execFile } from 'node:child_process';
import { promises as fsp, readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';

/** Runs a program with arguments and resolves with its stdout; rejects with a message holding stderr. */
export type CommandRunner = (cmd: string, args: readonly string[], input?: string) => Promise<string>;

/** How long one external command may take (ms). */
const COMMAND_TIMEOUT_MS = 10_000;

/** The default CommandRunner: execFile with a time limit, no shell. */
export const runCommand: CommandRunner = (cmd, args, input) => new Promise((resolve, reject) => {
  const child = execFile(cmd, [...args], { timeout: COMMAND_TIMEOUT_MS, encoding: 'utf8' }, (err, stdout, stderr) => {
    if (err) reject(new Error(`${cmd} ${args.join(' ')}: ${stderr.trim() || err.message}`));
    else resolve(stdout);
  });
  if (input !== undefined) child.stdin?.end(input);
});

/** One recorded change: a key naming it (for taking it back early) and how to undo it. */
interface UndoEntry {
  readonly key: string;
  readonly undo: () => Promise<void> | void;
}

/**
 * Changes to take back, newest first. Entries are keyed so one change can be undone early (a
 * masquerade rule whose network left the config) without disturbing the others.
 */
export class UndoStack {
  private readonly entries: UndoEntry[] = [];

  /** Records how to undo the change `key` (keys are unique; a second push of a key is a bug). */
  push(key: string, undo: () => Promise<void> | void): void {
    if (this.has(key)) throw new Error(`undo entry ${key} recorded twice`);
    this.entries.push({ key, undo });
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

/** A masquerade rule: traffic from `source` (the tunnel subnet) to `dest` (a project network). */
export interface MasqueradeRule {
  readonly family: 4 | 6;
  /** CIDR text, host bits clear. */
  readonly source: string;
  readonly dest: string;
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

  /** The comment that tags this interface's iptables rules. */
  get ruleTag(): string {
    return `wgts:${this.ifname}`;
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

  /** `ip route replace CIDR dev IF`. */
  async replaceRoute(cidr: string): Promise<void> {
    await this.run('ip', [cidr.includes(':') ? '-6' : '-4', 'route', 'replace', cidr, 'dev', this.ifname]);
  }

  /** `ip route del CIDR dev IF`. */
  async deleteRoute(cidr: string): Promise<void> {
    await this.run('ip', [cidr.includes(':') ? '-6' : '-4', 'route', 'del', cidr, 'dev', this.ifname]);
  }

  // ------------------------------------------------------------ sysctl

  /** Sets a sysctl of this namespace; the previous value comes back on unwind. */
  async setSysctl(name: string, value: string): Promise<void> {
    const path = sysctlPath(name);
    const before = (await fsp.readFile(path, 'utf8')).trim();
    if (before === value) return;
    await fsp.writeFile(path, `${value}\n`);
    const key = `sysctl:${name}`;
    if (!this.undo.has(key)) this.undo.push(key, () => fsp.writeFile(path, `${before}\n`));
  }

  // ------------------------------------------------------------ masquerade

  private iptables(family: 4 | 6): string {
    return family === 4 ? 'iptables' : 'ip6tables';
  }

  private ruleArgs(r: MasqueradeRule): string[] {
    return ['POSTROUTING', '-s', r.source, '-d', r.dest, '-m', 'comment', '--comment', this.ruleTag, '-j', 'MASQUERADE'];
  }

  static ruleKey(r: MasqueradeRule): string {
    return `masquerade:${r.source}->${r.dest}`;
  }

  /** Adds a masquerade rule tagged with ruleTag; it is deleted on unwind (or by removeMasquerade). */
  async addMasquerade(r: MasqueradeRule): Promise<void> {
    const key = NetConfig.ruleKey(r);
    if (this.undo.has(key)) return;
    const cmd = this.iptables(r.family);
    await this.run(cmd, ['-w', '5', '-t', 'nat', '-A', ...this.ruleArgs(r)]);
    this.undo.push(key, async () => { await this.run(cmd, ['-w', '5', '-t', 'nat', '-D', ...this.ruleArgs(r)]); });
  }

  /** Deletes a rule added by addMasquerade (a network left the config). */
  async removeMasquerade(r: MasqueradeRule): Promise<void> {
    await this.undo.take(NetConfig.ruleKey(r));
  }

  /**
   * Deletes NAT rules tagged with this interface's comment that an earlier `wgts up` left behind
   * (killed with SIGKILL, so it could not clean up). Returns how many were deleted.
   */
  async removeStaleRules(families: readonly (4 | 6)[]): Promise<number> {
    let n = 0;
    for (const family of families) {
      const cmd = this.iptables(family);
      const listing = await this.run(cmd, ['-w', '5', '-t', 'nat', '-S', 'POSTROUTING']);
      for (const line of listing.split('\n')) {
        if (!line.startsWith('-A POSTROUTING ') || !tagOf(line, this.ruleTag)) continue;
        const args = splitRule(line.slice(3));
        await this.run(cmd, ['-w', '5', '-t', 'nat', '-D', ...args]);
        n++;
      }
    }
    return n;
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
      await this.replaceFile(path, resolvConf(servers, domains), 'dns:resolv.conf');
      return { kind: 'netns-resolv-conf', path };
    }
    if (await this.resolvedRuns()) {
      await this.run('resolvectl', ['dns', this.ifname, ...servers]);
      this.undo.push('dns:resolvectl', async () => { await this.run('resolvectl', ['revert', this.ifname]); });
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
    await writeReplacing(path, content, 0o644);
    this.undo.push(key, async () => {
      if (backup) {
        await writeReplacing(path, backup.content, backup.mode);
        return;
      }
      await fsp.rm(path, { force: true });
      if (created === undefined) return;
      // Remove the directories created for the file again, innermost first, while empty.
      for (let d = dir; d.length >= created.length; d = dirname(d)) {
        if (!(await fsp.rmdir(d).then(() => true, () => false))) break;
      }
    });
  }
}

/** resolv.conf text for `servers` and search `domains`. */
export function resolvConf(servers: readonly string[], domains: readonly string[]): string {
  let out = '# written by wgts up; restored when the interface goes down\n';
  for (const s of servers) out += `nameserver ${s}\n`;
  if (domains.length > 0) out += `search ${domains.join(' ')}\n`;
  return out;
}

/** Writes a file through a temp file + rename, so readers see the old or the new content. */
async function writeReplacing(path: string, data: string | Buffer, mode: number): Promise<void> {
  const tmp = `${path}.wgts-${process.pid}.tmp`;
  await fsp.writeFile(tmp, data, { mode });
  await fsp.chmod(tmp, mode);
  await fsp.rename(tmp, path);
}

function errorCode(e: unknown): string | undefined {
  return typeof e === 'object' && e !== null && 'code' in e ? String((e as { code: unknown }).code) : undefined;
}

/** Whether an `iptables -S` rule line carries `--comment TAG` (iptables prints it quoted or not). */
function tagOf(line: string, tag: string): boolean {
  return line.includes(`--comment "${tag}"`) || line.includes(`--comment ${tag} `) || line.endsWith(`--comment ${tag}`);
}

/** Splits an `iptables -S` rule into arguments (double-quoted words kept together, quotes removed). */
export function splitRule(rule: string): string[] {
  const out: string[] = [];
  const re = /"((?:[^"\\]|\\.)*)"|(\S+)/g;
  for (let m = re.exec(rule); m !== null; m = re.exec(rule)) out.push(m[1] !== undefined ? m[1].replace(/\\(.)/g, '$1') : (m[2] as string));
  return out;
}
