// Gateway onboarding: creating a gateway config file, and adding, listing and removing the laptops
// (peers) in it. A library without console output; src/cli/gateway.ts and src/cli/peer.ts print.
//
// Every change is one locked, atomic read-modify-write of the file (src/config editConfigFile:
// the PATH.lock lock, then a temp file renamed over PATH), so concurrent commands never lose a
// peer, a kill at any moment leaves the old or the new file, and a running gateway watching the
// file only ever reads complete configs. A laptop's private key is generated here, placed in the
// returned client config and nowhere else; the gateway file only learns its public key.
import { access, lstat, readFile, stat } from 'node:fs/promises';
import { constants } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { formatCidr, formatHostPort, formatIP, type Cidr } from '../config/ip.js';
import { withFileLock } from '../config/lock.js';
import type { ConfigDocument, PeerConfig, WgtsConfig } from '../config/model.js';
import { emptyInterface, parseConfig, type ParseResult } from '../config/parse.js';
import { checkAllowRule, checkInboundRule, SCHEMA } from '../config/schema.js';
import {
  addPeer as addPeerSection, editConfigFile, formatConfig, removePeer as removePeerSection, writeFileAtomic,
} from '../config/write.js';
import { generatePresharedKey, generatePrivateKey, keyFromBase64, keyToBase64, publicKey } from '../crypto/keys.js';
import { parseAccessRule, ruleAlias } from '../router/access.js';
import { clientConfigText } from './client-config.js';
import { clientDnsAddress } from './dns/service.js';
import { configFailure, OnboardError } from './onboard-errors.js';
import { allocateHost, hostCidr, overlaps, peerCapacity, subnetOf } from './onboard-net.js';
import { checkInitOptions, gatewayFacts, type GatewayFacts, type InitOptions } from './onboard-options.js';
import { dnsTargetOf, isConfigInterfaceName } from './plan.js';

export { OnboardError, type OnboardErrorCode } from './onboard-errors.js';
export { DEFAULT_DOMAIN, DEFAULT_LISTEN_PORT, type InitOptions } from './onboard-options.js';

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
  /**
   * Also write the client config to this path (mode 0600, atomically): `NAME.conf`, NAME a valid
   * interface name, since wgts up and wg-quick up name the interface after the file. Checked
   * before the gateway file is touched; when the write still fails, the peer is removed again and
   * an OnboardError 'bad-out' is thrown, so no peer is left without anyone holding its key.
   */
  out?: string;
  /** Replace an existing `out` file (refused otherwise). */
  force?: boolean;
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
}

function errnoCode(e: unknown): string | undefined {
  return e instanceof Error && 'code' in e && typeof e.code === 'string' ? e.code : undefined;
}

/** Throws OnboardError 'no-file' when the directory of `file` does not exist. */
async function requireDirectory(file: string): Promise<void> {
  const dir = dirname(resolve(file));
  const st = await stat(dir).catch(() => null);
  if (!st?.isDirectory()) throw new OnboardError('no-file', `directory ${dir} does not exist`);
}

/**
 * Writes a new gateway config to `file`: a fresh private key, the checked options, no peers;
 * mode 0600, atomically, under the file's lock. Throws OnboardError 'bad-option' (listing every
 * bad option), 'exists' when the file exists and `force` is not set, 'no-file' when its
 * directory is missing.
 */
export async function initGateway(file: string, opts: InitOptions): Promise<InitResult> {
  const settings = checkInitOptions(opts);
  const key = generatePrivateKey();
  const config: WgtsConfig = {
    interface: { ...emptyInterface(), privateKey: keyToBase64(key), listenPort: settings.listenPort, addresses: settings.addresses },
    gateway: settings.gateway,
    peers: [],
  };
  await requireDirectory(file);
  await withFileLock(file, async () => {
    if (!opts.force && (await lstat(file).catch(() => null))) {
      throw new OnboardError('exists', `${file} already exists; use --force to replace it (its key and peers are lost)`);
    }
    await writeFileAtomic(file, GATEWAY_HEADER + formatConfig(config), SECRET_MODE);
  });
  return { publicKey: keyToBase64(publicKey(key)), addresses: settings.addresses.map(formatCidr) };
}

/**
 * One locked edit of `file` (editConfigFile) whose callback also computes a value; returns it.
 * A file that does not parse (before or after the edit) becomes OnboardError 'config' with the
 * parser's FILE:LINE errors; a missing file becomes 'no-file'.
 */
