// What a gateway config means for its DNS service, in one place for `wgts up` (what to listen on,
// whom to answer, where other names go) and for onboarding (the DNS address written into every
// client config), so the two can never disagree:
//
// - it listens on every tunnel address (Address =), port 53, or on ListenDns alone (one tunnel
//   address or a wildcard, port 53: the parser refuses anything else);
// - it answers only sources inside the tunnel subnets;
// - names it does not hold go to the `Upstream =` servers, to nobody with `Upstream = none`, and by
//   default to the gateway host's own resolvers (its resolv.conf);
// - laptops are told the IPv4 tunnel address it listens on (the IPv6 one when it listens on that
//   alone): an address they route into the tunnel, where it answers on port 53.
import { DNS_PORT, formatCidr, formatDnsServer, parseCidr, type Cidr } from '../../config/ip.js';
import type { WgtsConfig } from '../../config/model.js';
import type { UpstreamSetting } from './responder.js';

/** The DNS service of a gateway config. */
export interface DnsService {
  /** Addresses to listen on, all at `port`. */
  listen: string[];
  port: number;
  /** Client prefixes (the tunnel subnets, host bits clear). */
  clients: string[];
  upstream: UpstreamSetting;
}

const isWildcard = (host: string): boolean => host === '0.0.0.0' || host === '::';

/** The subnet of an interface address as CIDR text (10.123.0.1/24 -> 10.123.0.0/24). */
function subnetText(a: Cidr): string {
  const p = parseCidr(formatCidr(a), { prefixOptional: false, hostBits: 'mask' });
  return p.ok ? formatCidr(p.value.cidr) : formatCidr(a);
}

/** The DNS service of a gateway config; null for a config without [Gateway] or tunnel address. */
export function dnsServiceOf(config: WgtsConfig): DnsService | null {
  const g = config.gateway;
  const addresses = config.interface.addresses;
  if (!g || addresses.length === 0) return null;
  const listen = g.listenDns ? [g.listenDns.host] : [...new Set(addresses.map((a) => a.address))];
  const upstream: UpstreamSetting = g.upstream === undefined ? 'system' : g.upstream === 'none' ? 'none' : g.upstream.map(formatDnsServer);
  return { listen, port: g.listenDns?.port ?? DNS_PORT, clients: [...new Set(addresses.map(subnetText))], upstream };
}

/**
 * The address a laptop's `DNS =` names, chosen among `reachable` (the gateway addresses that
 * laptops route into the tunnel): the first IPv4 one the service listens on, else the first IPv6
 * one. Null when the service listens on none of them (the client config would name a dead DNS).
 */
export function clientDnsAddress(config: WgtsConfig, reachable: readonly string[]): string | null {
  const svc = dnsServiceOf(config);
  if (svc === null || svc.port !== DNS_PORT) return null;
  const served = (a: string): boolean => svc.listen.some((l) => l === a || (isWildcard(l) && (l === '::' || !a.includes(':'))));
  const ok = reachable.filter(served);
  return ok.find((a) => !a.includes(':')) ?? ok[0] ?? null;
}
