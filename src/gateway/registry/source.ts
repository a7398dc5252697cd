// A running gateway's config from a registry (`wgts up etcd://HOST:PORT/PREFIX`): the keys under
// PREFIX/ held in memory, kept current by an etcd watch, handed to the runtime as one wg-quick
// text (schema.ts) whose version is the registry revision it is at.
//
// - Start: one range read (the gateway does not start without its state: there is no copy on
//   disk, the private key lives only in etcd and in memory).
// - Changes: a watch on PREFIX/ from the revision after that read; each response is applied to the
//   copy and the runtime reloads (fail-closed, as for a file).
// - Disconnects: the etcd3 client reconnects its watch by itself and resumes after the last
//   revision it saw. A probe (a small read, every PROBE_MS) tells whether the registry answers:
//   while it does not, the gateway keeps serving the last state and says so (log, status file,
//   `wgts show`, the wgts_registry_connected gauge); when it answers again the watch is made anew
//   from the last revision, so nothing made meanwhile is missed.
// - Compaction: when etcd no longer has the revisions after ours (compacted while we were away),
//   it cancels the watch; then the state is read again whole (a resync) and watched from there.
import type { Etcd3, IWatchResponse, Watcher } from 'etcd3';
import { UpError } from '../plan.js';
import type { ConfigWatch } from '../reload.js';
import { registryBaseFile, type ConfigSource, type RegistryHealth, type SourceRead } from '../source.js';
import { connect, describeProtection, exposureWarning, registryError, unreachableReason } from './connect.js';
import { parseRegistryLocation, type RegistryLocation } from './location.js';
import { FORMAT, KEY_FORMAT, type StoredKv } from './schema.js';
import { readPrefix, stateOf } from './store.js';
import { OnboardError } from '../onboard-errors.js';

/** How often the registry is probed (ms). */
export const PROBE_MS = 1000;
/** Deadline of a probe and of a resync read (ms). */
export const PROBE_TIMEOUT_MS = 1500;
/** Quiet time after a watch response before the runtime is told (batches a burst of edits), ms. */
export const CHANGE_DEBOUNCE_MS = 20;

/** Messages of the source, for the runtime's log. */
export interface SourceLog {
  info(msg: string): void;
  error(msg: string): void;
}

/** A gateway's state in a registry, watched (see the module comment). */
export class RegistrySource implements ConfigSource {
  readonly location: string;
  readonly id: string;
  readonly baseFile: string;
  private kvs: Map<string, StoredKv>;
  private revision: bigint;
  private watcher: Watcher | null = null;
  private probeTimer: NodeJS.Timeout | null = null;
  private changeTimer: NodeJS.Timeout | null = null;
  private onChange: () => void = () => undefined;
  private closed = false;
  private resyncing: Promise<void> | null = null;
  private state: RegistryHealth;
  private log: SourceLog = { info: () => undefined, error: () => undefined };

  private constructor(
    private readonly loc: RegistryLocation,
    readonly ifname: string,
    private readonly client: Etcd3,
    snap: { kvs: Map<string, StoredKv>; revision: bigint },
  ) {
    this.location = loc.url;
    this.id = loc.url;
    this.baseFile = registryBaseFile();
    this.kvs = snap.kvs;
    this.revision = snap.revision;
    this.state = { location: loc.url, connected: true, since: Date.now(), revision: String(snap.revision), resyncs: 0, protection: describeProtection(loc) };
  }

  /**
   * Connects to the registry at `location` and reads the state once; throws UpError when the
   * registry cannot be reached or holds no gateway. `ifname` defaults to PREFIX's last segment.
   */
  static async open(location: string, ifname?: string): Promise<RegistrySource> {
    let loc: RegistryLocation;
    try {
      loc = parseRegistryLocation(location);
    } catch (e) {
      throw new UpError([e instanceof Error ? e.message : String(e)]);
    }
    const name = ifname ?? loc.prefix.slice(loc.prefix.lastIndexOf('/') + 1);
    if (!/^[A-Za-z0-9_=+.-]{1,15}$/.test(name)) {
      throw new UpError([`${loc.url}: '${name}' is not a valid interface name (1-15 of A-Z a-z 0-9 _ = + . -); give one with --ifname NAME`]);
    }
    let client: Etcd3;
    try {
      client = await connect(loc);
    } catch (e) {
      throw new UpError([e instanceof Error ? e.message : String(e)]);
    }
    try {
      const snap = await readPrefix(client, loc.prefix);
      stateOf(loc, snap.kvs); // a registry without a gateway (or one that does not decode) does not start
      return new RegistrySource(loc, name, client, snap);
    } catch (e) {
      client.close();
      if (e instanceof OnboardError) throw new UpError([...e.problems]);
      throw new UpError([registryError(loc, e).message]);
    }
  }

  async read(): Promise<SourceRead> {
    try {
      const { text } = stateOf(this.loc, this.kvs);
      return { ok: true, text, version: String(this.revision) };
    } catch (e) {
      return { ok: false, errors: e instanceof OnboardError ? [...e.problems] : [e instanceof Error ? e.message : String(e)] };
    }
  }

  async warnings(): Promise<string[]> {
    const w = exposureWarning(this.loc);
    return w === null ? [] : [w];
  }

  health(): RegistryHealth {
    return { ...this.state, revision: String(this.revision) };
  }

  /** Where the runtime's log goes (set before watch()). */
  setLog(log: SourceLog): void {
    this.log = log;
  }

