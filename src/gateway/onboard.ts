// Gateway onboarding: creating a gateway config file, and adding, listing and removing the laptops
// (peers) in it. A library without console output; src/cli/gateway.ts and src/cli/peer.ts print.
//
// Every change is one transaction of the gateway's store (store.ts; for a file: the PATH.lock lock,
// then a temp file renamed over PATH), so concurrent commands never lose a peer, a kill at any
// moment leaves the old or the new file, and a running gateway watching the file only ever reads
// complete configs. A laptop's private key is generated here, placed in the
// returned client config and nowhere else; the gateway file only learns its public key.
import { access, lstat, stat } from 'node:fs/promises';
import { constants } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { formatCidr, formatIP, type Cidr } from '../config/ip.js';
import { issuedChanges, type IssuedField } from '../config/issued.js';
import type { PeerConfig, WgtsConfig } from '../config/model.js';
import { emptyInterface } from '../config/parse.js';
import { checkAllowRule, checkEnvGrant, checkInboundRule, SCHEMA } from '../config/schema.js';
import { formatTimestamp } from '../config/time.js';
import { writeFileAtomic } from '../config/write.js';
import { generatePresharedKey, generatePrivateKey, keyToBase64, publicKey } from '../crypto/keys.js';
import { parseAccessRule, ruleAlias } from '../router/access.js';
import {
  clientConfigText, clientHeader, clientView, gatewayView, peerAddresses, type ClientView, type GatewayView,
} from './client-config.js';
import { OnboardError } from './onboard-errors.js';
import { allocateHost, hostCidr, overlaps, peerCapacity, subnetOf } from './onboard-net.js';
import { checkInitOptions, gatewayFacts, type InitOptions } from './onboard-options.js';
import { peerState, type PeerState } from './peer-state.js';
import { dnsTargetOf, isConfigInterfaceName } from './plan.js';
import { projectConfName, projectName } from './project.js';
import { storeFor } from './store.js';

export { OnboardError, type OnboardErrorCode } from './onboard-errors.js';
export { DEFAULT_LISTEN_PORT, type InitOptions } from './onboard-options.js';

/** Config files hold keys: owner read/write only. */
const SECRET_MODE = 0o600;

/** Comment at the top of a new gateway file. */
const GATEWAY_HEADER = [
  '# wgts gateway config, created by `wgts gateway init`.',
  '# Add laptops with `wgts peer add FILE NAME`; a running `wgts up FILE` applies changes live.',
  '',
  '',
].join('\n');

/** What initGateway wrote. */
export interface InitResult {
  /** The project name (Name =), which names every client config. */
  name: string;
  /** The DNS domain (Domain =). */
  domain: string;
  /** The gateway's public key (base64), which every laptop config names. */
  publicKey: string;
  /** The tunnel addresses with their subnets, e.g. ['10.123.0.1/24']. */
  addresses: string[];
}

/** A peer as listed: no secrets (the preshared key stays in the file). */
export interface PeerInfo {
  name: string | null;
  publicKey: string;
  /** The peer's tunnel address: its first IPv4 host route, else its first host route, else null. */
  address: string | null;
  /** Every AllowedIPs entry, `ADDRESS/PREFIX`. */
  allowedIPs: string[];
  /** Access rules as written; empty means the default: the project networks (not the gateway host). */
  allow: string[];
  /** AllowInbound rules: connections the project may open to the peer (empty: none). */
  allowInbound: string[];
  /** active, disabled (Disabled = true) or expired (Expires in the past): only active peers are on the interface. */
  state: PeerState;
  /** `Expires =` as 2026-12-31T00:00:00Z, null when it never expires. */
  expires: string | null;
  /**
   * Whether the client config the laptop holds is current: 'current', 'outdated' (the gateway changed
   * since it was issued: `outdated` names what), or 'unknown' (no `Issued =` record: added by hand
   * or by an older wgts).
   */
  config: 'current' | 'outdated' | 'unknown';
  /** What changed since the config was issued: address, dns, key, endpoint, allowed. */
  outdated: IssuedField[];
  /** When its client config was last issued (2026-01-05T10:00:00Z), null without a record. */
  issued: string | null;
  /** Env grants: the project variables the peer may read (globs; empty: none). */
  env: string[];
}

