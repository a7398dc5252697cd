// Changing a running gateway's settings as store transactions (store.ts): `gateway host add /
// remove` (the DNS names), and `gateway set` (Endpoint, Network, Domain, Name). A running gateway
// applies each change live from the new state. Changes that alter what laptops hold in their client
// configs (Endpoint, Network, domain) make those configs outdated: the result names the peers,
// `peer list` shows them, and `peer config` / `peer rekey` re-issue.
import { formatCidr, formatHostPort, isHostname } from '../config/ip.js';
import { issuedChanges } from '../config/issued.js';
import type { HostEntry, WgtsConfig } from '../config/model.js';
import { projectNameProblem } from '../config/schema.js';
import { clientView, gatewayView } from './client-config.js';
import { OnboardError } from './onboard-errors.js';
import { overlaps } from './onboard-net.js';
import { checkEndpoint, checkHosts, checkNetworks } from './onboard-options.js';
import { storeFor } from './store.js';
import { allowDestination } from './onboard.js';

/** A laptop whose client config no longer matches the gateway, and in what. */
export interface OutdatedPeer {
  name: string | null;
  publicKey: string;
  fields: string[];
}

/** What a settings change did. */
export interface SettingsResult {
  /** What changed, e.g. ['endpoint', 'networks'] (empty: it was already so). */
  changed: string[];
  /** Laptops whose configs were current before and are outdated now. */
  outdated: OutdatedPeer[];
  /** Access rules that reach outside the (new) networks: they allow nothing any more. */
  warnings: string[];
  version: string;
}

/** The peers of `config` whose issued configs differ from what the gateway would issue now. */
function outdatedPeers(config: WgtsConfig, file: string): OutdatedPeer[] {
  const gateway = gatewayView(config, file);
  return config.peers.flatMap((p) => {
    if (!p.issued) return [];
    const fields = issuedChanges(p.issued, clientView(config, p, file, gateway));
    return fields.length ? [{ name: p.name ?? null, publicKey: p.publicKey, fields }] : [];
  });
}

/** Runs a settings edit; reports what it changed and which configs it made outdated. */
async function editSettings(file: string, fn: (config: WgtsConfig) => string[]): Promise<SettingsResult> {
  const done = await storeFor(file).edit((config) => {
    if (!config.gateway) throw new OnboardError('not-gateway', `${file} has no [Gateway] section, so it is not a gateway config (create one with 'wgts gateway init')`);
    const before = new Set(outdatedPeers(config, file).map((p) => p.publicKey));
    const changed = fn(config);
    const outdated = outdatedPeers(config, file).filter((p) => !before.has(p.publicKey));
    return { config, value: { changed, outdated, warnings: ruleWarnings(config) } };
  });
  return { ...done.value, version: done.version };
}

/** Allow rules of peers that name addresses outside every project network (they reach nothing). */
function ruleWarnings(config: WgtsConfig): string[] {
  const nets = config.gateway?.networks ?? [];
  const out: string[] = [];
  for (const p of config.peers) {
    for (const rule of p.allow) {
      const c = allowDestination(rule);
      if (typeof c === 'string') continue;
      if (!nets.some((n) => overlaps(n, c))) out.push(`peer ${p.name ?? p.publicKey}: the rule '${rule}' is outside the networks (${nets.map(formatCidr).join(', ')}) and allows nothing now`);
    }
  }
  return out;
}

const hostText = (h: HostEntry): string => `${h.name}=${h.address}`;

