// The project variables a gateway holds, from the `Source =` lines of [Env]:
//
//   - `app:/etc/wgts/app.env`: every VAR of the env file (file.ts) is served as app_VAR. A relative
//     path is taken from the config file's directory. The file is looked at again (device, inode,
//     size, modification and change times: an in-place edit, a replacement by rename and a chmod
//     alike) when a request needs it and a second has passed since the last look, and on every
//     reload of the config; a change is read at once. A file that cannot be read or has errors
//     serves nothing (its errors are logged as FILE:LINE: reason, never with a value) until it is
//     fixed; the others go on serving.
//   - `env:app_`: the gateway process's own environment variables whose names start with app_,
//     served under their own names (a platform that injects `app_API_TOKEN` into the gateway's
//     container, a systemd EnvironmentFile=).
//
// Permissions are checked at every read: a file readable by every user, writable by its group or
// by every user, or owned by another user than root or the gateway's own is logged as a warning
// (it is still served: refusing would cut every laptop off over a chmod). When two sources give the
// same name the first Source line wins and the clash is logged. Names a laptop would refuse
// (names.ts: BASH_ENV, LD_PRELOAD, ...) are never served.
import { promises as fsp, type BigIntStats } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import type { EnvSource } from '../../config/model.js';
import { parseEnvFile } from './file.js';
import { MAX_ENTRY_BYTES, nameProblem } from './names.js';

/** Minimum time between two looks at the same env file for requests (ms). */
export const ENV_RECHECK_MS = 1000;

/** What the gateway serves right now. */
export interface EnvSnapshot {
  /** Served name -> value. */
  readonly vars: ReadonlyMap<string, string>;
  /** Sources that serve nothing now (unreadable file, errors): `app`, `env:ci_`. */
  readonly unavailable: readonly string[];
}

/** Where the store reports (values never appear in a message). */
export interface EnvLog {
  info(msg: string): void;
  error(msg: string): void;
}

export interface EnvStoreOptions {
  /** The gateway's environment (default process.env). */
  environment?: NodeJS.ProcessEnv;
  /** Monotonic clock in ms (default performance.now). */
  now?: () => number;
  recheckMs?: number;
  /** The gateway's effective uid (default process.geteuid()). */
  uid?: number;
}

/** One env file source and what was last read from it. */
interface FileState {
  readonly source: Extract<EnvSource, { kind: 'file' }>;
  /** Absolute path. */
  readonly path: string;
  /** Identity and times of the file as last read ('' = never read); an error text after a failure. */
  seen: string;
  vars: Map<string, string> | null;
  /** When the file was last looked at (ms, `now()`). */
  checked: number;
}

/** The label of a source in messages and in `unavailable`. */
export function sourceLabel(s: EnvSource): string {
  return s.kind === 'file' ? s.service : `env:${s.prefix}`;
}

/** Permission warnings for an env file (empty when none); `uid` is the gateway's effective uid. */
export function permissionWarnings(path: string, st: { mode: number | bigint; uid: number | bigint }, uid: number): string[] {
  const mode = Number(st.mode) & 0o777;
  const owner = Number(st.uid);
  const octal = mode.toString(8).padStart(4, '0');
  const out: string[] = [];
  if ((mode & 0o004) !== 0) {
    out.push(`warning: ${path} is readable by every user (mode ${octal}) and holds the secrets laptops receive: run chmod o-r ${path} (600, or 640 for a group)`);
  }
  if ((mode & 0o022) !== 0) {
    const who = [(mode & 0o020) !== 0 ? 'its group' : '', (mode & 0o002) !== 0 ? 'every user' : ''].filter(Boolean).join(' and ');
    out.push(`warning: ${path} can be changed by ${who} (mode ${octal}), who then decide what laptops receive: run chmod go-w ${path}`);
  }
  if (owner !== 0 && owner !== uid) {
    out.push(`warning: ${path} belongs to uid ${owner}, who decides what laptops receive (expected root or the gateway's own user)`);
  }
  return out;
}

const statKey = (st: BigIntStats): string => `${st.dev}:${st.ino}:${st.size}:${st.mtimeNs}:${st.ctimeNs}:${st.mode}:${st.uid}`;

/** The variables of a gateway's [Env] sources, re-read as they change. */
export class EnvStore {
  private sources: readonly EnvSource[] = [];
  private files: FileState[] = [];
  /** Served name -> value of the environment sources, by source label (read at configure()). */
  private fromEnvironment = new Map<string, Map<string, string>>();
  private merged: EnvSnapshot = { vars: new Map(), unavailable: [] };
  private dirty = true;
  private refreshing: Promise<void> | null = null;
  private readonly environment: NodeJS.ProcessEnv;
  private readonly now: () => number;
  private readonly recheckMs: number;
  private readonly uid: number;

  constructor(private readonly log: EnvLog, opts: EnvStoreOptions = {}) {
    this.environment = opts.environment ?? process.env;
    this.now = opts.now ?? (() => performance.now());
    this.recheckMs = opts.recheckMs ?? ENV_RECHECK_MS;
    this.uid = opts.uid ?? process.geteuid?.() ?? 0;
  }