/** Options of addPeer. */
export interface AddPeerOptions {
  /**
   * Access rules `CIDR[:PORT[-PORT]][/tcp|/udp|/icmp]` or `gateway[:PORT[-PORT]][/proto]`; none =
   * the project networks (not the gateway host), plus the gateway's DNS in every case.
   */
  allow?: readonly string[];
  /** AllowInbound rules `PORT[-PORT][/tcp|/udp]` or `icmp`: what the project may open to the laptop. */
  allowInbound?: readonly string[];
  /** Env grants (`app_*`): the project variables the laptop may read with `wgts env`; none = none. */
  env?: readonly string[];
  /**
   * Also write the client config to this path (mode 0600, atomically): `NAME.conf`, NAME a valid
   * interface name, since wgts up and wg-quick up name the interface after the file. Checked
   * before the gateway file is touched; when the write still fails, the peer is removed again and
   * an OnboardError 'bad-out' is thrown, so no peer is left without anyone holding its key.
   */
  out?: string;
  /** Replace an existing `out` file (refused otherwise). */
  force?: boolean;
  /** `Expires =` of the new peer (ms since the epoch); must be in the future. */
  expires?: number;
  /** The time used for the Issued record and expiry checks (default Date.now()). */
  now?: number;
}

/** What addPeer did. */
export interface AddPeerResult {
  name: string;
  /** The laptop's public key, as recorded in the gateway file. */
  publicKey: string;
  /** The allocated tunnel IPv4 address. */
  address: string;
  /** The allocated tunnel IPv6 address (same host number), when the gateway has an IPv6 Address. */
  address6?: string;
  /** The wg-quick config for the laptop, holding its private key. */
  clientConfig: string;
  /** The file name to save it as (the project's: NAME.conf). */
  confName: string;
}

/**
 * Writes a new gateway config to `file`: a fresh private key, the checked options, no peers;
 * mode 0600, atomically, under the file's lock. Throws OnboardError 'bad-option' (listing every
 * bad option), 'exists' when the file exists and `force` is not set, 'no-file' when its
 * directory is missing.
 */
export async function initGateway(file: string, opts: InitOptions): Promise<InitResult> {
  const settings = checkInitOptions(opts, file);
  const key = generatePrivateKey();
  const config: WgtsConfig = {
    interface: { ...emptyInterface(), privateKey: keyToBase64(key), listenPort: settings.listenPort, addresses: settings.addresses },
    gateway: settings.gateway,
    peers: [],
  };
  await storeFor(file).create(config, { force: opts.force === true, header: GATEWAY_HEADER });
  return {
    name: settings.gateway.name ?? '',
    domain: settings.gateway.domain ?? '',
    publicKey: keyToBase64(publicKey(key)),
    addresses: settings.addresses.map(formatCidr),
  };
}

/** Why `name` is not a valid peer Name (the config parser's own rule), or null. */
function peerNameProblem(name: string): string | null {
  const spec = SCHEMA.Peer.get('name');
  const probe: PeerConfig = { publicKey: '', allowedIPs: [], allow: [] };
  return spec ? spec.apply(probe, name, { line: 0, warn: () => undefined }) : null;
}

/**
 * The destination prefix of an access rule ('gateway' for the alias), or why it is rejected. A
 * rule must satisfy both the gateway's rule parser (router/access.ts, which enforces it) and the
 * config file's shape check (which reads it back), so both are asked.
 */
export function allowDestination(rule: string): Cidr | 'gateway' | string {
  const shape = checkAllowRule(rule);
  if (shape !== null) return `allow ${shape}`;
  if (ruleAlias(rule) !== null) return 'gateway';
  const parsed = parseAccessRule(rule);
  if (!parsed.ok) return parsed.error;
  const { addr, cidr } = parsed.value;
  return { family: addr.length === 4 ? 4 : 6, address: formatIP(addr), prefix: cidr };
}

/**
 * Checks the output path before the gateway file changes: NAME.conf with an interface name, in an
 * existing, writable directory, not the gateway file, not an existing file unless `force`.
 * `suggestion` is the file name proposed instead of a bad one (the project's NAME.conf).
 */
