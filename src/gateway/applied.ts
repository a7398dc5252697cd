// Did the running gateway apply an edit of its config file? `wgts peer remove` asks after writing
// the file: it finds the `wgts up` processes running that file (their status files name it, their
// pid is alive) and polls each one's UAPI socket until the removed public key is gone from the
// interface, or a timeout passes (then the status file's reload errors say why).
import { readdirSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { processAlive } from '../config/lock.js';
import { parseGetReply, uapiRequest } from './show.js';
import { readStatus, STATUS_DIR, type InterfaceStatus } from './status.js';
import { isRegistryLocation, parseRegistryLocation } from './registry/location.js';
import { textVersion } from './store.js';

/** How long `peer remove` waits for a running gateway to drop the peer (ms). */
export const APPLY_TIMEOUT_MS = 10_000;
const POLL_MS = 50;

/** What a status file records as the config of a location: a registry's canonical URL, a file's absolute path. */
export function locationId(location: string): string {
  if (!isRegistryLocation(location)) return resolve(location);
  try {
    return parseRegistryLocation(location).url;
  } catch {
    return location;
  }
}

/**
 * The status of every live `wgts up` running the config file `file` (or the registry at that URL;
 * gateways of the registry on other hosts have their own status files there: see the README).
 */
export function runningFor(file: string, statusDir = STATUS_DIR): InterfaceStatus[] {
  let names: string[];
  try {
    names = readdirSync(statusDir).filter((n) => n.endsWith('.json'));
  } catch {
    return [];
  }
  const path = locationId(file);
  return names.flatMap((n) => {
    const s = readStatus(n.slice(0, -5), statusDir);
    return s !== null && s.config === path && processAlive(s.pid) ? [s] : [];
  });
}

/** What became of an edit at one running gateway. */
export type ApplyOutcome =
  | { kind: 'applied'; ifname: string; pid: number; ms: number }
  | { kind: 'failed'; ifname: string; pid: number; why: string }
  | { kind: 'timeout'; ifname: string; pid: number; why: string };

/** The version of the config file as it is now ('' when unreadable, or a registry). */
function currentVersion(path: string): string {
  if (isRegistryLocation(path)) return '';
  try {
    return textVersion(readFileSync(path, 'utf8'));
  } catch {
    return '';
  }
}

/**
 * Whether a gateway that applied `applied` has the state `wanted` of `location`: the same version
 * or the file's current one; for a registry (versions are revisions), that revision or a later one.
 */
export function versionReached(applied: string, wanted: string, location: string): boolean {
  if (isRegistryLocation(location)) return /^[0-9]+$/.test(applied) && /^[0-9]+$/.test(wanted) && BigInt(applied) >= BigInt(wanted);
  return applied === wanted || applied === currentVersion(location);
}

/**
 * Waits until the `wgts up` of status `s` reports the state `version` (store.ts) applied completely,
 * or a version after it (another edit right after ours: it contains ours); a reload that failed
 * after our edit is reported at once with its errors. At most `timeoutMs`.
 */
export async function waitForVersion(s: InterfaceStatus, version: string, since: number, timeoutMs = APPLY_TIMEOUT_MS,
  statusDir = STATUS_DIR): Promise<ApplyOutcome> {
  const t0 = Date.now();
  let last: InterfaceStatus | null = null;
  while (Date.now() - t0 < timeoutMs) {
    last = readStatus(s.interface, statusDir);
    if (last?.applied && versionReached(last.applied.version, version, s.config)) {
      return { kind: 'applied', ifname: s.interface, pid: s.pid, ms: Date.now() - t0 };
    }
    const r = last?.reload;
    if (r && !r.ok && r.at >= since) return { kind: 'failed', ifname: s.interface, pid: s.pid, why: r.errors.join('; ') };
    if (!last || !processAlive(s.pid)) break;
    await sleep(POLL_MS);
  }
  return { kind: 'timeout', ifname: s.interface, pid: s.pid, why: last ? 'the change is not applied yet' : 'its status file is gone (it stopped?)' };
}

/** Waits until the interface of `s` has `publicKey` (base64) again, at most `timeoutMs`. */
export async function waitForPeerPresent(s: InterfaceStatus, publicKey: string, timeoutMs = APPLY_TIMEOUT_MS): Promise<ApplyOutcome> {
  const t0 = Date.now();
  let lastError = 'the peer is not on the interface';
  while (Date.now() - t0 < timeoutMs) {
    try {
      const iface = parseGetReply(s.interface, await uapiRequest(s.interface, 'get=1\n\n'));
      if (iface.peers.some((p) => p.publicKey === publicKey)) return { kind: 'applied', ifname: s.interface, pid: s.pid, ms: Date.now() - t0 };
    } catch (e) {
      lastError = e instanceof Error ? e.message : String(e);
    }
    await sleep(POLL_MS);
  }
  return { kind: 'timeout', ifname: s.interface, pid: s.pid, why: lastError };
}

/** What became of a removal at one running gateway. */
export type RemovalOutcome =
  | { kind: 'applied'; ifname: string; pid: number; ms: number }
  | { kind: 'timeout'; ifname: string; pid: number; why: string };

/** Waits until the interface `ifname` no longer has `publicKey` (base64), at most `timeoutMs`. */
export async function waitForPeerGone(s: InterfaceStatus, publicKey: string, timeoutMs = APPLY_TIMEOUT_MS,
  statusDir = STATUS_DIR): Promise<RemovalOutcome> {
  const t0 = Date.now();
  let lastError = '';
  while (Date.now() - t0 < timeoutMs) {
    try {
      const iface = parseGetReply(s.interface, await uapiRequest(s.interface, 'get=1\n\n'));
      if (!iface.peers.some((p) => p.publicKey === publicKey)) return { kind: 'applied', ifname: s.interface, pid: s.pid, ms: Date.now() - t0 };
    } catch (e) {
      lastError = e instanceof Error ? e.message : String(e);
    }
    await sleep(POLL_MS);
  }
  const reload = readStatus(s.interface, statusDir)?.reload;
  const why = reload && !reload.ok ? `its reload failed: ${reload.errors.join('; ')}` : lastError !== '' ? lastError : 'the peer is still on the interface';
  return { kind: 'timeout', ifname: s.interface, pid: s.pid, why };
}
