// `wgts doctor`, the host's side: the config file (it parses and `wgts up` accepts it; who may read
// or replace it), the running process (here, elsewhere, its last reload), the firewall tools, IP
// forwarding, and the host firewall rules a gateway needs, the same ones `wgts up` inserts
// (plan.ts firewallRulesFor, tagged `wgts:IF:PID`): checked one by one with `iptables -C` while it
// runs, and the chains' policies and other nftables tables that would drop the tunnel's packets
// whether it runs or not.
import { promises as fsp } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { formatCidr } from '../../config/ip.js';
import { droppingChains, forwardBlockerFix, iptablesCommand, missingIptables, ruleArgs, ruleTag, type FirewallRule } from '../iptables.js';
import { which } from '../lab-ns.js';
import { dnsExemptionsOf, exposedMode, firewallRulesFor, forwardingSysctls, masqueradeRulesFor } from '../plan.js';
import { listenFamilies } from '../runtime.js';
import type { DoctorContext } from './context.js';
import { readSysctl, routeGet } from './probe.js';
import { fail, pass, skip, type CheckResult } from './report.js';

/** How to restart what wgts up runs: the service when there is one, else by hand. */
export function restartHint(ctx: DoctorContext): string {
  return `restart it: systemctl restart wgts@${ctx.ifname} (or wgts down ${ctx.ifname}; wgts up ${ctx.file})`;
}

export function configCheck(ctx: DoctorContext): CheckResult {
  const title = 'config file';
  if (ctx.problems.length > 0) {
    const more = ctx.problems.length > 1 ? ` (+${ctx.problems.length - 1} more)` : '';
    return fail('config', title, `${ctx.problems[0] ?? ''}${more}`, 'correct the file at the lines named (wgts up refuses it as it is)');
  }
  const c = ctx.config;
  if (c === null) return fail('config', title, `${ctx.file} cannot be used`, 'correct the file');
  const nets = c.gateway ? `, ${c.gateway.networks.length} network(s)` : '';
  return pass('config', title, `${c.gateway ? 'gateway' : 'laptop'} config, ${c.peers.length} peer(s)${nets}; wgts up accepts it`);
}

/** Group and world bits of a file that holds a key, and a directory others may write to. */
export async function permissionsCheck(ctx: DoctorContext): Promise<CheckResult> {
  const title = 'config file permissions';
  const st = await fsp.stat(ctx.file).catch(() => null);
  if (st === null) return skip('permissions', title, `${ctx.file} cannot be read`);
  const mode = (st.mode & 0o777).toString(8).padStart(4, '0');
  const exposed = ctx.text !== null && /^\s*PrivateKey\s*=/im.test(ctx.text) ? await exposedMode(ctx.file) : null;
  if (exposed !== null) return fail('permissions', title, exposed.replace(/; run: .*$/, ''), `chmod 600 ${ctx.file}`);
  const dir = dirname(ctx.file);
  const d = await fsp.stat(dir).catch(() => null);
  if (d !== null && (d.mode & 0o022) !== 0 && (d.mode & 0o1000) === 0) {
    const who = (d.mode & 0o002) !== 0 ? 'every user' : 'its group';
    return fail('permissions', title, `${dir} is writable by ${who} (mode ${(d.mode & 0o777).toString(8).padStart(4, '0')}): they can replace the config, which a running wgts up applies`,
      `chmod go-w ${dir}`);
  }
  return pass('permissions', title, `mode ${mode}, owner uid ${st.uid}; ${dir} writable by its owner only`);
}

/** Where the running interface comes from: here, another namespace, another file; its last reload. */
export function runningCheck(ctx: DoctorContext): CheckResult {
  const title = 'running interface';
  if (ctx.elsewhere) {
    const where = ctx.elsewhere.netns ? `network namespace ${ctx.elsewhere.netns}` : 'another network namespace';
    return fail('running', title, `wgts up of ${ctx.ifname} runs in ${where} (pid ${ctx.elsewhere.pid}): the checks here see another network`,
      ctx.elsewhere.netns ? `ip netns exec ${ctx.elsewhere.netns} wgts doctor ${ctx.file}` : `run the doctor in the namespace of pid ${ctx.elsewhere.pid} (nsenter -t ${ctx.elsewhere.pid} -n wgts doctor ${ctx.file})`);
  }
  const r = ctx.running;
  if (r === null) return skip('running', title, `${ctx.ifname} is not running here; checks that need it are skipped`, true);
  const file = resolve(ctx.file);
  if (r.status.config !== file) {
    return fail('running', title, `${ctx.ifname} runs ${r.status.config} (pid ${r.pid}), not ${file}`, `wgts doctor ${r.status.config}`, true);
  }
  const reload = r.status.reload;
  if (reload && !reload.ok) {
    return fail('running', title, `pid ${r.pid}; the last reload of the file FAILED (${reload.attempts} attempt(s)): ${reload.errors[0] ?? ''}`,
      `correct the file; wgts reload ${ctx.ifname} shows the outcome`, true);
  }
  return pass('running', title, `pid ${r.pid}, runs this file; the last reload succeeded`, true);
}

