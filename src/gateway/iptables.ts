// The host firewall rules of a gateway: masquerade (nat POSTROUTING), the FORWARD accepts the
// tunnel needs where the chain drops by default (Docker, ufw), and INPUT accepts for the gateway's
// DNS (ufw's default deny incoming). Every rule carries the comment `wgts:IFNAME:PID` (the
// interface and the `wgts up` process that owns it), so any later `wgts up` or `wgts down`, in the
// same network namespace, can remove what a crashed run left (its owner no longer runs) without
// touching the rules of another running wgts.
//
// iptables: this machine's `iptables` is iptables-nft (nf_tables backend); both the nft and the
// legacy variants work inside a network namespace, and rules go into the namespace the process
// runs in. Plain `iptables` / `ip6tables` are called so the system's alternative is used. A host
// without them gets a clear error before anything changes. Another nftables table whose forward
// hook drops by default (firewalld, a hand-written nftables.conf) cannot be overridden by
// iptables rules: `wgts up` then refuses to start and names the chain (forwardBlockers).
import { readFileSync, statSync } from 'node:fs';
import { processAlive } from '../config/lock.js';
import { which } from './lab-ns.js';
import type { CommandRunner } from './netcfg.js';

/** One rule: where it goes and what it matches (without the comment, which add() appends). */
export interface FirewallRule {
  readonly family: 4 | 6;
  readonly table: 'nat' | 'filter';
  readonly chain: 'POSTROUTING' | 'FORWARD' | 'INPUT';
  /** Match and target arguments, e.g. ['-i', 'gw0', '-d', '10.124.0.0/24', '-j', 'ACCEPT']. */
  readonly spec: readonly string[];
}

/** The chains wgts adds to and sweeps. */
export const WGTS_CHAINS: readonly { table: FirewallRule['table']; chain: FirewallRule['chain'] }[] = [
  { table: 'nat', chain: 'POSTROUTING' },
  { table: 'filter', chain: 'FORWARD' },
  { table: 'filter', chain: 'INPUT' },
];

/** Identity of a rule, for keeping sets of them in sync. */
export function ruleKey(r: FirewallRule): string {
  return `iptables:${r.family}:${r.table}:${r.chain}:${r.spec.join(' ')}`;
}

/** The comment of the rules of `ifname` owned by process `pid`. */
export function ruleTag(ifname: string, pid: number = process.pid): string {
  return `wgts:${ifname}:${pid}`;
}

/** The interface and owner of a wgts comment (`wgts:IF:PID`, or `wgts:IF` of older versions), else null. */
export function parseTag(comment: string): { ifname: string; pid: number | null } | null {
  const m = /^wgts:([A-Za-z0-9_=+.-]{1,15})(?::([0-9]+))?$/.exec(comment);
  return m ? { ifname: m[1], pid: m[2] === undefined ? null : Number(m[2]) } : null;
}

/** The program for a family. */
export function iptablesCommand(family: 4 | 6): 'iptables' | 'ip6tables' {
  return family === 4 ? 'iptables' : 'ip6tables';
}

/**
 * Arguments that add (`-I CHAIN 1` for filter chains, so they come before a drop; `-A` in nat),
 * delete or check (`-C`: exit 0 when the rule is there) a rule.
 */
export function ruleArgs(r: FirewallRule, tag: string, op: 'add' | 'delete' | 'check'): string[] {
  const where = op === 'delete' ? ['-D', r.chain] : op === 'check' ? ['-C', r.chain] : r.table === 'filter' ? ['-I', r.chain, '1'] : ['-A', r.chain];
  return ['-w', '5', '-t', r.table, ...where, ...r.spec, '-m', 'comment', '--comment', tag];
}

/** Splits an `iptables -S` rule into arguments (double-quoted words kept together, quotes removed). */
export function splitRule(rule: string): string[] {
  const out: string[] = [];
  const re = /"((?:[^"\\]|\\.)*)"|(\S+)/g;
  for (let m = re.exec(rule); m !== null; m = re.exec(rule)) out.push(m[1] !== undefined ? m[1].replace(/\\(.)/g, '$1') : (m[2] as string));
  return out;
}

