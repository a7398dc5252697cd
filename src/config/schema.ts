// The keys each section accepts, which layer owns them (wg(8) itself, wg-quick(8), or wgts), how
// often they may appear, and how one value is checked and stored into the typed model.
//
// Strictness (like wg, which rejects any key it does not know, and any empty value): an unknown
// section or key is an error, so is an empty value, and so is a single-valued key given twice in
// a section (wg would let the last one win; a repeated key in a hand-edited file is far more
// often a mistake). List keys take
// comma-separated items and may also be repeated; the items accumulate in order.
import {
  canonicalIP, DNS_PORT, isHostname, parseCidr, parseDnsServer, parseHostPort, parseIPv4, parseIPv6, parsePort, type Parsed,
} from './ip.js';
import { keyFromBase64 } from '../crypto/keys.js';
import { parseIssued } from './issued.js';
import type { EnvConfig, GatewayConfig, InterfaceConfig, PeerConfig, SectionKind } from './model.js';
import { parseTimestamp } from './time.js';
import { ruleAlias } from '../router/access.js';

/** Which program a key belongs to; `wg setconf` only understands the 'wg' ones. */
export type KeyLayer = 'wg' | 'wg-quick' | 'wgts';

/** The static facts about a key. */
export interface KeyInfo {
  /** Canonical spelling, used when writing new lines. */
  readonly name: string;
  readonly layer: KeyLayer;
  /** May appear on several lines of one section. */
  readonly repeatable: boolean;
  /** The value is a comma-separated list; each item is checked and stored on its own. */
  readonly list: boolean;
}

/** Context for storing one value: its line, and a sink for warnings. */
export interface ApplyContext {
  readonly line: number;
  warn(reason: string): void;
}

/** A key with its checker: stores one item into `target`, or returns why it is rejected. */
export interface KeySpec<T> extends KeyInfo {
  apply(target: T, item: string, ctx: ApplyContext): string | null;
}

/** Checks a WireGuard key: exactly 44 base64 characters decoding to 32 bytes, canonically encoded. */
export function parseKey(text: string): Parsed<string> {
  // keyFromBase64 checks without a RegExp (which would keep the text reachable) and decodes into
  // a buffer of its own (not Buffer's shared pool), zeroed at once: only validity matters here.
  const bytes = keyFromBase64(text);
  if (bytes !== null) {
    bytes.fill(0);
    return { ok: true, value: text };
  }
  // The text is not echoed: a near-miss private or preshared key must not end up in logs.
  return { ok: false, error: `not a key (44 base64 characters encoding 32 bytes; got ${text.length} characters)` };
}

function parseBool(text: string): Parsed<boolean> {
  const t = text.toLowerCase();
  if (t === 'true' || t === 'false') return { ok: true, value: t === 'true' };
  return { ok: false, error: `'${text}' is neither true nor false` };
}

/** `off` or 0-65535 seconds (wg's rule); off is 0. */
function parseKeepalive(text: string): Parsed<number> {
  if (text.toLowerCase() === 'off') return { ok: true, value: 0 };
  const p = parsePort(text, 0);
  return p.ok ? p : { ok: false, error: `'${text}' is neither off nor 0-65535 seconds` };
}

/** `off` or a 32-bit mark in decimal or 0x hex; off is 0. */
function parseFwMark(text: string): Parsed<number> {
  if (text.toLowerCase() === 'off') return { ok: true, value: 0 };
  if (/^(0x[0-9a-f]{1,8}|[0-9]{1,10})$/i.test(text) && Number(text) <= 0xffffffff) return { ok: true, value: Number(text) };
  return { ok: false, error: `'${text}' is neither off nor a 32-bit number` };
}

const PEER_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;
/** A project name: one lower-case DNS label (it becomes the default domain and the laptops' interface name). */
export const PROJECT_NAME = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