/** Adds `Host = NAME=IP` entries (checked as at init: a DNS name, an address inside a network, not taken). */
export async function addHosts(file: string, entries: readonly string[]): Promise<SettingsResult> {
  return editSettings(file, (config) => {
    const g = config.gateway as NonNullable<WgtsConfig['gateway']>;
    const problems: string[] = [];
    const hosts = checkHosts(entries, g.networks, g.domain, problems);
    for (const h of hosts) {
      const taken = g.hosts.find((o) => o.name === h.name);
      if (taken) problems.push(`host '${hostText(h)}': ${file} already has ${hostText(taken)} (remove it first: wgts gateway host remove ${file} ${taken.name})`);
    }
    if (problems.length > 0) throw new OnboardError('bad-option', problems);
    g.hosts.push(...hosts);
    return hosts.map((h) => `host ${hostText(h)}`);
  });
}

/** Removes Host entries: `NAME` (every address of it) or `NAME=IP` (that one). */
export async function removeHosts(file: string, refs: readonly string[]): Promise<SettingsResult> {
  return editSettings(file, (config) => {
    const g = config.gateway as NonNullable<WgtsConfig['gateway']>;
    const removed: string[] = [];
    for (const ref of refs) {
      const eq = ref.indexOf('=');
      const name = (eq < 0 ? ref : ref.slice(0, eq)).trim().toLowerCase();
      const address = eq < 0 ? null : ref.slice(eq + 1).trim();
      const hit = g.hosts.filter((h) => h.name === name && (address === null || h.address === address));
      if (hit.length === 0) throw new OnboardError('no-such-host', `${file} has no host ${ref} (its hosts: ${g.hosts.map(hostText).join(', ') || 'none'})`);
      g.hosts = g.hosts.filter((h) => !hit.includes(h));
      removed.push(...hit.map((h) => `host ${hostText(h)} removed`));
    }
    return removed;
  });
}

/** What `gateway set` may change. */
export interface GatewaySettingsChange {
  endpoint?: string;
  /** The new complete list of project networks. */
  networks?: readonly string[];
  domain?: string;
  name?: string;
}

/**
 * Changes gateway settings in one transaction, checked as at init: networks aligned, apart from
 * the tunnel and each other, still holding every Host; the endpoint outside what laptops route into
 * the tunnel; a DNS domain; a project name.
 */
export async function setGateway(file: string, change: GatewaySettingsChange): Promise<SettingsResult> {
  return editSettings(file, (config) => {
    const g = config.gateway as NonNullable<WgtsConfig['gateway']>;
    const problems: string[] = [];
    const changed: string[] = [];
    const addresses = config.interface.addresses;
    if (change.networks !== undefined) {
      const nets = checkNetworks(change.networks, addresses, problems);
      if (problems.length === 0) {
        for (const h of g.hosts) {
          const family = h.address.includes(':') ? 6 : 4;
          const c = { family: family as 4 | 6, address: h.address, prefix: family === 4 ? 32 : 128 };
          if (!nets.some((n) => overlaps(n, c))) problems.push(`host ${hostText(h)} would be outside the networks ${nets.map(formatCidr).join(', ')}; remove it first (wgts gateway host remove ${file} ${h.name}) or keep a network that holds it`);
        }
        if (nets.map(formatCidr).join(',') !== g.networks.map(formatCidr).join(',')) { g.networks = nets; changed.push('networks'); }
      }
    }
    if (change.endpoint !== undefined) {
      const ep = checkEndpoint(change.endpoint, g.networks, addresses, problems);
      if (ep && formatHostPort(ep) !== (g.endpoint ? formatHostPort(g.endpoint) : '')) { g.endpoint = ep; changed.push('endpoint'); }
    }
    if (change.domain !== undefined) {
      const d = change.domain.toLowerCase();
      if (!isHostname(d)) problems.push(`domain '${change.domain}' is not a DNS name`);
      else if (d !== g.domain) { g.domain = d; changed.push('domain'); }
    }
    if (change.name !== undefined) {
      const bad = projectNameProblem(change.name);
      if (bad !== null) problems.push(`name ${bad}`);
      else if (change.name !== g.name) { g.name = change.name; changed.push('name'); }
    }
    if (problems.length > 0) throw new OnboardError('bad-option', problems);
    return changed;
  });
}
