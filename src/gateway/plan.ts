// What `wgts up` derives from a parsed config before touching anything: the interface name, what
// it refuses (full tunnels, routing loops, hooks), the routes, host firewall rules (masquerade,
// FORWARD and INPUT accepts), forwarding sysctls and DNS listener of a gateway. Pure functions
// (loadConfig apart, which reads the file), so the runtime only carries out their results.
import { promises as fsp } from 'node:fs';
import { basename } from 'node:path';
import { DNS_PORT, formatCidr, formatIP, parseIP, type Cidr } from '../config/ip.js';
import type { ConfigDocument, WgtsConfig } from '../config/model.js';
import { parseConfig } from '../config/parse.js';
import { lineOf } from '../config/syntax.js';
import { isValidInterfaceName } from '../device/uapi/server.js';
import type { DnsTarget, ServiceTarget } from './access.js';
import { clientDnsAddress, dnsServiceOf } from './dns/service.js';
import { ENV_PORT } from './env/service.js';
import type { FirewallRule } from './iptables.js';
import type { ConfigSource } from './source.js';

/** Default MTU of a wgts interface (wg-quick computes one from the route; 1420 fits 1500 links). */
export const DEFAULT_MTU = 1420;
/** TTL of the gateway's DNS answers (seconds). */
export const DNS_TTL = 30;

/** A start-up failure with every message to print (FILE:LINE: reason, or a plain reason). */
export class UpError extends Error {
  constructor(readonly messages: string[]) {
    super(messages.join('\n'));
    this.name = 'UpError';
  }
}

/** Whether `name` can name an interface of wgts up and wg-quick: 1-15 of A-Z a-z 0-9 _ = + . - */
export function isConfigInterfaceName(name: string): boolean {
  return isValidInterfaceName(name) && /^[A-Za-z0-9_=+.-]+$/.test(name);
}

/** The interface name a config file stands for: its basename without `.conf`. */
export function interfaceNameOf(path: string): string {
  const base = basename(path);
  const name = base.endsWith('.conf') ? base.slice(0, -5) : base;
  if (!isConfigInterfaceName(name)) {
    throw new UpError([`${path}: '${name}' (the file name without .conf) is not a valid interface name (1-15 of A-Z a-z 0-9 _ = + . -)`]);
  }
  return name;
}

/** Reads and parses a config file; errors as FILE:LINE: reason. */
export async function loadConfig(path: string): Promise<{ config: WgtsConfig; doc: ConfigDocument; text: string; warnings: string[] }> {
  let text: string;
  try {
    text = await fsp.readFile(path, 'utf8');
  } catch (e) {
    throw new UpError([`${path}: ${e instanceof Error ? e.message : String(e)}`]);
  }
  const r = parseConfig(text, path);
  if (!r.ok) throw new UpError(r.errors.map((e) => e.message));
  const warnings = r.warnings.map((w) => w.message);
  const exposed = r.config.interface.privateKey !== undefined ? await exposedMode(path) : null;
  if (exposed !== null) warnings.push(exposed);
  return { config: r.config, doc: r.doc, text, warnings };
}

/** Reads and parses the config of a source (a file or a registry); errors as LOCATION:LINE: reason. */
export async function loadSource(source: ConfigSource): Promise<{ config: WgtsConfig; doc: ConfigDocument; text: string; version: string; warnings: string[] }> {
  let got;
  try {
    got = await source.read();
  } catch (e) {
    throw new UpError([`${source.location}: ${e instanceof Error ? e.message : String(e)}`]);
  }
  if (!got.ok) throw new UpError(got.errors);
  const r = parseConfig(got.text, source.location);
  if (!r.ok) throw new UpError(r.errors.map((e) => e.message));
  const warnings = [...r.warnings.map((w) => w.message), ...(await source.warnings(r.config.interface.privateKey !== undefined))];
  return { config: r.config, doc: r.doc, text: got.text, version: got.version, warnings };
}

/**
 * A warning when a file holding a private key can be read or written by other users (group or
 * world bits: wg-quick warns for world access, wg genkey for a world-readable key file), else null.
 */
