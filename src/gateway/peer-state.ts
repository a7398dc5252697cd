// Peers over time: a peer is active, disabled (`Disabled = true`) or expired (`Expires =` in the
// past). Only active peers are put on the interface and get access rules; the others stay in the
// file with their keys, address and rules and come back as they were with `peer enable` or a later
// `Expires`. A running gateway re-evaluates at the next expiry (a timer, no file change needed).
import type { PeerConfig, WgtsConfig } from '../config/model.js';
import { formatTimestamp, parseTimestamp } from '../config/time.js';

/** Why a peer is (not) on the interface. */
export type PeerState = 'active' | 'disabled' | 'expired';

/** The state of a peer at `now` (ms since the epoch). Disabled wins over expired. */
export function peerState(p: PeerConfig, now: number): PeerState {
  if (p.disabled === true) return 'disabled';
  if (p.expires !== undefined && p.expires <= now) return 'expired';
  return 'active';
}

/** `config` with only the peers active at `now`. */
export function activeConfig(config: WgtsConfig, now: number): WgtsConfig {
  const peers = config.peers.filter((p) => peerState(p, now) === 'active');
  return peers.length === config.peers.length ? config : { ...config, peers };
}

/** The peers of `config` not active at `now`, with why. */
export function inactivePeers(config: WgtsConfig, now: number): { peer: PeerConfig; state: Exclude<PeerState, 'active'> }[] {
  return config.peers.flatMap((peer) => {
    const state = peerState(peer, now);
    return state === 'active' ? [] : [{ peer, state }];
  });
}

/** The earliest expiry after `now` of a peer that is active now, or null. */
export function nextExpiry(config: WgtsConfig, now: number): number | null {
  let next: number | null = null;
  for (const p of config.peers) {
    if (p.disabled === true || p.expires === undefined || p.expires <= now) continue;
    if (next === null || p.expires < next) next = p.expires;
  }
  return next;
}

const UNIT_MS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 7 * 86_400_000 };

/**
 * An `--expires` value: `never`, a date or time (config/time.ts), or a duration from `now`
 * (`90d`, `12h`, `30m`, `45s`, `2w`). Returns the time in ms, 'never', or an error text.
 */
export function parseExpiresOption(text: string, now: number): number | 'never' | { error: string } {
  const t = text.trim();
  if (t.toLowerCase() === 'never') return 'never';
  const d = /^\+?([0-9]{1,6})([smhdw])$/.exec(t);
  if (d) return now + Number(d[1]) * (UNIT_MS[d[2] as string] as number);
  const p = parseTimestamp(t);
  if (p.ok) return p.value;
  return { error: `--expires '${text}': expected a date (2026-12-31), a UTC time (2026-12-31T18:00:00Z), a duration from now (90d, 12h, 30m, 2w) or never` };
}

/** How a peer's expiry reads in listings: `2026-12-31T00:00:00Z`, or `-`. */
export function expiryText(p: PeerConfig): string {
  return p.expires === undefined ? '-' : formatTimestamp(p.expires);
}