/** iptables (and ip6tables where the config has IPv6) present and readable; nft noted. */
export async function toolsCheck(ctx: DoctorContext): Promise<CheckResult> {
  const title = 'iptables / nftables';
  const c = ctx.config;
  if (!c?.gateway) return skip('tools', title, c ? 'a laptop sets no firewall rules' : 'needs a config that parses');
  const families = gatewayFamilies(ctx);
  const missing = missingIptables(families);
  if (missing !== null) return fail('tools', title, missing.replace(/ Install .*$/, ''), 'apt-get install iptables (nftables-only hosts: it provides iptables-nft)');
  for (const f of families) {
    const cmd = iptablesCommand(f);
    try {
      await ctx.run(cmd, ['-w', '5', '-S', 'FORWARD']);
    } catch (e) {
      return fail('tools', title, `${cmd} cannot read the rules: ${errorText(e)}`, 'run wgts doctor as root (and check that the kernel has nf_tables or ip_tables)');
    }
  }
  const version = (await ctx.run('iptables', ['-V']).catch(() => 'iptables')).trim();
  const nft = which('nft') !== null ? 'nft present: other nftables tables are checked too' : 'no nft (other nftables tables cannot be checked)';
  return pass('tools', title, `${version}${families.includes(6) ? ', ip6tables' : ''}; ${nft}`);
}

function gatewayFamilies(ctx: DoctorContext): (4 | 6)[] {
  const c = ctx.config;
  if (!c) return [4];
  return [...new Set([...(c.gateway?.networks ?? []).map((n) => n.family), ...c.interface.addresses.map((a) => a.family)])].sort();
}

/** net.ipv4.ip_forward / ipv6 forwarding, globally and on the tunnel and the project interfaces. */
export async function forwardingCheck(ctx: DoctorContext): Promise<CheckResult> {
  const title = 'IP forwarding';
  const c = ctx.config;
  if (!c?.gateway) return skip('forwarding', title, c ? 'a laptop forwards nothing' : 'needs a config that parses');
  const off: string[] = [];
  const on: string[] = [];
  let globalOff = false;
  for (const [name] of forwardingSysctls(c)) {
    const v = await readSysctl(name);
    if (v === '1') on.push(name);
    else { off.push(`${name} = ${v ?? 'missing'}`); globalOff = true; }
  }
  // Per interface: the tunnel and each project network's interface (ip_forward=1 sets them all
  // when written, but one set to 0 later stays 0, and wgts up does not write an ip_forward already 1).
  const devs = new Map<string, Set<4 | 6>>();
  const add = (dev: string, family: 4 | 6): void => { devs.set(dev, new Set([...(devs.get(dev) ?? []), family])); };
  for (const n of c.gateway.networks) {
    const r = await routeGet(ctx.run, n.address);
    if (r?.dev && r.type === 'unicast') add(r.dev, n.family);
    if (ctx.running) add(ctx.ifname, n.family);
  }
  for (const [dev, families] of devs) {
    for (const f of families) {
      const name = `net.ipv${f}.conf.${dev}.forwarding`;
      const v = await fsp.readFile(`/proc/sys/net/ipv${f}/conf/${dev}/forwarding`, 'utf8').then((t) => t.trim()).catch(() => null);
      if (v === null) continue;
      if (v === '1') on.push(name);
      else off.push(`${name} = ${v}`);
    }
  }
  if (off.length === 0) return pass('forwarding', title, `on (${on.join(', ')})`);
  // Stopped with forwarding off globally: wgts up writes the global switch, which the kernel
  // copies to every interface's own, so those being off too is no problem yet.
  if (!ctx.running && globalOff) {
    return pass('forwarding', title, `off now (${off.join(', ')}); wgts up turns it on at start and leaves it on`);
  }
  const fix = off.map((o) => `sysctl -w ${o.replace(/ = .*$/, '')}=1`).join('; ');
  return fail('forwarding', title, `off: ${off.join(', ')}: the gateway cannot forward between the tunnel and the project networks`, fix);
}

/** Missing rules among `rules` (checked with iptables -C under the running process's tag). */
async function missingRules(ctx: DoctorContext, rules: readonly FirewallRule[], pid: number): Promise<FirewallRule[]> {
  const tag = ruleTag(ctx.ifname, pid);
  const out: FirewallRule[] = [];
  for (const r of rules) {
    try {
      await ctx.run(iptablesCommand(r.family), ruleArgs(r, tag, 'check'));
    } catch {
      out.push(r);
    }
  }
  return out;
}

const ruleText = (r: FirewallRule): string => `${iptablesCommand(r.family)} -t ${r.table} -A ${r.chain} ${r.spec.join(' ')}`;

/** The rules `wgts up` puts in place for this config. */
function wantedRules(ctx: DoctorContext): FirewallRule[] {
  const c = ctx.config;
  if (!c) return [];
  return firewallRulesFor(c, ctx.ifname, dnsExemptionsOf(c), listenFamilies(c));
}

