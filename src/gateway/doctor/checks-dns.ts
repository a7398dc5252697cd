// `wgts doctor`, DNS: a gateway's own DNS (answering on its tunnel addresses while it runs; port
// 53 not taken on them while it does not), the resolvers it forwards other names to (each asked
// `. NS` once, as `dig @server` does), and how names reach the tunnel's DNS on a laptop (systemd-
// resolved, the namespace's resolv.conf, or nothing wgts up can set) or which resolv.conf a
// gateway follows.
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { formatHostPort } from '../../config/ip.js';
import { RESOLV_CONF, SystemResolvers } from '../dns/resolv-conf.js';
import type { GatewayConfig, WgtsConfig } from '../../config/model.js';
import { dnsServiceOf, type DnsService } from '../dns/service.js';
import { formatUpstream, parseUpstream, type UpstreamAddress } from '../dns/upstream.js';
import { currentNetnsName } from '../netcfg.js';
import { dnsExemptionsOf } from '../plan.js';
import { errorText, restartHint } from './checks-host.js';
import type { DoctorContext } from './context.js';
import { conflicts, dnsQuery, listenersOn, localAddresses } from './probe.js';
import { fail, pass, skip, type CheckResult } from './report.js';

/** RCODEs after which the gateway asks the next server: such a resolver does not serve it. */
const REFUSING = new Set(['SERVFAIL', 'REFUSED', 'NOTIMP']);

/** Where resolv.conf is, as this process sees it (inside `ip netns exec NS` the namespace's own). */
function resolvConfShown(): string {
  const ns = currentNetnsName();
  return ns !== null ? `${RESOLV_CONF} (here: /etc/netns/${ns}/resolv.conf)` : RESOLV_CONF;
}

/** A gateway config and its DNS service, or why a DNS check does not apply (`what` a laptop lacks). */
function gatewayDns(ctx: DoctorContext, id: string, title: string, what: string): { c: WgtsConfig; g: GatewayConfig; svc: DnsService } | CheckResult {
  const c = ctx.config;
  if (!c?.gateway) return skip(id, title, c ? `a laptop ${what}` : 'needs a config that parses');
  const svc = dnsServiceOf(c);
  if (svc === null) return skip(id, title, 'no tunnel Address: no DNS service');
  return { c, g: c.gateway, svc };
}

/** The gateway's DNS: answers on its tunnel addresses (running), or port 53 free there (stopped). */
export async function dnsListenerCheck(ctx: DoctorContext): Promise<CheckResult> {
  const title = 'DNS listener';
  const dns = gatewayDns(ctx, 'dns-listener', title, 'serves no DNS');
  if ('status' in dns) return dns;
  const { c, g, svc } = dns;
  const name = g.domain ? `gateway.${g.domain}` : 'gateway';
  if (ctx.running) {
    const answered: string[] = [];
    for (const t of dnsExemptionsOf(c)) {
      // From the tunnel address itself: a source inside the tunnel subnets, as laptops are.
      const r = await dnsQuery(t.address, t.port, name, 'A', { source: t.address });
      const at = formatHostPort({ host: t.address, port: t.port });
      if (!r.ok) return fail('dns-listener', title, `no answer from ${at} for ${name}: ${r.error}`, `see the log of wgts up (journalctl -u wgts@${ctx.ifname}); ${restartHint(ctx)}`, true);
      if (r.rcode !== 'NOERROR') return fail('dns-listener', title, `${at} answers ${name} with ${r.rcode}`, restartHint(ctx), true);
      answered.push(`${at} (${r.ms} ms)`);
    }
    return pass('dns-listener', title, `answers ${name} on ${answered.join(', ')}`, true);
  }
  const taken: string[] = [];
  for (const proto of ['udp', 'tcp'] as const) {
    let ls;
    try {
      ls = await listenersOn(ctx.run, proto, svc.port);
    } catch (e) {
      return fail('dns-listener', title, `ss cannot list sockets: ${errorText(e)}`, 'install iproute2 and run the doctor as root');
    }
    for (const l of ls) {
      for (const host of svc.listen) {
        if (conflicts(l, host)) taken.push(`${proto.toUpperCase()} ${svc.port} on ${l.host} by ${l.owners.join(', ') || 'another socket'} (wgts needs ${host})`);
      }
    }
  }
  if (taken.length > 0) {
    return fail('dns-listener', title, `port ${svc.port} is taken: ${[...new Set(taken)].join('; ')}: wgts up could not start its DNS`,
      'make that server listen on its own addresses only (dnsmasq: bind-interfaces or except-interface=IF; systemd-resolved\'s 127.0.0.53 is fine), stop it, or set ListenDns in [Gateway]');
  }
  return pass('dns-listener', title, `port ${svc.port} is free on ${svc.listen.join(', ')} (UDP and TCP); wgts up answers ${name} there`);
}