/** Why `name` is not a project name, or null. */
export function projectNameProblem(name: string): string | null {
  return PROJECT_NAME.test(name) ? null : `'${name}' is not a project name (1-63 lower-case letters, digits and '-', not at either end: it is the default DNS domain)`;
}
const TABLE = /^(off|auto|[0-9]{1,10}|[A-Za-z_][A-Za-z0-9_.-]*)$/;

/** The name Allow rules may use for the gateway's own tunnel addresses (`gateway:22/tcp`). */
export const GATEWAY_RULE_NAME = 'gateway';

/** Checks a port or `lo-hi` range (1..65535); the error names the text. */
function checkPorts(rule: string, ports: string): string | null {
  const m = /^([0-9]{1,5})(?:-([0-9]{1,5}))?$/.exec(ports);
  const lo = m ? parsePort(m[1], 1) : null;
  const hi = m ? parsePort(m[2] ?? m[1], 1) : null;
  if (!lo?.ok || !hi?.ok || lo.value > hi.value) return `rule '${rule}': bad port or port range '${ports}'`;
  return null;
}

/**
 * Light shape check of an access rule `ADDR[/PREFIX][:PORT[-PORT]][/tcp|/udp|/icmp]` or
 * `gateway[:PORT[-PORT]][/tcp|/udp|/icmp]` (semantics belong to the gateway's rule parser). An
 * IPv6 rule needs its /PREFIX, so that a trailing `:PORT` can never be read as part of the address.
 */
export function checkAllowRule(rule: string): string | null {
  const proto = /\/(tcp|udp|icmp)$/i.exec(rule);
  const body = proto ? rule.slice(0, proto.index) : rule;
  const alias = ruleAlias(rule);
  if (alias) {
    if (alias.name !== GATEWAY_RULE_NAME) return `rule '${rule}': '${alias.name}' is neither an address nor '${GATEWAY_RULE_NAME}'`;
    const ports = /^:([^/]*)/.exec(alias.rest)?.[1];
    if (ports === undefined) return null;
    if (proto?.[1].toLowerCase() === 'icmp') return `rule '${rule}': icmp takes no port`;
    return checkPorts(rule, ports);
  }
  let addr: string;
  let prefix: string | undefined;
  let ports: string | undefined;
  const slash = body.indexOf('/');
  if (slash >= 0) {
    addr = body.slice(0, slash);
    const m = /^([0-9]{1,3})(?::(.*))?$/.exec(body.slice(slash + 1));
    if (!m) return `rule '${rule}': expected CIDR[:PORT[-PORT]][/tcp|/udp|/icmp]`;
    prefix = m[1];
    ports = m[2];
  } else if (parseIPv4(body)) {
    addr = body;
  } else {
    const colon = body.lastIndexOf(':');
    if (colon < 0 || !parseIPv4(body.slice(0, colon))) {
      return parseIPv6(body) ? `rule '${rule}': an IPv6 rule needs a /prefix` : `rule '${rule}': '${body}' is not an address`;
    }
    addr = body.slice(0, colon);
    ports = body.slice(colon + 1);
  }
  const cidr = parseCidr(prefix === undefined ? addr : `${addr}/${prefix}`, { prefixOptional: true, hostBits: 'keep' });
  if (!cidr.ok) return `rule '${rule}': ${cidr.error}`;
  if (ports !== undefined) {
    if (proto?.[1].toLowerCase() === 'icmp') return `rule '${rule}': icmp takes no port`;
    return checkPorts(rule, ports);
  }
  return null;
}

/** Shape check of an AllowInbound rule: `PORT[-PORT][/tcp|/udp]` or `icmp`. */
export function checkInboundRule(rule: string): string | null {
  if (rule.toLowerCase() === 'icmp') return null;
  const m = /^([^/]*)(?:\/(tcp|udp))?$/i.exec(rule);
  if (!m) return `inbound rule '${rule}': expected PORT[-PORT][/tcp|/udp] or icmp`;
  return checkPorts(rule, m[1]);
}

/** A grant of project variables (`Env = app_*`): identifier characters and the wildcards * and ?. */
const ENV_GRANT = /^[A-Za-z0-9_*?]{1,255}$/;

