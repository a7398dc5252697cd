// The layout of a gateway's state in etcd, under PREFIX (location.ts). Values are the wg-quick
// config text of the part they hold, so one parser (config/parse.ts) checks a registry and a file
// alike, and `etcdctl get --prefix PREFIX` reads like the file:
//
//   PREFIX/format          "wgts-registry 1": the schema version; written last by init/migrate,
//                          so a half-written registry is no gateway yet
//   PREFIX/identity        the gateway's private key (base64), alone: an etcd role can grant the
//                          rest of PREFIX without it (see the README)
//   PREFIX/settings        [Interface] without PrivateKey, [Gateway], [Env]
//   PREFIX/peers/ID        one [Peer] section; ID = the peer's Name in lower case, or
//                          `~` + its public key (base64url) for a peer without a name. Peers are
//                          in the order their keys were created (as in the file: appended)
//   PREFIX/keys/KEY        index: ID of the peer with public key KEY (base64url)
//   PREFIX/addresses/CIDR  index: ID of the peer routed CIDR (`10.123.0.2_32`): the tunnel address
//                          allocation, created with a create-revision = 0 compare
//   PREFIX/last-edit       when and where the last edit was made; its mod revision is the
//                          state's version
//
// Edits (store.ts) compare the keys they change (mod revision as read) or create (create revision
// 0), and always settings: two edits that touch the same peer, name, public key or address, or a
// settings edit and any other, cannot both succeed; the loser reads again and retries.
import { ConfigError } from '../../config/errors.js';
import { formatCidr, type Cidr } from '../../config/ip.js';
import type { PeerConfig, WgtsConfig } from '../../config/model.js';
import { parseConfig } from '../../config/parse.js';
import { formatConfig, peerEntries } from '../../config/write.js';

/** The value of PREFIX/format this version writes and reads. */
export const FORMAT = 'wgts-registry 1';

export const KEY_FORMAT = 'format';
export const KEY_IDENTITY = 'identity';
export const KEY_SETTINGS = 'settings';
export const KEY_LAST_EDIT = 'last-edit';
export const PEERS = 'peers/';
export const KEYS = 'keys/';
export const ADDRESSES = 'addresses/';

/** A stored key (relative to PREFIX/) with its value and revisions. */
export interface StoredKv {
  readonly value: string;
  readonly create: bigint;
  readonly mod: bigint;
}

/** The keys under PREFIX/, relative. */
export type KvMap = ReadonlyMap<string, StoredKv>;

/** base64url of a base64 key (etcd keys may hold '/', but a path segment reads better without). */
export const keySegment = (base64: string): string => base64.replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');

/** The ID of a peer under PREFIX/peers/. */
export function peerId(p: Pick<PeerConfig, 'name' | 'publicKey'>): string {
  return p.name !== undefined ? p.name.toLowerCase() : `~${keySegment(p.publicKey)}`;
}

const cidrSegment = (c: Cidr): string => formatCidr(c).replace('/', '_');

/** The text of one [Peer] section. */
export function peerText(p: PeerConfig): string {
  return `[Peer]\n${peerEntries(p).map(([k, v]) => `${k} = ${v}\n`).join('')}`;
}

/** The keys and values (relative to PREFIX/) a state is stored as, the format and last-edit keys apart. */
export function encodeState(config: WgtsConfig): Map<string, string> {
  const out = new Map<string, string>();
  const { privateKey, ...iface } = config.interface;
  if (privateKey !== undefined) out.set(KEY_IDENTITY, `${privateKey}\n`);
  out.set(KEY_SETTINGS, formatConfig({ ...config, interface: iface, peers: [] }));
  for (const p of config.peers) {
    const id = peerId(p);
    out.set(PEERS + id, peerText(p));
    out.set(KEYS + keySegment(p.publicKey), id);
    for (const c of p.allowedIPs) out.set(ADDRESSES + cidrSegment(c), id);
  }
  return out;
}

/** Where a line of the assembled text came from: a key (relative) and its line. */
interface Origin { key: string; line: number }

/** The peers' keys in the order they were created (ties: by key). */
export function peerKeysInOrder(kvs: KvMap): string[] {
  return [...kvs.entries()].filter(([k]) => k.startsWith(PEERS))
    .sort(([ka, a], [kb, b]) => (a.create < b.create ? -1 : a.create > b.create ? 1 : ka < kb ? -1 : ka > kb ? 1 : 0))
    .map(([k]) => k);
}

/**
 * The state as one wg-quick text (what `wgts up` parses, and the runtime compares to see a
 * change), with the origin of each line; null when PREFIX holds no settings.
 */
export function assemble(kvs: KvMap): { text: string; origins: Origin[] } | null {
  const settings = kvs.get(KEY_SETTINGS)?.value;
  if (settings === undefined) return null;
  const lines: string[] = [];
  const origins: Origin[] = [];
  const add = (key: string, value: string): void => {
    value.replace(/\n$/, '').split('\n').forEach((l, i) => { lines.push(l); origins.push({ key, line: i + 1 }); });
  };
  const [first, ...rest] = settings.replace(/\n$/, '').split('\n');
  lines.push(first ?? '');
  origins.push({ key: KEY_SETTINGS, line: 1 });
  const identity = kvs.get(KEY_IDENTITY)?.value.trim();
  if (identity !== undefined) {
    lines.push(`PrivateKey = ${identity}`);
    origins.push({ key: KEY_IDENTITY, line: 1 });
  }
  rest.forEach((l, i) => { lines.push(l); origins.push({ key: KEY_SETTINGS, line: i + 2 }); });
  for (const k of peerKeysInOrder(kvs)) {
    lines.push('');
    origins.push({ key: k, line: 0 });
    add(k, kvs.get(k)?.value ?? '');
  }
  return { text: `${lines.join('\n')}\n`, origins };
}

/** The outcome of decoding a registry: the typed state and its text, or the problems as KEY:LINE. */
export type Decoded =
  | { ok: true; config: WgtsConfig; text: string }
  | { ok: false; errors: ConfigError[] };

/**
 * Parses the stored state with the config parser; errors name `URL/KEY:LINE` (the line inside that
 * key's value). A settings key that does not open with [Interface] is refused too.
 */
export function decodeState(kvs: KvMap, url: string): Decoded | null {
  const a = assemble(kvs);
  if (a === null) return null;
  if (!/^\[Interface\]\s*$/.test(a.text.split('\n')[0] ?? '')) {
    return { ok: false, errors: [new ConfigError(`${url}/${KEY_SETTINGS}`, 1, 'missing-section', 'the settings must begin with [Interface]')] };
  }
  const r = parseConfig(a.text, url);
  if (r.ok) return { ok: true, config: r.config, text: a.text };
  return {
    ok: false,
    errors: r.errors.map((e) => {
      const o = a.origins[e.line - 1];
      return o ? new ConfigError(`${url}/${o.key}`, o.line, e.code, e.reason) : e;
    }),
  };
}

/** Checks a state as a whole the way a file is checked (formatted and parsed back); the parsed-back state or the errors. */
export function checkState(config: WgtsConfig, url: string): { ok: true; config: WgtsConfig } | { ok: false; errors: ConfigError[] } {
  const r = parseConfig(formatConfig(config), url);
  return r.ok ? { ok: true, config: r.config } : { ok: false, errors: r.errors };
}
