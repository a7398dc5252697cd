// Checking what onboarding works from: the options of `gateway init` (every problem is collected
// and reported at once, each naming the bad value), and the facts a gateway file must provide
// before peers can be added to it.
import { canonicalIP, formatCidr, isHostname, parseCidr, parseDnsServer, parseHostPort, type Cidr, type HostPort } from '../config/ip.js';
import type { GatewayConfig, HostEntry, WgtsConfig } from '../config/model.js';
import { projectNameProblem } from '../config/schema.js';
import { OnboardError } from './onboard-errors.js';
import { projectNameFromFile } from './project.js';
import { containsIP, hostPosition, overlaps, subnetOf, type TunnelAddresses } from './onboard-net.js';

/** Default UDP port of a new gateway. */
export const DEFAULT_LISTEN_PORT = 51820;
/** The name the gateway's DNS answers with its own tunnel address; no Host may take it. */
export const GATEWAY_HOST_NAME = 'gateway';

/** Options of initGateway (texts as a user types them). */
export interface InitOptions {
  /**
   * The gateway's tunnel address with the subnet prefix peers are numbered in, e.g. 10.123.0.1/24.
   * One IPv4 address is required; one IPv6 address (e.g. fd00:123::1/64) may be added, and peers
   * then get the same host number in it.
   */
  address: string | readonly string[];
  /** The project networks behind the gateway, aligned prefixes (10.124.0.0/24). At least one. */
  networks: readonly string[];
  /** HOST:PORT laptops connect to; HOST may be a DNS name (vpn.example.com:51820). */
  endpoint: string;
  /** UDP port the gateway listens on (default 51820). */
  listenPort?: number;
  /**
   * The project's name (a lower-case DNS label), which names every client config (NAME.conf,
   * interface NAME) and is the default domain. Default: made from the gateway file's name.
   */
  name?: string;
  /** DNS domain of the project network (default: the project name, so two projects never share one). */
  domain?: string;
  /** Service names for the gateway's DNS, `name=ip`, each ip inside one of the networks. */
  hosts?: readonly string[];
  /**
   * Resolvers for names the gateway does not hold (`IP`, `IPv4:PORT`, `[IPv6]:PORT`), in order, or
   * `none` to refuse them. Default: none given, so the gateway host's own resolvers are used.
   */
  upstream?: readonly string[];
  /** Replace an existing file (its key and peers are lost). */
  force?: boolean;
}

/** The checked, canonical content of a new gateway config (everything but the key). */
export interface GatewaySettings {
  addresses: Cidr[];
  listenPort: number;
  gateway: GatewayConfig;
}

/** Interface addresses: exactly one usable IPv4 one, at most one IPv6 one. */
function checkAddresses(texts: readonly string[], problems: string[]): Cidr[] {
  const out: Cidr[] = [];
  for (const text of texts) {
    const p = parseCidr(text, { prefixOptional: false, hostBits: 'keep' });
    if (!p.ok) { problems.push(`address '${text}': ${p.error}`); continue; }
    const c = p.value.cidr;
    const max = c.family === 4 ? 30 : 126;
    const pos = hostPosition(c);
    if (out.some((o) => o.family === c.family)) {
      problems.push(`address '${text}': only one IPv${c.family} address can be given`);
    } else if (c.prefix > max) {
      problems.push(`address '${text}': a /${c.prefix} subnet leaves no address for peers (use /${max} or shorter, e.g. ${c.family === 4 ? '/24' : '/64'})`);
    } else if (pos !== 'host') {
      problems.push(`address '${text}' is the ${pos} address of ${formatCidr(subnetOf(c))}; give the gateway's own address in the subnet, e.g. ${c.family === 4 ? '10.123.0.1/24' : 'fd00:123::1/64'}`);
    } else {
      out.push(c);
    }
  }
  const v4 = out.find((c) => c.family === 4);
  const v6 = out.find((c) => c.family === 6);
  if (!v4 && !problems.some((p) => p.startsWith('address'))) {
    problems.push('an IPv4 address with its subnet is needed (peers are numbered in it), e.g. 10.123.0.1/24');
  }
  if (v4 && v6 && 128 - v6.prefix < 32 - v4.prefix) {
    problems.push(`address '${formatCidr(v6)}': its subnet is smaller than the IPv4 one (/${v4.prefix}); peers get the same host number in both, so use /${96 + v4.prefix} or shorter`);
  }
  return out;
}