async function editWith<T>(file: string, fn: (doc: ConfigDocument, config: WgtsConfig) => { doc: ConfigDocument; value: T }): Promise<T> {
  let value: { v: T } | undefined;
  let result: ParseResult;
  try {
    result = await editConfigFile(file, (doc, config) => {
      const r = fn(doc, config);
      value = { v: r.value };
      return r.doc;
    });
  } catch (e) {
    if (errnoCode(e) === 'ENOENT') throw new OnboardError('no-file', `${file} does not exist (create it with 'wgts gateway init')`);
    throw e;
  }
  if (!result.ok) throw configFailure(result.errors);
  if (!value) throw new Error(`${file}: the edit did not run`);
  return value.v;
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
function allowDestination(rule: string): Cidr | 'gateway' | string {
  const shape = checkAllowRule(rule);
  if (shape !== null) return `allow ${shape}`;
  if (ruleAlias(rule) !== null) return 'gateway';
  const parsed = parseAccessRule(rule);
  if (!parsed.ok) return parsed.error;
  const { addr, cidr } = parsed.value;
  return { family: addr.length === 4 ? 4 : 6, address: formatIP(addr), prefix: cidr };
}

/** A config file name for peer `name` that wgts up and wg-quick accept (its interface name). */
export function clientConfName(name: string): string {
  return `${name.replace(/[^A-Za-z0-9_=+.-]/g, '-').slice(0, 15)}.conf`;
}

/**
 * Checks the output path before the gateway file changes: NAME.conf with an interface name, in an
 * existing, writable directory, not the gateway file, not an existing file unless `force`.
 */
async function checkOutPath(file: string, out: string, peerName: string, force: boolean): Promise<void> {
  const fail = (why: string): OnboardError => new OnboardError('bad-out', `cannot write the client config to ${out}: ${why}`);
  const target = await lstat(out).catch(() => null);
  if (target?.isDirectory()) throw fail('it is a directory');
  const base = basename(out);
  if (!base.endsWith('.conf') || !isConfigInterfaceName(base.slice(0, -5))) {
    throw fail(`wgts up and wg-quick up name the interface after the file, so it must be NAME.conf with NAME 1-15 of A-Z a-z 0-9 _ = + . - (e.g. --out ${join(dirname(out), clientConfName(peerName))})`);
  }
  const dir = dirname(resolve(out));
  const dirStat = await stat(dir).catch(() => null);
  if (!dirStat?.isDirectory()) throw fail(`directory ${dir} does not exist`);
  await access(dir, constants.W_OK).catch(() => { throw fail(`directory ${dir} is not writable`); });
  const gateway = await stat(file).catch(() => null);
  if (target && gateway && target.dev === gateway.dev && target.ino === gateway.ino) throw fail('it is the gateway config itself');
  if (target && !force) throw fail('it already exists; use --force to replace it');
}

/** The gateway's tunnel addresses as the host routes every laptop gets (the IPv6 one when peers get IPv6). */
function gatewayHosts(facts: GatewayFacts): Cidr[] {
  return [facts.tunnel.v4, ...(facts.tunnel.v6 ? [facts.tunnel.v6] : [])].map((a) => hostCidr(a.address, a.family));
}

/** The text summary of a peer. */
function peerInfo(p: PeerConfig): PeerInfo {
  const hosts = p.allowedIPs.filter((c) => c.prefix === (c.family === 4 ? 32 : 128));
  const host = hosts.find((c) => c.family === 4) ?? hosts[0];
  return {
    name: p.name ?? null,
    publicKey: p.publicKey,
    address: host ? host.address : null,
    allowedIPs: p.allowedIPs.map(formatCidr),
    allow: [...p.allow],
    allowInbound: [...(p.allowInbound ?? [])],
  };
}

/**
 * Adds laptop `name` to the gateway config `file` and returns its client config. Under the file
 * lock: checks the name is new (names compare case-insensitively), allocates the lowest free
 * tunnel address of the gateway's IPv4 subnet (skipping the network, broadcast and gateway
 * addresses, every peer's AllowedIPs and the project networks; with an IPv6 gateway Address the
 * same host number in its subnet too), and appends a [Peer] with Name, PublicKey, a new
 * PresharedKey, AllowedIPs = the address(es) as host routes, and one Allow line per rule.
 *
 * Throws OnboardError: 'bad-name', 'bad-allow' (naming the rule; a rule must also reach into a
 * project network), 'duplicate-name', 'subnet-full', 'not-gateway', 'no-file', 'config'
 * (FILE:LINE), 'bad-out'. The file is unchanged whenever an error is thrown.
 */
export async function addPeer(file: string, name: string, opts: AddPeerOptions = {}): Promise<AddPeerResult> {
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
  if (opts.out !== undefined) await checkOutPath(file, opts.out, name, opts.force === true);

  const clientKey = generatePrivateKey();
  const clientPublic = keyToBase64(publicKey(clientKey));
  const psk = keyToBase64(generatePresharedKey());

  const made = await editWith(file, (doc, config) => {
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
    const dnsServer = clientDnsAddress(config, gatewayHosts(facts).map((c) => c.address));
    if (dnsServer === null) {
      throw new OnboardError('not-gateway', `${file}: the gateway's DNS (ListenDns = ${facts.gateway.listenDns ? formatHostPort(facts.gateway.listenDns) : '?'}) is on no address laptops route into the tunnel (${gatewayHosts(facts).map((c) => c.address).join(', ')}); set ListenDns to one of them, or remove it`);
    }
    const peerHosts = [hostCidr(alloc.v4, 4), ...(alloc.v6 === undefined ? [] : [hostCidr(alloc.v6, 6)])];
    const peer: PeerConfig = { name, publicKey: clientPublic, presharedKey: psk, allowedIPs: peerHosts, allow: rules };
    if (inbound.length > 0) peer.allowInbound = inbound;
    return { doc: addPeerSection(doc, peer), value: { facts, alloc, peerHosts, dnsServer } };
  });

  const { facts, alloc, peerHosts, dnsServer } = made;
  const gatewayKey = keyFromBase64(facts.privateKey);
  if (!gatewayKey) throw new OnboardError('not-gateway', `${file}: the [Interface] PrivateKey is not a valid key`);
  const gatewayPublicKey = keyToBase64(publicKey(gatewayKey));
  gatewayKey.fill(0);
  const clientConfig = clientConfigText({
    privateKey: keyToBase64(clientKey),
    addresses: peerHosts,
    dnsServer,
    domain: facts.gateway.domain,
    gatewayPublicKey,
    presharedKey: psk,
    endpoint: facts.gateway.endpoint,
    allowedIPs: [...facts.gateway.networks, ...gatewayHosts(facts)],
  });

  if (opts.out !== undefined) {
    try {
      // Checked again: the file may have appeared while the gateway file was edited.
      if (!opts.force && (await lstat(opts.out).catch(() => null))) throw new Error('it appeared meanwhile (use --force to replace it)');
      await writeFileAtomic(opts.out, clientConfig, SECRET_MODE);
    } catch (e) {
      const why = e instanceof Error ? e.message : String(e);
      const undo = await removePeer(file, clientPublic).then(() => 'the peer was removed again', (u: unknown) =>
        `removing the peer again failed too (${u instanceof Error ? u.message : String(u)}); remove it with 'wgts peer remove'`);
      throw new OnboardError('bad-out', `cannot write the client config to ${opts.out}: ${why}; ${undo}`);
    }
  }
  const result: AddPeerResult = { name, publicKey: clientPublic, address: alloc.v4, clientConfig };
  if (alloc.v6 !== undefined) result.address6 = alloc.v6;
  return result;
}

/** The parsed config file; OnboardError 'no-file' or 'config'. */
async function readParsed(file: string): Promise<WgtsConfig> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    if (errnoCode(e) === 'ENOENT') throw new OnboardError('no-file', `${file} does not exist`);
    throw e;
  }
  const r = parseConfig(text, file);
  if (!r.ok) throw configFailure(r.errors);
  return r.config;
}

/** The peers of a config file, in file order. Throws OnboardError 'no-file' or 'config'. */
export async function listPeers(file: string): Promise<PeerInfo[]> {
  return (await readParsed(file)).peers.map(peerInfo);
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
export async function listGatewayPeers(file: string): Promise<{ peers: PeerInfo[]; access: GatewayAccess | null }> {
  const config = await readParsed(file);
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
  return { peers: config.peers.map(peerInfo), access };
}

/**
 * Removes the peer whose PublicKey is `ref`, else whose Name is `ref` (any case), under the file
 * lock, and returns what it was. Throws OnboardError 'no-such-peer', 'no-file' or 'config'.
 */
export async function removePeer(file: string, ref: string): Promise<PeerInfo> {
  return editWith(file, (doc, config) => {
    const lower = ref.toLowerCase();
    const peer = config.peers.find((p) => p.publicKey === ref) ?? config.peers.find((p) => p.name?.toLowerCase() === lower);
    if (!peer) throw new OnboardError('no-such-peer', `${file} has no peer named '${ref}' or with that public key`);
    return { doc: removePeerSection(doc, peer.publicKey), value: peerInfo(peer) };
  });
}
