// Applying a config file to a running device, at start and on every change of the file.
//
// A config reaches the device as a UAPI `set=1` body applied with applySet (the code path of
// `wg setconf` / `wg syncconf`): deviceSetBody() for the whole config at start, reloadSetBody()
// for what diffConfigs() found changed (peers added / removed / changed, device keys). Endpoint
// host names are resolved first (resolveEndpoints), since UAPI only carries IP literals.
//
// The running side keeps no key: withoutSecrets() replaces the private and preshared keys of the
// config it retains (for the next diff) with fingerprints, and the file text is kept as a digest;
// reloadSetBody() takes the keys from the freshly parsed config.
//
// watchConfigFile() notices changes: it watches the file's directory (editors and
// writeFileAtomic rename a new file over the old one, which a watch on the file itself would
// lose) and calls back once events for that name have been quiet for the debounce time.
import { createHash } from 'node:crypto';
import { lookup as dnsLookup } from 'node:dns/promises';
import { watch, type FSWatcher } from 'node:fs';
import { basename, dirname } from 'node:path';
import { keyFromBase64, keyToHex } from '../crypto/keys.js';
import type { ConfigDiff } from '../config/diff.js';
import { formatCidr, formatHostPort, parseIP, type HostPort } from '../config/ip.js';
import type { InterfaceConfig, PeerConfig, WgtsConfig } from '../config/model.js';

/** Quiet time after the last file event before a reload (ms). */
export const RELOAD_DEBOUNCE_MS = 200;

/** The UAPI endpoint text (IP literal, IPv6 in brackets) of each peer with an Endpoint, by public key. */
export type ResolvedEndpoints = ReadonlyMap<string, string>;

/** Resolves one host name to an address (dns.lookup semantics: /etc/hosts, then the resolver). */
export type HostLookup = (host: string) => Promise<string>;

const systemLookup: HostLookup = async (host) => (await dnsLookup(host)).address;

/** Resolves the Endpoint of each of `peers`; errors name the peer and the host. */
export async function resolveEndpoints(peers: readonly PeerConfig[], lookup: HostLookup = systemLookup):
  Promise<{ ok: true; endpoints: ResolvedEndpoints } | { ok: false; errors: string[] }> {
  const endpoints = new Map<string, string>();
  const errors: string[] = [];
  for (const p of peers) {
    if (!p.endpoint) continue;
    let host = p.endpoint.host;
    if (!parseIP(host)) {
      try {
        host = await lookup(host);
      } catch (e) {
        errors.push(`peer ${p.name ?? p.publicKey}: cannot resolve endpoint host ${p.endpoint.host}: ${e instanceof Error ? e.message : String(e)}`);
        continue;
      }
    }
    endpoints.set(p.publicKey, formatHostPort({ host, port: p.endpoint.port } satisfies HostPort));
  }
  return errors.length > 0 ? { ok: false, errors } : { ok: true, endpoints };
}

const ZERO_KEY_HEX = '0'.repeat(64);

/** Hex form of a base64 key the config layer already validated. */
function hex(base64: string): string {
  const k = keyFromBase64(base64);
  if (!k) throw new Error('not a key (the config layer validated it)');
  const text = keyToHex(k);
  k.fill(0);
  return text;
}

/** A one-way fingerprint of a secret's text: equal keys give equal fingerprints, and it reveals nothing. */
export function secretFingerprint(text: string): string {
  return `sha256:${createHash('sha256').update(text).digest('hex')}`;
}

/**
 * `config` with its private key and preshared keys replaced by their fingerprints: what a running
 * interface keeps to diff the next version of the file against (diffConfigs compares the values,
 * so a changed key still shows up as changed).
 */
export function withoutSecrets(config: WgtsConfig): WgtsConfig {
  const { privateKey, ...iface } = config.interface;
  return {
    ...config,
    interface: privateKey === undefined ? iface : { ...iface, privateKey: secretFingerprint(privateKey) },
    peers: config.peers.map((p) => {
      const { presharedKey, ...rest } = p;
      return presharedKey === undefined ? rest : { ...rest, presharedKey: secretFingerprint(presharedKey) };
    }),
  };
}

/** The `set=1` lines of one peer: everything when `full` (new peer), else only `fields`. */
function peerLines(p: PeerConfig, endpoints: ResolvedEndpoints, fields: ReadonlySet<string> | 'all'): string[] {
  const has = (f: string): boolean => fields === 'all' || fields.has(f);
  const lines = [`public_key=${hex(p.publicKey)}`];
  if (fields !== 'all') lines.push('update_only=true');
  if (has('presharedKey')) lines.push(`preshared_key=${p.presharedKey ? hex(p.presharedKey) : ZERO_KEY_HEX}`);
  const ep = endpoints.get(p.publicKey);
  if (has('endpoint') && ep !== undefined) lines.push(`endpoint=${ep}`);
  if (has('allowedIPs')) {
    lines.push('replace_allowed_ips=true');
    for (const c of p.allowedIPs) lines.push(`allowed_ip=${formatCidr(c)}`);
  }
  // Last, so the keepalive wireguard-go sends when it is turned on goes to the new endpoint.
  if (has('persistentKeepalive')) lines.push(`persistent_keepalive_interval=${p.persistentKeepalive ?? 0}`);
  return lines;
}

function deviceLines(i: InterfaceConfig): string[] {
  return [
    `private_key=${i.privateKey ? hex(i.privateKey) : ZERO_KEY_HEX}`,
    `listen_port=${i.listenPort ?? 0}`,
    `fwmark=${i.fwMark ?? 0}`,
  ];
}