/** A chain's policy and, for a running gateway, whether a drop comes before the first wgts rule. */
async function chainState(ctx: DoctorContext, family: 4 | 6, table: string, chain: string, pid: number | null): Promise<{ policy: string; dropFirst: string | null }> {
  const text = await ctx.run(iptablesCommand(family), ['-w', '5', '-t', table, '-S', chain]);
  const lines = text.split('\n');
  const policy = /^-P \S+ (\S+)/m.exec(text)?.[1] ?? '-';
  let dropFirst: string | null = null;
  if (pid !== null) {
    const tag = `wgts:${ctx.ifname}:${pid}`;
    for (const l of lines) {
      if (!l.startsWith('-A ')) continue;
      if (l.includes(tag)) break;
      if (/ -j (DROP|REJECT)\b/.test(l)) { dropFirst = l; break; }
    }
  }
  return { policy, dropFirst };
}

/** The FORWARD chain: policy, other nftables tables, and (running) the accepts wgts needs, first. */
export async function forwardRulesCheck(ctx: DoctorContext): Promise<CheckResult> {
  const title = 'FORWARD chain';
  const c = ctx.config;
  if (!c?.gateway) return skip('forward-rules', title, c ? 'a laptop forwards nothing' : 'needs a config that parses');
  if (which('nft') !== null) {
    const ruleset = await ctx.run('nft', ['-j', 'list', 'ruleset']).catch(() => '');
    const blocker = droppingChains(ruleset, 'forward', (expr) => expr.includes(`"${ctx.ifname}"`))[0];
    if (blocker) {
      return fail('forward-rules', title, `the nftables chain '${blocker.chain}' of table '${blocker.table}' (hook forward) drops forwarded packets by default and never mentions ${ctx.ifname}; iptables rules cannot override it`,
        forwardBlockerFix(blocker.table, blocker.chain, ctx.ifname));
    }
  }
  const pid = ctx.running?.pid ?? null;
  const policies: string[] = [];
  for (const f of [...new Set(c.gateway.networks.map((n) => n.family))]) {
    let st;
    try {
      st = await chainState(ctx, f, 'filter', 'FORWARD', pid);
    } catch (e) {
      return fail('forward-rules', title, `${iptablesCommand(f)} -S FORWARD: ${errorText(e)}`, 'run wgts doctor as root');
    }
    policies.push(`${iptablesCommand(f)} policy ${st.policy}`);
    if (st.dropFirst !== null) {
      return fail('forward-rules', title, `'${st.dropFirst}' comes before the accepts of wgts: the tunnel's packets are dropped there`,
        `move that rule after the wgts rules, or ${restartHint(ctx)} (its rules go first again)`, true);
    }
  }
  const wanted = wantedRules(ctx).filter((r) => r.chain === 'FORWARD');
  if (pid === null) {
    return pass('forward-rules', title, `${policies.join(', ')}; wgts up inserts ${wanted.length} accept(s) first (tunnel -> networks, replies back)`);
  }
  const missing = await missingRules(ctx, wanted, pid);
  if (missing.length > 0) {
    return fail('forward-rules', title, `missing ${missing.length} of ${wanted.length} wgts rule(s): ${missing.map(ruleText).join('; ')}`, restartHint(ctx), true);
  }
  return pass('forward-rules', title, `${policies.join(', ')}; the ${wanted.length} accept(s) of wgts are in place, before any drop`, true);
}

/** The masquerade rules (nat POSTROUTING) of the config. */
export async function masqueradeCheck(ctx: DoctorContext): Promise<CheckResult> {
  const title = 'masquerade';
  const c = ctx.config;
  if (!c?.gateway) return skip('masquerade', title, c ? 'a laptop masquerades nothing' : 'needs a config that parses');
  const subnets = c.interface.addresses.map((a) => formatCidr(a)).join(', ');
  if (!c.gateway.masquerade) {
    return pass('masquerade', title, `Masquerade = false: project hosts must route the tunnel subnet (${subnets}) back through this gateway`);
  }
  const rules = masqueradeRulesFor(c);
  for (const f of [...new Set(rules.map((r) => r.family))]) {
    try {
      await ctx.run(iptablesCommand(f), ['-w', '5', '-t', 'nat', '-S', 'POSTROUTING']);
    } catch (e) {
      return fail('masquerade', title, `the nat table is not usable: ${errorText(e)}`, 'load the kernel modules nf_nat / nft_masq (or iptable_nat), and run the doctor as root');
    }
  }
  const pid = ctx.running?.pid ?? null;
  if (pid === null) return pass('masquerade', title, `wgts up adds ${rules.length} rule(s): ${rules.map((r) => r.spec.slice(0, 4).join(' ')).join('; ')}`);
  const missing = await missingRules(ctx, rules, pid);
  if (missing.length > 0) return fail('masquerade', title, `missing: ${missing.map(ruleText).join('; ')}`, restartHint(ctx), true);
  return pass('masquerade', title, `${rules.length} rule(s) in place (${rules.map((r) => r.spec.slice(0, 4).join(' ')).join('; ')})`, true);
}

export function errorText(e: unknown): string {
  return (e instanceof Error ? e.message : String(e)).split('\n')[0] ?? '';
}