/** The servers the gateway forwards other names to (after dropping itself, as it does). */
async function upstreamServers(ctx: DoctorContext): Promise<{ servers: UpstreamAddress[]; from: string; self: string[] } | null> {
  const c = ctx.config;
  const svc = c ? dnsServiceOf(c) : null;
  if (!c || !svc || svc.upstream === 'none') return null;
  const system = svc.upstream === 'system';
  const listed = system ? [...new SystemResolvers(RESOLV_CONF).servers()] : (svc.upstream as readonly string[]).map(parseUpstream);
  const own = new Set([...svc.listen, ...c.interface.addresses.map((a) => a.address)]);
  if (svc.listen.some((l) => l === '0.0.0.0' || l === '::')) for (const a of await localAddresses(ctx.run).catch(() => [])) own.add(a.address);
  const isSelf = (s: UpstreamAddress): boolean => s.port === svc.port && own.has(s.host.split('%')[0] as string);
  return { servers: listed.filter((s) => !isSelf(s)), from: system ? resolvConfShown() : 'Upstream =', self: listed.filter(isSelf).map(formatUpstream) };
}

/** Each upstream resolver answers (`. NS`), and does not refuse. */
export async function dnsUpstreamCheck(ctx: DoctorContext): Promise<CheckResult> {
  const title = 'DNS upstream';
  const dns = gatewayDns(ctx, 'dns-upstream', title, 'forwards no DNS');
  if ('status' in dns) return dns;
  const { svc } = dns;
  if (svc.upstream === 'none') return pass('dns-upstream', title, 'Upstream = none: names outside the domain are refused, unknown bare names NXDOMAIN');
  const up = await upstreamServers(ctx);
  if (up === null || up.servers.length === 0) {
    return fail('dns-upstream', title, `${up?.from ?? 'the configuration'} names only this gateway's own DNS (${up?.self.join(', ') ?? ''}): other names cannot be answered`,
      `name a real resolver in ${up?.from ?? RESOLV_CONF} or set Upstream = in [Gateway]`);
  }
  const good: string[] = [];
  const bad: string[] = [];
  for (const s of up.servers) {
    const r = await dnsQuery(s.host, s.port, '.', 'NS');
    const at = formatUpstream(s);
    if (!r.ok) bad.push(`${at}: ${r.error}`);
    else if (REFUSING.has(r.rcode)) bad.push(`${at} answers ${r.rcode}`);
    else good.push(`${at} (${r.ms} ms)`);
  }
  const from = `from ${up.from}`;
  if (bad.length > 0) {
    return fail('dns-upstream', title, `${bad.join('; ')}${good.length ? `; ${good.join(', ')} answer${good.length === 1 ? 's' : ''}` : ''} (${from}): laptops' other names ${good.length ? 'wait for a timeout first' : 'fail'}`,
      svc.upstream === 'system' ? `fix the nameserver lines of ${up.from}, or set Upstream = in [Gateway]` : 'fix or replace those Upstream = servers');
  }
  return pass('dns-upstream', title, `${good.join(', ')} answer (${from})`);
}

