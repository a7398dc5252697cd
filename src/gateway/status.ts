// The status file of a running `wgts up`: /var/run/wgts/IFNAME.json (0600). It tells other
// commands what UAPI cannot: which config file the interface runs from, the peer names of that
// file, per-peer denied packets (gateway access rules) and the device's drop counters. `wgts up`
// rewrites it every second (atomically: temp file + rename) and removes it as the last step of
// its shutdown, so `wgts down` can wait for its disappearance to know the cleanup is complete.
import { promises as fsp, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../config/write.js';
import type { RegistryHealth } from './source.js';

/** Where status files live. */
export const STATUS_DIR = '/var/run/wgts';

/** How often the running interface refreshes its status file (ms). */
export const STATUS_INTERVAL_MS = 1000;

/** One peer in the status file. */
export interface PeerStatus {
  name?: string;
  /** Packets from the peer refused by its access rules since the peer was configured. */
  denied: number;
  /** Packets to the peer refused (not part of a flow it started, no AllowInbound rule). */
  refused?: number;
  /** Authenticated datagrams received from / sent to the peer (UAPI has bytes only). */
  rxPackets?: number;
  txPackets?: number;
}

/** A peer of the file that is not on the interface: disabled, or past its Expires. */
export interface InactivePeerStatus {
  name?: string;
  state: 'disabled' | 'expired';
  /** Expires = as 2026-12-31T00:00:00Z. */
  expires?: string;
}

/** The version of the gateway's state (store.ts) last applied completely, and when. */
export interface AppliedStatus {
  version: string;
  at: number;
}

/** How the last reload of the config file went. */
export interface ReloadStatus {
  ok: boolean;
  /** Unix time (ms) of the last attempt. */
  at: number;
  /** Failed attempts in a row (0 when ok). */
  attempts: number;
  /** What failed (empty when ok). */
  errors: string[];
  /** Unix time (ms) of the next attempt, when one is scheduled. */
  nextRetry?: number;
  /**
   * Unix time (ms) at which the last finished reload pass began, whatever it found (an unchanged
   * file too): `wgts reload` waits for one that began after its SIGHUP.
   */
  checked?: number;
}

/** The content of a status file. */
export interface InterfaceStatus {
  version: 1;
  interface: string;
  /** The `wgts up` process. */
  pid: number;
  /** Absolute path of the config file. */
  config: string;
  /** 'gateway' when the config has a [Gateway] section, else 'client'. */
  role: 'gateway' | 'client';
  /** Unix time (ms) of this snapshot. */
  updated: number;
  /** By base64 public key. */
  peers: Record<string, PeerStatus>;
  /** Device drop counters (noRoute, badSource, noEndpoint, tunWriteDrops, filtered). */
  counters: Record<string, number>;
  /** Every drop counter by reason, engine and device (device/drops.ts; as wgts_drops_total). */
  drops?: Record<string, number>;
  /** The UDP socket's counters (io/udp.ts UdpStats: rxDatagrams, txDropsFull, ...). */
  udp?: Record<string, number>;
  /**
   * Handshake processing (device/device.ts HandshakeStats) and the native gate's counters
   * prefixed `gate` (gateHandshakes, gateBadMac1, gateMac2Valid, gateCookieReplies, ...).
   */
  handshakes?: Record<string, number>;
  /** DNS responder counters (gateway only). */
  dns?: Record<string, number>;
  /** The last reload (absent in files of older versions). */
  reload?: ReloadStatus;
  /** Peers of the file that are not on the interface, by base64 public key (gateway). */
  inactive?: Record<string, InactivePeerStatus>;
  /** The state version last applied completely (absent before the first success). */
  applied?: AppliedStatus;
  /** A gateway run from a registry: whether it answers, the revision the state is at. */
  registry?: RegistryHealth;
}

/** The status file path of `ifname`. */
export function statusPath(ifname: string, dir = STATUS_DIR): string {
  return join(dir, `${ifname}.json`);
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function numbers(v: unknown): Record<string, number> | null {
  if (!isRecord(v)) return null;
  const out: Record<string, number> = {};
  for (const [k, x] of Object.entries(v)) {
    if (typeof x !== 'number') return null;
    out[k] = x;
  }
  return out;
}

/** Checks the shape of parsed JSON; null when it is not a status file. */
export function toStatus(v: unknown): InterfaceStatus | null {
  if (!isRecord(v) || v.version !== 1) return null;
  const { interface: name, pid, config, role, updated, peers, counters, dns, reload, drops, udp, handshakes, inactive, applied, registry } = v;
  if (typeof name !== 'string' || typeof pid !== 'number' || typeof config !== 'string' || typeof updated !== 'number') return null;
  if (role !== 'gateway' && role !== 'client') return null;
  const c = numbers(counters);
  if (!isRecord(peers) || c === null) return null;
  const ps: Record<string, PeerStatus> = {};
  for (const [key, p] of Object.entries(peers)) {
    if (!isRecord(p) || typeof p.denied !== 'number' || (p.name !== undefined && typeof p.name !== 'string')) return null;
    if (p.refused !== undefined && typeof p.refused !== 'number') return null;
    const counts: PeerStatus = { denied: p.denied };
    for (const k of ['refused', 'rxPackets', 'txPackets'] as const) {
      const x = p[k];
      if (x === undefined) continue;
      if (typeof x !== 'number') return null;
      counts[k] = x;
    }
    ps[key] = typeof p.name === 'string' ? { name: p.name, ...counts } : counts;
  }
  const out: InterfaceStatus = { version: 1, interface: name, pid, config, role, updated, peers: ps, counters: c };
  for (const [field, value] of [['dns', dns], ['drops', drops], ['udp', udp], ['handshakes', handshakes]] as const) {
    if (value === undefined) continue;
    const d = numbers(value);
    if (d === null) return null;
    out[field] = d;
  }
  if (reload !== undefined) {
    const r = toReload(reload);
    if (r === null) return null;
    out.reload = r;
  }
  if (inactive !== undefined) {
    if (!isRecord(inactive)) return null;
    const map: Record<string, InactivePeerStatus> = {};
    for (const [key, p] of Object.entries(inactive)) {
      if (!isRecord(p) || (p.state !== 'disabled' && p.state !== 'expired')) return null;
      const e: InactivePeerStatus = { state: p.state };
      if (typeof p.name === 'string') e.name = p.name;
      if (typeof p.expires === 'string') e.expires = p.expires;
      map[key] = e;
    }
    out.inactive = map;
  }
  if (applied !== undefined) {
    if (!isRecord(applied) || typeof applied.version !== 'string' || typeof applied.at !== 'number') return null;
    out.applied = { version: applied.version, at: applied.at };
  }
  if (registry !== undefined) {
    const r = toRegistry(registry);
    if (r === null) return null;
    out.registry = r;
  }
  return out;
}

function toRegistry(v: unknown): RegistryHealth | null {
  if (!isRecord(v) || typeof v.location !== 'string' || typeof v.connected !== 'boolean' || typeof v.since !== 'number'
    || typeof v.revision !== 'string' || typeof v.resyncs !== 'number' || typeof v.protection !== 'string') return null;
  const out: RegistryHealth = { location: v.location, connected: v.connected, since: v.since, revision: v.revision, resyncs: v.resyncs, protection: v.protection };
  if (typeof v.error === 'string') out.error = v.error;
  return out;
}

function toReload(v: unknown): ReloadStatus | null {
  if (!isRecord(v) || typeof v.ok !== 'boolean' || typeof v.at !== 'number' || typeof v.attempts !== 'number') return null;
  if (!Array.isArray(v.errors) || !v.errors.every((e) => typeof e === 'string')) return null;
  const out: ReloadStatus = { ok: v.ok, at: v.at, attempts: v.attempts, errors: v.errors as string[] };
  if (typeof v.nextRetry === 'number') out.nextRetry = v.nextRetry;
  if (typeof v.checked === 'number') out.checked = v.checked;
  return out;
}

/** Reads the status file of `ifname`; null when absent, unreadable or malformed. */
export function readStatus(ifname: string, dir = STATUS_DIR): InterfaceStatus | null {
  let text: string;
  try {
    text = readFileSync(statusPath(ifname, dir), 'utf8');
  } catch {
    return null;
  }
  try {
    return toStatus(JSON.parse(text));
  } catch {
    return null;
  }
}

/**
 * Keeps the status file of one interface current: writes `snapshot()` now and then every
 * `intervalMs`, and removes the file on stop().
 */
export class StatusWriter {
  readonly path: string;
  private timer: NodeJS.Timeout | null = null;
  private writing: Promise<void> = Promise.resolve();
  private stopped = false;

  constructor(ifname: string, private readonly snapshot: () => InterfaceStatus, private readonly onError: (e: unknown) => void,
    private readonly dir = STATUS_DIR, private readonly intervalMs = STATUS_INTERVAL_MS) {
    this.path = statusPath(ifname, dir);
  }

  /** Writes the first snapshot (resolves once it is on disk) and starts the refresh timer. */
  async start(): Promise<void> {
    await fsp.mkdir(this.dir, { recursive: true, mode: 0o755 });
    await this.write();
    this.timer = setInterval(() => { this.write().catch(this.onError); }, this.intervalMs);
    this.timer.unref();
  }

  /**
   * Writes a snapshot as soon as the writes before it are done (resolves once it is on disk).
   * Each write replaces the file atomically (config/write.ts), so a reader (`wgts reload`,
   * `wgts show`) finds the old or the new one; writes never overlap, so the newest snapshot is
   * the one that lands last.
   */
  write(): Promise<void> {
    const next = this.writing.then(() => this.writeNow());
    this.writing = next.catch(() => undefined);
    return next;
  }

  private async writeNow(): Promise<void> {
    if (this.stopped) return;
    await writeFileAtomic(this.path, `${JSON.stringify(this.snapshot(), null, 2)}\n`, 0o600);
  }

  /** Stops refreshing and removes the file. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.writing.catch(() => undefined);
    await fsp.rm(this.path, { force: true });
  }
}