  /**
   * Takes the sources of a (re)loaded config (`configFile` anchors relative paths). Files are
   * read again at the next snapshot, whether or not they changed (a reload re-reads everything).
   */
  configure(sources: readonly EnvSource[], configFile: string): void {
    const base = dirname(resolve(configFile));
    this.sources = [...sources];
    this.files = sources.flatMap((s): FileState[] => (s.kind === 'file'
      ? [{ source: s, path: isAbsolute(s.path) ? s.path : resolve(base, s.path), seen: '', vars: null, checked: -Infinity }]
      : []));
    this.fromEnvironment = new Map();
    for (const s of sources) {
      if (s.kind !== 'environment') continue;
      const vars = new Map<string, string>();
      for (const name of Object.keys(this.environment).filter((n) => n.startsWith(s.prefix)).sort()) {
        const value = this.environment[name] as string;
        const problem = nameProblem(name) ?? (Buffer.byteLength(name) + 1 + Buffer.byteLength(value) > MAX_ENTRY_BYTES ? `${name}=VALUE is longer than one environment entry may be` : null);
        if (problem !== null) this.log.error(`env:${s.prefix}: ${name} not served: ${problem}`);
        else vars.set(name, value);
      }
      this.fromEnvironment.set(sourceLabel(s), vars);
      this.log.info(`env:${s.prefix}: ${vars.size} variable(s) from the gateway's environment`);
    }
    this.dirty = true;
  }

  /** Makes the next snapshot look at every file again (a reload, SIGHUP). */
  invalidate(): void {
    for (const f of this.files) f.checked = -Infinity;
  }

  /** The variables now: files not looked at for recheckMs are looked at (and re-read when changed) first. */
  async snapshot(): Promise<EnvSnapshot> {
    // One look at a time; files a configure() brought in meanwhile are looked at before answering.
    const looked = new Set<FileState>();
    for (;;) {
      if (this.refreshing) {
        await this.refreshing;
        continue;
      }
      const due = this.files.filter((f) => !looked.has(f) && this.now() - f.checked >= this.recheckMs);
      if (due.length === 0) break;
      for (const f of due) looked.add(f);
      this.refreshing = Promise.all(due.map((f) => this.check(f))).then(() => undefined);
      try {
        await this.refreshing;
      } finally {
        this.refreshing = null;
      }
    }
    if (this.dirty) this.merge();
    return this.merged;
  }

  /** Looks at one file: re-reads it when its identity or times changed. */
  private async check(f: FileState): Promise<void> {
    f.checked = this.now();
    const label = sourceLabel(f.source);
    let st: BigIntStats;
    let bytes: Buffer;
    try {
      const handle = await fsp.open(f.path, 'r');
      try {
        st = await handle.stat({ bigint: true });
        if (!st.isFile()) throw new Error('not a regular file');
        if (statKey(st) === f.seen) return;
        bytes = await handle.readFile();
      } finally {
        await handle.close();
      }
    } catch (e) {
      const why = `${label}: cannot read ${f.path}: ${e instanceof Error ? e.message : String(e)}; serving none of its variables`;
      if (f.seen !== why) this.log.error(why);
      f.seen = why;
      if (f.vars !== null) this.dirty = true;
      f.vars = null;
      return;
    }
    f.seen = statKey(st);
    this.dirty = true;
    for (const w of permissionWarnings(f.path, st, this.uid)) this.log.error(w);
    const parsed = parseEnvFile(bytes, f.path);
    if (!parsed.ok) {
      for (const e of parsed.errors) this.log.error(e);
      this.log.error(`${label}: ${f.path} has errors: serving none of its variables until it is fixed`);
      f.vars = null;
      return;
    }
    const vars = new Map<string, string>();
    for (const [name, value] of parsed.vars) {
      const served = `${f.source.service}_${name}`;
      const problem = nameProblem(served) ?? (Buffer.byteLength(served) + 1 + Buffer.byteLength(value) > MAX_ENTRY_BYTES ? `${served}=VALUE is longer than one environment entry may be` : null);
      if (problem !== null) this.log.error(`${label}: ${name} of ${f.path} not served: ${problem}`);
      else vars.set(served, value);
    }
    f.vars = vars;
    this.log.info(`${label}: ${vars.size} variable(s) from ${f.path}`);
  }

  /** Merges the sources in order (the first Source giving a name wins; clashes are logged). */
  private merge(): void {
    this.dirty = false;
    const vars = new Map<string, string>();
    const from = new Map<string, string>();
    const unavailable: string[] = [];
    for (const s of this.sources) {
      const label = sourceLabel(s);
      const own = s.kind === 'file' ? this.files.find((f) => f.source === s)?.vars ?? null : this.fromEnvironment.get(label) ?? null;
      if (own === null) {
        unavailable.push(label);
        continue;
      }
      for (const [name, value] of own) {
        const first = from.get(name);
        if (first !== undefined) {
          this.log.error(`${name} is given by ${first} and by ${label}: serving the one of ${first} (the first Source line)`);
          continue;
        }
        from.set(name, label);
        vars.set(name, value);
      }
    }
    this.merged = { vars, unavailable };
  }
}