/** Why `pattern` is not an `Env =` grant, or null. */
export function checkEnvGrant(pattern: string): string | null {
  return ENV_GRANT.test(pattern) ? null : `'${pattern}' is not a variable name pattern (letters, digits, _ and the wildcards * and ?)`;
}

/** The name of an env service or prefix: a shell identifier, so that SERVICE_VAR is one too. */
const ENV_SOURCE_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;

/** Checks and stores one `Source =` value of [Env]: `SERVICE:PATH` or `env:PREFIX`. */
function applyEnvSource(t: EnvConfig, v: string, line: number): string | null {
  const colon = v.indexOf(':');
  if (colon <= 0 || colon === v.length - 1) return `'${v}' is neither SERVICE:PATH (an env file) nor env:PREFIX (the gateway's own environment)`;
  const name = v.slice(0, colon);
  const rest = v.slice(colon + 1);
  if (name === 'env') {
    if (!ENV_SOURCE_NAME.test(rest)) return `env:${rest}: the prefix must be letters, digits and _, not starting with a digit`;
    if (t.sources.some((s) => s.kind === 'environment' && s.prefix === rest)) return `env:${rest} is given twice`;
    t.sources.push({ kind: 'environment', prefix: rest, line });
    return null;
  }
  if (!ENV_SOURCE_NAME.test(name)) {
    return `'${name}' cannot prefix variable names (${name}_VAR must be a shell variable name: letters, digits and _, not starting with a digit)`;
  }
  if (t.sources.some((s) => s.kind === 'file' && s.service === name)) return `a second Source for ${name} (one env file per service)`;
  t.sources.push({ kind: 'file', service: name, path: rest, line });
  return null;
}

/** Stores a parsed value with `set`, or returns the parse error. */
function store<V>(p: Parsed<V>, set: (v: V) => void): string | null {
  if (!p.ok) return p.error;
  set(p.value);
  return null;
}

const single = { repeatable: false, list: false } as const;
const many = { repeatable: true, list: false } as const;
const list = { repeatable: true, list: true } as const;

const INTERFACE_KEYS: KeySpec<InterfaceConfig>[] = [
  { name: 'PrivateKey', layer: 'wg', ...single, apply: (t, v) => store(parseKey(v), (k) => { t.privateKey = k; }) },
  { name: 'ListenPort', layer: 'wg', ...single, apply: (t, v) => store(parsePort(v, 0), (p) => { t.listenPort = p; }) },
  { name: 'FwMark', layer: 'wg', ...single, apply: (t, v) => store(parseFwMark(v), (m) => { t.fwMark = m; }) },
  {
    name: 'Address', layer: 'wg-quick', ...list,
    apply: (t, v) => store(parseCidr(v, { prefixOptional: true, hostBits: 'keep' }), (c) => { t.addresses.push(c.cidr); }),
  },
  {
    // wg-quick treats digits-and-dots or anything with ':' as a server address, the rest as search domains.
    name: 'DNS', layer: 'wg-quick', ...list,
    apply: (t, v) => {
      const ip = canonicalIP(v);
      if (ip) { t.dns.push(ip); return null; }
      if (/^[0-9.]+$/.test(v) || v.includes(':')) return `'${v}' is not an IP address`;
      if (!isHostname(v)) return `'${v}' is neither an IP address nor a search domain`;
      t.dnsSearch.push(v.toLowerCase());
      return null;
    },
  },
  {
    name: 'MTU', layer: 'wg-quick', ...single,
    apply: (t, v) => {
      if (!/^[0-9]{1,5}$/.test(v) || Number(v) < 68 || Number(v) > 65535) return `'${v}' is not an MTU (68-65535)`;
      t.mtu = Number(v);
      return null;
    },
  },
  {
    name: 'Table', layer: 'wg-quick', ...single,
    apply: (t, v) => {
      if (!TABLE.test(v) || (/^[0-9]+$/.test(v) && Number(v) > 0xffffffff)) return `'${v}' is not off, auto, a table number or a table name`;
      t.table = v;
      return null;
    },
  },
  { name: 'PreUp', layer: 'wg-quick', ...many, apply: (t, v) => { t.preUp.push(v); return null; } },
  { name: 'PostUp', layer: 'wg-quick', ...many, apply: (t, v) => { t.postUp.push(v); return null; } },
  { name: 'PreDown', layer: 'wg-quick', ...many, apply: (t, v) => { t.preDown.push(v); return null; } },
  { name: 'PostDown', layer: 'wg-quick', ...many, apply: (t, v) => { t.postDown.push(v); return null; } },
  { name: 'SaveConfig', layer: 'wg-quick', ...single, apply: (t, v) => store(parseBool(v), (b) => { t.saveConfig = b; }) },
];

