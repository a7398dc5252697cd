// Where a gateway's state lives (its identity, networks, hosts, domain, peers with their rules,
// expiry and disabled flags) and the only way it changes: a GatewayStore. Every command that changes
// the state (`gateway init / set / host`, `peer add / remove / disable / enable / set / rekey /
// config`) goes through one of its three operations, on the typed config:
//
// - read(): the state and its version;
// - edit(fn): one transaction: fn gets the current state and returns the new one (or throws and
//   nothing changes); concurrent edits never lose each other's changes;
// - create(config): a new state (gateway init).
//
// A version is opaque: a running gateway reports the version it applied (status file), so a command
// can wait until its edit is live. FileStore keeps the state in the wg-quick file itself: edits take
// the file's lock, carry the typed change over into the lines (comments and order stay), check the
// result by parsing it, and replace the file atomically; the version is a hash of the text.
import { createHash } from 'node:crypto';
import { lstat, readFile, stat } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { withFileLock } from '../config/lock.js';
import type { WgtsConfig } from '../config/model.js';
import { parseConfig } from '../config/parse.js';
import { syncDocument } from '../config/sync.js';
import { editConfigFile, formatConfig, formatDocument, writeFileAtomic } from '../config/write.js';
import { configFailure, OnboardError } from './onboard-errors.js';
import { isRegistryLocation } from './registry/location.js';
import { EtcdStore } from './registry/store.js';

/** The state and the version it has. */
export interface StoreSnapshot {
  readonly config: WgtsConfig;
  readonly version: string;
}

/** What an edit function returns: the new state, and a value for the caller. */
export interface EditOutcome<T> {
  config: WgtsConfig;
  value: T;
}

/** What an edit did. */
export interface EditDone<T> {
  value: T;
  /** The version after the edit (the same as before when nothing changed). */
  version: string;
  changed: boolean;
}

/** The gateway's state, wherever it lives (see the module comment). */
export interface GatewayStore {
  /** Where the state lives, for messages (a file path). */
  readonly location: string;
  /** Throws OnboardError 'no-file' when there is no state, 'config' when it does not parse. */
  read(): Promise<StoreSnapshot>;
  /**
   * One transaction: `fn` receives a copy of the current state (which it may change) and returns
   * the new one; an OnboardError (or any error) it throws leaves the state unchanged and is thrown
   * again. The new state is checked as a whole (parsed back) before it is stored.
   */
  edit<T>(fn: (config: WgtsConfig) => EditOutcome<T>): Promise<EditDone<T>>;
  /** Stores a new state; OnboardError 'exists' when one exists and `force` is not set. */
  create(config: WgtsConfig, opts: { force: boolean; header?: string }): Promise<string>;
}

/** The version of a file's text: the first 16 hex digits of its SHA-256. */
export function textVersion(text: string): string {
  return createHash('sha256').update(text).digest('hex').slice(0, 16);
}

function errnoCode(e: unknown): string | undefined {
  return e instanceof Error && 'code' in e && typeof e.code === 'string' ? e.code : undefined;
}

/** Config files hold keys: owner read/write only. */
const SECRET_MODE = 0o600;

/** A gateway's state in its wg-quick config file. */
export class FileStore implements GatewayStore {
  constructor(readonly location: string) {}

  private missing(): OnboardError {
    return new OnboardError('no-file', `${this.location} does not exist (create it with 'wgts gateway init')`);
  }

  async read(): Promise<StoreSnapshot> {
    let text: string;
    try {
      text = await readFile(this.location, 'utf8');
    } catch (e) {
      if (errnoCode(e) === 'ENOENT') throw this.missing();
      throw e;
    }
    const r = parseConfig(text, this.location);
    if (!r.ok) throw configFailure(r.errors);
    return { config: r.config, version: textVersion(text) };
  }

  async edit<T>(fn: (config: WgtsConfig) => EditOutcome<T>): Promise<EditDone<T>> {
    let outcome: EditOutcome<T> | undefined;
    let failure: { e: unknown } | undefined;
    let before = '';
    let result;
    try {
      result = await editConfigFile(this.location, (doc, config) => {
        before = formatDocument(doc);
        try {
          outcome = fn(structuredClone(config));
        } catch (e) {
          failure = { e };
          return doc;
        }
        return syncDocument(doc, config, outcome.config);
      });
    } catch (e) {
      if (errnoCode(e) === 'ENOENT') throw this.missing();
      throw e;
    }
    if (failure) throw failure.e;
    if (!result.ok) throw configFailure(result.errors);
    if (!outcome) throw new Error(`${this.location}: the edit did not run`);
    const now = formatDocument(result.doc);
    return { value: outcome.value, version: textVersion(now), changed: now !== before };
  }

  async create(config: WgtsConfig, opts: { force: boolean; header?: string }): Promise<string> {
    const dir = dirname(resolve(this.location));
    const st = await stat(dir).catch(() => null);
    if (!st?.isDirectory()) throw new OnboardError('no-file', `directory ${dir} does not exist`);
    const text = (opts.header ?? '') + formatConfig(config);
    await withFileLock(this.location, async () => {
      if (!opts.force && (await lstat(this.location).catch(() => null))) {
        throw new OnboardError('exists', `${this.location} already exists; use --force to replace it (its key and peers are lost)`);
      }
      await writeFileAtomic(this.location, text, SECRET_MODE);
    });
    return textVersion(text);
  }
}

/**
 * The store a command-line location names: a registry for `etcd://HOST:PORT[,...]/PREFIX`
 * (registry/store.ts), else the config file at that path.
 */
export function storeFor(location: string): GatewayStore {
  return isRegistryLocation(location) ? new EtcdStore(location) : new FileStore(location);
}
