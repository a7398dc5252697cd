// `wgts doctor`, the network's side: the UDP port (free, or bound by the running wgts up, and on
// which local addresses laptops reach it; let in by the INPUT chain and by other nftables tables),
// the MTU against the path to the peers, the routes (a laptop's overlapping the host's own, a
// gateway's project networks reachable here), and handshakes of the running interface.
import { lookup } from 'node:dns/promises';
import net from 'node:net';
import { formatCidr, formatHostPort, type HostPort } from '../../config/ip.js';
import { inputBlockers, iptablesCommand, ruleArgs, ruleTag } from '../iptables.js';
import { which } from '../lab-ns.js';
import { jsonRows, NetConfig } from '../netcfg.js';
import { DEFAULT_MTU, routesFor } from '../plan.js';
import { listenFamilies } from '../runtime.js';
import { errorText, restartHint } from './checks-host.js';
import type { DoctorContext } from './context.js';
import { linkMtu, listenersOn, localAddresses, routeGet } from './probe.js';
import { fail, pass, skip, type CheckResult } from './report.js';

/** A handshake within this many seconds means the peer is online (wgts show, wg-easy). */
export const ONLINE_S = 180;
/** Outer headers WireGuard adds: IPv4 20 + UDP 8 + WireGuard 32; IPv6 40 + 8 + 32. */
const OVERHEAD = { 4: 60, 6: 80 } as const;

/** `host:port` / `[host]:port` split. */
function splitHostPort(ep: string): { host: string; port: number } | null {
  const m = /^\[([^\]]+)\]:([0-9]+)$/.exec(ep) ?? /^([^:]+):([0-9]+)$/.exec(ep);
  return m ? { host: m[1] as string, port: Number(m[2]) } : null;
}

/** The addresses a host name or literal stands for (one lookup, bounded). */
async function addressesOf(host: string): Promise<string[]> {
  if (net.isIP(host) !== 0) return [host];
  const timeout = new Promise<never>((_, reject) => setTimeout(() => reject(new Error('lookup timed out')), 3000).unref());
  const found = await Promise.race([lookup(host, { all: true }), timeout]);
  return found.map((a) => a.address);
}

/** The ListenPort: free to bind (stopped) or bound by the running wgts up; where laptops reach it. */
export async function udpPortCheck(ctx: DoctorContext): Promise<CheckResult> {
  const title = 'UDP port';
  const c = ctx.config;
  if (!c) return skip('udp-port', title, 'needs a config that parses');
  const port = ctx.running?.device?.listenPort ?? c.interface.listenPort ?? 0;
  if (port === 0) {
    if (c.gateway) return fail('udp-port', title, 'no ListenPort: laptops connect to a fixed port (their Endpoint)', 'add ListenPort = 51820 to [Interface] (and that port to the Endpoint in [Gateway])');
    return pass('udp-port', title, 'a random port each start (a laptop needs none)');
  }
  let listeners;
  try {
    listeners = await listenersOn(ctx.run, 'udp', port);
  } catch (e) {
    return fail('udp-port', title, `ss cannot list UDP sockets: ${errorText(e)}`, 'install iproute2 and run the doctor as root');
  }
  const where = await reachNote(ctx, port);
  if (ctx.running) {
    const pid = ctx.running.pid;
    const ours = listeners.filter((l) => l.pids.includes(pid));
    if (ours.length === 0) return fail('udp-port', title, `UDP ${port} is not bound by wgts up (pid ${pid})${listeners.length ? `; ${listeners.flatMap((l) => l.owners).join(', ')} has it` : ''}`, restartHint(ctx), true);
    return pass('udp-port', title, `UDP ${port} bound by wgts up (pid ${pid}) on ${ours.map((l) => (l.host === '*' ? 'every address' : l.host)).join(', ')}${where}`, true);
  }
  if (listeners.length > 0) {
    const who = [...new Set(listeners.flatMap((l) => (l.owners.length ? l.owners : [`a socket on ${l.host}`])))].join(', ');
    return fail('udp-port', title, `UDP ${port} is in use by ${who}: wgts up could not bind it`, `stop that program, or choose another ListenPort${c.gateway ? ' (and change it in the Endpoint of [Gateway] and the laptops\' configs)' : ''}`);
  }
  return pass('udp-port', title, `UDP ${port} is free${where}`);
}

