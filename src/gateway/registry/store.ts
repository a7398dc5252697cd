// EtcdStore: a gateway's state in etcd (schema.ts), behind the same GatewayStore interface as the
// file (../store.ts), so every `wgts gateway ...` / `wgts peer ...` command works on both alike.
//
// read(): one range read of PREFIX/ (a consistent snapshot at one revision), parsed as a file is.
// edit(fn): read, fn, check the result as a whole (formatted and parsed back: the file's check),
// then one etcd transaction that writes only the keys that changed, on the condition that each of
// them is as read (mod revision) or still absent (create revision 0), and that the settings did not
// change; when the condition fails another edit came first: read again and retry (at most
// EDIT_ATTEMPTS times, with a short random delay). So concurrent `peer add`s never lose one another
// and never hand out one address twice (PREFIX/addresses/CIDR is created, compared absent).
// create(config): refuses a PREFIX that holds anything (unless force: then it is cleared first),
// writes settings and identity, each peer in a transaction of its own (their order is the order
// of creation), and the format key last.
import { hostname } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Etcd3, IKeyValue, IRequestOp } from 'etcd3';
import type { WgtsConfig } from '../../config/model.js';
import { configFailure, OnboardError } from '../onboard-errors.js';
import type { EditDone, EditOutcome, GatewayStore, StoreSnapshot } from '../store.js';
import { connect, registryError } from './connect.js';
import { parseRegistryLocation, type RegistryLocation } from './location.js';
import {
  ADDRESSES, checkState, decodeState, encodeState, FORMAT, KEY_FORMAT, KEY_IDENTITY, KEY_LAST_EDIT, KEY_SETTINGS, KEYS, PEERS, type KvMap, type StoredKv,
} from './schema.js';

/** How often an edit is tried when other edits keep coming first. */
export const EDIT_ATTEMPTS = 40;

/** A snapshot of PREFIX/: its keys and the revision it was read at. */
export interface RegistrySnapshot {
  kvs: Map<string, StoredKv>;
  revision: bigint;
}

/** The state version of a snapshot: the mod revision of last-edit (else of format), as text. */
export function snapshotVersion(kvs: KvMap): string {
  return String(kvs.get(KEY_LAST_EDIT)?.mod ?? kvs.get(KEY_FORMAT)?.mod ?? 0n);
}

/** The keys of a range reply, relative to `prefix` + '/'. */
export function toKvMap(prefix: string, kvs: readonly IKeyValue[]): Map<string, StoredKv> {
  const out = new Map<string, StoredKv>();
  const p = `${prefix}/`;
  for (const kv of kvs) {
    const k = kv.key.toString('utf8');
    if (!k.startsWith(p)) continue;
    out.set(k.slice(p.length), { value: kv.value.toString('utf8'), create: BigInt(kv.create_revision), mod: BigInt(kv.mod_revision) });
  }
  return out;
}

/** Reads every key under `prefix`/ at one revision. */
export async function readPrefix(client: Etcd3, prefix: string): Promise<RegistrySnapshot> {
  const r = await client.getAll().prefix(`${prefix}/`).exec();
  return { kvs: toKvMap(prefix, r.kvs), revision: BigInt(r.header.revision) };
}

/** The state of a snapshot, or why there is none (OnboardError 'no-file' / 'config'). */
export function stateOf(loc: RegistryLocation, kvs: KvMap): { config: WgtsConfig; text: string } {
  const format = kvs.get(KEY_FORMAT)?.value;
  if (format === undefined) {
    throw new OnboardError('no-file', `${loc.url} holds no gateway (create one with 'wgts gateway init ${loc.url} ...' or 'wgts gateway migrate FILE ${loc.url}')`);
  }
  if (format !== FORMAT) throw new OnboardError('config', `${loc.url}/${KEY_FORMAT}: '${format}' is not a registry format this wgts reads ('${FORMAT}')`);
  const d = decodeState(kvs, loc.url);
  if (d === null) throw new OnboardError('config', `${loc.url}/${KEY_SETTINGS}: missing`);
  if (!d.ok) throw configFailure(d.errors);
  return { config: d.config, text: d.text };
}

/** What the last-edit key says: when, from which host and process. */
const lastEditValue = (): string => `${new Date().toISOString()} ${hostname()} pid ${process.pid}\n`;

/** A gateway's state in etcd (see the module comment). */
export class EtcdStore implements GatewayStore {
  readonly location: string;
  private readonly loc: RegistryLocation;

  constructor(location: string) {
    this.loc = parseRegistryLocation(location);
    this.location = this.loc.url;
  }

  /** Runs `work` with a client, closed afterwards; etcd errors become one readable line. */
  private async withClient<T>(work: (c: Etcd3) => Promise<T>): Promise<T> {
    const client = await connect(this.loc);
    try {
      return await work(client);
    } catch (e) {
      if (e instanceof OnboardError) throw e;
      throw registryError(this.loc, e);
    } finally {
      client.close();
    }
  }

