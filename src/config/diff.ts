// What changed between two parsed configs, in the terms a running device needs to apply a file
// change live (the job of `wg syncconf`): device keys, peers added / removed / changed (peers are
// identified by PublicKey; a new key is a removal plus an addition, as in wg), and which
// wg-quick and [Gateway] settings changed (those need the layers above, or a restart).
//
// Equality is by meaning, not spelling: addresses are compared in canonical form, AllowedIPs as
// sets, and an absent PersistentKeepalive or FwMark equals `off` (0).
import { formatCidr, formatDnsServer, formatHostPort, type Cidr, type HostPort } from './ip.js';
import type { GatewayConfig, InterfaceConfig, PeerConfig, WgtsConfig } from './model.js';

/** A value before and after; undefined means absent. */
export interface Change<T> {
  from: T | undefined;
  to: T | undefined;
}

/** The wg(8) device settings that changed (a field is present only when it changed). */
export interface DeviceChanges {
  privateKey?: Change<string>;
  listenPort?: Change<number>;
  fwMark?: Change<number>;
}

/** The wgts or wg(8) fields a peer can change without being replaced. */
export type PeerField = 'presharedKey' | 'allowedIPs' | 'endpoint' | 'persistentKeepalive' | 'name' | 'allow' | 'allowInbound' | 'env';

/** One peer present in both configs whose settings differ. */
export interface PeerChange {
  publicKey: string;
  before: PeerConfig;
  after: PeerConfig;
  fields: PeerField[];
  /** AllowedIPs to insert into and remove from the routing table. */
  allowedIPsAdded: Cidr[];
  allowedIPsRemoved: Cidr[];
}

/** The wg-quick keys of [Interface]. */
export type InterfaceField = 'addresses' | 'dns' | 'dnsSearch' | 'mtu' | 'table' | 'preUp' | 'postUp' | 'preDown' | 'postDown' | 'saveConfig';

/** The [Gateway] settings (the whole section appearing or disappearing lists them all). */
export type GatewayField = 'networks' | 'domain' | 'endpoint' | 'hosts' | 'masquerade' | 'upstream' | 'listenDns';

/** Everything that differs between two configs. */
export interface ConfigDiff {
  device: DeviceChanges;
  peersAdded: PeerConfig[];
  peersRemoved: PeerConfig[];
  peersChanged: PeerChange[];
  interfaceFields: InterfaceField[];
  gatewayFields: GatewayField[];
  /** The [Env] section (its sources or port) changed, appeared or disappeared. */
  env: boolean;
  /** True when nothing at all differs. */
  empty: boolean;
}

const sameList = (a: readonly string[], b: readonly string[]): boolean => a.length === b.length && a.every((x, i) => x === b[i]);
const hostPort = (hp: HostPort | undefined): string | undefined => (hp ? formatHostPort(hp) : undefined);

function peerChange(a: PeerConfig, b: PeerConfig): PeerChange | null {
  const fields: PeerField[] = [];
  const before = new Map(a.allowedIPs.map((c) => [formatCidr(c), c]));
  const after = new Map(b.allowedIPs.map((c) => [formatCidr(c), c]));
  const allowedIPsAdded = [...after].filter(([k]) => !before.has(k)).map(([, c]) => c);
  const allowedIPsRemoved = [...before].filter(([k]) => !after.has(k)).map(([, c]) => c);
  if (a.presharedKey !== b.presharedKey) fields.push('presharedKey');
  if (allowedIPsAdded.length || allowedIPsRemoved.length) fields.push('allowedIPs');
  if (hostPort(a.endpoint) !== hostPort(b.endpoint)) fields.push('endpoint');
  if ((a.persistentKeepalive ?? 0) !== (b.persistentKeepalive ?? 0)) fields.push('persistentKeepalive');
  if (a.name !== b.name) fields.push('name');
  if (!sameList(a.allow, b.allow)) fields.push('allow');
  if (!sameList(a.allowInbound ?? [], b.allowInbound ?? [])) fields.push('allowInbound');
  if (!sameList(a.env ?? [], b.env ?? [])) fields.push('env');
  return fields.length ? { publicKey: b.publicKey, before: a, after: b, fields, allowedIPsAdded, allowedIPsRemoved } : null;
}