export async function exposedMode(path: string): Promise<string | null> {
  const st = await fsp.stat(path).catch(() => null);
  if (st === null || (st.mode & 0o066) === 0) return null;
  const who = [(st.mode & 0o060) !== 0 ? 'its group' : '', (st.mode & 0o006) !== 0 ? 'every user' : ''].filter(Boolean).join(' and ');
  return `${path} holds a private key and is accessible to ${who} (mode ${(st.mode & 0o777).toString(8).padStart(4, '0')}); run: chmod 600 ${path}`;
}

/**
 * What `wgts up` does not support in a config (beyond what the parser rejects), as messages:
 * `FILE:LINE: reason` (given the document, for the keys of [Interface]; a peer's problems always
 * have their line), `FILE: reason` when the line is unknown.
 */
export function checkUpConfig(config: WgtsConfig, file: string, doc?: ConfigDocument): string[] {
  const errors: string[] = [];
  const i = config.interface;
  const at = (key: string | null): string => {
    const line = doc ? lineOf(doc, 'Interface', key) : 0;
    return line > 0 ? `${file}:${line}` : file;
  };
  for (const family of [4, 6] as const) {
    const all = config.peers.flatMap((p) => p.allowedIPs.filter((c) => c.family === family).map((c) => ({ p, c })));
    if (!coversAddressSpace(all.map((x) => x.c), family)) continue;
    const zero = all.find((x) => x.c.prefix === 0);
    const first = (zero ?? all[0]).p;
    const at = first.source ? `${file}:${first.source.line}` : file;
    const what = zero ? `AllowedIPs ${formatCidr(zero.c)} of peer ${first.name ?? first.publicKey} is` : `AllowedIPs ${all.map((x) => formatCidr(x.c)).join(', ')} together cover every IPv${family} address:`;
    errors.push(`${at}: ${what} a full tunnel (all traffic through the VPN), which wgts up does not support yet; list the networks to route instead`);
  }
  const hooks = (['preUp', 'postUp', 'preDown', 'postDown'] as const).filter((k) => i[k].length > 0);
  for (const k of hooks) {
    const name = `${k[0].toUpperCase()}${k.slice(1)}`;
    errors.push(`${at(name)}: ${name} hooks are not supported by wgts up`);
  }
  if (i.saveConfig) errors.push(`${at('SaveConfig')}: SaveConfig = true is not supported by wgts up`);
  if (i.table !== undefined && i.table !== 'auto' && i.table !== 'off') errors.push(`${at('Table')}: Table = ${i.table} is not supported by wgts up (only auto or off)`);
  if (config.gateway && i.addresses.length === 0) errors.push(`${at(null)}: a gateway needs an Address in [Interface] (its tunnel address)`);
  return errors;
}

/** Address bytes of a prefix with every bit after `prefix` cleared. */
function networkBytes(c: Cidr, prefix: number = c.prefix): Uint8Array | null {
  const b = parseIP(c.address);
  if (!b) return null;
  for (let i = 0; i < b.length; i++) {
    const keep = prefix - 8 * i;
    if (keep <= 0) b[i] = 0;
    else if (keep < 8) b[i] &= (0xff00 >> keep) & 0xff;
  }
  return b;
}

/** The subnet of an interface address (10.123.0.1/24 -> 10.123.0.0/24). */
export function subnetOf(addr: Cidr): string {
  const b = networkBytes(addr);
  return `${b ? formatIP(b) : addr.address}/${addr.prefix}`;
}

/** Whether `inner` lies inside `outer`'s subnet. */
export function covers(outer: Cidr, inner: Cidr): boolean {
  if (outer.family !== inner.family || inner.prefix < outer.prefix) return false;
  const a = networkBytes(outer);
  const b = networkBytes(inner, outer.prefix);
  return a !== null && b !== null && a.every((x, i) => x === b[i]);
}

/** Routes `wgts up` adds: every AllowedIPs prefix not inside an interface address's subnet. */
export function routesFor(config: WgtsConfig): string[] {
  if (config.interface.table === 'off') return [];
  const out = new Set<string>();
  for (const p of config.peers) {
    for (const c of p.allowedIPs) {
      if (!config.interface.addresses.some((a) => covers(a, c))) out.add(formatCidr(c));
    }
  }
  return [...out];
}

