// What `wgts up` derives from a parsed config before touching anything: the interface name, what
// it refuses (full tunnel, hooks), the routes, masquerade rules, forwarding sysctls and DNS
// listener of a gateway. Pure functions (loadConfig apart, which reads the file), so the runtime
// only carries out their results.
import { promises as fsp } from 'node:fs';
import { basename } from 'node:path';
import { DNS_PORT, formatCidr, formatIP, parseIP, type Cidr } from '../config/ip.js';
import type { ConfigDocument, WgtsConfig } from '../config/model.js';
import { parseConfig } from '../config/parse.js';
import { lineOf } from '../config/syntax.js';
import { isValidInterfaceName } from '../device/uapi/server.js';
import type { DnsTarget } from './access.js';
import { clientDnsAddress, dnsServiceOf } from './dns/service.js';
import type { MasqueradeRule } from './netcfg.js';

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
  for (const p of config.peers) {
    for (const c of p.allowedIPs) {
      if (c.prefix === 0) {
        const where = p.source ? `${file}:${p.source.line}` : file;
        errors.push(`${where}: AllowedIPs ${formatCidr(c)} of peer ${p.name ?? p.publicKey} is a full tunnel (all traffic through the VPN), which wgts up does not support yet; list the networks to route instead`);
      }
    }
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

/** Masquerade rules of a gateway config: each tunnel subnet to each project network of its family. */
export function masqueradeRulesFor(config: WgtsConfig): MasqueradeRule[] {
  const g = config.gateway;
  if (!g || !g.masquerade) return [];
  const rules: MasqueradeRule[] = [];
  for (const a of config.interface.addresses) {
    for (const n of g.networks) {
      if (n.family === a.family) rules.push({ family: a.family, source: subnetOf(a), dest: formatCidr(n) });
    }
  }
  return rules;
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
 * The address:port peers send DNS to, which the access rules always let through: the listener,
 * or for a wildcard listener (ListenDns = 0.0.0.0:53) the tunnel address of its family.
 */
export function dnsExemptionOf(config: WgtsConfig, listen: DnsTarget): DnsTarget {
  if (listen.address !== '0.0.0.0' && listen.address !== '::') return listen;
  const own = config.interface.addresses.find((a) => a.family === (listen.address === '::' ? 6 : 4));
  return own ? { address: own.address, port: listen.port } : listen;
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