function deviceChanges(a: InterfaceConfig, b: InterfaceConfig): DeviceChanges {
  const d: DeviceChanges = {};
  if (a.privateKey !== b.privateKey) d.privateKey = { from: a.privateKey, to: b.privateKey };
  if (a.listenPort !== b.listenPort) d.listenPort = { from: a.listenPort, to: b.listenPort };
  if ((a.fwMark ?? 0) !== (b.fwMark ?? 0)) d.fwMark = { from: a.fwMark, to: b.fwMark };
  return d;
}

function interfaceFields(a: InterfaceConfig, b: InterfaceConfig): InterfaceField[] {
  const f: InterfaceField[] = [];
  if (!sameList(a.addresses.map(formatCidr), b.addresses.map(formatCidr))) f.push('addresses');
  for (const k of ['dns', 'dnsSearch', 'preUp', 'postUp', 'preDown', 'postDown'] as const) if (!sameList(a[k], b[k])) f.push(k);
  for (const k of ['mtu', 'table', 'saveConfig'] as const) if (a[k] !== b[k]) f.push(k);
  return f;
}

/** Each gateway field as comparable text (undefined when the section is absent). */
function gatewayView(g: GatewayConfig | undefined): Record<GatewayField, string | undefined> {
  return {
    networks: g?.networks.map(formatCidr).join(','),
    domain: g ? g.domain ?? '' : undefined,
    endpoint: g ? hostPort(g.endpoint) ?? '' : undefined,
    hosts: g?.hosts.map((h) => `${h.name}=${h.address}`).join(','),
    masquerade: g ? String(g.masquerade) : undefined,
    upstream: g ? (g.upstream === undefined || g.upstream === 'none' ? g.upstream ?? '' : g.upstream.map(formatDnsServer).join(',')) : undefined,
    listenDns: g ? hostPort(g.listenDns) ?? '' : undefined,
  };
}

/** The [Env] section as comparable text ('' when absent). */
function envView(c: WgtsConfig): string {
  return c.env ? JSON.stringify([c.env.port ?? null, c.env.sources.map((s) => (s.kind === 'file' ? `${s.service}:${s.path}` : `env:${s.prefix}`))]) : '';
}

/** What changed from `before` to `after`. Peers keep the order of their config. */
export function diffConfigs(before: WgtsConfig, after: WgtsConfig): ConfigDiff {
  const old = new Map(before.peers.map((p) => [p.publicKey, p]));
  const now = new Map(after.peers.map((p) => [p.publicKey, p]));
  const peersAdded = after.peers.filter((p) => !old.has(p.publicKey));
  const peersRemoved = before.peers.filter((p) => !now.has(p.publicKey));
  const peersChanged: PeerChange[] = [];
  for (const p of after.peers) {
    const prev = old.get(p.publicKey);
    const change = prev ? peerChange(prev, p) : null;
    if (change) peersChanged.push(change);
  }
  const device = deviceChanges(before.interface, after.interface);
  const gv0 = gatewayView(before.gateway);
  const gv1 = gatewayView(after.gateway);
  const gatewayFields = (Object.keys(gv1) as GatewayField[]).filter((k) => gv0[k] !== gv1[k]);
  const iface = interfaceFields(before.interface, after.interface);
  const env = envView(before) !== envView(after);
  const empty = Object.keys(device).length === 0 && !peersAdded.length && !peersRemoved.length
    && !peersChanged.length && !iface.length && !gatewayFields.length && !env;
  return { device, peersAdded, peersRemoved, peersChanged, interfaceFields: iface, gatewayFields, env, empty };
}
