// Where a running gateway (runtime.ts) gets its config from: a ConfigSource. The runtime asks it for
// the current text (wg-quick format) and its version, and it tells the runtime when there may be a
// new one; everything else (parse, check, the fail-closed reload) is the runtime's, the same for
// every source. FileSource: the config file, watched through its directory (reload.ts). The
// registry source (registry/source.ts): the state in etcd, kept current by a watch.
import { promises as fsp } from 'node:fs';
import { join, resolve as resolvePath } from 'node:path';
import { exposedMode, interfaceNameOf } from './plan.js';
import { watchConfigFile, type ConfigWatch } from './reload.js';
import { textVersion } from './store.js';

/** The registry's reachability as a running gateway sees it (status file, `wgts show`, metrics). */
export interface RegistryHealth {
  /** The registry URL (no password). */
  location: string;
  /** The last look at the registry (a watch event or a probe) succeeded. */
  connected: boolean;
  /** Since when (ms) it is connected or not. */
  since: number;
  /** The registry revision the gateway's state is at. */
  revision: string;
  /** Why it is not connected. */
  error?: string;
  /** How often the state was read again whole (after a compaction or a failed watch). */
  resyncs: number;
  /** How the connection is protected (TLS, user). */
  protection: string;
}

/** What a source holds now: the config text and its version, or why its state does not decode. */
export type SourceRead = { ok: true; text: string; version: string } | { ok: false; errors: string[] };

/** A running gateway's source of config (see the module comment). */
export interface ConfigSource {
  /** The location as given (messages). */
  readonly location: string;
  /** What the status file records as `config` (an absolute path or the canonical URL). */
  readonly id: string;
  /** The interface name this source runs as. */
  readonly ifname: string;
  /** A path whose directory relative [Env] file sources are resolved against. */
  readonly baseFile: string;
  /** The current text; throws when it cannot be had at all (a file that cannot be read). */
  read(): Promise<SourceRead>;
  /** Warnings about how the config is kept (a key file readable by others, a registry without TLS). */
  warnings(holdsPrivateKey: boolean): Promise<string[]>;
  /** Calls `onChange` whenever there may be a new config; `onError` with problems of the watch itself. */
  watch(onChange: () => void, onError: (e: Error) => void): ConfigWatch;
  /** The registry's reachability, null for a file. */
  health(): RegistryHealth | null;
  /** Releases connections and timers (after the watch is closed). */
  close(): Promise<void>;
}

/** A config file (wg-quick format) as a source: the interface is named after the file. */
export class FileSource implements ConfigSource {
  readonly id: string;
  readonly ifname: string;
  readonly baseFile: string;

  constructor(readonly location: string) {
    this.ifname = interfaceNameOf(location);
    this.id = resolvePath(location);
    this.baseFile = location;
  }

  async read(): Promise<SourceRead> {
    const text = await fsp.readFile(this.location, 'utf8');
    return { ok: true, text, version: textVersion(text) };
  }

  async warnings(holdsPrivateKey: boolean): Promise<string[]> {
    const w = holdsPrivateKey ? await exposedMode(this.location) : null;
    return w === null ? [] : [w];
  }

  watch(onChange: () => void, onError: (e: Error) => void): ConfigWatch {
    return watchConfigFile(this.location, onChange, onError);
  }

  health(): null {
    return null;
  }

  async close(): Promise<void> {
    // Nothing held.
  }
}

/** A registry's base for relative [Env] files: the working directory of `wgts up`. */
export function registryBaseFile(): string {
  return join(process.cwd(), 'registry');
}