/** The `set=1` body that removes the peers with these base64 public keys (`remove=true` each). */
export function removalSetBody(publicKeys: readonly string[]): string {
  if (publicKeys.length === 0) return '';
  return `${publicKeys.flatMap((k) => [`public_key=${hex(k)}`, 'remove=true']).join('\n')}\n\n`;
}

/**
 * The `set=1` body that brings a device whose state is uncertain (an earlier body failed part-way)
 * to `config` without replacing it: every device key and every peer in full. Peers the config does
 * not hold are not touched (removalSetBody). Setting a value the device already has changes nothing:
 * sessions of existing peers stay.
 */
export function syncSetBody(config: WgtsConfig, endpoints: ResolvedEndpoints): string {
  const lines = deviceLines(config.interface);
  for (const p of config.peers) lines.push(...peerLines(p, endpoints, 'all'));
  return `${lines.join('\n')}\n\n`;
}

/** The `set=1` body that makes a device exactly `config` (replace_peers, like `wg setconf`). */
export function deviceSetBody(config: WgtsConfig, endpoints: ResolvedEndpoints): string {
  const lines = [...deviceLines(config.interface), 'replace_peers=true'];
  for (const p of config.peers) lines.push(...peerLines(p, endpoints, 'all'));
  return `${lines.join('\n')}\n\n`;
}

/**
 * The `set=1` body that applies `diff` to a device running the old config: changed device keys,
 * removed peers (`remove=true`: the device forgets them and their sessions), added peers, and the
 * changed fields of the others. Empty when nothing of the device changed. A removed Endpoint
 * cannot be expressed in UAPI: the device keeps the last one (as with `wg syncconf`).
 */
export function reloadSetBody(diff: ConfigDiff, after: WgtsConfig, endpoints: ResolvedEndpoints): string {
  const lines: string[] = [];
  // The diff may come from configs without secrets (withoutSecrets): keys are taken from `after`.
  const real = new Map(after.peers.map((p) => [p.publicKey, p]));
  const actual = (p: PeerConfig): PeerConfig => real.get(p.publicKey) ?? p;
  if (diff.device.privateKey) lines.push(`private_key=${after.interface.privateKey ? hex(after.interface.privateKey) : ZERO_KEY_HEX}`);
  if (diff.device.listenPort) lines.push(`listen_port=${after.interface.listenPort ?? 0}`);
  if (diff.device.fwMark) lines.push(`fwmark=${after.interface.fwMark ?? 0}`);
  for (const p of diff.peersRemoved) lines.push(`public_key=${hex(p.publicKey)}`, 'remove=true');
  for (const p of diff.peersAdded) lines.push(...peerLines(actual(p), endpoints, 'all'));
  for (const c of diff.peersChanged) {
    const fields = new Set<string>(c.fields.filter((f) => f !== 'name' && f !== 'allow' && f !== 'allowInbound'));
    if (fields.size > 0) lines.push(...peerLines(actual(c.after), endpoints, fields));
  }
  return lines.length === 0 ? '' : `${lines.join('\n')}\n\n`;
}

/**
 * What of `next` a running interface can take over live: everything except the wg-quick keys of
 * [Interface] (addresses, DNS, MTU, Table, hooks) and a [Gateway] section appearing or
 * disappearing, which keep their running values from `running` until a restart.
 */
export function liveApplicable(running: WgtsConfig, next: WgtsConfig): WgtsConfig {
  const r = running.interface;
  const out: WgtsConfig = {
    interface: { ...next.interface, addresses: r.addresses, dns: r.dns, dnsSearch: r.dnsSearch, mtu: r.mtu, table: r.table, preUp: r.preUp, postUp: r.postUp, preDown: r.preDown, postDown: r.postDown, saveConfig: r.saveConfig },
    peers: next.peers,
  };
  const gateway = !!running.gateway === !!next.gateway ? next.gateway : running.gateway;
  if (gateway) out.gateway = gateway;
  if (gateway && next.env) out.env = next.env;
  return out;
}

/** The peers of `diff` whose Endpoint must be (re)resolved before reloadSetBody. */
export function peersNeedingEndpoints(diff: ConfigDiff): PeerConfig[] {
  return [...diff.peersAdded, ...diff.peersChanged.filter((c) => c.fields.includes('endpoint')).map((c) => c.after)];
}

/** A running file watch. */
export interface ConfigWatch {
  close(): void;
}

/**
 * Calls `onChange` when the file at `path` may have changed (written, replaced, created or
 * deleted), once events have been quiet for `debounceMs`. The callback re-reads the file itself;
 * events for other names in the directory (lock and temp files) are ignored.
 */
export function watchConfigFile(path: string, onChange: () => void, onError: (e: Error) => void,
  debounceMs = RELOAD_DEBOUNCE_MS): ConfigWatch {
  const name = basename(path);
  let timer: NodeJS.Timeout | null = null;
  const watcher: FSWatcher = watch(dirname(path), { persistent: false }, (_event, file) => {
    if (file !== null && file !== name) return;
    if (timer) clearTimeout(timer);
    timer = setTimeout(() => { timer = null; onChange(); }, debounceMs);
  });
  watcher.on('error', onError);
  return {
    close(): void {
      if (timer) clearTimeout(timer);
      timer = null;
      watcher.close();
    },
  };
}