const PEER_KEYS: KeySpec<PeerConfig>[] = [
  { name: 'PublicKey', layer: 'wg', ...single, apply: (t, v) => store(parseKey(v), (k) => { t.publicKey = k; }) },
  { name: 'PresharedKey', layer: 'wg', ...single, apply: (t, v) => store(parseKey(v), (k) => { t.presharedKey = k; }) },
  {
    name: 'AllowedIPs', layer: 'wg', ...list,
    apply: (t, v, ctx) => store(parseCidr(v, { prefixOptional: true, hostBits: 'mask' }), (c) => {
      if (c.hadHostBits) ctx.warn(`AllowedIPs '${v}' has a nonzero host part; using ${c.cidr.address}/${c.cidr.prefix}`);
      t.allowedIPs.push(c.cidr);
    }),
  },
  { name: 'Endpoint', layer: 'wg', ...single, apply: (t, v) => store(parseHostPort(v, true), (e) => { t.endpoint = e; }) },
  {
    name: 'PersistentKeepalive', layer: 'wg', ...single,
    apply: (t, v) => store(parseKeepalive(v), (s) => { t.persistentKeepalive = s; }),
  },
  {
    name: 'Name', layer: 'wgts', ...single,
    apply: (t, v) => {
      if (!PEER_NAME.test(v)) return `'${v}' is not a peer name (1-63 letters, digits, '.', '_', '-')`;
      t.name = v;
      return null;
    },
  },
  {
    name: 'Allow', layer: 'wgts', ...list,
    apply: (t, v, ctx) => {
      const bad = checkAllowRule(v);
      if (bad) return bad;
      t.allow.push(v);
      t.source?.allowLines.push(ctx.line);
      return null;
    },
  },
  {
    name: 'AllowInbound', layer: 'wgts', ...list,
    apply: (t, v, ctx) => {
      const bad = checkInboundRule(v);
      if (bad) return bad;
      (t.allowInbound ??= []).push(v);
      if (t.source) (t.source.allowInboundLines ??= []).push(ctx.line);
      return null;
    },
  },
  { name: 'Disabled', layer: 'wgts', ...single, apply: (t, v) => store(parseBool(v), (b) => { t.disabled = b; }) },
  { name: 'Expires', layer: 'wgts', ...single, apply: (t, v) => store(parseTimestamp(v), (ms) => { t.expires = ms; }) },
  { name: 'Issued', layer: 'wgts', ...single, apply: (t, v) => store(parseIssued(v), (r) => { t.issued = r; }) },
  {
    name: 'Env', layer: 'wgts', ...list,
    apply: (t, v) => {
      const bad = checkEnvGrant(v);
      if (bad) return bad;
      (t.env ??= []).push(v);
      return null;
    },
  },
];

const ENV_KEYS: KeySpec<EnvConfig>[] = [
  { name: 'Source', layer: 'wgts', ...many, apply: (t, v, ctx) => applyEnvSource(t, v, ctx.line) },
  { name: 'Port', layer: 'wgts', ...single, apply: (t, v) => store(parsePort(v, 1), (p) => { t.port = p; }) },
];