/** Project networks: aligned, not the whole address space, apart from each other and the tunnel. */
export function checkNetworks(texts: readonly string[], addresses: readonly Cidr[], problems: string[]): Cidr[] {
  if (texts.length === 0) problems.push('at least one network is needed, e.g. 10.124.0.0/24');
  const out: Cidr[] = [];
  for (const text of texts) {
    const p = parseCidr(text, { prefixOptional: false, hostBits: 'reject' });
    if (!p.ok) { problems.push(`network '${text}': ${p.error}`); continue; }
    const c = p.value.cidr;
    const tunnel = addresses.find((a) => overlaps(subnetOf(a), c));
    const other = out.find((o) => overlaps(o, c));
    if (c.prefix === 0) {
      problems.push(`network '${text}' is every address (a full tunnel); give the project networks only`);
    } else if (tunnel) {
      problems.push(`network '${text}' overlaps the tunnel subnet ${formatCidr(subnetOf(tunnel))}`);
    } else if (other) {
      problems.push(`network '${text}' overlaps network ${formatCidr(other)}`);
    } else if (c.family === 6 && addresses.length > 0 && !addresses.some((a) => a.family === 6)) {
      problems.push(`network '${text}' is IPv6, so the gateway needs an IPv6 address too (e.g. fd00:123::1/64)`);
    } else {
      out.push(c);
    }
  }
  return out;
}

/** `name=ip` entries: DNS names (unique, not the gateway's own) with an address in a network. */
export function checkHosts(texts: readonly string[], networks: readonly Cidr[], domain: string | undefined, problems: string[]): HostEntry[] {
  const out: HostEntry[] = [];
  const reserved = new Set([GATEWAY_HOST_NAME, `${GATEWAY_HOST_NAME}.${domain ?? ''}`]);
  for (const text of texts) {
    const eq = text.indexOf('=');
    const name = (eq < 0 ? text : text.slice(0, eq)).trim().toLowerCase();
    const ipText = eq < 0 ? '' : text.slice(eq + 1).trim();
    const ip = canonicalIP(ipText);
    if (eq < 0) { problems.push(`host '${text}': expected NAME=IP, e.g. app=10.124.0.10`); continue; }
    if (!isHostname(name)) { problems.push(`host '${text}': '${name}' is not a DNS name`); continue; }
    if (!ip) { problems.push(`host '${text}': '${ipText}' is not an IP address`); continue; }
    if (reserved.has(name)) { problems.push(`host '${text}': the name '${name}' is reserved for the gateway itself`); continue; }
    if (out.some((h) => h.name === name)) { problems.push(`host '${text}': the name '${name}' is given twice`); continue; }
    const family = ip.includes(':') ? 6 : 4;
    if (networks.length > 0 && !networks.some((n) => containsIP(n, ip, family))) {
      problems.push(`host '${text}': ${ip} is outside the networks (${networks.map(formatCidr).join(', ')})`);
      continue;
    }
    out.push({ name, address: ip });
  }
  return out;
}

/**
 * Checks the options of a new gateway and returns its canonical settings, or throws one
 * OnboardError 'bad-option' listing every problem found.
 */
export function checkInitOptions(opts: InitOptions, file: string): GatewaySettings {
  const problems: string[] = [];
  const addresses = checkAddresses(typeof opts.address === 'string' ? [opts.address] : opts.address, problems);
  const networks = checkNetworks(opts.networks, addresses, problems);

  const listenPort = opts.listenPort ?? DEFAULT_LISTEN_PORT;
  if (!Number.isInteger(listenPort) || listenPort < 1 || listenPort > 65535) {
    problems.push(`listen port '${listenPort}' is not a port (1-65535)`);
  }

  const name = opts.name ?? projectNameFromFile(file);
  const badName = projectNameProblem(name);
  if (badName !== null) problems.push(`name ${badName}`);
  const domain = opts.domain ?? name;
  if (!isHostname(domain)) problems.push(`domain '${domain}' is not a DNS name`);

  const endpoint = checkEndpoint(opts.endpoint, networks, addresses, problems);

  const hosts = checkHosts(opts.hosts ?? [], networks, isHostname(domain) ? domain.toLowerCase() : undefined, problems);
  const upstream = checkUpstream(opts.upstream ?? [], problems);
  if (problems.length > 0 || endpoint === null) throw new OnboardError('bad-option', problems);
  const gateway: GatewayConfig = { name, networks, domain: domain.toLowerCase(), endpoint, hosts, masquerade: true };
  if (upstream !== undefined) gateway.upstream = upstream;
  return { addresses, listenPort, gateway };
}