export async function checkOutPath(file: string, out: string, suggestion: string, force: boolean): Promise<void> {
  const fail = (why: string): OnboardError => new OnboardError('bad-out', `cannot write the client config to ${out}: ${why}`);
  const target = await lstat(out).catch(() => null);
  if (target?.isDirectory()) throw fail('it is a directory');
  const base = basename(out);
  if (!base.endsWith('.conf') || !isConfigInterfaceName(base.slice(0, -5))) {
    throw fail(`wgts up and wg-quick up name the interface after the file, so it must be NAME.conf with NAME 1-15 of A-Z a-z 0-9 _ = + . - (e.g. --out ${join(dirname(out), suggestion)})`);
  }
  const dir = dirname(resolve(out));
  const dirStat = await stat(dir).catch(() => null);
  if (!dirStat?.isDirectory()) throw fail(`directory ${dir} does not exist`);
  await access(dir, constants.W_OK).catch(() => { throw fail(`directory ${dir} is not writable`); });
  const gateway = await stat(file).catch(() => null);
  if (target && gateway && target.dev === gateway.dev && target.ino === gateway.ino) throw fail('it is the gateway config itself');
  if (target && !force) throw fail('it already exists; use --force to replace it');
}

/** The gateway part of its client configs, or null when the file cannot issue any (not a gateway). */
function gatewayViewOrNull(config: WgtsConfig, file: string): GatewayView | null {
  try {
    return gatewayView(config, file);
  } catch {
    return null;
  }
}

/** Whether a peer's client config is current, from its Issued record and what the gateway issues now. */
function configState(p: PeerConfig, gateway: GatewayView | null): Pick<PeerInfo, 'config' | 'outdated' | 'issued'> {
  if (!p.issued) return { config: 'unknown', outdated: [], issued: null };
  if (gateway === null) return { config: 'unknown', outdated: [], issued: formatTimestamp(p.issued.at) };
  const now: ClientView = { address: peerAddresses(p).map(formatCidr), ...gateway };
  const outdated = issuedChanges(p.issued, now);
  return { config: outdated.length ? 'outdated' : 'current', outdated, issued: formatTimestamp(p.issued.at) };
}

/** The text summary of a peer at `now`, given what the gateway issues now (gatewayViewOrNull). */
function peerInfo(p: PeerConfig, gateway: GatewayView | null, now: number): PeerInfo {
  const hosts = p.allowedIPs.filter((c) => c.prefix === (c.family === 4 ? 32 : 128));
  const host = hosts.find((c) => c.family === 4) ?? hosts[0];
  return {
    name: p.name ?? null,
    publicKey: p.publicKey,
    address: host ? host.address : null,
    allowedIPs: p.allowedIPs.map(formatCidr),
    allow: [...p.allow],
    allowInbound: [...(p.allowInbound ?? [])],
    state: peerState(p, now),
    expires: p.expires === undefined ? null : formatTimestamp(p.expires),
    ...configState(p, gateway),
    env: [...(p.env ?? [])],
  };
}

/** The client config text of `peer` with its secrets, issued now, and the view recorded for it. */
export function issueClientConfig(config: WgtsConfig, peer: PeerConfig, file: string, privateKey: string): { text: string; view: ClientView } {
  const view = clientView(config, peer, file);
  const project = projectName(config, file);
  const secrets = peer.presharedKey === undefined ? { privateKey } : { privateKey, presharedKey: peer.presharedKey };
  return { text: clientConfigText(view, secrets, clientHeader(project, peer.name ?? peer.publicKey)), view };
}

/**
 * Adds laptop `name` to the gateway config `file` and returns its client config. Under the file
 * lock: checks the name is new (names compare case-insensitively), allocates the lowest free
 * tunnel address of the gateway's IPv4 subnet (skipping the network, broadcast and gateway
 * addresses, every peer's AllowedIPs and the project networks; with an IPv6 gateway Address the
 * same host number in its subnet too), and appends a [Peer] with Name, PublicKey, a new
 * PresharedKey, AllowedIPs = the address(es) as host routes, one Allow line per rule, one
 * AllowInbound line per inbound rule and one Env line per variable grant.
 *
 * Throws OnboardError: 'bad-name', 'bad-allow' (naming the rule; a rule must also reach into a
 * project network), 'duplicate-name', 'subnet-full', 'not-gateway', 'no-file', 'config'
 * (FILE:LINE), 'bad-out'. The file is unchanged whenever an error is thrown.
 */