/** For a gateway: the host's addresses, and whether the Endpoint laptops use is one of them. */
async function reachNote(ctx: DoctorContext, port: number): Promise<string> {
  const g = ctx.config?.gateway;
  if (!g) return '';
  const locals = (await localAddresses(ctx.run).catch(() => [])).filter((a) => a.dev !== ctx.ifname && a.dev !== 'lo');
  const listed = locals.map((a) => `${a.address} (${a.dev})`).join(', ') || 'none';
  const ep = g.endpoint;
  if (!ep) return `; local addresses: ${listed}; no Endpoint in [Gateway]`;
  let addrs: string[];
  try {
    addrs = await addressesOf(ep.host);
  } catch (e) {
    return `; local addresses: ${listed}; the Endpoint ${ep.host} does not resolve here (${errorText(e)})`;
  }
  const local = locals.filter((a) => addrs.includes(a.address));
  const portNote = ep.port !== port ? `; the Endpoint names port ${ep.port}, not ${port}: something must forward it` : '';
  const shown = formatHostPort(ep);
  if (local.length > 0) return `; the Endpoint ${shown} is an address of this host (${local.map((a) => a.dev).join(', ')})${portNote}`;
  return `; local addresses: ${listed}; the Endpoint ${shown} is not one of them: a NAT in front must forward UDP ${ep.port} here${portNote}`;
}

/** The INPUT chain and other nftables tables let the ListenPort's datagrams in. */
export async function udpInputCheck(ctx: DoctorContext): Promise<CheckResult> {
  const title = 'UDP port let in';
  const c = ctx.config;
  if (!c?.gateway) return skip('udp-input', title, c ? 'a laptop receives only answers to what it sends (no inbound rule needed)' : 'needs a config that parses');
  const port = ctx.running?.device?.listenPort ?? c.interface.listenPort ?? 0;
  if (port === 0) return skip('udp-input', title, 'no ListenPort');
  if (which('nft') !== null) {
    const blocker = inputBlockers(await ctx.run('nft', ['-j', 'list', 'ruleset']).catch(() => ''), port)[0];
    if (blocker) return fail('udp-input', title, `the nftables chain '${blocker.chain}' of table '${blocker.table}' (hook input) drops by default and never mentions port ${port}: WireGuard's datagrams die there`, blocker.fix);
  }
  const policies: string[] = [];
  const families = listenFamilies(c);
  for (const f of families) {
    try {
      const text = await ctx.run(iptablesCommand(f), ['-w', '5', '-S', 'INPUT']);
      policies.push(`${iptablesCommand(f)} INPUT policy ${/^-P INPUT (\S+)/m.exec(text)?.[1] ?? '-'}`);
    } catch (e) {
      return fail('udp-input', title, `${iptablesCommand(f)} -S INPUT: ${errorText(e)}`, 'run wgts doctor as root');
    }
  }
  if (!ctx.running) return pass('udp-input', title, `${policies.join(', ')}; wgts up inserts an accept for UDP ${port} first`);
  const tag = ruleTag(ctx.ifname, ctx.running.pid);
  const missing: string[] = [];
  for (const f of families) {
    const rule = { family: f, table: 'filter', chain: 'INPUT', spec: ['-p', 'udp', '-m', 'udp', '--dport', String(port), '-j', 'ACCEPT'] } as const;
    try {
      await ctx.run(iptablesCommand(f), ruleArgs(rule, tag, 'check'));
    } catch {
      missing.push(`${iptablesCommand(f)} -A INPUT ${rule.spec.join(' ')}`);
    }
  }
  if (missing.length > 0) return fail('udp-input', title, `missing the wgts accept: ${missing.join('; ')}`, restartHint(ctx), true);
  return pass('udp-input', title, `${policies.join(', ')}; the wgts accept for UDP ${port} is in place`, true);
}

