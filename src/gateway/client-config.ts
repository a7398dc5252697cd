// The wg-quick config a laptop gets from `wgts peer add` / `peer rekey` / `peer config`: its own key
// and tunnel address, the gateway's DNS (split DNS for the project domain), and one peer, the
// gateway, routing only the project networks and the gateway's tunnel address through the tunnel.
//
// clientView() is what such a config holds apart from the two secrets, computed from the gateway's
// current state; it is also what a peer's `Issued =` record keeps, so a config issued before a
// change of the gateway (Endpoint, Network, domain, key) is found outdated by comparing the two.
import { formatCidr, formatHostPort, parseCidr, parseHostPort, type Cidr, type HostPort } from '../config/ip.js';
import type { IssuedRecord, PeerConfig, WgtsConfig } from '../config/model.js';
import { emptyInterface } from '../config/parse.js';
import { formatConfig } from '../config/write.js';
import { keyFromBase64, keyToBase64, publicKey } from '../crypto/keys.js';
import { clientDnsAddress } from './dns/service.js';
import { OnboardError } from './onboard-errors.js';
import { hostCidr } from './onboard-net.js';
import { gatewayFacts, type GatewayFacts } from './onboard-options.js';
import { projectConfName, projectIfname } from './project.js';

/** Keepalive interval for laptops: keeps NAT mappings open so the gateway can reach them. */
export const CLIENT_KEEPALIVE_SECONDS = 25;

/** What a client config holds besides the laptop's private key and the preshared key. */
export type ClientView = Omit<IssuedRecord, 'at'>;

/** The gateway's tunnel addresses as the host routes every laptop gets (the IPv6 one when peers get IPv6). */
export function gatewayHosts(facts: GatewayFacts): Cidr[] {
  return [facts.tunnel.v4, ...(facts.tunnel.v6 ? [facts.tunnel.v6] : [])].map((a) => hostCidr(a.address, a.family));
}

/**
 * The tunnel address laptops send DNS to; OnboardError 'not-gateway' when the gateway's DNS listens
 * on none of the addresses laptops route into the tunnel.
 */
export function clientDnsServer(config: WgtsConfig, facts: GatewayFacts, file: string): string {
  const reachable = gatewayHosts(facts).map((c) => c.address);
  const dns = clientDnsAddress(config, reachable);
  if (dns === null) {
    const listen = facts.gateway.listenDns ? formatHostPort(facts.gateway.listenDns) : '?';
    throw new OnboardError('not-gateway', `${file}: the gateway's DNS (ListenDns = ${listen}) is on no address laptops route into the tunnel (${reachable.join(', ')}); set ListenDns to one of them, or remove it`);
  }
  return dns;
}

/** The host prefixes of a peer's AllowedIPs: its tunnel addresses, the client config's Address. */
export function peerAddresses(peer: PeerConfig): Cidr[] {
  return peer.allowedIPs.filter((c) => c.prefix === (c.family === 4 ? 32 : 128));
}

/** What every client config of the gateway `config` (file `file`) holds now, the laptop's Address aside. */
export type GatewayView = Omit<ClientView, 'address'>;

/** The gateway part of every client config (derived once for a listing of many peers). */
export function gatewayView(config: WgtsConfig, file: string): GatewayView {
  const facts = gatewayFacts(config, file);
  const key = keyFromBase64(facts.privateKey);
  if (!key) throw new OnboardError('not-gateway', `${file}: the [Interface] PrivateKey is not a valid key`);
  const gatewayPublicKey = keyToBase64(publicKey(key));
  key.fill(0);
  const dns = clientDnsServer(config, facts, file);
  return {
    dns: [dns, ...(facts.gateway.domain === undefined ? [] : [facts.gateway.domain])],
    key: gatewayPublicKey,
    endpoint: formatHostPort(facts.gateway.endpoint),
    allowed: [...facts.gateway.networks, ...gatewayHosts(facts)].map(formatCidr),
  };
}

/** The client config of `peer` as the gateway `config` (file `file`) would issue it now, secrets aside. */
export function clientView(config: WgtsConfig, peer: PeerConfig, file: string, gateway: GatewayView = gatewayView(config, file)): ClientView {
  return { address: peerAddresses(peer).map(formatCidr), ...gateway };
}

/** The secrets of a client config (or placeholders for the lines the laptop's user fills in). */
export interface ClientSecrets { privateKey: string; presharedKey?: string }

/** The placeholder of a secret line the gateway cannot print (`peer config`). */
export const PRIVATE_KEY_PLACEHOLDER = '<PASTE the PrivateKey of your current config: the gateway does not store it>';
export const PRESHARED_KEY_PLACEHOLDER = '<PASTE the PresharedKey of your current config>';

const cidrs = (texts: readonly string[]): Cidr[] => texts.flatMap((t) => {
  const p = parseCidr(t, { prefixOptional: true, hostBits: 'keep' });
  return p.ok ? [p.value.cidr] : [];
});

/** What every client config of a project says first: the project, the peer, how to bring it up. */
export function clientHeader(project: string, peerName: string): string[] {
  const conf = projectConfName(project);
  return [
    `# wgts project ${project}: laptop ${peerName}.`,
    `# Save as ${conf} (interface ${projectIfname(project)}), then: wgts up ${conf}  (or: wg-quick up ./${conf})`,
  ];
}

/**
 * The client config text in wg-quick format: `header` comment lines, then [Interface] and the
 * gateway's [Peer]. With real secrets it parses back with parseConfig to the same values; with
 * the placeholders it does not parse until the user has filled them in (on purpose).
 */
export function clientConfigText(view: ClientView, secrets: ClientSecrets, header: readonly string[] = []): string {
  const dnsServers = view.dns.filter((d) => /^[0-9.]+$/.test(d) || d.includes(':'));
  const search = view.dns.filter((d) => !dnsServers.includes(d));
  const config: WgtsConfig = {
    interface: {
      ...emptyInterface(),
      privateKey: secrets.privateKey,
      addresses: cidrs(view.address),
      dns: dnsServers,
      dnsSearch: search,
    },
    peers: [{
      publicKey: view.key,
      allowedIPs: cidrs(view.allowed),
      endpoint: endpointOf(view.endpoint),
      persistentKeepalive: CLIENT_KEEPALIVE_SECONDS,
      allow: [],
    }],
  };
  if (secrets.presharedKey !== undefined) (config.peers[0] as PeerConfig).presharedKey = secrets.presharedKey;
  return [...header, ''].join('\n') + formatConfig(config);
}

/** HOST:PORT of a view back as a HostPort (it was written by formatHostPort). */
function endpointOf(text: string): HostPort {
  const p = parseHostPort(text, true);
  if (!p.ok) throw new Error(`bad endpoint in a client view: ${text}`);
  return p.value;
}