export async function addPeer(file: string, name: string, opts: AddPeerOptions = {}): Promise<AddPeerResult> {
  const now = opts.now ?? Date.now();
  const badName = peerNameProblem(name);
  if (badName !== null) throw new OnboardError('bad-name', `peer name: ${badName}`);
  const rules = [...(opts.allow ?? [])];
  const destinations: (Cidr | null)[] = [];
  for (const rule of rules) {
    const d = allowDestination(rule);
    if (d === 'gateway') destinations.push(null);
    else if (typeof d === 'string') throw new OnboardError('bad-allow', d);
    else destinations.push(d);
  }
  const inbound = [...(opts.allowInbound ?? [])];
  for (const rule of inbound) {
    const bad = checkInboundRule(rule);
    if (bad !== null) throw new OnboardError('bad-allow', `allow-inbound ${bad}`);
  }
  if (opts.expires !== undefined && opts.expires <= now) {
    throw new OnboardError('bad-option', `--expires ${formatTimestamp(opts.expires)} is not in the future`);
  }
  const grants = [...(opts.env ?? [])];
  for (const g of grants) {
    const bad = checkEnvGrant(g);
    if (bad !== null) throw new OnboardError('bad-allow', `env ${bad}`);
  }
  const store = storeFor(file);
  if (opts.out !== undefined) await checkOutFor(file, opts.out, opts.force === true);
  const { privateKey: clientKey, publicKey: clientPublic, presharedKey: psk } = newLaptopKeys();

  const { value: made } = await store.edit((config) => {
    const facts = gatewayFacts(config, file);
    const { networks } = facts.gateway;
    rules.forEach((rule, i) => {
      const d = destinations[i];
      if (d !== null && d !== undefined && !networks.some((n) => overlaps(n, d))) {
        throw new OnboardError('bad-allow', `allow rule '${rule}' is outside the project networks (${networks.map(formatCidr).join(', ')})`);
      }
    });
    const lower = name.toLowerCase();
    if (config.peers.some((p) => p.name?.toLowerCase() === lower)) {
      throw new OnboardError('duplicate-name', `${file} already has a peer named '${name}'`);
    }
    const used: Cidr[] = [
      ...config.interface.addresses.map((a) => hostCidr(a.address, a.family)),
      ...config.peers.flatMap((p) => p.allowedIPs),
      ...networks,
    ];
    const alloc = allocateHost(facts.tunnel, used);
    if (!alloc) {
      const subnet = formatCidr(subnetOf(facts.tunnel.v4));
      throw new OnboardError('subnet-full', `no free tunnel address left in ${subnet} (${peerCapacity(facts.tunnel.v4)} peer addresses); remove a peer or use a larger subnet`);
    }
    const peerHosts = [hostCidr(alloc.v4, 4), ...(alloc.v6 === undefined ? [] : [hostCidr(alloc.v6, 6)])];
    const peer: PeerConfig = { name, publicKey: clientPublic, presharedKey: psk, allowedIPs: peerHosts, allow: rules };
    if (inbound.length > 0) peer.allowInbound = inbound;
    if (grants.length > 0) peer.env = grants;
    if (opts.expires !== undefined) peer.expires = opts.expires;
    const issued = issueClientConfig(config, peer, file, clientKey);
    peer.issued = { at: now, ...issued.view };
    config.peers.push(peer);
    return { config, value: { alloc, text: issued.text, confName: projectConfName(projectName(config, file)) } };
  });

  const { alloc, text: clientConfig, confName } = made;
  if (opts.out !== undefined) {
    await writeClientConfig(opts.out, clientConfig, opts.force === true, () => removePeer(file, clientPublic).then(() => 'the peer was removed again', (u: unknown) =>
      `removing the peer again failed too (${u instanceof Error ? u.message : String(u)}); remove it with 'wgts peer remove'`));
  }
  const result: AddPeerResult = { name, publicKey: clientPublic, address: alloc.v4, clientConfig, confName };
  if (alloc.v6 !== undefined) result.address6 = alloc.v6;
  return result;
}