/** One path the tunnel's datagrams take: to what, through which link, with which MTU. */
interface PathMtu { to: string; dev: string; mtu: number; family: 4 | 6 }

/** The tunnel MTU plus WireGuard's overhead against the MTU of the route to each peer. */
export async function mtuCheck(ctx: DoctorContext): Promise<CheckResult> {
  const title = 'MTU';
  const c = ctx.config;
  if (!c) return skip('mtu', title, 'needs a config that parses');
  const tunnel = (ctx.running ? await linkMtu(ctx.run, ctx.ifname) : null) ?? c.interface.mtu ?? DEFAULT_MTU;
  const targets: HostPort[] = [];
  for (const p of ctx.running?.device?.peers ?? []) {
    const hp = p.endpoint ? splitHostPort(p.endpoint) : null;
    if (hp) targets.push(hp);
  }
  if (!c.gateway) for (const p of c.peers) if (p.endpoint) targets.push(p.endpoint);
  const paths: PathMtu[] = [];
  const unroutable: string[] = [];
  const seen = new Set<string>();
  for (const hp of targets) {
    let addrs: string[];
    try {
      addrs = await addressesOf(hp.host);
    } catch (e) {
      unroutable.push(`${hp.host} does not resolve (${errorText(e)})`);
      continue;
    }
    for (const a of addrs.slice(0, 1)) {
      if (seen.has(a)) continue;
      seen.add(a);
      const r = await routeGet(ctx.run, a);
      if (!r?.dev || (r.type !== 'unicast' && r.type !== 'local')) { unroutable.push(`no route to ${a}`); continue; }
      const mtu = r.mtu ?? await linkMtu(ctx.run, r.dev);
      if (mtu !== null) paths.push({ to: a, dev: r.dev, mtu, family: a.includes(':') ? 6 : 4 });
    }
  }
  if (c.gateway && paths.length === 0) {
    // No laptop known yet: the uplinks (default routes) are the path to them.
    for (const f of [4, 6] as const) {
      const rows = jsonRows(await ctx.run('ip', [`-${f}`, '-j', 'route', 'show', 'default']).catch(() => '[]'));
      for (const row of rows) {
        const dev = typeof row.dev === 'string' ? row.dev : null;
        const mtu = dev ? await linkMtu(ctx.run, dev) : null;
        if (dev && mtu !== null) paths.push({ to: `the default route (IPv${f})`, dev, mtu, family: f });
      }
    }
  }
  if (unroutable.length > 0 && !c.gateway) {
    return fail('mtu', title, `${unroutable.join('; ')}: the tunnel cannot reach its peer`, 'check the laptop\'s network and the Endpoint of the [Peer]');
  }
  if (paths.length === 0) return skip('mtu', title, `tunnel MTU ${tunnel}; no route to a peer or an uplink here to compare with`);
  const tooBig = paths.filter((p) => tunnel + OVERHEAD[p.family] > p.mtu);
  const describe = (p: PathMtu): string => `${p.dev} MTU ${p.mtu} (to ${p.to})`;
  if (tooBig.length > 0) {
    const fit = Math.min(...tooBig.map((p) => p.mtu - OVERHEAD[p.family]));
    return fail('mtu', title, `tunnel MTU ${tunnel} + ${OVERHEAD[tooBig[0]?.family ?? 4]} bytes of WireGuard headers exceeds ${tooBig.map(describe).join(', ')}: full-size packets are fragmented or lost`,
      `MTU = ${fit} in [Interface]${ctx.running ? `, then ${restartHint(ctx)}` : ''}`);
  }
  return pass('mtu', title, `tunnel MTU ${tunnel} fits ${paths.map(describe).join(', ')} with WireGuard's headers`);
}