/** The `--comment` of an `iptables -S` line (split), or null. */
export function commentOf(args: readonly string[]): string | null {
  const i = args.indexOf('--comment');
  return i >= 0 && i + 1 < args.length ? (args[i + 1] as string) : null;
}

/**
 * Why a gateway cannot set up its rules here, or null: `iptables` (and `ip6tables` for IPv6
 * networks) must be on the PATH. nftables-only hosts are served through iptables-nft, which the
 * Debian package iptables provides.
 */
export function missingIptables(families: readonly (4 | 6)[], path = process.env.PATH ?? ''): string | null {
  const missing = [...new Set(families)].map(iptablesCommand).filter((c) => which(c, path) === null);
  if (missing.length === 0) return null;
  return `${missing.join(' and ')} not found (PATH=${path}): a gateway needs it for masquerade and its FORWARD/INPUT accept rules. `
    + 'Install the Debian/Ubuntu package iptables (on nftables-only hosts it provides iptables-nft, which writes nftables rules).';
}

/**
 * Whether `pid` is a running wgts process in this network namespace (so the rules it tagged are
 * its own). When its namespace cannot be read (EACCES: this process runs with fewer capabilities
 * than the owner, as in the sandbox of wgts@.service, and may not look at its /proc/PID/ns), it
 * counts as running here: a rule of a live process is never swept on a guess.
 */
export function ownerRunsHere(pid: number): boolean {
  if (pid === process.pid) return true;
  if (!processAlive(pid)) return false;
  try {
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    if (!cmdline.includes('wgts')) return false;
    const theirs = statSync(`/proc/${pid}/ns/net`);
    const ours = statSync('/proc/self/ns/net');
    return theirs.ino === ours.ino && theirs.dev === ours.dev;
  } catch (e) {
    return typeof e === 'object' && e !== null && 'code' in e && (e.code === 'EACCES' || e.code === 'EPERM');
  }
}

/** What sweepStaleRules removed: rule count by interface name. */
export type SweepResult = Map<string, number>;

/**
 * Deletes every wgts-tagged rule (any interface name, IPv4 and IPv6, every chain wgts uses) whose
 * owner is not running in this namespace: owned by a pid that is gone or is not wgts, or untagged
 * by pid (older versions) with no running owner per `statusOwner(ifname)` (the pid of the
 * interface's status file, or null). Missing iptables / ip6tables are skipped.
 */
export async function sweepStaleRules(run: CommandRunner, statusOwner: (ifname: string) => number | null,
  path = process.env.PATH ?? ''): Promise<SweepResult> {
  const removed: SweepResult = new Map();
  for (const family of [4, 6] as const) {
    const cmd = iptablesCommand(family);
    if (which(cmd, path) === null) continue;
    for (const { table, chain } of WGTS_CHAINS) {
      let listing: string;
      try {
        listing = await run(cmd, ['-w', '5', '-t', table, '-S', chain]);
      } catch {
        continue; // no such table or chain here (a kernel without nat for IPv6, say)
      }
      for (const line of listing.split('\n')) {
        if (!line.startsWith(`-A ${chain} `)) continue;
        const args = splitRule(line.slice(3));
        const tag = parseTag(commentOf(args) ?? '');
        if (tag === null) continue;
        const owner = tag.pid ?? statusOwner(tag.ifname);
        if (owner !== null && ownerRunsHere(owner)) continue;
        await run(cmd, ['-w', '5', '-t', table, '-D', ...args]);
        removed.set(tag.ifname, (removed.get(tag.ifname) ?? 0) + 1);
      }
    }
  }
  return removed;
}

/** nft's JSON listing, as much of it as forwardBlockers reads. */
interface NftItem {
  chain?: { family: string; table: string; name: string; hook?: string; policy?: string };
  rule?: { family: string; table: string; chain: string; expr?: unknown[] };
}