/** How a laptop's names reach the tunnel's DNS; which resolv.conf a gateway follows. */
export async function resolverCheck(ctx: DoctorContext): Promise<CheckResult> {
  const title = 'resolver setup';
  const c = ctx.config;
  if (!c) return skip('resolver', title, 'needs a config that parses');
  if (c.gateway) {
    const up = await upstreamServers(ctx);
    if (up === null) return pass('resolver', title, 'Upstream = none: the gateway asks no resolver');
    if (up.from === 'Upstream =') return pass('resolver', title, `Upstream = ${up.servers.map(formatUpstream).join(', ')} (resolv.conf is not used)`);
    const self = up.self.length > 0 ? `; skipped as this gateway itself: ${up.self.join(', ')}` : '';
    if (up.servers.length === 0) return fail('resolver', title, `${up.from} names only this gateway's own DNS${self}`, `name the host's real resolver in ${up.from}, or set Upstream =`);
    return pass('resolver', title, `other names go to ${up.servers.map(formatUpstream).join(', ')} from ${up.from}${self}`);
  }
  const servers = c.interface.dns;
  const domains = c.interface.dnsSearch;
  if (servers.length === 0) return pass('resolver', title, 'no DNS = line: names resolve as before the tunnel');
  const want = `nameserver ${servers.join(', ')}${domains.length ? `, search ${domains.join(' ')}` : ''}`;
  const ns = currentNetnsName();
  if (ns !== null) {
    const path = join('/etc/netns', ns, 'resolv.conf');
    if (!ctx.running) return pass('resolver', title, `named network namespace ${ns}: wgts up writes ${path} (${want}) and restores it`);
    const text = await fsp.readFile(path, 'utf8').catch(() => '');
    const has = servers.every((s) => new RegExp(`^nameserver\\s+${s.replace(/[.]/g, '\\.')}\\s*$`, 'm').test(text))
      && domains.every((d) => new RegExp(`^search\\s.*\\b${d.replace(/[.]/g, '\\.')}\\b`, 'm').test(text));
    if (!has) return fail('resolver', title, `${path} does not hold ${want} (changed behind wgts up's back)`, restartHint(ctx), true);
    return pass('resolver', title, `${path} holds ${want}`, true);
  }
  const resolved = await ctx.run('resolvectl', ['status']).then(() => true, () => false);
  if (resolved) {
    if (!ctx.running) return pass('resolver', title, `systemd-resolved runs: wgts up sets ${want} on ${ctx.ifname} (resolvectl), other names stay with the host's DNS`);
    const dns = await ctx.run('resolvectl', ['dns', ctx.ifname]).catch(() => '');
    const dom = await ctx.run('resolvectl', ['domain', ctx.ifname]).catch(() => '');
    if (!servers.every((s) => dns.includes(s)) || !domains.every((d) => dom.includes(d))) {
      return fail('resolver', title, `resolvectl shows ${dns.trim() || 'no DNS'} / ${dom.trim() || 'no domain'} for ${ctx.ifname}, not ${want}`, restartHint(ctx), true);
    }
    return pass('resolver', title, `systemd-resolved sends ${domains.join(', ') || 'every name'} to ${servers.join(', ')} on ${ctx.ifname}`, true);
  }
  const host = await fsp.readFile(RESOLV_CONF, 'utf8').catch(() => '');
  if (servers.every((s) => new RegExp(`^nameserver\\s+${s.replace(/[.]/g, '\\.')}\\s*$`, 'm').test(host))) {
    return pass('resolver', title, `no systemd-resolved, but ${RESOLV_CONF} names ${servers.join(', ')}`);
  }
  return fail('resolver', title, `no systemd-resolved and not in a named network namespace: wgts up cannot point ${domains.join(', ') || 'names'} at ${servers.join(', ')}`,
    `run systemd-resolved, or put 'nameserver ${servers[0] ?? ''}'${domains.length ? ` and 'search ${domains.join(' ')}'` : ''} into ${RESOLV_CONF}`);
}