const GATEWAY_KEYS: KeySpec<GatewayConfig>[] = [
  {
    name: 'Name', layer: 'wgts', ...single,
    apply: (t, v) => {
      const bad = projectNameProblem(v);
      if (bad) return bad;
      t.name = v;
      return null;
    },
  },
  {
    name: 'Network', layer: 'wgts', ...list,
    apply: (t, v) => store(parseCidr(v, { prefixOptional: false, hostBits: 'reject' }), (c) => { t.networks.push(c.cidr); }),
  },
  {
    name: 'Domain', layer: 'wgts', ...single,
    apply: (t, v) => {
      if (!isHostname(v)) return `'${v}' is not a domain name`;
      t.domain = v.toLowerCase();
      return null;
    },
  },
  { name: 'Endpoint', layer: 'wgts', ...single, apply: (t, v) => store(parseHostPort(v, true), (e) => { t.endpoint = e; }) },
  {
    name: 'Host', layer: 'wgts', ...list,
    apply: (t, v) => {
      const eq = v.indexOf('=');
      const name = eq < 0 ? '' : v.slice(0, eq).trim();
      const address = eq < 0 ? null : canonicalIP(v.slice(eq + 1).trim());
      if (!isHostname(name) || !address) return `'${v}' is not NAME=IP`;
      t.hosts.push({ name: name.toLowerCase(), address });
      return null;
    },
  },
  { name: 'Masquerade', layer: 'wgts', ...single, apply: (t, v) => store(parseBool(v), (b) => { t.masquerade = b; }) },
  {
    // Repeatable, in order of preference; `none` alone turns forwarding off.
    name: 'Upstream', layer: 'wgts', ...list,
    apply: (t, v) => {
      if (v.toLowerCase() === 'none') {
        if (Array.isArray(t.upstream)) return `'none' cannot be combined with resolver addresses`;
        t.upstream = 'none';
        return null;
      }
      if (t.upstream === 'none') return `'${v}': Upstream = none cannot be combined with resolver addresses`;
      const p = parseDnsServer(v);
      if (!p.ok) return `${p.error}, or none`;
      t.upstream = [...(t.upstream ?? []), p.value];
      return null;
    },
  },
  {
    name: 'ListenDns', layer: 'wgts', ...single,
    apply: (t, v) => {
      const p = parseDnsServer(v);
      if (!p.ok) return p.error;
      if (p.value.port !== DNS_PORT) {
        return `port ${p.value.port}: laptops send DNS to port ${DNS_PORT} only (a client config's DNS = line has no port), so the gateway's DNS must listen there`;
      }
      t.listenDns = p.value;
      return null;
    },
  },
  { name: 'Metrics', layer: 'wgts', ...single, apply: (t, v) => store(parseHostPort(v, false), (e) => { t.metrics = e; }) },
];

const byLowerName = <T>(specs: KeySpec<T>[]): ReadonlyMap<string, KeySpec<T>> =>
  new Map(specs.map((s) => [s.name.toLowerCase(), s]));

/** Every section's keys, by lower-case name (keys are case-insensitive). */
export const SCHEMA: {
  readonly Interface: ReadonlyMap<string, KeySpec<InterfaceConfig>>;
  readonly Peer: ReadonlyMap<string, KeySpec<PeerConfig>>;
  readonly Gateway: ReadonlyMap<string, KeySpec<GatewayConfig>>;
  readonly Env: ReadonlyMap<string, KeySpec<EnvConfig>>;
} = { Interface: byLowerName(INTERFACE_KEYS), Peer: byLowerName(PEER_KEYS), Gateway: byLowerName(GATEWAY_KEYS), Env: byLowerName(ENV_KEYS) };

/** The facts about `key` (any case) in a section, or undefined when the section has no such key. */
export function keyInfo(section: SectionKind, key: string): KeyInfo | undefined {
  return SCHEMA[section].get(key.toLowerCase());
}

/** The section kind named by a header (any case), or undefined. */
export function sectionKind(name: string): SectionKind | undefined {
  switch (name.toLowerCase()) {
    case 'interface': return 'Interface';
    case 'peer': return 'Peer';
    case 'gateway': return 'Gateway';
    case 'env': return 'Env';
    default: return undefined;
  }
}