/** Whether `cidrs` (of one family) together cover every address of it (0.0.0.0/1 + 128.0.0.0/1, ::/0, ...). */
export function coversAddressSpace(cidrs: readonly Cidr[], family: 4 | 6): boolean {
  const bits = family === 4 ? 32 : 128;
  const ranges: [bigint, bigint][] = [];
  for (const c of cidrs) {
    if (c.family !== family) continue;
    const b = networkBytes(c);
    if (!b) continue;
    let start = 0n;
    for (const x of b) start = (start << 8n) | BigInt(x);
    ranges.push([start, start + (1n << BigInt(bits - c.prefix)) - 1n]);
  }
  ranges.sort((x, y) => (x[0] < y[0] ? -1 : x[0] > y[0] ? 1 : 0));
  let next = 0n;
  for (const [s, e] of ranges) {
    if (s > next) return false;
    if (e + 1n > next) next = e + 1n;
  }
  return next === 1n << BigInt(bits);
}

/**
 * Peers whose routed AllowedIPs hold their own Endpoint: the tunnel's datagrams would be routed
 * into the tunnel (wg-quick avoids that with policy routing, which wgts up does not do).
 * `endpoints` are the resolved `IP:PORT` / `[IP]:PORT` texts by public key.
 */
export function endpointLoops(config: WgtsConfig, endpoints: ReadonlyMap<string, string>, file: string): string[] {
  const routed = new Set(routesFor(config));
  const out: string[] = [];
  for (const p of config.peers) {
    const ep = endpoints.get(p.publicKey);
    if (ep === undefined) continue;
    const host = ep.startsWith('[') ? ep.slice(1, ep.indexOf(']')) : ep.slice(0, ep.lastIndexOf(':'));
    const family = host.includes(':') ? 6 : 4;
    const inside = p.allowedIPs.find((c) => routed.has(formatCidr(c)) && covers(c, { family, address: host, prefix: family === 4 ? 32 : 128 }));
    if (inside) {
      const at = p.source ? `${file}:${p.source.line}` : file;
      out.push(`${at}: the Endpoint ${ep} of peer ${p.name ?? p.publicKey} is inside its AllowedIPs ${formatCidr(inside)}: the tunnel would carry its own packets; route a narrower set of networks`);
    }
  }
  return out;
}

/** Masquerade rules of a gateway config: each tunnel subnet to each project network of its family. */
export function masqueradeRulesFor(config: WgtsConfig): FirewallRule[] {
  const g = config.gateway;
  if (!g || !g.masquerade) return [];
  const rules: FirewallRule[] = [];
  for (const a of config.interface.addresses) {
    for (const n of g.networks) {
      if (n.family === a.family) {
        rules.push({ family: a.family, table: 'nat', chain: 'POSTROUTING', spec: ['-s', subnetOf(a), '-d', formatCidr(n), '-j', 'MASQUERADE'] });
      }
    }
  }
  return rules;
}

/**
 * Every host firewall rule of a gateway on interface `ifname`: masquerade; FORWARD accepts from
 * the tunnel to each project network and for established/related packets back to it (and, when a
 * peer has AllowInbound, from each project network to the tunnel: the data path decides which of
 * those reach a laptop); INPUT accepts for the WireGuard ListenPort (UDP, `listenFamilies`), the
 * DNS `listeners` on the tunnel and the project-variables service (`envTargets`, TCP) on the
 * tunnel. They are inserted
 * first in their chains, so a FORWARD or INPUT chain that drops by default (Docker, ufw) does not
 * silently swallow the tunnel's traffic.
 */