/** A laptop's routes overlap none of the host's; a gateway's project networks are routed here. */
export async function routesCheck(ctx: DoctorContext): Promise<CheckResult> {
  const title = 'routes';
  const c = ctx.config;
  if (!c) return skip('routes', title, 'needs a config that parses');
  const wanted = routesFor(c);
  let conflicts;
  try {
    conflicts = await new NetConfig(ctx.ifname, { run: ctx.run }).routeConflicts(wanted);
  } catch (e) {
    return fail('routes', title, `cannot read the routing table: ${errorText(e)}`, 'install iproute2');
  }
  if (conflicts.length > 0) {
    return fail('routes', title, conflicts.map((x) => `${x.route} overlaps the host's route ${x.overlaps}`).join('; '),
      'the project network is also this host\'s LAN, a Docker network or another VPN: remove or renumber one of them (docker network rm ..., another Network on the gateway)');
  }
  const notes: string[] = [];
  if (ctx.running && wanted.length > 0) {
    const have = new Set(jsonRows(await ctx.run('ip', ['-j', 'route', 'show', 'dev', ctx.ifname]).catch(() => '[]')).map((r) => String(r.dst ?? ''))
      .concat(jsonRows(await ctx.run('ip', ['-6', '-j', 'route', 'show', 'dev', ctx.ifname]).catch(() => '[]')).map((r) => String(r.dst ?? ''))));
    const missing = wanted.filter((r) => !have.has(r) && !have.has(r.replace(/\/(32|128)$/, '')));
    if (missing.length > 0) return fail('routes', title, `the routes ${missing.join(', ')} into ${ctx.ifname} are missing`, restartHint(ctx), true);
    notes.push(`${wanted.length} route(s) into ${ctx.ifname}`);
  } else if (wanted.length > 0) {
    notes.push(`${wanted.join(', ')} overlap no route of this host`);
  }
  for (const n of c.gateway?.networks ?? []) {
    const r = await routeGet(ctx.run, n.address);
    const net = formatCidr(n);
    if (!r?.dev || (r.type !== 'unicast' && r.type !== 'local')) {
      return fail('routes', title, `no route to the project network ${net} here: the gateway cannot forward to it`, `give this host an address or a route in ${net} (ip route add ${net} via ROUTER)`);
    }
    if (r.dev === ctx.ifname) return fail('routes', title, `the project network ${net} is routed into the tunnel ${ctx.ifname}`, `route ${net} through the project interface instead`);
    notes.push(`${net} via ${r.dev}${r.gateway ? ` (${r.gateway})` : ''}`);
  }
  return pass('routes', title, notes.join('; ') || 'no routes to add', ctx.running !== null && wanted.length > 0);
}

/** The running interface's handshakes: a laptop must have a recent one with its gateway. */
export function handshakeCheck(ctx: DoctorContext): CheckResult {
  const title = 'handshake';
  const c = ctx.config;
  if (!ctx.running) return skip('handshake', title, 'needs the interface running', true);
  const peers = ctx.running.device?.peers ?? [];
  if (!c || ctx.running.device === null) return skip('handshake', title, 'the interface does not answer over UAPI', true);
  const age = (p: { latestHandshake: number }): number => ctx.nowSec - p.latestHandshake;
  if (c.gateway) {
    const online = peers.filter((p) => p.latestHandshake > 0 && age(p) <= ONLINE_S).length;
    return pass('handshake', title, `${online} of ${peers.length} peer(s) online (a handshake within ${ONLINE_S / 60} minutes)`, true);
  }
  const stale = peers.filter((p) => p.latestHandshake === 0 || age(p) > ONLINE_S);
  if (stale.length > 0) {
    const p = stale[0];
    const when = p?.latestHandshake ? `the last one ${age(p)} s ago` : 'none since the start';
    return fail('handshake', title, `no recent handshake with ${p?.endpoint ?? 'the peer'} (${when}): nothing gets through the tunnel`,
      'check that the gateway runs and its UDP port is reachable from here (wgts doctor on the gateway), and that this laptop is still a peer of it (wgts peer list)', true);
  }
  return pass('handshake', title, peers.map((p) => `${p.endpoint ?? p.publicKey.slice(0, 8)}: ${age(p)} s ago`).join(', '), true);
}