  private key(k: string): string {
    return `${this.loc.prefix}/${k}`;
  }

  async read(): Promise<StoreSnapshot> {
    return this.withClient(async (c) => {
      const snap = await readPrefix(c, this.loc.prefix);
      return { config: stateOf(this.loc, snap.kvs).config, version: snapshotVersion(snap.kvs) };
    });
  }

  async edit<T>(fn: (config: WgtsConfig) => EditOutcome<T>): Promise<EditDone<T>> {
    return this.withClient(async (c) => {
      for (let attempt = 1; attempt <= EDIT_ATTEMPTS; attempt++) {
        const snap = await readPrefix(c, this.loc.prefix);
        const { config } = stateOf(this.loc, snap.kvs);
        const outcome = fn(structuredClone(config));
        const checked = checkState(outcome.config, this.loc.url);
        if (!checked.ok) throw configFailure(checked.errors);
        const want = encodeState(checked.config);
        const txn = c.if(this.key(KEY_SETTINGS), 'Mod', '==', String(snap.kvs.get(KEY_SETTINGS)?.mod ?? 0n));
        const ops: IRequestOp[] = [];
        for (const [k, value] of want) {
          const have = snap.kvs.get(k);
          if (have?.value === value) continue;
          if (have) txn.and(this.key(k), 'Mod', '==', String(have.mod));
          else txn.and(this.key(k), 'Create', '==', 0);
          ops.push({ request_put: { key: Buffer.from(this.key(k)), value: Buffer.from(value) } });
        }
        for (const [k, have] of snap.kvs) {
          if (want.has(k) || k === KEY_FORMAT || k === KEY_LAST_EDIT || !this.owned(k)) continue;
          txn.and(this.key(k), 'Mod', '==', String(have.mod));
          ops.push({ request_delete_range: { key: Buffer.from(this.key(k)) } });
        }
        if (ops.length === 0) return { value: outcome.value, version: snapshotVersion(snap.kvs), changed: false };
        ops.push({ request_put: { key: Buffer.from(this.key(KEY_LAST_EDIT)), value: Buffer.from(lastEditValue()) } });
        const r = await txn.then(...ops).commit();
        if (r.succeeded) return { value: outcome.value, version: String(r.header.revision), changed: true };
        await sleep(Math.floor(Math.random() * 20 * Math.min(attempt, 5)));
      }
      throw new Error(`${this.loc.url}: other edits kept coming first (${EDIT_ATTEMPTS} attempts); nothing was changed, try again`);
    });
  }

  /** Whether a key is part of the state encodeState() writes (others under PREFIX are left alone). */
  private owned(k: string): boolean {
    return k === KEY_IDENTITY || k === KEY_SETTINGS || k.startsWith(PEERS) || k.startsWith(KEYS) || k.startsWith(ADDRESSES);
  }

  async create(config: WgtsConfig, opts: { force: boolean; header?: string }): Promise<string> {
    const checked = checkState(config, this.loc.url);
    if (!checked.ok) throw configFailure(checked.errors);
    return this.withClient(async (c) => {
      const existing = await c.getAll().prefix(`${this.loc.prefix}/`).count();
      if (existing > 0) {
        if (!opts.force) throw new OnboardError('exists', `${this.loc.url} already exists; use --force to replace it (its key and peers are lost)`);
        await c.delete().prefix(`${this.loc.prefix}/`).exec();
      }
      const want = encodeState(checked.config);
      const put = (k: string, v: string): IRequestOp => ({ request_put: { key: Buffer.from(this.key(k)), value: Buffer.from(v) } });
      const created = async (keys: [string, string][]): Promise<void> => {
        if (keys.length === 0) return;
        const txn = c.if(this.key(keys[0][0]), 'Create', '==', 0);
        for (const [k] of keys.slice(1)) txn.and(this.key(k), 'Create', '==', 0);
        const r = await txn.then(...keys.map(([k, v]) => put(k, v))).commit();
        if (!r.succeeded) throw new OnboardError('exists', `${this.loc.url}: another command is creating a gateway there at the same time`);
      };
      const peerKeys = (id: string): [string, string][] => [...want].filter(([k, v]) => k === PEERS + id || ((k.startsWith(KEYS) || k.startsWith(ADDRESSES)) && v === id));
      await created([...want].filter(([k]) => !k.startsWith(PEERS) && !k.startsWith(KEYS) && !k.startsWith(ADDRESSES)));
      for (const [k] of [...want].filter(([key]) => key.startsWith(PEERS))) await created(peerKeys(k.slice(PEERS.length)));
      await created([[KEY_FORMAT, FORMAT], [KEY_LAST_EDIT, lastEditValue()]]);
      const after = await readPrefix(c, this.loc.prefix);
      return snapshotVersion(after.kvs);
    });
  }
}
