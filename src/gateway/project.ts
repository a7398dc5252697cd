// A gateway's project: its name (`Name =` in [Gateway], else derived from the gateway file's name),
// which names what every laptop receives: the client config's file and interface (NAME.conf, at
// most 15 characters, a valid interface name) and, for new gateways, the DNS domain. Two projects
// on one laptop thus get two interfaces and two domains that never collide.
import { createHash } from 'node:crypto';
import { basename } from 'node:path';
import type { WgtsConfig } from '../config/model.js';
import { PROJECT_NAME } from '../config/schema.js';

/** Linux interface names are at most 15 bytes. */
export const IFNAME_MAX = 15;

/** A project name made from a file name (`/etc/wireguard/Shop_Prod.conf` -> `shop-prod`). */
export function projectNameFromFile(file: string): string {
  const base = basename(file).replace(/\.conf$/, '').toLowerCase();
  const name = base.replace(/[^a-z0-9-]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 63).replace(/-+$/, '');
  return PROJECT_NAME.test(name) ? name : 'wgts';
}

/** The project name of a gateway config: its `Name =`, else the one its file name gives. */
export function projectName(config: WgtsConfig, file: string): string {
  return config.gateway?.name ?? projectNameFromFile(file);
}

/**
 * The interface name laptops use for a project: the name itself when it fits in 15 characters,
 * else its first 10 characters and 4 hex digits of its hash (`customer-portal-eu` ->
 * `customer-p-3f2a`), so that two long names sharing a prefix still differ.
 */
export function projectIfname(name: string): string {
  if (name.length <= IFNAME_MAX) return name;
  const hash = createHash('sha256').update(name).digest('hex').slice(0, 4);
  return `${name.slice(0, 10).replace(/-+$/, '')}-${hash}`;
}

/** The file name laptops save the project's client config as: IFNAME.conf. */
export function projectConfName(name: string): string {
  return `${projectIfname(name)}.conf`;
}