  watch(onChange: () => void, _onError: (e: Error) => void): ConfigWatch {
    this.onChange = onChange;
    this.startWatch();
    this.probeTimer = setInterval(() => { void this.probe(); }, PROBE_MS);
    this.probeTimer.unref();
    return { close: () => { void this.close(); } };
  }

  /** A watch on PREFIX/ from the revision after ours. */
  private startWatch(): void {
    if (this.closed) return;
    const w = this.client.watch().prefix(`${this.loc.prefix}/`).startRevision(String(this.revision + 1n)).watcher();
    this.watcher = w;
    w.on('data', (res: IWatchResponse) => { if (this.watcher === w) this.applyEvents(res); });
    w.on('disconnected', (e: Error) => { if (this.watcher === w) this.unreachable(e.message); });
    w.on('connected', () => { if (this.watcher === w) this.reachable(); });
    // Canceled by etcd: compacted past our revision, or no permission any more. Read it all again.
    w.on('error', (e: Error) => {
      if (this.watcher !== w) return;
      this.watcher = null;
      void w.cancel().catch(() => undefined);
      const why = e.message.replace(/^Watcher canceled:\s*/, '');
      this.log.info(`registry watch canceled by etcd${why ? ` (${why})` : ''}: its history after revision ${this.revision} is compacted (or access was withdrawn); reading the whole state again`);
      void this.resync();
    });
  }

  private applyEvents(res: IWatchResponse): void {
    const p = `${this.loc.prefix}/`;
    let changed = false;
    for (const ev of res.events) {
      const key = ev.kv.key.toString('utf8');
      if (!key.startsWith(p)) continue;
      const rel = key.slice(p.length);
      if (ev.type === 'Delete') this.kvs.delete(rel);
      else this.kvs.set(rel, { value: ev.kv.value.toString('utf8'), create: BigInt(ev.kv.create_revision), mod: BigInt(ev.kv.mod_revision) });
      const rev = BigInt(ev.kv.mod_revision);
      if (rev > this.revision) this.revision = rev;
      changed = true;
    }
    const header = BigInt(res.header.revision);
    if (header > this.revision) this.revision = header;
    this.reachable();
    if (changed) this.changed();
  }

  /** Tells the runtime, once a burst of responses is over. */
  private changed(): void {
    if (this.changeTimer) clearTimeout(this.changeTimer);
    this.changeTimer = setTimeout(() => { this.changeTimer = null; this.onChange(); }, CHANGE_DEBOUNCE_MS);
  }

  private unreachable(why: string): void {
    if (!this.state.connected) return;
    this.state = { ...this.state, connected: false, since: Date.now(), error: why.split('\n')[0] };
    this.log.error(`registry ${this.loc.url} unreachable (${this.state.error}): serving the last state (revision ${this.revision}) until it is back`);
    this.onChange(); // the status file says so at once
  }

  private reachable(): void {
    if (this.state.connected) return;
    const down = Math.round((Date.now() - this.state.since) / 1000);
    const { error: _gone, ...rest } = this.state;
    this.state = { ...rest, connected: true, since: Date.now() };
    this.log.info(`registry ${this.loc.url} reachable again after ${down} s: catching up from revision ${this.revision}`);
    this.onChange();
  }

  /** A small read: is the registry answering? When it answers again, the watch is made anew. */
  private async probe(): Promise<void> {
    if (this.closed || this.resyncing) return;
    try {
      const format = await this.client.get(`${this.loc.prefix}/${KEY_FORMAT}`).options({ deadline: Date.now() + PROBE_TIMEOUT_MS }).string();
      if (this.closed) return;
      if (format !== FORMAT) {
        this.unreachable(format === null ? 'the gateway is gone from the registry' : `unknown format '${format}'`);
        return;
      }
      if (!this.state.connected) {
        // The old watch stream may be dead without knowing it: a new one resumes after our revision.
        const old = this.watcher;
        this.watcher = null;
        if (old) void old.cancel().catch(() => undefined);
        this.reachable();
        this.startWatch();
      }
    } catch (e) {
      if (!this.closed) this.unreachable(unreachableReason(e));
    }
  }

  /** Reads the whole state again (after a canceled watch) and watches from there; retried by the probe timer. */
  private resync(): Promise<void> {
    this.resyncing ??= (async () => {
      for (let attempt = 0; !this.closed; attempt++) {
        try {
          const snap = await readPrefix(this.client, this.loc.prefix);
          if (this.closed) return;
          this.kvs = snap.kvs;
          this.revision = snap.revision;
          this.state = { ...this.state, resyncs: this.state.resyncs + 1 };
          this.log.info(`registry state read again whole at revision ${snap.revision} (resync ${this.state.resyncs})`);
          this.reachable();
          this.startWatch();
          this.changed();
          return;
        } catch (e) {
          this.unreachable(unreachableReason(e));
          await new Promise((r) => setTimeout(r, Math.min(PROBE_MS * 2 ** attempt, 10_000)));
        }
      }
    })().finally(() => { this.resyncing = null; });
    return this.resyncing;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.probeTimer) clearInterval(this.probeTimer);
    if (this.changeTimer) clearTimeout(this.changeTimer);
    const w = this.watcher;
    this.watcher = null;
    if (w) await Promise.race([w.cancel().catch(() => undefined), new Promise((r) => setTimeout(r, 500))]);
    this.client.close();
  }
}
