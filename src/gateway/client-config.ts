// The wg-quick config a laptop gets from `wgts peer add`: its own key and tunnel address, the
// gateway's DNS (split DNS for the project domain), and one peer, the gateway, routing only the
// project networks and the gateway's tunnel address through the tunnel.
import type { Cidr, HostPort } from '../config/ip.js';
import type { WgtsConfig } from '../config/model.js';
import { emptyInterface } from '../config/parse.js';
import { formatConfig } from '../config/write.js';

/** Keepalive interval for laptops: keeps NAT mappings open so the gateway can reach them. */
export const CLIENT_KEEPALIVE_SECONDS = 25;

/** Everything a client config holds. */
export interface ClientConfigInput {
  /** The laptop's private key (base64). Only ever placed in this text, never stored on the gateway. */
  privateKey: string;
  /** The laptop's tunnel addresses as host prefixes (/32, /128). */
  addresses: Cidr[];
  /** The gateway's tunnel IPv4 address: the DNS server for the project names. */
  dnsServer: string;
  /** The project domain, written as a DNS search domain (wg-quick's `DNS = IP, DOMAIN`). */
  domain?: string;
  gatewayPublicKey: string;
  presharedKey: string;
  endpoint: HostPort;
  /** The project networks and the gateway's tunnel host prefixes. */
  allowedIPs: Cidr[];
}

/** The client config text in wg-quick format (parses back with parseConfig to the same values). */
export function clientConfigText(c: ClientConfigInput): string {
  const config: WgtsConfig = {
    interface: {
      ...emptyInterface(),
      privateKey: c.privateKey,
      addresses: c.addresses,
      dns: [c.dnsServer],
      dnsSearch: c.domain === undefined ? [] : [c.domain],
    },
    peers: [{
      publicKey: c.gatewayPublicKey,
      presharedKey: c.presharedKey,
      allowedIPs: c.allowedIPs,
      endpoint: c.endpoint,
      persistentKeepalive: CLIENT_KEEPALIVE_SECONDS,
      allow: [],
    }],
  };
  return formatConfig(config);
}