export function firewallRulesFor(config: WgtsConfig, ifname: string, listeners: readonly DnsTarget[],
  listenFamilies: readonly (4 | 6)[] = [4, 6], envTargets: readonly ServiceTarget[] = []): FirewallRule[] {
  const g = config.gateway;
  if (!g) return [];
  const rules: FirewallRule[] = [...masqueradeRulesFor(config)];
  const inbound = config.peers.some((p) => (p.allowInbound ?? []).length > 0);
  for (const n of g.networks) {
    rules.push({ family: n.family, table: 'filter', chain: 'FORWARD', spec: ['-i', ifname, '-d', formatCidr(n), '-j', 'ACCEPT'] });
    if (inbound) rules.push({ family: n.family, table: 'filter', chain: 'FORWARD', spec: ['-o', ifname, '-s', formatCidr(n), '-j', 'ACCEPT'] });
  }
  for (const family of [...new Set(g.networks.map((n) => n.family))]) {
    rules.push({ family, table: 'filter', chain: 'FORWARD', spec: ['-o', ifname, '-m', 'conntrack', '--ctstate', 'RELATED,ESTABLISHED', '-j', 'ACCEPT'] });
  }
  const port = config.interface.listenPort;
  if (port !== undefined && port !== 0) {
    for (const family of listenFamilies) {
      rules.push({ family, table: 'filter', chain: 'INPUT', spec: ['-p', 'udp', '-m', 'udp', '--dport', String(port), '-j', 'ACCEPT'] });
    }
  }
  for (const t of listeners) {
    const family = t.address.includes(':') ? 6 : 4;
    for (const proto of ['udp', 'tcp']) {
      rules.push({ family, table: 'filter', chain: 'INPUT', spec: ['-i', ifname, '-d', t.address, '-p', proto, '-m', proto, '--dport', String(t.port), '-j', 'ACCEPT'] });
    }
  }
  for (const t of envTargets) {
    const family = t.address.includes(':') ? 6 : 4;
    rules.push({ family, table: 'filter', chain: 'INPUT', spec: ['-i', ifname, '-d', t.address, '-p', 'tcp', '-m', 'tcp', '--dport', String(t.port), '-j', 'ACCEPT'] });
  }
  return rules;
}

/**
 * Where the project-variables service listens: every tunnel address of a gateway with [Env], at
 * its Port (default ENV_PORT); what the access rules let every peer reach and the host firewall
 * opens on the tunnel interface. Empty without [Env].
 */
export function envTargetsOf(config: WgtsConfig): ServiceTarget[] {
  if (!config.gateway || !config.env) return [];
  const port = config.env.port ?? ENV_PORT;
  return [...new Set(config.interface.addresses.map((a) => a.address))].map((address) => ({ address, port }));
}

/**
 * Where laptops send DNS: the tunnel address their client configs name (dns/service.ts), port 53.
 * The service itself listens on every tunnel address or on ListenDns (dnsServiceOf).
 */
export function dnsTargetOf(config: WgtsConfig): DnsTarget | null {
  const address = clientDnsAddress(config, config.interface.addresses.map((a) => a.address));
  return address === null ? null : { address, port: DNS_PORT };
}

/**
 * Every address:port the gateway's DNS answers laptops on, which the access rules always let
 * through and the host firewall opens: each listen address, and for a wildcard listener
 * (ListenDns = 0.0.0.0:53 or [::]:53) the tunnel addresses it covers (`::` is dual-stack: all).
 */
export function dnsExemptionsOf(config: WgtsConfig): DnsTarget[] {
  const svc = dnsServiceOf(config);
  if (svc === null) return [];
  const tunnel = config.interface.addresses;
  const out = new Map<string, DnsTarget>();
  for (const l of svc.listen) {
    const addrs = l === '0.0.0.0' ? tunnel.filter((a) => a.family === 4).map((a) => a.address)
      : l === '::' ? tunnel.map((a) => a.address) : [l];
    for (const address of addrs) out.set(address, { address, port: svc.port });
  }
  return [...out.values()];
}

/** The DNS responder's host table: name -> addresses. */
export function hostsOf(config: WgtsConfig): Map<string, string[]> {
  const m = new Map<string, string[]>();
  for (const h of config.gateway?.hosts ?? []) m.set(h.name, [...(m.get(h.name) ?? []), h.address]);
  return m;
}

/** What a DNS responder is built with and cannot change while running: a new key needs a new one. */
export function dnsKey(config: WgtsConfig): string {
  const svc = dnsServiceOf(config);
  return JSON.stringify([svc && [svc.listen, svc.port, svc.clients], config.interface.addresses.map((a) => a.address)]);
}

/** The sysctls a gateway config needs, name -> value. */
export function forwardingSysctls(config: WgtsConfig): [string, string][] {
  const nets = config.gateway?.networks ?? [];
  const out: [string, string][] = [];
  if (nets.some((n) => n.family === 4)) out.push(['net.ipv4.ip_forward', '1']);
  if (nets.some((n) => n.family === 6)) out.push(['net.ipv6.conf.all.forwarding', '1']);
  return out;
}