/** A new laptop key pair and preshared key (base64). */
export function newLaptopKeys(): { privateKey: string; publicKey: string; presharedKey: string } {
  const key = generatePrivateKey();
  const psk = generatePresharedKey();
  const keys = { privateKey: keyToBase64(key), publicKey: keyToBase64(publicKey(key)), presharedKey: keyToBase64(psk) };
  key.fill(0);
  psk.fill(0);
  return keys;
}

/** checkOutPath with the project's file name as the suggestion. */
export async function checkOutFor(file: string, out: string, force: boolean): Promise<void> {
  const { config } = await storeFor(file).read();
  await checkOutPath(file, out, projectConfName(projectName(config, file)), force);
}

/**
 * Writes a client config to `out` (0600, atomically) after the gateway file changed; when that
 * fails, `undo` takes the change back and the OnboardError 'bad-out' says what it did.
 */
export async function writeClientConfig(out: string, text: string, force: boolean, undo: () => Promise<string>): Promise<void> {
  try {
    // Checked again: the file may have appeared while the gateway file was edited.
    if (!force && (await lstat(out).catch(() => null))) throw new Error('it appeared meanwhile (use --force to replace it)');
    await writeFileAtomic(out, text, SECRET_MODE);
  } catch (e) {
    const why = e instanceof Error ? e.message : String(e);
    throw new OnboardError('bad-out', `cannot write the client config to ${out}: ${why}; ${await undo()}`);
  }
}

/** The peers of a config file, in file order. Throws OnboardError 'no-file' or 'config'. */
export async function listPeers(file: string, now = Date.now()): Promise<PeerInfo[]> {
  const { config } = await storeFor(file).read();
  const gateway = gatewayViewOrNull(config, file);
  return config.peers.map((p) => peerInfo(p, gateway, now));
}

/** What every peer of a gateway file reaches by default: the project networks and the DNS address. */
export interface GatewayAccess {
  /** The Network = prefixes (what a peer without Allow lines reaches, the gateway host excepted). */
  networks: string[];
  /** `ADDRESS:PORT` of the gateway's DNS (every peer reaches it), null without a tunnel address. */
  dns: string | null;
  /** The tunnel addresses the `gateway` alias of Allow rules stands for. */
  gateway: string[];
}

/** The peers of a gateway file and the gateway's default access. Throws OnboardError. */
export async function listGatewayPeers(file: string, now = Date.now()): Promise<{ peers: PeerInfo[]; access: GatewayAccess | null }> {
  const { config } = await storeFor(file).read();
  const g = config.gateway;
  let access: GatewayAccess | null = null;
  if (g) {
    const dns = dnsTargetOf(config);
    access = {
      networks: g.networks.map(formatCidr),
      dns: dns ? (dns.address.includes(':') ? `[${dns.address}]:${dns.port}` : `${dns.address}:${dns.port}`) : null,
      gateway: config.interface.addresses.map((a) => a.address),
    };
  }
  const view = gatewayViewOrNull(config, file);
  return { peers: config.peers.map((p) => peerInfo(p, view, now)), access };
}

/** The peer of `config` whose PublicKey is `ref`, else whose Name is `ref` (any case); OnboardError 'no-such-peer'. */
export function findPeer(config: WgtsConfig, file: string, ref: string): PeerConfig {
  const lower = ref.toLowerCase();
  const peer = config.peers.find((p) => p.publicKey === ref) ?? config.peers.find((p) => p.name?.toLowerCase() === lower);
  if (!peer) throw new OnboardError('no-such-peer', `${file} has no peer named '${ref}' or with that public key`);
  return peer;
}

/**
 * Removes the peer whose PublicKey is `ref`, else whose Name is `ref` (any case), in one store
 * transaction, and returns what it was. Throws OnboardError 'no-such-peer', 'no-file' or 'config'.
 */
export async function removePeer(file: string, ref: string, now = Date.now()): Promise<PeerInfo> {
  const { value } = await storeFor(file).edit((config) => {
    const peer = findPeer(config, file, ref);
    const info = peerInfo(peer, gatewayViewOrNull(config, file), now);
    return { config: { ...config, peers: config.peers.filter((p) => p !== peer) }, value: info };
  });
  return value;
}