/** Tables iptables-nft manages (its FORWARD chain is handled with iptables rules). */
const IPTABLES_NFT_TABLES = new Set(['ip filter', 'ip6 filter', 'ip nat', 'ip6 nat', 'ip mangle', 'ip6 mangle', 'ip raw', 'ip6 raw', 'ip security', 'ip6 security']);

/** A chain of another nftables table that drops what reaches its hook by default. */
interface DroppingChain {
  /** `family table`, e.g. `inet hostfw`. */
  table: string;
  chain: string;
}

/**
 * Chains on `hook` of nftables tables other than iptables-nft's that drop by default (policy drop,
 * or a last rule that drops or rejects everything) and whose table has no rule for which
 * `mentions(exprJson)` holds. `nftJson` is `nft -j list ruleset`; unreadable JSON: none.
 */
export function droppingChains(nftJson: string, hook: 'forward' | 'input', mentions: (exprJson: string) => boolean): DroppingChain[] {
  let items: NftItem[];
  try {
    const parsed = JSON.parse(nftJson) as { nftables?: NftItem[] };
    items = parsed.nftables ?? [];
  } catch {
    return [];
  }
  const out: DroppingChain[] = [];
  for (const { chain } of items) {
    if (!chain || chain.hook !== hook) continue;
    const table = `${chain.family} ${chain.table}`;
    if (IPTABLES_NFT_TABLES.has(table)) continue;
    const rules = items.flatMap((i) => (i.rule && i.rule.family === chain.family && i.rule.table === chain.table ? [i.rule] : []));
    const own = rules.filter((r) => r.chain === chain.name);
    const last = own[own.length - 1]?.expr ?? [];
    const dropsAll = chain.policy === 'drop' || (last.length === 1 && typeof last[0] === 'object' && last[0] !== null && ('drop' in last[0] || 'reject' in last[0]));
    if (!dropsAll) continue;
    if (rules.some((r) => mentions(JSON.stringify(r.expr ?? [])))) continue;
    out.push({ table, chain: chain.name });
  }
  return out;
}

/**
 * Forward-hook chains of other nftables tables (not iptables-nft's) that drop forwarded packets by
 * default and say nothing about `ifname` anywhere in their table: each as a message naming the
 * chain and the fix. `nftJson` is `nft -j list ruleset`.
 */
export function forwardBlockers(nftJson: string, ifname: string): string[] {
  return droppingChains(nftJson, 'forward', (expr) => expr.includes(`"${ifname}"`)).map(({ table, chain }) =>
    `the nftables chain '${chain}' of table '${table}' (hook forward) drops forwarded packets by default, and iptables rules cannot override another nftables table. `
    + `Let the tunnel through there, e.g. ${forwardBlockerFix(table, chain, ifname)}, then start wgts up again`);
}

/** The commands that let `ifname` through the forward chain `chain` of nftables table `table`. */
export function forwardBlockerFix(table: string, chain: string, ifname: string): string {
  return `nft insert rule ${table} ${chain} iifname "${ifname}" accept; nft insert rule ${table} ${chain} oifname "${ifname}" ct state established,related accept `
    + `(firewalld: firewall-cmd --zone=trusted --add-interface=${ifname})`;
}

/**
 * Input-hook chains of other nftables tables that drop by default and never mention UDP `port`:
 * WireGuard's datagrams to the ListenPort die there whatever iptables accepts. Each with the fix.
 */
export function inputBlockers(nftJson: string, port: number): { table: string; chain: string; fix: string }[] {
  return droppingChains(nftJson, 'input', (expr) => expr.includes('"dport"') && new RegExp(`[^0-9]${port}[^0-9]`).test(expr)).map(({ table, chain }) => ({
    table, chain, fix: `nft insert rule ${table} ${chain} udp dport ${port} accept (firewalld: firewall-cmd --permanent --add-port=${port}/udp && firewall-cmd --reload)`,
  }));
}