/** The public HOST:PORT laptops connect to: parsed, and not inside what laptops route into the tunnel. */
export function checkEndpoint(text: string, networks: readonly Cidr[], addresses: readonly Cidr[], problems: string[]): HostPort | null {
  const endpoint = parseHostPort(text, true);
  if (!endpoint.ok) {
    problems.push(`endpoint '${text}': ${endpoint.error} (expected HOST:PORT, e.g. vpn.example.com:51820)`);
    return null;
  }
  const host = endpoint.value.host;
  const family = host.includes(':') ? 6 : 4;
  const inside = canonicalIP(host) === null ? undefined : [...networks, ...addresses.map(subnetOf)].find((n) => containsIP(n, host, family));
  if (inside) {
    problems.push(`endpoint '${text}' is inside ${formatCidr(inside)}, which laptops route into the tunnel; the endpoint must be reachable outside it`);
    return null;
  }
  return endpoint.value;
}

/** `--upstream` values: DNS servers in order, or `none` alone; none given = the host's resolvers. */
function checkUpstream(texts: readonly string[], problems: string[]): HostPort[] | 'none' | undefined {
  if (texts.length === 0) return undefined;
  if (texts.some((t) => t.toLowerCase() === 'none')) {
    if (texts.length > 1) problems.push(`upstream 'none' cannot be combined with resolver addresses (${texts.join(', ')})`);
    return 'none';
  }
  const out: HostPort[] = [];
  for (const t of texts) {
    const p = parseDnsServer(t);
    if (p.ok) out.push(p.value);
    else problems.push(`upstream ${p.error} (expected e.g. 10.124.0.2, 10.124.0.2:5353, [fd00::53]:53, or none)`);
  }
  return out;
}

/** What adding a peer needs from a gateway file. */
export interface GatewayFacts {
  tunnel: TunnelAddresses;
  privateKey: string;
  gateway: GatewayConfig & { endpoint: NonNullable<GatewayConfig['endpoint']> };
}

/**
 * The gateway facts of a parsed file, or an OnboardError 'not-gateway' naming what is missing.
 * The tunnel is the first IPv4 Address whose subnet has room for peers, plus the first usable
 * IPv6 Address whose subnet is at least as large (else peers get IPv4 only).
 */
export function gatewayFacts(config: WgtsConfig, file: string): GatewayFacts {
  const gw = config.gateway;
  if (!gw) throw new OnboardError('not-gateway', `${file} has no [Gateway] section, so it is not a gateway config (create one with 'wgts gateway init')`);
  const usable = (c: Cidr, max: number): boolean => c.prefix <= max && hostPosition(c) === 'host';
  const v4 = config.interface.addresses.find((c) => c.family === 4 && usable(c, 30));
  if (!v4) throw new OnboardError('not-gateway', `${file}: [Interface] has no IPv4 Address with a subnet for peers (such as Address = 10.123.0.1/24)`);
  const privateKey = config.interface.privateKey;
  if (privateKey === undefined) throw new OnboardError('not-gateway', `${file}: [Interface] has no PrivateKey`);
  const endpoint = gw.endpoint;
  if (!endpoint) throw new OnboardError('not-gateway', `${file}: [Gateway] has no Endpoint (HOST:PORT that laptops connect to)`);
  const v6 = config.interface.addresses.find((c) => c.family === 6 && usable(c, 126) && 128 - c.prefix >= 32 - v4.prefix);
  return { tunnel: v6 ? { v4, v6 } : { v4 }, privateKey, gateway: { ...gw, endpoint } };
}
